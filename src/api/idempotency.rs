//! `Idempotency-Key` on commands (POST, PUT, PATCH, DELETE).
//!
//! Before the operation runs, a key already seen in the caller's scope is looked up: with the
//! same request (method, path, body) its stored answer is replayed (`Idempotent-Replayed: true`);
//! with another request the answer is 422 `idempotency_key_reused`. A new key travels to the
//! command executor, which claims it in the command's own transaction, so a command commits at
//! most once per key even when two retries race. That transaction commits here, once the
//! answer is known, with the answer stored in it (sealed, because it may hold a session
//! token): a command that committed always replays its answer, whatever crashes after, and
//! one that did not commit leaves its key free for the retry. Once a bearer token's session
//! has ended, its keys replay no answer with a body (`401`), and a key tried with
//! `MAX_MISMATCHES` other requests replays nothing any more.

use super::edge::AllowedMethods;
use super::i18n::Language;
use super::problem::{ApiError, FieldCode, ProblemCode};
use crate::secrets::SecretBox;
use crate::service::ServiceError;
use crate::service::executor::{IdempotencyClaim, PendingCommit};
use crate::store::StoreError;
use crate::store::idempotency::{self, StoredResponse};
use deadpool_postgres::Pool;
use poem::http::{StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError};
use std::time::Duration;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The response header on command answers.
pub const POSITION_HEADER: &str = "Accounts-Position";
const REPLAYED_HEADER: &str = "Idempotent-Replayed";
const MAX_KEY_LEN: usize = 255;
/// How long a racing retry waits for the first request's answer before 409.
const RACE_WAIT: Duration = Duration::from_secs(5);

/// The operations whose answers hold a secret shown once (a TOTP secret, recovery codes): a
/// retry under the key is told `409 shown_once` rather than shown it again, since by then the
/// session may no longer be allowed what it took to see it (a step-up's 10 minutes, say).
const SHOWN_ONCE: &[(&str, &str)] = &[
    ("POST", "/v1/me/mfa/totp"),
    ("POST", "/v1/me/mfa/totp/confirm"),
    ("POST", "/v1/me/mfa/recovery-codes"),
    ("POST", "/v1/me/passkeys/register/finish"),
];

