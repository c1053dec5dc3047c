//! Protection against guessing and flooding: attempts of password checks counted per key (an
//! identifier, a client address or an account, hashed) and reserved before the check runs,
//! spent captchas, and fixed-window rate limits.

use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::GenericClient;

use super::StoreError;

/// The statement that reserves one attempt on the key of the row `source` gives (its key,
/// 1, `now`) when the key has had fewer than `limit` attempts since `since`, and counts
/// nothing otherwise; a count older than `since` starts again. Returns a row only when it
/// counted. The arguments name parameters of the enclosing statement.
fn reserve_sql(source: &str, now: &str, since: &str, limit: &str) -> String {
    format!(
        "INSERT INTO sign_in_throttle AS t (identifier_hash, failures, last_failure_at)
         {source}
         ON CONFLICT (identifier_hash) DO UPDATE
             SET failures = CASE WHEN t.last_failure_at > {since} THEN t.failures + 1 ELSE 1 END,
                 last_failure_at = {now}
             WHERE t.last_failure_at <= {since} OR t.failures < {limit}
         RETURNING failures"
    )
}

/// Reserves one attempt on `key` before the check it guards runs: counts it at once, in one
/// statement, when `key` has had fewer than `limit` attempts within `window` before `now`
/// (`None`), and otherwise counts nothing and answers the seconds until the oldest counted
/// attempt leaves the window. Concurrent reservations queue on the row, so however many run at
/// once, at most `limit` are granted (OWASP ASVS 2.2.1). A count older than `window` starts again.
pub async fn reserve_attempt(
    client: &impl GenericClient,
    key: &[u8],
    now: DateTime<Utc>,
    window: Duration,
    limit: i32,
) -> Result<Option<i64>, StoreError> {
    let sql = reserve_sql("VALUES ($1, 1, $2)", "$2", "$3", "$4");
    let reserved =
        super::prepared::query_opt(client, &sql, &[&key, &now, &(now - window), &limit]).await?;
    if reserved.is_some() {
        return Ok(None);
    }
    let last: Option<DateTime<Utc>> = super::prepared::query_opt(
        client,
        "SELECT last_failure_at FROM sign_in_throttle WHERE identifier_hash = $1",
        &[&key],
    )
    .await?
    .map(|row| row.get(0));
    // A concurrent attempt decided at a later instant may have set `last`: never past `window`.
    let left = last.map_or(Duration::zero(), |last| last + window - now);
    let seconds = (left.num_milliseconds().max(0) + 999) / 1000;
    Ok(Some(seconds.clamp(1, window.num_seconds().max(1))))
}

/// What [`reserve_sign_in`] found and counted.
#[derive(Debug)]
pub struct SignInReservation {
    /// The account holding the identifier, if any.
    pub holder: Option<uuid::Uuid>,
    /// The key the attempt counts against: the holder's account key, or the identifier's.
    pub key: Vec<u8>,
    /// Whether the attempt was counted on `key` (false: past its limit, nothing counted).
    pub reserved: bool,
    /// Whether it was counted on the address key, when one was given.
    pub address_reserved: Option<bool>,
    /// The holder's stream in `format` (empty without a holder).
    pub stream: super::event_log::SnapshotAndTail,
}

