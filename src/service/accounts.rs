//! The account stream, as every area uses it: the active account, the canonical claim of an
//! identifier, and running account commands (with the inline writes their events imply: claims,
//! sessions, roles) in one transaction, alone or inside a larger unit.

use super::executor::{self, CommandMetadata, Committed, ExecuteError, InlineWrite, Loaded, Unit};
use super::{Context, ServiceError};
use crate::domain::Aggregate;
use crate::domain::account::Identifier;
use crate::domain::account::{
    Account, AccountCommand, AccountError, AccountEvent, AccountStatus, Role, SessionEndReason,
    decide,
};
use crate::store::claims::ClaimKind;
use crate::store::sessions::{self, ActiveSession};
use uuid::Uuid;

/// The inline-table writes that follow from account events: identifiers claimed and freed,
/// sessions ended.
pub(super) fn account_inline_writes(before: &Account, events: &[AccountEvent]) -> Vec<InlineWrite> {
    let mut writes = Vec::new();
    for event in events {
        match event {
            AccountEvent::AccountRegistered {
                email,
                username,
                phone,
                ..
            } => {
                if let Some(email) = email {
                    writes.push(InlineWrite::Claim(
                        ClaimKind::Email,
                        email.as_str().to_owned(),
                    ));
                }
                if let Some(username) = username {
                    writes.push(InlineWrite::Claim(
                        ClaimKind::Username,
                        username.normalized(),
                    ));
                }
                if let Some(phone) = phone {
                    writes.push(InlineWrite::Claim(
                        ClaimKind::Phone,
                        phone.as_str().to_owned(),
                    ));
                }
            }
            AccountEvent::UsernameChanged {
                username, previous, ..
            } => {
                if let Some(previous) = previous {
                    writes.push(InlineWrite::Release(
                        ClaimKind::Username,
                        previous.normalized(),
                    ));
                }
                writes.push(InlineWrite::Claim(
                    ClaimKind::Username,
                    username.normalized(),
                ));
            }
            AccountEvent::SessionsEnded {
                session_ids,
                reason,
                ..
            } => writes.push(InlineWrite::EndSessions(
                session_ids.clone(),
                end_reason_name(*reason),
            )),
            AccountEvent::AccountDeleted { at } => {
                if before.role == Role::Owner {
                    writes.push(InlineWrite::RequireAnotherOwner);
                }
                writes.push(InlineWrite::SetRole(Role::User));
                writes.push(InlineWrite::ReleaseAll);
                writes.push(InlineWrite::EndAllSessions("account_deleted"));
                writes.push(InlineWrite::ScheduleErasure(*at));
            }
            AccountEvent::AccountRestored { .. } => {
                // Its identifiers again, unless someone took one meanwhile (then 409).
                let identifiers = [
                    before
                        .email
                        .as_ref()
                        .map(|email| (ClaimKind::Email, email.as_str().to_owned())),
                    before
                        .username
                        .as_ref()
                        .map(|username| (ClaimKind::Username, username.normalized())),
                    before
                        .phone
                        .as_ref()
                        .map(|phone| (ClaimKind::Phone, phone.as_str().to_owned())),
                ];
                for (kind, value) in identifiers.into_iter().flatten() {
                    writes.push(InlineWrite::Claim(kind, value));
                }
                for passkey in &before.factors.passkeys {
                    writes.push(InlineWrite::Claim(
                        ClaimKind::Passkey,
                        passkey.credential_id.clone(),
                    ));
                }
                writes.push(InlineWrite::SetRole(before.role));
                writes.push(InlineWrite::CancelErasure);
            }
            AccountEvent::PersonalDataErased { .. }
            | AccountEvent::AccountErased { .. }
            | AccountEvent::PersonalDataExported { .. } => {}
            AccountEvent::ProfileUpdated { .. }
            | AccountEvent::PasswordChanged { .. }
            | AccountEvent::PrivacyChanged { .. }
            | AccountEvent::SessionStarted { .. }
            | AccountEvent::SignInFailed { .. }
            | AccountEvent::EmailVerified { .. }
            | AccountEvent::AccountUnblocked { .. }
            | AccountEvent::UnverifiedPasswordRemoved { .. }
            | AccountEvent::FeaturedChanged { .. }
            | AccountEvent::SecondFactorChallenged { .. }
            | AccountEvent::TotpEnrolmentStarted { .. }
            | AccountEvent::TotpEnabled { .. }
            | AccountEvent::TotpCodeUsed { .. }
            | AccountEvent::TotpRemoved { .. }
            | AccountEvent::RecoveryCodesGenerated { .. }
            | AccountEvent::RecoveryCodeUsed { .. }
            | AccountEvent::RecoveryCodesRevoked { .. }
            | AccountEvent::StepUpFailed { .. }
            | AccountEvent::PasskeyRegistrationStarted { .. }
            | AccountEvent::PasskeyUsed { .. }
            | AccountEvent::TotpEnrolmentCancelled { .. } => {}
            AccountEvent::AccountBlocked { .. } => {
                writes.push(InlineWrite::EndAllSessions("blocked"));
            }
            AccountEvent::PasskeyAdded { credential_id, .. } => {
                writes.push(InlineWrite::Claim(
                    ClaimKind::Passkey,
                    credential_id.clone(),
                ));
            }
            AccountEvent::PasskeyRemoved { passkey_id, .. } => {
                let removed = before.factors.passkeys.iter().find(|p| p.id == *passkey_id);
                if let Some(passkey) = removed {
                    writes.push(InlineWrite::Release(
                        ClaimKind::Passkey,
                        passkey.credential_id.clone(),
                    ));
                }
            }
            AccountEvent::SecondFactorsReset { .. } => {
                for passkey in &before.factors.passkeys {
                    writes.push(InlineWrite::Release(
                        ClaimKind::Passkey,
                        passkey.credential_id.clone(),
                    ));
                }
            }
            AccountEvent::StepUpProven {
                session_id,
                method,
                at,
                ..
            } => {
                writes.push(InlineWrite::ProveSecondFactor(
                    *session_id,
                    method.as_str(),
                    *at,
                ));
            }
            AccountEvent::RoleChanged { role, previous, .. } => {
                if *previous == Role::Owner && *role != Role::Owner {
                    writes.push(InlineWrite::RequireAnotherOwner);
                }
                writes.push(InlineWrite::SetRole(*role));
            }
            AccountEvent::PhoneChanged {
                phone, previous, ..
            } => {
                if let Some(previous) = previous {
                    writes.push(InlineWrite::Release(
                        ClaimKind::Phone,
                        previous.as_str().to_owned(),
                    ));
                }
                writes.push(InlineWrite::Claim(
                    ClaimKind::Phone,
                    phone.as_str().to_owned(),
                ));
            }
            AccountEvent::EmailChanged {
                email, previous, ..
            } => {
                if let Some(previous) = previous {
                    writes.push(InlineWrite::Release(
                        ClaimKind::Email,
                        previous.as_str().to_owned(),
                    ));
                }
                writes.push(InlineWrite::Claim(
                    ClaimKind::Email,
                    email.as_str().to_owned(),
                ));
            }
        }
    }
    writes
}