/// Whether requests with this method are commands, which take an `Idempotency-Key`.
pub fn is_command_method(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// Declares the `Idempotency-Key` header on every command of an OpenAPI document (`spec`),
/// as its first parameter: the one place the header is described, since this layer, not the
/// operations, acts on it.
pub fn declare_header(spec: &mut serde_json::Value) {
    let parameter = serde_json::json!({
        "name": HEADER,
        "schema": {
            "type": "string", "maxLength": MAX_KEY_LEN, "minLength": 1,
            // Visible ASCII (RFC 9110 VCHAR): no spaces, no control characters.
            "pattern": "^[!-~]+$"
        },
        "in": "header",
        "description": "Makes a retry safe: the same key with the same request replays the \
            first answer;\nwith another request it is `422 idempotency_key_reused`, and after 5 \
            other requests the key replays nothing. Kept 24 hours per caller (without a bearer \
            token: per client address and request); once the caller's session ended, no answer \
            with a body is replayed (`401`).",
        "required": false,
        "deprecated": false,
        "explode": true,
    });
    for (method, operation) in super::spec_index::operations_mut(spec) {
        if !is_command_method(&method.to_ascii_uppercase()) {
            continue;
        }
        let Some(operation) = operation.as_object_mut() else {
            continue;
        };
        if !operation.contains_key("parameters") {
            // Where poem-openapi puts them: before the body and the responses.
            let at = operation
                .keys()
                .position(|key| key == "requestBody" || key == "responses")
                .unwrap_or(operation.len());
            operation.shift_insert(at, "parameters".to_owned(), serde_json::json!([]));
        }
        if let Some(parameters) = operation["parameters"].as_array_mut() {
            parameters.insert(0, parameter.clone());
        }
    }
}

/// Applies idempotency keys to commands.
pub async fn with_idempotency<E: Endpoint>(
    next: E,
    mut req: Request,
    pool: Pool,
    secrets: SecretBox,
    allowed: AllowedMethods,
) -> poem::Result<Response> {
    // Only requests that reach a command: a wrong method or path is answered by the router.
    let is_command = is_command_method(req.method().as_str())
        && allowed.allows(req.uri().path(), req.method().as_str());
    // A key with anything but visible ASCII (RFC 9110 VCHAR), or given twice, reads as
    // empty: refused below, not ignored.
    let given: Vec<&poem::http::HeaderValue> = req.headers().get_all(HEADER).iter().collect();
    let key = match given.as_slice() {
        [] => None,
        [value] if value.as_bytes().iter().all(u8::is_ascii_graphic) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        _ => Some(String::new()),
    };
    let (true, Some(key)) = (is_command, key) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError::bad_parameter(
            HEADER,
            FieldCode::InvalidHeader,
            "give one Idempotency-Key of 1 to 255 visible ASCII characters (no spaces)",
        )
        .into());
    }
    // An ended session's key replays no answer that holds something (see `previous_answer`).
    let bearer = bearer_hash(&req);
    let bearer = bearer.as_deref();
    let body = req.take_body().into_bytes().await?;
    let fingerprint = request_fingerprint(&req, &body);
    let claim = IdempotencyClaim::new(caller_scope(&req, &fingerprint), key, fingerprint);
    req.set_body(body);
    // Requests with one key take turns in this process, so that a burst of duplicates waits
    // for the first answer instead of spending attempts and rate limits of its own.
    let _turn = KeyTurn::take(&claim).await;

    match previous_answer(&pool, &secrets, &claim, bearer).await {
        Ok(Some(replay)) => return Ok(replay),
        Ok(None) => {}
        // The first request has committed but not yet stored its answer.
        Err(error) if is_key_in_use(&error) => {
            return await_first_answer(&pool, &secrets, &claim, bearer).await;
        }
        Err(error) => return Err(error),
    }
    let shown_once = SHOWN_ONCE.contains(&(req.method().as_str(), req.uri().path()));
    req.extensions_mut().insert(claim.clone());
    let language = Language::of(&req);
    // An error kept as an answer is the problem answer the edge would make of it.
    let answer_of = |error: poem::Error| ApiError::from_poem(&error).to_response(language);
    let outcome = next.call(req).await.map(IntoResponse::into_response);
    if let Some(pending) = claim.take_pending() {
        // The command succeeded: it commits with its answer, or not at all.
        let response = outcome.unwrap_or_else(answer_of);
        return commit_with_answer(pending, &secrets, &claim, response, shown_once).await;
    }
    match outcome {
        Err(error) if is_key_in_use(&error) => {
            await_first_answer(&pool, &secrets, &claim, bearer).await
        }
        // It changed nothing; its answer is kept so that a retry replays it rather than
        // acting on whatever changed in between.
        Ok(response) if response.status().is_success() && claim.succeeded_unchanged() => {
            keep_answer(&pool, &secrets, &claim, response, shown_once).await
        }
        Ok(response) if response.status().is_success() => Ok(response),
        refused => {
            // A retry that raced the first request and lost, refused because the first one's
            // change is made now (an email taken by itself, say): the first answer is the answer.
            if let Ok(Some(replay)) = previous_answer(&pool, &secrets, &claim, bearer).await {
                return Ok(replay);
            }
            let response = refused.unwrap_or_else(answer_of);
            // Refused on the account's state as it was: the retry gets this answer, not a
            // decision on whatever changed since. Refusals that may pass are not kept.
            if claim.refused_in_unit() && is_lasting_refusal(response.status()) {
                return keep_answer(&pool, &secrets, &claim, response, false).await;
            }
            Ok(response)
        }
    }
}

/// This process's requests under one key, one at a time (bounded by `RACE_WAIT`; after it a
/// request goes on, and the key's claim in the database still lets one command commit).
struct KeyTurn {
    key: Vec<u8>,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

type KeyLocks = std::sync::Mutex<HashMap<Vec<u8>, Arc<tokio::sync::Mutex<()>>>>;

fn key_locks() -> &'static KeyLocks {
    static LOCKS: OnceLock<KeyLocks> = OnceLock::new();
    LOCKS.get_or_init(KeyLocks::default)
}

impl KeyTurn {
    async fn take(claim: &IdempotencyClaim) -> Self {
        let mut key = claim.scope.clone();
        key.extend_from_slice(claim.key.as_bytes());
        let lock = key_locks()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.clone())
            .or_default()
            .clone();
        let guard = tokio::time::timeout(RACE_WAIT, lock.clone().lock_owned())
            .await
            .ok();
        Self { key, lock, guard }
    }
}

impl Drop for KeyTurn {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut locks = key_locks().lock().unwrap_or_else(PoisonError::into_inner);
        // Only the map and this turn hold it: nobody waits, so the entry goes.
        if Arc::strong_count(&self.lock) == 2 {
            locks.remove(&self.key);
        }
    }
}

/// The SHA-256 of the request's bearer token, as sessions keep it: `None` without an
/// `Authorization` header, and an empty hash (no session's) for one that names no token.
fn bearer_hash(req: &Request) -> Option<Vec<u8>> {
    let credentials = req.headers().get(header::AUTHORIZATION)?;
    let token = credentials
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    Some(match token.is_empty() {
        true => Vec::new(),
        false => crate::credentials::session_token_hash(token),
    })
}

