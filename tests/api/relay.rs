//! The relay against a real NATS JetStream, on stream names of the test's own.

use crate::helpers::{OwnNats, TestApp, spawn_app};
use accounts::relay::{Relay, RelayConfig};
use async_nats::jetstream;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::watch;

fn relay_config(app: &TestApp) -> RelayConfig {
    let mut config = RelayConfig::new(
        &app.config.database_url,
        &app.config.nats_stream,
        &app.config.nats_subject_prefix,
    );
    config.standby_wait = Duration::from_millis(50);
    config
}

async fn start_relay(app: &TestApp) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    let relay = Relay::new(app.pool.clone(), app.keys.clone(), nats, relay_config(app));
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(relay.run(stopped)))
}

async fn stream(app: &TestApp) -> jetstream::stream::Stream {
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    stream_on(&nats, app).await
}

/// Stops a relay and removes the test's stream from the server.
async fn finish(app: &TestApp, stop: watch::Sender<bool>, relay: tokio::task::JoinHandle<()>) {
    stop.send(true).expect("stop");
    relay.await.expect("relay");
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    jetstream::new(nats)
        .delete_stream(&app.config.nats_stream)
        .await
        .expect("delete the test stream");
}

/// Waits until the stream holds `count` messages, and returns how many it holds then.
async fn wait_for_messages(stream: &mut jetstream::stream::Stream, count: u64) -> u64 {
    // Generous: after a NATS restart, the client's reconnect and the relay's backoff both pass.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held = stream.info().await.expect("info").state.messages;
        if held >= count || Instant::now() > deadline {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_event_is_published_once_with_its_id_and_envelope() {
    let app = spawn_app().await;
    // A sign-up by email writes account events and a verification code's event.
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"bio": "hello"}))
        .await;
    let (stop, relay) = start_relay(&app).await;

    let mut stream = stream(&app).await;
    let total = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(wait_for_messages(&mut stream, total).await, total);

    let events = app
        .db
        .query(
            "SELECT event_id, event_type, position, stream_type, stream_id FROM events
             ORDER BY position",
            &[],
        )
        .await
        .expect("events");
    for (sequence, row) in (1..).zip(&events) {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let event_id: uuid::Uuid = row.get(0);
        let event_type: String = row.get(1);
        let stream_type: String = row.get(3);
        let stream_id: uuid::Uuid = row.get(4);
        assert_eq!(
            message
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.as_str().to_owned()),
            Some(event_id.to_string())
        );
        assert_eq!(
            message.subject.as_str(),
            format!(
                "{}.{stream_type}.{event_type}",
                app.config.nats_subject_prefix
            )
        );
        let envelope: Value = serde_json::from_slice(&message.payload).expect("json");
        assert_eq!(envelope["id"], event_id.to_string());
        assert_eq!(envelope["type"], event_type);
        assert_eq!(envelope["position"], row.get::<_, i64>(2));
        assert_eq!(envelope["stream_type"], stream_type);
        assert_eq!(envelope["stream_id"], stream_id.to_string());
        assert_eq!(envelope["schema_version"], 1);
        assert!(envelope["recorded_at"].is_string());
        assert!(envelope["data"].is_object() && envelope["metadata"].is_object());
    }
    finish(&app, stop, relay).await;
}

#[tokio::test]
async fn a_restarted_relay_resumes_without_publishing_twice() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (stop, relay) = start_relay(&app).await;
    let mut stream = stream(&app).await;
    let first = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(wait_for_messages(&mut stream, first).await, first);
    stop.send(true).expect("stop");
    relay.await.expect("relay");

    // Events written while no relay runs are published by the next one, and only they are.
    app.patch("/v1/me", &user.token, json!({"bio": "while away"}))
        .await;
    let (stop, relay) = start_relay(&app).await;
    assert_eq!(wait_for_messages(&mut stream, first + 1).await, first + 1);
    app.patch("/v1/me", &user.token, json!({"bio": "and after"}))
        .await;
    assert_eq!(wait_for_messages(&mut stream, first + 2).await, first + 2);
    let total = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(stream.info().await.expect("info").state.messages, total);
    finish(&app, stop, relay).await;
}

