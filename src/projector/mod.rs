//! The projector engine: keeps each projection's read-model tables up to date from the events.
//!
//! Per projection, one projector is active (a PostgreSQL session advisory lock on a connection of
//! its own, which it also writes with); others stand by. The active one:
//! 1. rebuilds the tables from the PostgreSQL log when they were built from another definition
//!    (or never), into a fresh schema swapped in at the end, while queries read the old one;
//! 2. catches up from the log (so that it never depends on what JetStream still holds);
//! 3. follows a durable JetStream pull consumer, `projection_<name>`, created from the
//!    projection's own checkpoint, applying what arrives in batches; while NATS is away (or
//!    following it fails) it follows the PostgreSQL log instead, reading it every
//!    `LOG_POLL`, and goes back to JetStream once NATS is connected again. While the consumer
//!    is being set up, and whenever JetStream brings nothing for `IDLE_CHECK`, it reads the log
//!    too, so that neither a hanging NATS request nor a relay that is away holds a read model
//!    back.
//!
//! Each batch is one transaction that also moves the projection's checkpoint (the commit-safe
//! cursor of the last event applied) in `projections`, under that row's lock: an event at or
//! before the checkpoint is skipped, so redelivery never applies anything twice, and a rebuild
//! swapping tables in waits for (or holds off) the live batch. A batch with nothing for the
//! projection (a sign-in, for a projection of profiles) only moves the checkpoint, in one
//! statement (`apply::advance_past`). On any error the projector drops
//! its consumer and starts again from the checkpoint; while NATS is down it reads the log.

pub mod apply;
pub mod definition;
mod rebuild;

pub use rebuild::{RebuildReport, rebuild};

use crate::leadership::{self, lock_key};
use crate::store::event_log::{self, LogCursor, LogRange};
use anyhow::Context as _;
use apply::{LiveOutcome, Pending};
use async_nats::jetstream::{self, consumer};
use definition::Definition;
use futures::StreamExt as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::Client;
use uuid::Uuid;

/// How often the log is read while NATS is away.
const LOG_POLL: Duration = Duration::from_millis(50);
/// How long following JetStream waits for a message before it looks at the connection and the
/// log.
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// How the projectors run.
#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    /// PostgreSQL URL: each projector and each rebuild uses a connection of its own.
    pub database_url: String,
    /// JetStream stream of the events.
    pub stream: String,
    /// Subject prefix of the events.
    pub subject_prefix: String,
    /// Most events in one live batch.
    pub batch_size: usize,
    /// Events read from the log per transaction when rebuilding or catching up.
    pub log_batch_size: i64,
    /// Pause between tries for the leadership.
    pub standby_wait: Duration,
}

impl ProjectorConfig {
    /// Defaults for a stream and subject prefix.
    pub fn new(database_url: &str, stream: &str, subject_prefix: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            stream: stream.to_owned(),
            subject_prefix: subject_prefix.to_owned(),
            batch_size: 500,
            log_batch_size: 5000,
            standby_wait: Duration::from_millis(500),
        }
    }
}

/// One projection's projector.
pub struct Projector {
    definition: Arc<Definition>,
    /// Opens the personal fields of the events read from the log.
    keys: Arc<crate::personal::Keyring>,
    nats: async_nats::Client,
    jetstream: jetstream::Context,
    config: ProjectorConfig,
}

impl Projector {
    /// A projector of `definition`.
    pub fn new(
        definition: Definition,
        keys: Arc<crate::personal::Keyring>,
        nats: async_nats::Client,
        config: ProjectorConfig,
    ) -> Self {
        Self {
            definition: Arc::new(definition),
            keys,
            jetstream: jetstream::new(nats.clone()),
            nats,
            config,
        }
    }

