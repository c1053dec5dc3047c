//! Sessions: starting one (for sign-up and every way of signing in), authenticating a bearer
//! token, listing and ending them.

use super::accounts::{account_inline_writes, run_account_commands_with};
use super::executor::{self, CommandMetadata, Committed, ExecuteError, InlineWrite, Loaded, Unit};
use super::{Context, ServiceError};
use crate::credentials::{self, IssuedToken};
use crate::domain::Aggregate;
use crate::domain::account::{
    Account, AccountCommand, AccountEvent, IdentifierKind, Proof, SecondFactor, SecondFactorMethod,
    SessionEndReason, SessionsToEnd, decide,
};
use crate::store::challenges::NewChallenge;
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
    /// A session for `account_id`, signed in with `proof` (and `second_factor`, which an
    /// account that has one requires) through `identifier`, lasting the policy's session
    /// lifetime from `now`.
    pub fn new(
        ctx: &Context,
        account_id: Uuid,
        proof: Proof,
        second_factor: Option<SecondFactor>,
        identifier: IdentifierKind,
        now: DateTime<Utc>,
        metadata: &CommandMetadata,
    ) -> Self {
        let IssuedToken { token, hash } = credentials::issue_session_token();
        let session_id = Uuid::now_v7();
        let expires_at = now + ctx.policy.session_ttl;
        let first = proof.method();
        let second = second_factor.as_ref().map(SecondFactor::method);
        // A passkey signing in alone is both factors: it is named once.
        let methods = std::iter::once(first.as_str())
            .chain(second.map(|method| method.as_str()))
            .fold(Vec::<String>::new(), |mut methods, method| {
                if !methods.iter().any(|named| named == method) {
                    methods.push(method.to_owned());
                }
                methods
            });
        let session = NewSession {
            id: session_id,
            token_hash: hash,
            account_id,
            created_at: now,
            expires_at,
            user_agent: metadata.user_agent.clone(),
            ip: metadata.ip.clone(),
            methods,
            second_factor_at: second.map(|_| now),
        };
        let command = AccountCommand::StartSession {
            session_id,
            proof,
            second_factor,
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

    /// Starts the session on `account_id` under the account's lock, with `writes` committed
    /// beside its row: what the client is told, or why the account refused.
    pub async fn start(
        self,
        ctx: &Context,
        account_id: Uuid,
        writes: Vec<InlineWrite>,
        metadata: &CommandMetadata,
    ) -> Result<SignedIn, ServiceError> {
        let metadata = metadata.with_actor(account_id);
        let mut unit = Unit::begin(ctx, &metadata, &[account_id]).await?;
        let command = self.command.clone();
        let writes = std::iter::once(self.write.clone()).chain(writes).collect();
        let outcome = super::accounts::run_account_commands_in(
            &mut unit,
            account_id,
            |_| vec![command],
            writes,
        )
        .await;
        let committed = unit.finish(outcome).await?;
        Ok(self.signed_in(account_id, committed))
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

/// How long a second-factor challenge lives unanswered.
pub const CHALLENGE_TTL: chrono::Duration = chrono::Duration::minutes(5);

/// A second-factor challenge: the sign-in's first factor was proven on an account with a
/// second factor, which `POST /v1/sessions/mfa` answers with the challenge's token.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The challenge token, shown to the client once (only its SHA-256 is kept).
    pub token: String,
    /// When it dies unanswered.
    pub expires_at: DateTime<Utc>,
    /// The second factors that can answer it.
    pub methods: Vec<SecondFactorMethod>,
    /// WebAuthn options for a passkey's assertion (`navigator.credentials.get()`), when the
    /// account has passkeys.
    pub passkey_options: Option<serde_json::Value>,
    /// Log position of the `SecondFactorChallenged` event.
    pub position: i64,
}

/// What a proven first factor gave: a session, or, on an account with a second factor, a
/// challenge for it.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "one outcome, moved once into the answer"
)]
pub enum SignInOutcome {
    /// Signed in.
    SignedIn(SignedIn),
    /// The second factor is needed: answer the challenge.
    Challenged(Challenge),
}

/// A challenge about to be issued: the account command that records it, the inline row that
/// makes its token work, and what the client is shown.
struct ChallengePlan {
    command: AccountCommand,
    challenge: NewChallenge,
    token: String,
    expires_at: DateTime<Utc>,
    passkeys: std::sync::Arc<crate::passkeys::Passkeys>,
    /// The passkey assertion for the account's passkeys, drawn once the account is read under
    /// its lock: the options for the client, and the state kept with the challenge.
    passkey: std::sync::OnceLock<Option<crate::passkeys::Ceremony>>,
}

impl ChallengePlan {
    fn new(
        ctx: &Context,
        account_id: Uuid,
        proof: Proof,
        identifier: IdentifierKind,
        now: DateTime<Utc>,
        metadata: &CommandMetadata,
    ) -> Self {
        let IssuedToken { token, hash } = credentials::issue_session_token();
        let id = Uuid::now_v7();
        let expires_at = now + CHALLENGE_TTL;
        let challenge = NewChallenge {
            id,
            token_hash: hash,
            account_id,
            identifier: identifier.as_str(),
            method: proof.method().as_str(),
            created_at: now,
            expires_at,
            passkey_state: None,
        };
        Self {
            command: AccountCommand::ChallengeSecondFactor {
                challenge_id: id,
                proof,
                identifier,
                ip: metadata.ip.clone(),
                user_agent: metadata.user_agent.clone(),
                expires_at,
                now,
            },
            challenge,
            token,
            expires_at,
            passkeys: ctx.passkeys.clone(),
            passkey: std::sync::OnceLock::new(),
        }
    }

