//! Applying events to a projection's tables, a batch per transaction.
//!
//! A batch first runs as one unit inside a savepoint: one call of the definition's batch
//! function (`Definition::batch_function_sql`), which runs every statement of every event on the
//! server. When that fails because of an event (bad data, a constraint, an error in the
//! definition), the batch is run again one event at a time, each in a savepoint of its own, its
//! statements sent as they are in the file; the events that fail are recorded in
//! `projection_failures` with the database's error, and the rest are applied.
//! Failures of the connection or the server are returned: the caller retries the batch.

use super::definition::Definition;
use crate::store::event_log::{LogCursor, RecordedEvent};
use futures::future::{join_all, maybe_done, try_join_all};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, GenericClient, Statement, Transaction};
use uuid::Uuid;

/// Statements prepared on one connection (a projector's leadership connection, or a
/// rebuild's), by their SQL: each is parsed and planned once per connection instead of once per
/// batch, and a later use is one round trip. A new connection needs a new `Prepared`.
#[derive(Debug, Default)]
pub struct Prepared {
    statements: Mutex<HashMap<String, Statement>>,
    /// Whether the definition's batch function was created on this connection outside any
    /// transaction, so that it lasts as long as the connection (see [`Prepared::ensure_batch_function`]).
    batch_function: AtomicBool,
}

impl Prepared {
    /// The statement for `sql`, prepared on `client`'s connection the first time.
    pub async fn statement(
        &self,
        client: &impl GenericClient,
        sql: &str,
    ) -> Result<Statement, tokio_postgres::Error> {
        let cached = self
            .statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
            .cloned();
        if let Some(statement) = cached {
            return Ok(statement);
        }
        let statement = client.prepare(sql).await?;
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Creates the definition's batch function (a `pg_temp` function: it lives as long as the
    /// session) on `client`, outside any transaction, unless this connection has it: so no
    /// rolled-back batch can take it away from under its prepared call.
    pub async fn ensure_batch_function(
        &self,
        client: &Client,
        definition: &Definition,
    ) -> Result<(), tokio_postgres::Error> {
        if self.batch_function.load(Ordering::Relaxed) {
            return Ok(());
        }
        if !batch_function_exists(client, definition).await? {
            client
                .batch_execute(&definition.batch_function_sql())
                .await?;
        }
        self.batch_function.store(true, Ordering::Relaxed);
        Ok(())
    }
}

async fn batch_function_exists(
    client: &impl GenericClient,
    definition: &Definition,
) -> Result<bool, tokio_postgres::Error> {
    let function = definition.batch_function();
    Ok(client
        .query_one(
            "SELECT to_regprocedure($1) IS NOT NULL",
            &[&format!("{function}(jsonb[])")],
        )
        .await?
        .get(0))
}

/// An event on its way into a projection.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Where it is in the log's commit-safe order.
    pub cursor: LogCursor,
    /// Its id.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: String,
    /// The envelope bound to the statements as `$1`.
    pub envelope: Value,
}

impl Pending {
    /// The pending form of an event read from the log.
    pub fn from_log(event: &RecordedEvent) -> Self {
        let envelope =
            serde_json::to_value(crate::relay::Envelope::from(event)).unwrap_or(Value::Null);
        Self {
            cursor: LogCursor::after(event),
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            envelope,
        }
    }
}

/// What a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Events whose statements ran.
    pub applied: usize,
    /// Events recorded as failed.
    pub failed: usize,
    /// Events skipped: already applied before.
    pub skipped: usize,
}

impl std::ops::AddAssign for Applied {
    fn add_assign(&mut self, other: Self) {
        self.applied += other.applied;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// The live state of a projection, as `projections` records it.
#[derive(Debug, Clone)]
pub struct State {
    /// The definition the live tables were built with.
    pub definition_hash: String,
    /// Rebuild count.
    pub generation: i64,
    /// The last event applied.
    pub cursor: LogCursor,
    /// JetStream sequence of the last message applied.
    pub stream_sequence: i64,
}

/// The projection's state, if it has been built.
pub async fn load_state(
    client: &Client,
    name: &str,
) -> Result<Option<State>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT definition_hash, generation, transaction_id::text, position, stream_sequence
             FROM public.projections WHERE name = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|row| State {
        definition_hash: row.get(0),
        generation: row.get(1),
        cursor: LogCursor {
            transaction_id: row.get(2),
            position: row.get(3),
        },
        stream_sequence: row.get(4),
    }))
}

