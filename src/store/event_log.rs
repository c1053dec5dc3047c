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
//! command executor, which write inline tables only after it), and its transaction must hold the
//! stream's advisory lock before that write: a unit takes it at BEGIN, and a statement of
//! [`append_alone_sql`], its own transaction, takes it (without waiting) before it inserts.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use std::sync::LazyLock;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{StoreError, violated_constraint};
use crate::personal::{Keyring, OpenedSnapshot, SealedAppend};

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
        Self::from_row_at(row, 0)
    }

    /// Reads [`EVENT_COLUMNS`] from a row where they start at column `first`.
    fn from_row_at(row: &Row, first: usize) -> Self {
        Self {
            position: row.get(first),
            stream_type: row.get(first + 1),
            stream_id: row.get(first + 2),
            version: row.get(first + 3),
            event_id: row.get(first + 4),
            event_type: row.get(first + 5),
            schema_version: row.get(first + 6),
            data: row.get(first + 7),
            metadata: row.get(first + 8),
            recorded_at: row.get(first + 9),
            transaction_id: row.get(first + 10),
        }
    }
}

/// The events INSERT with `$guard` (SQL: nothing, or a `WHERE` on the statement's parameters),
/// as a query named `appended` returning `position` and `version`.
macro_rules! append_insert {
    ($guard:literal) => {
        concat!(
            "INSERT INTO events
         (stream_type, stream_id, version, event_id, event_type, schema_version, data, metadata)
     SELECT $1, $2, $3 + e.n, e.id, e.type, e.schema_version, e.data, $8
     FROM unnest($4::uuid[], $5::text[], $6::int[], $7::jsonb[])
          WITH ORDINALITY AS e(id, type, schema_version, data, n) ",
            $guard,
            "
     ORDER BY e.n
     RETURNING position, version"
        )
    };
}

/// The events INSERT, as a query named `appended`.
const APPEND_SQL: &str = append_insert!("");

/// The snapshot written with the events (`$9` its format, `$10` the state), as a query named
/// `snapshot` over `appended` (nothing when `appended` is empty).
const SNAPSHOT_SQL: &str = "snapshot AS (
                 INSERT INTO stream_snapshots
                     (stream_id, stream_type, version, position, format, state)
                 SELECT $2, $1, max(version), max(position), $9, $10 FROM appended
                 HAVING count(*) > 0
                 ON CONFLICT (stream_id) DO UPDATE
                     SET version = EXCLUDED.version, position = EXCLUDED.position,
                         format = EXCLUDED.format, state = EXCLUDED.state, taken_at = now()
                     WHERE stream_snapshots.version < EXCLUDED.version
                        OR stream_snapshots.format <> EXCLUDED.format
             )";

/// The statement [`append_events`] sends: with `state`, it writes the snapshot too, in one
/// statement, so that both writes share the transaction id it takes and the events stay the
/// transaction's first write.
fn append_sql(state: bool) -> &'static str {
    static WITH_STATE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH appended AS ({APPEND_SQL}), {SNAPSHOT_SQL} SELECT position, version FROM appended"
        )
    });
    match state {
        true => &WITH_STATE,
        false => APPEND_SQL,
    }
}

/// A statement that is a command's whole transaction: it appends events with their snapshot
/// (the parameters of [`append_events`] with a state, `$1` to `$10`) and runs `more` (further
/// `, name AS (...)` queries on the parameters after those, each writing only when `appended`
/// has rows), sent alone so that it commits by itself. It appends only if it takes the
/// stream's advisory lock, the one a `Unit` holds, at once: then no unit is between its load
/// and its append, and the transaction id is taken after the lock, as a unit's is. With
/// `while_live`, only while the session `$11` of the account `$2` is live too (and `more`'s
/// parameters start at `$12`). It returns no rows when the lock was held (or the session has
/// ended), and fails with the version conflict when the stream moved since the version the
/// events were decided on. Either way, nothing was written.
pub fn append_alone_sql(while_live: bool, more: &str) -> String {
    const LOCKED: &str = append_insert!("WHERE (SELECT held FROM locked)");
    const LOCKED_WHILE_LIVE: &str = append_insert!(
        "WHERE (SELECT held FROM locked) AND EXISTS (SELECT 1 FROM sessions
             WHERE id = $11 AND account_id = $2 AND ended_at IS NULL AND expires_at > now())"
    );
    let guarded = match while_live {
        true => LOCKED_WHILE_LIVE,
        false => LOCKED,
    };
    format!(
        "WITH locked AS (SELECT pg_try_advisory_xact_lock(hashtextextended($2::uuid::text, 0)) AS held),
         appended AS ({guarded}), {SNAPSHOT_SQL}{more}
         SELECT position, version FROM appended"
    )
}

