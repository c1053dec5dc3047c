use crate::helpers::{PASSWORD, spawn_app};
use serde_json::json;

#[tokio::test]
async fn every_profile_field_can_be_set_and_cleared() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let profile = json!({
        "username": "Dora_2",
        "display_name": "朵拉",
        "avatar_url": "https://cdn.example.com/a.png",
        "cover_url": "https://cdn.example.com/c.png",
        "bio": "Explorer.\nMapmaker.",
        "gender": "female",
        "birthday": "1990-05-17",
        "country": "中国",
        "province": "广东",
        "city": "深圳"
    });
    let changed = app.patch("/v1/me", &user.token, profile.clone()).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(changed.position() > 0);
    for (field, value) in profile.as_object().expect("object") {
        assert_eq!(&changed.body[field], value, "{field}");
    }
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body, changed.body);

    let cleared = app
        .patch("/v1/me", &user.token, json!({"bio": null, "city": null}))
        .await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.body["bio"], serde_json::Value::Null);
    assert_eq!(cleared.body["city"], serde_json::Value::Null);
    assert_eq!(cleared.body["province"], "广东", "untouched fields stay");
}

#[tokio::test]
async fn invalid_profile_fields_are_all_reported_and_nothing_changes() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let answer = app
        .patch(
            "/v1/me",
            &user.token,
            json!({
                "display_name": "",
                "avatar_url": "ftp://example.com/a.png",
                "bio": "x".repeat(501),
                "birthday": "2999-01-01",
                "username": "9"
            }),
        )
        .await;
    answer.assert_problem(422, "validation_failed");
    assert_eq!(
        answer.field_errors(),
        vec![
            ("avatar_url".into(), "invalid_url".into()),
            ("bio".into(), "invalid_bio".into()),
            ("birthday".into(), "invalid_birthday".into()),
            ("display_name".into(), "invalid_display_name".into()),
            ("username".into(), "invalid_username".into()),
        ]
    );
    // The document does not mark `username` nullable: null is not "no change".
    let null = app
        .patch("/v1/me", &user.token, json!({"username": null}))
        .await;
    null.assert_problem(400, "invalid_body");
    assert_eq!(
        null.field_errors(),
        [("username".to_owned(), "wrong_type".to_owned())]
    );
    assert_eq!(
        app.event_types(user.id).await,
        ["AccountRegistered", "SessionStarted"]
    );
    app.patch("/v1/me", &user.token, json!({"gender": "robot"}))
        .await
        .assert_problem(400, "invalid_body");
}

