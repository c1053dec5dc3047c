//! Rebuilding a projection from the PostgreSQL log, in steps: a fresh schema with the
//! definition's tables, filled from the log in rounds, then indexed and vacuumed, then swapped
//! in for the live one under the projection row's lock (applying what arrived meanwhile).
//! Queries read the old tables until the swap, which takes a moment.

use super::apply::{self, Pending};
use super::definition::Definition;
use crate::leadership::{connect, lock_key};
use crate::store::event_log::{self, LogCursor, LogRange};
use anyhow::Context as _;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct RebuildReport {
    /// Events applied to the new tables.
    pub applied: usize,
    /// Events recorded as failed.
    pub failed: usize,
    /// The generation now live.
    pub generation: i64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Rebuilds a projection from the PostgreSQL log into fresh tables and swaps them in; queries
/// read the old tables until the swap, which takes a moment. One rebuild of a projection runs at
/// a time (another waits for it). `batch_size` events are read per transaction.
pub async fn rebuild(
    keys: &crate::personal::Keyring,
    database_url: &str,
    definition: &Definition,
    batch_size: i64,
) -> anyhow::Result<RebuildReport> {
    let started = Instant::now();
    let mut client = connect(database_url).await?;
    client
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&lock_key("rebuild", &definition.name)],
        )
        .await?;
    // The reads below walk the log's commit-order index only while the planner knows how big
    // the log is; a log grown by an import (or a young one) may have no statistics yet, and a
    // plan that sorts the whole rest of the log for every batch makes a rebuild quadratic.
    client.batch_execute("ANALYZE public.events").await?;
    let generation = apply::load_state(&client, &definition.name)
        .await?
        .map_or(0, |state| state.generation)
        + 1;
    let mut rebuild = Rebuild {
        keys,
        definition,
        generation,
        next: definition.next_schema(),
        types: definition.event_types(),
        batch_size,
        cursor: LogCursor::start(),
        totals: apply::Applied::default(),
    };
    rebuild.create_schema(&mut client).await?;
    rebuild.fill(&mut client).await?;
    rebuild.index(&client).await?;
    rebuild.vacuum(&client).await?;
    rebuild.swap(&mut client).await?;
    Ok(RebuildReport {
        applied: rebuild.totals.applied,
        failed: rebuild.totals.failed,
        generation,
        elapsed: started.elapsed(),
    })
}

/// A rebuild under way: the schema it fills and how far into the log it is.
struct Rebuild<'a> {
    keys: &'a crate::personal::Keyring,
    definition: &'a Definition,
    generation: i64,
    /// The schema being filled, swapped in at the end.
    next: String,
    types: Vec<String>,
    batch_size: i64,
    /// The last event applied.
    cursor: LogCursor,
    totals: apply::Applied,
}