/// Prepares (once per connection) the statement that [`append_events`] with or without a
/// `state` sends, so that a caller pipelining other statements behind the append knows the
/// append goes out first: a statement still to be prepared would go out after them.
pub async fn prepare_append(client: &impl GenericClient, state: bool) -> Result<(), StoreError> {
    client.prepare_cached(append_sql(state)).await?;
    Ok(())
}

/// Appends `sealed`'s events to its stream, whose last version must be `expected_version` (0
/// for a new stream), and with its snapshot writes that state as the stream's snapshot in the
/// same statement: so every stream a command changes has its snapshot at its head, and a load
/// reads one row instead of folding events. Returns the position of each appended event. The
/// events are sealed beforehand ([`Keyring::seal`]), so that this sends one statement and
/// nothing before it.
pub async fn append_events(
    client: &impl GenericClient,
    stream_type: &str,
    expected_version: i64,
    sealed: &SealedAppend,
) -> Result<Vec<i64>, StoreError> {
    if sealed.events.is_empty() {
        return Ok(Vec::new());
    }
    let stream_id = sealed.stream_id;
    let columns = Columns::of(&sealed.events);
    let params = columns.params(
        &stream_type,
        &stream_id,
        &expected_version,
        &sealed.metadata,
    );
    let rows = match &sealed.snapshot {
        None => super::prepared::query(client, append_sql(false), &params).await,
        Some((format, state)) => {
            let sql = append_sql(true);
            let mut all = params.to_vec();
            all.extend([format as &(dyn ToSql + Sync), state]);
            super::prepared::query(client, sql, &all).await
        }
    };
    positions(rows, stream_id, expected_version)
}

/// Runs a statement of [`append_alone_sql`]: `sealed`'s events appended after
/// `expected_version`, with its snapshot (which it must have), and `more` as the parameters
/// after those. Returns the positions of the events, none when another writer held the
/// stream's lock, or `StoreError::VersionConflict` when the stream moved; then nothing was
/// written.
pub async fn append_alone(
    client: &impl GenericClient,
    sql: &str,
    stream_type: &str,
    expected_version: i64,
    sealed: &SealedAppend,
    more: &[&(dyn ToSql + Sync)],
) -> Result<Vec<i64>, StoreError> {
    let stream_id = sealed.stream_id;
    let columns = Columns::of(&sealed.events);
    let params = columns.params(
        &stream_type,
        &stream_id,
        &expected_version,
        &sealed.metadata,
    );
    // Every caller has a snapshot; without one, a format no aggregate reads.
    debug_assert!(sealed.snapshot.is_some());
    let (format, state) = match &sealed.snapshot {
        Some((format, state)) => (*format, state),
        None => ("none", &Value::Null),
    };
    let mut all = params.to_vec();
    all.extend([&format as &(dyn ToSql + Sync), state]);
    all.extend_from_slice(more);
    let rows = super::prepared::query(client, sql, &all).await;
    positions(rows, stream_id, expected_version)
}

/// The events' columns as the append's arrays (`$4` to `$7`).
struct Columns<'a> {
    ids: Vec<Uuid>,
    types: Vec<&'a str>,
    versions: Vec<i32>,
    data: Vec<&'a Value>,
}

impl<'a> Columns<'a> {
    fn of(events: &'a [NewEvent]) -> Self {
        Self {
            ids: events.iter().map(|e| e.event_id).collect(),
            types: events.iter().map(|e| e.event_type).collect(),
            versions: events.iter().map(|e| e.schema_version).collect(),
            data: events.iter().map(|e| &e.data).collect(),
        }
    }

    /// The append's parameters `$1` to `$8`.
    fn params<'p>(
        &'p self,
        stream_type: &'p (dyn ToSql + Sync),
        stream_id: &'p (dyn ToSql + Sync),
        expected_version: &'p (dyn ToSql + Sync),
        metadata: &'p (dyn ToSql + Sync),
    ) -> [&'p (dyn ToSql + Sync); 8] {
        [
            stream_type,
            stream_id,
            expected_version,
            &self.ids,
            &self.types,
            &self.versions,
            &self.data,
            metadata,
        ]
    }
}

