//! Problem answers come from one catalogue: each code has its status, and a title (and a
//! detail where there is more to say) in English and Chinese; the document lists them; and a
//! parameter or header the service cannot read is named like a body field.

use crate::helpers::{TestApp, spawn_app};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

const ZH: &[(&str, &str)] = &[("accept-language", "zh-CN")];

fn privacy(show_follows: bool) -> Value {
    json!({"show_phone": false, "show_email": false, "show_birthday": false,
           "show_follows": show_follows})
}

fn has_chinese(text: &Value) -> bool {
    text.as_str()
        .is_some_and(|text| text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
}

#[tokio::test]
async fn a_conflict_answers_with_its_own_title_in_either_language() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let again = json!({"email": user.email, "password": "an unrelated long phrase 7"});
    let english = app.post("/v1/accounts", None, again.clone()).await;
    english.assert_problem(409, "email_taken");
    assert_eq!(
        english.body["title"],
        "This email address is already registered"
    );
    let chinese = app
        .send(Method::POST, "/v1/accounts", None, Some(again), ZH)
        .await;
    chinese.assert_problem(409, "email_taken");
    assert_eq!(chinese.body["title"], "该邮箱已被注册");
    assert_eq!(chinese.headers["content-language"], "zh-CN");
}

#[tokio::test]
async fn a_fixed_detail_is_given_in_chinese_too() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let key = [("idempotency-key", "one-key"), ("accept-language", "zh-CN")];
    let first = app
        .send(
            Method::PUT,
            "/v1/me/privacy",
            Some(&user.token),
            Some(privacy(false)),
            &key,
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let reused = app
        .send(
            Method::PUT,
            "/v1/me/privacy",
            Some(&user.token),
            Some(privacy(true)),
            &key,
        )
        .await;
    reused.assert_problem(422, "idempotency_key_reused");
    assert!(has_chinese(&reused.body["title"]), "{}", reused.body);
    assert!(has_chinese(&reused.body["detail"]), "{}", reused.body);
}

#[tokio::test]
async fn every_refused_field_reads_in_chinese_by_its_own_title() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app
        .send(
            Method::POST,
            "/v1/me/addresses",
            Some(&user.token),
            Some(json!({
                "receiver": " ",
                "receiver_phone": "18667018590",
                "address": " ",
                "postcode": "31",
                "tag": " ",
            })),
            ZH,
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    let errors = answer.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 4, "{}", answer.body);
    for error in errors {
        assert!(has_chinese(&error["message"]), "{error}");
        assert_ne!(error["message"], "请求失败", "{error}");
    }
    let detail = answer.body["detail"].as_str().expect("detail");
    for field in ["receiver", "address", "postcode", "tag"] {
        assert!(detail.contains(&format!("`{field}`")), "{detail}");
    }
}

#[tokio::test]
async fn the_document_lists_every_code_under_the_status_it_answers_with() {
    let app = spawn_app().await;
    let spec = app.get("/openapi.json", None).await.body;
    let listed = spec["components"]["schemas"]["Problem"]["properties"]["code"]["description"]
        .as_str()
        .expect("Problem.code description");
    for code in ["phone_taken", "captcha_required", "read_model_behind"] {
        assert!(listed.contains(&format!("`{code}`")), "{listed}");
    }
    let sign_up = &spec["paths"]["/v1/accounts"]["post"]["responses"];
    let conflicts = sign_up["409"]["description"].as_str().expect("409");
    for code in ["email_taken", "username_taken", "phone_taken"] {
        assert!(conflicts.contains(&format!("`{code}`")), "{conflicts}");
    }
    let fields = spec["components"]["schemas"]["ProblemField"]["properties"]["code"]["description"]
        .as_str()
        .expect("ProblemField.code description");
    for code in [
        "identifier_required",
        "invalid_receiver",
        "wrong_type",
        "unknown_field",
    ] {
        assert!(fields.contains(&format!("`{code}`")), "{fields}");
    }
}

