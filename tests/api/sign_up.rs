use crate::helpers::{PASSWORD, spawn_app, spawn_behind_proxy};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn signing_up_by_email_creates_a_signed_in_account() {
    let app = spawn_app().await;
    let answer = app.sign_up_email("Alice@Example.com").await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(answer.position() > 0);
    let account = &answer.body["account"];
    assert_eq!(account["email"], "alice@example.com");
    assert_eq!(account["email_verified"], false);
    assert_eq!(account["role"], "user");
    assert_eq!(account["status"], "active");
    let token = answer.body["session"]["token"].as_str().expect("token");
    let me = app.get("/v1/me", Some(token)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], account["id"]);
}

#[tokio::test]
async fn signing_up_by_username_creates_a_signed_in_account() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/v1/accounts",
            None,
            json!({"username": "Wonder_1", "password": PASSWORD, "display_name": "小明"}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.body["account"]["username"], "Wonder_1");
    assert_eq!(answer.body["account"]["display_name"], "小明");
    assert_eq!(answer.body["account"]["email"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_taken_email_or_username_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    assert_eq!(app.sign_up_email("bob@example.com").await.status, 201);
    app.sign_up_email("BOB@example.com")
        .await
        .assert_problem(409, "email_taken");
    let by_name = |name: &str| json!({"username": name, "password": PASSWORD});
    assert_eq!(
        app.post("/v1/accounts", None, by_name("bobby"))
            .await
            .status,
        201
    );
    app.post("/v1/accounts", None, by_name("Bobby"))
        .await
        .assert_problem(409, "username_taken");
}

#[tokio::test]
async fn invalid_sign_ups_name_the_fields_at_fault() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
            "invalid_email",
        ),
        (
            json!({"username": "1abc", "password": PASSWORD}),
            "username",
            "invalid_username",
        ),
        (
            json!({"email": "c@example.com", "password": "short"}),
            "password",
            "password_too_short",
        ),
        (
            json!({"email": "c@example.com", "password": "x".repeat(129)}),
            "password",
            "password_too_long",
        ),
        (
            json!({"email": "c@example.com", "password": "password123"}),
            "password",
            "password_too_weak",
        ),
        (
            json!({"password": PASSWORD}),
            "email",
            "identifier_required",
        ),
        (
            json!({"email": "c@example.com", "username": "carol", "password": PASSWORD}),
            "email",
            "one_identifier_only",
        ),
        (
            json!({"email": "c@example.com", "password": PASSWORD, "display_name": " "}),
            "display_name",
            "invalid_display_name",
        ),
    ];
    for (body, field, code) in cases {
        let answer = app.post("/v1/accounts", None, body.clone()).await;
        answer.assert_problem(422, "validation_failed");
        assert_eq!(
            answer.field_errors(),
            vec![(field.to_owned(), code.to_owned())],
            "{body}"
        );
    }
    let count = app.count_events(None).await;
    assert_eq!(count, 0, "nothing was recorded");
}