#[tokio::test]
async fn a_standby_relay_takes_over_when_the_active_one_stops() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let (stop_first, first) = start_relay(&app).await;
    let mut stream = stream(&app).await;
    let published = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(wait_for_messages(&mut stream, published).await, published);
    let (stop_second, second) = start_relay(&app).await;

    stop_first.send(true).expect("stop");
    first.await.expect("relay");
    app.patch("/v1/me", &user.token, json!({"bio": "after the handover"}))
        .await;
    assert_eq!(
        wait_for_messages(&mut stream, published + 1).await,
        published + 1,
        "the standby published the new event"
    );
    let total = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(stream.info().await.expect("info").state.messages, total);
    finish(&app, stop_second, second).await;
}

#[tokio::test]
async fn while_nats_is_down_commands_succeed_and_every_event_is_published_once_after() {
    let app = spawn_app().await;
    let mut nats = OwnNats::start().await;
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats.url())
        .await
        .expect("nats");
    let relay = Relay::new(
        app.pool.clone(),
        app.keys.clone(),
        client,
        relay_config(&app),
    );
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(relay.run(stopped));

    let user = app.new_user().await;
    let observer = async_nats::connect(nats.url()).await.expect("nats");
    let mut stream = stream_on(&observer, &app).await;
    let before = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(wait_for_messages(&mut stream, before).await, before);

    nats.stop().await;
    for i in 0..5 {
        let answer = app
            .patch(
                "/v1/me",
                &user.token,
                json!({"bio": format!("offline {i}")}),
            )
            .await;
        assert_eq!(answer.status, 200, "commands do not wait for NATS");
    }
    nats.restart().await;

    let observer = async_nats::connect(nats.url()).await.expect("nats");
    let mut stream = stream_on(&observer, &app).await;
    let total = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(total, before + 5);
    assert_eq!(wait_for_messages(&mut stream, total).await, total);
    let bios: Vec<String> =
        futures::future::join_all((1..=total).map(|sequence| stream.get_raw_message(sequence)))
            .await
            .into_iter()
            .map(|message| {
                let envelope: Value =
                    serde_json::from_slice(&message.expect("message").payload).expect("json");
                envelope["data"]["changes"]["bio"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .filter(|bio| !bio.is_empty())
            .collect();
    assert_eq!(
        bios,
        (0..5).map(|i| format!("offline {i}")).collect::<Vec<_>>()
    );
    stop.send(true).expect("stop");
    relay.await.expect("relay");
}

async fn stream_on(nats: &async_nats::Client, app: &TestApp) -> jetstream::stream::Stream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match jetstream::new(nats.clone())
            .get_stream(&app.config.nats_stream)
            .await
        {
            Ok(stream) => return stream,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(error) => panic!("no stream: {error}"),
        }
    }
}

/// Events carry personal data to subscribers: the stream forgets them after the configured
/// maximum age, set by the relay on a stream made before (or by another component) too.
#[tokio::test]
async fn the_relay_gives_the_stream_its_maximum_age() {
    let app = spawn_app().await;
    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    let jetstream = jetstream::new(nats.clone());
    // Made by another component first, with the default age.
    accounts::jetstream::ensure_stream(
        &jetstream,
        &app.config.nats_stream,
        &app.config.nats_subject_prefix,
        None,
    )
    .await
    .expect("stream");
    let mut made = stream(&app).await;
    assert_eq!(
        made.info().await.expect("info").config.max_age,
        accounts::jetstream::DEFAULT_MAX_AGE
    );
    let two_days = Duration::from_secs(2 * 24 * 3600);
    let relay = Relay::new(
        app.pool.clone(),
        app.keys.clone(),
        nats,
        RelayConfig {
            max_age: two_days,
            ..relay_config(&app)
        },
    );
    let (stop, stopped) = watch::channel(false);
    let relay = tokio::spawn(relay.run(stopped));
    app.new_user().await;
    let total = u64::try_from(app.count_events(None).await).expect("count");
    assert_eq!(wait_for_messages(&mut made, total).await, total);
    assert_eq!(made.info().await.expect("info").config.max_age, two_days);
    finish(&app, stop, relay).await;
}
