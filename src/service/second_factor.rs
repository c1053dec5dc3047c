//! Second factors (OWASP ASVS 5.0 V6, NIST SP 800-63B AAL2): TOTP enrolment, confirmation and
//! removal, recovery codes, the second step of a sign-in (answering its challenge), and the
//! step-up that sensitive actions need from an account with a second factor.
//!
//! Every second factor checked counts first against the account (at most
//! `FAILURES_PER_ACCOUNT` wrong ones within `sign_in::THROTTLE_WINDOW`, then
//! `TooManyRequests`): those of sign-ins' challenges (each challenge also dies after
//! `CHALLENGE_ANSWERS`) on one count, those of signed-in callers' step-ups on another, so that
//! neither new challenges (each costing a proven first factor) nor a session buy more guesses,
//! and a session's wrong step-ups do not lock its owner's sign-in. A value that cannot be a
//! code at all (not 6 digits, not a recovery code's letters) is refused as such and counts
//! nothing.

use super::accounts::{self, run_own_command};
use super::executor::{CommandMetadata, Committed, InlineWrite};
use super::sessions::{NewSessionPlan, SignedIn};
use super::sign_in::THROTTLE_WINDOW;
use super::{Context, ServiceError};
use crate::domain::account::{
    Account, AccountCommand, AccountEvent, IdentifierKind, Proof, RegisteredPasskey,
    STEP_UP_WINDOW, SecondFactor, SignInFailure, SignInMethod, StepUp,
};
use crate::factors::{self, TotpProvisioning};
use crate::store::sessions::ActiveSession;
use crate::store::{challenges, sessions, throttle};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Answers a sign-in's challenge takes before it dies.
pub const CHALLENGE_ANSWERS: i32 = 5;

/// Wrong second factors an account takes within the throttle window before every further one
/// is refused (`TooManyRequests`) until the window passes.
pub const FAILURES_PER_ACCOUNT: i32 = 10;

/// Who presents a second factor: a sign-in answering its challenge, or a signed-in caller's
/// step-up. Each has its own count per account.
#[derive(Debug, Clone, Copy)]
enum Presenter {
    SignIn,
    StepUp,
}

/// The throttle's key for the second factors of an account that `presenter` presents.
fn throttle_key(presenter: Presenter, account_id: Uuid) -> Vec<u8> {
    use sha2::Digest as _;
    let purpose = match presenter {
        Presenter::SignIn => "second_factor",
        Presenter::StepUp => "step_up",
    };
    sha2::Sha256::digest(format!("{purpose}:{account_id}").as_bytes()).to_vec()
}

/// The caller's second factors, as `GET /v1/me/mfa` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    /// TOTP is confirmed and on.
    pub totp: bool,
    /// A TOTP enrolment waits for its confirming code.
    pub totp_pending: bool,
    /// When TOTP was confirmed.
    pub enabled_at: Option<DateTime<Utc>>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// Registered passkeys, oldest first.
    pub passkeys: Vec<RegisteredPasskey>,
}

/// The caller's second factors.
pub async fn factors(ctx: &Context, caller: ActiveSession) -> Result<Factors, ServiceError> {
    let account = accounts::account(ctx, caller.account_id).await?.state;
    let factors = &account.factors;
    Ok(Factors {
        totp: factors.totp.is_some(),
        totp_pending: factors.totp_pending.is_some(),
        enabled_at: factors.enabled_at,
        recovery_codes_left: factors.recovery_codes_left(),
        passkeys: factors.passkeys.clone(),
    })
}

/// A TOTP enrolment started: what the authenticator app takes.
pub struct TotpEnrolment {
    /// The secret, URI and QR code.
    pub provisioning: TotpProvisioning,
    /// Log position of the `TotpEnrolmentStarted` event.
    pub position: i64,
}