#[tokio::test]
async fn a_username_taken_by_another_account_is_a_conflict() {
    let app = spawn_app().await;
    let first = app.new_user().await;
    let second = app.new_user().await;
    assert_eq!(
        app.patch("/v1/me", &first.token, json!({"username": "Echo"}))
            .await
            .status,
        200
    );
    app.patch("/v1/me", &second.token, json!({"username": "echo"}))
        .await
        .assert_problem(409, "username_taken");
    // Renaming frees the old name.
    assert_eq!(
        app.patch("/v1/me", &first.token, json!({"username": "Echo2"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.patch("/v1/me", &second.token, json!({"username": "echo"}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_change_that_changes_nothing_records_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let first = app
        .patch("/v1/me", &user.token, json!({"bio": "same"}))
        .await;
    let again = app
        .patch("/v1/me", &user.token, json!({"bio": "same"}))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.position(), first.position());
    let updates = app.event_types(user.id).await;
    assert_eq!(updates.iter().filter(|t| *t == "ProfileUpdated").count(), 1);
}

#[tokio::test]
async fn twenty_concurrent_profile_changes_all_apply() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let changes = (0..20).map(|i| {
        app.patch(
            "/v1/me",
            &user.token,
            json!({"display_name": format!("name-{i}")}),
        )
    });
    let answers = futures::future::join_all(changes).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let updates: Vec<_> = app
        .stream_events(user.id)
        .await
        .into_iter()
        .filter(|event| event.event_type == "ProfileUpdated")
        .collect();
    assert_eq!(updates.len(), 20, "no update was lost");
    let last = &updates[19].data["changes"]["display_name"];
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(&me.body["display_name"], last);
}

#[tokio::test]
async fn privacy_settings_start_private_and_can_be_replaced() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let initial = app.get("/v1/me/privacy", Some(&user.token)).await;
    assert_eq!(
        initial.body,
        json!({"show_phone": false, "show_email": false, "show_birthday": false, "show_follows": true})
    );
    let wanted = json!({"show_phone": false, "show_email": true, "show_birthday": true, "show_follows": false});
    let replaced = app.put("/v1/me/privacy", &user.token, wanted.clone()).await;
    assert_eq!(replaced.status, 200);
    assert_eq!(replaced.body, wanted);
    assert!(replaced.position() > 0);
    assert_eq!(
        app.get("/v1/me/privacy", Some(&user.token)).await.body,
        wanted
    );
    let partial = app
        .put("/v1/me/privacy", &user.token, json!({"show_email": true}))
        .await;
    partial.assert_problem(422, "validation_failed");
    assert_eq!(
        partial.field_errors(),
        [
            ("show_birthday".to_owned(), "required".to_owned()),
            ("show_follows".to_owned(), "required".to_owned()),
            ("show_phone".to_owned(), "required".to_owned())
        ]
    );
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.sign_in(&user.email, PASSWORD).await;
    let other_token = other.body["token"].as_str().expect("token");
    let new_password = "quiet violet lantern harbor";
    let changed = app
        .put(
            "/v1/me/password",
            &user.token,
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(app.get("/v1/me", Some(&user.token)).await.status, 200);
    app.get("/v1/me", Some(other_token))
        .await
        .assert_problem(401, "unauthenticated");
    app.sign_in(&user.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.sign_in(&user.email, new_password).await.status, 201);
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_a_strong_new_one() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let change = |current: &str, new: &str| {
        app.put(
            "/v1/me/password",
            &user.token,
            json!({"current_password": current, "new_password": new}),
        )
    };
    change("wrong password here", "quiet violet lantern harbor")
        .await
        .assert_problem(403, "wrong_password");
    let weak = change(PASSWORD, "password1").await;
    weak.assert_problem(422, "validation_failed");
    assert_eq!(
        weak.field_errors(),
        vec![("new_password".into(), "password_too_weak".into())]
    );
    let same = change(PASSWORD, PASSWORD).await;
    assert_eq!(
        same.field_errors(),
        vec![("new_password".into(), "password_unchanged".into())]
    );
    let mine = change(PASSWORD, &user.email).await;
    assert_eq!(
        mine.field_errors(),
        vec![("new_password".into(), "password_too_weak".into())]
    );
}

#[tokio::test]
async fn deleting_my_account_frees_its_email_and_username_and_ends_its_sessions() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let named = app
        .patch("/v1/me", &user.token, json!({"username": "Leaving"}))
        .await;
    assert_eq!(named.status, 200);
    app.delete(
        "/v1/me",
        &user.token,
        Some(json!({"password": "wrong password here"})),
    )
    .await
    .assert_problem(403, "wrong_password");
    let deleted = app
        .delete("/v1/me", &user.token, Some(json!({"password": PASSWORD})))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    app.get("/v1/me", Some(&user.token))
        .await
        .assert_problem(401, "unauthenticated");
    app.sign_in(&user.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let again = app.sign_up_email(&user.email).await;
    assert_eq!(again.status, 201, "the email is free again");
    assert_ne!(again.body["account"]["id"], user.id.to_string());
    let by_name = app
        .post(
            "/v1/accounts",
            None,
            json!({"username": "leaving", "password": PASSWORD}),
        )
        .await;
    assert_eq!(by_name.status, 201, "the username is free again");
    let history = app.event_types(user.id).await;
    assert_eq!(history.last().map(String::as_str), Some("AccountDeleted"));
}
