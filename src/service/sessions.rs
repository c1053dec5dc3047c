//! Sessions: starting one (for sign-up and every way of signing in), authenticating a bearer
//! token, listing and ending them.

use super::accounts::{account_inline_writes, run_account_commands_in};
use super::executor::{self, CommandMetadata, Committed, ExecuteError, InlineWrite, Loaded, Unit};
use super::{Context, ServiceError};
use crate::credentials::{self, IssuedToken};
use crate::domain::Aggregate;
use crate::domain::account::{
    Account, AccountCommand, IdentifierKind, Proof, SessionEndReason, SessionsToEnd, decide,
};
use crate::store::sessions::{self, ActiveSession, NewSession, SessionSummary};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An account and a session just started for it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account's id.
    pub account_id: Uuid,
    /// The account after signing in.
    pub account: Account,
    /// The new session's id.
    pub session_id: Uuid,
    /// The bearer token, shown to the client once.
    pub token: String,
    /// When the session expires.
    pub expires_at: DateTime<Utc>,
    /// Log position of the last event written.
    pub position: i64,
}

/// The caller's session for a bearer token, if the token is live.
pub async fn authenticate(
    ctx: &Context,
    token: &str,
) -> Result<Option<ActiveSession>, ServiceError> {
    let client = ctx.reads.lane().await?;
    Ok(sessions::authenticate(&*client, &credentials::session_token_hash(token)).await?)
}

/// A session about to start: the account command that records it, the inline row that
/// makes its token work, and what the client is shown.
pub(super) struct NewSessionPlan {
    /// `StartSession`, for the account's stream.
    pub command: AccountCommand,
    /// The `sessions` row, written with the event.
    pub write: InlineWrite,
    session_id: Uuid,
    token: String,
    expires_at: DateTime<Utc>,
}

impl NewSessionPlan {
    /// A session for `account_id`, signed in with `proof` through `identifier`, lasting the
    /// policy's session lifetime from `now`.
    pub fn new(
        ctx: &Context,
        account_id: Uuid,
        proof: Proof,
        identifier: IdentifierKind,
        now: DateTime<Utc>,
        metadata: &CommandMetadata,
    ) -> Self {
        let IssuedToken { token, hash } = credentials::issue_session_token();
        let session_id = Uuid::now_v7();
        let expires_at = now + ctx.policy.session_ttl;
        let session = NewSession {
            id: session_id,
            token_hash: hash,
            account_id,
            created_at: now,
            expires_at,
            user_agent: metadata.user_agent.clone(),
            ip: metadata.ip.clone(),
        };
        let command = AccountCommand::StartSession {
            session_id,
            proof,
            identifier,
            ip: metadata.ip.clone(),
            user_agent: metadata.user_agent.clone(),
            expires_at,
            now,
        };
        Self {
            command,
            write: InlineWrite::OpenSession(session),
            session_id,
            token,
            expires_at,
        }
    }

    /// What the client is told once the session's account commands committed.
    pub fn signed_in(self, account_id: Uuid, committed: Committed<Account>) -> SignedIn {
        SignedIn {
            account_id,
            account: committed.state,
            session_id: self.session_id,
            token: self.token,
            expires_at: self.expires_at,
            position: committed.position,
        }
    }
}

/// Starts a session, after registering the account first when `register` is given; `writes`
/// commit with it.
#[allow(clippy::too_many_arguments, reason = "each is one fact of the sign-in")]
pub(super) async fn start_session(
    ctx: &Context,
    account_id: Uuid,
    register: Option<AccountCommand>,
    proof: Proof,
    identifier: IdentifierKind,
    now: DateTime<Utc>,
    metadata: &CommandMetadata,
    writes: Vec<InlineWrite>,
) -> Result<SignedIn, ServiceError> {
    let plan = NewSessionPlan::new(ctx, account_id, proof, identifier, now, metadata);
    let metadata = metadata.with_actor(account_id);
    let mut unit = Unit::begin(&ctx.pool, &metadata, &[account_id]).await?;
    let commands = register.into_iter().chain([plan.command.clone()]).collect();
    let writes = std::iter::once(plan.write.clone()).chain(writes).collect();
    let outcome = run_account_commands_in(&mut unit, account_id, |_| commands, writes).await;
    let committed = unit.finish(outcome).await?;
    Ok(plan.signed_in(account_id, committed))
}

/// Starts a session for a password sign-in on the account as read before the password was
/// checked (`loaded`), in one statement that is the whole transaction: the `SessionStarted`
/// event and snapshot appended at `loaded`'s version, the session's row, and the attempts
/// reserved on the throttle keys `released` given back (`store::sessions::open_with_events`).
/// `None` when that cannot be: the command is refused or does more than start the session, or
/// a writer holds or took the account's stream meanwhile; then [`start_session`] does it under
/// the stream's lock, as any command. Not for a command under an idempotency key, whose answer
/// must commit with it.
#[allow(clippy::too_many_arguments, reason = "each is one fact of the sign-in")]
pub(super) async fn start_session_at_version(
    ctx: &Context,
    account_id: Uuid,
    loaded: &Loaded<Account>,
    proof: Proof,
    identifier: IdentifierKind,
    now: DateTime<Utc>,
    metadata: &CommandMetadata,
    released: &[Vec<u8>],
) -> Result<Option<SignedIn>, ServiceError> {
    debug_assert!(metadata.idempotency.is_none());
    let plan = NewSessionPlan::new(ctx, account_id, proof, identifier, now, metadata);
    let InlineWrite::OpenSession(session) = &plan.write else {
        return Ok(None);
    };
    let event_metadata = metadata.with_actor(account_id).to_json();
    let alone = executor::try_alone_with(
        &ctx.pool,
        loaded,
        |account| decide(account, plan.command.clone()),
        account_inline_writes,
        async |client, decided| {
            sessions::open_with_events(
                client,
                Account::STREAM_TYPE,
                decided.version,
                &decided.new_events,
                &event_metadata,
                (Account::snapshot_format(), &decided.snapshot),
                session,
                released,
            )
            .await
        },
    )
    .await;
    match alone {
        // A start that recorded nothing wrote no session row either (it always records one).
        Ok(Some(committed)) if committed.events.is_empty() => Ok(None),
        Ok(Some(committed)) => Ok(Some(plan.signed_in(account_id, committed))),
        // Refused (a block, say): the unit refuses it again, and the sign-in records why.
        Ok(None) | Err(ExecuteError::Domain(_)) => Ok(None),
        Err(ExecuteError::Store(error)) => Err(error.into()),
    }
}

/// The caller's live sessions.
pub async fn live(ctx: &Context, account_id: Uuid) -> Result<Vec<SessionSummary>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(sessions::list_live(&client, account_id).await?)
}

/// Ends sessions of the caller's account.
pub async fn end_sessions(
    ctx: &Context,
    caller: ActiveSession,
    which: SessionsToEnd,
    metadata: &CommandMetadata,
) -> Result<i64, ServiceError> {
    let reason = match which {
        SessionsToEnd::One(id) if id == caller.id => SessionEndReason::SignedOut,
        _ => SessionEndReason::EndedByUser,
    };
    let committed = super::accounts::run_own_command(
        ctx,
        caller,
        metadata,
        AccountCommand::EndSessions {
            which,
            reason,
            now: ctx.now(),
        },
    )
    .await?;
    Ok(committed.position)
}