/// Keys belong to the caller: the bearer token's holder. A caller who is not signed in has no
/// identity to keep keys under, so an anonymous key belongs to its client address and its own
/// request: the same request from there replays, and any other request is a new one, never an
/// answer about the first (a `422` for a wrong password or code, a replay for the right one,
/// would tell whoever learnt the key the secret with no throttle in the way).
fn caller_scope(req: &Request, fingerprint: &[u8]) -> Vec<u8> {
    let mut scope = Sha256::new();
    match req.headers().get(header::AUTHORIZATION) {
        Some(credentials) => scope.update(credentials.as_bytes()),
        None => {
            scope.update(b"anonymous\0");
            if let Some(client) = req.extensions().get::<super::edge::ClientIp>() {
                scope.update(client.0.to_string());
            }
            scope.update([0]);
            scope.update(fingerprint);
        }
    }
    scope.finalize().to_vec()
}

/// What identifies a request under its key: method, path and query, and the body by meaning.
/// A JSON body counts as its value with keys sorted (spacing and key order do not make another
/// request), and an empty body, `null` and `{}` alike as none, as the edge takes them.
fn request_fingerprint(req: &Request, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update([0]);
    hasher.update(req.uri().path_and_query().map_or("", |pq| pq.as_str()));
    hasher.update([0]);
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) if super::body_types::is_no_body(&value) => {}
        Ok(value) => hasher.update(sorted_keys(value).to_string()),
        Err(_) if body.iter().all(u8::is_ascii_whitespace) => {}
        Err(_) => hasher.update(body),
    }
    hasher.finalize().to_vec()
}

