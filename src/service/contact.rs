//! Contact details that are ways in: verifying the email address, and moving to another
//! address or phone number (proven by codes to the new one and the current way in). Each
//! spends its codes and makes its change in one transaction (`proven`).

use super::codes::{CodeProof, Target};
use super::executor::{CommandMetadata, Committed};
use super::proven::{ChangedAccount, prove_and_change};
use super::second_factor::StepUpCheck;
use super::{Context, ServiceError};
use crate::domain::account::{Account, AccountCommand};
use crate::domain::code::Purpose;
use crate::domain::values::{Email, Phone};
use crate::store::claims::ClaimKind;
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

/// Sends the caller a verification mail (code and link) to their email address.
pub async fn request_email_verification(
    ctx: &Context,
    caller: ActiveSession,
    locale: &str,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    let email = account.email.as_ref().ok_or(ServiceError::NoEmail)?;
    if account.email_verified {
        return Err(ServiceError::EmailAlreadyVerified);
    }
    let target = Target::email(email);
    super::codes::send_code(ctx, &target, Purpose::VerifyEmail, locale, metadata).await
}

/// Marks the address verified, proven by the code or link sent to it. The first proof
/// removes the password and ends every session unless `password` is given and is the
/// account's (pre-account hijacking: whoever signed up may not own the address). The
/// password is checked only after the code or link (which is not spent yet), so that it
/// answers nothing to whoever lacks the mailbox; a wrong one is counted like every
/// re-check and leaves the code unspent.
pub async fn confirm_email(
    ctx: &Context,
    proof: &CodeProof,
    password: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let verified_password = match password {
        Some(password) => {
            let (_, account_id) =
                proven_account(ctx, proof, Purpose::VerifyEmail, false, metadata).await?;
            let account = super::accounts::account(ctx, account_id).await?.state;
            Some(super::profile::verify_password(ctx, account_id, &account, password).await?)
        }
        None => None,
    };
    let account_id = super::codes::holder_of_proof(ctx, proof, Purpose::VerifyEmail)
        .await?
        .ok_or(ServiceError::CodeInvalid)?;
    let now = ctx.now();
    let committed = prove_and_change(
        ctx,
        None,
        &[(proof, Purpose::VerifyEmail)],
        ChangedAccount::Holder(account_id),
        metadata,
        |_, targets| {
            let email = Email::parse(&targets[0].value)
                .map_err(|invalid| ServiceError::invalid("email", invalid))?;
            Ok(vec![AccountCommand::VerifyEmail {
                email,
                verified_password,
                now,
            }])
        },
        Vec::new(),
    )
    .await?;
    Ok(committed.position)
}

/// Moves the caller to a new email address, proven by a code sent to it and, when the
/// current address is verified, by a code sent to that one or the password; and by a second
/// factor when the account has one (`mfa_code`, or one proven lately in the session).
#[allow(clippy::too_many_arguments, reason = "each is one proof of the change")]
pub async fn change_email(
    ctx: &Context,
    caller: ActiveSession,
    email: &Email,
    code: &str,
    current: CurrentEmailProof<'_>,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    let target = Target::email(email);
    if let Some(holder) = super::codes::holder_of_target(ctx, &target).await? {
        if holder != caller.account_id {
            return Err(ServiceError::IdentifierTaken(ClaimKind::Email));
        }
    }
    // A session alone does not move a proven address away: that would hand whoever stole
    // the session the account, through a reset to the new address.
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    let step_up = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let current = prove_current_way_in(ctx, caller, &account, current).await?;
    let change = AccountCommand::ChangeEmail {
        email: email.clone(),
        step_up: step_up.step_up.clone(),
        now: ctx.now(),
    };
    let new = CodeProof::Code {
        target,
        code: code.to_owned(),
    };
    let outcome = move_way_in(
        ctx,
        caller,
        current,
        new,
        Purpose::ChangeEmail,
        change,
        metadata,
    )
    .await;
    step_up.settle(ctx, outcome).await
}

