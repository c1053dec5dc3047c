//! Sign-in by password, with its throttle (attempts counted per account, unknown identifier
//! and client address before the password is checked) and the captcha that lets one more
//! attempt through.

use super::accounts::from_execute;
use super::executor::{self, CommandMetadata, ExecuteError, InlineWrite};
use super::sessions::SignedIn;
use super::{Context, ServiceError};
use crate::captcha;
use crate::domain::account::Identifier;
use crate::domain::account::{
    Account, AccountCommand, AccountError, IdentifierKind, Proof, SignInFailure, decide,
};
use crate::store::claims::{self, ClaimKind};
use crate::store::throttle;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Failed password sign-ins for one account (or unknown identifier) within `THROTTLE_WINDOW`
/// after which a captcha is required.
const FAILURES_BEFORE_CAPTCHA: i32 = 3;

/// How long failures count: after this long without one, the count starts again.
pub const THROTTLE_WINDOW: chrono::Duration = chrono::Duration::minutes(30);

/// The throttle's key for an identifier: a hash, so that the table holds no identifiers.
fn identifier_hash(kind: ClaimKind, value: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("{kind:?}:{value}").as_bytes()).to_vec()
}

/// The throttle's key for the password sign-ins of a known account, whatever identifier
/// names it.
fn account_throttle_hash(account_id: Uuid) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("account:{account_id}").as_bytes()).to_vec()
}

/// The throttle's key for a client address, beside the identifiers' in the same table.
fn address_hash(ip: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("address:{ip}").as_bytes()).to_vec()
}

/// What a failed sign-in counts against: the identifier, and the client's address when the
/// service limits addresses too.
struct ThrottleKeys {
    identifier: Vec<u8>,
    address: Option<Vec<u8>>,
}

/// Signs in with an identifier and password. Unknown accounts and wrong passwords answer
/// alike, in about the same time.
pub async fn sign_in(
    ctx: &Context,
    identifier: &Identifier,
    password: &str,
    captcha: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    let kind = identifier.kind();
    let (claim_kind, value) = super::accounts::claim_of(identifier);
    let now = ctx.now();
    let (account_id, account, keys) = {
        let client = ctx.pool.get().await?;
        let account_id = claims::holder(&client, claim_kind, &value).await?;
        // Known and unknown identifiers are throttled alike, so that answers reveal
        // nothing. A known one counts against its account, so that its email, username
        // and phone share one allowance. The address counts failures across identifiers.
        // A success gives back only its own attempt: failures stay counted, or a sign-in
        // of the owner's would hand a guesser a fresh allowance.
        let keys = ThrottleKeys {
            identifier: match account_id {
                Some(id) => account_throttle_hash(id),
                None => identifier_hash(claim_kind, &value),
            },
            address: metadata
                .ip
                .as_deref()
                .filter(|_| ctx.policy.sign_in_failures_per_address > 0)
                .map(address_hash),
        };
        reserve_sign_in_attempt(ctx, &client, &keys, captcha, now).await?;
        let account = match account_id {
            Some(id) => executor::load::<Account>(&client, id).await?.state,
            None => Account::default(),
        };
        (account_id, account, keys)
    };
    let verified = ctx.hasher.verify(password, account.password.as_ref()).await;
    let (Some(account_id), true, Some(hash)) = (account_id, verified, account.password) else {
        sign_in_failed(
            ctx,
            account_id,
            kind,
            SignInFailure::WrongPassword,
            metadata,
        )
        .await?;
        return Err(ServiceError::InvalidCredentials);
    };
    // The attempts reserved for this check are given back with the session, in its unit.
    let reserved = std::iter::once(keys.identifier)
        .chain(keys.address)
        .collect();
    match super::sessions::start_session(
        ctx,
        account_id,
        None,
        Proof::Password(hash),
        kind,
        now,
        metadata,
        vec![InlineWrite::ReleaseSignInAttempts(reserved)],
    )
    .await
    {
        Ok(signed_in) => Ok(signed_in),
        Err(ServiceError::AccountBlocked) => {
            sign_in_failed(
                ctx,
                Some(account_id),
                kind,
                SignInFailure::AccountBlocked,
                metadata,
            )
            .await?;
            Err(ServiceError::AccountBlocked)
        }
        Err(error) => Err(error),
    }
}

/// Counts a password sign-in attempt against the identifier and the address before its
/// password is checked, so that parallel tries cannot all pass a limit read before any is
/// counted. Past a limit, the attempt needs a solved captcha (`CaptchaRequired` without
/// one, and then nothing is counted).
async fn reserve_sign_in_attempt(
    ctx: &Context,
    client: &deadpool_postgres::Object,
    keys: &ThrottleKeys,
    captcha: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let address_limit = i32::try_from(ctx.policy.sign_in_failures_per_address).unwrap_or(i32::MAX);
    let limits = std::iter::once((&keys.identifier, FAILURES_BEFORE_CAPTCHA))
        .chain(keys.address.iter().map(|key| (key, address_limit)));
    let (mut reserved, mut over_limit) = (Vec::new(), Vec::new());
    for (key, limit) in limits {
        match throttle::reserve_attempt(client, key, now, THROTTLE_WINDOW, limit).await? {
            None => reserved.push(key),
            Some(_) => over_limit.push(key),
        }
    }
    if over_limit.is_empty() {
        return Ok(());
    }
    if let Err(refused) = spend_captcha(ctx, client, captcha, now).await {
        for key in reserved {
            throttle::release_attempt(client, key).await?;
        }
        return Err(refused);
    }
    for key in over_limit {
        throttle::count_attempt(client, key, now, THROTTLE_WINDOW).await?;
    }
    Ok(())
}

/// A fresh proof-of-work challenge for sign-in protection.
pub fn captcha_challenge(ctx: &Context) -> captcha::Challenge {
    ctx.captcha.challenge(ctx.now())
}

/// Checks and spends a captcha solution; `CaptchaRequired` without one.
pub(super) async fn spend_captcha(
    ctx: &Context,
    client: &deadpool_postgres::Object,
    payload: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let payload = payload.ok_or(ServiceError::CaptchaRequired)?;
    let solution = ctx
        .captcha
        .verify(payload, now)
        .map_err(|_| ServiceError::CaptchaInvalid)?;
    let expires_at = now + captcha::LIFETIME;
    if throttle::spend_captcha(client, &solution.challenge, expires_at).await? {
        Ok(())
    } else {
        Err(ServiceError::CaptchaInvalid)
    }
}

/// Records a failed sign-in in the account's history when it names an account (the attempt
/// was counted before the password was checked).
async fn sign_in_failed(
    ctx: &Context,
    account_id: Option<Uuid>,
    identifier: IdentifierKind,
    reason: SignInFailure,
    metadata: &CommandMetadata,
) -> Result<(), ServiceError> {
    let Some(account_id) = account_id else {
        return Ok(());
    };
    let command = AccountCommand::RecordSignInFailure {
        identifier,
        reason,
        ip: metadata.ip.clone(),
        user_agent: metadata.user_agent.clone(),
        now: ctx.now(),
    };
    // A sign-in is no command to replay: its failure is recorded whatever the key.
    let metadata = CommandMetadata {
        idempotency: None,
        ..metadata.clone()
    };
    match executor::execute::<Account, _>(
        &ctx.pool,
        account_id,
        &metadata,
        |account| decide(account, command.clone()),
        |_, _| Vec::new(),
    )
    .await
    {
        // Deleted meanwhile: nothing to record.
        Ok(_) | Err(ExecuteError::Domain(AccountError::NotFound)) => Ok(()),
        Err(error) => Err(from_execute(error)),
    }
}
