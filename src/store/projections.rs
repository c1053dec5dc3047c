//! How far the projections have got, for queries that wait for `min_position`.

use deadpool_postgres::GenericClient;

use super::StoreError;

/// True when `projection` has been built and has applied every event up to `position` (that
/// is, every event at or before it in the log; position 0: just built). Its checkpoint is a commit-safe cursor, so an event with a lower
/// position that committed later may still be ahead of it: the check looks for any such event.
pub async fn has_reached(
    client: &impl GenericClient,
    projection: &str,
    position: i64,
) -> Result<bool, StoreError> {
    let row = client
        .query_opt(
            "SELECT ($2::bigint <= 0 OR EXISTS (SELECT 1 FROM events WHERE position >= $2))
                AND NOT EXISTS (
                    SELECT 1 FROM events e
                    WHERE (e.transaction_id, e.position) > (p.transaction_id, p.position)
                      AND e.position <= $2)
             FROM projections p WHERE p.name = $1",
            &[&projection, &position],
        )
        .await?;
    Ok(row.is_some_and(|row| row.get(0)))
}
