//! The log itself: append-only, commit-safe tailing, and no secrets inside.

use crate::helpers::{PASSWORD, spawn_app};
use accounts::store::event_log::{self, LogCursor, NewEvent};
use serde_json::json;
use uuid::Uuid;

fn event(n: i64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "TestHappened",
        schema_version: 1,
        data: json!({ "n": n }),
    }
}

#[tokio::test]
async fn the_log_refuses_updates_deletes_and_truncation() {
    let app = spawn_app().await;
    app.new_user().await;
    for statement in [
        "UPDATE events SET data = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let error = app.db.batch_execute(statement).await.expect_err(statement);
        let message = error
            .as_db_error()
            .map(|e| e.message().to_owned())
            .unwrap_or_default();
        assert!(message.contains("append-only"), "{statement}: {message}");
    }
}

#[tokio::test]
async fn a_stale_writer_gets_a_version_conflict() {
    let app = spawn_app().await;
    let stream = Uuid::new_v4();
    let meta = json!({});
    app.append(&app.db, "test", stream, 0, &[event(1)], &meta)
        .await
        .expect("first append");
    let stale = app
        .append(&app.db, "test", stream, 0, &[event(2)], &meta)
        .await;
    assert!(matches!(
        stale,
        Err(accounts::store::StoreError::VersionConflict { .. })
    ));
}

#[tokio::test]
async fn readers_order_transactions_by_number_across_a_digit_boundary() {
    let app = spawn_app().await;
    // Transaction ids long past, written as they are: 9 committed before 10, and "10" < "9"
    // as text. Both are far below any running transaction, so final.
    for (transaction_id, n) in [(9, 1), (9, 2), (10, 3), (10, 4)] {
        app.db
            .execute(
                "INSERT INTO events (stream_type, stream_id, version, event_id, event_type,
                                     schema_version, data, transaction_id)
                 VALUES ('test', gen_random_uuid(), 1, gen_random_uuid(), 'TestHappened', 1,
                         jsonb_build_object('n', $2::int), $1::text::xid8)",
                &[&transaction_id.to_string(), &n],
            )
            .await
            .expect("insert");
    }
    let numbers = |events: &[event_log::RecordedEvent]| -> Vec<i64> {
        events
            .iter()
            .map(|e| e.data["n"].as_i64().unwrap())
            .collect()
    };
    let all = event_log::read_committed_after(&app.keys, &app.db, &LogCursor::start(), 100)
        .await
        .expect("read");
    assert_eq!(numbers(&all), [1, 2, 3, 4]);

    // Batches cut mid-way go on where they stopped: nothing skipped, nothing twice.
    let mut cursor = LogCursor::start();
    let mut seen = Vec::new();
    loop {
        let batch = event_log::read_committed_after(&app.keys, &app.db, &cursor, 3)
            .await
            .expect("read");
        let Some(last) = batch.last() else { break };
        cursor = LogCursor::after(last);
        seen.extend(numbers(&batch));
    }
    assert_eq!(seen, [1, 2, 3, 4]);

    let client: &tokio_postgres::Client = &app.db;
    let tail = event_log::last_final_cursor(client)
        .await
        .expect("tail")
        .expect("a final event");
    assert_eq!(tail, LogCursor::after(all.last().unwrap()));
    let range = event_log::read_range(
        &app.keys,
        client,
        &event_log::LogRange {
            after: &LogCursor::start(),
            until: Some(&tail),
            types: None,
            limit: 3,
        },
    )
    .await
    .expect("range");
    assert_eq!(numbers(&range), [1, 2, 3]);
}

