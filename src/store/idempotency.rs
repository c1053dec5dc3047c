//! Idempotency keys: a command runs at most once per key, and retries get the first answer.
//!
//! The key is claimed in the command's own transaction (after its events), so "the command ran"
//! and "the key is used" commit together. The answer is stored right after commit.

use deadpool_postgres::GenericClient;

use super::{StoreError, violated_constraint};

/// How long a key is remembered.
pub const RETENTION: &str = "24 hours";

/// Other requests a key takes (each answered `422 idempotency_key_reused`) before it stops
/// replaying its answer even to its own request.
pub const MAX_MISMATCHES: i32 = 5;

/// A request already seen under a key.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Fingerprint of the request that claimed the key.
    pub fingerprint: Vec<u8>,
    /// Other requests that came under the key.
    pub mismatches: i32,
    /// Its answer, once stored.
    pub response: Option<StoredResponse>,
}

/// A stored answer.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// The `Accounts-Position` it carried.
    pub position: Option<i64>,
    /// The body, sealed with the service key.
    pub sealed_body: Vec<u8>,
}

impl StoredResponse {
    /// Whether the answer has a body (a sealed empty one is the sealing's overhead alone).
    pub fn has_body(&self) -> bool {
        self.sealed_body.len() > crate::secrets::SEALED_OVERHEAD
    }
}

/// What was seen under `key` in `scope` within the retention period.
pub async fn lookup(
    client: &impl GenericClient,
    scope: &[u8],
    key: &str,
) -> Result<Option<SeenRequest>, StoreError> {
    let sql = format!(
        "SELECT request_fingerprint, response_status, response_position, response_body, mismatches
         FROM idempotency
         WHERE scope = $1 AND key = $2 AND created_at > now() - interval '{RETENTION}'"
    );
    let row = super::prepared::query_opt(client, &sql, &[&scope, &key]).await?;
    Ok(row.map(|row| {
        let status: Option<i16> = row.get(1);
        let body: Option<Vec<u8>> = row.get(3);
        SeenRequest {
            fingerprint: row.get(0),
            mismatches: row.get(4),
            response: status
                .zip(body)
                .map(|(status, sealed_body)| StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    position: row.get(2),
                    sealed_body,
                }),
        }
    }))
}

/// Counts another request under `key`.
pub async fn count_mismatch(
    client: &impl GenericClient,
    scope: &[u8],
    key: &str,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "UPDATE idempotency SET mismatches = mismatches + 1 WHERE scope = $1 AND key = $2",
        &[&scope, &key],
    )
    .await?;
    Ok(())
}

/// Claims `key` for a request, with its answer when it is known already (a request that
/// changed nothing, so there is no transaction to claim it in), taking over a key whose
/// retention has passed. Fails with `IdempotencyKeyTaken` when another request holds it.
pub async fn claim(
    client: &impl GenericClient,
    scope: &[u8],
    key: &str,
    fingerprint: &[u8],
    response: Option<&StoredResponse>,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO idempotency
             (scope, key, request_fingerprint, response_status, response_position, response_body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (scope, key) DO UPDATE
             SET request_fingerprint = EXCLUDED.request_fingerprint, created_at = now(),
                 response_status = EXCLUDED.response_status,
                 response_position = EXCLUDED.response_position,
                 response_body = EXCLUDED.response_body
             WHERE idempotency.created_at <= now() - interval '{RETENTION}'"
    );
    let status = response.map(|response| i16::try_from(response.status).unwrap_or(500));
    let position = response.and_then(|response| response.position);
    let body = response.map(|response| &response.sealed_body);
    let claimed = super::prepared::execute(
        client,
        &sql,
        &[&scope, &key, &fingerprint, &status, &position, &body],
    )
    .await
    .map_err(|error| match violated_constraint(&error) {
        Some(_) => StoreError::IdempotencyKeyTaken,
        None => StoreError::Database(error),
    })?;
    if claimed == 1 {
        Ok(())
    } else {
        Err(StoreError::IdempotencyKeyTaken)
    }
}

/// Stores the answer to the request that claimed `key`.
pub async fn store_response(
    client: &impl GenericClient,
    scope: &[u8],
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "UPDATE idempotency
             SET response_status = $3, response_position = $4, response_body = $5
             WHERE scope = $1 AND key = $2",
        &[
            &scope,
            &key,
            &i16::try_from(response.status).unwrap_or(500),
            &response.position,
            &response.sealed_body,
        ],
    )
    .await?;
    Ok(())
}

/// Forgets keys past their retention.
pub async fn purge_expired(client: &impl GenericClient) -> Result<u64, StoreError> {
    let sql = format!("DELETE FROM idempotency WHERE created_at <= now() - interval '{RETENTION}'");
    Ok(super::prepared::execute(client, &sql, &[]).await?)
}
