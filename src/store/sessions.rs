//! Sessions: who is signed in, by the SHA-256 of an opaque token.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::{StoreError, event_log};

/// A session to record at sign-in.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Session id (also in the `SessionStarted` event).
    pub id: Uuid,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The account signed in.
    pub account_id: Uuid,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Client address.
    pub ip: Option<String>,
    /// The factors it was signed in with: `password` or `code`, then `totp` or
    /// `recovery_code` when a second factor was proven.
    pub methods: Vec<String>,
    /// When it proved a second factor, if it did (then it is at AAL2).
    pub second_factor_at: Option<DateTime<Utc>>,
}

/// The session a valid token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveSession {
    /// The session.
    pub id: Uuid,
    /// Its account.
    pub account_id: Uuid,
}

/// A live session, as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionSummary {
    /// The session.
    pub id: Uuid,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// The factors it was signed in with.
    pub methods: Vec<String>,
    /// When it proved a second factor, if it did.
    pub second_factor_at: Option<DateTime<Utc>>,
}

/// Records a new session.
pub async fn open(client: &impl GenericClient, session: &NewSession) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO sessions
                 (id, token_hash, account_id, created_at, expires_at, last_seen_at, user_agent, ip,
                  methods, second_factor_at)
             VALUES ($1, $2, $3, $4, $5, $4, $6, $7, $8, $9)",
        &[
            &session.id,
            &session.token_hash,
            &session.account_id,
            &session.created_at,
            &session.expires_at,
            &session.user_agent,
            &session.ip,
            &session.methods,
            &session.second_factor_at,
        ],
    )
    .await?;
    Ok(())
}

/// A sign-in's whole transaction in one statement ([`event_log::append_alone_sql`]): the
/// account's events (at `expected_version`, with `state` as its snapshot), the session's row,
/// and the sign-in attempts reserved on the throttle keys `released` given back. Returns the
/// events' positions; none when a writer held the account's lock, `StoreError::VersionConflict`
/// when the account changed since `expected_version` (then nothing was written).
#[allow(
    clippy::too_many_arguments,
    reason = "the append's parameters, then the session's"
)]
pub async fn open_with_events(
    client: &impl GenericClient,
    stream_type: &str,
    expected_version: i64,
    sealed: &crate::personal::SealedAppend,
    session: &NewSession,
    released: &[Vec<u8>],
) -> Result<Vec<i64>, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        event_log::append_alone_sql(
            false,
            ", session AS (
                 INSERT INTO sessions
                     (id, token_hash, account_id, created_at, expires_at, last_seen_at,
                      user_agent, ip, methods, second_factor_at)
                 SELECT $11, $12, $2, $13, $14, $13, $15, $16, $18, $19
                 WHERE EXISTS (SELECT 1 FROM appended)
             ),
             released AS (
                 UPDATE sign_in_throttle SET failures = failures - 1
                 WHERE identifier_hash = ANY($17) AND failures > 0
                   AND EXISTS (SELECT 1 FROM appended)
             )",
        )
    });
    debug_assert_eq!(sealed.stream_id, session.account_id);
    event_log::append_alone(
        client,
        &SQL,
        stream_type,
        expected_version,
        sealed,
        &[
            &session.id,
            &session.token_hash,
            &session.created_at,
            &session.expires_at,
            &session.user_agent,
            &session.ip,
            &released,
            &session.methods,
            &session.second_factor_at,
        ],
    )
    .await
}

/// Ends the given sessions of an account.
pub async fn end(
    client: &impl GenericClient,
    account_id: Uuid,
    ids: &[Uuid],
    reason: &str,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "UPDATE sessions SET ended_at = now(), end_reason = $3
             WHERE account_id = $1 AND id = ANY($2) AND ended_at IS NULL",
        &[&account_id, &ids, &reason],
    )
    .await?;
    Ok(())
}

/// Records that the live session `session_id` of the account proved a second factor
/// (`method`) at `at`: its step-up window starts there, and it counts as `aal2` from then.
pub async fn prove_second_factor(
    client: &impl GenericClient,
    account_id: Uuid,
    session_id: Uuid,
    method: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "UPDATE sessions SET second_factor_at = $4,
             methods = CASE WHEN $3 = ANY(methods) THEN methods ELSE methods || $3 END
         WHERE account_id = $1 AND id = $2 AND ended_at IS NULL",
        &[&account_id, &session_id, &method, &at],
    )
    .await?;
    Ok(())
}

/// Ends every session of an account.
pub async fn end_all(
    client: &impl GenericClient,
    account_id: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "UPDATE sessions SET ended_at = now(), end_reason = $2
             WHERE account_id = $1 AND ended_at IS NULL",
        &[&account_id, &reason],
    )
    .await?;
    Ok(())
}

