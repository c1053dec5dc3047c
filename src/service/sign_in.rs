//! Sign-in by password, with its throttle (attempts counted per account, unknown identifier
//! and client address before the password is checked) and the captcha that lets one more
//! attempt through.

use super::accounts::{account_inline_writes, from_execute};
use super::executor::{self, CommandMetadata, ExecuteError, InlineWrite, Loaded};
use super::sessions::SignInOutcome;
use super::{Context, ServiceError};
use crate::captcha;
use crate::domain::Aggregate;
use crate::domain::account::Identifier;
use crate::domain::account::{
    Account, AccountCommand, AccountError, IdentifierKind, Proof, SignInFailure, decide,
};
use crate::store::claims::ClaimKind;
use crate::store::throttle;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Failed password sign-ins for one account (or unknown identifier) within `THROTTLE_WINDOW`
/// after which a captcha is required.
const FAILURES_BEFORE_CAPTCHA: i32 = 3;

/// How long failures count: after this long without one, the count starts again.
pub const THROTTLE_WINDOW: chrono::Duration = chrono::Duration::minutes(30);

/// The throttle's key for an identifier not (or no longer) held by an account: its keyed
/// pseudonym, so that the table holds no identifier nor anything a guess can be checked against.
fn identifier_hash(ctx: &Context, kind: ClaimKind, value: &str) -> Vec<u8> {
    ctx.pseudonyms
        .of("sign-in-identifier", &format!("{kind:?}:{value}"))
        .to_vec()
}

// The key of a known account's password sign-ins, whatever identifier names it, is the
// SHA-256 of `account:<id>`, made in the statement that finds the account
// (`throttle::reserve_sign_in`): an account id is a pseudonym already.

/// The throttle's key for a client address, beside the identifiers' in the same table: its
/// keyed pseudonym.
fn address_hash(ctx: &Context, ip: &str) -> Vec<u8> {
    ctx.pseudonyms.of("sign-in-address", ip).to_vec()
}

/// What a failed sign-in counts against: the identifier, and the client's address when the
/// service limits addresses too.
struct ThrottleKeys {
    identifier: Vec<u8>,
    address: Option<Vec<u8>>,
}