    /// The challenge's command for `account`, drawing its passkey assertion when it has
    /// passkeys.
    fn command(&self, account: &Account) -> AccountCommand {
        self.passkey.get_or_init(|| {
            let passkeys = &account.factors.passkeys;
            if passkeys.is_empty() {
                return None;
            }
            match self.passkeys.start_assertion(passkeys) {
                Ok(ceremony) => Some(ceremony),
                Err(error) => {
                    // The other factors still answer: the challenge goes without passkeys.
                    tracing::error!(%error, "passkey assertion options");
                    None
                }
            }
        });
        self.command.clone()
    }

    /// The challenge's row, with the passkey assertion's state.
    fn write(&self) -> InlineWrite {
        let mut challenge = self.challenge.clone();
        challenge.passkey_state = self
            .passkey
            .get()
            .and_then(Option::as_ref)
            .map(|ceremony| ceremony.state.clone());
        InlineWrite::OpenChallenge(challenge)
    }
}

/// A sign-in whose first factor is proven: a session, or a challenge when the account (as the
/// command finds it, under its lock) has a second factor.
pub(super) struct SignInPlan {
    session: NewSessionPlan,
    challenge: ChallengePlan,
}

impl SignInPlan {
    /// A sign-in of `account_id` proven by `proof` through `identifier` at `now`.
    pub fn new(
        ctx: &Context,
        account_id: Uuid,
        proof: Proof,
        identifier: IdentifierKind,
        now: DateTime<Utc>,
        metadata: &CommandMetadata,
    ) -> Self {
        Self {
            session: NewSessionPlan::new(
                ctx,
                account_id,
                proof.clone(),
                None,
                identifier,
                now,
                metadata,
            ),
            challenge: ChallengePlan::new(ctx, account_id, proof, identifier, now, metadata),
        }
    }

    /// The command for `account`: the challenge when it has a second factor, else the session.
    pub fn command(&self, account: &Account) -> AccountCommand {
        match account.factors.enabled() {
            true => self.challenge.command(account),
            false => self.session.command.clone(),
        }
    }

    /// The inline row the decided `events` need: the challenge's or the session's.
    pub fn write(&self, events: &[AccountEvent]) -> InlineWrite {
        match challenged(events) {
            true => self.challenge.write(),
            false => self.session.write.clone(),
        }
    }

    /// What the client is told once the sign-in's account commands committed.
    pub fn outcome(self, account_id: Uuid, committed: Committed<Account>) -> SignInOutcome {
        match challenged(&committed.events) {
            true => SignInOutcome::Challenged(Challenge {
                token: self.challenge.token,
                expires_at: self.challenge.expires_at,
                methods: committed.state.factors.methods(),
                passkey_options: self
                    .challenge
                    .passkey
                    .get()
                    .and_then(Option::as_ref)
                    .map(|ceremony| ceremony.options.clone()),
                position: committed.position,
            }),
            false => SignInOutcome::SignedIn(self.session.signed_in(account_id, committed)),
        }
    }
}

fn challenged(events: &[AccountEvent]) -> bool {
    events
        .iter()
        .any(|event| matches!(event, AccountEvent::SecondFactorChallenged { .. }))
}

/// Signs in under the account's lock: a session, or a second-factor challenge when the account
/// has a second factor; `writes` commit with it.
pub(super) async fn sign_in_in_unit(
    ctx: &Context,
    account_id: Uuid,
    proof: Proof,
    identifier: IdentifierKind,
    now: DateTime<Utc>,
    metadata: &CommandMetadata,
    writes: Vec<InlineWrite>,
) -> Result<SignInOutcome, ServiceError> {
    let plan = SignInPlan::new(ctx, account_id, proof, identifier, now, metadata);
    let metadata = metadata.with_actor(account_id);
    let mut unit = Unit::begin(ctx, &metadata, &[account_id]).await?;
    let outcome = run_account_commands_with(
        &mut unit,
        account_id,
        |account| vec![plan.command(account)],
        |events| std::iter::once(plan.write(events)).chain(writes).collect(),
    )
    .await;
    let committed = unit.finish(outcome).await?;
    Ok(plan.outcome(account_id, committed))
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
    let plan = NewSessionPlan::new(ctx, account_id, proof, None, identifier, now, metadata);
    let InlineWrite::OpenSession(session) = &plan.write else {
        return Ok(None);
    };
    let event_metadata = metadata.with_actor(account_id).to_json();
    let alone = executor::try_alone_with(
        ctx,
        account_id,
        &event_metadata,
        loaded,
        |account| decide(account, plan.command.clone()),
        account_inline_writes,
        async |client, decided| {
            sessions::open_with_events(
                client,
                Account::STREAM_TYPE,
                decided.version,
                &decided.sealed,
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
