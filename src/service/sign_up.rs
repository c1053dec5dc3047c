//! Sign-up: by email (password; a `sign_up` code when required, which verifies the address),
//! by username (password) or by phone (a texted code), with the per-address limit and the
//! verification mail an unproven address gets.

use super::codes::NewCode;
use super::codes::{CodeProof, Target};
use super::executor::{CommandMetadata, Committed, ExecuteError, InlineWrite, Unit};
use super::proven::{ChangedAccount, prove_and_change};
use super::sessions::{NewSessionPlan, SignedIn};
use super::{Context, ServiceError};
use crate::domain::account::{Account, AccountCommand, Identifier, Proof};
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
/// is sent a verification mail, issued in the sign-up's own transaction; past the limits on
/// codes the sign-up goes ahead without it (`POST /v1/email-verification` asks again).
pub async fn sign_up(
    ctx: &Context,
    request: SignUp,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
    admit_sign_up(ctx, request.captcha.as_deref(), metadata).await?;
    register(ctx, request, metadata).await
}

/// Registers the account and starts its first session, once its identifier is free, in one
/// transaction with the code that proves it or the verification mail it owes.
async fn register(
    ctx: &Context,
    SignUp {
        identifier,
        password,
        code,
        display_name,
        mail_locale,
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
    // An address no code proves is owed a verification mail.
    let unproven_email = match (&identifier, code_target) {
        (Identifier::Email(email), None) => Some(Target::email(email)),
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
    let metadata = metadata.with_actor(account_id);
    let plan = NewSessionPlan::new(
        ctx,
        account_id,
        session_proof,
        None,
        identifier_kind,
        now,
        &metadata,
    );
    let commands = vec![register, plan.command.clone()];
    let committed = match proof {
        // The code is spent with the registration.
        Some(proof) => {
            prove_and_change(
                ctx,
                None,
                &[(&proof, Purpose::SignUp)],
                ChangedAccount::Named(account_id),
                &metadata,
                |_, _| Ok(commands),
                vec![plan.write.clone()],
            )
            .await?
        }
        None => {
            let mail = match (&unproven_email, mail_locale) {
                (Some(target), Some(locale)) => {
                    verification_mail(ctx, target, locale, &metadata).await
                }
                _ => None,
            };
            let streams: Vec<Uuid> = std::iter::once(account_id)
                .chain(mail.as_ref().map(|mail| mail.stream))
                .collect();
            let mut unit = Unit::begin(ctx, &metadata, &streams).await?;
            let outcome =
                register_and_mail(&mut unit, account_id, commands, plan.write.clone(), mail).await;
            unit.finish(outcome).await?
        }
    };
    Ok(plan.signed_in(account_id, committed))
}

/// The verification mail a sign-up owes an address no code proved, unless the client's
/// address is past its hourly codes.
async fn verification_mail(
    ctx: &Context,
    target: &Target,
    locale: &str,
    metadata: &CommandMetadata,
) -> Option<NewCode> {
    match super::codes::new_code(ctx, target, Purpose::VerifyEmail, locale, metadata).await {
        Ok(mail) => Some(mail),
        Err(error) => {
            tracing::info!(%error, "no verification mail at sign-up");
            None
        }
    }
}

async fn register_and_mail(
    unit: &mut Unit,
    account_id: Uuid,
    commands: Vec<AccountCommand>,
    session: InlineWrite,
    mail: Option<NewCode>,
) -> Result<Committed<Account>, ServiceError> {
    let committed =
        super::accounts::run_account_commands_in(unit, account_id, |_| commands, vec![session])
            .await?;
    if let Some(mail) = mail {
        match super::codes::issue_in(unit, mail).await {
            Ok(_) => {}
            // A mail the code's own limits refuse is left out; the sign-up stands.
            Err(ExecuteError::Domain(error)) => {
                tracing::info!(%error, "no verification mail at sign-up");
            }
            Err(ExecuteError::Store(error)) => return Err(error.into()),
        }
    }
    Ok(committed)
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
    let key = ctx.pseudonyms.of("sign_ups_per_ip", ip);
    if throttle::hit_rate_limit(&client, &key, now, SIGN_UP_WINDOW, limit)
        .await?
        .is_some()
    {
        super::sign_in::spend_captcha(ctx, &client, captcha, now).await?;
    }
    Ok(())
}
