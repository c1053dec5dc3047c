//! Public profiles from the `users` read model, read through the whole pipeline: command, log,
//! relay, NATS, projector, query with `min_position`.

use crate::helpers::{PASSWORD, TestApp, User, spawn_app_with, spawn_pipeline};
use accounts::config::Config;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_profile_change_shows_in_the_public_profile_once_min_position_is_reached() {
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let changed = app
        .patch(
            "/v1/me",
            &user.token,
            json!({"display_name": "Ada", "username": "ada_l", "bio": "Engines", "birthday": "1990-12-10", "city": "London"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);

    let path = format!("/v1/users/{}?min_position={}", user.id, changed.position());
    let profile = app.get(&path, None).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert_eq!(profile.body["id"], user.id.to_string());
    assert_eq!(profile.body["display_name"], "Ada");
    assert_eq!(profile.body["username"], "ada_l");
    assert_eq!(profile.body["bio"], "Engines");
    assert_eq!(profile.body["city"], "London");
    assert_eq!(profile.body["gender"], "unknown");
    // Private by default: no email, phone or birthday.
    assert!(profile.body.get("email").is_none(), "{}", profile.body);
    assert!(profile.body.get("birthday").is_none(), "{}", profile.body);
    assert_eq!(profile.body["follows_visible"], true);
}

#[tokio::test]
async fn shown_email_is_masked_and_hidden_fields_stay_hidden() {
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let birthday = app
        .patch("/v1/me", &user.token, json!({"birthday": "1990-12-10"}))
        .await;
    assert_eq!(birthday.status, StatusCode::OK);
    let privacy = app
        .put(
            "/v1/me/privacy",
            &user.token,
            json!({"show_email": true, "show_phone": false, "show_birthday": true, "show_follows": false}),
        )
        .await;
    assert_eq!(privacy.status, StatusCode::OK, "{}", privacy.body);

    let path = format!("/v1/users/{}?min_position={}", user.id, privacy.position());
    let profile = app.get(&path, None).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    let local = user.email.split('@').next().unwrap();
    let expected = format!(
        "{}****{}@example.com",
        &local[..1],
        &local[local.len() - 1..]
    );
    assert_eq!(profile.body["email"], expected);
    assert_eq!(profile.body["birthday"], "1990-12-10");
    assert_eq!(profile.body["follows_visible"], false);
    assert!(profile.body.get("phone").is_none());
}

#[tokio::test]
async fn several_profiles_come_in_the_order_asked_and_unknown_ids_are_left_out() {
    let app = spawn_pipeline().await;
    let first = app.new_user().await;
    let second = app.new_user().await;
    let last = app
        .patch("/v1/me", &second.token, json!({"display_name": "Second"}))
        .await;
    let unknown = Uuid::new_v4();
    let path = format!(
        "/v1/users?ids={},{unknown},{}&min_position={}",
        second.id,
        first.id,
        last.position()
    );
    let answer = app.get(&path, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let ids: Vec<&str> = answer
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.id.to_string(), first.id.to_string()]);
    assert_eq!(answer.body[0]["display_name"], "Second");

    // Nobody is featured yet.
    let featured = app.get("/v1/users?featured=true", None).await;
    assert_eq!(featured.status, StatusCode::OK);
    assert_eq!(featured.body, json!([]));
    let none = app.get("/v1/users", None).await;
    assert_eq!(none.body, json!([]));

    let too_many: Vec<String> = (0..101).map(|_| Uuid::new_v4().to_string()).collect();
    let answer = app
        .get(&format!("/v1/users?ids={}", too_many.join(",")), None)
        .await;
    answer.assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn a_username_leads_to_its_user_whatever_the_case() {
    let app = spawn_pipeline().await;
    let signed_up = app
        .post(
            "/v1/accounts",
            None,
            json!({"username": "Grace_H", "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let id = signed_up.body["account"]["id"].as_str().unwrap().to_owned();
    let position = signed_up.position();

    let found = app
        .get(
            &format!("/v1/users/lookup?username=grace_h&min_position={position}"),
            None,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body, json!({"id": id}));

    let missing = app.get("/v1/users/lookup?username=nobody_here", None).await;
    missing.assert_problem(404, "user_not_found");
}

#[tokio::test]
async fn a_deleted_account_has_no_public_profile() {
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let deleted = app
        .delete("/v1/me", &user.token, Some(json!({"password": PASSWORD})))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let path = format!("/v1/users/{}?min_position={}", user.id, deleted.position());
    app.get(&path, None)
        .await
        .assert_problem(404, "user_not_found");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_refused() {
    let app = spawn_pipeline().await;
    app.get(&format!("/v1/users/{}", Uuid::new_v4()), None)
        .await
        .assert_problem(404, "user_not_found");
    app.get("/v1/users/not-a-uuid", None)
        .await
        .assert_problem(400, "invalid_request");
    app.get(
        &format!("/v1/users/{}?min_position=-1", Uuid::new_v4()),
        None,
    )
    .await
    .assert_problem(400, "invalid_request");
    // PostgreSQL text cannot hold a NUL byte: refused before it gets there (schemathesis).
    app.get("/v1/users/lookup?username=a%00b", None)
        .await
        .assert_problem(400, "invalid_request");
}

#[tokio::test]
async fn a_position_the_read_model_does_not_reach_in_time_is_503_with_retry_after() {
    // No projector runs, so the read model never gets there.
    let app = spawn_app_with(|config| config.read_wait_ms = 200).await;
    let user = app.new_user().await;
    let changed = app
        .patch("/v1/me", &user.token, json!({"display_name": "Late"}))
        .await;
    let path = format!("/v1/users/{}?min_position={}", user.id, changed.position());
    let answer = app.get(&path, None).await;
    answer.assert_problem(503, "read_model_behind");
    assert_eq!(answer.headers["retry-after"], "1");
}

/// A position no command has answered is refused at once, whatever the read wait: waiting for
/// it would hold a connection for nothing.
#[tokio::test]
async fn a_position_beyond_the_end_of_the_log_is_400_at_once() {
    let app = spawn_app_with(|config| config.read_wait_ms = 60_000).await;
    let user = app.new_user().await;
    for path in [
        format!("/v1/users/{}?min_position=9223372036854775807", user.id),
        format!("/v1/users?ids={}&min_position=9223372036854775807", user.id),
        format!(
            "/v1/users/{}/followers?min_position=9223372036854775807",
            user.id
        ),
    ] {
        app.get(&path, None)
            .await
            .assert_problem(400, "position_ahead");
    }
}

/// An app with no projector, a user who changed their profile, and the query of their public
/// profile at that change's position: a read that waits its whole time, then answers 503.
async fn waiting_read(adjust: impl FnOnce(&mut Config)) -> (TestApp, User, String) {
    let app = spawn_app_with(adjust).await;
    let user = app.new_user().await;
    let changed = app
        .patch("/v1/me", &user.token, json!({"display_name": "Waited for"}))
        .await;
    let path = format!("/v1/users/{}?min_position={}", user.id, changed.position());
    (app, user, path)
}

/// Reads waiting for a read model hold no database connection: with more of them than the
/// pool has connections, commands still go through while they wait.
#[tokio::test]
async fn reads_waiting_for_a_read_model_leave_the_pool_to_commands() {
    let (app, user, path) = waiting_read(|config| {
        config.db_pool_size = 4;
        config.read_wait_ms = 5_000;
    })
    .await;
    let finished = std::sync::Mutex::new(Vec::new());
    let reads = (0..12).map(|_| async {
        let answer = app.get(&path, None).await;
        finished.lock().expect("lock").push("read");
        answer.status
    });
    let command = async {
        let answer = app
            .patch("/v1/me", &user.token, json!({"bio": "while others wait"}))
            .await;
        finished.lock().expect("lock").push("command");
        answer.status
    };
    let (reads, command) = tokio::join!(futures::future::join_all(reads), command);
    assert_eq!(command, StatusCode::OK);
    assert!(reads.iter().all(|status| *status == 503), "{reads:?}");
    assert_eq!(finished.lock().expect("lock")[0], "command");
}

/// At most `max_waiting_reads` queries wait for a read model at once: of 30 at once, the
/// others answer 503 straight away rather than pile up.
#[tokio::test]
async fn reads_beyond_the_waiting_limit_answer_503_at_once() {
    let (app, _, path) = waiting_read(|config| {
        config.max_waiting_reads = 3;
        config.read_wait_ms = 3_000;
    })
    .await;
    let answers =
        futures::future::join_all((0..30).map(|_| async { app.get(&path, None).await })).await;
    let turned_away = answers
        .iter()
        .filter(|answer| {
            answer.status == 503
                && answer.body["detail"]
                    .as_str()
                    .is_some_and(|detail| detail.starts_with("too many reads"))
        })
        .count();
    assert!(answers.iter().all(|answer| answer.status == 503));
    assert_eq!(turned_away, 27);
}
