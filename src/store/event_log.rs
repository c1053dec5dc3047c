//! The event log: append with optimistic concurrency, load a stream, and tail the whole log in
//! commit-safe order.
//!
//! # Why tailing reads by transaction id
//!
//! `position` comes from a sequence, handed out when a row is inserted, not when its transaction
//! commits. A transaction that inserts position 7 and commits after another transaction's
//! position 8 is visible would be skipped by a reader that remembers "8 is done". So readers
//! only read events written by transactions older than every transaction still running
//! (`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`) and walk them in
//! `(transaction_id, position)` order. Everything below that horizon has committed or aborted
//! for good, so nothing can appear behind the reader's cursor.
//!
//! For that order to agree with each stream's versions, the event INSERT must be the first write
//! of its transaction (the transaction id is taken at the first write; see `store::claims` and the
//! command executor, which write inline tables only after it).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{StoreError, violated_constraint};

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its id (the NATS message id downstream).
    pub event_id: Uuid,
    /// Its type name.
    pub event_type: &'static str,
    /// Its data layout version.
    pub schema_version: i32,
    /// Its data.
    pub data: Value,
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordedEvent {
    /// Place in the whole log.
    pub position: i64,
    /// Kind of stream (aggregate).
    pub stream_type: String,
    /// The stream.
    pub stream_id: Uuid,
    /// Place in the stream, from 1.
    pub version: i64,
    /// The event's id.
    pub event_id: Uuid,
    /// Type name.
    pub event_type: String,
    /// Data layout version.
    pub schema_version: i32,
    /// Data.
    pub data: Value,
    /// Who and what caused it: actor, request id, client, idempotency key.
    pub metadata: Value,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The writing transaction's id (`xid8`, as text).
    pub transaction_id: String,
}

/// The columns of a [`RecordedEvent`]. The transaction id is read as text under another name:
/// named `transaction_id`, the text would be what `ORDER BY transaction_id` sorts (an output
/// column wins over a table column of the same name), and "10" sorts before "9".
const EVENT_COLUMNS: &str = "position, stream_type, stream_id, version, event_id, event_type, \
     schema_version, data, metadata, recorded_at, transaction_id::text AS transaction_id_text";

impl RecordedEvent {
    fn from_row(row: &Row) -> Self {
        Self {
            position: row.get(0),
            stream_type: row.get(1),
            stream_id: row.get(2),
            version: row.get(3),
            event_id: row.get(4),
            event_type: row.get(5),
            schema_version: row.get(6),
            data: row.get(7),
            metadata: row.get(8),
            recorded_at: row.get(9),
            transaction_id: row.get(10),
        }
    }
}

/// Appends `events` to a stream whose last version must be `expected_version` (0 for a new
/// stream). Returns the position of each appended event.
pub async fn append_events(
    client: &impl GenericClient,
    stream_type: &str,
    stream_id: Uuid,
    expected_version: i64,
    events: &[NewEvent],
    metadata: &Value,
) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let versions: Vec<i32> = events.iter().map(|e| e.schema_version).collect();
    let data: Vec<&Value> = events.iter().map(|e| &e.data).collect();
    let rows = super::prepared::query(client,
            "INSERT INTO events
                 (stream_type, stream_id, version, event_id, event_type, schema_version, data, metadata)
             SELECT $1, $2, $3 + e.n, e.id, e.type, e.schema_version, e.data, $8
             FROM unnest($4::uuid[], $5::text[], $6::int[], $7::jsonb[])
                  WITH ORDINALITY AS e(id, type, schema_version, data, n)
             ORDER BY e.n
             RETURNING position",
            &[
                &stream_type,
                &stream_id,
                &expected_version,
                &ids,
                &types,
                &versions,
                &data,
                metadata,
            ],
        )
        .await
        .map_err(|error| match violated_constraint(&error) {
            Some("events_stream_version") => StoreError::VersionConflict {
                stream_id,
                expected: expected_version,
            },
            _ => StoreError::Database(error),
        })?;
    let mut positions: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
    positions.sort_unstable();
    Ok(positions)
}

