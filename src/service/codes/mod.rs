//! One-time codes: sending (`POST /v1/codes`) and checking them (`check`), for the flows that
//! use them.
//!
//! Every well-formed request is answered the same way whether or not an account holds the
//! target, and counts against the same limits; only whether the code is delivered differs, and
//! that is known to the mail and SMS workers alone (`deliver` in the event).

mod check;

pub use check::{CodeProof, check_code, link_expiry};
pub(super) use check::{
    PreparedProof, check_in, check_proof, holder_of_proof, holder_of_target, prepare,
};

use super::executor::{CommandMetadata, ExecuteError, Unit};
use super::{Context, ServiceError};
use crate::domain::account::IdentifierKind;
use crate::domain::code::NewLink;
use crate::domain::code::{self, Channel, CodeCommand, CodeError, Codes, Purpose};
use crate::domain::values::{Email, Phone};
use crate::store::claims::{self, ClaimKind};
use crate::store::throttle;
use base64::Engine as _;
use hmac::Mac as _;
use rand::Rng as _;
use uuid::Uuid;

/// A code's target, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// How the code travels.
    pub channel: Channel,
    /// The normalized email or E.164 phone.
    pub value: String,
}

impl Target {
    /// Parses `to` for `channel`; the field error names `field`.
    pub fn parse(channel: Channel, to: &str, field: &str) -> Result<Self, ServiceError> {
        let value = match channel {
            Channel::Email => Email::parse(to)
                .map_err(|invalid| ServiceError::invalid(field, invalid))?
                .as_str()
                .to_owned(),
            Channel::Sms => Phone::parse(to)
                .map_err(|invalid| ServiceError::invalid(field, invalid))?
                .as_str()
                .to_owned(),
        };
        Ok(Self { channel, value })
    }

    /// An email address, by mail.
    pub fn email(email: &Email) -> Self {
        Self {
            channel: Channel::Email,
            value: email.as_str().to_owned(),
        }
    }

    /// A phone number, by text.
    pub fn phone(phone: &Phone) -> Self {
        Self {
            channel: Channel::Sms,
            value: phone.as_str().to_owned(),
        }
    }

    /// The kind of identifier the target is.
    pub fn identifier_kind(&self) -> IdentifierKind {
        match self.channel {
            Channel::Email => IdentifierKind::Email,
            Channel::Sms => IdentifierKind::Phone,
        }
    }

    /// The kind of claim that holds the target.
    pub(super) fn claim_kind(&self) -> ClaimKind {
        match self.channel {
            Channel::Email => ClaimKind::Email,
            Channel::Sms => ClaimKind::Phone,
        }
    }
}

/// Issues a code for `purpose` to `target`; whether it is delivered depends on the purpose
/// and on whether an account holds the target, which the answer never tells.
pub async fn send_code(
    ctx: &Context,
    target: &Target,
    purpose: Purpose,
    locale: &str,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let code = new_code(ctx, target, purpose, locale, metadata).await?;
    let mut unit = Unit::begin(ctx, metadata, &[code.stream]).await?;
    let outcome = issue_in(&mut unit, code).await.map_err(from_code_error);
    unit.finish(outcome).await
}

/// A code about to be issued: its stream and the command that issues it.
#[derive(Debug, Clone)]
pub(super) struct NewCode {
    /// The code stream it is issued in.
    pub stream: Uuid,
    target: Target,
    command: CodeCommand,
}

