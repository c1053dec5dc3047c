use crate::helpers::{PASSWORD, spawn_app};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_retried_sign_up_replays_the_first_answer() {
    let app = spawn_app().await;
    let body = json!({"email": "retry@example.com", "password": PASSWORD});
    let send = || {
        app.send(
            Method::POST,
            "/v1/accounts",
            None,
            Some(body.clone()),
            &[("idempotency-key", "signup-1")],
        )
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first.status, 201);
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body, "same account, same token");
    assert_eq!(second.position(), first.position());
    assert_eq!(second.headers["idempotent-replayed"], "true");
    let registered = app.count_events(Some("AccountRegistered")).await;
    assert_eq!(registered, 1);
    let token = second.body["session"]["token"].as_str().expect("token");
    assert_eq!(app.get("/v1/me", Some(token)).await.status, 200);
    // Signed out, the session's token is given to nobody again.
    let out = app
        .send(
            Method::DELETE,
            "/v1/sessions/current",
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    send().await.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_retried_sign_in_gives_its_token_again_only_while_the_session_lives() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body = json!({"email": user.email, "password": PASSWORD});
    let send = || {
        app.send(
            Method::POST,
            "/v1/sessions",
            None,
            Some(body.clone()),
            &[("idempotency-key", "sign-in-1")],
        )
    };
    let first = send().await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = send().await;
    assert_eq!(second.body["token"], first.body["token"]);
    let token = first.body["token"].as_str().expect("token");
    let out = app
        .send(
            Method::DELETE,
            "/v1/sessions/current",
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(out.status, 204, "{}", out.body);
    send().await.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let patch = |bio: &str| {
        app.send(
            Method::PATCH,
            "/v1/me",
            Some(&user.token),
            Some(json!({"bio": bio})),
            &[("idempotency-key", "patch-1")],
        )
    };
    assert_eq!(patch("first").await.status, 200);
    patch("second")
        .await
        .assert_problem(422, "idempotency_key_reused");
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body["bio"], "first");
}

#[tokio::test]
async fn concurrent_retries_with_one_key_run_the_command_once() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let attempts = (0..10).map(|_| {
        app.send(
            Method::PATCH,
            "/v1/me",
            Some(&user.token),
            Some(json!({"display_name": "Once"})),
            &[("idempotency-key", "same-key")],
        )
    });
    let answers = futures::future::join_all(attempts).await;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["display_name"], "Once");
    }
    let updates = app.event_types(user.id).await;
    assert_eq!(updates.iter().filter(|t| *t == "ProfileUpdated").count(), 1);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    for user in [&alice, &bob] {
        let answer = app
            .send(
                Method::PATCH,
                "/v1/me",
                Some(&user.token),
                Some(json!({"bio": "hello"})),
                &[("idempotency-key", "shared-key")],
            )
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["id"], user.id.to_string());
    }
}

#[tokio::test]
async fn an_empty_or_overlong_key_is_a_bad_request() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for key in [String::new(), "k".repeat(256)] {
        app.send(
            Method::PATCH,
            "/v1/me",
            Some(&user.token),
            Some(json!({"bio": "x"})),
            &[("idempotency-key", key.as_str())],
        )
        .await
        .assert_problem(400, "invalid_request");
    }
}

/// An anonymous key belongs to its client address and its own request: another request under
/// the key (a guess at the password) is answered as itself, never as a `422` about the first
/// or a replay of its session, and another address gets no replay either.
#[tokio::test]
async fn an_anonymous_key_answers_nothing_about_its_first_request() {
    let app = crate::helpers::spawn_behind_proxy(|_| {}).await;
    let user = app.new_user().await;
    let sign_in = async |from: &str, password: &str| {
        let headers = [("idempotency-key", "sign-in-1"), ("x-forwarded-for", from)];
        let body = json!({"email": user.email, "password": password});
        app.send(Method::POST, "/v1/sessions", None, Some(body), &headers)
            .await
    };
    let first = sign_in("198.51.100.7", PASSWORD).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let replay = sign_in("198.51.100.7", PASSWORD).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["token"], first.body["token"]);

    sign_in("198.51.100.7", "a wrong guess at it")
        .await
        .assert_problem(401, "invalid_credentials");
    let elsewhere = sign_in("203.0.113.9", PASSWORD).await;
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.body);
    assert!(!elsewhere.headers.contains_key("idempotent-replayed"));
    assert_ne!(elsewhere.body["token"], first.body["token"]);
}

#[tokio::test]
async fn a_command_that_changed_nothing_keeps_its_key_and_its_retry_changes_nothing_later() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let patch = |bio: &'static str, key: Option<&'static str>| {
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        let token = user.token.clone();
        let app = &app;
        async move {
            app.send(
                Method::PATCH,
                "/v1/me",
                Some(&token),
                Some(json!({"bio": bio})),
                &headers,
            )
            .await
        }
    };
    assert_eq!(patch("same", None).await.status, 200);
    let unchanged = patch("same", Some("no-op-1")).await;
    assert_eq!(unchanged.status, 200);
    assert_eq!(patch("later", None).await.status, 200);
    let retry = patch("same", Some("no-op-1")).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.body, unchanged.body, "the first answer");
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body["bio"], "later", "the retry undid nothing");
    assert_eq!(app.count_events(Some("ProfileUpdated")).await, 2);
}

#[tokio::test]
async fn a_refusal_keeps_its_key_so_its_retry_cannot_act_on_a_later_change() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    let path = format!("/v1/me/following/{}", other.id);
    let unfollow = || {
        app.send(
            Method::DELETE,
            &path,
            Some(&user.token),
            None,
            &[("idempotency-key", "unfollow-1")],
        )
    };
    let refused = unfollow().await;
    refused.assert_problem(404, "not_following");
    // Another session of the account follows meanwhile.
    let followed = app.put(&path, &user.token, json!({})).await;
    assert!(followed.status.is_success(), "{}", followed.body);
    let retry = unfollow().await;
    retry.assert_problem(404, "not_following");
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(
        app.count_events(Some("Unfollowed")).await,
        0,
        "the follow stands"
    );
    // Under a new key, the request is decided on the state as it is now.
    let fresh = app
        .send(
            Method::DELETE,
            &path,
            Some(&user.token),
            None,
            &[("idempotency-key", "unfollow-2")],
        )
        .await;
    assert!(fresh.status.is_success(), "{}", fresh.body);
}

#[tokio::test]
async fn a_burst_of_one_keyed_sign_in_waits_for_the_first_answer() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body = json!({"email": user.email, "password": PASSWORD});
    let answers = futures::future::join_all((0..10).map(|_| {
        app.send(
            Method::POST,
            "/v1/sessions",
            None,
            Some(body.clone()),
            &[("idempotency-key", "sign-in-1")],
        )
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.body, answers[0].body, "one session");
    }
    let replayed = answers
        .iter()
        .filter(|answer| answer.headers.contains_key("idempotent-replayed"))
        .count();
    assert_eq!(replayed, 9);
}
