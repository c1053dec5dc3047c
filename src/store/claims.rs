//! Unique identifiers (email, username, phone), each held by at most one account stream.
//! The primary key decides races: of concurrent claims for one value, exactly one commits.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::StoreError;

/// The kinds of identifier that must be unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A normalized email address.
    Email,
    /// A lower-cased username.
    Username,
    /// An E.164 phone number.
    Phone,
}

impl ClaimKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
            Self::Phone => "phone",
        }
    }
}

impl std::fmt::Display for ClaimKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claims `value` for `stream_id`, or fails with `ClaimTaken` when another stream holds it.
/// Waits for a concurrent claimant's transaction to finish before deciding.
pub async fn claim(
    client: &impl GenericClient,
    kind: ClaimKind,
    value: &str,
    stream_id: Uuid,
) -> Result<(), StoreError> {
    let inserted = client
        .execute(
            "INSERT INTO unique_claims (kind, value, stream_id) VALUES ($1, $2, $3)
             ON CONFLICT (kind, value) DO NOTHING",
            &[&kind.as_str(), &value, &stream_id],
        )
        .await?;
    if inserted == 1 {
        return Ok(());
    }
    // Claiming again what the stream already holds is not a conflict.
    match holder(client, kind, value).await? {
        Some(holder) if holder == stream_id => Ok(()),
        _ => Err(StoreError::ClaimTaken(kind)),
    }
}

/// Frees `value` if `stream_id` holds it.
pub async fn release(
    client: &impl GenericClient,
    kind: ClaimKind,
    value: &str,
    stream_id: Uuid,
) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM unique_claims WHERE kind = $1 AND value = $2 AND stream_id = $3",
            &[&kind.as_str(), &value, &stream_id],
        )
        .await?;
    Ok(())
}

/// Frees every identifier `stream_id` holds.
pub async fn release_all(client: &impl GenericClient, stream_id: Uuid) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM unique_claims WHERE stream_id = $1",
            &[&stream_id],
        )
        .await?;
    Ok(())
}

/// The stream that holds `value`, if any.
pub async fn holder(
    client: &impl GenericClient,
    kind: ClaimKind,
    value: &str,
) -> Result<Option<Uuid>, StoreError> {
    let row = client
        .query_opt(
            "SELECT stream_id FROM unique_claims WHERE kind = $1 AND value = $2",
            &[&kind.as_str(), &value],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}