#[tokio::test]
async fn problems_speak_the_callers_language() {
    let app = spawn_app().await;
    let answer = app
        .send(
            Method::POST,
            "/v1/accounts",
            None,
            Some(json!({"email": "bad", "password": PASSWORD})),
            &[("accept-language", "zh-CN,zh;q=0.9")],
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(answer.body["title"], "部分字段无效");
    assert_eq!(answer.body["errors"][0]["message"], "邮箱格式错误");
    assert_eq!(answer.headers["content-language"], "zh-CN");
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_problems() {
    let app = spawn_app().await;
    let raw = |content_type: &'static str, body: String| {
        app.client
            .post(format!("{}/v1/accounts", app.address))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let bad_json = raw("application/json", "{\"email\":".to_owned())
        .await
        .expect("send");
    assert_eq!(bad_json.status(), 400);
    let body: serde_json::Value = bad_json.json().await.expect("json");
    assert_eq!(body["code"], "invalid_body");

    let wrong_type = raw("text/plain", "hello".to_owned()).await.expect("send");
    assert_eq!(wrong_type.status(), 415);

    let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(70 * 1024));
    let too_large = raw("application/json", huge).await.expect("send");
    assert_eq!(too_large.status(), 413);
    let body: serde_json::Value = too_large.json().await.expect("json");
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn values_of_another_type_than_documented_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let refused = app
        .post(
            "/v1/accounts",
            None,
            json!({"username": 12345678, "password": PASSWORD}),
        )
        .await;
    refused.assert_problem(400, "invalid_body");
    assert_eq!(refused.body["detail"], "`username` must be a string");

    let refused = app
        .post(
            "/v1/me/follow-groups",
            Some(&user.token),
            json!({"name": false}),
        )
        .await;
    refused.assert_problem(400, "invalid_body");
    assert_eq!(refused.body["detail"], "`name` must be a string");
    app.patch("/v1/me", &user.token, json!({"display_name": true}))
        .await
        .assert_problem(400, "invalid_body");
    app.put(
        "/v1/me/privacy",
        &user.token,
        json!({"show_email": "yes", "show_phone": false,
                                                   "show_birthday": false, "show_follows": true}),
    )
    .await
    .assert_problem(400, "invalid_body");
    // Nothing reached the log, and null still clears a field.
    assert_eq!(
        app.event_types(user.id).await,
        ["AccountRegistered", "SessionStarted"]
    );
    let cleared = app.patch("/v1/me", &user.token, json!({"bio": null})).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
}

#[tokio::test]
async fn fifty_concurrent_sign_ups_with_one_email_give_one_account() {
    let app = spawn_app().await;
    let attempts = (0..50).map(|_| app.sign_up_email("race@example.com"));
    let answers = futures::future::join_all(attempts).await;
    let created = answers.iter().filter(|a| a.status == 201).count();
    let conflicts = answers
        .iter()
        .filter(|a| a.status == 409 && a.body["code"] == "email_taken")
        .count();
    assert_eq!((created, conflicts), (1, 49));
    let accounts = app.count_events(Some("AccountRegistered")).await;
    assert_eq!(accounts, 1);
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/v1/accounts",
            None,
            json!({"email": "nope", "password": "short", "display_name": ""}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(
        answer.field_errors(),
        vec![
            ("display_name".into(), "invalid_display_name".into()),
            ("email".into(), "invalid_email".into()),
            ("password".into(), "password_too_short".into()),
        ]
    );
}

#[tokio::test]
async fn many_sign_ups_from_one_address_need_a_captcha_within_the_hour() {
    let app = spawn_behind_proxy(|config| config.sign_ups_per_address = 3).await;
    let sign_up_from = async |client: &str, captcha: Option<String>| {
        let mut body = json!({
            "username": format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            "password": PASSWORD,
        });
        if let Some(captcha) = captcha {
            body["captcha"] = json!(captcha);
        }
        app.post_from(client, "/v1/accounts", body).await
    };
    for _ in 0..3 {
        assert_eq!(sign_up_from("203.0.113.7", None).await.status, 201);
    }
    sign_up_from("203.0.113.7", None)
        .await
        .assert_problem(428, "captcha_required");
    // Another address is not held back, and a solved captcha lets this one go on.
    assert_eq!(sign_up_from("203.0.113.8", None).await.status, 201);
    let solved = app.solved_captcha().await;
    let with_captcha = sign_up_from("203.0.113.7", Some(solved.clone())).await;
    assert_eq!(with_captcha.status, 201, "{}", with_captcha.body);
    sign_up_from("203.0.113.7", Some(solved))
        .await
        .assert_problem(428, "captcha_invalid");
    assert_eq!(app.count_events(Some("AccountRegistered")).await, 5);

    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(sign_up_from("203.0.113.7", None).await.status, 201);
}

/// A body over the limit is not read to its end: the 413 says the connection closes, so that a
/// client does not send its next request into a closed connection.
#[tokio::test]
async fn a_body_too_large_is_answered_with_connection_close() {
    let app = spawn_app().await;
    let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(70 * 1024));
    let answer = app
        .client
        .post(format!("{}/v1/accounts", app.address))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("send");
    assert_eq!(answer.status(), 413);
    assert_eq!(answer.headers()["connection"], "close");
}
