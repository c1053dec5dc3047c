//! Passkey ceremonies (WebAuthn) between their start and finish: the server-side state
//! `webauthn-rs` needs to verify the client's answer, by the SHA-256 of the token the client
//! holds. Single-use (taken and deleted in one statement) and short-lived.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::StoreError;

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Registering a passkey, by the session that began it.
    Registration,
    /// A passkey's assertion proving the second factor in the session that began it.
    StepUp,
    /// Signing in with a discoverable passkey.
    SignIn,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::StepUp => "step_up",
            Self::SignIn => "sign_in",
        }
    }
}

/// A ceremony begun.
#[derive(Debug, Clone)]
pub struct NewCeremony {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// What it is for.
    pub purpose: Purpose,
    /// The account, for a registration or step-up.
    pub account_id: Option<Uuid>,
    /// The session that began it, for a registration or step-up.
    pub session_id: Option<Uuid>,
    /// `webauthn-rs`'s state.
    pub state: serde_json::Value,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it dies unfinished.
    pub expires_at: DateTime<Utc>,
}

/// Records a ceremony. A session has one ceremony of a purpose at a time: beginning another
/// replaces the one before in the same statement (a unique index on the session and purpose),
/// so that a session cannot pile states up, however many it begins at once.
pub async fn open(client: &impl GenericClient, ceremony: &NewCeremony) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO passkey_ceremonies
             (token_hash, purpose, account_id, session_id, state, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (session_id, purpose) WHERE session_id IS NOT NULL DO UPDATE
             SET token_hash = excluded.token_hash, account_id = excluded.account_id,
                 state = excluded.state, created_at = excluded.created_at,
                 expires_at = excluded.expires_at",
        &[
            &ceremony.token_hash,
            &ceremony.purpose.as_str(),
            &ceremony.account_id,
            &ceremony.session_id,
            &ceremony.state,
            &ceremony.created_at,
            &ceremony.expires_at,
        ],
    )
    .await?;
    Ok(())
}

/// Takes (deletes) the live ceremony for `purpose` whose token hash is `token_hash`, begun by
/// `session_id` (`None` for a sign-in), and returns its state; `None` when there is none:
/// unknown, expired, finished, or another session's. Two finishes of one ceremony never both
/// get it.
pub async fn take(
    client: &impl GenericClient,
    token_hash: &[u8],
    purpose: Purpose,
    session_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Option<serde_json::Value>, StoreError> {
    let row = super::prepared::query_opt(
        client,
        "DELETE FROM passkey_ceremonies
         WHERE token_hash = $1 AND purpose = $2 AND session_id IS NOT DISTINCT FROM $3
           AND expires_at > $4
         RETURNING state",
        &[&token_hash, &purpose.as_str(), &session_id, &now],
    )
    .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Deletes ceremonies that died unfinished, and the passkey states of second-factor
/// challenges that died: what a client began and left takes no room past its lifetime.
pub async fn purge_expired(client: &impl GenericClient) -> Result<u64, StoreError> {
    let ceremonies = super::prepared::execute(
        client,
        "DELETE FROM passkey_ceremonies WHERE expires_at < now()",
        &[],
    )
    .await?;
    let challenges = super::prepared::execute(
        client,
        "UPDATE mfa_challenges SET passkey_state = NULL
         WHERE expires_at < now() AND passkey_state IS NOT NULL",
        &[],
    )
    .await?;
    Ok(ceremonies + challenges)
}
