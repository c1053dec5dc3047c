//! Passkeys (WebAuthn Level 2 with user verification): registering one (a two-step ceremony
//! begun by a signed-in caller who proves the password, or a fresh sign-in, and the step-up),
//! removing one (a step-up action), and signing in with a discoverable one alone. Answering a
//! sign-in's challenge with a passkey is in [`super::second_factor::answer_challenge`].
//!
//! A ceremony's state waits in `passkey_ceremonies` for `CEREMONY_TTL`, taken once by its
//! finish. Passwordless starts are anonymous: each client address begins at most
//! `SIGN_INS_PER_ADDRESS` of them per `SIGN_IN_WINDOW`.

use super::accounts::{self, run_own_command};
use super::executor::CommandMetadata;
use super::second_factor::{StepUpCheck, account_label, prove_presence};
use super::sessions::{NewSessionPlan, SignedIn};
use super::{Context, ServiceError};
use crate::credentials::{self, IssuedToken};
use crate::domain::account::{
    AccountCommand, AccountEvent, IdentifierKind, PasskeyName, Proof, RegisteredPasskey,
    SignInFailure,
};
use crate::factors;
use crate::store::ceremonies::{self, NewCeremony, Purpose};
use crate::store::sessions::ActiveSession;
use crate::store::throttle;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// How long a ceremony waits for its finish.
pub const CEREMONY_TTL: chrono::Duration = chrono::Duration::minutes(5);

/// Passwordless sign-ins one client address may begin per `SIGN_IN_WINDOW`.
pub const SIGN_INS_PER_ADDRESS: i32 = 60;

/// The window `SIGN_INS_PER_ADDRESS` counts over.
pub const SIGN_IN_WINDOW: chrono::Duration = chrono::Duration::minutes(5);

/// A ceremony begun: what the client's authenticator takes, and the token its finish sends.
pub struct CeremonyStarted {
    /// The token naming the ceremony (only its SHA-256 is kept).
    pub ceremony: String,
    /// WebAuthn options (`{publicKey: {...}}`) for `navigator.credentials.create()` or
    /// `.get()`.
    pub options: serde_json::Value,
    /// When the ceremony dies unfinished.
    pub expires_at: DateTime<Utc>,
}

