//! Second-factor challenges: a sign-in whose first factor was proven on an account with a
//! second factor waits here for the second, by the SHA-256 of the token its client holds.
//! Single-use (`spent_at`), short-lived (`expires_at`), and dead after `limit` answers were
//! counted (`failures`), each counted before it is checked.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::StoreError;

/// A challenge to record with its `SecondFactorChallenged` event.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// Challenge id (also in the event).
    pub id: Uuid,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// The account whose first factor was proven.
    pub account_id: Uuid,
    /// The identifier kind the sign-in named (`email`, `username`, `phone`).
    pub identifier: &'static str,
    /// How the first factor was proven (`password`, `code`).
    pub method: &'static str,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it dies unanswered.
    pub expires_at: DateTime<Utc>,
    /// The passkey assertion's state (WebAuthn), when the account has passkeys.
    pub passkey_state: Option<serde_json::Value>,
}

/// A live challenge, with one more answer counted against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedChallenge {
    /// Challenge id.
    pub id: Uuid,
    /// The account.
    pub account_id: Uuid,
    /// The identifier kind the sign-in named.
    pub identifier: String,
    /// How the first factor was proven.
    pub method: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// The passkey assertion's state, when the account had passkeys.
    pub passkey_state: Option<serde_json::Value>,
}

/// Records a challenge.
pub async fn open(client: &impl GenericClient, challenge: &NewChallenge) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO mfa_challenges
             (token_hash, id, account_id, identifier, method, created_at, expires_at,
              passkey_state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &challenge.token_hash,
            &challenge.id,
            &challenge.account_id,
            &challenge.identifier,
            &challenge.method,
            &challenge.created_at,
            &challenge.expires_at,
            &challenge.passkey_state,
        ],
    )
    .await?;
    Ok(())
}

/// Counts one answer against the challenge whose token hash is `token_hash` and that lives at
/// `now`, in one statement, when it has had fewer than `limit`: concurrent answers queue on
/// the row, so at most `limit` are ever checked. `None` when no such challenge lives: unknown,
/// expired, answered already, or out of answers.
pub async fn reserve(
    client: &impl GenericClient,
    token_hash: &[u8],
    limit: i32,
    now: DateTime<Utc>,
) -> Result<Option<ReservedChallenge>, StoreError> {
    let row = super::prepared::query_opt(
        client,
        "UPDATE mfa_challenges SET failures = failures + 1
         WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > $3 AND failures < $2
         RETURNING id, account_id, identifier, method, created_at, passkey_state",
        &[&token_hash, &limit, &now],
    )
    .await?;
    Ok(row.map(|row| ReservedChallenge {
        id: row.get(0),
        account_id: row.get(1),
        identifier: row.get(2),
        method: row.get(3),
        created_at: row.get(4),
        passkey_state: row.get(5),
    }))
}

/// Spends the challenge at `now` in the transaction that starts its session:
/// `ChallengeSpent` when it was spent or died meanwhile, which rolls the session back.
pub async fn spend(
    client: &impl GenericClient,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let spent = super::prepared::execute(
        client,
        "UPDATE mfa_challenges SET spent_at = $2
         WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > $2",
        &[&token_hash, &now],
    )
    .await?;
    if spent == 1 {
        Ok(())
    } else {
        Err(StoreError::ChallengeSpent)
    }
}

/// Deletes challenges a day after they died.
pub async fn purge_expired(client: &impl GenericClient) -> Result<u64, StoreError> {
    Ok(super::prepared::execute(
        client,
        "DELETE FROM mfa_challenges WHERE expires_at < now() - interval '1 day'",
        &[],
    )
    .await?)
}