fn end_reason_name(reason: SessionEndReason) -> &'static str {
    match reason {
        SessionEndReason::SignedOut => "signed_out",
        SessionEndReason::EndedByUser => "ended_by_user",
        SessionEndReason::PasswordChanged => "password_changed",
        SessionEndReason::PasswordReset => "password_reset",
        SessionEndReason::Blocked => "blocked",
        SessionEndReason::AddressProven => "address_proven",
        SessionEndReason::PasskeyRemoved => "passkey_removed",
        SessionEndReason::SecondFactorsReset => "second_factors_reset",
        SessionEndReason::SecondFactorEnabled => "second_factor_enabled",
    }
}

pub(super) fn from_execute(error: ExecuteError<AccountError>) -> ServiceError {
    match error {
        ExecuteError::Domain(error) => error.into(),
        ExecuteError::Store(error) => error.into(),
    }
}

/// The claim that holds an identifier: its kind and canonical value.
pub(super) fn claim_of(identifier: &Identifier) -> (ClaimKind, String) {
    match identifier {
        Identifier::Email(email) => (ClaimKind::Email, email.as_str().to_owned()),
        Identifier::Username(username) => (ClaimKind::Username, username.normalized()),
        Identifier::Phone(phone) => (ClaimKind::Phone, phone.as_str().to_owned()),
    }
}