/// Moves the caller to a new phone number, proven by a code texted to it and, when the
/// account has a phone, by one texted to the old number too. At most
/// `MAX_PHONE_CHANGES_PER_30_DAYS` changes in 30 days. An account with a second factor
/// proves it too (`mfa_code`, or one proven lately in the session).
#[allow(clippy::too_many_arguments, reason = "each is one proof of the change")]
pub async fn change_phone(
    ctx: &Context,
    caller: ActiveSession,
    phone: &Phone,
    code: &str,
    current_phone_code: Option<&str>,
    current: CurrentEmailProof<'_>,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    // Refused before any code is spent (the account decides it again).
    if account.email_unproven() {
        return Err(ServiceError::EmailNotVerified);
    }
    let step_up = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let target = Target::phone(phone);
    if let Some(holder) = super::codes::holder_of_target(ctx, &target).await? {
        if holder != caller.account_id {
            return Err(ServiceError::IdentifierTaken(ClaimKind::Phone));
        }
    }
    let current = match &account.phone {
        Some(current) => {
            let Some(current_code) = current_phone_code else {
                return Err(ServiceError::required(
                    "current_phone_code",
                    "a code texted to the current number is needed",
                ));
            };
            Some(CodeProof::Code {
                target: Target::phone(current),
                code: current_code.to_owned(),
            })
        }
        // A first phone is a new way in (sign-in and reset by text): a session alone
        // does not add one.
        None => prove_current_way_in(ctx, caller, &account, current).await?,
    };
    let change = AccountCommand::ChangePhone {
        phone: phone.clone(),
        step_up: step_up.step_up.clone(),
        now: ctx.now(),
    };
    let new = CodeProof::Code {
        target,
        code: code.to_owned(),
    };
    let outcome = move_way_in(
        ctx,
        caller,
        current,
        new,
        Purpose::ChangePhone,
        change,
        metadata,
    )
    .await;
    step_up.settle(ctx, outcome).await
}

/// Spends the code to the new address or number (after the current way in's, when that is a
/// code too) and makes `change`, in one transaction.
async fn move_way_in(
    ctx: &Context,
    caller: ActiveSession,
    current: Option<CodeProof>,
    new: CodeProof,
    purpose: Purpose,
    change: AccountCommand,
    metadata: &CommandMetadata,
) -> Result<Committed<Account>, ServiceError> {
    let proofs: Vec<(&CodeProof, Purpose)> = current
        .iter()
        .chain([&new])
        .map(|proof| (proof, purpose))
        .collect();
    prove_and_change(
        ctx,
        Some(caller),
        &proofs,
        ChangedAccount::Named(caller.account_id),
        &metadata.with_actor(caller.account_id),
        |_, _| Ok(vec![change]),
        Vec::new(),
    )
    .await
}

/// What proves, before a session moves or adds a way into the account, that the caller also
/// holds one it has: a code (to spend with the change) mailed to its verified address, or its
/// password, checked here. An account with neither (a phone-only account, whose phone is
/// proven instead) needs nothing more.
async fn prove_current_way_in(
    ctx: &Context,
    caller: ActiveSession,
    account: &Account,
    proof: CurrentEmailProof<'_>,
) -> Result<Option<CodeProof>, ServiceError> {
    let verified_email = account.email.as_ref().filter(|_| account.email_verified);
    match (proof, verified_email) {
        (
            CurrentEmailProof {
                code: Some(code), ..
            },
            Some(email),
        ) => Ok(Some(CodeProof::Code {
            target: Target::email(email),
            code: code.to_owned(),
        })),
        (
            CurrentEmailProof {
                password: Some(password),
                ..
            },
            _,
        ) if account.password.is_some() => {
            super::profile::verify_password(ctx, caller.account_id, account, password).await?;
            Ok(None)
        }
        (_, Some(_)) => Err(ServiceError::required(
            "current_email_code",
            "a code sent to the current address (or the password) is needed",
        )),
        (_, None) if account.password.is_some() => Err(ServiceError::required(
            "password",
            "the account's password is needed",
        )),
        (_, None) => Ok(None),
    }
}

/// Checks (with `consume`, spends) a code or link for `purpose` and returns where it was
/// sent and the account holding that target (`CodeInvalid` when none does).
async fn proven_account(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
    consume: bool,
    metadata: &CommandMetadata,
) -> Result<(Target, Uuid), ServiceError> {
    let (target, _) = super::codes::check_proof(ctx, proof, purpose, consume, metadata).await?;
    let account_id = super::codes::holder_of_target(ctx, &target)
        .await?
        .ok_or(ServiceError::CodeInvalid)?;
    Ok((target, account_id))
}

/// What proves the caller still controls the current email address when moving to another:
/// a `change_email` code sent to it, or the account's password.
#[derive(Debug, Clone, Copy, Default)]
pub struct CurrentEmailProof<'a> {
    /// A code sent to the current address.
    pub code: Option<&'a str>,
    /// The account's password.
    pub password: Option<&'a str>,
}