impl Rebuild<'_> {
    /// A fresh schema with the definition's tables; failures recorded by an earlier try of
    /// this generation are forgotten.
    async fn create_schema(&self, client: &mut Client) -> anyhow::Result<()> {
        let (definition, next) = (self.definition, &self.next);
        let tx = client.transaction().await?;
        tx.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {next} CASCADE;
             CREATE SCHEMA {next};
             SET LOCAL search_path TO {next};
             {tables}",
            tables = definition.tables
        ))
        .await
        .with_context(|| format!("creating the tables of projections/{}.sql", definition.name))?;
        tx.execute(
            "DELETE FROM public.projection_failures WHERE projection = $1 AND generation >= $2",
            &[&definition.name, &self.generation],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Fills the new tables in rounds, each up to the end of what is final when it starts,
    /// until a round finds little to do; the rest is applied while swapping, under the row
    /// lock.
    async fn fill(&mut self, client: &mut Client) -> anyhow::Result<()> {
        loop {
            let Some(tail) = event_log::last_final_cursor(&*client).await? else {
                return Ok(());
            };
            if tail.order() <= self.cursor.order() {
                return Ok(());
            }
            let mut round = 0;
            loop {
                let mut tx = client.transaction().await?;
                tx.batch_execute(&format!("SET LOCAL search_path TO {}", self.next))
                    .await?;
                let read = self.apply_range(&mut tx, &tail).await?;
                tx.commit().await?;
                self.totals += read.applied;
                round += read.events;
                match read.last {
                    Some(last) => self.cursor = last,
                    None => break,
                }
            }
            self.cursor = tail;
            if round < self.batch_size as usize {
                return Ok(());
            }
        }
    }

    /// The definition's indexes, built on the filled tables outside the swap's transaction.
    async fn index(&self, client: &Client) -> anyhow::Result<()> {
        let definition = self.definition;
        if !has_statements(&definition.indexes) {
            return Ok(());
        }
        client
            .batch_execute(&format!(
                "SET search_path TO {next}; {indexes} RESET search_path;",
                next = self.next,
                indexes = definition.indexes
            ))
            .await
            .with_context(|| format!("indexing projections/{}.sql", definition.name))?;
        Ok(())
    }

    /// Statistics for the planner, and the visibility map for index-only scans (counts): fresh
    /// tables have neither until autovacuum gets to them. VACUUM also clears the row versions
    /// the fill left behind (an account's later events update its row).
    async fn vacuum(&self, client: &Client) -> anyhow::Result<()> {
        let tables = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1",
                &[&self.next],
            )
            .await?;
        for table in tables {
            let table: String = table.get(0);
            client
                .batch_execute(&format!("VACUUM (ANALYZE) {}.\"{table}\"", self.next))
                .await?;
        }
        Ok(())
    }

    /// Under the projection row's lock (which a live batch also takes): applies what arrived
    /// since the fill, replaces the live schema, and records the generation and checkpoint.
    async fn swap(&mut self, client: &mut Client) -> anyhow::Result<()> {
        let definition = self.definition;
        let (next, live) = (self.next.clone(), definition.schema());
        let mut tx = client.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL search_path TO {next}"))
            .await?;
        tx.query_opt(
            "SELECT 1 FROM public.projections WHERE name = $1 FOR UPDATE",
            &[&definition.name],
        )
        .await?;
        if let Some(tail) = event_log::last_final_cursor(&tx).await? {
            while tail.order() > self.cursor.order() {
                let read = self.apply_range(&mut tx, &tail).await?;
                self.totals += read.applied;
                match read.last {
                    Some(last) => self.cursor = last,
                    None => self.cursor = tail.clone(),
                }
            }
        }
        tx.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {live} CASCADE; ALTER SCHEMA {next} RENAME TO {live};"
        ))
        .await?;
        tx.execute(
            "INSERT INTO public.projections (name, definition_hash, generation, transaction_id, position)
             VALUES ($1, $2, $3, $4::text::xid8, $5)
             ON CONFLICT (name) DO UPDATE
                 SET definition_hash = EXCLUDED.definition_hash,
                     generation = EXCLUDED.generation,
                     transaction_id = EXCLUDED.transaction_id,
                     position = EXCLUDED.position,
                     rebuilt_at = now(), updated_at = now()",
            &[
                &definition.name,
                &definition.hash,
                &self.generation,
                &self.cursor.transaction_id,
                &self.cursor.position,
            ],
        )
        .await?;
        tx.execute(
            "DELETE FROM public.projection_failures WHERE projection = $1 AND generation < $2",
            &[&definition.name, &self.generation],
        )
        .await?;
        tx.execute(
            "INSERT INTO public.projection_history (projection, definition_hash, generation)
             VALUES ($1, $2, $3)",
            &[&definition.name, &definition.hash, &self.generation],
        )
        .await?;
        apply::notify(&tx, &definition.name).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads one batch of handled events after the cursor, up to `until`, and applies it
    /// within `tx`.
    async fn apply_range(
        &self,
        tx: &mut tokio_postgres::Transaction<'_>,
        until: &LogCursor,
    ) -> anyhow::Result<RangeRead> {
        let events = event_log::read_range(
            self.keys,
            &*tx,
            &LogRange {
                after: &self.cursor,
                until: Some(until),
                types: Some(&self.types),
                limit: self.batch_size,
            },
        )
        .await?;
        let pending: Vec<Pending> = events.iter().map(Pending::from_log).collect();
        let applied = apply::apply(
            tx,
            &apply::Prepared::default(),
            self.definition,
            self.generation,
            &pending,
        )
        .await?;
        Ok(RangeRead {
            applied,
            events: events.len(),
            last: events.last().map(LogCursor::after),
        })
    }
}

struct RangeRead {
    applied: apply::Applied,
    events: usize,
    last: Option<LogCursor>,
}

fn has_statements(sql: &str) -> bool {
    sql.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with("--")
    })
}
