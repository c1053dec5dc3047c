//! `message_deliveries`: one row per event whose mail or text is due. A worker claims an event
//! with a lease (`sending` until `lease_until`); it gives the claim back for a retry at a later
//! time (`retrying` until `lease_until`), or records it done for good (`sent`, `skipped`,
//! `failed`). A lease that has passed, a dead worker's or a due retry's, is anyone's to take.

use super::StoreError;
use super::event_log::RecordedEvent;
use crate::personal::Keyring;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use std::time::Duration;
use uuid::Uuid;

/// Where an event's delivery stands for a worker that asked to claim it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This worker holds it now, until the lease ends; it was tried `attempts` times before.
    Taken {
        /// Tries before this one.
        attempts: i32,
    },
    /// Sent, skipped or failed for good: nothing to do.
    Finished,
    /// Held by another worker, or waiting for its retry, until then.
    HeldUntil(DateTime<Utc>),
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Claims an event's delivery for `lease`, for the worker process `worker`. A claim of the same
/// worker is taken again whatever its lease: the worker asks only for events it is not sending
/// (its claim was recorded, but the answer lost).
pub async fn claim(
    pool: &Pool,
    event_id: Uuid,
    channel: &str,
    lease: Duration,
    worker: Uuid,
) -> Result<Claim, StoreError> {
    let client = pool.get().await?;
    let taken = super::prepared::query_opt(
        &client,
        "INSERT INTO message_deliveries (event_id, channel, status, lease_until, claimed_by)
         VALUES ($1, $2, 'sending', now() + $3 * interval '1 millisecond', $4)
         ON CONFLICT (event_id) DO UPDATE
             SET status = 'sending', claimed_at = now(), lease_until = EXCLUDED.lease_until,
                 claimed_by = EXCLUDED.claimed_by
             WHERE (message_deliveries.status IN ('sending', 'retrying')
                    AND message_deliveries.lease_until <= now())
                OR (message_deliveries.status = 'sending'
                    AND message_deliveries.claimed_by = EXCLUDED.claimed_by)
         RETURNING attempts",
        &[&event_id, &channel, &millis(lease), &worker],
    )
    .await?;
    if let Some(taken) = taken {
        return Ok(Claim::Taken {
            attempts: taken.get(0),
        });
    }
    let row = super::prepared::query_opt(
        &client,
        "SELECT status IN ('sending', 'retrying'), lease_until
             FROM message_deliveries WHERE event_id = $1",
        &[&event_id],
    )
    .await?;
    Ok(match row {
        Some(row) if row.get::<_, bool>(0) => Claim::HeldUntil(row.get(1)),
        // Finished, or (never seen: the row was there a moment ago) nothing to do.
        _ => Claim::Finished,
    })
}

/// Extends a claim being sent by `lease` from now.
pub async fn renew(pool: &Pool, event_id: Uuid, lease: Duration) -> Result<(), StoreError> {
    let client = pool.get().await?;
    super::prepared::execute(
        &client,
        "UPDATE message_deliveries SET lease_until = now() + $2 * interval '1 millisecond'
         WHERE event_id = $1 AND status = 'sending'",
        &[&event_id, &millis(lease)],
    )
    .await?;
    Ok(())
}

/// Gives a claim back after a failure that may pass: it is due again after `retry_in`.
pub async fn release(
    pool: &Pool,
    event_id: Uuid,
    error: &str,
    retry_in: Duration,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    super::prepared::execute(
        &client,
        "UPDATE message_deliveries
             SET status = 'retrying', attempts = attempts + 1, last_error = $2,
                 lease_until = now() + $3 * interval '1 millisecond'
             WHERE event_id = $1",
        &[&event_id, &error, &millis(retry_in)],
    )
    .await?;
    Ok(())
}

/// Records a delivery as done: `sent`, `skipped` or `failed` (with why).
pub async fn finish(
    pool: &Pool,
    event_id: Uuid,
    status: &str,
    note: Option<&str>,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    super::prepared::execute(
        &client,
        "UPDATE message_deliveries
             SET status = $2, attempts = attempts + 1, last_error = coalesce($3, last_error),
                 sent_at = CASE WHEN $2 = 'sent' THEN now() END
             WHERE event_id = $1",
        &[&event_id, &status, &note],
    )
    .await?;
    Ok(())
}

/// Deliveries whose lease has passed (their worker died, or their retry is due), oldest
/// first, at most `limit`, with their events read from the log (opened: `crate::personal`).
pub async fn due(
    keys: &Keyring,
    pool: &Pool,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let client = pool.get().await?;
    let rows = super::prepared::query(
        &client,
        "SELECT event_id FROM message_deliveries
             WHERE status IN ('sending', 'retrying') AND lease_until <= now()
             ORDER BY lease_until
             LIMIT $1",
        &[&limit],
    )
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.get(0)).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    super::event_log::read_by_ids(keys, &client, &ids).await
}