/// All events of one stream, in version order.
pub async fn load_stream(
    client: &impl GenericClient,
    stream_id: Uuid,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version");
    let rows = super::prepared::query(client, &sql, &[&stream_id]).await?;
    Ok(rows.iter().map(RecordedEvent::from_row).collect())
}

/// A stream's state as of one of its versions (`stream_snapshots`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The version it is the state after.
    pub version: i64,
    /// The log position of that version's event.
    pub position: i64,
    /// The state, as the aggregate serializes it.
    pub state: Value,
}

/// A stream's snapshot in `format`, if any, and the events after it (all of them without
/// one), in version order: one statement.
pub async fn load_stream_after_snapshot(
    client: &impl GenericClient,
    stream_id: Uuid,
    format: &str,
) -> Result<(Option<Snapshot>, Vec<RecordedEvent>), StoreError> {
    let sql = format!(
        "SELECT position, stream_type, stream_id, version, NULL::uuid AS event_id,
                NULL::text AS event_type, 0 AS schema_version, state AS data,
                NULL::jsonb AS metadata, taken_at AS recorded_at,
                NULL::text AS transaction_id_text, 0 AS part
         FROM stream_snapshots WHERE stream_id = $1 AND format = $2
         UNION ALL
         SELECT {EVENT_COLUMNS}, 1 AS part FROM events
         WHERE stream_id = $1 AND version > coalesce(
             (SELECT version FROM stream_snapshots WHERE stream_id = $1 AND format = $2), 0)
         ORDER BY part, version"
    );
    let rows = super::prepared::query(client, &sql, &[&stream_id, &format]).await?;
    let mut snapshot = None;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.get::<_, i32>(11) == 0 {
            snapshot = Some(Snapshot {
                version: row.get(3),
                position: row.get(0),
                state: row.get(7),
            });
        } else {
            events.push(RecordedEvent::from_row(row));
        }
    }
    Ok((snapshot, events))
}

/// Writes the state of a stream as of `version` (in the transaction of the command that
/// reached it), unless a later one is kept.
pub async fn save_snapshot(
    client: &impl GenericClient,
    stream_type: &str,
    stream_id: Uuid,
    format: &str,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO stream_snapshots (stream_id, stream_type, version, position, format, state)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (stream_id) DO UPDATE
             SET version = EXCLUDED.version, position = EXCLUDED.position,
                 format = EXCLUDED.format, state = EXCLUDED.state, taken_at = now()
             WHERE stream_snapshots.version < EXCLUDED.version
                OR stream_snapshots.format <> EXCLUDED.format",
        &[
            &stream_id,
            &stream_type,
            &snapshot.version,
            &snapshot.position,
            &format,
            &snapshot.state,
        ],
    )
    .await?;
    Ok(())
}

/// A page of one stream's events, newest first: those before version `before` (all if `None`),
/// of `types` if given, at most `limit`.
pub async fn load_stream_page(
    client: &impl GenericClient,
    stream_id: Uuid,
    before: Option<i64>,
    types: Option<&[String]>,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE stream_id = $1 AND ($2::bigint IS NULL OR version < $2)
           AND ($3::text[] IS NULL OR event_type = ANY($3))
         ORDER BY version DESC LIMIT $4"
    );
    let rows = super::prepared::query(client, &sql, &[&stream_id, &before, &types, &limit]).await?;
    Ok(rows.iter().map(RecordedEvent::from_row).collect())
}

/// Up to `limit` events after `after`, in position order, of `types` if given: for browsing
/// the log (a tailing reader uses [`read_range`], which is commit-safe).
pub async fn read_by_position(
    client: &impl GenericClient,
    after: i64,
    types: Option<&[String]>,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE position > $1 AND ($2::text[] IS NULL OR event_type = ANY($2))
         ORDER BY position LIMIT $3"
    );
    let rows = super::prepared::query(client, &sql, &[&after, &types, &limit]).await?;
    Ok(rows.iter().map(RecordedEvent::from_row).collect())
}

/// The events of one stream recorded at or before `as_of`, in version order.
pub async fn load_stream_as_of(
    client: &impl GenericClient,
    stream_id: Uuid,
    as_of: DateTime<Utc>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE stream_id = $1 AND recorded_at <= $2 ORDER BY version"
    );
    let rows = super::prepared::query(client, &sql, &[&stream_id, &as_of]).await?;
    Ok(rows.iter().map(RecordedEvent::from_row).collect())
}