/// A password sign-in's first statement: finds the account holding an identifier (`kind`,
/// canonical `value`), reserves one attempt (as [`reserve_attempt`], within `limit`) on its
/// account's key (SHA-256 of `account:<id>`, whatever identifier names it) or, with no holder,
/// on `identifier_key`, and on `address` (its key and limit) when given, and reads the
/// holder's snapshot in `format` and the events after it. One statement and one round trip
/// before the password check.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one input of the statement"
)]
pub async fn reserve_sign_in(
    client: &impl GenericClient,
    kind: &str,
    value: &str,
    identifier_key: &[u8],
    address: Option<(&[u8], i32)>,
    now: DateTime<Utc>,
    window: Duration,
    limit: i32,
    format: &str,
) -> Result<SignInReservation, StoreError> {
    let sql = format!(
        "WITH holder AS (SELECT stream_id FROM unique_claims WHERE kind = $1 AND value = $2),
         key AS (
             SELECT coalesce(
                 (SELECT sha256(convert_to('account:' || stream_id::text, 'UTF8')) FROM holder),
                 $3) AS hash
         ),
         reserved AS ({}),
         address_reserved AS ({})
         {}",
        reserve_sql("SELECT hash, 1, $4 FROM key", "$4", "$5", "$6"),
        reserve_sql(
            "SELECT $8::bytea, 1, $4 WHERE $8::bytea IS NOT NULL",
            "$4",
            "$5",
            "$9"
        ),
        super::event_log::snapshot_and_tail_sql(
            "stream.id, stream.key, stream.reserved, stream.address_reserved,",
            "(SELECT (SELECT stream_id FROM holder) AS id, (SELECT hash FROM key) AS key,
                     EXISTS (SELECT 1 FROM reserved) AS reserved,
                     CASE WHEN $8::bytea IS NULL THEN NULL
                          ELSE EXISTS (SELECT 1 FROM address_reserved) END AS address_reserved
             ) AS stream",
            "stream.id",
            "$7",
        )
    );
    let (address_key, address_limit) = address.unzip();
    let rows = super::prepared::query(
        client,
        &sql,
        &[
            &kind,
            &value,
            &identifier_key,
            &now,
            &(now - window),
            &limit,
            &format,
            &address_key,
            &address_limit.unwrap_or(i32::MAX),
        ],
    )
    .await?;
    // The statement always answers a row; without one, nothing is known to be counted.
    let first = rows.first();
    Ok(SignInReservation {
        holder: first.and_then(|row| row.get(0)),
        key: first.map_or_else(|| identifier_key.to_vec(), |row| row.get(1)),
        reserved: first.is_some_and(|row| row.get(2)),
        address_reserved: first.and_then(|row| row.get(3)),
        stream: super::event_log::SnapshotAndTail::from_rows(&rows, 4),
    })
}

/// Counts one more attempt on `key` whatever its limit (one a solved captcha let through); a
/// count older than `window` starts again from one.
pub async fn count_attempt(
    client: &impl GenericClient,
    key: &[u8],
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "INSERT INTO sign_in_throttle (identifier_hash, failures, last_failure_at)
             VALUES ($1, 1, $2)
             ON CONFLICT (identifier_hash) DO UPDATE
                 SET failures = CASE WHEN sign_in_throttle.last_failure_at > $3
                                     THEN sign_in_throttle.failures + 1 ELSE 1 END,
                     last_failure_at = $2",
        &[&key, &now, &(now - window)],
    )
    .await?;
    Ok(())
}

/// Gives back one reserved attempt whose check succeeded, so that it does not count as a
/// failure.
pub async fn release_attempt(client: &impl GenericClient, key: &[u8]) -> Result<(), StoreError> {
    release_attempts(client, &[key.to_vec()]).await
}

/// Gives back one reserved attempt on each of `keys` (a check that succeeded): one statement.
pub async fn release_attempts(
    client: &impl GenericClient,
    keys: &[Vec<u8>],
) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "UPDATE sign_in_throttle SET failures = failures - 1
             WHERE identifier_hash = ANY($1) AND failures > 0",
        &[&keys],
    )
    .await?;
    Ok(())
}

/// Forgets every attempt counted on `key` (after a successful sign-in for an identifier).
pub async fn clear(client: &impl GenericClient, key: &[u8]) -> Result<(), StoreError> {
    super::prepared::execute(
        client,
        "DELETE FROM sign_in_throttle WHERE identifier_hash = $1",
        &[&key],
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
    let inserted = super::prepared::execute(
        client,
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
    let captchas = super::prepared::execute(
        client,
        "DELETE FROM captcha_spent WHERE expires_at < now()",
        &[],
    )
    .await?;
    let failures = super::prepared::execute(
        client,
        "DELETE FROM sign_in_throttle WHERE last_failure_at < $1",
        &[&(Utc::now() - window)],
    )
    .await?;
    let limits = super::prepared::execute(
        client,
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
    let row = super::prepared::query_one(
        client,
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