#[tokio::test]
async fn the_reader_never_skips_an_event_whose_transaction_commits_late() {
    let app = spawn_app().await;
    let mut early = app.pool.get().await.expect("connection");
    let mut late = app.pool.get().await.expect("connection");
    let meta = json!({});

    // `early` takes the lower position but commits last.
    let early_tx = early.transaction().await.expect("begin");
    app.append(&early_tx, "test", Uuid::new_v4(), 0, &[event(1)], &meta)
        .await
        .expect("append");
    let late_tx = late.transaction().await.expect("begin");
    app.append(&late_tx, "test", Uuid::new_v4(), 0, &[event(2)], &meta)
        .await
        .expect("append");
    late_tx.commit().await.expect("commit");

    // Position 2 is visible, but position 1 may still commit: the reader must wait.
    let visible: i64 = app
        .db
        .query_one("SELECT max(position) FROM events", &[])
        .await
        .expect("max")
        .get(0);
    assert_eq!(
        visible, 2,
        "a position-based reader would now skip position 1"
    );
    let read = event_log::read_committed_after(&app.keys, &app.db, &LogCursor::start(), 100)
        .await
        .expect("read");
    assert!(
        read.is_empty(),
        "nothing is safe to read while position 1 is in flight"
    );

    early_tx.commit().await.expect("commit");
    // Transactions anywhere on the server (other tests' databases too) may hold the horizon back
    // a little longer: tail until both events arrive, as a real reader would.
    let mut seen = Vec::new();
    let mut cursor = LogCursor::start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.len() < 2 && std::time::Instant::now() < deadline {
        let batch = event_log::read_committed_after(&app.keys, &app.db, &cursor, 100)
            .await
            .expect("read");
        if let Some(last) = batch.last() {
            cursor = LogCursor::after(last);
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        seen.extend(batch.iter().map(|e| e.position));
    }
    assert_eq!(seen, vec![1, 2], "in commit-safe order, nothing skipped");
    let rest = event_log::read_committed_after(&app.keys, &app.db, &cursor, 100)
        .await
        .expect("read");
    assert!(rest.is_empty());
}

#[tokio::test]
async fn no_password_or_token_is_stored_in_clear() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let new_password = "quiet violet lantern harbor";
    app.put(
        "/v1/me/password",
        &user.token,
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await;
    let dump: String = app
        .db
        .query_one(
            "SELECT coalesce(string_agg(data::text || metadata::text, ' '), '') FROM events",
            &[],
        )
        .await
        .expect("dump")
        .get(0);
    for secret in [PASSWORD, new_password, user.token.as_str(), "argon2"] {
        assert!(!dump.contains(secret), "{secret} found in the log");
    }
    let sessions: String = app
        .db
        .query_one(
            "SELECT string_agg(encode(token_hash, 'escape'), ' ') FROM sessions",
            &[],
        )
        .await
        .expect("sessions")
        .get(0);
    assert!(!sessions.contains(&user.token));
}

#[tokio::test]
async fn events_record_who_asked_and_from_where() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.patch("/v1/me", &user.token, json!({"bio": "hi"})).await;
    let events = app.stream_events(user.id).await;
    let event = events
        .iter()
        .find(|event| event.event_type == "ProfileUpdated")
        .expect("the change");
    let metadata = &event.metadata;
    assert_eq!(metadata["actor"], user.id.to_string());
    assert_eq!(metadata["ip"], "127.0.0.1");
    assert!(
        metadata["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(event.stream_type, "account");
    assert_eq!(event.version, 3);

    // The log itself holds who (an id) and the request in clear, the client's address and user
    // agent only sealed with the account's data key.
    let raw: serde_json::Value = app
        .db
        .query_one(
            "SELECT metadata FROM events WHERE event_id = $1",
            &[&event.event_id],
        )
        .await
        .expect("event")
        .get(0);
    assert_eq!(raw["actor"], user.id.to_string());
    assert_eq!(raw["request_id"], metadata["request_id"]);
    assert!(
        raw.get("ip").is_none() && raw.get("user_agent").is_none(),
        "{raw}"
    );
    assert!(raw["personal"]["key_id"].is_string(), "{raw}");
}

/// A connection the server ends (as a fast shutdown does, with `57P01`) counts as the database
/// being away, which answers 503 with Retry-After, not as a statement the database refused.
#[tokio::test]
async fn a_connection_the_server_ends_counts_as_the_database_being_away() {
    let app = spawn_app().await;
    let pool = accounts::store::connect(&app.config.database_url, 1).expect("pool");
    let client = pool.get().await.expect("connection");
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    app.db
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    let error = client
        .query_one("SELECT 1", &[])
        .await
        .expect_err("the connection is gone");
    let error = accounts::store::StoreError::from(error);
    assert!(error.is_unavailable(), "{error:?}");
    let answer = accounts::service::ServiceError::from(error);
    assert!(
        matches!(answer, accounts::service::ServiceError::Unavailable),
        "{answer:?}"
    );
}
