//! The signed-in caller's own account: profile, privacy, password, deletion, and the password
//! re-check (throttled per account) that confirms sensitive changes.

use super::executor::{CommandMetadata, Committed};
use super::second_factor::StepUpCheck;
use super::sign_in::THROTTLE_WINDOW;
use super::{Context, ServiceError};
use crate::domain::account::{
    Account, AccountCommand, Privacy, ProfileChanges, Proof, SealedPasswordHash,
};
use crate::domain::values::{DisplayName, Email, Password, Username};
use crate::store::sessions::ActiveSession;
use crate::store::throttle;
use uuid::Uuid;

/// Wrong passwords confirming signed-in actions (`PUT /v1/me/password`, `DELETE /v1/me`) an
/// account may send within `THROTTLE_WINDOW` before further tries answer 429.
const PASSWORD_RECHECKS_PER_ACCOUNT: i32 = 5;

/// The throttle's key for password re-checks of a signed-in account.
fn recheck_hash(account_id: Uuid) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("recheck:{account_id}").as_bytes()).to_vec()
}

/// Changes profile fields and perhaps the username, for the caller whose session has the
/// bearer `token` (`Unauthenticated` when it is not live); returns the session with the outcome.
pub async fn update_profile(
    ctx: &Context,
    token: &str,
    changes: ProfileChanges,
    username: Option<Username>,
    metadata: &CommandMetadata,
) -> Result<(ActiveSession, Committed<Account>), ServiceError> {
    super::accounts::run_own_command_with_token(
        ctx,
        token,
        metadata,
        AccountCommand::UpdateProfile {
            changes,
            username,
            now: ctx.now(),
        },
    )
    .await
}

/// Replaces the password, proven by the current one and, when the account has a second
/// factor, by that too (`mfa_code`, or one proven lately in the session); every other session
/// ends.
pub async fn change_password(
    ctx: &Context,
    caller: ActiveSession,
    current_password: &str,
    new_password: &str,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    let mut context: Vec<&str> = Vec::new();
    context.extend(account.email.as_ref().map(Email::as_str));
    context.extend(account.username.as_ref().map(Username::as_str));
    context.extend(
        account
            .profile
            .display_name
            .as_ref()
            .map(DisplayName::as_str),
    );
    let new_password = Password::parse(new_password, &context)
        .map_err(|invalid| ServiceError::invalid("new_password", invalid))?;
    let step_up = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let verified_password =
        verify_password(ctx, caller.account_id, &account, current_password).await?;
    if current_password == new_password.expose() {
        return Err(ServiceError::PasswordUnchanged);
    }
    let sealed = ctx.hasher.hash(&new_password).await?;
    let outcome = super::accounts::run_own_command(
        ctx,
        caller,
        metadata,
        AccountCommand::ChangePassword {
            verified_password: verified_password.clone(),
            new_password: sealed.clone(),
            keep_session: caller.id,
            step_up: step_up.step_up.clone(),
            now: ctx.now(),
        },
    )
    .await;
    Ok(step_up.settle(ctx, outcome).await?.position)
}

/// Replaces the privacy settings, for the caller whose session has the bearer `token`
/// (`Unauthenticated` when it is not live); returns the session with the outcome.
pub async fn change_privacy(
    ctx: &Context,
    token: &str,
    privacy: Privacy,
    metadata: &CommandMetadata,
) -> Result<(ActiveSession, Committed<Account>), ServiceError> {
    super::accounts::run_own_command_with_token(
        ctx,
        token,
        metadata,
        AccountCommand::ChangePrivacy {
            privacy,
            now: ctx.now(),
        },
    )
    .await
}

/// Deletes the caller's account, confirmed by its password, and by a second factor when the
/// account has one. Its identifiers become free.
pub async fn delete_account(
    ctx: &Context,
    caller: ActiveSession,
    password: &str,
    mfa_code: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let account = super::accounts::account(ctx, caller.account_id)
        .await?
        .state;
    let step_up = StepUpCheck::of(ctx, caller, &account, mfa_code, metadata).await?;
    let verified_password = verify_password(ctx, caller.account_id, &account, password).await?;
    let outcome = super::accounts::run_own_command(
        ctx,
        caller,
        metadata,
        AccountCommand::Delete {
            proof: Proof::Password(verified_password.clone()),
            step_up: step_up.step_up.clone(),
            now: ctx.now(),
        },
    )
    .await;
    let position = step_up.settle(ctx, outcome).await?.position;
    super::erasure::after_deletion(ctx, caller.account_id).await;
    Ok(position)
}

/// Checks the password confirming a signed-in action (OWASP ASVS 2.2.1: counted per account
/// before the check, so that a stolen session cannot guess it): at most
/// `PASSWORD_RECHECKS_PER_ACCOUNT` failures in `THROTTLE_WINDOW`, then `TooManyRequests`.
/// A success gives back its own attempt only.
pub(super) async fn verify_password(
    ctx: &Context,
    account_id: Uuid,
    account: &Account,
    password: &str,
) -> Result<SealedPasswordHash, ServiceError> {
    let key = recheck_hash(account_id);
    {
        let client = ctx.pool.get().await?;
        if let Some(retry_after) = throttle::reserve_attempt(
            &client,
            &key,
            ctx.now(),
            THROTTLE_WINDOW,
            PASSWORD_RECHECKS_PER_ACCOUNT,
        )
        .await?
        {
            return Err(ServiceError::TooManyRequests(retry_after));
        }
    }
    match &account.password {
        Some(hash) if ctx.hasher.verify(password, Some(hash)).await => {
            let client = ctx.pool.get().await?;
            throttle::release_attempt(&client, &key).await?;
            Ok(hash.clone())
        }
        _ => Err(ServiceError::WrongPassword),
    }
}
