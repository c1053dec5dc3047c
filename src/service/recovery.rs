//! Flows proven by a one-time code or a mailed link: sign-in by code, password reset, email
//! verification, change of email, and deletion by code.

use super::codes::{CodeProof, Target};
use super::executor::CommandMetadata;
use super::sessions::SignedIn;
use super::{Context, ServiceError};
use crate::domain::account::{AccountCommand, IdentifierKind, NewIdentifier, Proof};
use crate::domain::code::Purpose;
use crate::domain::values::{Password, Phone};
use crate::store::claims::{self};
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

/// Signs in with a code sent to the account's email address.
pub async fn sign_in_with_code(
    ctx: &Context,
    target: &Target,
    code: &str,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    let proof = CodeProof::Code {
        target: target.clone(),
        code: code.to_owned(),
    };
    let (target, account_id) = proven_account(ctx, &proof, Purpose::SignIn, true, metadata).await?;
    let kind = target.identifier_kind();
    super::sessions::start_session(
        ctx,
        account_id,
        None,
        Proof::Code,
        kind,
        ctx.now(),
        metadata,
    )
    .await
}

/// Signs in with a texted `sign_in` code, or, when no account has the phone, signs up
/// with it (no password), under the same per-address sign-up limit as `sign_up`
/// (`CaptchaRequired` past it without a solved `captcha`). Returns whether the account is
/// new.
pub async fn sign_in_or_up_by_sms(
    ctx: &Context,
    phone: &Phone,
    code: &str,
    captcha: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<(SignedIn, bool), ServiceError> {
    let target = Target::phone(phone);
    // A new phone signs up: it counts against the address's sign-ups like any other, and
    // is refused before its code is spent.
    if holder_of(ctx, &target).await?.is_none() {
        super::sign_up::admit_sign_up(ctx, captcha, metadata).await?;
    }
    let proof = CodeProof::Code {
        target,
        code: code.to_owned(),
    };
    let (target, _) =
        super::codes::check_proof(ctx, &proof, Purpose::SignIn, true, metadata).await?;
    let now = ctx.now();
    if let Some(account_id) = holder_of(ctx, &target).await? {
        let signed_in = super::sessions::start_session(
            ctx,
            account_id,
            None,
            Proof::Code,
            IdentifierKind::Phone,
            now,
            metadata,
        )
        .await?;
        return Ok((signed_in, false));
    }
    let register = AccountCommand::Register {
        identifier: NewIdentifier::Phone(phone.clone()),
        password: None,
        email_verified: false,
        display_name: None,
        now,
    };
    let signed_in = super::sessions::start_session(
        ctx,
        Uuid::now_v7(),
        Some(register),
        Proof::Code,
        IdentifierKind::Phone,
        now,
        metadata,
    )
    .await?;
    Ok((signed_in, true))
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
    let (target, account_id) =
        proven_account(ctx, proof, Purpose::ResetPassword, true, metadata).await?;
    let sealed = ctx.hasher.hash(&password).await?;
    let committed = super::accounts::run_account_command(ctx, account_id, metadata, |_| {
        AccountCommand::ResetPassword {
            new_password: sealed.clone(),
            proven: target.identifier_kind(),
            now: ctx.now(),
        }
    })
    .await?;
    Ok(committed.position)
}

/// Deletes the caller's account, confirmed by a code sent to its email address.
pub async fn delete_account_with_code(
    ctx: &Context,
    caller: ActiveSession,
    code: &str,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    let email = account.email.as_ref().ok_or(ServiceError::CodeInvalid)?;
    let proof = CodeProof::Code {
        target: Target::email(email),
        code: code.to_owned(),
    };
    super::codes::check_proof(ctx, &proof, Purpose::DeleteAccount, true, metadata).await?;
    let committed = super::accounts::run_account_command(
        ctx,
        caller.account_id,
        &metadata.with_actor(caller.account_id),
        |_| AccountCommand::Delete {
            proof: Proof::Code,
            now: ctx.now(),
        },
    )
    .await?;
    Ok(committed.position)
}

/// Checks (with `consume`, spends) a code or link for `purpose` and returns where it was
/// sent and the account holding that target (`CodeInvalid` when none does).
pub(super) async fn proven_account(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
    consume: bool,
    metadata: &CommandMetadata,
) -> Result<(Target, Uuid), ServiceError> {
    let (target, _) = super::codes::check_proof(ctx, proof, purpose, consume, metadata).await?;
    let account_id = holder_of(ctx, &target)
        .await?
        .ok_or(ServiceError::CodeInvalid)?;
    Ok((target, account_id))
}

pub(super) async fn holder_of(
    ctx: &Context,
    target: &Target,
) -> Result<Option<Uuid>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(claims::holder(&client, target.claim_kind(), &target.value).await?)
}