/// True when `definition` was live once and another definition was built after it.
pub async fn was_replaced(
    client: &Client,
    definition: &Definition,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT EXISTS (
                 SELECT 1 FROM public.projection_history mine
                 JOIN public.projection_history later
                   ON later.projection = mine.projection AND later.generation > mine.generation
                 WHERE mine.projection = $1 AND mine.definition_hash = $2
                   AND later.definition_hash <> $2)",
            &[&definition.name, &definition.hash],
        )
        .await?;
    Ok(row.get(0))
}

/// What a live batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveOutcome {
    /// The batch is in, with the checkpoint.
    Committed(Applied),
    /// The live tables were built from another definition (another version of the service
    /// rebuilt them): this projector must not write to them.
    NotMine,
}

/// Applies `events` to the live tables and moves the checkpoint to `checkpoint` (or past the
/// last event, if further), in one transaction. Events at or before the recorded checkpoint
/// are skipped: they were applied already.
pub async fn commit_live(
    client: &mut Client,
    prepared: &Prepared,
    definition: &Definition,
    events: &[Pending],
    checkpoint: Option<&LogCursor>,
    stream_sequence: Option<i64>,
) -> Result<LiveOutcome, tokio_postgres::Error> {
    prepared.ensure_batch_function(client, definition).await?;
    let mut tx = client.transaction().await?;
    tx.batch_execute(&format!("SET LOCAL search_path TO {}", definition.schema()))
        .await?;
    let state = prepared
        .statement(
            &tx,
            "SELECT definition_hash, generation, transaction_id::text, position
             FROM public.projections WHERE name = $1 FOR UPDATE",
        )
        .await?;
    let row = tx.query_opt(&state, &[&definition.name]).await?;
    let Some(row) = row else {
        return Ok(LiveOutcome::NotMine);
    };
    if row.get::<_, String>(0) != definition.hash {
        return Ok(LiveOutcome::NotMine);
    }
    let generation: i64 = row.get(1);
    let floor = LogCursor {
        transaction_id: row.get(2),
        position: row.get(3),
    };
    let fresh: Vec<Pending> = events
        .iter()
        .filter(|event| event.cursor.order() > floor.order())
        .cloned()
        .collect();
    let mut outcome = apply(&mut tx, prepared, definition, generation, &fresh).await?;
    outcome.skipped += events.len() - fresh.len();
    let last = fresh
        .iter()
        .map(|event| &event.cursor)
        .chain(checkpoint)
        .chain(std::iter::once(&floor))
        .max_by_key(|cursor| cursor.order())
        .unwrap_or(&floor);
    // The checkpoint moves and listeners are told (at commit) in one statement.
    let moved = prepared
        .statement(
            &tx,
            "WITH moved AS (
                 UPDATE public.projections
                 SET transaction_id = $2::text::xid8, position = $3,
                     stream_sequence = greatest(stream_sequence, $4), updated_at = now()
                 WHERE name = $1
                 RETURNING name
             )
             SELECT pg_notify('accounts_projections', name) FROM moved",
        )
        .await?;
    tx.query(
        &moved,
        &[
            &definition.name,
            &last.transaction_id,
            &last.position,
            &stream_sequence.unwrap_or(0),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(LiveOutcome::Committed(outcome))
}

/// What [`advance_past`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advanced {
    /// The ids, of those asked about, that are events of this database's log.
    pub logged: Vec<Uuid>,
    /// How many of those were at or before the checkpoint already.
    pub skipped: usize,
}

