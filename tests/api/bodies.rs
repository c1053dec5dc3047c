//! Request bodies are taken only as the OpenAPI document gives them: an unknown field, a
//! missing one, a key twice and a value of another type are refused naming the field, on every
//! operation, and change nothing.

use crate::helpers::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

/// Sends `body` as it is (JSON text) with the caller's token.
async fn send_raw(app: &TestApp, method: Method, path: &str, token: &str, body: &str) -> Value {
    let response = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    response.json().await.expect("problem")
}

#[tokio::test]
async fn every_operation_taking_json_refuses_a_field_it_does_not_know_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let spec = app.get("/openapi.json", None).await.body;
    let events = app.count_events(None).await;
    let mut checked = Vec::new();
    for (path, operations) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let takes_json =
                operation["requestBody"]["content"]
                    .as_object()
                    .is_some_and(|content| {
                        content
                            .keys()
                            .any(|media| media.starts_with("application/json"))
                    });
            if !takes_json {
                continue;
            }
            let concrete: String = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        uuid::Uuid::now_v7().to_string()
                    } else {
                        segment.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let answer = app
                .send(
                    method.clone(),
                    &concrete,
                    Some(&user.token),
                    Some(json!({"not_a_field": 1})),
                    &[],
                )
                .await;
            answer.assert_problem(422, "validation_failed");
            assert!(
                answer
                    .field_errors()
                    .contains(&("not_a_field".to_owned(), "unknown_field".to_owned())),
                "{method} {path}: {}",
                answer.body
            );
            checked.push(format!("{method} {path}"));
        }
    }
    assert!(checked.len() >= 20, "only {checked:?}");
    assert_eq!(app.count_events(None).await, events);
}

#[tokio::test]
async fn a_misspelt_or_extra_field_is_refused_instead_of_ignored() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let before = app.get("/v1/me", Some(&user.token)).await.body;

    let misspelt = app
        .patch("/v1/me", &user.token, json!({"dispaly_name": "Ada"}))
        .await;
    misspelt.assert_problem(422, "validation_failed");
    assert_eq!(
        misspelt.field_errors(),
        [("dispaly_name".to_owned(), "unknown_field".to_owned())]
    );
    assert_eq!(
        misspelt.body["errors"][0]["message"],
        "`dispaly_name` is not a field of this request"
    );

    let privacy = json!({"show_email": true, "show_phone": false, "show_birthday": false,
                         "show_follows": true, "show_everything": true});
    app.put("/v1/me/privacy", &user.token, privacy)
        .await
        .assert_problem(422, "validation_failed");
    // A field holding an object is unknown as a whole, not looked into.
    let nested = app
        .post(
            "/v1/me/addresses",
            Some(&user.token),
            json!({"receiver": "张三", "receiver_phone": "13800138000", "address": "西湖区 1 号",
                   "extra": {"deep": 1}}),
        )
        .await;
    nested.assert_problem(422, "validation_failed");
    assert!(
        nested
            .field_errors()
            .contains(&("extra".to_owned(), "unknown_field".to_owned())),
        "{}",
        nested.body
    );
    assert_eq!(app.get("/v1/me", Some(&user.token)).await.body, before);
    assert_eq!(
        app.event_types(user.id).await,
        ["AccountRegistered", "SessionStarted"]
    );
}

#[tokio::test]
async fn a_missing_required_field_is_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app
        .post(
            "/v1/me/addresses",
            Some(&user.token),
            json!({"receiver_phone": "13800138000", "address": "西湖区 1 号"}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert!(
        answer
            .field_errors()
            .contains(&("receiver".to_owned(), "required".to_owned())),
        "{}",
        answer.body
    );
    // A required field sent as null is missing too.
    let privacy = app
        .put(
            "/v1/me/privacy",
            &user.token,
            json!({"show_email": null, "show_phone": false, "show_birthday": false}),
        )
        .await;
    privacy.assert_problem(422, "validation_failed");
    assert_eq!(
        privacy.field_errors(),
        [
            ("show_email".to_owned(), "required".to_owned()),
            ("show_follows".to_owned(), "required".to_owned())
        ]
    );
    assert_eq!(
        app.event_types(user.id).await,
        ["AccountRegistered", "SessionStarted"]
    );
}

#[tokio::test]
async fn a_key_twice_in_one_object_is_refused_rather_than_the_last_winning() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let problem = send_raw(
        &app,
        Method::PATCH,
        "/v1/me",
        &user.token,
        r#"{"display_name":"Ada","display_name":"Eve"}"#,
    )
    .await;
    assert_eq!(problem["code"], "invalid_body");
    assert_eq!(problem["errors"][0]["field"], "display_name");
    assert_eq!(problem["errors"][0]["code"], "duplicate_field");
    let problem = send_raw(
        &app,
        Method::POST,
        "/v1/sessions",
        &user.token,
        &format!(
            r#"{{"email":"{}","password":"x","password":"{}"}}"#,
            user.email,
            crate::helpers::PASSWORD
        ),
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "password");
    assert_eq!(
        app.event_types(user.id).await,
        ["AccountRegistered", "SessionStarted"]
    );
}

