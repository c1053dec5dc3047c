//! Sessions: starting one (for sign-up and every way of signing in), authenticating a bearer
//! token, listing and ending them.

use super::accounts::{account_inline_writes, from_execute};
use super::executor::{self, CommandMetadata, InlineWrite};
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
    let client = ctx.pool.get().await?;
    Ok(sessions::authenticate(&client, &credentials::session_token_hash(token)).await?)
}

/// Starts a session, after registering the account first when `register` is given.
pub(super) async fn start_session(
    ctx: &Context,
    account_id: Uuid,
    register: Option<AccountCommand>,
    proof: Proof,
    identifier: IdentifierKind,
    now: DateTime<Utc>,
    metadata: &CommandMetadata,
) -> Result<SignedIn, ServiceError> {
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
    let start = AccountCommand::StartSession {
        session_id,
        proof,
        identifier,
        ip: metadata.ip.clone(),
        user_agent: metadata.user_agent.clone(),
        expires_at,
        now,
    };
    let committed = executor::execute(
        &ctx.pool,
        account_id,
        &metadata.with_actor(account_id),
        |account: &Account| {
            let mut events = match &register {
                Some(register) => decide(account, register.clone())?,
                None => Vec::new(),
            };
            let registered = events
                .iter()
                .fold(account.clone(), |state, event| state.evolve(event));
            events.extend(decide(&registered, start.clone())?);
            Ok(events)
        },
        |account, events| {
            let mut writes = account_inline_writes(account, events);
            writes.push(InlineWrite::OpenSession(session.clone()));
            writes
        },
    )
    .await
    .map_err(from_execute)?;
    Ok(SignedIn {
        account_id,
        account: committed.state,
        session_id,
        token,
        expires_at,
        position: committed.position,
    })
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
    let committed = super::accounts::run_account_command(
        ctx,
        caller.account_id,
        &metadata.with_actor(caller.account_id),
        |_| AccountCommand::EndSessions {
            which,
            reason,
            now: ctx.now(),
        },
    )
    .await?;
    Ok(committed.position)
}
