use crate::helpers::{Answer, OwnNats, TestApp, spawn_app, spawn_app_with};
use std::time::{Duration, Instant};

/// Polls `/readyz` until its status is `wanted` (the NATS client connects in the background).
async fn wait_for_readiness(app: &TestApp, wanted: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app.get("/readyz", None).await;
        if ready.body["status"] == wanted || Instant::now() > deadline {
            return ready;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn probes_answer_when_the_database_and_nats_are_up() {
    let app = spawn_app().await;
    let live = app.get("/healthz", None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body["status"], "ok");
    let ready = wait_for_readiness(&app, "ok").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["database"], "ok");
    assert_eq!(ready.body["nats"], "ok");
    assert_eq!(ready.body["status"], "ok");
}

#[tokio::test]
async fn the_spec_and_the_docs_are_served() {
    let app = spawn_app().await;
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.status, 200);
    assert_eq!(
        spec.body["paths"]["/v1/accounts"]["post"]["operationId"],
        "signUp"
    );
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.body
            .as_str()
            .is_some_and(|html| html.contains("<html"))
    );
}

#[tokio::test]
async fn the_checked_in_spec_matches_the_code() {
    let generated = accounts::api::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, format!("{generated}\n")).expect("write spec");
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        checked_in.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test the_checked_in_spec` \
         (or `cargo run -- openapi > openapi/openapi.json`) and commit it"
    );
}

#[tokio::test]
async fn every_operation_has_an_id_and_a_tag() {
    let spec: serde_json::Value =
        serde_json::from_str(&accounts::api::openapi_json()).expect("json");
    for (path, operations) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            assert!(operation["operationId"].is_string(), "{method} {path}");
            assert!(operation["tags"][0].is_string(), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn unknown_routes_answer_a_problem() {
    let app = spawn_app().await;
    app.get("/v1/nothing-here", None)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_the_allowed_methods() {
    let app = spawn_app().await;
    let answer = app
        .send(
            reqwest::Method::PUT,
            "/v1/sessions/current",
            None,
            None,
            &[],
        )
        .await;
    answer.assert_problem(405, "method_not_allowed");
    assert_eq!(answer.headers["allow"], "DELETE");
    let answer = app
        .send(reqwest::Method::TRACE, "/v1/sessions", None, None, &[])
        .await;
    assert_eq!(answer.headers["allow"], "DELETE, GET, POST");
}

#[tokio::test]
async fn with_nats_down_the_service_is_degraded_but_takes_commands() {
    let mut nats = OwnNats::start().await;
    let url = nats.url();
    let app = spawn_app_with(|config| config.nats_url = url).await;
    assert_eq!(wait_for_readiness(&app, "ok").await.body["nats"], "ok");
    nats.stop().await;
    let ready = wait_for_readiness(&app, "degraded").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["nats"], "unavailable");
    assert_eq!(ready.body["database"], "ok");
    app.new_user().await;
}

#[tokio::test]
async fn metrics_show_events_appended_and_the_pipelines_lag() {
    let app = crate::helpers::spawn_pipeline().await;
    let user = app.new_user().await;
    let last = app
        .patch(
            "/v1/me",
            &user.token,
            serde_json::json!({"bio": "measured"}),
        )
        .await
        .position();
    crate::helpers::wait_for_projection(&app, "users", last).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let answer = app.get("/metrics", None).await;
        assert_eq!(answer.status, 200);
        let text = answer.body.as_str().unwrap_or_default().to_owned();
        if text.contains("accounts_relay_lag_events 0\n") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(
        text.contains(
            "accounts_events_appended_total{stream_type=\"account\",event_type=\"ProfileUpdated\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("accounts_relay_lag_events 0\n"), "{text}");
    assert!(
        text.contains("accounts_projection_lag_events{projection=\"users\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("accounts_log_head_position {last}\n")),
        "{text}"
    );
    assert!(
        text.contains("accounts_projection_failed_events{projection=\"users\"} 0\n"),
        "{text}"
    );
}