/// The appended events' positions, in order, from an append's rows; the version conflict
/// named when the unique version constraint refused them.
fn positions(
    rows: Result<Vec<Row>, tokio_postgres::Error>,
    stream_id: Uuid,
    expected_version: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows = rows.map_err(|error| match violated_constraint(&error) {
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
    keys: &Keyring,
    client: &impl GenericClient,
    stream_id: Uuid,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version");
    let rows = super::prepared::query(client, &sql, &[&stream_id]).await?;
    opened(keys, &rows).await
}

/// The events of `rows` (of [`EVENT_COLUMNS`]), their personal fields opened.
async fn opened(keys: &Keyring, rows: &[Row]) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events: Vec<RecordedEvent> = rows.iter().map(RecordedEvent::from_row).collect();
    keys.open(&mut events).await?;
    Ok(events)
}

/// A stream's state as of one of its versions (`stream_snapshots`).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The version it is the state after.
    pub version: i64,
    /// The log position of that version's event.
    pub position: i64,
    /// The state, as the aggregate serializes it (sealed, as the table holds it).
    pub state: Value,
    /// The state's JSON text, once opened.
    pub opened: Option<Vec<u8>>,
}

/// A stream's snapshot, if one in the asked format is kept, and the events after it (all of them
/// without one), in version order: as the log holds them, personal data sealed, until
/// [`SnapshotAndTail::opened`].
#[derive(Debug, Clone, Default)]
pub struct SnapshotAndTail {
    /// The snapshot.
    pub snapshot: Option<Snapshot>,
    /// The events after it.
    pub events: Vec<RecordedEvent>,
}

/// The query of a stream's snapshot in a format and the events after it, joined to `from`, a
/// table or subquery with the stream's id in the column named by `stream_id`; `format` names the
/// format (a parameter). Its columns, after those of `from` that `select` lists, are the
/// snapshot's version, position and state, then [`EVENT_COLUMNS`], NULL when no event follows
/// the snapshot: one row per event after it, or one row with none. (Rows are left unsorted,
/// which saves the server a sort on the hottest read: [`SnapshotAndTail::from_rows`] sorts.)
pub(super) fn snapshot_and_tail_sql(
    select: &str,
    from: &str,
    stream_id: &str,
    format: &str,
) -> String {
    format!(
        "SELECT {select} snapshot.version, snapshot.position, snapshot.state, tail.*
         FROM {from}
         LEFT JOIN stream_snapshots AS snapshot
             ON snapshot.stream_id = {stream_id} AND snapshot.format = {format}
         LEFT JOIN LATERAL (
             SELECT {EVENT_COLUMNS} FROM events
             WHERE events.stream_id = {stream_id}
               AND events.version > coalesce(snapshot.version, 0)
             ORDER BY events.version
         ) AS tail ON true"
    )
}

impl SnapshotAndTail {
    /// Opens the snapshot and the events (`crate::personal`). A snapshot whose key is erased
    /// cannot be read: then every event of the stream is read instead.
    pub async fn opened(
        mut self,
        keys: &Keyring,
        client: &impl GenericClient,
        stream_id: Uuid,
    ) -> Result<Self, StoreError> {
        if let Some(snapshot) = &mut self.snapshot {
            match keys.open_snapshot(stream_id, &snapshot.state).await? {
                OpenedSnapshot::Clear => {}
                OpenedSnapshot::Json(text) => snapshot.opened = Some(text),
                OpenedSnapshot::Erased => {
                    return Ok(Self {
                        snapshot: None,
                        events: load_stream(keys, client, stream_id).await?,
                    });
                }
            }
        }
        keys.open(&mut self.events).await?;
        Ok(self)
    }