/// Moves the checkpoint past events that `definition` has no statements for, in one statement
/// that is its own transaction: to the latest, in commit-safe order, of the logged events among
/// `event_ids` and of `cursor`, when that is after the checkpoint (and tells listeners, at
/// commit). Nothing in the read model changes, so nothing else needs the batch's transaction:
/// a sign-in costs each projection that ignores it one round trip instead of six.
///
/// `None` when the live tables were built from another definition (nothing moves). The row
/// lock the update takes, and its second look at `definition_hash` after waiting for it, keep
/// it from moving a checkpoint that a rebuild swapping tables in has just set.
pub async fn advance_past(
    client: &Client,
    prepared: &Prepared,
    definition: &Definition,
    event_ids: &[Uuid],
    cursor: Option<&LogCursor>,
    stream_sequence: Option<i64>,
) -> Result<Option<Advanced>, tokio_postgres::Error> {
    let statement = prepared
        .statement(
            client,
            "WITH found AS (
                 SELECT event_id, transaction_id, position FROM public.events
                 WHERE event_id = ANY($2::uuid[])
             ), last AS (
                 SELECT transaction_id, position FROM (
                     SELECT transaction_id, position FROM found
                     UNION ALL
                     SELECT $5::text::xid8, $6::bigint WHERE $5::text IS NOT NULL
                 ) candidates
                 ORDER BY transaction_id DESC, position DESC LIMIT 1
             ), state AS (
                 SELECT definition_hash, transaction_id, position
                 FROM public.projections WHERE name = $1
             ), moved AS (
                 UPDATE public.projections p
                 SET transaction_id = last.transaction_id, position = last.position,
                     stream_sequence = greatest(p.stream_sequence, $4), updated_at = now()
                 FROM last
                 WHERE p.name = $1 AND p.definition_hash = $3
                   AND (p.transaction_id, p.position) < (last.transaction_id, last.position)
                 RETURNING p.name
             )
             SELECT (SELECT definition_hash = $3 FROM state),
                    (SELECT coalesce(array_agg(event_id), '{}') FROM found),
                    (SELECT count(*) FROM found, state
                     WHERE (found.transaction_id, found.position)
                           <= (state.transaction_id, state.position)),
                    (SELECT count(pg_notify('accounts_projections', name)) FROM moved)",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &definition.name,
                &event_ids,
                &definition.hash,
                &stream_sequence.unwrap_or(0),
                &cursor.map(|cursor| cursor.transaction_id.as_str()),
                &cursor.map(|cursor| cursor.position),
            ],
        )
        .await?;
    if row.get::<_, Option<bool>>(0) != Some(true) {
        return Ok(None);
    }
    let skipped: i64 = row.get(2);
    Ok(Some(Advanced {
        logged: row.get(1),
        skipped: usize::try_from(skipped).unwrap_or(0),
    }))
}

/// Tells listeners (queries waiting for `min_position`) that a projection moved; delivered at
/// commit.
pub async fn notify(tx: &Transaction<'_>, name: &str) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_notify('accounts_projections', $1)", &[&name])
        .await?;
    Ok(())
}

/// Applies `events` inside `tx`, whose `search_path` names the target schema; events that
/// cannot be applied are recorded as failures of `generation`.
pub async fn apply(
    tx: &mut Transaction<'_>,
    prepared: &Prepared,
    definition: &Definition,
    generation: i64,
    events: &[Pending],
) -> Result<Applied, tokio_postgres::Error> {
    let handled: Vec<&Pending> = events
        .iter()
        .filter(|event| definition.handlers.contains_key(&event.event_type))
        .collect();
    if handled.is_empty() {
        return Ok(Applied {
            applied: events.len(),
            ..Applied::default()
        });
    }
    let whole = tx.savepoint("batch").await?;
    match run_batch(&whole, prepared, definition, &handled).await {
        Ok(()) => {
            whole.commit().await?;
            return Ok(Applied {
                applied: events.len(),
                ..Applied::default()
            });
        }
        Err(error) if caused_by_event(&error) => {
            tracing::debug!(
                projection = %definition.name,
                error = %error,
                "the batch failed; applying its events one by one"
            );
            whole.rollback().await?;
        }
        Err(error) => return Err(error),
    }
    // One event at a time, each statement on its own, to find the ones that fail.
    let statements = prepare(tx, definition, &handled).await?;
    let mut outcome = Applied {
        applied: events.len() - handled.len(),
        ..Applied::default()
    };
    for event in handled {
        let single = tx.savepoint("event").await?;
        match run_all(&single, &statements, &[event]).await {
            Ok(()) => {
                single.commit().await?;
                outcome.applied += 1;
            }
            Err(error) if caused_by_event(&error) => {
                single.rollback().await?;
                record_failure(tx, definition, generation, event, &error).await?;
                outcome.failed += 1;
            }
            Err(error) => return Err(error),
        }
    }
    Ok(outcome)
}

