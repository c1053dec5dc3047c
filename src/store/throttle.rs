//! Sign-in protection state: consecutive failures per identifier, and spent captchas.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;

use super::StoreError;

/// How many failures in a row an identifier has had within `window` before `now`.
pub async fn recent_failures(
    client: &impl GenericClient,
    identifier_hash: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<i32, StoreError> {
    let row = client
        .query_opt(
            "SELECT failures FROM sign_in_throttle
             WHERE identifier_hash = $1 AND last_failure_at > $2",
            &[&identifier_hash, &(now - window)],
        )
        .await?;
    Ok(row.map_or(0, |row| row.get(0)))
}

/// Counts one more failure; a count older than `window` starts again from one.
pub async fn record_failure(
    client: &impl GenericClient,
    identifier_hash: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO sign_in_throttle (identifier_hash, failures, last_failure_at)
             VALUES ($1, 1, $2)
             ON CONFLICT (identifier_hash) DO UPDATE
                 SET failures = CASE WHEN sign_in_throttle.last_failure_at > $3
                                     THEN sign_in_throttle.failures + 1 ELSE 1 END,
                     last_failure_at = $2",
            &[&identifier_hash, &now, &(now - window)],
        )
        .await?;
    Ok(())
}

/// Forgets an identifier's failures (after a successful sign-in).
pub async fn clear(client: &impl GenericClient, identifier_hash: &[u8]) -> Result<(), StoreError> {
    client
        .execute(
            "DELETE FROM sign_in_throttle WHERE identifier_hash = $1",
            &[&identifier_hash],
        )
        .await?;
    Ok(())
}

/// Spends a captcha challenge; false when it was spent before.
pub async fn spend_captcha(
    client: &impl GenericClient,
    challenge: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = client
        .execute(
            "INSERT INTO captcha_spent (challenge, expires_at) VALUES ($1, $2)
             ON CONFLICT (challenge) DO NOTHING",
            &[&challenge, &expires_at],
        )
        .await?;
    Ok(inserted == 1)
}

/// Deletes spent captchas past their expiry and failure counts older than `window`.
pub async fn purge_expired(
    client: &impl GenericClient,
    window: Duration,
) -> Result<u64, StoreError> {
    let captchas = client
        .execute("DELETE FROM captcha_spent WHERE expires_at < now()", &[])
        .await?;
    let failures = client
        .execute(
            "DELETE FROM sign_in_throttle WHERE last_failure_at < $1",
            &[&(Utc::now() - window)],
        )
        .await?;
    let limits = client
        .execute(
            "DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'",
            &[],
        )
        .await?;
    Ok(captchas + failures + limits)
}

/// Counts a hit on `key` in a fixed window of `window`; past `limit` hits in the window, returns
/// the seconds until the window ends.
pub async fn hit_rate_limit(
    client: &impl GenericClient,
    key: &[u8],
    now: DateTime<Utc>,
    window: Duration,
    limit: i32,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE
                 SET window_start = CASE WHEN rate_limits.window_start <= $3
                                         THEN $2 ELSE rate_limits.window_start END,
                     hits = CASE WHEN rate_limits.window_start <= $3
                                 THEN 1 ELSE rate_limits.hits + 1 END
             RETURNING window_start, hits",
            &[&key, &now, &(now - window)],
        )
        .await?;
    let window_start: DateTime<Utc> = row.get(0);
    let hits: i32 = row.get(1);
    if hits <= limit {
        return Ok(None);
    }
    let left = window_start + window - now;
    Ok(Some((left.num_milliseconds().max(0) + 999) / 1000))
}
