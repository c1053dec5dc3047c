//! The relay: publishes every event of the log to NATS JetStream, in commit-safe order, once.
//!
//! One relay is active at a time (`crate::leadership`); others stand by and take over when the
//! active one's connection dies.
//!
//! Each event goes to subject `<prefix>.<stream_type>.<event_type>` of the stream, with header
//! `Nats-Msg-Id` = event id so that JetStream drops a second copy within its duplicate window.
//! The relay checkpoints (in PostgreSQL) only what JetStream acknowledged; after a crash it
//! resumes from the checkpoint, and the at most one batch it publishes again is deduplicated.
//! While NATS is down the relay retries with backoff; commands never wait for it.

use crate::store::checkpoints;
use crate::store::event_log::{self, LogCursor, RecordedEvent};
use anyhow::Context as _;
use async_nats::jetstream::{self, message::PublishMessage};
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Advisory lock key of the active relay ("relay" in ASCII).
const RELAY_LOCK: i64 = 0x72_656c_6179;
/// The relay's name in `log_checkpoints`.
const CHECKPOINT: &str = "relay";

/// Where and how the relay publishes.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// PostgreSQL URL, for the leadership connection.
    pub database_url: String,
    /// JetStream stream name.
    pub stream: String,
    /// Subject prefix; events go to `<prefix>.<stream_type>.<event_type>`.
    pub subject_prefix: String,
    /// Events read and published per batch.
    pub batch_size: i64,
    /// Pause when the log has nothing new.
    pub idle_wait: Duration,
    /// Pause between tries for the leadership.
    pub standby_wait: Duration,
    /// How long the stream keeps each event (zero: for ever); the relay sets it on the stream.
    pub max_age: Duration,
}

impl RelayConfig {
    /// Defaults for a stream and subject prefix.
    pub fn new(database_url: &str, stream: &str, subject_prefix: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            stream: stream.to_owned(),
            subject_prefix: subject_prefix.to_owned(),
            batch_size: 500,
            idle_wait: Duration::from_millis(20),
            standby_wait: Duration::from_millis(500),
            max_age: crate::jetstream::DEFAULT_MAX_AGE,
        }
    }
}

/// The message body published for each event.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Envelope<'a> {
    /// Event id (also the `Nats-Msg-Id`).
    pub id: Uuid,
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// Data layout version of the type.
    pub schema_version: i32,
    /// Aggregate kind.
    pub stream_type: &'a str,
    /// Aggregate id.
    pub stream_id: Uuid,
    /// Version within the stream.
    pub version: i64,
    /// Position in the log.
    pub position: i64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The event's data.
    pub data: &'a serde_json::Value,
    /// Who caused it and how.
    pub metadata: &'a serde_json::Value,
}

impl<'a> From<&'a RecordedEvent> for Envelope<'a> {
    fn from(event: &'a RecordedEvent) -> Self {
        Self {
            id: event.event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            stream_type: &event.stream_type,
            stream_id: event.stream_id,
            version: event.version,
            position: event.position,
            recorded_at: event.recorded_at,
            data: &event.data,
            metadata: &event.metadata,
        }
    }
}

/// Publishes the log to JetStream.
pub struct Relay {
    pool: Pool,
    /// Opens the events' personal fields: subscribers receive them in clear.
    keys: std::sync::Arc<crate::personal::Keyring>,
    jetstream: jetstream::Context,
    config: RelayConfig,
    /// Set once the stream is known to exist; cleared when a publish fails.
    stream_ready: AtomicBool,
}

impl Relay {
    /// A relay over a pool and a NATS client.
    pub fn new(
        pool: Pool,
        keys: std::sync::Arc<crate::personal::Keyring>,
        nats: async_nats::Client,
        config: RelayConfig,
    ) -> Self {
        Self {
            pool,
            keys,
            jetstream: jetstream::new(nats),
            config,
            stream_ready: AtomicBool::new(false),
        }
    }

    /// Runs until `shutdown` turns true: waits for the leadership, then relays.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let leadership = tokio::select! {
                leadership = self.become_leader() => leadership,
                _ = shutdown.changed() => return,
            };
            match leadership {
                Ok(leader) => {
                    tracing::info!(stream = %self.config.stream, "relay is active");
                    self.relay_while_leader(&leader, &mut shutdown).await;
                    tracing::info!("relay stepped down");
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "relay cannot lead yet");
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.standby_wait) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    }

    /// Waits until this relay holds the leadership lock, on a connection of its own.
    async fn become_leader(&self) -> anyhow::Result<tokio_postgres::Client> {
        crate::leadership::acquire(
            &self.config.database_url,
            RELAY_LOCK,
            self.config.standby_wait,
        )
        .await
    }

    async fn relay_while_leader(
        &self,
        leader: &tokio_postgres::Client,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let mut backoff = Duration::from_millis(50);
        // The checkpoint as last read or saved: while this relay leads, nothing else moves it.
        let mut checkpoint = None;
        while !*shutdown.borrow() && !leader.is_closed() {
            let pause = match self.relay_batch(&mut checkpoint).await {
                Ok(0) => self.config.idle_wait,
                Ok(_) => {
                    backoff = Duration::from_millis(50);
                    continue;
                }
                Err(error) => {
                    checkpoint = None;
                    tracing::warn!(error = format!("{error:#}"), retry_in = ?backoff, "relay batch failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Publishes the next batch after `checkpoint` (read from the database when `None`) and
    /// checkpoints it. Returns how many events it published.
    async fn relay_batch(&self, checkpoint: &mut Option<LogCursor>) -> anyhow::Result<usize> {
        let client = self.pool.get().await?;
        let cursor = match checkpoint.take() {
            Some(cursor) => cursor,
            None => checkpoints::load(&client, CHECKPOINT).await?,
        };
        let events =
            event_log::read_committed_after(&self.keys, &client, &cursor, self.config.batch_size)
                .await?;
        let Some(last) = events.last() else {
            *checkpoint = Some(cursor);
            return Ok(0);
        };
        if !self.stream_ready.load(Ordering::Relaxed) {
            self.ensure_stream().await?;
            self.stream_ready.store(true, Ordering::Relaxed);
        }
        // Send the whole batch, then wait for the acknowledgements: one round trip per batch.
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let subject = format!(
                "{}.{}.{}",
                self.config.subject_prefix, event.stream_type, event.event_type
            );
            let payload = serde_json::to_vec(&Envelope::from(event))?;
            let ack = self
                .jetstream
                .send_publish(
                    subject,
                    PublishMessage::build()
                        .payload(payload.into())
                        .message_id(event.event_id.to_string()),
                )
                .await
                .inspect_err(|_| self.stream_ready.store(false, Ordering::Relaxed))
                .context("publishing to JetStream")?;
            acks.push(ack);
        }
        for ack in acks {
            if let Err(error) = ack.await {
                self.stream_ready.store(false, Ordering::Relaxed);
                return Err(error).context("waiting for JetStream's acknowledgement");
            }
        }
        let saved = LogCursor::after(last);
        checkpoints::save(&client, CHECKPOINT, &saved).await?;
        *checkpoint = Some(saved);
        crate::telemetry::events_published(events.len());
        Ok(events.len())
    }

    async fn ensure_stream(&self) -> anyhow::Result<()> {
        crate::jetstream::ensure_stream(
            &self.jetstream,
            &self.config.stream,
            &self.config.subject_prefix,
            Some(self.config.max_age),
        )
        .await?;
        Ok(())
    }
}
