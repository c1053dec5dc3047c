//! Checking a code or a link: alone (`POST /v1/codes/check`), or inside the unit of the change
//! it proves. A code or link issued before the last change of credentials or identifiers of
//! the account holding its target proves nothing.

use super::{Target, code_hash, from_code_error, link_hash};
use crate::domain::account::Account;
use crate::domain::code::{self, CodeCommand, CodeError, CodeEvent, Codes, Presented, Purpose};
use crate::domain::pseudonyms::Pseudonyms;
use crate::service::executor::{self, CommandMetadata, Unit};
use crate::service::{Context, ServiceError};
use crate::store::claims::{self};
use uuid::Uuid;

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
pub(in crate::service) async fn check_proof(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
    consume: bool,
    metadata: &CommandMetadata,
) -> Result<(Target, i64), ServiceError> {
    let prepared = prepare(ctx, proof, purpose, consume).await?;
    let mut unit = Unit::begin(ctx, metadata, &[prepared.stream]).await?;
    let outcome = check_in(&mut unit, &prepared).await;
    unit.finish(outcome).await
}

/// A proof ready to be checked inside a unit: its code stream, what was presented, and since
/// when codes to its target count.
#[derive(Debug, Clone)]
pub(in crate::service) struct PreparedProof {
    /// The code stream it is checked in.
    pub stream: Uuid,
    purpose: Purpose,
    /// What names code streams, to check that a link's stream is one of `purpose`'s.
    pseudonyms: Pseudonyms,
    presented: Presented,
    consume: bool,
    issued_after: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
}

/// Reads what checking `proof` needs, before its unit begins.
pub(in crate::service) async fn prepare(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
    consume: bool,
) -> Result<PreparedProof, ServiceError> {
    let stream = proof_stream(ctx, proof, purpose)?;
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
        pseudonyms: ctx.pseudonyms.clone(),
        presented,
        consume,
        issued_after: codes_valid_from(ctx, proof, stream).await?,
        now: ctx.now(),
    })
}

/// Checks a prepared proof in `unit` (which locked its stream); returns where it was sent and
/// the code stream's position. A wrong code is recorded even though the use case ends there
/// (`CodeInvalid`): the unit commits the failed attempt alone.
pub(in crate::service) async fn check_in(
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
                Some((channel, value))
                    if code::stream_id(&prepared.pseudonyms, *channel, value, purpose)
                        == stream =>
                {
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
    let account = executor::load::<Account>(&ctx.keys, &client, holder)
        .await?
        .state;
    Ok(account.codes_valid_from)
}

/// The account holding a code's target, if any.
pub(in crate::service) async fn holder_of_target(
    ctx: &Context,
    target: &Target,
) -> Result<Option<Uuid>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(claims::holder(&client, target.claim_kind(), &target.value).await?)
}

/// The account holding the target a code or link for `purpose` was sent to, if any.
pub(in crate::service) async fn holder_of_proof(
    ctx: &Context,
    proof: &CodeProof,
    purpose: Purpose,
) -> Result<Option<Uuid>, ServiceError> {
    proof_holder(ctx, proof, proof_stream(ctx, proof, purpose)?).await
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
            match executor::load::<Codes>(&ctx.keys, &client, stream)
                .await?
                .state
                .target
            {
                Some((channel, value)) => Target { channel, value },
                None => return Ok(None),
            }
        }
    };
    Ok(claims::holder(&client, target.claim_kind(), &target.value).await?)
}

/// When the link `token` for `purpose` stops working, if it works now: it names a stream of
/// this purpose, its code is the stream's latest, unused, issued after the last credential
/// change of the account that holds its address (there is one), and its time is not up. Reads only: showing a link's page spends nothing
/// and counts no try.
pub async fn link_expiry(
    ctx: &Context,
    token: &str,
    purpose: Purpose,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ServiceError> {
    let proof = CodeProof::Link {
        token: token.to_owned(),
    };
    let Ok(stream) = proof_stream(ctx, &proof, purpose) else {
        return Ok(None);
    };
    let secret = token
        .trim()
        .split_once('.')
        .map_or("", |(_, secret)| secret);
    let presented = link_hash(ctx, stream, secret);
    let codes = {
        let client = ctx.pool.get().await?;
        executor::load::<Codes>(&ctx.keys, &client, stream)
            .await?
            .state
    };
    let of_this_purpose = codes.target.as_ref().is_some_and(|(channel, value)| {
        code::stream_id(&ctx.pseudonyms, *channel, value, purpose) == stream
    });
    let Some(current) = codes.current.filter(|current| {
        of_this_purpose && !current.used && current.link_hash.as_deref() == Some(presented.as_str())
    }) else {
        return Ok(None);
    };
    // Every link is for an account's address: once no account holds it (deleted, or moved to
    // another address), the link is dead, as its form would find.
    let Some(holder) = proof_holder(ctx, &proof, stream).await? else {
        return Ok(None);
    };
    let account = {
        let client = ctx.pool.get().await?;
        executor::load::<Account>(&ctx.keys, &client, holder)
            .await?
            .state
    };
    if account
        .codes_valid_from
        .is_some_and(|from| current.issued_at < from)
    {
        return Ok(None);
    }
    Ok(current.link_expires_at.filter(|at| *at > ctx.now()))
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
fn proof_stream(ctx: &Context, proof: &CodeProof, purpose: Purpose) -> Result<Uuid, ServiceError> {
    match proof {
        CodeProof::Code { target, .. } => Ok(code::stream_id(
            &ctx.pseudonyms,
            target.channel,
            &target.value,
            purpose,
        )),
        CodeProof::Link { token } => token
            .trim()
            .split_once('.')
            .and_then(|(stream, _)| Uuid::parse_str(stream).ok())
            .ok_or(ServiceError::CodeInvalid),
    }
}
