//! PostgreSQL: the event log and the inline tables written in the same transaction as events.
//!
//! Every statement is parameterized. Functions take a `GenericClient` so they run inside a
//! command's transaction or on their own, as the caller needs.

pub mod ceremonies;
pub mod challenges;
pub mod checkpoints;
pub mod claims;
pub mod deliveries;
pub mod erasures;
pub mod event_log;
pub mod follows;
pub mod idempotency;
pub mod migrations;
pub mod prepared;
pub mod privileged;
pub mod projections;
pub mod sessions;
pub mod shared_reads;
pub mod throttle;
pub mod users;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the stream first.
    #[error("stream {stream_id} is past version {expected}")]
    VersionConflict {
        /// The stream.
        stream_id: uuid::Uuid,
        /// The version the writer expected to be last.
        expected: i64,
    },
    /// A unique identifier is already held by another account.
    #[error("the {0} is already taken")]
    ClaimTaken(claims::ClaimKind),
    /// The idempotency key was claimed by a concurrent request.
    #[error("the idempotency key is in use")]
    IdempotencyKeyTaken,
    /// An event in the log cannot be read as its type.
    #[error("event {event_id} ({event_type}) cannot be decoded: {source}")]
    Decode {
        /// The event.
        event_id: uuid::Uuid,
        /// Its type name.
        event_type: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The change would leave no owner.
    #[error("the last owner cannot be demoted or deleted")]
    LastOwner,
    /// The second-factor challenge was answered already, or died, before its session started.
    #[error("the challenge was spent or expired")]
    ChallengeSpent,
    /// The session a command was made in ended (or expired) before the command's unit read its
    /// stream.
    #[error("the session ended")]
    SessionEnded,
    /// Sealed personal data does not open with its live key.
    #[error(transparent)]
    Sealed(#[from] crate::personal::SealError),
    /// PostgreSQL answered with an error.
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    /// No connection could be had.
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl StoreError {
    /// True when the database could not be reached (as opposed to refusing a statement).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Database(error) => {
                // Closed or lost connections, and the server going away: a fast or crash
                // shutdown (57P01, 57P02), not accepting connections yet (57P03), or a broken
                // connection (class 08). A retry may well succeed.
                error.is_closed()
                    || error.as_db_error().is_none_or(|db| {
                        let code = db.code().code();
                        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
                    })
            }
            _ => false,
        }
    }
}

/// The name of the unique constraint a statement violated, if that is why it failed.
pub(crate) fn violated_constraint(error: &tokio_postgres::Error) -> Option<&str> {
    let db = error.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION)
        .then(|| db.constraint())
        .flatten()
}

/// Opens a pool of connections. Each connection ends transactions left idle, so a stuck client
/// can never hold back the readers that tail the log.
pub fn connect(database_url: &str, max_connections: usize) -> anyhow::Result<Pool> {
    let mut config: tokio_postgres::Config = database_url.parse()?;
    config.options("-c idle_in_transaction_session_timeout=10000");
    config.application_name("accounts");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager).max_size(max_connections).build()?)
}

/// Creates the database named in `database_url` when it does not exist yet, connecting to the
/// server's `postgres` database to do so.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<()> {
    let config: tokio_postgres::Config = database_url.parse()?;
    let name = config
        .get_dbname()
        .ok_or_else(|| anyhow::anyhow!("the database URL names no database"))?
        .to_owned();
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(NoTls).await?;
    let driver = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(error) = client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            // Another process may have created it in the meantime.
            if error.code() != Some(&SqlState::DUPLICATE_DATABASE) {
                return Err(error.into());
            }
        }
        tracing::info!(database = %name, "created database");
    }
    drop(client);
    driver.abort();
    Ok(())
}