/// The (field, code) pairs and the detail of a 400 `invalid_request`.
async fn refused_parameter(
    app: &TestApp,
    path: &str,
    token: &str,
) -> (Vec<(String, String)>, String) {
    let answer = app.get(path, Some(token)).await;
    answer.assert_problem(400, "invalid_request");
    let detail = answer.body["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (answer.field_errors(), detail)
}

#[tokio::test]
async fn a_query_parameter_that_is_unknown_repeated_or_unreadable_is_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let named = |field: &str, code: &str| vec![(field.to_owned(), code.to_owned())];

    let (errors, detail) = refused_parameter(&app, "/v1/me/events?limt=5", &user.token).await;
    assert_eq!(errors, named("limt", "unknown_field"));
    assert!(
        detail.contains("limit"),
        "the known ones are listed: {detail}"
    );

    let (errors, _) = refused_parameter(&app, "/v1/me?verbose=1", &user.token).await;
    assert_eq!(errors, named("verbose", "unknown_field"));

    let (errors, _) = refused_parameter(&app, "/v1/me/events?limit=5&limit=50", &user.token).await;
    assert_eq!(errors, named("limit", "duplicate_field"));

    for value in ["abc", "0", "101"] {
        let (errors, detail) =
            refused_parameter(&app, &format!("/v1/me/events?limit={value}"), &user.token).await;
        assert_eq!(errors, named("limit", "wrong_type"));
        assert_eq!(detail, "`limit` must be an integer from 1 to 100");
    }

    // The same in Chinese: the detail names the parameter.
    let chinese = app
        .send(
            Method::GET,
            "/v1/me/events?limit=abc",
            Some(&user.token),
            None,
            ZH,
        )
        .await;
    chinese.assert_problem(400, "invalid_request");
    let detail = chinese.body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("`limit`") && has_chinese(&chinese.body["detail"]),
        "{detail}"
    );

    // Encoded names are read decoded; lists still join.
    let listed = app
        .get(
            "/v1/me/events?%74ypes=AccountRegistered&types=SessionStarted",
            Some(&user.token),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["events"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_named() {
    let app = spawn_app().await;
    let answer = app.get("/v1/users/%FF%FE", None).await;
    answer.assert_problem(400, "invalid_request");
    assert_eq!(
        answer.field_errors(),
        [("id".to_owned(), "invalid_path_parameter".to_owned())]
    );
}

#[tokio::test]
async fn an_idempotency_key_that_is_empty_not_visible_ascii_or_doubled_is_refused_by_name() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let events = app.count_events(None).await;
    let keys = [
        HeaderValue::from_static(""),
        HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        HeaderValue::from_static("a b"),
        HeaderValue::from_static("a\tb"),
    ];
    for key in keys {
        let response = app
            .client
            .put(format!("{}/v1/me/privacy", app.address))
            .bearer_auth(&user.token)
            .header("idempotency-key", key)
            .json(&privacy(false))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.expect("problem");
        assert_eq!(body["code"], "invalid_request", "{body}");
        assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{body}");
        assert_eq!(body["errors"][0]["code"], "invalid_header", "{body}");
    }
    // Two keys: which one would the answer be kept under? Refused too.
    let response = app
        .client
        .put(format!("{}/v1/me/privacy", app.address))
        .bearer_auth(&user.token)
        .header("idempotency-key", "first")
        .header("idempotency-key", "second")
        .json(&privacy(false))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 400);
    assert_eq!(app.count_events(None).await, events, "nothing was done");
}

#[tokio::test]
async fn a_body_field_longer_than_the_document_allows_is_named() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let address = json!({
        "receiver": "张三",
        "receiver_phone": "18667018590",
        "address": "浙江省杭州市西湖区文三路 1 号",
        "postcode": "310000",
        "tag": "家".repeat(101),
    });
    let answer = app
        .post("/v1/me/addresses", Some(&user.token), address)
        .await;
    answer.assert_problem(400, "invalid_body");
    assert_eq!(
        answer.field_errors(),
        [("tag".to_owned(), "wrong_type".to_owned())]
    );
    assert_eq!(
        answer.body["detail"],
        "`tag` must be text of at most 100 characters"
    );
}

#[tokio::test]
async fn every_operation_documents_the_problems_any_request_can_meet() {
    let app = spawn_app().await;
    let spec = app.get("/openapi.json", None).await.body;
    let mut operations = 0;
    for (path, methods) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            for status in ["400", "413"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
            operations += 1;
        }
    }
    assert!(operations > 40, "{operations}");
}