/// Draws a code (and a link, for the mails that carry one) for `purpose` to `target`, counted
/// against the client address's hourly codes (`Policy::codes_per_address`; `TooManyRequests`
/// past them).
pub(super) async fn new_code(
    ctx: &Context,
    target: &Target,
    purpose: Purpose,
    locale: &str,
    metadata: &CommandMetadata,
) -> Result<NewCode, ServiceError> {
    let now = ctx.now();
    let limit = ctx.policy.codes_per_address;
    if let Some(ip) = metadata.ip.as_ref().filter(|_| limit > 0) {
        let client = ctx.pool.get().await?;
        let key = ctx.pseudonyms.of("codes_per_ip", ip);
        if let Some(retry_after) = throttle::hit_rate_limit(
            &client,
            &key,
            now,
            chrono::Duration::hours(1),
            i32::try_from(limit).unwrap_or(i32::MAX),
        )
        .await?
        {
            return Err(ServiceError::TooManyRequests(retry_after));
        }
    }
    let stream = code::stream_id(&ctx.pseudonyms, target.channel, &target.value, purpose);
    let clear = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let link = link_lifetime(target.channel, purpose).map(|lifetime| {
        let mut secret = [0_u8; 32];
        rand::thread_rng().fill(&mut secret);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let token = format!("{}.{secret}", stream.simple());
        NewLink {
            hash: link_hash(ctx, stream, &secret),
            sealed: ctx.secrets.seal_text(&token),
            lifetime,
        }
    });
    let command = CodeCommand::Issue {
        channel: target.channel,
        target: target.value.clone(),
        purpose,
        code_hash: code_hash(ctx, stream, &clear),
        sealed_code: ctx.secrets.seal_text(&clear),
        deliver: false,
        locale: locale.to_owned(),
        link,
        now,
    };
    Ok(NewCode {
        stream,
        target: target.clone(),
        command,
    })
}

/// Issues a drawn code in `unit` (which locked its stream). Whether it is delivered is decided
/// here, from who holds the target as the unit sees it (an account registered earlier in the
/// same unit holds its address).
pub(super) async fn issue_in(
    unit: &mut Unit,
    code: NewCode,
) -> Result<i64, ExecuteError<CodeError>> {
    let NewCode {
        stream,
        target,
        mut command,
    } = code;
    let holder = claims::holder(unit.client().await?, target.claim_kind(), &target.value).await?;
    if let CodeCommand::Issue {
        purpose, deliver, ..
    } = &mut command
    {
        *deliver = match purpose {
            // A texted sign-in code signs in or, for a new phone, signs up
            // (`POST /v1/sessions/sms`): it goes to any phone.
            Purpose::SignIn if target.channel == Channel::Sms => true,
            // A change is proven by codes to the new address or number and to the old one.
            Purpose::ChangePhone | Purpose::ChangeEmail => true,
            // A new address or phone: send only if it is free.
            Purpose::SignUp => holder.is_none(),
            // An existing account's address or phone.
            Purpose::SignIn
            | Purpose::VerifyEmail
            | Purpose::ResetPassword
            | Purpose::DeleteAccount => holder.is_some(),
        };
    }
    let committed = unit
        .run::<Codes, _>(
            stream,
            |codes| code::decide(codes, command),
            |_, _| Vec::new(),
        )
        .await?;
    Ok(committed.position)
}

pub(in crate::service) fn link_hash(ctx: &Context, stream: Uuid, secret: &str) -> String {
    code_hash(ctx, stream, &format!("link:{secret}"))
}

/// The keyed hash of a code in its stream: without the service's key, the hashes in the
/// log cannot be tried against the million possible codes.
pub(super) fn code_hash(ctx: &Context, stream: Uuid, code: &str) -> String {
    let key = ctx.secrets.derive_key("one-time-codes");
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key) else {
        unreachable!("HMAC accepts a 32-byte key");
    };
    mac.update(stream.as_bytes());
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Mails for verification and password reset carry a link as well as the code.
fn link_lifetime(channel: Channel, purpose: Purpose) -> Option<chrono::Duration> {
    match (channel, purpose) {
        (Channel::Email, Purpose::VerifyEmail) => Some(chrono::Duration::hours(24)),
        (Channel::Email, Purpose::ResetPassword) => Some(chrono::Duration::hours(1)),
        _ => None,
    }
}

pub(super) fn from_code_error(error: ExecuteError<CodeError>) -> ServiceError {
    match error {
        ExecuteError::Domain(CodeError::TooMany(seconds)) => ServiceError::TooManyRequests(seconds),
        ExecuteError::Domain(CodeError::Invalid) => ServiceError::CodeInvalid,
        ExecuteError::Domain(CodeError::Expired) => ServiceError::CodeExpired,
        ExecuteError::Store(error) => error.into(),
    }
}
