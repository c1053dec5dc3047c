//! One active worker per role across every instance of the service: the worker holds a
//! PostgreSQL session advisory lock on a connection of its own (never a pooled one, which could
//! go back to the pool still holding the lock). Others stand by, trying for the lock, and take
//! over when the active one's connection dies, which releases it.

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio_postgres::Client;

/// The advisory lock key of `role` for `name` (a projection, say): the first 8 bytes of
/// SHA-256 of `accounts:<role>:<name>`, so that keys do not collide with other users of the
/// database's advisory locks.
pub fn lock_key(role: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("accounts:{role}:{name}").as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// A connection of its own to PostgreSQL, outside the pool.
pub async fn connect(database_url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    Ok(client)
}

/// Waits until this worker holds the lock `key`, trying every `standby_wait`; returns the
/// connection that holds it. Leadership ends when that connection closes.
pub async fn acquire(
    database_url: &str,
    key: i64,
    standby_wait: Duration,
) -> anyhow::Result<Client> {
    let client = connect(database_url).await?;
    loop {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?;
        if row.get::<_, bool>(0) {
            return Ok(client);
        }
        tokio::time::sleep(standby_wait).await;
    }
}