#[tokio::test]
async fn a_body_is_named_when_missing_null_or_sent_where_none_is_taken() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for body in ["", "null", " "] {
        let response = app
            .client
            .patch(format!("{}/v1/me", app.address))
            .bearer_auth(&user.token)
            .header("content-type", "application/json")
            .header("accept-language", "zh-CN")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{body:?}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(problem["code"], "invalid_body");
        assert_eq!(problem["detail"], "请求体必须是一个 JSON 对象", "{problem}");
    }
    let session = app.get("/v1/sessions", Some(&user.token)).await.body[0]["id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let events = app.count_events(None).await;
    for body in [json!({"zzz": 1}), json!([1])] {
        let answer = app
            .send(
                Method::DELETE,
                &format!("/v1/sessions/{session}"),
                Some(&user.token),
                Some(body),
                &[],
            )
            .await;
        answer.assert_problem(400, "invalid_body");
        assert_eq!(
            answer.body["detail"],
            "the body must be empty: this operation takes no body"
        );
    }
    assert_eq!(app.count_events(None).await, events, "the session lives on");
    let signed_out = app
        .send(
            Method::DELETE,
            &format!("/v1/sessions/{session}"),
            Some(&user.token),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(
        signed_out.status, 204,
        "`{{}}` is no body: {}",
        signed_out.body
    );
}

#[tokio::test]
async fn every_query_parameter_reads_in_words_and_a_missing_one_is_required() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let named = |field: &str, code: &str| vec![(field.to_owned(), code.to_owned())];

    let (errors, detail) = refused_parameter(&app, "/v1/users/not-a-uuid", &user.token).await;
    assert_eq!(errors, named("id", "invalid_path_parameter"));
    assert_eq!(detail, "`id` must be a UUID");

    let (errors, detail) = refused_parameter(&app, "/v1/me?min_position=-1", &user.token).await;
    assert_eq!(errors, named("min_position", "wrong_type"));
    assert_eq!(detail, "`min_position` must be an integer of at least 0");

    let (errors, detail) = refused_parameter(&app, "/v1/users/lookup", &user.token).await;
    assert_eq!(errors, named("username", "required"));
    assert_eq!(detail, "`username` is required");

    let (_, detail) = refused_parameter(&app, "/v1/users/lookup?username=a%00b", &user.token).await;
    assert_eq!(
        detail,
        "`username` must be text of 1 to 64 characters without NUL characters"
    );

    let (errors, detail) = refused_parameter(&app, "/v1/users?ids=zz", &user.token).await;
    assert_eq!(errors, named("ids", "wrong_type"));
    assert_eq!(detail, "`ids` must be comma-separated UUIDs, at most 100");
}

#[tokio::test]
async fn a_follow_group_name_is_refused_by_the_field_that_gives_it() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let long = "长".repeat(21);
    let created = app
        .post(
            "/v1/me/follow-groups",
            Some(&alice.token),
            json!({"name": long}),
        )
        .await;
    created.assert_problem(422, "validation_failed");
    assert_eq!(
        created.field_errors(),
        [("name".to_owned(), "invalid_group_name".to_owned())]
    );
    let followed = app
        .put(
            &format!("/v1/me/following/{}", bob.id),
            &alice.token,
            json!({"group": long}),
        )
        .await;
    followed.assert_problem(422, "validation_failed");
    assert_eq!(
        followed.field_errors(),
        [("group".to_owned(), "invalid_group_name".to_owned())]
    );
}

#[tokio::test]
async fn a_password_reset_names_what_is_missing_or_doubled() {
    let app = spawn_app().await;
    let none = app.post("/v1/password-reset", None, json!({})).await;
    none.assert_problem(422, "validation_failed");
    assert_eq!(
        none.field_errors(),
        [("email".to_owned(), "identifier_required".to_owned())]
    );
    let both = app
        .post(
            "/v1/password-reset",
            None,
            json!({"email": "a@example.com", "phone": "+8613812345678"}),
        )
        .await;
    both.assert_problem(422, "validation_failed");
    assert_eq!(
        both.field_errors(),
        [("phone".to_owned(), "one_identifier_only".to_owned())]
    );
}

