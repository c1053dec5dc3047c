//! `message_deliveries`: one row per event whose mail or text is due, claimed by one worker
//! at a time (`sending`, lapsing after five minutes), given back for a retry (`retrying`), or
//! done for good (`sent`, `skipped`, `failed`).

use super::StoreError;
use deadpool_postgres::Pool;
use uuid::Uuid;

/// Claims an event for sending: false when it was sent, skipped or failed, or is being sent
/// by a live worker.
pub async fn claim(pool: &Pool, event_id: Uuid, channel: &str) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let claimed = client
        .execute(
            "INSERT INTO message_deliveries (event_id, channel, status) VALUES ($1, $2, 'sending')
             ON CONFLICT (event_id) DO UPDATE SET status = 'sending', claimed_at = now()
             WHERE message_deliveries.status = 'retrying'
                OR (message_deliveries.status = 'sending'
                    AND message_deliveries.claimed_at < now() - interval '5 minutes')",
            &[&event_id, &channel],
        )
        .await?;
    Ok(claimed == 1)
}

/// Gives a claim back after a failure that may pass, for the redelivery to take.
pub async fn release(pool: &Pool, event_id: Uuid, error: &str) -> Result<(), StoreError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE message_deliveries
             SET status = 'retrying', attempts = attempts + 1, last_error = $2
             WHERE event_id = $1",
            &[&event_id, &error],
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
    client
        .execute(
            "UPDATE message_deliveries
             SET status = $2, attempts = attempts + 1, last_error = coalesce($3, last_error),
                 sent_at = CASE WHEN $2 = 'sent' THEN now() END
             WHERE event_id = $1",
            &[&event_id, &status, &note],
        )
        .await?;
    Ok(())
}
