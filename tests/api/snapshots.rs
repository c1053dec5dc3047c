//! Snapshots: every command writes its stream's state at its head with its events, so a load
//! reads one row whatever the history; a stream loads from its snapshot and any events after it
//! to the same state as folding its whole history, and the log stays the truth when a snapshot
//! is behind, of another format, or unreadable.

use crate::helpers::{TestApp, spawn_app};
use accounts::domain::account::Account;
use accounts::service::executor::{Loaded, fold, load};
use accounts::store::event_log::load_stream;
use serde_json::json;
use uuid::Uuid;

async fn full_replay(app: &TestApp, id: Uuid) -> Loaded<Account> {
    let client = app.pool.get().await.expect("connection");
    fold(&load_stream(&app.keys, &client, id).await.expect("events")).expect("fold")
}

async fn loaded(app: &TestApp, id: Uuid) -> Loaded<Account> {
    let client = app.pool.get().await.expect("connection");
    load::<Account>(&app.keys, &client, id).await.expect("load")
}

async fn snapshot_version(app: &TestApp, id: Uuid) -> Option<i64> {
    app.db
        .query_opt(
            "SELECT version FROM stream_snapshots WHERE stream_id = $1",
            &[&id],
        )
        .await
        .expect("snapshot")
        .map(|row| row.get(0))
}

#[tokio::test]
async fn a_long_history_loads_from_its_snapshot_to_the_state_of_a_full_replay() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for i in 0..40 {
        let change = match i % 4 {
            0 => json!({"bio": format!("bio {i}")}),
            1 => json!({"display_name": format!("Name {i}"), "city": "Hangzhou"}),
            2 => json!({"gender": if i % 8 == 2 { "female" } else { "male" }}),
            _ => json!({"birthday": "1990-01-02", "country": format!("Country {i}")}),
        };
        let answer = app.patch("/v1/me", &user.token, change).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let privacy = app
        .put(
            "/v1/me/privacy",
            &user.token,
            json!({"show_email": true, "show_phone": false, "show_birthday": true, "show_follows": false}),
        )
        .await;
    assert!(privacy.status.is_success(), "{}", privacy.body);
    assert_eq!(
        app.sign_in(&user.email, crate::helpers::PASSWORD)
            .await
            .status,
        201
    );

    let version = snapshot_version(&app, user.id).await.expect("a snapshot");
    let loaded = loaded(&app, user.id).await;
    assert_eq!(loaded.snapshot_version, version);
    let full = full_replay(&app, user.id).await;
    assert_eq!(
        version, full.version,
        "the snapshot is at the stream's head"
    );
    assert_eq!(loaded.state, full.state);
    assert_eq!(
        (loaded.version, loaded.position),
        (full.version, full.position)
    );
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body["bio"], "bio 36");
}

#[tokio::test]
async fn a_snapshot_of_another_format_or_unreadable_is_ignored_and_written_again() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for i in 0..20 {
        let bio = json!({"bio": format!("bio {i}")});
        assert_eq!(app.patch("/v1/me", &user.token, bio).await.status, 200);
    }
    assert!(snapshot_version(&app, user.id).await.is_some());
    // An older build's snapshot, with a state this build would read wrongly.
    app.db
        .execute(
            "UPDATE stream_snapshots SET format = 'older', state = jsonb_set(state, '{profile,bio}', '\"stale\"')
             WHERE stream_id = $1",
            &[&user.id],
        )
        .await
        .expect("age the snapshot");
    let replayed = loaded(&app, user.id).await;
    assert_eq!(replayed.snapshot_version, 0, "replayed from the start");
    assert_eq!(replayed.state, full_replay(&app, user.id).await.state);
    assert_eq!(
        app.get("/v1/me", Some(&user.token)).await.body["bio"],
        "bio 19"
    );
    // The next command writes this build's snapshot.
    assert_eq!(
        app.patch("/v1/me", &user.token, json!({"bio": "again"}))
            .await
            .status,
        200
    );
    let format: String = app
        .db
        .query_one(
            "SELECT format FROM stream_snapshots WHERE stream_id = $1",
            &[&user.id],
        )
        .await
        .expect("format")
        .get(0);
    assert_ne!(format, "older");

    // One of this build's format that does not read back: replayed too.
    app.db
        .execute(
            "UPDATE stream_snapshots SET state = '{\"not\": \"an account\"}' WHERE stream_id = $1",
            &[&user.id],
        )
        .await
        .expect("break the snapshot");
    assert_eq!(
        bio(&loaded(&app, user.id).await),
        bio(&full_replay(&app, user.id).await)
    );
    assert_eq!(
        app.get("/v1/me", Some(&user.token)).await.body["bio"],
        "again"
    );
}

#[tokio::test]
async fn events_after_the_snapshot_are_folded_onto_it_by_commands_and_reads() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let patched = app
        .patch("/v1/me", &user.token, json!({"bio": "snapshotted"}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let version = snapshot_version(&app, user.id).await.expect("a snapshot");
    // An event the snapshot does not hold (as one appended by an older build would be).
    let tail = accounts::store::event_log::NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "ProfileUpdated",
        schema_version: 1,
        data: json!({"changes": {"bio": "from the tail"}, "at": chrono::Utc::now()}),
    };
    app.append(&app.db, "account", user.id, version, &[tail], &json!({}))
        .await
        .expect("append behind the snapshot");
    let loaded = loaded(&app, user.id).await;
    assert_eq!(loaded.snapshot_version, version);
    assert_eq!(loaded.version, version + 1);
    assert_eq!(loaded.state, full_replay(&app, user.id).await.state);
    let me = app.get("/v1/me", Some(&user.token)).await;
    assert_eq!(me.body["bio"], "from the tail", "{}", me.body);
    // The next command decides on the folded state and moves the snapshot to the head.
    let named = app
        .patch("/v1/me", &user.token, json!({"display_name": "Tail"}))
        .await;
    assert_eq!(named.status, 200, "{}", named.body);
    assert_eq!(named.body["bio"], "from the tail");
    assert_eq!(snapshot_version(&app, user.id).await, Some(version + 2));
}

fn bio(loaded: &Loaded<Account>) -> Option<String> {
    let bio = loaded.state.profile.bio.as_ref();
    bio.map(|bio| bio.as_str().to_owned())
}