/// Starts TOTP enrolment for the caller with a new secret (replacing one pending): confirmed
/// by the account's password when it has one (re-checked and throttled as for other signed-in
/// actions), else by a session started within `STEP_UP_WINDOW` (`RecentSignInRequired`), and
/// by a step-up when the account has a second factor already (passkeys). Not active until
/// `confirm_totp`. `TotpAlreadyEnabled` when TOTP is on; `EmailNotVerified` while
/// the account's address is unproven.
pub async fn start_totp_enrolment(
    ctx: &Context,
    caller: ActiveSession,
    password: Option<&str>,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<TotpEnrolment, ServiceError> {
    let account = accounts::account(ctx, caller.account_id).await?.state;
    if account.factors.totp.is_some() {
        return Err(ServiceError::TotpAlreadyEnabled);
    }
    if account.email_unproven() {
        return Err(ServiceError::EmailNotVerified);
    }
    let verified_password = prove_presence(ctx, caller, &account, password).await?;
    let check = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let secret = factors::new_totp_secret(&ctx.secrets);
    let command = AccountCommand::StartTotpEnrolment {
        secret: secret.sealed,
        verified_password,
        step_up: check.step_up.clone(),
        now: ctx.now(),
    };
    let outcome = run_own_command(ctx, caller, metadata, command).await;
    let committed = check.settle(ctx, outcome).await?;
    let label = account_label(&committed.state, caller.account_id);
    Ok(TotpEnrolment {
        provisioning: factors::provisioning(&secret.bytes, &ctx.policy.totp_issuer, &label),
        position: committed.position,
    })
}

/// What adding a second factor needs besides the session: the account's password when it has
/// one (re-checked and throttled as for other signed-in actions; the hash it matched, for the
/// command), else a session started within `STEP_UP_WINDOW` (`RecentSignInRequired`). A
/// session alone adds no way in, and a second factor locks out whoever lacks it.
pub(super) async fn prove_presence(
    ctx: &Context,
    caller: ActiveSession,
    account: &Account,
    password: Option<&str>,
) -> Result<Option<crate::domain::account::SealedPasswordHash>, ServiceError> {
    match (&account.password, password) {
        (Some(_), Some(password)) => Ok(Some(
            super::profile::verify_password(ctx, caller.account_id, account, password).await?,
        )),
        (Some(_), None) => Err(ServiceError::required(
            "password",
            "give the account's password to add a second factor",
        )),
        (None, _) => {
            ensure_recent_sign_in(ctx, caller).await?;
            Ok(None)
        }
    }
}

/// For what a session alone must not do on an account without a password: a session started
/// within `STEP_UP_WINDOW`, else `RecentSignInRequired`.
pub(super) async fn ensure_recent_sign_in(
    ctx: &Context,
    caller: ActiveSession,
) -> Result<(), ServiceError> {
    let client = ctx.pool.get().await?;
    let started = sessions::assurance(&client, caller).await?;
    match started.is_some_and(|session| ctx.now() - session.started_at <= STEP_UP_WINDOW) {
        true => Ok(()),
        false => Err(ServiceError::RecentSignInRequired),
    }
}

/// What an authenticator app shows the account as: its email address, else its username, else
/// its phone number, else its id.
pub(super) fn account_label(account: &Account, account_id: Uuid) -> String {
    account
        .email
        .as_ref()
        .map(|email| email.as_str().to_owned())
        .or_else(|| {
            account
                .username
                .as_ref()
                .map(|name| name.as_str().to_owned())
        })
        .or_else(|| {
            account
                .phone
                .as_ref()
                .map(|phone| phone.as_str().to_owned())
        })
        .unwrap_or_else(|| account_id.to_string())
}

/// A new set of recovery codes, shown once.
pub struct NewRecoveryCodes {
    /// The codes (`XXXXX-XXXXX`).
    pub codes: Vec<String>,
    /// Log position of the command's last event.
    pub position: i64,
}

/// Confirms the pending TOTP enrolment with a code from the authenticator app: TOTP is on
/// from then, and the first recovery codes are issued (none when the account has codes
/// already, from its passkeys; an enrolment begun before the account had a passkey is
/// `StepUpRequired`: start again). A wrong code is a validation failure
/// naming `code` (`mfa_code_invalid`), counted as a step-up's (`TooManyRequests` past the
/// limit); `TotpNotPending` without an enrolment. An account without a password confirms, as
/// it enrols, from a session started within `STEP_UP_WINDOW`.
pub async fn confirm_totp(
    ctx: &Context,
    caller: ActiveSession,
    code: &str,
    metadata: &CommandMetadata,
) -> Result<NewRecoveryCodes, ServiceError> {
    let account = accounts::account(ctx, caller.account_id).await?.state;
    if account.factors.totp.is_some() {
        return Err(ServiceError::TotpAlreadyEnabled);
    }
    let pending = account
        .factors
        .totp_pending
        .clone()
        .ok_or(ServiceError::TotpNotPending)?;
    let secret = factors::open_totp_secret(&ctx.secrets, &pending)
        .map_err(|error| ServiceError::Internal(error.into()))?;
    let now = ctx.now();
    if factors::totp_code_typed(code).is_none() {
        return Err(malformed("code"));
    }
    if account.password.is_none() {
        ensure_recent_sign_in(ctx, caller).await?;
    }
    // Counted like a step-up's code: the pending secret is shown to its session only, but a
    // session that did not see it (a stolen one) must not find a code of it by trying them.
    let key = throttle_key(Presenter::StepUp, caller.account_id);
    reserve(
        &ctx.pool.get().await?,
        Presenter::StepUp,
        caller.account_id,
        now,
    )
    .await?;
    let time_step =
        factors::matching_time_step(&secret, code, now).ok_or_else(|| code_invalid("code"))?;
    let (codes, recovery_codes) = factors::new_recovery_codes(&ctx.secrets);
    let committed = run_own_command(
        ctx,
        caller,
        metadata,
        AccountCommand::ConfirmTotp {
            secret: pending,
            time_step,
            recovery_codes,
            session_id: caller.id,
            now,
        },
    )
    .await?;
    throttle::release_attempt(&ctx.pool.get().await?, &key).await?;
    // An account that kept its recovery codes (from its passkeys) is shown none.
    let issued = committed
        .events
        .iter()
        .any(|event| matches!(event, AccountEvent::RecoveryCodesGenerated { .. }));
    Ok(NewRecoveryCodes {
        codes: if issued { codes } else { Vec::new() },
        position: committed.position,
    })
}

/// Removes the caller's TOTP, and the recovery codes with it: a step-up action
/// (`StepUpRequired` without a second factor proven lately in the session or `mfa_code`). An
/// enrolment not yet confirmed is withdrawn, with no second factor asked.
pub async fn remove_totp(
    ctx: &Context,
    caller: ActiveSession,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let now = ctx.now();
    let committed = run_step_up_command(ctx, caller, mfa_code, metadata, |step_up| {
        AccountCommand::RemoveTotp { step_up, now }
    })
    .await?;
    Ok(committed.position)
}

/// Replaces the caller's recovery codes with a new set, voiding the old: a step-up action.
pub async fn regenerate_recovery_codes(
    ctx: &Context,
    caller: ActiveSession,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<NewRecoveryCodes, ServiceError> {
    let now = ctx.now();
    let (codes, hashes) = factors::new_recovery_codes(&ctx.secrets);
    let committed = run_step_up_command(ctx, caller, mfa_code, metadata, |step_up| {
        AccountCommand::RegenerateRecoveryCodes {
            codes: hashes,
            step_up,
            now,
        }
    })
    .await?;
    Ok(NewRecoveryCodes {
        codes,
        position: committed.position,
    })
}

/// Runs a step-up action of the caller's on their own account: `command` gets how the step-up
/// is proven ([`StepUpCheck`]).
pub(super) async fn run_step_up_command(
    ctx: &Context,
    caller: ActiveSession,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
    command: impl FnOnce(StepUp) -> AccountCommand,
) -> Result<Committed<Account>, ServiceError> {
    let account = accounts::account(ctx, caller.account_id).await?.state;
    let check = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let command = command(check.step_up.clone());
    let outcome = run_own_command(ctx, caller, metadata, command).await;
    check.settle(ctx, outcome).await
}

/// How a signed-in caller proves a step-up action (OWASP ASVS 5.0 V6.3: re-authentication with
/// the second factor before a sensitive change) on their account, as far as the service can
/// before the command: the session proved a second factor within `STEP_UP_WINDOW`, or
/// `mfa_code` (a TOTP or recovery code, counted against the account before it is checked)
/// came with the request. The account decides the rest (a time step or recovery code already
/// used).
pub(super) struct StepUpCheck {
    /// What the command is given.
    pub step_up: StepUp,
    caller: ActiveSession,
    metadata: CommandMetadata,
    /// A code was counted against the account: given back once the command commits.
    counted: bool,
}

impl StepUpCheck {
    /// The check for `caller` acting on `account`: `StepUpRequired` at once, before any costly
    /// check, when the account has a second factor and neither the session nor the request
    /// proves one; a code that matches nothing is a validation failure naming `mfa_code`;
    /// `TooManyRequests` past the account's limit of wrong second factors.
    pub(super) async fn of(
        ctx: &Context,
        caller: ActiveSession,
        account: &Account,
        mfa_code: Option<&str>,
        metadata: &CommandMetadata,
    ) -> Result<Self, ServiceError> {
        let of = |step_up, counted| Self {
            step_up,
            caller,
            metadata: metadata.clone(),
            counted,
        };
        if !account.factors.enabled() {
            return Ok(of(StepUp::Missing, false));
        }
        let client = ctx.pool.get().await?;
        let now = ctx.now();
        let Some(code) = mfa_code.filter(|code| !code.trim().is_empty()) else {
            let recent = sessions::assurance(&client, caller)
                .await?
                .and_then(|session| session.second_factor_at)
                .is_some_and(|at| now - at <= STEP_UP_WINDOW);
            return match recent {
                true => Ok(of(StepUp::Recent, false)),
                false => Err(ServiceError::StepUpRequired),
            };
        };
        let typed = read_code(code).ok_or_else(|| malformed("mfa_code"))?;
        reserve(&client, Presenter::StepUp, caller.account_id, now).await?;
        drop(client);
        match typed.factor(ctx, account, now) {
            Some(factor) => Ok(of(StepUp::Factor(factor), true)),
            None => Err(of(StepUp::Missing, true).refused(ctx).await),
        }
    }

    /// The command's outcome: once it committed, the code counted is given back; a second
    /// factor the account refused (used already) is a validation failure naming `mfa_code`.
    pub(super) async fn settle<T>(
        self,
        ctx: &Context,
        outcome: Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        match outcome {
            Ok(done) => {
                if self.counted {
                    let client = ctx.pool.get().await?;
                    let key = throttle_key(Presenter::StepUp, self.caller.account_id);
                    throttle::release_attempt(&client, &key).await?;
                }
                Ok(done)
            }
            Err(ServiceError::MfaInvalid) => Err(self.refused(ctx).await),
            Err(error) => Err(error),
        }
    }

    /// A wrong or used `mfa_code`: recorded in the account's history (`StepUpFailed`; it stays
    /// counted), and answered as a validation failure naming it.
    async fn refused(&self, ctx: &Context) -> ServiceError {
        let command = AccountCommand::RecordStepUpFailure {
            session_id: self.caller.id,
            now: ctx.now(),
        };
        // Recorded whatever the request's key: the refusal is the answer a retry gets.
        let metadata = CommandMetadata {
            idempotency: None,
            ..self.metadata.clone()
        };
        match run_own_command(ctx, self.caller, &metadata, command).await {
            Ok(_) => code_invalid("mfa_code"),
            Err(error) => error,
        }
    }
}

/// Records that the caller's session proved `factor` (checked as far as the service can; `None`
/// when it did not check out), counted against the account's step-ups as a code would be:
/// `MfaInvalid` for a factor refused (recorded as `StepUpFailed`), `TooManyRequests` past the
/// limit. The log position of `StepUpProven`.
pub(super) async fn prove_step_up(
    ctx: &Context,
    caller: ActiveSession,
    factor: Option<SecondFactor>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let now = ctx.now();
    reserve(
        &ctx.pool.get().await?,
        Presenter::StepUp,
        caller.account_id,
        now,
    )
    .await?;
    let check = StepUpCheck {
        step_up: StepUp::Missing,
        caller,
        metadata: metadata.clone(),
        counted: true,
    };
    let Some(factor) = factor else {
        return Err(match check.refused(ctx).await {
            ServiceError::Validation(_) => ServiceError::MfaInvalid,
            error => error,
        });
    };
    let command = AccountCommand::ProveStepUp {
        session_id: caller.id,
        factor,
        now,
    };
    let outcome = run_own_command(ctx, caller, metadata, command).await;
    match check.settle(ctx, outcome).await {
        Ok(committed) => Ok(committed.position),
        // A refused factor was recorded by `settle`; the answer names no field here.
        Err(ServiceError::Validation(_)) => Err(ServiceError::MfaInvalid),
        Err(error) => Err(error),
    }
}

/// Counts one second factor of `presenter`'s against the account before it is checked.
async fn reserve(
    client: &deadpool_postgres::Object,
    presenter: Presenter,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    match throttle::reserve_attempt(
        client,
        &throttle_key(presenter, account_id),
        now,
        THROTTLE_WINDOW,
        FAILURES_PER_ACCOUNT,
    )
    .await?
    {
        Some(retry_after) => Err(ServiceError::TooManyRequests(retry_after)),
        None => Ok(()),
    }
}

/// A code as typed, by its shape.
enum TypedCode<'a> {
    /// Six digits.
    Totp(&'a str),
    /// A recovery code's letters.
    Recovery(&'a str),
}

impl TypedCode<'_> {
    /// The second factor the code is on `account`: a TOTP code matched to its time step
    /// (`None` when it matches none), or a recovery code by its keyed hash (the account finds
    /// it or not).
    fn factor(&self, ctx: &Context, account: &Account, now: DateTime<Utc>) -> Option<SecondFactor> {
        match self {
            Self::Totp(code) => totp_factor(ctx, account, code, now),
            Self::Recovery(code) => Some(SecondFactor::RecoveryCode(factors::recovery_code_hash(
                &ctx.secrets,
                code,
            ))),
        }
    }
}

/// A code typed for either factor, by its shape; `None` when it can be neither.
fn read_code(code: &str) -> Option<TypedCode<'_>> {
    if factors::totp_code_typed(code).is_some() {
        Some(TypedCode::Totp(code))
    } else if factors::recovery_code_typed(code).is_some() {
        Some(TypedCode::Recovery(code))
    } else {
        None
    }
}

/// The TOTP time step `code` matches on the account's secret, if it has one and it does.
fn totp_factor(
    ctx: &Context,
    account: &Account,
    code: &str,
    now: DateTime<Utc>,
) -> Option<SecondFactor> {
    let sealed = account.factors.totp.as_ref()?;
    let secret = factors::open_totp_secret(&ctx.secrets, sealed).ok()?;
    factors::matching_time_step(&secret, code, now)
        .map(|time_step| SecondFactor::Totp { time_step })
}

/// A value that cannot be a code at all: refused before anything is counted.
fn malformed(field: &str) -> ServiceError {
    ServiceError::invalid(
        field,
        crate::domain::values::InvalidValue {
            code: crate::domain::values::Refusal::MfaCodeMalformed,
            message: "a TOTP code is 6 digits; a recovery code is 10 letters and digits, \
                      XXXXX-XXXXX"
                .to_owned(),
        },
    )
}

fn code_invalid(field: &str) -> ServiceError {
    ServiceError::invalid(
        field,
        crate::domain::values::InvalidValue {
            code: crate::domain::values::Refusal::MfaCodeInvalid,
            message: "the code is wrong or was used already".to_owned(),
        },
    )
}

/// The second factor answering a sign-in's challenge.
#[derive(Debug, Clone, Copy)]
pub enum ChallengeAnswer<'a> {
    /// A TOTP code.
    Totp(&'a str),
    /// A recovery code.
    RecoveryCode(&'a str),
    /// A passkey's assertion (`PublicKeyCredential` JSON from `navigator.credentials.get()`
    /// with the challenge's `passkey_options`).
    Passkey(&'a serde_json::Value),
}

/// Answers a sign-in's second-factor challenge (the token `POST /v1/sessions` gave): with a
/// right, unused factor, the session starts (at AAL2) and the challenge is spent, in one
/// transaction. Each answer is counted against the challenge and the account before it is
/// checked: `MfaChallengeExpired` for a challenge unknown, expired, answered or out of
/// answers (or whose account changed its credentials since), `TooManyRequests` past the
/// account's limit, `MfaInvalid` for a wrong or used factor (recorded as a failed sign-in).
pub async fn answer_challenge(
    ctx: &Context,
    token: &str,
    answer: ChallengeAnswer<'_>,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    // What cannot be an answer is refused before anything is counted; an assertion is read
    // once, here.
    let mut assertion = None;
    match answer {
        ChallengeAnswer::Totp(code) if factors::totp_code_typed(code).is_none() => {
            return Err(malformed("totp_code"));
        }
        ChallengeAnswer::RecoveryCode(code) if factors::recovery_code_typed(code).is_none() => {
            return Err(malformed("recovery_code"));
        }
        ChallengeAnswer::Passkey(json) => {
            let read = crate::passkeys::assertion(json).map_err(|error| {
                super::passkeys::credential_malformed("passkey_assertion", &error)
            })?;
            assertion = Some(read);
        }
        _ => {}
    }
    let token_hash = crate::credentials::session_token_hash(token);
    let now = ctx.now();
    let challenge = {
        let client = ctx.pool.get().await?;
        let challenge = challenges::reserve(&client, &token_hash, CHALLENGE_ANSWERS, now)
            .await?
            .ok_or(ServiceError::MfaChallengeExpired)?;
        reserve(&client, Presenter::SignIn, challenge.account_id, now).await?;
        challenge
    };
    let account_id = challenge.account_id;
    let (Some(identifier), Some(method)) = (
        IdentifierKind::parse(&challenge.identifier),
        SignInMethod::parse(&challenge.method),
    ) else {
        return Err(ServiceError::Internal(anyhow::anyhow!(
            "challenge {} names an unknown identifier or method",
            challenge.id
        )));
    };
    let loaded = match accounts::account(ctx, account_id).await {
        Ok(loaded) => loaded,
        Err(ServiceError::AccountNotFound) => return Err(ServiceError::MfaChallengeExpired),
        Err(error) => return Err(error),
    };
    // The second factor the challenge asked for is gone (removed since): sign in again.
    if !loaded.state.factors.enabled() {
        return Err(ServiceError::MfaChallengeExpired);
    }
    let factor = match answer {
        ChallengeAnswer::Totp(code) => totp_factor(ctx, &loaded.state, code, now),
        ChallengeAnswer::RecoveryCode(code) => Some(SecondFactor::RecoveryCode(
            factors::recovery_code_hash(&ctx.secrets, code),
        )),
        // A challenge issued before the account had a passkey has no assertion to answer.
        ChallengeAnswer::Passkey(_) => assertion
            .as_ref()
            .zip(challenge.passkey_state.clone())
            .and_then(|(assertion, state)| {
                ctx.passkeys
                    .finish_assertion(assertion, state, account_id)
                    .ok()
            }),
    };
    let failed = async |loaded| {
        super::sign_in::sign_in_failed(
            ctx,
            Some((account_id, loaded)),
            identifier,
            SignInFailure::SecondFactorInvalid,
            metadata,
        )
        .await?;
        Err(ServiceError::MfaInvalid)
    };
    let Some(factor) = factor else {
        return failed(Some(loaded)).await;
    };
    let plan = NewSessionPlan::new(
        ctx,
        account_id,
        Proof::Challenged {
            method,
            at: challenge.created_at,
        },
        Some(factor),
        identifier,
        now,
        metadata,
    );
    let writes = vec![
        InlineWrite::SpendChallenge(token_hash, now),
        InlineWrite::ReleaseSignInAttempts(vec![throttle_key(Presenter::SignIn, account_id)]),
    ];
    match plan.start(ctx, account_id, writes, metadata).await {
        Ok(signed_in) => Ok(signed_in),
        Err(ServiceError::MfaInvalid) => failed(None).await,
        // The password or an identifier changed since the challenge, or the account went.
        Err(ServiceError::InvalidCredentials | ServiceError::AccountNotFound) => {
            Err(ServiceError::MfaChallengeExpired)
        }
        Err(error) => Err(error),
    }
}
