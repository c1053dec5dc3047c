//! Checkpoints of the readers that tail the log.

use deadpool_postgres::GenericClient;

use super::StoreError;
use super::event_log::LogCursor;

/// Where `reader` has got to; the start of the log if it has not begun.
pub async fn load(client: &impl GenericClient, reader: &str) -> Result<LogCursor, StoreError> {
    let row = super::prepared::query_opt(
        client,
        "SELECT transaction_id::text, position FROM log_checkpoints WHERE reader = $1",
        &[&reader],
    )
    .await?;
    Ok(row.map_or_else(LogCursor::start, |row| LogCursor {
        transaction_id: row.get(0),
        position: row.get(1),
    }))
}

/// Records that `reader` has finished with everything up to `cursor`.
pub async fn save(
    client: &impl GenericClient,
    reader: &str,
    cursor: &LogCursor,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO log_checkpoints (reader, transaction_id, position)
             VALUES ($1, $2::text::xid8, $3)
             ON CONFLICT (reader) DO UPDATE
                 SET transaction_id = EXCLUDED.transaction_id,
                     position = EXCLUDED.position,
                     updated_at = now()",
        &[&reader, &cursor.transaction_id, &cursor.position],
    )
    .await?;
    Ok(())
}
