//! The projector engine against real PostgreSQL and NATS: exactly-once application, failures
//! recorded, rebuilds identical to live tables, faults.

use crate::helpers::{OwnNats, TestApp, User, spawn_app_with, spawn_pipeline, wait_for_projection};
use accounts::projector::definition::{Definition, builtin_named};
use accounts::projector::{Projector, ProjectorConfig, rebuild};
use serde_json::json;
use std::time::Duration;
use tokio::sync::watch;

/// A projection that records each event it applies under a unique key: applying one twice
/// would fail and be recorded in `projection_failures`.
const COUNTING: &str = "\
CREATE TABLE seen (position bigint PRIMARY KEY, event_type text NOT NULL);
-- on AccountRegistered, ProfileUpdated, UsernameChanged, PasswordChanged, PrivacyChanged, SessionStarted, SignInFailed, SessionsEnded, EmailVerified, EmailChanged, AccountDeleted
INSERT INTO seen VALUES (($1->>'position')::bigint, $1->>'type');
";

fn counting() -> Definition {
    Definition::parse("counting", COUNTING).expect("definition")
}

fn projector_config(app: &TestApp, nats_url_stream: (&str, &str)) -> ProjectorConfig {
    let (_, stream) = nats_url_stream;
    let mut config = ProjectorConfig::new(
        &app.config.database_url,
        stream,
        &app.config.nats_subject_prefix,
    );
    config.standby_wait = Duration::from_millis(50);
    config.batch_size = 50;
    config
}

async fn start_projector(
    app: &TestApp,
    definition: Definition,
    nats_url: &str,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let nats = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats_url)
        .await
        .expect("nats");
    let config = projector_config(app, (nats_url, &app.config.nats_stream));
    let projector = Projector::new(definition, app.keys.clone(), nats, config);
    let (stop, stopped) = watch::channel(false);
    (stop, tokio::spawn(projector.run(stopped)))
}

