//! How far the projections have got, for queries that wait for `min_position`.

use deadpool_postgres::GenericClient;

use super::StoreError;

/// At most this many events past a projection's checkpoint are looked at: with more, it is
/// too far behind to have reached anything it has not yet passed, and the reader waits on.
const TAIL_LOOKED_AT: i64 = 1000;

/// True when `projection` has been built and has applied every event up to `position` (that
/// is, every event at or before it in the log; position 0: just built). Its checkpoint is a
/// commit-safe cursor, so an event with a lower position that committed later may still be
/// ahead of it: the check looks for any such event among the events past the checkpoint (at
/// most `TAIL_LOOKED_AT` of them; past that, it answers false and the reader waits on).
///
/// Both statements are prepared, and their shape leaves the planner one good choice whatever
/// its statistics: the tail is read in commit order from `events_commit_order` with a limit,
/// and the log's end is `max(position)` from its primary key. (Written as `EXISTS` over
/// position ranges, the check was planned as sequential scans of the whole log while the
/// statistics still described a small one: 8 ms a check after 20,000 events in a minute.)
pub async fn has_reached(
    client: &impl GenericClient,
    projection: &str,
    position: i64,
) -> Result<bool, StoreError> {
    let Some(cursor) = super::prepared::query_opt(
        client,
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
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH tail AS (
                 SELECT position FROM events
                 WHERE (transaction_id, position) > ($1::text::xid8, $2)
                 ORDER BY transaction_id, position
                 LIMIT {TAIL_LOOKED_AT}
             )
             SELECT (SELECT count(*) FROM tail) < {TAIL_LOOKED_AT}
                AND NOT EXISTS (SELECT 1 FROM tail WHERE position <= $3)
                AND coalesce((SELECT max(position) FROM events), 0) >= $3"
        )
    });
    let row =
        super::prepared::query_one(client, &SQL, &[&transaction_id, &applied, &position]).await?;
    Ok(row.get(0))
}
