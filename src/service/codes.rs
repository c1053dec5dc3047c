//! One-time codes: sending (`POST /v1/codes`) and checking them, for the flows that use them.
//!
//! Every well-formed request is answered the same way whether or not an account holds the
//! target, and counts against the same limits; only whether the code is delivered differs, and
//! that is known to the mail and SMS workers alone (`deliver` in the event).

use super::executor::{self, CommandMetadata, ExecuteError, Unit};
use super::{Context, ServiceError};
use crate::domain::account::{Account, IdentifierKind};
use crate::domain::code::NewLink;
use crate::domain::code::{
    self, Channel, CodeCommand, CodeError, CodeEvent, Codes, Presented, Purpose,
};
use crate::domain::values::{Email, Phone};
use crate::store::claims::{self, ClaimKind};
use crate::store::throttle;
use base64::Engine as _;
use hmac::Mac as _;
use rand::Rng as _;
use uuid::Uuid;

/// Codes one client address may ask for in an hour.
const CODES_PER_IP_PER_HOUR: i32 = 30;

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
    let mut unit = Unit::begin(&ctx.pool, metadata, &[code.stream]).await?;
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
/// against the client address's hourly codes (`TooManyRequests` past them).
pub(super) async fn new_code(
    ctx: &Context,
    target: &Target,
    purpose: Purpose,
    locale: &str,
    metadata: &CommandMetadata,
) -> Result<NewCode, ServiceError> {
    let now = ctx.now();
    if let Some(ip) = &metadata.ip {
        let client = ctx.pool.get().await?;
        let key = format!("codes_per_ip:{ip}");
        if let Some(retry_after) = throttle::hit_rate_limit(
            &client,
            key.as_bytes(),
            now,
            chrono::Duration::hours(1),
            CODES_PER_IP_PER_HOUR,
        )
        .await?
        {
            return Err(ServiceError::TooManyRequests(retry_after));
        }
    }
    let stream = code::stream_id(target.channel, &target.value, purpose);
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
    let holder = claims::holder(unit.client(), target.claim_kind(), &target.value).await?;
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

/// Checks a code; `consume` spends it. A wrong code is recorded (five kill it) and
/// answered `CodeInvalid`.
pub async fn check_code(
    ctx: &Context,
    target: &Target,
    purpose: Purpose,
    code: &str,
    consume: bool,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let proof = CodeProof::Code {
        target: target.clone(),
        code: code.to_owned(),
    };
    check_proof(ctx, &proof, purpose, consume, metadata)
        .await
        .map(|(_, position)| position)
}

/// Checks (and with `consume`, spends) a code or a link token for `purpose`; returns the
/// target it was sent to. A code or link issued before the last change of credentials or
/// identifiers of the account holding the target proves nothing (`Account::codes_valid_from`).
pub(super) async fn check_proof(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
    consume: bool,
    metadata: &CommandMetadata,
) -> Result<(Target, i64), ServiceError> {
    let prepared = prepare(ctx, proof, purpose, consume).await?;
    let mut unit = Unit::begin(&ctx.pool, metadata, &[prepared.stream]).await?;
    let outcome = check_in(&mut unit, &prepared).await;
    unit.finish(outcome).await
}

/// A proof ready to be checked inside a unit: its code stream, what was presented, and since
/// when codes to its target count.
#[derive(Debug, Clone)]
pub(super) struct PreparedProof {
    /// The code stream it is checked in.
    pub stream: Uuid,
    purpose: Purpose,
    presented: Presented,
    consume: bool,
    issued_after: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
}

/// Reads what checking `proof` needs, before its unit begins.
pub(super) async fn prepare(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
    consume: bool,
) -> Result<PreparedProof, ServiceError> {
    let stream = proof_stream(proof, purpose)?;
    let presented = match proof {
        CodeProof::Code { code, .. } => Presented::Code(code_hash(ctx, stream, code.trim())),
        CodeProof::Link { token } => {
            let secret = token
                .trim()
                .split_once('.')
                .map_or("", |(_, secret)| secret);
            Presented::Link(link_hash(ctx, stream, secret))
        }
    };
    Ok(PreparedProof {
        stream,
        purpose,
        presented,
        consume,
        issued_after: codes_valid_from(ctx, proof, stream).await?,
        now: ctx.now(),
    })
}

/// Checks a prepared proof in `unit` (which locked its stream); returns where it was sent and
/// the code stream's position. A wrong code is recorded even though the use case ends there
/// (`CodeInvalid`): the unit commits the failed attempt alone.
pub(super) async fn check_in(
    unit: &mut Unit,
    prepared: &PreparedProof,
) -> Result<(Target, i64), ServiceError> {
    let command = CodeCommand::Check {
        presented: prepared.presented.clone(),
        consume: prepared.consume,
        issued_after: prepared.issued_after,
        now: prepared.now,
    };
    let (stream, purpose) = (prepared.stream, prepared.purpose);
    let committed = unit
        .run::<Codes, _>(
            stream,
            // A link names its stream: it must be one of this purpose's.
            |codes| match &codes.target {
                Some((channel, value)) if code::stream_id(*channel, value, purpose) == stream => {
                    code::decide(codes, command)
                }
                _ => Err(CodeError::Invalid),
            },
            |_, _| Vec::new(),
        )
        .await
        .map_err(from_code_error)?;
    if committed
        .events
        .iter()
        .any(|event| matches!(event, CodeEvent::CodeAttemptFailed { .. }))
    {
        unit.commit_refusal();
        return Err(ServiceError::CodeInvalid);
    }
    let (channel, value) = committed.state.target.ok_or(ServiceError::CodeInvalid)?;
    Ok((Target { channel, value }, committed.position))
}

/// Since when codes and links to the proof's target count for the account that holds it;
/// `None` when no account holds it (sign-up, a new address or phone).
async fn codes_valid_from(
    ctx: &Context,
    proof: &CodeProof,
    stream: Uuid,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    let Some(holder) = proof_holder(ctx, proof, stream).await? else {
        return Ok(None);
    };
    let client = ctx.pool.get().await?;
    let account = executor::load::<Account>(&client, holder).await?.state;
    Ok(account.codes_valid_from)
}

/// The account holding a code's target, if any.
pub(super) async fn holder_of_target(
    ctx: &Context,
    target: &Target,
) -> Result<Option<Uuid>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(claims::holder(&client, target.claim_kind(), &target.value).await?)
}