/// Signs in with an identifier and password: a session, or, for an account with a second
/// factor, a challenge for it. Unknown accounts and wrong passwords answer alike, in about the
/// same time.
pub async fn sign_in(
    ctx: &Context,
    identifier: &Identifier,
    password: &str,
    captcha: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<SignInOutcome, ServiceError> {
    let kind = identifier.kind();
    let (claim_kind, value) = super::accounts::claim_of(identifier);
    let now = ctx.now();
    // Known and unknown identifiers are throttled alike, so that answers reveal nothing. A
    // known one counts against its account, so that its email, username and phone share one
    // allowance. The address counts failures across identifiers. A success gives back only
    // its own attempt: failures stay counted, or a sign-in of the owner's would hand a
    // guesser a fresh allowance.
    let address = metadata
        .ip
        .as_deref()
        .filter(|_| ctx.policy.sign_in_failures_per_address > 0)
        .map(|ip| address_hash(ctx, ip));
    let address_limit = i32::try_from(ctx.policy.sign_in_failures_per_address).unwrap_or(i32::MAX);
    let (account_id, loaded, keys) = {
        let client = ctx.pool.get().await?;
        let found = throttle::reserve_sign_in(
            &client,
            claim_kind.as_str(),
            &value,
            &identifier_hash(ctx, claim_kind, &value),
            address.as_deref().map(|key| (key, address_limit)),
            now,
            THROTTLE_WINDOW,
            FAILURES_BEFORE_CAPTCHA,
            Account::snapshot_format(),
        )
        .await?;
        let keys = ThrottleKeys {
            identifier: found.key,
            address,
        };
        let mut reserved = Vec::new();
        let mut over_limit = Vec::new();
        let outcomes = std::iter::once((&keys.identifier, found.reserved))
            .chain(keys.address.iter().zip(found.address_reserved));
        for (key, counted) in outcomes {
            match counted {
                true => reserved.push(key),
                false => over_limit.push(key),
            }
        }
        past_limits(ctx, &client, &reserved, &over_limit, captcha, now).await?;
        let loaded = match found.holder {
            Some(id) => Some(
                executor::fold_snapshot_and_tail::<Account>(&ctx.keys, &client, id, found.stream)
                    .await?,
            ),
            None => None,
        };
        (found.holder, loaded, keys)
    };
    let hash = loaded
        .as_ref()
        .and_then(|loaded| loaded.state.password.as_ref());
    let verified = ctx.hasher.verify(password, hash).await;
    let (Some(account_id), true, Some(loaded), Some(hash)) =
        (account_id, verified, &loaded, hash.cloned())
    else {
        sign_in_failed(
            ctx,
            account_id.map(|id| (id, loaded)),
            kind,
            SignInFailure::WrongPassword,
            metadata,
        )
        .await?;
        return Err(ServiceError::InvalidCredentials);
    };
    // The attempts reserved for this check are given back with the session, in its unit.
    let reserved: Vec<Vec<u8>> = std::iter::once(keys.identifier)
        .chain(keys.address)
        .collect();
    // Most often nothing wrote the account since it was read: the session starts in one
    // statement at the version read, without taking the stream's lock and reading it again.
    // An account with a second factor is challenged for it in a unit.
    if metadata.idempotency.is_none() && !loaded.state.factors.enabled() {
        if let Some(signed_in) = super::sessions::start_session_at_version(
            ctx,
            account_id,
            loaded,
            Proof::Password(hash.clone()),
            kind,
            now,
            metadata,
            &reserved,
        )
        .await?
        {
            return Ok(SignInOutcome::SignedIn(signed_in));
        }
    }
    match super::sessions::sign_in_in_unit(
        ctx,
        account_id,
        Proof::Password(hash),
        kind,
        now,
        metadata,
        vec![InlineWrite::ReleaseSignInAttempts(reserved)],
    )
    .await
    {
        Ok(outcome) => Ok(outcome),
        // A blocked account is refused and recorded. So is a password that the account changed
        // after it was checked: the one given is wrong now, and the attempt stays counted.
        Err(refused @ (ServiceError::AccountBlocked | ServiceError::InvalidCredentials)) => {
            let reason = match refused {
                ServiceError::AccountBlocked => SignInFailure::AccountBlocked,
                _ => SignInFailure::WrongPassword,
            };
            sign_in_failed(ctx, Some((account_id, None)), kind, reason, metadata).await?;
            Err(refused)
        }
        // Deleted after the password was checked, the account is unknown now.
        Err(ServiceError::AccountNotFound) => Err(ServiceError::InvalidCredentials),
        Err(error) => Err(error),
    }
}

/// Past a limit (`over_limit`, where the attempt was not counted), the attempt needs a solved
/// captcha: `CaptchaRequired` without one, and then the attempts `reserved` on the other keys
/// are given back, so that nothing is counted; with one, it counts on those keys too.
async fn past_limits(
    ctx: &Context,
    client: &deadpool_postgres::Object,
    reserved: &[&Vec<u8>],
    over_limit: &[&Vec<u8>],
    captcha: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
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
/// was counted before the password was checked): in one statement at the version `account`
/// was read at, when given and still its version, or else under the account's lock.
pub(super) async fn sign_in_failed(
    ctx: &Context,
    account: Option<(Uuid, Option<Loaded<Account>>)>,
    identifier: IdentifierKind,
    reason: SignInFailure,
    metadata: &CommandMetadata,
) -> Result<(), ServiceError> {
    let Some((account_id, loaded)) = account else {
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
    if let Some(loaded) = loaded {
        let alone = executor::try_alone::<Account, _>(
            ctx,
            account_id,
            None,
            &metadata,
            &loaded,
            |account| decide(account, command.clone()),
            account_inline_writes,
        )
        .await;
        match alone {
            Ok(Some(_)) | Err(ExecuteError::Domain(AccountError::NotFound)) => return Ok(()),
            Ok(None) => {}
            Err(error) => return Err(from_execute(error)),
        }
    }
    match executor::execute::<Account, _>(
        ctx,
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