/// Profile changes by `user`; returns the last position.
async fn changes(app: &TestApp, user: &User, label: &str, count: usize) -> i64 {
    let mut position = 0;
    for i in 0..count {
        let answer = app
            .patch(
                "/v1/me",
                &user.token,
                json!({"bio": format!("{label} {i}")}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        position = answer.position();
    }
    position
}

/// Changes the bio `count` times, then reads the public profile at the last change's position:
/// it must answer, with the last bio, within the read wait.
async fn change_then_read(app: &TestApp, user: &User, label: &str, count: usize) {
    let position = changes(app, user, label, count).await;
    let profile = app
        .get(
            &format!("/v1/users/{}?min_position={position}", user.id),
            None,
        )
        .await;
    assert_eq!(
        profile.status, 200,
        "read within the wait: {}",
        profile.body
    );
    assert_eq!(profile.body["bio"], format!("{label} {}", count - 1));
}

/// The whole pipeline (API, relay, projectors) on the test's own NATS server.
async fn spawn_pipeline_on(
    nats: &OwnNats,
    adjust: impl FnOnce(&mut accounts::config::Config),
) -> TestApp {
    let url = nats.url();
    spawn_app_with(|config| {
        config.nats_url = url;
        config.relay = true;
        config.projector = true;
        adjust(config);
    })
    .await
}

/// Every row of a projection's tables, as JSON text, in a stable order.
async fn rows(app: &TestApp, sql: &str) -> Vec<String> {
    app.db
        .query(sql, &[])
        .await
        .expect("rows")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn users_rows(app: &TestApp) -> Vec<String> {
    rows(
        app,
        "SELECT to_jsonb(u)::text FROM projection_users.users u ORDER BY id",
    )
    .await
}

async fn failures(app: &TestApp, projection: &str) -> Vec<String> {
    app.db
        .query(
            "SELECT event_type || ': ' || error FROM projection_failures WHERE projection = $1",
            &[&projection],
        )
        .await
        .expect("failures")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Asserts that the counting projection applied every account event of the log exactly once.
async fn assert_counted_exactly_once(app: &TestApp) {
    assert_eq!(failures(app, "counting").await, Vec::<String>::new());
    let seen = rows(
        app,
        "SELECT string_agg(position::text, ',' ORDER BY position) FROM projection_counting.seen",
    )
    .await;
    let logged = rows(
        app,
        "SELECT string_agg(position::text, ',' ORDER BY position) FROM events
         WHERE stream_type = 'account'",
    )
    .await;
    assert_eq!(seen, logged);
}

#[tokio::test]
async fn a_rebuild_gives_the_same_tables_as_the_live_projection() {
    let app = spawn_pipeline().await;
    let mut last = 0;
    for n in 0..4 {
        let user = app.new_user().await;
        last = changes(&app, &user, &format!("user {n}"), 3).await;
        let privacy = app
            .put(
                "/v1/me/privacy",
                &user.token,
                json!({"show_email": n % 2 == 0, "show_phone": false, "show_birthday": true, "show_follows": n % 3 == 0}),
            )
            .await;
        last = last.max(privacy.position());
    }
    wait_for_projection(&app, "users", last).await;
    let live = users_rows(&app).await;
    assert_eq!(live.len(), 4);

    // Small batches, so that the rebuild takes several rounds and transactions.
    let report = rebuild(
        &app.keys,
        &app.config.database_url,
        &builtin_named("users").unwrap(),
        3,
    )
    .await
    .expect("rebuild");
    assert_eq!(report.generation, 2);
    assert_eq!(users_rows(&app).await, live);
    assert_eq!(failures(&app, "users").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_changed_definition_is_rebuilt_and_swapped_in_while_queries_answer() {
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let last = changes(&app, &user, "before", 3).await;
    wait_for_projection(&app, "users", last).await;
    let before = users_rows(&app).await;

    // What a new version of the service does on start: its file differs, so it rebuilds.
    let users = builtin_named("users").unwrap();
    let text = format!(
        "{}\n-- on UsernameChanged\nSELECT 1;\n",
        include_str!("../../projections/users.sql")
            .replace("-- on UsernameChanged\n", "-- on UsernameChangedLegacy\n")
    );
    let changed = Definition::parse("users", &text).expect("changed definition");
    assert_ne!(changed.hash, users.hash);
    let swapping = tokio::spawn({
        let url = app.config.database_url.clone();
        let changed = changed.clone();
        let keys = app.keys.clone();
        async move { rebuild(&keys, &url, &changed, 2).await }
    });
    let profile = app.get(&format!("/v1/users/{}", user.id), None).await;
    assert_eq!(profile.status, 200, "queries answer during the rebuild");
    let report = swapping.await.unwrap().expect("rebuild");
    assert_eq!(report.generation, 2);
    assert_eq!(users_rows(&app).await, before);
    let hash: String = app
        .db
        .query_one(
            "SELECT definition_hash FROM projections WHERE name = 'users'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_ne!(hash, users.hash, "the new definition is live");

    // The service's own projector still runs the old definition: it stands by rather than take
    // the tables back. A projector of the new definition keeps them up to date.
    let (stop, new) = start_projector(&app, changed, &app.config.nats_url).await;
    let later = changes(&app, &user, "later", 1).await;
    wait_for_projection(&app, "users", later).await;
    let (generation, hash): (i64, String) = app
        .db
        .query_one(
            "SELECT generation, definition_hash FROM projections WHERE name = 'users'",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(generation, 2, "nobody rebuilt with the replaced definition");
    assert_ne!(hash, users.hash);
    let profile = app
        .get(&format!("/v1/users/{}?min_position={later}", user.id), None)
        .await;
    assert_eq!(profile.body["bio"], "later 0");
    stop.send(true).unwrap();
    new.await.unwrap();
}

#[tokio::test]
async fn events_that_cannot_be_applied_are_recorded_and_the_projection_goes_on() {
    let app = spawn_app_with(|config| config.relay = true).await;
    let definition = Definition::parse(
        "picky",
        "CREATE TABLE bios (id uuid PRIMARY KEY, bio text NOT NULL);
-- on AccountRegistered
INSERT INTO bios VALUES (($1->>'stream_id')::uuid, 'none');
-- on ProfileUpdated
UPDATE bios SET bio = $1->'data'->'changes'->>'bio' WHERE id = ($1->>'stream_id')::uuid;
",
    )
    .unwrap();
    let (stop, projector) = start_projector(&app, definition, &app.config.nats_url).await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"bio": "kept"}))
        .await;
    // A change without a bio sets it to null: NOT NULL refuses it.
    app.patch("/v1/me", &user.token, json!({"display_name": "X"}))
        .await;
    let last = app
        .patch("/v1/me", &user.token, json!({"bio": "after"}))
        .await
        .position();
    wait_for_projection(&app, "picky", last).await;

    let recorded = failures(&app, "picky").await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(
        recorded[0].starts_with("ProfileUpdated: 23502"),
        "{recorded:?}"
    );
    let bios = rows(&app, "SELECT bio FROM projection_picky.bios").await;
    assert_eq!(
        bios,
        ["after"],
        "the events after the failed one were applied"
    );
    stop.send(true).unwrap();
    projector.await.unwrap();
}

#[tokio::test]
async fn a_projector_killed_mid_batch_resumes_with_the_same_result() {
    let app = spawn_app_with(|config| config.relay = true).await;
    let user = app.new_user().await;
    let (_stop, first) = start_projector(&app, counting(), &app.config.nats_url).await;
    let writing = {
        let address = app.address.clone();
        let token = user.token.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut last = 0;
            for i in 0..150 {
                let answer = client
                    .patch(format!("{address}/v1/me"))
                    .bearer_auth(&token)
                    .json(&json!({"bio": format!("bio {i}")}))
                    .send()
                    .await
                    .expect("patch");
                assert_eq!(answer.status(), 200);
                last = answer.headers()["accounts-position"]
                    .to_str()
                    .unwrap()
                    .parse::<i64>()
                    .unwrap();
            }
            last
        })
    };
    // Kill the projector while events flow, once it has applied some.
    loop {
        // Until the first build, the table does not exist.
        let applied: i64 = app
            .db
            .query_one("SELECT count(*) FROM projection_counting.seen", &[])
            .await
            .map_or(0, |row| row.get(0));
        if applied > 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    let _ = first.await;
    let last = writing.await.unwrap();

    let (stop, second) = start_projector(&app, counting(), &app.config.nats_url).await;
    wait_for_projection(&app, "counting", last).await;
    assert_counted_exactly_once(&app).await;
    stop.send(true).unwrap();
    second.await.unwrap();
}

#[tokio::test]
async fn two_projectors_of_one_projection_never_both_apply() {
    let app = spawn_app_with(|config| config.relay = true).await;
    let (stop_one, one) = start_projector(&app, counting(), &app.config.nats_url).await;
    let (stop_two, two) = start_projector(&app, counting(), &app.config.nats_url).await;
    let mut last = 0;
    for n in 0..3 {
        let user = app.new_user().await;
        last = changes(&app, &user, &format!("user {n}"), 20).await;
    }
    wait_for_projection(&app, "counting", last).await;
    assert_counted_exactly_once(&app).await;
    // Stop whichever leads: the other takes over and goes on, still exactly once.
    stop_one.send(true).unwrap();
    one.await.unwrap();
    let user = app.new_user().await;
    let last = changes(&app, &user, "after", 10).await;
    wait_for_projection(&app, "counting", last).await;
    assert_counted_exactly_once(&app).await;
    stop_two.send(true).unwrap();
    two.await.unwrap();
}

#[tokio::test]
async fn nats_stopped_mid_write_loses_and_duplicates_nothing_in_the_read_models() {
    let mut nats = OwnNats::start().await;
    let app = spawn_pipeline_on(&nats, |_| {}).await;
    let (stop, counter) = start_projector(&app, counting(), &nats.url()).await;
    let user = app.new_user().await;
    changes(&app, &user, "online", 10).await;
    nats.stop().await;
    changes(&app, &user, "offline", 10).await;
    nats.restart().await;
    let last = changes(&app, &user, "back", 10).await;

    wait_for_projection(&app, "counting", last).await;
    wait_for_projection(&app, "users", last).await;
    assert_counted_exactly_once(&app).await;
    let profile = app
        .get(&format!("/v1/users/{}?min_position={last}", user.id), None)
        .await;
    assert_eq!(profile.body["bio"], "back 9");
    let live = users_rows(&app).await;
    rebuild(
        &app.keys,
        &app.config.database_url,
        &builtin_named("users").unwrap(),
        100,
    )
    .await
    .expect("rebuild");
    assert_eq!(users_rows(&app).await, live);
    stop.send(true).unwrap();
    counter.await.unwrap();
}

#[tokio::test]
async fn read_models_keep_up_from_the_log_while_the_relay_is_away() {
    // NATS is up but nothing publishes to it: the projectors read what the log holds.
    let nats = OwnNats::start().await;
    let app = spawn_pipeline_on(&nats, |config| {
        config.relay = false;
        config.read_wait_ms = 3000;
    })
    .await;
    let user = app.new_user().await;
    for label in ["first", "second"] {
        change_then_read(&app, &user, label, 2).await;
    }
}

#[tokio::test]
async fn read_models_keep_up_from_the_log_while_nats_is_away() {
    let mut nats = OwnNats::start().await;
    let app = spawn_pipeline_on(&nats, |config| {
        // A read-your-write read gives up after 3 s; following JetStream alone took 9-12 s.
        config.read_wait_ms = 3000;
    })
    .await;
    let user = app.new_user().await;
    let online = changes(&app, &user, "online", 1).await;
    wait_for_projection(&app, "users", online).await;
    nats.stop().await;
    for i in 0..5 {
        change_then_read(&app, &user, &format!("offline {i}"), 1).await;
    }
    nats.restart().await;
    change_then_read(&app, &user, "back", 3).await;
}

#[tokio::test]
async fn a_read_waiting_for_events_no_read_model_shows_is_answered_under_their_load() {
    // Sign-ins are events neither projection has statements for: their projectors pass them
    // without a transaction each, yet a read waiting for their position is still answered.
    let app = spawn_app_with(|config| {
        config.relay = true;
        config.projector = true;
        config.read_wait_ms = 3000;
    })
    .await;
    let user = app.new_user().await;
    for round in 0..3 {
        let sign_ins = futures::future::join_all(
            (0..3).map(|_| app.sign_in(&user.email, crate::helpers::PASSWORD)),
        )
        .await;
        let mut positions = Vec::new();
        for answer in &sign_ins {
            assert_eq!(answer.status, 201, "{}", answer.body);
            positions.push(answer.position());
        }
        let last = positions.into_iter().max().expect("positions");
        let profile = app
            .get(&format!("/v1/users/{}?min_position={last}", user.id), None)
            .await;
        assert_eq!(profile.status, 200, "round {round}: {}", profile.body);
    }
}

/// Each projection's checkpoint, as `name position`.
async fn checkpoints(app: &TestApp) -> Vec<String> {
    rows(
        app,
        "SELECT name || ' ' || position FROM projections ORDER BY name",
    )
    .await
}

#[tokio::test]
async fn messages_whose_events_are_not_in_this_log_move_no_checkpoint() {
    // Another deployment publishing to this stream by mistake: its messages name events this
    // log does not hold, some of a type a projection has statements for (users: ProfileUpdated)
    // and some of a type none has (SessionStarted), so both the batch path and the path that
    // only moves the checkpoint meet them. Neither moves a checkpoint, and the projections go
    // on with this log's events.
    let app = spawn_pipeline().await;
    let user = app.new_user().await;
    let before = changes(&app, &user, "before", 1).await;
    wait_for_projection(&app, "users", before).await;
    wait_for_projection(&app, "follows", before).await;
    let settled = checkpoints(&app).await;

    let nats = async_nats::connect(&app.config.nats_url)
        .await
        .expect("nats");
    let jetstream = async_nats::jetstream::new(nats);
    let mut last_sequence = 0;
    for event_type in ["SessionStarted", "ProfileUpdated", "SessionStarted"] {
        let envelope = json!({
            "id": uuid::Uuid::now_v7(), "type": event_type, "schema_version": 1,
            "stream_type": "account", "stream_id": user.id, "version": 1_000,
            "position": 1_000_000_000, "recorded_at": "2026-01-01T00:00:00Z",
            "data": {"changes": {"bio": "foreign"}, "at": "2026-01-01T00:00:00Z"},
            "metadata": {},
        });
        let subject = format!("{}.account.{event_type}", app.config.nats_subject_prefix);
        let ack = jetstream
            .publish(subject, serde_json::to_vec(&envelope).expect("json").into())
            .await
            .expect("publish")
            .await
            .expect("stored");
        last_sequence = ack.sequence;
    }
    let stream = jetstream
        .get_stream(&app.config.nats_stream)
        .await
        .expect("stream");
    for projection in ["users", "follows"] {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let floor = stream
                .consumer_info(format!("projection_{projection}"))
                .await
                .map_or(0, |info| info.ack_floor.stream_sequence);
            if floor >= last_sequence {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{projection} never acknowledged the foreign messages"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(checkpoints(&app).await, settled);
    change_then_read(&app, &user, "after", 1).await;
    let profile = app.get(&format!("/v1/users/{}", user.id), None).await;
    assert_eq!(profile.body["bio"], "after 0");
}

#[tokio::test]
async fn a_checkpoint_moved_past_ignored_events_never_goes_back_nor_moves_for_another_definition() {
    use accounts::projector::apply::{self, Prepared};
    use accounts::store::event_log::LogCursor;
    let app = crate::helpers::spawn_app().await;
    let user = app.new_user().await;
    let first = changes(&app, &user, "first", 1).await;
    let second = changes(&app, &user, "second", 1).await;
    let definition = counting();
    // A rebuild reads up to the commit-safe horizon, which is server-wide: a transaction of
    // another test still open would hold it before `second`. Wait until every event is final.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !app
        .db
        .query_one(
            "SELECT count(*) = 0 FROM events
             WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())",
            &[],
        )
        .await
        .expect("horizon")
        .get::<_, bool>(0)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the log never became final"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rebuild(&app.keys, &app.config.database_url, &definition, 100)
        .await
        .expect("rebuild");
    let client = accounts::leadership::connect(&app.config.database_url)
        .await
        .expect("connection");
    let prepared = Prepared::default();
    let cursor_of = |position: i64| {
        let db = &app.db;
        async move {
            let row = db
                .query_one(
                    "SELECT transaction_id::text, position FROM events WHERE position = $1",
                    &[&position],
                )
                .await
                .expect("event");
            LogCursor {
                transaction_id: row.get(0),
                position: row.get(1),
            }
        }
    };
    let checkpoint = || async {
        rows(
            &app,
            "SELECT position::text FROM projections WHERE name = 'counting'",
        )
        .await
    };
    assert_eq!(checkpoint().await, [second.to_string()]);

    // Behind the checkpoint: nothing moves, and the events asked about count as skipped.
    let (first_cursor, second_cursor) = (cursor_of(first).await, cursor_of(second).await);
    let first_id: uuid::Uuid = app
        .db
        .query_one("SELECT event_id FROM events WHERE position = $1", &[&first])
        .await
        .expect("event id")
        .get(0);
    let unknown = uuid::Uuid::now_v7();
    let advanced = apply::advance_past(
        &client,
        &prepared,
        &definition,
        &[first_id, unknown],
        Some(&first_cursor),
        None,
    )
    .await
    .expect("advance")
    .expect("this definition's tables");
    assert_eq!(advanced.logged, [first_id]);
    assert_eq!(advanced.skipped, 1);
    assert_eq!(checkpoint().await, [second.to_string()]);

    // Ahead of it, for tables built from another definition: nothing moves either.
    let third = changes(&app, &user, "third", 1).await;
    let third_cursor = cursor_of(third).await;
    let other = Definition::parse("counting", &format!("{COUNTING}\n-- another version\n"))
        .expect("definition");
    assert_ne!(other.hash, definition.hash);
    let refused = apply::advance_past(&client, &prepared, &other, &[], Some(&third_cursor), None)
        .await
        .expect("advance");
    assert_eq!(refused, None);
    assert_eq!(checkpoint().await, [second.to_string()]);

    // Ahead of it, for its own definition: it moves.
    let moved = apply::advance_past(
        &client,
        &prepared,
        &definition,
        &[],
        Some(&third_cursor),
        None,
    )
    .await
    .expect("advance")
    .expect("this definition's tables");
    assert_eq!(moved.skipped, 0);
    assert_eq!(checkpoint().await, [third.to_string()]);
    assert!(second_cursor.order() < third_cursor.order());
}