/// The account holding the target a code or link for `purpose` was sent to, if any.
pub(super) async fn holder_of_proof(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
) -> Result<Option<Uuid>, ServiceError> {
    proof_holder(ctx, proof, proof_stream(proof, purpose)?).await
}

/// The account holding the target a proof was sent to, if any. `stream` is the proof's
/// code stream (a link names it; a code's is found from its target and purpose).
async fn proof_holder(
    ctx: &Context,
    proof: &CodeProof,
    stream: Uuid,
) -> Result<Option<Uuid>, ServiceError> {
    let client = ctx.pool.get().await?;
    let target = match proof {
        CodeProof::Code { target, .. } => target.clone(),
        // A link names its stream, whose events name the target.
        CodeProof::Link { .. } => {
            match executor::load::<Codes>(&client, stream).await?.state.target {
                Some((channel, value)) => Target { channel, value },
                None => return Ok(None),
            }
        }
    };
    Ok(claims::holder(&client, target.claim_kind(), &target.value).await?)
}

fn link_hash(ctx: &Context, stream: Uuid, secret: &str) -> String {
    code_hash(ctx, stream, &format!("link:{secret}"))
}

/// The keyed hash of a code in its stream: without the service's key, the hashes in the
/// log cannot be tried against the million possible codes.
fn code_hash(ctx: &Context, stream: Uuid, code: &str) -> String {
    let key = ctx.secrets.derive_key("one-time-codes");
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key) else {
        unreachable!("HMAC accepts a 32-byte key");
    };
    mac.update(stream.as_bytes());
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What a caller presents to prove a target: a code sent to it, or the token of a link.
#[derive(Debug, Clone)]
pub enum CodeProof {
    /// A 6-digit code sent to `target`.
    Code {
        /// Where it was sent.
        target: Target,
        /// The code.
        code: String,
    },
    /// The token of a link in a mail.
    Link {
        /// The token.
        token: String,
    },
}

/// The code stream a proof is checked in: a code's from its target and purpose; a link's is
/// named in its token (`<stream>.<secret>`).
fn proof_stream(proof: &CodeProof, purpose: Purpose) -> Result<Uuid, ServiceError> {
    match proof {
        CodeProof::Code { target, .. } => {
            Ok(code::stream_id(target.channel, &target.value, purpose))
        }
        CodeProof::Link { token } => token
            .trim()
            .split_once('.')
            .and_then(|(stream, _)| Uuid::parse_str(stream).ok())
            .ok_or(ServiceError::CodeInvalid),
    }
}

/// Mails for verification and password reset carry a link as well as the code.
fn link_lifetime(channel: Channel, purpose: Purpose) -> Option<chrono::Duration> {
    match (channel, purpose) {
        (Channel::Email, Purpose::VerifyEmail) => Some(chrono::Duration::hours(24)),
        (Channel::Email, Purpose::ResetPassword) => Some(chrono::Duration::hours(1)),
        _ => None,
    }
}

fn from_code_error(error: ExecuteError<CodeError>) -> ServiceError {
    match error {
        ExecuteError::Domain(CodeError::TooMany(seconds)) => ServiceError::TooManyRequests(seconds),
        ExecuteError::Domain(CodeError::Invalid) => ServiceError::CodeInvalid,
        ExecuteError::Domain(CodeError::Expired) => ServiceError::CodeExpired,
        ExecuteError::Store(error) => error.into(),
    }
}