/// Runs an account command whose only inline writes are those its events imply, in a
/// transaction of its own.
pub(super) async fn run_account_command(
    ctx: &Context,
    account_id: Uuid,
    metadata: &CommandMetadata,
    command: AccountCommand,
) -> Result<Committed<Account>, ServiceError> {
    let mut unit = Unit::begin(ctx, metadata, &[account_id]).await?;
    let outcome =
        run_account_commands_in(&mut unit, account_id, |_| vec![command], Vec::new()).await;
    unit.finish(outcome).await
}

/// Runs a command of the signed-in caller on their own account (the caller is the actor),
/// while the caller's session is still live.
pub(super) async fn run_own_command(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    command: AccountCommand,
) -> Result<Committed<Account>, ServiceError> {
    if metadata.idempotency.is_none() {
        let client = ctx.pool.get().await?;
        // `SessionEnded` answers `Unauthenticated`.
        let loaded =
            executor::load_while_live::<Account>(&ctx.keys, &client, caller.account_id, caller)
                .await?;
        drop(client);
        if let Some(committed) = run_own_alone(ctx, caller, metadata, loaded, &command).await? {
            return Ok(committed);
        }
    }
    run_own_in_unit(ctx, caller, metadata, command).await
}

/// Like [`run_own_command`], for the caller whose session has the bearer `token`: the session
/// is checked in the statement that loads the account (`Unauthenticated` when it is not live).
/// Returns the session with the outcome.
pub(super) async fn run_own_command_with_token(
    ctx: &Context,
    token: &str,
    metadata: &CommandMetadata,
    command: AccountCommand,
) -> Result<(ActiveSession, Committed<Account>), ServiceError> {
    let token_hash = crate::credentials::session_token_hash(token);
    let loaded = {
        let client = ctx.reads.lane().await?;
        executor::load_session_account::<Account>(&ctx.keys, &*client, &token_hash).await?
    };
    let Some((caller, loaded)) = loaded else {
        return Err(ServiceError::Unauthenticated);
    };
    if metadata.idempotency.is_none() {
        if let Some(committed) = run_own_alone(ctx, caller, metadata, loaded, &command).await? {
            return Ok((caller, committed));
        }
    }
    Ok((
        caller,
        run_own_in_unit(ctx, caller, metadata, command).await?,
    ))
}

/// Without a key to commit with, a command of the caller goes in one statement when it can
/// (`executor::try_alone`), which appends only while the session is live; `None` when the
/// command must run in a unit.
async fn run_own_alone(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    loaded: Loaded<Account>,
    command: &AccountCommand,
) -> Result<Option<Committed<Account>>, ServiceError> {
    executor::try_alone(
        ctx,
        caller.account_id,
        Some(caller),
        &metadata.with_actor(caller.account_id),
        &loaded,
        |account| decide(account, command.clone()),
        account_inline_writes,
    )
    .await
    .map_err(from_execute)
}

/// Runs a command of the caller in a unit that holds the account's lock and checks the session
/// as it loads the account.
async fn run_own_in_unit(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    command: AccountCommand,
) -> Result<Committed<Account>, ServiceError> {
    let mut unit = own_unit_checked_on_load(ctx, caller, metadata, &[]).await?;
    let outcome =
        run_account_commands_in(&mut unit, caller.account_id, |_| vec![command], Vec::new()).await;
    unit.finish(outcome).await
}

/// Runs a command of the caller's on another stream of theirs (address book, follow graph) in
/// a unit that locks the account too, so that a session ended meanwhile changes nothing;
/// `refused` maps the aggregate's refusals.
pub(super) async fn run_own_stream<A: Aggregate, E>(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    stream: Uuid,
    decide: impl FnOnce(&A) -> Result<Vec<A::Event>, E>,
    refused: impl FnOnce(ExecuteError<E>) -> ServiceError,
) -> Result<Committed<A>, ServiceError> {
    let mut unit = own_unit_checked_on_load(ctx, caller, metadata, &[stream]).await?;
    let outcome = unit
        .run(stream, decide, |_, _| Vec::new())
        .await
        .map_err(refused);
    unit.finish(outcome).await
}

