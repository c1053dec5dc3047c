//! Deleted accounts waiting for the erasure of their personal data, and the erasure itself in
//! the inline tables: the data keys destroyed, and every row that held the account's personal
//! data in clear deleted (snapshots, sessions, second-factor challenges, passkey ceremonies,
//! delivery notes).

use super::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

/// Records the deletion of `account_id` at `deleted_at`: its erasure is due once the grace
/// period after it ends.
pub async fn schedule(
    client: &impl GenericClient,
    account_id: Uuid,
    deleted_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO erasures (account_id, deleted_at) VALUES ($1, $2)
         ON CONFLICT (account_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, erased_at = NULL",
        &[&account_id, &deleted_at],
    )
    .await?;
    Ok(())
}

/// Forgets the pending erasure of a restored account.
pub async fn cancel(client: &impl GenericClient, account_id: Uuid) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "DELETE FROM erasures WHERE account_id = $1 AND erased_at IS NULL",
        &[&account_id],
    )
    .await?;
    Ok(())
}

/// Up to `limit` accounts deleted at or before `deleted_before` and not erased yet, oldest
/// first.
pub async fn due(
    client: &impl GenericClient,
    deleted_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let rows = super::prepared::query(
        client,
        "SELECT account_id FROM erasures
         WHERE erased_at IS NULL AND deleted_at <= $1
         ORDER BY deleted_at LIMIT $2",
        &[&deleted_before, &limit],
    )
    .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Erases `account_id` in the inline tables, in the transaction that records the erasure:
/// destroys the data keys of `streams` (its own streams) and those of `code_streams` (the code
/// streams of its addresses and phones) made up to its deletion (a later holder of an address
/// keeps the keys made for it since), deletes the streams' snapshots, the account's sessions,
/// challenges and ceremonies, and the errors of deliveries of the streams' events (an SMTP
/// refusal quotes the address), and marks the erasure done.
pub async fn erase(
    client: &impl GenericClient,
    account_id: Uuid,
    streams: &[Uuid],
    code_streams: &[Uuid],
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "WITH keys AS (
             UPDATE data_keys SET wrapped = NULL, erased_at = now()
             WHERE erased_at IS NULL
               AND (stream_id = ANY($2)
                    OR (stream_id = ANY($3)
                        AND created_at <= coalesce(
                            (SELECT deleted_at FROM erasures WHERE account_id = $1), now())))
         ), snapshots AS (
             DELETE FROM stream_snapshots WHERE stream_id = ANY($2) OR stream_id = ANY($3)
         ), sessions AS (
             DELETE FROM sessions WHERE account_id = $1
         ), challenges AS (
             DELETE FROM mfa_challenges WHERE account_id = $1
         ), ceremonies AS (
             DELETE FROM passkey_ceremonies WHERE account_id = $1
         ), notes AS (
             UPDATE message_deliveries SET last_error = NULL
             WHERE last_error IS NOT NULL
               AND event_id IN (
                   SELECT event_id FROM events
                   WHERE stream_id = ANY($2) OR stream_id = ANY($3))
         )
         INSERT INTO erasures (account_id, deleted_at, erased_at) VALUES ($1, now(), now())
         ON CONFLICT (account_id) DO UPDATE SET erased_at = now()",
        &[&account_id, &streams, &code_streams],
    )
    .await?;
    Ok(())
}

/// The ids of the erased keys of `streams`.
pub async fn erased_keys(
    client: &impl GenericClient,
    streams: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    let rows = super::prepared::query(
        client,
        "SELECT key_id FROM data_keys WHERE stream_id = ANY($1) AND erased_at IS NOT NULL",
        &[&streams],
    )
    .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