/// The live session whose token hash is `$1`: its id, account, and whether it was last marked
/// seen over a minute ago.
pub(super) const LIVE_SESSION_SQL: &str =
    "SELECT id, account_id, last_seen_at < now() - interval '1 minute' AS stale FROM sessions
     WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()";

/// The live session a token hash belongs to, marking it seen (at most once a minute, so that
/// reads do not turn into a write each).
pub async fn authenticate(
    client: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<ActiveSession>, StoreError> {
    let row = super::prepared::query_opt(client, LIVE_SESSION_SQL, &[&token_hash]).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let session = ActiveSession {
        id: row.get(0),
        account_id: row.get(1),
    };
    if row.get::<_, bool>(2) {
        mark_seen(client, session).await?;
    }
    Ok(Some(session))
}

/// Marks a session seen now (for one whose mark is over a minute old), outside any
/// transaction. Never waits more than 50 ms: while a command holds the session's row, or
/// something holds the whole table (an index being built), the mark is skipped and a later read
/// makes it, so that it can run on a connection that other reads share (`shared_reads`).
pub async fn mark_seen(
    client: &impl GenericClient,
    session: ActiveSession,
) -> Result<(), StoreError> {
    // One message, so one implicit transaction, to which the lock timeout is local.
    let sql = format!(
        "SET LOCAL lock_timeout = '50ms';
         UPDATE sessions SET last_seen_at = now()
         WHERE id = (SELECT id FROM sessions WHERE id = '{}' FOR UPDATE SKIP LOCKED)",
        session.id
    );
    match client.batch_execute(&sql).await {
        Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => Ok(()),
        outcome => Ok(outcome?),
    }
}

/// Whether the session whose token hash is `token_hash` is live: not ended, not expired.
pub async fn is_token_live(
    client: &impl GenericClient,
    token_hash: &[u8],
) -> Result<bool, StoreError> {
    let row = super::prepared::query_opt(
        client,
        "SELECT 1 FROM sessions WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > now()",
        &[&token_hash],
    )
    .await?;
    Ok(row.is_some())
}

/// Whether `session` is still live: not ended, not expired.
pub async fn is_live(
    client: &impl GenericClient,
    session: ActiveSession,
) -> Result<bool, StoreError> {
    let row = super::prepared::query_opt(
        client,
        "SELECT 1 FROM sessions
             WHERE id = $1 AND account_id = $2 AND ended_at IS NULL AND expires_at > now()",
        &[&session.id, &session.account_id],
    )
    .await?;
    Ok(row.is_some())
}

/// The live sessions of an account, newest first.
pub async fn list_live(
    client: &impl GenericClient,
    account_id: Uuid,
) -> Result<Vec<SessionSummary>, StoreError> {
    let rows = super::prepared::query(
        client,
        "SELECT id, created_at, last_seen_at, expires_at, user_agent, ip, methods,
                second_factor_at
             FROM sessions
             WHERE account_id = $1 AND ended_at IS NULL AND expires_at > now()
             ORDER BY created_at DESC, id",
        &[&account_id],
    )
    .await?;
    Ok(rows
        .iter()
        .map(|row| SessionSummary {
            id: row.get(0),
            created_at: row.get(1),
            last_seen_at: row.get(2),
            expires_at: row.get(3),
            user_agent: row.get(4),
            ip: row.get(5),
            methods: row.get(6),
            second_factor_at: row.get(7),
        })
        .collect())
}

/// When a live session started, and when it last proved a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assurance {
    /// When the session started (its first factor was proven).
    pub started_at: DateTime<Utc>,
    /// When it proved a second factor, if it did.
    pub second_factor_at: Option<DateTime<Utc>>,
}

/// How the live `session` was authenticated, and when (`None` if it is not live).
pub async fn assurance(
    client: &impl GenericClient,
    session: ActiveSession,
) -> Result<Option<Assurance>, StoreError> {
    let row = super::prepared::query_opt(
        client,
        "SELECT created_at, second_factor_at FROM sessions
             WHERE id = $1 AND account_id = $2 AND ended_at IS NULL AND expires_at > now()",
        &[&session.id, &session.account_id],
    )
    .await?;
    Ok(row.map(|row| Assurance {
        started_at: row.get(0),
        second_factor_at: row.get(1),
    }))
}

/// How long ended or expired sessions are kept (for "my sessions" history and support) before
/// they are deleted. The log keeps their events for ever.
pub const RETENTION: &str = "30 days";

/// Deletes sessions that ended or expired more than `RETENTION` ago.
pub async fn purge_finished(client: &impl GenericClient) -> Result<u64, StoreError> {
    let sql = format!(
        "DELETE FROM sessions
         WHERE least(coalesce(ended_at, expires_at), expires_at) < now() - interval '{RETENTION}'"
    );
    Ok(super::prepared::execute(client, &sql, &[]).await?)
}