/// Opens a unit for a command of the signed-in caller (the actor), over the caller's account
/// and `streams`, once it sees the caller's session still live (`Unauthenticated` otherwise).
/// The commands that end sessions (a block, a password reset, a proof of an unverified
/// address) hold the account's lock too, so a command of a session either commits before them
/// or finds the session ended.
pub(super) async fn own_unit(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    streams: &[Uuid],
) -> Result<Unit, ServiceError> {
    let mut unit = begin_own(ctx, caller, metadata, streams).await?;
    let live = unit
        .began(async |client| sessions::is_live(client, caller).await)
        .await;
    match live {
        Ok(true) => Ok(unit),
        Ok(false) => unit.finish(Err(ServiceError::Unauthenticated)).await,
        Err(error) => unit.finish(Err(error.into())).await,
    }
}

/// Like [`own_unit`], for a use case whose next step is a command: the session is checked in
/// the statement that loads the command's stream, one round trip fewer.
async fn own_unit_checked_on_load(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    streams: &[Uuid],
) -> Result<Unit, ServiceError> {
    let mut unit = begin_own(ctx, caller, metadata, streams).await?;
    unit.require_live_session(caller);
    Ok(unit)
}

/// A unit of the caller (the actor) over their account and `streams`.
async fn begin_own(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    streams: &[Uuid],
) -> Result<Unit, ServiceError> {
    let metadata = metadata.with_actor(caller.account_id);
    let streams: Vec<Uuid> = streams.iter().copied().chain([caller.account_id]).collect();
    Ok(Unit::begin(ctx, &metadata, &streams).await?)
}

/// Runs account commands in `unit` (which locked the account): each is decided on the state
/// the ones before it leave; the inline writes their events imply, then `writes`, follow.
pub(super) async fn run_account_commands_in(
    unit: &mut Unit,
    account_id: Uuid,
    commands: impl FnOnce(&Account) -> Vec<AccountCommand>,
    writes: Vec<InlineWrite>,
) -> Result<Committed<Account>, ServiceError> {
    run_account_commands_with(unit, account_id, commands, |_| writes).await
}

/// Like [`run_account_commands_in`], with the inline writes beyond those the events imply
/// chosen by the events decided (`writes`).
pub(super) async fn run_account_commands_with(
    unit: &mut Unit,
    account_id: Uuid,
    commands: impl FnOnce(&Account) -> Vec<AccountCommand>,
    writes: impl FnOnce(&[AccountEvent]) -> Vec<InlineWrite>,
) -> Result<Committed<Account>, ServiceError> {
    unit.run(
        account_id,
        |account: &Account| {
            let mut state = account.clone();
            let mut events = Vec::new();
            for command in commands(account) {
                let decided = decide(&state, command)?;
                state = decided
                    .iter()
                    .fold(state, |state, event| state.evolve(event));
                events.extend(decided);
            }
            Ok(events)
        },
        |account, events| {
            let mut all = account_inline_writes(account, events);
            all.extend(writes(events));
            all
        },
    )
    .await
    .map_err(from_execute)
}

/// The caller's account, read from its stream.
pub async fn account(ctx: &Context, account_id: Uuid) -> Result<Loaded<Account>, ServiceError> {
    let client = ctx.pool.get().await?;
    active(executor::load::<Account>(&ctx.keys, &client, account_id).await?)
}

/// The signed-in caller's account and session, for the bearer `token` of a live session, read
/// in one statement (so the answer reflects the caller's last change); `None` when no live
/// session has the token.
pub async fn of_session(
    ctx: &Context,
    token: &str,
) -> Result<Option<(ActiveSession, Loaded<Account>)>, ServiceError> {
    let client = ctx.reads.lane().await?;
    let token_hash = crate::credentials::session_token_hash(token);
    match executor::load_session_account::<Account>(&ctx.keys, &*client, &token_hash).await? {
        Some((session, loaded)) => Ok(Some((session, active(loaded)?))),
        None => Ok(None),
    }
}

/// The account if it exists and is not deleted (`AccountNotFound` otherwise).
pub(super) fn active(loaded: Loaded<Account>) -> Result<Loaded<Account>, ServiceError> {
    match loaded.state.status {
        AccountStatus::Active | AccountStatus::Blocked => Ok(loaded),
        _ => Err(ServiceError::AccountNotFound),
    }
}
