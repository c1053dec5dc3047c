//! Sign-up: by email (password; a `sign_up` code when required, which verifies the address),
//! by username (password) or by phone (a texted code), with the per-address limit and the
//! verification mail an unproven address gets.

use super::codes::{CodeProof, Target};
use super::executor::CommandMetadata;
use super::proven::{Changed, prove_and_change};
use super::sessions::{NewSessionPlan, SignedIn};
use super::{Context, ServiceError};
use crate::domain::account::{AccountCommand, Identifier, Proof};
use crate::domain::code::{Channel, Purpose};
use crate::domain::values::{DisplayName, Password};
use crate::store::claims::{self};
use crate::store::throttle;
use uuid::Uuid;

/// How long sign-ups from one address count towards their limit.
const SIGN_UP_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// A sign-up as the caller asked for it, its values parsed.
#[derive(Debug, Clone)]
pub struct SignUp {
    /// The one identifier the account starts with.
    pub identifier: Identifier,
    /// The password: needed unless signing up by phone.
    pub password: Option<Password>,
    /// A code sent for `sign_up` to the email or phone: needed for a phone, and for an email
    /// when the service requires it (it then verifies the address).
    pub code: Option<String>,
    /// The name shown to others.
    pub display_name: Option<DisplayName>,
    /// A solved captcha: needed once the client's address is past its hourly sign-ups.
    pub captcha: Option<String>,
    /// The language (BCP 47 tag) of the verification mail an email address not proven by a
    /// code is sent; `None` sends none (`accounts admin create`).
    pub mail_locale: Option<&'static str>,
}

/// Signs up and signs in: by email (password; a code sent for `sign_up` too when the
/// service requires it, which also verifies the address), by username (password), or by
/// phone (a texted `sign_up` code; password optional). Past the address's hourly limit the
/// sign-up needs a solved captcha (`CaptchaRequired`). An email address that no code proved
/// is then sent a verification mail; failing to send it (limits) does not undo the sign-up.
pub async fn sign_up(
    ctx: &Context,
    request: SignUp,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    admit_sign_up(ctx, request.captcha.as_deref(), metadata).await?;
    let unproven_email = match &request.identifier {
        Identifier::Email(email) if request.code.is_none() && !ctx.policy.require_email_code => {
            Some(Target::email(email))
        }
        _ => None,
    };
    let mail_locale = request.mail_locale;
    let signed_in = register(ctx, request, metadata).await?;
    if let (Some(target), Some(locale)) = (unproven_email, mail_locale) {
        // The mail is the new account's own command, and no retry of the sign-up's.
        let metadata = CommandMetadata {
            idempotency: None,
            ..metadata.with_actor(signed_in.account_id)
        };
        if let Err(error) =
            super::codes::send_code(ctx, &target, Purpose::VerifyEmail, locale, &metadata).await
        {
            tracing::info!(%error, "no verification mail at sign-up");
        }
    }
    Ok(signed_in)
}

/// Registers the account and starts its first session, once its identifier is free and the
/// code (if one is needed) is proven.
async fn register(
    ctx: &Context,
    SignUp {
        identifier,
        password,
        code,
        display_name,
        ..
    }: SignUp,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    let (claim_kind, claim_value) = super::accounts::claim_of(&identifier);
    let identifier_kind = identifier.kind();
    let code_target = match &identifier {
        Identifier::Phone(_) => Some(Channel::Sms),
        Identifier::Email(_) if code.is_some() || ctx.policy.require_email_code => {
            Some(Channel::Email)
        }
        _ => None,
    };
    if code_target.is_some() && code.is_none() {
        return Err(ServiceError::required(
            "code",
            "a code sent for sign_up is needed",
        ));
    }
    if code_target != Some(Channel::Sms) && password.is_none() {
        return Err(ServiceError::required("password", "a password is needed"));
    }
    // Answer a taken identifier before spending a password hash or a code on it. The claim
    // in the transaction below still decides races.
    {
        let client = ctx.pool.get().await?;
        if claims::holder(&client, claim_kind, &claim_value)
            .await?
            .is_some()
        {
            return Err(ServiceError::IdentifierTaken(claim_kind));
        }
    }
    let proof = match (code_target, code) {
        (Some(channel), Some(code)) => Some(CodeProof::Code {
            target: Target {
                channel,
                value: claim_value,
            },
            code,
        }),
        _ => None,
    };
    // A wrong code costs no password hash: it is checked (not spent) first.
    if let (Some(proof), Some(_)) = (&proof, &password) {
        super::codes::check_proof(ctx, proof, Purpose::SignUp, false, metadata).await?;
    }
    let sealed = match password {
        Some(password) => Some(ctx.hasher.hash(&password).await?),
        None => None,
    };
    let account_id = Uuid::now_v7();
    let now = ctx.now();
    let register = AccountCommand::Register {
        identifier,
        password: sealed.clone(),
        email_verified: code_target == Some(Channel::Email),
        display_name,
        now,
    };
    let session_proof = match sealed {
        Some(sealed) => Proof::Password(sealed),
        None => Proof::Code,
    };
    let Some(proof) = proof else {
        return super::sessions::start_session(
            ctx,
            account_id,
            Some(register),
            session_proof,
            identifier_kind,
            now,
            metadata,
        )
        .await;
    };
    // The code is spent with the registration, in one transaction.
    let plan = NewSessionPlan::new(
        ctx,
        account_id,
        session_proof,
        identifier_kind,
        now,
        metadata,
    );
    let commands = vec![register, plan.command.clone()];
    let committed = prove_and_change(
        ctx,
        &[(&proof, Purpose::SignUp)],
        Changed::Named(account_id),
        &metadata.with_actor(account_id),
        |_, _| Ok(commands),
        vec![plan.write.clone()],
    )
    .await?;
    Ok(plan.signed_in(account_id, committed))
}

/// Counts a sign-up from the client's address; past the address's hourly limit, the
/// sign-up needs a solved captcha (`CaptchaRequired` without one).
pub(super) async fn admit_sign_up(
    ctx: &Context,
    captcha: Option<&str>,
    metadata: &CommandMetadata,
) -> Result<(), ServiceError> {
    let limit = i32::try_from(ctx.policy.sign_ups_per_address).unwrap_or(i32::MAX);
    let Some(ip) = metadata.ip.as_deref().filter(|_| limit > 0) else {
        return Ok(());
    };
    let now = ctx.now();
    let client = ctx.pool.get().await?;
    let key = format!("sign_ups_per_ip:{ip}");
    if throttle::hit_rate_limit(&client, key.as_bytes(), now, SIGN_UP_WINDOW, limit)
        .await?
        .is_some()
    {
        super::sign_in::spend_captcha(ctx, &client, captcha, now).await?;
    }
    Ok(())
}