    /// Reads the rows of [`snapshot_and_tail_sql`] whose snapshot columns start at `first`.
    pub(super) fn from_rows(rows: &[Row], first: usize) -> Self {
        let snapshot = rows.first().and_then(|row| {
            let version: Option<i64> = row.get(first);
            version.map(|version| Snapshot {
                version,
                position: row.get(first + 1),
                state: row.get(first + 2),
                opened: None,
            })
        });
        let mut events: Vec<RecordedEvent> = rows
            .iter()
            .filter(|row| row.get::<_, Option<i64>>(first + 3).is_some())
            .map(|row| RecordedEvent::from_row_at(row, first + 3))
            .collect();
        events.sort_unstable_by_key(|event| event.version);
        Self { snapshot, events }
    }
}

/// A stream's snapshot in `format`, if any, and the events after it: one statement.
pub async fn load_stream_after_snapshot(
    client: &impl GenericClient,
    stream_id: Uuid,
    format: &str,
) -> Result<SnapshotAndTail, StoreError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        snapshot_and_tail_sql("", "(SELECT $1::uuid AS id) AS stream", "stream.id", "$2")
    });
    let rows = super::prepared::query(client, &SQL, &[&stream_id, &format]).await?;
    Ok(SnapshotAndTail::from_rows(&rows, 0))
}

/// Like [`load_stream_after_snapshot`], only while `session` is live (not ended, not expired):
/// `None` when it is not. One statement, so that a command of a signed-in caller checks the
/// session and reads the stream it changes in one round trip.
pub async fn load_stream_while_live(
    client: &impl GenericClient,
    stream_id: Uuid,
    format: &str,
    session: super::sessions::ActiveSession,
) -> Result<Option<SnapshotAndTail>, StoreError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        snapshot_and_tail_sql(
            "",
            "(SELECT $1::uuid AS id) AS stream
             JOIN sessions AS session ON session.id = $3 AND session.account_id = $4
                 AND session.ended_at IS NULL AND session.expires_at > now()",
            "stream.id",
            "$2",
        )
    });
    let rows = super::prepared::query(
        client,
        &SQL,
        &[&stream_id, &format, &session.id, &session.account_id],
    )
    .await?;
    Ok((!rows.is_empty()).then(|| SnapshotAndTail::from_rows(&rows, 0)))
}

/// The live session that a token's SHA-256 names, with whether it was last marked seen over a
/// minute ago, and its account's snapshot in `format` and the events after it: one statement,
/// so that a signed-in read of the caller's own account is one round trip. `None` when no live
/// session has the token.
pub async fn load_session_account(
    client: &impl GenericClient,
    token_hash: &[u8],
    format: &str,
) -> Result<Option<(super::sessions::ActiveSession, bool, SnapshotAndTail)>, StoreError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        snapshot_and_tail_sql(
            "session.id, session.account_id, session.stale,",
            &format!("({}) AS session", super::sessions::LIVE_SESSION_SQL),
            "session.account_id",
            "$2",
        )
    });
    let rows = super::prepared::query(client, &SQL, &[&token_hash, &format]).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let session = super::sessions::ActiveSession {
        id: first.get(0),
        account_id: first.get(1),
    };
    Ok(Some((
        session,
        first.get(2),
        SnapshotAndTail::from_rows(&rows, 3),
    )))
}

/// A page of one stream's events, newest first: those before version `before` (all if `None`),
/// of `types` if given, at most `limit`.
pub async fn load_stream_page(
    keys: &Keyring,
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
    opened(keys, &rows).await
}

/// Up to `limit` events after `after`, in position order, of `types` if given: for browsing
/// the log (a tailing reader uses [`read_range`], which is commit-safe).
pub async fn read_by_position(
    keys: &Keyring,
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
    opened(keys, &rows).await
}

/// The events of `ids` (those the log has), in position order.
pub async fn read_by_ids(
    keys: &Keyring,
    client: &impl GenericClient,
    ids: &[Uuid],
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ANY($1) ORDER BY position");
    let rows = super::prepared::query(client, &sql, &[&ids]).await?;
    opened(keys, &rows).await
}

/// The events of one stream recorded at or before `as_of`, in version order.
pub async fn load_stream_as_of(
    keys: &Keyring,
    client: &impl GenericClient,
    stream_id: Uuid,
    as_of: DateTime<Utc>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE stream_id = $1 AND recorded_at <= $2 ORDER BY version"
    );
    let rows = super::prepared::query(client, &sql, &[&stream_id, &as_of]).await?;
    opened(keys, &rows).await
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
    keys: &Keyring,
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
    opened(keys, &rows).await
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
    keys: &Keyring,
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
    opened(keys, &rows).await
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
