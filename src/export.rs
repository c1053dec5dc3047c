//! `accounts events export`: the log as NDJSON, one envelope (as the relay publishes it) per
//! line, in commit order, for auditors and for loading the history elsewhere.

use crate::relay::Envelope;
use crate::store::event_log::{self, LogCursor, LogRange};
use anyhow::Context as _;
use std::io::Write;

/// Writes the events after position `after` (0: all), of `types` if given, to `out`, in commit
/// order: the order of NATS, in which a later export `--after` the last position of an earlier
/// one continues it without gaps. Returns how many it wrote.
pub async fn export(
    keys: &crate::personal::Keyring,
    database_url: &str,
    after: i64,
    types: Option<&[String]>,
    out: &mut impl Write,
) -> anyhow::Result<u64> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(connection);
    wait_until_final(&client).await?;
    let mut cursor = if after > 0 {
        let row = client
            .query_opt(
                "SELECT transaction_id::text FROM events WHERE position = $1",
                &[&after],
            )
            .await?
            .with_context(|| format!("no event has position {after}"))?;
        LogCursor {
            transaction_id: row.get(0),
            position: after,
        }
    } else {
        LogCursor::start()
    };
    let mut written = 0;
    loop {
        let events = event_log::read_range(
            keys,
            &client,
            &LogRange {
                after: &cursor,
                until: None,
                types,
                limit: 5000,
            },
        )
        .await?;
        let Some(last) = events.last() else {
            return Ok(written);
        };
        for event in &events {
            serde_json::to_writer(&mut *out, &Envelope::from(event))?;
            out.write_all(b"\n")?;
            written += 1;
        }
        cursor = LogCursor::after(last);
    }
}

/// Waits (up to 30 s) until every event committed before the export began is final, so that
/// the export holds all of them: the commit-safe horizon is the oldest transaction running
/// anywhere on the server, which can be a moment behind.
async fn wait_until_final(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    let head: i64 = client
        .query_one("SELECT coalesce(max(position), 0) FROM events", &[])
        .await?
        .get(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pending: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM events WHERE position <= $1
                                AND transaction_id >= pg_snapshot_xmin(pg_current_snapshot()))",
                &[&head],
            )
            .await?
            .get(0);
        if !pending {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!(
                "a long-running transaction on the server holds the log back; retry when it ends"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