/// Where a tailing reader is in the log: the last event it has read, in commit-safe order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogCursor {
    /// The transaction id of the last event read (`xid8` as text).
    pub transaction_id: String,
    /// The position of the last event read.
    pub position: i64,
}

impl LogCursor {
    /// Before the first event.
    pub fn start() -> Self {
        Self {
            transaction_id: "0".to_owned(),
            position: 0,
        }
    }

    /// The commit-safe order of the cursor: transaction id, then position.
    pub fn order(&self) -> (u64, i64) {
        (self.transaction_id.parse().unwrap_or(0), self.position)
    }

    /// Just after `event`.
    pub fn after(event: &RecordedEvent) -> Self {
        Self {
            transaction_id: event.transaction_id.clone(),
            position: event.position,
        }
    }
}

/// Up to `limit` events after `cursor` that no running transaction can still precede, in
/// commit-safe order (see the module documentation).
pub async fn read_committed_after(
    client: &impl GenericClient,
    cursor: &LogCursor,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE (transaction_id, position) > ($1::text::xid8, $2)
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY transaction_id, position
         LIMIT $3"
    );
    let rows = super::prepared::query(
        client,
        &sql,
        &[&cursor.transaction_id, &cursor.position, &limit],
    )
    .await?;
    Ok(rows.iter().map(RecordedEvent::from_row).collect())
}

/// A bounded, filtered read of the final part of the log, in commit-safe order.
#[derive(Debug, Clone)]
pub struct LogRange<'a> {
    /// Read events after this cursor.
    pub after: &'a LogCursor,
    /// Read no event after this cursor (it must be final: see [`last_final_cursor`]).
    pub until: Option<&'a LogCursor>,
    /// Only these event types; all when `None`.
    pub types: Option<&'a [String]>,
    /// At most this many events.
    pub limit: i64,
}

/// The events of `range`, in commit-safe order. Like [`read_committed_after`], it reads only
/// events that no running transaction can still precede.
pub async fn read_range(
    client: &impl tokio_postgres::GenericClient,
    range: &LogRange<'_>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM public.events
         WHERE (transaction_id, position) > ($1::text::xid8, $2)
           AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           AND ($3::text IS NULL OR (transaction_id, position) <= ($3::text::xid8, $4))
           AND ($5::text[] IS NULL OR event_type = ANY($5))
         ORDER BY transaction_id, position
         LIMIT $6"
    );
    let (until_transaction, until_position) = match range.until {
        Some(cursor) => (Some(cursor.transaction_id.as_str()), cursor.position),
        None => (None, 0),
    };
    let rows = client
        .query(
            &sql,
            &[
                &range.after.transaction_id,
                &range.after.position,
                &until_transaction,
                &until_position,
                &range.types,
                &range.limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(RecordedEvent::from_row).collect())
}

/// The position of the last event appended (0 for an empty log), committed or not.
pub async fn last_position(client: &impl GenericClient) -> Result<i64, StoreError> {
    let row = client
        .query_one("SELECT coalesce(max(position), 0) FROM events", &[])
        .await?;
    Ok(row.get(0))
}

/// The cursor of the last event that no running transaction can still precede: every event up
/// to it is committed for good. `None` while the log has no such event.
pub async fn last_final_cursor(
    client: &impl tokio_postgres::GenericClient,
) -> Result<Option<LogCursor>, StoreError> {
    let row = client
        .query_opt(
            "SELECT transaction_id::text AS transaction_id_text, position FROM public.events
             WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY transaction_id DESC, position DESC
             LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|row| LogCursor {
        transaction_id: row.get(0),
        position: row.get(1),
    }))
}

/// Decodes a recorded event into the aggregate's event type.
pub fn decode<E: serde::de::DeserializeOwned>(event: &RecordedEvent) -> Result<E, StoreError> {
    let tagged = serde_json::json!({ "event_type": event.event_type, "data": event.data });
    serde_json::from_value(tagged).map_err(|source| StoreError::Decode {
        event_id: event.event_id,
        event_type: event.event_type.clone(),
        source,
    })
}