/// Begins registering a passkey for the caller: confirmed by the account's password when it
/// has one (else by a session started within the step-up window, `RecentSignInRequired`), and
/// by a step-up when the account has a second factor. `EmailNotVerified` while the account's
/// address is unproven; `PasskeyLimitReached` at `PASSKEYS_PER_ACCOUNT`.
pub async fn start_registration(
    ctx: &Context,
    caller: ActiveSession,
    password: Option<&str>,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<CeremonyStarted, ServiceError> {
    let account = accounts::account(ctx, caller.account_id).await?.state;
    if account.email_unproven() {
        return Err(ServiceError::EmailNotVerified);
    }
    if account.factors.passkeys.len() >= crate::domain::account::PASSKEYS_PER_ACCOUNT {
        return Err(ServiceError::PasskeyLimitReached);
    }
    let verified_password = prove_presence(ctx, caller, &account, password).await?;
    let check = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let label = account_label(&account, caller.account_id);
    let ceremony =
        ctx.passkeys
            .start_registration(caller.account_id, &label, &account.factors.passkeys)?;
    let now = ctx.now();
    let command = AccountCommand::StartPasskeyRegistration {
        verified_password,
        step_up: check.step_up.clone(),
        now,
    };
    let outcome = run_own_command(ctx, caller, metadata, command).await;
    let committed = check.settle(ctx, outcome).await?;
    // What the start proved goes with the ceremony: a finish on an account that has gained a
    // second factor since needed a step-up this start did not ask for.
    let ceremony = crate::passkeys::Ceremony {
        state: serde_json::json!({
            "webauthn": ceremony.state,
            "second_factor": committed.state.factors.enabled(),
        }),
        options: ceremony.options,
    };
    begin(ctx, Purpose::Registration, Some(caller), ceremony, now).await
}

/// Keeps `ceremony`'s state for its finish (by `caller`'s session, unless a sign-in) and
/// gives the client its options and token.
async fn begin(
    ctx: &Context,
    purpose: Purpose,
    caller: Option<ActiveSession>,
    ceremony: crate::passkeys::Ceremony,
    now: DateTime<Utc>,
) -> Result<CeremonyStarted, ServiceError> {
    let IssuedToken { token, hash } = credentials::issue_session_token();
    let expires_at = now + CEREMONY_TTL;
    ceremonies::open(
        &ctx.pool.get().await?,
        &NewCeremony {
            token_hash: hash,
            purpose,
            account_id: caller.map(|caller| caller.account_id),
            session_id: caller.map(|caller| caller.id),
            state: ceremony.state,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok(CeremonyStarted {
        ceremony: token,
        options: ceremony.options,
        expires_at,
    })
}

/// Takes the live ceremony `token` for `purpose` (begun by `caller`'s session, unless a
/// sign-in): its state, once. `PasskeyCeremonyExpired` when it is unknown, expired, finished
/// or another session's.
async fn take(
    ctx: &Context,
    token: &str,
    purpose: Purpose,
    caller: Option<ActiveSession>,
) -> Result<serde_json::Value, ServiceError> {
    ceremonies::take(
        &ctx.pool.get().await?,
        &credentials::session_token_hash(token),
        purpose,
        caller.map(|caller| caller.id),
        ctx.now(),
    )
    .await?
    .ok_or(ServiceError::PasskeyCeremonyExpired)
}

/// A passkey registered.
pub struct PasskeyRegistered {
    /// The passkey.
    pub passkey: RegisteredPasskey,
    /// Recovery codes, shown once, when the passkey is the account's first second factor and
    /// it had none.
    pub recovery_codes: Option<Vec<String>>,
    /// Log position of the command's last event.
    pub position: i64,
}

/// Finishes the caller's registration `ceremony` with the authenticator's `credential`
/// (`PublicKeyCredential` JSON from `navigator.credentials.create()`), naming the passkey
/// `name`. `PasskeyCeremonyExpired` when the ceremony is unknown, expired, finished or another
/// session's; a credential that does not verify is a validation failure naming `credential`
/// (the ceremony is spent either way).
pub async fn finish_registration(
    ctx: &Context,
    caller: ActiveSession,
    ceremony: &str,
    name: PasskeyName,
    credential: &serde_json::Value,
    metadata: &CommandMetadata,
) -> Result<PasskeyRegistered, ServiceError> {
    let credential = crate::passkeys::registration(credential)
        .map_err(|error| credential_malformed("credential", &error))?;
    let now = ctx.now();
    let mut kept = take(ctx, ceremony, Purpose::Registration, Some(caller)).await?;
    let stepped_up = kept["second_factor"].as_bool().unwrap_or(false);
    let (credential_id, credential) = ctx
        .passkeys
        .finish_registration(&credential, kept["webauthn"].take())
        .map_err(|refused| credential_refused(&refused.0))?;
    let (codes, hashes) = factors::new_recovery_codes(&ctx.secrets);
    let passkey_id = Uuid::now_v7();
    let committed = run_own_command(
        ctx,
        caller,
        metadata,
        AccountCommand::AddPasskey {
            passkey_id,
            name,
            credential_id,
            credential,
            recovery_codes: hashes,
            stepped_up,
            session_id: caller.id,
            now,
        },
    )
    .await?;
    let issued = committed
        .events
        .iter()
        .any(|event| matches!(event, AccountEvent::RecoveryCodesGenerated { .. }));
    let passkey = committed
        .state
        .factors
        .passkeys
        .iter()
        .find(|passkey| passkey.id == passkey_id)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("passkey {passkey_id} missing after PasskeyAdded"))?;
    Ok(PasskeyRegistered {
        passkey,
        recovery_codes: issued.then_some(codes),
        position: committed.position,
    })
}

/// Removes the caller's passkey `passkey_id`: a step-up action (`StepUpRequired` without a
/// second factor proven lately in the session or `mfa_code`); `PasskeyNotFound` when the
/// caller has no such passkey. The recovery codes go with the last second factor.
pub async fn remove(
    ctx: &Context,
    caller: ActiveSession,
    passkey_id: Uuid,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let now = ctx.now();
    let committed =
        super::second_factor::run_step_up_command(ctx, caller, mfa_code, metadata, |step_up| {
            AccountCommand::RemovePasskey {
                passkey_id,
                step_up,
                now,
            }
        })
        .await?;
    Ok(committed.position)
}

/// Begins a step-up with a passkey: options for an assertion by one of the caller's passkeys.
/// Its finish records that the session proved a second factor, so that step-up actions need
/// no other for the step-up window. `PasskeyNotFound` when the caller has no passkey.
pub async fn start_step_up(
    ctx: &Context,
    caller: ActiveSession,
) -> Result<CeremonyStarted, ServiceError> {
    let account = accounts::account(ctx, caller.account_id).await?.state;
    if account.factors.passkeys.is_empty() {
        return Err(ServiceError::PasskeyNotFound);
    }
    let ceremony = ctx.passkeys.start_assertion(&account.factors.passkeys)?;
    begin(ctx, Purpose::StepUp, Some(caller), ceremony, ctx.now()).await
}

/// Finishes the caller's step-up `ceremony` with the authenticator's assertion: the session
/// has proved a second factor now (`StepUpProven`). `PasskeyCeremonyExpired` for a ceremony
/// unknown, expired, finished or another session's; an assertion that does not verify (or a
/// passkey removed since, or a counter that did not go forward) is a validation failure naming
/// `credential`, recorded as a failed step-up and counted as a wrong step-up code is.
pub async fn finish_step_up(
    ctx: &Context,
    caller: ActiveSession,
    ceremony: &str,
    credential: &serde_json::Value,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let credential = crate::passkeys::assertion(credential)
        .map_err(|error| credential_malformed("credential", &error))?;
    let state = take(ctx, ceremony, Purpose::StepUp, Some(caller)).await?;
    let factor = ctx
        .passkeys
        .finish_assertion(&credential, state, caller.account_id)
        .ok();
    match super::second_factor::prove_step_up(ctx, caller, factor, metadata).await {
        Err(ServiceError::MfaInvalid) => Err(credential_refused(
            "no passkey of the account's verified this assertion",
        )),
        outcome => outcome,
    }
}

/// Begins a passwordless sign-in: options for a discoverable assertion (any passkey the
/// user's authenticator holds for the RP ID). `TooManyRequests` past the client address's
/// `SIGN_INS_PER_ADDRESS`.
pub async fn start_sign_in(
    ctx: &Context,
    metadata: &CommandMetadata,
) -> Result<CeremonyStarted, ServiceError> {
    let now = ctx.now();
    let client = ctx.pool.get().await?;
    if let Some(ip) = &metadata.ip {
        let key = ctx.pseudonyms.of("passkey_sign_ins_per_ip", ip);
        if let Some(retry_after) =
            throttle::hit_rate_limit(&client, &key, now, SIGN_IN_WINDOW, SIGN_INS_PER_ADDRESS)
                .await?
        {
            return Err(ServiceError::TooManyRequests(retry_after));
        }
    }
    drop(client);
    let ceremony = ctx.passkeys.start_discoverable()?;
    begin(ctx, Purpose::SignIn, None, ceremony, now).await
}

/// Finishes a passwordless sign-in with the authenticator's assertion (`PublicKeyCredential`
/// JSON from `navigator.credentials.get()`): its user handle names the account, its
/// credential one of the account's passkeys, and with a valid, user-verified signature the
/// session starts at AAL2 (the passkey is both factors). `PasskeyCeremonyExpired` when the
/// ceremony is unknown, expired or finished; `PasskeyInvalid` for an assertion that names no
/// passkey of a live account or does not verify (recorded on the account it named as a failed
/// sign-in); `AccountBlocked` for a blocked account.
pub async fn finish_sign_in(
    ctx: &Context,
    ceremony: &str,
    credential: &serde_json::Value,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    let credential = crate::passkeys::assertion(credential)
        .map_err(|error| credential_malformed("credential", &error))?;
    let now = ctx.now();
    let state = take(ctx, ceremony, Purpose::SignIn, None).await?;
    let (account_id, credential_id) = ctx
        .passkeys
        .identify(&credential)
        .map_err(|_| ServiceError::PasskeyInvalid)?;
    let loaded = match accounts::account(ctx, account_id).await {
        Ok(loaded) => loaded,
        Err(ServiceError::AccountNotFound) => return Err(ServiceError::PasskeyInvalid),
        Err(error) => return Err(error),
    };
    let Some(passkey) = loaded.state.factors.passkey(&credential_id).cloned() else {
        return Err(ServiceError::PasskeyInvalid);
    };
    let failed = async |loaded| {
        super::sign_in::sign_in_failed(
            ctx,
            Some((account_id, loaded)),
            IdentifierKind::Passkey,
            SignInFailure::PasskeyInvalid,
            metadata,
        )
        .await?;
        Err(ServiceError::PasskeyInvalid)
    };
    let factor = match ctx
        .passkeys
        .finish_discoverable(&credential, state, &passkey)
    {
        Ok(factor) => factor,
        Err(refused) => {
            tracing::debug!(%account_id, reason = %refused.0, "passkey sign-in refused");
            return failed(Some(loaded)).await;
        }
    };
    let plan = NewSessionPlan::new(
        ctx,
        account_id,
        Proof::Passkey,
        Some(factor),
        IdentifierKind::Passkey,
        now,
        metadata,
    );
    match plan.start(ctx, account_id, Vec::new(), metadata).await {
        Ok(signed_in) => Ok(signed_in),
        // The passkey went meanwhile, or its counter did not go forward (a clone).
        Err(ServiceError::MfaInvalid) => failed(None).await,
        Err(ServiceError::AccountNotFound) => Err(ServiceError::PasskeyInvalid),
        Err(error) => Err(error),
    }
}

/// JSON in `field` that is no WebAuthn credential: refused before any ceremony is spent or
/// anything counted.
pub(super) fn credential_malformed(
    field: &str,
    error: &crate::passkeys::Malformed,
) -> ServiceError {
    ServiceError::invalid(
        field,
        crate::domain::values::InvalidValue {
            code: crate::domain::values::Refusal::PasskeyCredentialMalformed,
            message: error.to_string(),
        },
    )
}

/// A credential from the client that does not verify: a validation failure naming
/// `credential`.
fn credential_refused(reason: &str) -> ServiceError {
    ServiceError::invalid(
        "credential",
        crate::domain::values::InvalidValue {
            code: crate::domain::values::Refusal::PasskeyCredentialInvalid,
            message: format!("the WebAuthn credential was not accepted: {reason}"),
        },
    )
}
