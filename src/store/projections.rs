//! How far the projections have got, for queries that wait for `min_position`.

use deadpool_postgres::GenericClient;

use super::StoreError;

/// True when `projection` has been built and has applied every event up to `position` (that
/// is, every event at or before it in the log; position 0: just built). Its checkpoint is a
/// commit-safe cursor, so an event with a lower position that committed later may still be
/// ahead of it: the check looks for any such event.
pub async fn has_reached(
    client: &impl GenericClient,
    projection: &str,
    position: i64,
) -> Result<bool, StoreError> {
    let Some(cursor) = client
        .query_opt(
            "SELECT transaction_id::text, position FROM projections WHERE name = $1",
            &[&projection],
        )
        .await?
    else {
        return Ok(false);
    };
    if position <= 0 {
        return Ok(true);
    }
    let transaction_id: String = cursor.get(0);
    let applied: i64 = cursor.get(1);
    // Two index range scans bounded by the cursor: nothing beyond the cursor at or below
    // the position, and the position exists.
    let row = client
        .query_one(
            "SELECT NOT EXISTS (
                        SELECT 1 FROM events
                        WHERE (transaction_id, position) > ($1::text::xid8, $2)
                          AND position <= $3)
                    AND EXISTS (SELECT 1 FROM events WHERE position >= $3)",
            &[&transaction_id, &applied, &position],
        )
        .await?;
    Ok(row.get(0))
}
