//! `accounts events synthesize`: appends synthetic accounts to the log as commands would write
//! them (their personal fields sealed under a data key per account), for measuring rebuilds
//! and reads over a large log (`scripts/bench`). Not for a log that serves anyone.

use crate::personal::Keyring;
use crate::store::event_log::{self, NewEvent};
use futures::StreamExt as _;
use serde_json::json;
use uuid::Uuid;

/// Appends `accounts` synthetic accounts numbered from `first`, each with four events
/// (registered, two profile changes, privacy), `concurrency` at a time. Returns how many
/// events it appended.
pub async fn synthesize(
    keys: &Keyring,
    database_url: &str,
    first: u64,
    accounts: u64,
    concurrency: usize,
) -> anyhow::Result<u64> {
    let pool = crate::store::connect(database_url, concurrency)?;
    let metadata = json!({"request_id": "synthetic"});
    let appended = futures::stream::iter(first..first + accounts)
        .map(|n| {
            let (pool, metadata) = (&pool, &metadata);
            async move {
                let id = Uuid::new_v4();
                let now = chrono::Utc::now();
                let event = |event_type: &'static str, data: serde_json::Value| NewEvent {
                    event_id: Uuid::now_v7(),
                    event_type,
                    schema_version: 1,
                    data,
                };
                let events = [
                    event(
                        "AccountRegistered",
                        json!({"email": format!("synthetic-{n}@example.com"), "role": "user", "at": now}),
                    ),
                    event(
                        "ProfileUpdated",
                        json!({"changes": {"display_name": format!("User {n}")}, "at": now}),
                    ),
                    event(
                        "ProfileUpdated",
                        json!({"changes": {"bio": format!("Bio {n}"), "city": "Hangzhou"}, "at": now}),
                    ),
                    event(
                        "PrivacyChanged",
                        json!({"privacy": {"show_phone": false, "show_email": true,
                                           "show_birthday": false, "show_follows": true},
                               "at": now}),
                    ),
                ];
                let sealed = keys.seal((id, "account"), chrono::Utc::now(), &events, metadata, None).await?;
                let client = pool.get().await?;
                event_log::append_events(&client, "account", 0, &sealed).await?;
                anyhow::Ok(events.len() as u64)
            }
        })
        .buffer_unordered(concurrency)
        .fold(anyhow::Ok(0), |total, appended| async move {
            Ok(total? + appended?)
        })
        .await?;
    Ok(appended)
}
