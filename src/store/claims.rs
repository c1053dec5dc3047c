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
    /// A passkey's WebAuthn credential id (base64url).
    Passkey,
}

impl ClaimKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
            Self::Phone => "phone",
            Self::Passkey => "passkey",
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
    let inserted = super::prepared::execute(
        client,
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
    super::prepared::execute(
        client,
        "DELETE FROM unique_claims WHERE kind = $1 AND value = $2 AND stream_id = $3",
        &[&kind.as_str(), &value, &stream_id],
    )
    .await?;
    Ok(())
}

/// Frees every identifier `stream_id` holds.
pub async fn release_all(client: &impl GenericClient, stream_id: Uuid) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
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
    let row = super::prepared::query_opt(
        client,
        "SELECT stream_id FROM unique_claims WHERE kind = $1 AND value = $2",
        &[&kind.as_str(), &value],
    )
    .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Rewrites email and phone claims stored before identifiers had one canonical form
/// (`domain::values::Email` and `Phone`) into that form, so that lookups by the canonical form
/// find them. Where two accounts hold two spellings of one identifier, the older claim keeps it
/// in canonical form and the younger keeps its old spelling, which no lookup reaches any more:
/// that account signs in by another identifier or an administrator settles it. Returns how many
/// claims were rewritten and how many collided.
pub async fn canonicalize_stored(
    client: &impl tokio_postgres::GenericClient,
) -> Result<(u64, u64), StoreError> {
    use crate::domain::values::{Email, Phone};
    let rows = client
        .query(
            "SELECT kind, value FROM unique_claims WHERE kind IN ('email', 'phone')
             ORDER BY claimed_at, value",
            &[],
        )
        .await?;
    let (mut rewritten, mut collided) = (0, 0);
    for row in rows {
        let (kind, value): (String, String) = (row.get(0), row.get(1));
        let canonical = match kind.as_str() {
            "email" => Email::parse(&value).map(|email| email.as_str().to_owned()),
            _ => Phone::parse(&value).map(|phone| phone.as_str().to_owned()),
        };
        let Some(canonical) = canonical.ok().filter(|canonical| *canonical != value) else {
            continue;
        };
        let moved = client
            .execute(
                "UPDATE unique_claims SET value = $3 WHERE kind = $1 AND value = $2
                 AND NOT EXISTS (SELECT 1 FROM unique_claims WHERE kind = $1 AND value = $3)",
                &[&kind, &value, &canonical],
            )
            .await?;
        if moved == 1 {
            rewritten += 1;
        } else {
            collided += 1;
            tracing::warn!(
                kind,
                "two accounts hold spellings of one identifier; the younger keeps its old spelling"
            );
        }
    }
    Ok((rewritten, collided))
}