#[tokio::test]
async fn a_value_outside_its_enum_is_named_in_both_languages() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app
        .patch("/v1/me", &user.token, json!({"gender": "robot"}))
        .await;
    answer.assert_problem(400, "invalid_body");
    assert_eq!(answer.body["errors"][0]["field"], "gender");
    assert_eq!(answer.body["errors"][0]["code"], "wrong_type");
    assert_eq!(
        answer.body["detail"],
        "`gender` must be one of: unknown, male, female"
    );
    let chinese = app
        .send(
            Method::PATCH,
            "/v1/me",
            Some(&user.token),
            Some(json!({"gender": "robot"})),
            &[("accept-language", "zh-CN")],
        )
        .await;
    chinese.assert_problem(400, "invalid_body");
    // The title in Chinese, and the values allowed as they are.
    assert_eq!(
        chinese.body["detail"],
        "`gender`：字段类型或取值不正确（`gender` must be one of: unknown, male, female）"
    );
    assert_eq!(chinese.body["errors"][0]["field"], "gender");
}

#[tokio::test]
async fn a_body_of_many_unknown_fields_is_refused_with_the_first_fifty_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body: serde_json::Map<String, Value> = (0..2_000)
        .map(|n| (format!("field_{n:04}"), Value::from(n)))
        .collect();
    let answer = app.patch("/v1/me", &user.token, Value::Object(body)).await;
    answer.assert_problem(422, "validation_failed");
    let errors = answer.field_errors();
    assert_eq!(errors.len(), 50);
    assert!(errors.iter().all(|(_, code)| code == "unknown_field"));
}

#[tokio::test]
async fn a_list_parameter_is_read_exploded_or_comma_separated_and_unknown_values_are_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"bio": "one"}))
        .await;
    let types = |path: &str| {
        let app = &app;
        let token = user.token.clone();
        let path = path.to_owned();
        async move {
            let page = app.get(&path, Some(&token)).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            page.body["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|event| event["type"].as_str().expect("type").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let both = ["ProfileUpdated", "AccountRegistered"];
    assert_eq!(
        types("/v1/me/events?types=ProfileUpdated,AccountRegistered").await,
        both
    );
    // The exploded form generated clients send, with other parameters around it.
    assert_eq!(
        types("/v1/me/events?limit=10&types=ProfileUpdated&min_position=0&types=AccountRegistered")
            .await,
        both
    );
    for query in [
        "types=ProfileUpdated&types=Nope",
        "types=Nope,ProfileUpdated",
    ] {
        let refused = app
            .get(&format!("/v1/me/events?{query}"), Some(&user.token))
            .await;
        refused.assert_problem(400, "invalid_request");
        assert_eq!(
            refused.field_errors(),
            [("types".to_owned(), "unknown_event_type".to_owned())]
        );
        assert_eq!(refused.body["detail"], "`Nope` is not an event type");
    }
}

#[tokio::test]
async fn a_bad_path_parameter_is_named_by_its_name() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app.get("/v1/users/not-a-uuid", None).await;
    answer.assert_problem(400, "invalid_request");
    assert_eq!(
        answer.field_errors(),
        [("id".to_owned(), "invalid_path_parameter".to_owned())]
    );
    let detail = answer.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("`id`") && !detail.contains("param0"),
        "{detail}"
    );
    let answer = app.delete("/v1/me/addresses/12", &user.token, None).await;
    answer.assert_problem(400, "invalid_request");
    assert_eq!(answer.body["errors"][0]["field"], "id");
}

#[tokio::test]
async fn an_empty_name_in_a_list_parameter_is_no_event_type() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let empty = app.get("/v1/me/events?types=", Some(&user.token)).await;
    empty.assert_problem(400, "invalid_request");
    assert_eq!(
        empty.field_errors(),
        [("types".to_owned(), "unknown_event_type".to_owned())]
    );
}

#[tokio::test]
async fn every_json_content_type_gets_the_same_checks() {
    // poem reads any letter case and any `application/*+json` as JSON: none may skip them.
    let app = spawn_app().await;
    let user = app.new_user().await;
    for content_type in [
        "APPLICATION/JSON",
        "Application/Json; charset=UTF-8",
        "application/merge-patch+json",
        "application/vnd.api+json",
    ] {
        let response = app
            .client
            .patch(format!("{}/v1/me", app.address))
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(r#"{"bio":"first","bio":"second"}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{content_type}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(
            problem["errors"][0]["code"], "duplicate_field",
            "{content_type}"
        );
        let response = app
            .client
            .patch(format!("{}/v1/me", app.address))
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(r#"{"bio":"x","role":"owner"}"#)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 422, "{content_type}");
    }
    assert_eq!(
        app.event_types(user.id).await,
        ["AccountRegistered", "SessionStarted"]
    );
}
