//! Numbered SQL migrations from `migrations/`, compiled into the binary and applied in order,
//! each once, under an advisory lock so that instances starting together do not race.

use tokio_postgres::Client;

/// A migration: its number, name and SQL.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
    /// A rewrite of stored rows that SQL alone cannot make, run in the same transaction.
    rewrite: Option<Rewrite>,
}

/// Rewrites of stored rows done in Rust.
#[derive(Clone, Copy)]
enum Rewrite {
    /// Email and phone claims into their canonical forms (`claims::canonicalize_stored`).
    CanonicalIdentifiers,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "event_log",
        sql: include_str!("../../migrations/0001_event_log.sql"),
        rewrite: None,
    },
    Migration {
        version: 2,
        name: "inline_tables",
        sql: include_str!("../../migrations/0002_inline_tables.sql"),
        rewrite: None,
    },
    Migration {
        version: 3,
        name: "log_checkpoints",
        sql: include_str!("../../migrations/0003_log_checkpoints.sql"),
        rewrite: None,
    },
    Migration {
        version: 4,
        name: "projections",
        sql: include_str!("../../migrations/0004_projections.sql"),
        rewrite: None,
    },
    Migration {
        version: 5,
        name: "sign_in_throttle",
        sql: include_str!("../../migrations/0005_sign_in_throttle.sql"),
        rewrite: None,
    },
    Migration {
        version: 6,
        name: "message_deliveries",
        sql: include_str!("../../migrations/0006_message_deliveries.sql"),
        rewrite: None,
    },
    Migration {
        version: 7,
        name: "privileged_accounts",
        sql: include_str!("../../migrations/0007_privileged_accounts.sql"),
        rewrite: None,
    },
    Migration {
        version: 8,
        name: "security_fixes",
        sql: include_str!("../../migrations/0008_security_fixes.sql"),
        rewrite: Some(Rewrite::CanonicalIdentifiers),
    },
    Migration {
        version: 9,
        name: "delivery_leases",
        sql: include_str!("../../migrations/0009_delivery_leases.sql"),
        rewrite: None,
    },
    Migration {
        version: 10,
        name: "stream_snapshots",
        sql: include_str!("../../migrations/0010_stream_snapshots.sql"),
        rewrite: None,
    },
    Migration {
        version: 11,
        name: "second_factors",
        sql: include_str!("../../migrations/0011_second_factors.sql"),
        rewrite: None,
    },
    Migration {
        version: 12,
        name: "idempotency_mismatches",
        sql: include_str!("../../migrations/0012_idempotency_mismatches.sql"),
        rewrite: None,
    },
    Migration {
        version: 13,
        name: "passkeys",
        sql: include_str!("../../migrations/0013_passkeys.sql"),
        rewrite: None,
    },
    Migration {
        version: 14,
        name: "personal_data",
        sql: include_str!("../../migrations/0014_personal_data.sql"),
        rewrite: None,
    },
    Migration {
        version: 15,
        name: "erasure",
        sql: include_str!("../../migrations/0015_erasure.sql"),
        rewrite: None,
    },
    Migration {
        version: 16,
        name: "key_encryption_keys",
        sql: include_str!("../../migrations/0016_key_encryption_keys.sql"),
        rewrite: None,
    },
    Migration {
        version: 17,
        name: "pseudonyms_and_key_lifetimes",
        sql: include_str!("../../migrations/0017_pseudonyms_and_key_lifetimes.sql"),
        rewrite: None,
    },
];

/// Advisory lock key held while migrating ("accounts" in ASCII).
const MIGRATION_LOCK: i64 = 0x6163_636f_756e_7473;

/// Applies every migration the database has not seen yet.
pub async fn migrate(client: &mut Client) -> anyhow::Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = apply_pending(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    outcome
}

async fn apply_pending(client: &mut Client) -> anyhow::Result<()> {
    for migration in MIGRATIONS {
        let applied = client
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await?
            .is_some();
        if applied {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(migration.sql).await?;
        match migration.rewrite {
            Some(Rewrite::CanonicalIdentifiers) => {
                let (rewritten, collided) = super::claims::canonicalize_stored(&tx).await?;
                tracing::info!(rewritten, collided, "identifiers in canonical form");
            }
            None => {}
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
    Ok(())
}

/// A fingerprint of all migrations, so a cached, migrated database can tell whether it is current.
pub fn fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for migration in MIGRATIONS {
        hasher.update(migration.version.to_be_bytes());
        hasher.update(migration.sql.as_bytes());
    }
    hex::encode(&hasher.finalize()[..8])
}