/// Runs every statement of every event, in order, in one call of the definition's batch
/// function: a prepared call when `prepared` made the function last for the session, or else
/// one that creates it in the transaction first when the session lacks it.
async fn run_batch(
    tx: &Transaction<'_>,
    prepared: &Prepared,
    definition: &Definition,
    events: &[&Pending],
) -> Result<(), tokio_postgres::Error> {
    let call = format!("SELECT {}($1::jsonb[])", definition.batch_function());
    let envelopes: Vec<&Value> = events.iter().map(|event| &event.envelope).collect();
    if prepared.batch_function.load(Ordering::Relaxed) {
        let statement = prepared.statement(tx, &call).await?;
        tx.execute(&statement, &[&envelopes]).await?;
        return Ok(());
    }
    if !batch_function_exists(tx, definition).await? {
        tx.batch_execute(&definition.batch_function_sql()).await?;
    }
    tx.execute(&call, &[&envelopes]).await?;
    Ok(())
}

/// Prepares the statements of the event types in `events`.
async fn prepare(
    tx: &Transaction<'_>,
    definition: &Definition,
    events: &[&Pending],
) -> Result<HashMap<String, Vec<Statement>>, tokio_postgres::Error> {
    let mut types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    let mut prepared = HashMap::new();
    for event_type in types {
        let sqls = &definition.handlers[event_type];
        let statements =
            try_join_all(sqls.iter().map(|sql| tx.prepare_typed(sql, &[Type::JSONB]))).await?;
        prepared.insert(event_type.to_owned(), statements);
    }
    Ok(prepared)
}

/// Runs every statement of every event, in order, pipelined on the connection: a request is
/// sent when its future is first polled, so the futures are first polled one by one, in order,
/// and only then awaited together.
async fn run_all(
    tx: &Transaction<'_>,
    statements: &HashMap<String, Vec<Statement>>,
    events: &[&Pending],
) -> Result<(), tokio_postgres::Error> {
    let mut runs: Vec<_> = events
        .iter()
        .flat_map(|event| {
            statements[&event.event_type].iter().map(move |statement| {
                Box::pin(maybe_done(tx.execute_raw(statement, [&event.envelope])))
            })
        })
        .collect();
    for run in &mut runs {
        let _sent = futures::poll!(run.as_mut());
    }
    join_all(runs.iter_mut().map(|run| run.as_mut())).await;
    for run in &mut runs {
        if let Some(Err(error)) = run.as_mut().take_output() {
            return Err(error);
        }
    }
    Ok(())
}

async fn record_failure(
    tx: &Transaction<'_>,
    definition: &Definition,
    generation: i64,
    event: &Pending,
    error: &tokio_postgres::Error,
) -> Result<(), tokio_postgres::Error> {
    let message = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => error.to_string(),
    };
    tracing::warn!(
        projection = %definition.name,
        position = event.cursor.position,
        event_type = %event.event_type,
        error = %message,
        "event could not be applied; recorded in projection_failures"
    );
    tx.execute(
        "INSERT INTO public.projection_failures
             (projection, generation, position, event_id, event_type, error)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (projection, generation, position)
             DO UPDATE SET error = EXCLUDED.error, failed_at = now()",
        &[
            &definition.name,
            &generation,
            &event.cursor.position,
            &event.event_id,
            &event.event_type,
            &message,
        ],
    )
    .await?;
    Ok(())
}

/// True when the error comes from the event or the definition (its data, a constraint, the
/// SQL), not from the connection or the server's condition: retrying would fail again.
pub fn caused_by_event(error: &tokio_postgres::Error) -> bool {
    let Some(code) = error.code() else {
        return false;
    };
    // 08: connection, 40: rollback (serialization, deadlock), 53: resources, 57: operator
    // intervention (shutdown, cancel), 58: system, XX: internal.
    !["08", "40", "53", "57", "58", "XX"]
        .iter()
        .any(|class| code.code().starts_with(class))
}