/// `value` with the keys of every object in sorted order.
fn sorted_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(object) => {
            let mut fields: Vec<(String, Value)> = object.into_iter().collect();
            fields.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key, sorted_keys(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

fn is_key_in_use(error: &poem::Error) -> bool {
    error
        .downcast_ref::<ApiError>()
        .is_some_and(|api| api.code == ProblemCode::IdempotencyKeyInUse)
}

fn store_error(error: StoreError) -> poem::Error {
    ApiError::from(ServiceError::from(error)).into()
}

/// The stored answer for a key seen before, or the reason it cannot be given. A caller whose
/// bearer token (its hash, `bearer`) is no longer a live session's gets no stored answer with
/// a body (a session token, a TOTP secret, recovery codes are nobody's once their session
/// ended): `401`. The session is looked up only then.
async fn previous_answer(
    pool: &Pool,
    secrets: &SecretBox,
    claim: &IdempotencyClaim,
    bearer: Option<&[u8]>,
) -> poem::Result<Option<Response>> {
    let client = pool.get().await.map_err(|e| store_error(e.into()))?;
    let Some(seen) = idempotency::lookup(&client, &claim.scope, &claim.key)
        .await
        .map_err(store_error)?
    else {
        return Ok(None);
    };
    if seen.fingerprint != claim.fingerprint {
        idempotency::count_mismatch(&client, &claim.scope, &claim.key)
            .await
            .map_err(store_error)?;
        return Err(ApiError::new(ProblemCode::IdempotencyKeyReused).into());
    }
    // A key tried with many other requests may be a search for the one that replays it: it
    // replays nothing any more.
    if seen.mismatches >= idempotency::MAX_MISMATCHES {
        return Err(ApiError::new(ProblemCode::IdempotencyKeyReused).into());
    }
    let Some(stored) = seen.response else {
        return Err(ApiError::from(ServiceError::IdempotencyKeyInUse).into());
    };
    let success = stored.status / 100 == 2;
    if let Some(token_hash) = bearer.filter(|_| success && stored.has_body()) {
        ensure_live(&client, token_hash).await?;
    }
    let body = open_body(secrets, &stored)?;
    // An answer that opened a session (a sign-in or sign-up) gives its token again only while
    // that session lives: a signed-out session is nobody's to hand out.
    if let Some(token) = session_token_in(&body).filter(|_| success) {
        ensure_live(&client, &crate::credentials::session_token_hash(&token)).await?;
    }
    Ok(Some(replay(&stored, body)))
}

/// `401` unless the session token whose hash is `token_hash` is a live session's.
async fn ensure_live(client: &deadpool_postgres::Object, token_hash: &[u8]) -> poem::Result<()> {
    let live = crate::store::sessions::is_token_live(client, token_hash)
        .await
        .map_err(store_error)?;
    match live {
        true => Ok(()),
        false => Err(ApiError::from(ServiceError::Unauthenticated).into()),
    }
}

/// The session token an answer's JSON body carries, if any: a sign-in's (`{token,
/// session_id, ...}`) or a sign-up's (`{session: {token, ...}, ...}`).
fn session_token_in(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let session = match json.get("session_id") {
        Some(_) => &json,
        None => json.get("session")?,
    };
    session.get("token")?.as_str().map(str::to_owned)
}

/// The stored answer's body, opened.
fn open_body(secrets: &SecretBox, stored: &StoredResponse) -> poem::Result<Vec<u8>> {
    secrets
        .open(&stored.sealed_body)
        .map_err(|error| ApiError::from(ServiceError::Internal(anyhow::Error::new(error))).into())
}

/// A retry that raced the first request: wait (bounded) for the first answer to be stored.
async fn await_first_answer(
    pool: &Pool,
    secrets: &SecretBox,
    claim: &IdempotencyClaim,
    bearer: Option<&[u8]>,
) -> poem::Result<Response> {
    let deadline = tokio::time::Instant::now() + RACE_WAIT;
    let mut pause = Duration::from_millis(10);
    loop {
        match previous_answer(pool, secrets, claim, bearer).await {
            Ok(Some(response)) => return Ok(response),
            Err(error) if is_key_in_use(&error) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Ok(None) => return Err(ApiError::from(ServiceError::IdempotencyKeyInUse).into()),
            Err(error) => return Err(error),
        }
    }
}

fn replay(stored: &StoredResponse, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = Response::builder().status(status);
    if !body.is_empty() {
        response = response.content_type(if status.is_client_error() {
            "application/problem+json"
        } else {
            "application/json; charset=utf-8"
        });
    }
    if let Some(position) = stored.position {
        response = response.header(POSITION_HEADER, position);
    }
    response.header(REPLAYED_HEADER, "true").body(body)
}

/// Whether a refusal with `status` stands for the request as it was (a 4xx other than those
/// that may pass: unauthenticated, timed out, too large, too early, captcha or rate limits).
fn is_lasting_refusal(status: StatusCode) -> bool {
    status.is_client_error()
        && ![
            StatusCode::UNAUTHORIZED,
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::TOO_EARLY,
            StatusCode::PRECONDITION_REQUIRED,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(&status)
}

/// Keeps an answer that changed nothing under its key (a command that changed nothing, or a
/// refusal), and returns it; the first answer when a concurrent request with the key got
/// there first.
async fn keep_answer(
    pool: &Pool,
    secrets: &SecretBox,
    claim: &IdempotencyClaim,
    response: Response,
    shown_once: bool,
) -> poem::Result<Response> {
    let (parts, bytes, stored) = answer_to_store(secrets, response, shown_once).await?;
    let client = pool.get().await.map_err(|e| store_error(e.into()))?;
    let kept = idempotency::claim(
        &client,
        &claim.scope,
        &claim.key,
        &claim.fingerprint,
        Some(&stored),
    )
    .await;
    match kept {
        Ok(()) => return Ok(Response::from_parts(parts, bytes.into())),
        Err(StoreError::IdempotencyKeyTaken) => {}
        Err(error) => return Err(store_error(error)),
    }
    match previous_answer(pool, secrets, claim, None).await? {
        Some(first) => Ok(first),
        None => Ok(Response::from_parts(parts, bytes.into())),
    }
}

/// An answer's parts and body, and the sealed form kept for retries: for a success that
/// showed a secret once (`shown_once`), a `409 shown_once` problem in its place.
async fn answer_to_store(
    secrets: &SecretBox,
    response: Response,
    shown_once: bool,
) -> poem::Result<(poem::ResponseParts, bytes::Bytes, StoredResponse)> {
    let (parts, body) = response.into_parts();
    let bytes = body.into_bytes().await?;
    let position = parts
        .headers
        .get(POSITION_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let stored = if shown_once && parts.status.is_success() {
        let problem = ApiError::new(ProblemCode::ShownOnce).to_response(Language::En);
        let status = problem.status().as_u16();
        StoredResponse {
            status,
            position,
            sealed_body: secrets.seal(&problem.into_body().into_bytes().await?),
        }
    } else {
        StoredResponse {
            status: parts.status.as_u16(),
            position,
            sealed_body: secrets.seal(&bytes),
        }
    };
    Ok((parts, bytes, stored))
}

/// Commits a succeeded command with its answer stored for retries, and returns the answer;
/// 503 when the commit fails (the retry then replays the answer or runs the command).
async fn commit_with_answer(
    pending: PendingCommit,
    secrets: &SecretBox,
    claim: &IdempotencyClaim,
    response: Response,
    shown_once: bool,
) -> poem::Result<Response> {
    let (parts, bytes, stored) = answer_to_store(secrets, response, shown_once).await?;
    pending
        .commit_with_answer(claim, &stored)
        .await
        .map_err(store_error)?;
    crate::faults::point("idempotency.after_commit").await;
    Ok(Response::from_parts(parts, bytes.into()))
}