    /// Runs until `shutdown` turns true: waits for the leadership, then projects.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let name = self.definition.name.clone();
        while !*shutdown.borrow() {
            let leadership = tokio::select! {
                leadership = self.become_leader() => leadership,
                _ = shutdown.changed() => return,
            };
            let outcome = match leadership {
                Ok(mut leader) => {
                    tracing::info!(projection = %name, "projector is active");
                    tokio::select! {
                        outcome = self.lead(&mut leader) => outcome,
                        _ = shutdown.changed() => return,
                    }
                }
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                tracing::warn!(projection = %name, error = format!("{error:#}"), "projector stopped; starting again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.standby_wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Waits until this projector holds its projection's lock, on a connection of its own.
    async fn become_leader(&self) -> anyhow::Result<Client> {
        let key = lock_key("projector", &self.definition.name);
        leadership::acquire(&self.config.database_url, key, self.config.standby_wait).await
    }

    /// Projects while this projector leads; returns on the first error.
    async fn lead(&self, leader: &mut Client) -> anyhow::Result<()> {
        let definition = &self.definition;
        let prepared = &apply::Prepared::default();
        let state = apply::load_state(leader, &definition.name).await?;
        if state.as_ref().map(|s| s.definition_hash.as_str()) != Some(definition.hash.as_str()) {
            if apply::was_replaced(leader, definition).await? {
                anyhow::bail!(
                    "this definition of projections/{}.sql was replaced by a newer one; standing by \
                     (`accounts rebuild {}` would bring it back)",
                    definition.name,
                    definition.name
                );
            }
            tracing::info!(projection = %definition.name, "definition changed or new: rebuilding");
            let report = rebuild(
                &self.keys,
                &self.config.database_url,
                definition,
                self.config.log_batch_size,
            )
            .await?;
            tracing::info!(projection = %definition.name, ?report, "rebuilt");
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            self.catch_up_from_log(leader, prepared).await?;
            if !self.nats_connected() {
                tracing::warn!(projection = %definition.name, "NATS is away; following the log");
                self.follow_log(leader, prepared, Duration::ZERO).await?;
                continue;
            }
            match self.follow_jetstream(leader, prepared).await {
                Ok(()) => return Ok(()),
                Err(error) => {
                    if leader.is_closed() {
                        return Err(error);
                    }
                    tracing::warn!(projection = %definition.name, error = format!("{error:#}"), retry_in = ?backoff, "following JetStream failed; following the log meanwhile");
                    self.follow_log(leader, prepared, backoff).await?;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    fn nats_connected(&self) -> bool {
        self.nats.connection_state() == async_nats::connection::State::Connected
    }

    /// Applies the log as it grows, for at least `at_least` and until NATS is connected.
    async fn follow_log(
        &self,
        leader: &mut Client,
        prepared: &apply::Prepared,
        at_least: Duration,
    ) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + at_least;
        loop {
            self.catch_up_from_log(leader, prepared).await?;
            if tokio::time::Instant::now() >= until && self.nats_connected() {
                return Ok(());
            }
            if leader.is_closed() {
                anyhow::bail!("the leadership connection closed");
            }
            tokio::time::sleep(LOG_POLL).await;
        }
    }

    /// Applies the events of the log after the checkpoint, up to the end of what is final.
    async fn catch_up_from_log(
        &self,
        leader: &mut Client,
        prepared: &apply::Prepared,
    ) -> anyhow::Result<()> {
        let definition = &self.definition;
        let types = definition.event_types();
        loop {
            let Some(state) = apply::load_state(leader, &definition.name).await? else {
                anyhow::bail!("the projection has no state");
            };
            let Some(tail) = event_log::last_final_cursor(&*leader).await? else {
                return Ok(());
            };
            if tail.order() <= state.cursor.order() {
                return Ok(());
            }
            let events = event_log::read_range(
                &self.keys,
                &*leader,
                &LogRange {
                    after: &state.cursor,
                    until: Some(&tail),
                    types: Some(&types),
                    limit: self.config.log_batch_size,
                },
            )
            .await?;
            if events.is_empty() {
                // Nothing up to the tail is for this projection: only the checkpoint moves.
                let advanced =
                    apply::advance_past(leader, prepared, definition, &[], Some(&tail), None)
                        .await?;
                if advanced.is_none() {
                    anyhow::bail!("the live tables belong to another definition");
                }
                return Ok(());
            }
            let full = events.len() as i64 == self.config.log_batch_size;
            let pending: Vec<Pending> = events.iter().map(Pending::from_log).collect();
            // A partial batch is everything up to the tail: the checkpoint moves to the tail.
            let checkpoint = if full { None } else { Some(&tail) };
            match apply::commit_live(leader, prepared, definition, &pending, checkpoint, None)
                .await?
            {
                LiveOutcome::Committed(outcome) => {
                    crate::telemetry::events_projected(
                        &definition.name,
                        outcome.applied,
                        outcome.failed,
                    );
                }
                LiveOutcome::NotMine => {
                    anyhow::bail!("the live tables belong to another definition")
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Follows the projection's durable consumer; returns `Ok` only if the leadership is lost.
    ///
    /// The log is read meanwhile whenever JetStream brings nothing: while the consumer is being
    /// set up (a request to a NATS server that has just gone away hangs until its timeout), and
    /// after every `IDLE_CHECK` without a message (the relay may be away while NATS is not). So
    /// a read model never waits on NATS for what the log already holds.
    async fn follow_jetstream(
        &self,
        leader: &mut Client,
        prepared: &apply::Prepared,
    ) -> anyhow::Result<()> {
        let state = apply::load_state(leader, &self.definition.name)
            .await?
            .context("the projection has no state")?;
        let opening = self.open_consumer(state.stream_sequence);
        tokio::pin!(opening);
        let mut messages = loop {
            tokio::select! {
                opened = &mut opening => break opened?,
                _ = tokio::time::sleep(LOG_POLL) => {}
            }
            if leader.is_closed() {
                return Ok(());
            }
            self.catch_up_from_log(leader, prepared).await?;
        };
        loop {
            if leader.is_closed() {
                return Ok(());
            }
            // Wait for one message, then take whatever else has already arrived.
            let first = tokio::time::timeout(IDLE_CHECK, messages.next()).await;
            let first = match first {
                Err(_) if self.nats_connected() => {
                    self.catch_up_from_log(leader, prepared).await?;
                    continue;
                }
                Err(_) => anyhow::bail!("NATS is away"),
                Ok(None) => anyhow::bail!("the consumer's message stream ended"),
                Ok(Some(message)) => message?,
            };
            let mut batch = vec![first];
            while batch.len() < self.config.batch_size {
                match futures::FutureExt::now_or_never(messages.next()) {
                    Some(Some(message)) => batch.push(message?),
                    Some(None) | None => break,
                }
            }
            let skipped = self.apply_messages(leader, prepared, &batch).await?;
            if skipped > 0 {
                // JetStream is delivering what the log already gave (after an outage, or a
                // restart from an older sequence): read the log's tail rather than wait for
                // JetStream to get through that backlog.
                self.catch_up_from_log(leader, prepared).await?;
            }
            if let Some(last) = batch.last() {
                // All acknowledgements up to this one; a lost ack only means a redelivery,
                // which the checkpoint skips.
                if let Err(error) = last.ack().await {
                    tracing::debug!(error = %error, "acknowledgement not sent");
                }
            }
        }
    }

    /// (Re)creates the projection's durable consumer to deliver from after `stream_sequence`
    /// (the last stream sequence applied; 0 for none) and opens its message stream. Whatever
    /// the consumer had delivered before is forgotten: the checkpoint decides what is applied.
    async fn open_consumer(&self, stream_sequence: i64) -> anyhow::Result<consumer::pull::Stream> {
        let stream = crate::jetstream::ensure_stream(
            &self.jetstream,
            &self.config.stream,
            &self.config.subject_prefix,
            None,
        )
        .await?;
        let durable = format!("projection_{}", self.definition.name);
        let _ = stream.delete_consumer(&durable).await;
        let deliver_policy = match u64::try_from(stream_sequence) {
            Ok(last) if last > 0 => consumer::DeliverPolicy::ByStartSequence {
                start_sequence: last + 1,
            },
            _ => consumer::DeliverPolicy::All,
        };
        let consumer: consumer::PullConsumer = stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(durable),
                filter_subject: format!("{}.>", self.config.subject_prefix),
                deliver_policy,
                ack_policy: consumer::AckPolicy::All,
                max_ack_pending: 20_000,
                ..Default::default()
            })
            .await
            .context("creating the projection's consumer")?;
        Ok(consumer
            .stream()
            .max_messages_per_batch(self.config.batch_size)
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await?)
    }

    /// Applies a batch of messages; returns how many of their events were applied before.
    async fn apply_messages(
        &self,
        leader: &mut Client,
        prepared: &apply::Prepared,
        batch: &[jetstream::Message],
    ) -> anyhow::Result<usize> {
        let definition = &self.definition;
        let mut envelopes = Vec::with_capacity(batch.len());
        let mut last_sequence = 0_u64;
        for message in batch {
            if let Ok(info) = message.info() {
                last_sequence = last_sequence.max(info.stream_sequence);
            }
            match serde_json::from_slice::<serde_json::Value>(&message.payload) {
                Ok(envelope) => envelopes.push(envelope),
                Err(error) => {
                    tracing::warn!(subject = %message.subject, error = %error, "ignoring a message that is not an event envelope");
                }
            }
        }
        // The commit-safe order of each event comes from the log, which also vouches for it.
        let ids: Vec<Uuid> = envelopes
            .iter()
            .filter_map(|e| e.get("id")?.as_str()?.parse().ok())
            .collect();
        let handles = |envelope: &serde_json::Value| {
            envelope
                .get("type")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|event_type| definition.handlers.contains_key(event_type))
        };
        if !envelopes.iter().any(handles) {
            // Nothing here for this projection (sign-ins, say): only the checkpoint moves.
            let sequence = i64::try_from(last_sequence).ok();
            let Some(advanced) =
                apply::advance_past(leader, prepared, definition, &ids, None, sequence).await?
            else {
                anyhow::bail!("the live tables belong to another definition; standing by");
            };
            let foreign: Vec<Uuid> = ids
                .iter()
                .filter(|id| !advanced.logged.contains(id))
                .copied()
                .collect();
            self.warn_of_foreign(&foreign);
            crate::telemetry::events_projected(
                &definition.name,
                advanced.logged.len() - advanced.skipped,
                0,
            );
            return Ok(advanced.skipped);
        }
        let lookup = prepared
            .statement(
                &*leader,
                "SELECT event_id, transaction_id::text, position FROM public.events WHERE event_id = ANY($1)",
            )
            .await?;
        let rows = leader.query(&lookup, &[&ids]).await?;
        let cursors: std::collections::HashMap<Uuid, LogCursor> = rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    LogCursor {
                        transaction_id: row.get(1),
                        position: row.get(2),
                    },
                )
            })
            .collect();
        let mut foreign = Vec::new();
        let mut pending: Vec<Pending> = envelopes
            .into_iter()
            .filter_map(|envelope| {
                let event_id: Uuid = envelope.get("id")?.as_str()?.parse().ok()?;
                let Some(cursor) = cursors.get(&event_id) else {
                    foreign.push(event_id);
                    return None;
                };
                Some(Pending {
                    cursor: cursor.clone(),
                    event_id,
                    event_type: envelope.get("type")?.as_str()?.to_owned(),
                    envelope,
                })
            })
            .collect();
        self.warn_of_foreign(&foreign);
        pending.sort_by_key(|event| event.cursor.order());
        let sequence = i64::try_from(last_sequence).ok();
        match apply::commit_live(leader, prepared, definition, &pending, None, sequence).await? {
            LiveOutcome::Committed(outcome) => {
                tracing::debug!(projection = %definition.name, ?outcome, "batch applied");
                crate::telemetry::events_projected(
                    &definition.name,
                    outcome.applied,
                    outcome.failed,
                );
                Ok(outcome.skipped)
            }
            LiveOutcome::NotMine => {
                anyhow::bail!("the live tables belong to another definition; standing by")
            }
        }
    }

    /// One line a batch for messages whose events are not in this database's log: a stream
    /// shared by mistake would otherwise log every message.
    fn warn_of_foreign(&self, foreign: &[Uuid]) {
        if let Some(first) = foreign.first() {
            tracing::warn!(
                projection = %self.definition.name,
                ignored = foreign.len(),
                first_event_id = %first,
                stream = %self.config.stream,
                "ignoring messages whose events are not in this database's log \
                 (does another deployment publish to this stream?)"
            );
        }
    }
}