#[tokio::test]
async fn a_body_that_is_no_json_is_refused_in_both_languages_wherever_it_is_sent() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let raw = |method: Method, path: &str, content_type: &'static str, body: &'static str| {
        let request = app
            .client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .header("accept-language", "zh-CN")
            .body(body);
        async move {
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("problem"))
        }
    };
    let (status, problem) = raw(Method::PATCH, "/v1/me", "application/json", r#"{"bio":"#).await;
    assert_eq!(status, 400);
    assert_eq!(problem["detail"], "请求体不是有效的 JSON（第 1 行第 7 列）");
    let session = app.get("/v1/sessions", Some(&user.token)).await.body[0]["id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let path = format!("/v1/sessions/{session}");
    for (content_type, body) in [
        ("application/json", r#"{"reason":"#),
        ("text/plain", "hello"),
        ("application/x-www-form-urlencoded", "x=1"),
    ] {
        let (status, problem) = raw(Method::DELETE, &path, content_type, body).await;
        assert_eq!(status, 400, "{content_type}: {problem}");
        assert_eq!(problem["detail"], "本操作不接受请求体，请不要发送");
    }
    assert_eq!(
        app.get("/v1/me", Some(&user.token)).await.status,
        200,
        "still signed in"
    );
    let (status, problem) = raw(Method::PATCH, "/v1/me", "text/plain", "{}").await;
    assert_eq!(status, 415);
    assert_eq!(problem["code"], "unsupported_media_type");
    assert!(has_chinese(&problem["detail"]), "{problem}");
}

#[tokio::test]
async fn an_english_validation_failure_names_its_fields_in_the_detail_too() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app
        .post(
            "/v1/me/follow-groups",
            Some(&user.token),
            json!({"name": ""}),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    let detail = answer.body["detail"].as_str().expect("detail");
    assert!(detail.starts_with("`name`: "), "{detail}");
}

#[tokio::test]
async fn a_request_naming_things_twice_or_by_another_spelling_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    let named = |field: &str, code: &str| vec![(field.to_owned(), code.to_owned())];

    // Two Authorization headers, in either order.
    for tokens in [
        [user.token.as_str(), "bogus"],
        ["bogus", user.token.as_str()],
    ] {
        let response = app
            .client
            .get(format!("{}/v1/me", app.address))
            .header("authorization", format!("Bearer {}", tokens[0]))
            .header("authorization", format!("Bearer {}", tokens[1]))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400);
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(problem["errors"][0]["field"], "Authorization", "{problem}");
    }

    // A UUID in another spelling than the document's.
    let id = other.id.to_string();
    for spelling in [
        format!("urn:uuid:{id}"),
        format!("%7B{id}%7D"),
        id.replace('-', ""),
    ] {
        let (errors, detail) =
            refused_parameter(&app, &format!("/v1/users/{spelling}"), &user.token).await;
        assert_eq!(errors, named("id", "invalid_path_parameter"), "{spelling}");
        assert_eq!(detail, "`id` must be a UUID");
    }

    // A query value that is not UTF-8, and an empty item in a list given twice.
    let (errors, _) = refused_parameter(&app, "/v1/users/lookup?username=%FF", &user.token).await;
    assert_eq!(errors, named("username", "wrong_type"));
    let (errors, _) = refused_parameter(
        &app,
        "/v1/me/events?types=AccountRegistered&types=",
        &user.token,
    )
    .await;
    assert_eq!(errors, named("types", "unknown_event_type"));
}

#[tokio::test]
async fn an_idempotency_key_replays_the_same_request_however_its_json_is_written() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let patch = |body: &'static str| {
        let request = app
            .client
            .patch(format!("{}/v1/me", app.address))
            .bearer_auth(&user.token)
            .header("content-type", "application/json")
            .header("idempotency-key", "same-change")
            .body(body);
        async move {
            let response = request.send().await.expect("request");
            (
                response.status().as_u16(),
                response.headers().get("idempotent-replayed").is_some(),
            )
        }
    };
    assert_eq!(
        patch(r#"{"bio":"one","gender":"female"}"#).await,
        (200, false)
    );
    assert_eq!(
        patch(r#"{ "gender" : "female", "bio" : "one" }"#).await,
        (200, true)
    );
    assert_eq!(patch(r#"{"bio":"two","gender":"female"}"#).await.0, 422);
}

#[tokio::test]
async fn a_uuid_in_upper_case_names_the_same_resource_and_replays_under_its_key() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let address = json!({
        "receiver": "张三",
        "receiver_phone": "18667018590",
        "address": "浙江省杭州市西湖区文三路 1 号",
        "postcode": "310000",
        "tag": "家",
    });
    let created = app
        .post("/v1/me/addresses", Some(&user.token), address)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body[0]["id"].as_str().expect("id").to_owned();
    let make_default = |spelling: String| {
        let app = &app;
        let token = user.token.clone();
        async move {
            app.send(
                Method::POST,
                &format!("/v1/me/addresses/{spelling}/default"),
                Some(&token),
                None,
                &[("idempotency-key", "one-default")],
            )
            .await
        }
    };
    let first = make_default(id.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = make_default(id.to_ascii_uppercase()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
}
