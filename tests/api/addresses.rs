//! Shipping addresses over HTTP.

use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn an_address(tag: &str) -> Value {
    json!({
        "receiver": "张三",
        "receiver_phone": "18667018590",
        "address": "浙江省杭州市西湖区文三路 1 号",
        "postcode": "310000",
        "tag": tag,
    })
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn addresses_keep_exactly_one_default_through_every_change() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let first = app
        .post("/v1/me/addresses", Some(&user.token), an_address("家"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body[0]["is_default"], true);
    assert_eq!(first.body[0]["receiver_phone"], "+8618667018590");
    let home = first.body[0]["id"].as_str().unwrap().to_owned();

    let second = app
        .post("/v1/me/addresses", Some(&user.token), an_address("公司"))
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let listed = ids(&second.body);
    assert_eq!(listed[0], home, "the default comes first");
    let work = listed[1].clone();
    assert_eq!(second.body[1]["is_default"], false);

    let changed = app
        .patch(
            &format!("/v1/me/addresses/{work}"),
            &user.token,
            json!({"tag": "学校", "postcode": "100000"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body[1]["tag"], "学校");
    assert_eq!(changed.body[1]["postcode"], "100000");

    let default = app
        .send(
            Method::POST,
            &format!("/v1/me/addresses/{work}/default"),
            Some(&user.token),
            None,
            &[],
        )
        .await;
    assert_eq!(default.status, StatusCode::OK, "{}", default.body);
    assert_eq!(ids(&default.body), [work.clone(), home.clone()]);

    let removed = app
        .delete(&format!("/v1/me/addresses/{work}"), &user.token, None)
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(ids(&removed.body), std::slice::from_ref(&home));
    assert_eq!(
        removed.body[0]["is_default"], true,
        "the newest remaining one"
    );

    app.patch(
        &format!("/v1/me/addresses/{work}"),
        &user.token,
        json!({"tag": "旧"}),
    )
    .await
    .assert_problem(404, "address_not_found");
    app.send(
        Method::POST,
        &format!("/v1/me/addresses/{work}/default"),
        Some(&user.token),
        None,
        &[],
    )
    .await
    .assert_problem(404, "address_not_found");

    let listed = app.get("/v1/me/addresses", Some(&user.token)).await;
    assert_eq!(ids(&listed.body), [home]);
}

#[tokio::test]
async fn invalid_fields_are_listed_together() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app
        .post(
            "/v1/me/addresses",
            Some(&user.token),
            json!({
                "receiver": "一个非常非常非常非常非常非常长的收件人名字啊",
                "receiver_phone": "12",
                "address": "",
                "postcode": "31a00",
                "tag": "家",
            }),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(
        answer.field_errors(),
        [
            ("address".to_owned(), "invalid_address".to_owned()),
            ("postcode".to_owned(), "invalid_postcode".to_owned()),
            ("receiver".to_owned(), "invalid_receiver".to_owned()),
            ("receiver_phone".to_owned(), "invalid_phone".to_owned()),
        ]
    );
    // A mainland China receiver needs a 6-digit postcode.
    let mut five = an_address("家");
    five["postcode"] = json!("31000");
    let answer = app.post("/v1/me/addresses", Some(&user.token), five).await;
    assert_eq!(
        answer.field_errors(),
        [("postcode".to_owned(), "invalid_postcode".to_owned())]
    );
}

#[tokio::test]
async fn at_most_twenty_addresses() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for n in 0..20 {
        let answer = app
            .post(
                "/v1/me/addresses",
                Some(&user.token),
                an_address(&format!("{n}")),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    app.post("/v1/me/addresses", Some(&user.token), an_address("多"))
        .await
        .assert_problem(409, "address_limit_reached");
}

#[tokio::test]
async fn addresses_are_mine_alone() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let added = app
        .post("/v1/me/addresses", Some(&alice.token), an_address("家"))
        .await;
    let id = added.body[0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/v1/me/addresses/{id}"), &bob.token, None)
        .await
        .assert_problem(404, "address_not_found");
    let bobs = app.get("/v1/me/addresses", Some(&bob.token)).await;
    assert_eq!(bobs.body, json!([]));
    app.get("/v1/me/addresses", None)
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_change_is_validated_like_a_new_address() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let added = app
        .post("/v1/me/addresses", Some(&user.token), an_address("家"))
        .await;
    let id = added.body[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/me/addresses/{id}");
    let answer = app
        .patch(
            &path,
            &user.token,
            json!({"tag": "", "receiver_phone": "nope"}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(
        answer.field_errors(),
        [
            ("receiver_phone".to_owned(), "invalid_phone".to_owned()),
            ("tag".to_owned(), "invalid_tag".to_owned()),
        ]
    );
    // A 5-digit postcode suits a US receiver but not the current mainland China one.
    app.patch(&path, &user.token, json!({"postcode": "94105"}))
        .await
        .assert_problem(422, "validation_failed");
    let moved = app
        .patch(
            &path,
            &user.token,
            json!({"postcode": "94105", "receiver_phone": "+14155550100"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body[0]["postcode"], "94105");
    app.patch(
        &format!("/v1/me/addresses/{}", uuid::Uuid::new_v4()),
        &user.token,
        json!({"tag": "x"}),
    )
    .await
    .assert_problem(404, "address_not_found");
}
