//! Ways back in, proven by a one-time code or a mailed link: sign-in by code (and sign-up by a
//! texted one), password reset, and deletion by code. Each spends its code and makes its change
//! in one transaction (`proven`).

use super::codes::{CodeProof, Target};
use super::executor::CommandMetadata;
use super::proven::{ChangedAccount, prove_and_change, prove_and_change_with};
use super::second_factor::StepUpCheck;
use super::sessions::{SignInOutcome, SignInPlan};
use super::{Context, ServiceError};
use crate::domain::account::{AccountCommand, Identifier, IdentifierKind, Proof};
use crate::domain::code::Purpose;
use crate::domain::values::{Password, Phone};
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

/// Signs in with a code sent to the account's email address or phone (a challenge for an
/// account with a second factor).
pub async fn sign_in_with_code(
    ctx: &Context,
    target: &Target,
    code: &str,
    metadata: &CommandMetadata,
) -> Result<SignInOutcome, ServiceError> {
    let proof = CodeProof::Code {
        target: target.clone(),
        code: code.to_owned(),
    };
    let account_id = super::codes::holder_of_target(ctx, target)
        .await?
        .ok_or(ServiceError::CodeInvalid)?;
    let plan = SignInPlan::new(
        ctx,
        account_id,
        Proof::Code,
        target.identifier_kind(),
        ctx.now(),
        metadata,
    );
    let committed = prove_and_change_with(
        ctx,
        None,
        &[(&proof, Purpose::SignIn)],
        ChangedAccount::Holder(account_id),
        &metadata.with_actor(account_id),
        |account, _| Ok(vec![plan.command(account)]),
        |events| vec![plan.write(events)],
    )
    .await?;
    Ok(plan.outcome(account_id, committed))
}

/// Signs in with a texted `sign_in` code (a challenge for an account with a second factor),
/// or, when no account has the phone, signs up with it (no password), under the same
/// per-address sign-up limit as `sign_up` (`CaptchaRequired` past it without a solved
/// `captcha`). Returns whether the account is new.
pub async fn sign_in_or_up_by_sms(
    ctx: &Context,
    phone: &Phone,
    code: &str,
    captcha: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<(SignInOutcome, bool), ServiceError> {
    let target = Target::phone(phone);
    let holder = super::codes::holder_of_target(ctx, &target).await?;
    // A new phone signs up: it counts against the address's sign-ups like any other, and
    // is refused before its code is spent.
    if holder.is_none() {
        super::sign_up::admit_sign_up(ctx, captcha, metadata).await?;
    }
    let proof = CodeProof::Code {
        target,
        code: code.to_owned(),
    };
    let now = ctx.now();
    let (account, register) = match holder {
        Some(id) => (ChangedAccount::Holder(id), None),
        None => (
            ChangedAccount::Named(Uuid::now_v7()),
            Some(AccountCommand::Register {
                identifier: Identifier::Phone(phone.clone()),
                password: None,
                email_verified: false,
                display_name: None,
                now,
            }),
        ),
    };
    let account_id = account.id();
    let plan = SignInPlan::new(
        ctx,
        account_id,
        Proof::Code,
        IdentifierKind::Phone,
        now,
        metadata,
    );
    let committed = prove_and_change_with(
        ctx,
        None,
        &[(&proof, Purpose::SignIn)],
        account,
        &metadata.with_actor(account_id),
        |account, _| {
            Ok(register
                .into_iter()
                .chain([plan.command(account)])
                .collect())
        },
        |events| vec![plan.write(events)],
    )
    .await?;
    Ok((plan.outcome(account_id, committed), holder.is_none()))
}

/// Asks for a password reset: a code and a link to the address, if an account has it. The
/// answer is the same either way.
pub async fn request_password_reset(
    ctx: &Context,
    target: &Target,
    locale: &str,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    super::codes::send_code(ctx, target, Purpose::ResetPassword, locale, metadata).await
}

/// Sets a new password, proven by a reset code or link; every session ends.
pub async fn reset_password(
    ctx: &Context,
    proof: &CodeProof,
    new_password: &str,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    // Refuse a weak password before spending the code.
    let context: Vec<&str> = match proof {
        CodeProof::Code { target, .. } => vec![target.value.as_str()],
        CodeProof::Link { .. } => Vec::new(),
    };
    let password = Password::parse(new_password, &context)
        .map_err(|invalid| ServiceError::invalid("new_password", invalid))?;
    let account_id = super::codes::holder_of_proof(ctx, proof, Purpose::ResetPassword)
        .await?
        .ok_or(ServiceError::CodeInvalid)?;
    // Hashed before the transaction, which holds the account's lock.
    let sealed = ctx.hasher.hash(&password).await?;
    let now = ctx.now();
    let committed = prove_and_change(
        ctx,
        None,
        &[(proof, Purpose::ResetPassword)],
        ChangedAccount::Holder(account_id),
        metadata,
        |_, targets| {
            Ok(vec![AccountCommand::ResetPassword {
                new_password: sealed,
                proven: targets[0].identifier_kind(),
                now,
            }])
        },
        Vec::new(),
    )
    .await?;
    Ok(committed.position)
}

/// Deletes the caller's account, confirmed by a code sent to its email address, and by a
/// second factor when the account has one (`mfa_code`, or one proven lately in the session).
pub async fn delete_account_with_code(
    ctx: &Context,
    caller: ActiveSession,
    code: &str,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    let step_up = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let email = account.email.as_ref().ok_or(ServiceError::CodeInvalid)?;
    let proof = CodeProof::Code {
        target: Target::email(email),
        code: code.to_owned(),
    };
    let now = ctx.now();
    let delete = AccountCommand::Delete {
        proof: Proof::Code,
        step_up: step_up.step_up.clone(),
        now,
    };
    let outcome = prove_and_change(
        ctx,
        Some(caller),
        &[(&proof, Purpose::DeleteAccount)],
        ChangedAccount::Named(caller.account_id),
        &metadata.with_actor(caller.account_id),
        |_, _| Ok(vec![delete]),
        Vec::new(),
    )
    .await;
    let position = step_up.settle(ctx, outcome).await?.position;
    super::erasure::after_deletion(ctx, caller.account_id).await;
    Ok(position)
}
