//! The command executor: load a stream, decide, append, and write the inline tables, all in
//! one transaction (a [`Unit`], over one stream or several).
//!
//! Writers of one stream are serialized with a transaction-scoped advisory lock taken before
//! the stream is loaded, so concurrent commands on one account queue rather than fail; the
//! `UNIQUE (stream_id, version)` constraint still guards against any writer that skips the lock
//! (a one-stream `execute` retries such a clash by reloading and deciding again; a larger unit
//! answers it as a conflict). Neither the locks nor the loads assign a transaction id, so an
//! event INSERT stays the transaction's first write (see `store::event_log`).

use super::stream_queue;
use crate::domain::account::Role;
use crate::domain::{Aggregate, DomainEvent};
use crate::personal::{Keyring, SealedAppend};
use crate::store::challenges::{self, NewChallenge};
use crate::store::claims::{self, ClaimKind};
use crate::store::erasures;
use crate::store::event_log::{self, NewEvent, RecordedEvent};
use crate::store::privileged;
use crate::store::sessions::{self, NewSession};
use crate::store::throttle;
use crate::store::{StoreError, idempotency};
use deadpool_postgres::GenericClient;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// Attempts at a command whose stream moved underneath it.
const MAX_ATTEMPTS: usize = 5;

/// An aggregate loaded from its stream.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// Its state.
    pub state: A,
    /// The stream's last version (0 when empty).
    pub version: i64,
    /// The log position of the stream's last event.
    pub position: Option<i64>,
    /// The version of the snapshot it was loaded from (0 when folded from the start).
    pub snapshot_version: i64,
}

/// Folds recorded events into an aggregate.
pub fn fold<A: Aggregate>(events: &[RecordedEvent]) -> Result<Loaded<A>, StoreError> {
    let empty = Loaded {
        state: A::default(),
        version: 0,
        position: None,
        snapshot_version: 0,
    };
    fold_onto(empty, events)
}

/// Folds the events after `loaded` into it.
fn fold_onto<A: Aggregate>(
    mut loaded: Loaded<A>,
    events: &[RecordedEvent],
) -> Result<Loaded<A>, StoreError> {
    for recorded in events {
        let event: A::Event = match event_log::decode(recorded) {
            Ok(event) => event,
            // An event whose personal fields are erased may no longer read as its type: its
            // effect on the state (who the account was) is gone with them, and the facts that
            // matter come from the events that remain (`PersonalDataErased` clears the rest).
            Err(_) if crate::personal::is_erased(&recorded.data) => {
                loaded.version = recorded.version;
                loaded.position = Some(recorded.position);
                continue;
            }
            Err(error) => return Err(error),
        };
        loaded.state = loaded.state.evolve(&event);
        loaded.version = recorded.version;
        loaded.position = Some(recorded.position);
    }
    Ok(loaded)
}

/// Loads an aggregate's current state: from its snapshot and the events after it, in one
/// statement, or from all its events when it has no snapshot this build can read.
pub async fn load<A: Aggregate>(
    keys: &Keyring,
    client: &impl GenericClient,
    stream_id: Uuid,
) -> Result<Loaded<A>, StoreError> {
    let read =
        event_log::load_stream_after_snapshot(client, stream_id, A::snapshot_format()).await?;
    fold_snapshot_and_tail(keys, client, stream_id, read).await
}

/// Like [`load`], only while `session` is live: `StoreError::SessionEnded` when it is not. One
/// statement.
pub async fn load_while_live<A: Aggregate>(
    keys: &Keyring,
    client: &impl GenericClient,
    stream_id: Uuid,
    session: sessions::ActiveSession,
) -> Result<Loaded<A>, StoreError> {
    let read = event_log::load_stream_while_live(client, stream_id, A::snapshot_format(), session)
        .await?
        .ok_or(StoreError::SessionEnded)?;
    fold_snapshot_and_tail(keys, client, stream_id, read).await
}

/// The account of a live session whose token has the SHA-256 `token_hash`, with the session:
/// one statement (`event_log::load_session_account`), and a second at most once a minute to
/// mark the session seen. `None` when no live session has it.
pub async fn load_session_account<A: Aggregate>(
    keys: &Keyring,
    client: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<(sessions::ActiveSession, Loaded<A>)>, StoreError> {
    let Some((session, stale, read)) =
        event_log::load_session_account(client, token_hash, A::snapshot_format()).await?
    else {
        return Ok(None);
    };
    if stale {
        sessions::mark_seen(client, session).await?;
    }
    let loaded = fold_snapshot_and_tail(keys, client, session.account_id, read).await?;
    Ok(Some((session, loaded)))
}

/// Opens a snapshot and the events after it (`crate::personal`) and folds the events into it;
/// replays the whole stream when the snapshot does not read back (the log is the truth; the
/// next command writes a good snapshot).
pub async fn fold_snapshot_and_tail<A: Aggregate>(
    keys: &Keyring,
    client: &impl GenericClient,
    stream_id: Uuid,
    read: event_log::SnapshotAndTail,
) -> Result<Loaded<A>, StoreError> {
    let read = read.opened(keys, client, stream_id).await?;
    let Some(snapshot) = read.snapshot else {
        return fold(&read.events);
    };
    let state = match &snapshot.opened {
        Some(text) => serde_json::from_slice::<A>(text),
        None => serde_json::from_value::<A>(snapshot.state),
    };
    match state {
        Ok(state) => {
            let base = Loaded {
                state,
                version: snapshot.version,
                position: Some(snapshot.position),
                snapshot_version: snapshot.version,
            };
            fold_onto(base, &read.events)
        }
        Err(error) => {
            tracing::warn!(%stream_id, %error, "a snapshot does not read back; replaying");
            fold(&event_log::load_stream(keys, client, stream_id).await?)
        }
    }
}

/// A key under which a command runs at most once, and the request it was first used for.
///
/// A unit that succeeds under a claim writes the key in its transaction and then, instead of
/// committing, leaves the transaction with the claim ([`IdempotencyClaim::take_pending`]): the
/// HTTP layer turns the use case's outcome into its answer and commits it with the answer
/// ([`PendingCommit::commit_with_answer`]). So a committed command always has its answer
/// stored, and a command that did not commit leaves its key free.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// Whose keys these are (hash of the caller's credentials, or of "anonymous").
    pub scope: Vec<u8>,
    /// The client's key.
    pub key: String,
    /// Hash of the request (method, path, body).
    pub fingerprint: Vec<u8>,
    /// The transaction of the command that succeeded under this key, not yet committed.
    pending: Arc<Mutex<Option<PendingCommit>>>,
    /// Set when a unit succeeded under this key without recording any event.
    unchanged: Arc<AtomicBool>,
    /// Set when a unit under this key ended in a refusal.
    refused: Arc<AtomicBool>,
}

impl IdempotencyClaim {
    /// A claim of `key` in `scope` for the request with `fingerprint`.
    pub fn new(scope: Vec<u8>, key: String, fingerprint: Vec<u8>) -> Self {
        Self {
            scope,
            key,
            fingerprint,
            pending: Arc::default(),
            unchanged: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// The transaction of the command that succeeded under this key, which commits only
    /// with its answer; `None` when no command succeeded (or it has been taken).
    pub fn take_pending(&self) -> Option<PendingCommit> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Whether a unit succeeded under this key without recording any event (a command that
    /// changed nothing, or a check before the command): its answer is kept by
    /// [`idempotency::claim`] after the fact, since there is nothing to commit it
    /// with.
    pub fn succeeded_unchanged(&self) -> bool {
        self.unchanged.load(Ordering::SeqCst)
    }

    /// Whether a unit under this key ended in a refusal (decided on the stream's state, so a
    /// retry could be decided otherwise later): the HTTP layer keeps the answer.
    pub fn refused_in_unit(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    fn leave_pending(&self, commit: PendingCommit) {
        *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(commit);
    }
}

/// A succeeded command's transaction, holding its events, inline writes, stream locks and
/// idempotency key, that commits together with the command's answer. Dropped, it rolls back.
pub struct PendingCommit {
    client: Option<deadpool_postgres::Object>,
    appended: Vec<(&'static str, &'static str)>,
    /// The unit's turns in its streams' queues, until it commits or rolls back.
    _turns: Vec<stream_queue::Turn>,
}

impl std::fmt::Debug for PendingCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCommit")
            .field("events", &self.appended.len())
            .finish_non_exhaustive()
    }
}

impl PendingCommit {
    /// Stores `answer` under the claim's key and commits the command with it. On `Err` the
    /// command may not have committed (or, when the connection broke during `COMMIT`, may
    /// have): either way a retry with the key gets its stored answer or runs the command.
    pub async fn commit_with_answer(
        self,
        claim: &IdempotencyClaim,
        answer: &idempotency::StoredResponse,
    ) -> Result<(), StoreError> {
        self.commit(Some((claim, answer))).await
    }

    async fn commit_without_answer(self) -> Result<(), StoreError> {
        self.commit(None).await
    }

    async fn commit(
        mut self,
        answer: Option<(&IdempotencyClaim, &idempotency::StoredResponse)>,
    ) -> Result<(), StoreError> {
        let Some(client) = self.client.take() else {
            return Ok(());
        };
        let committed = async {
            if let Some((claim, answer)) = answer {
                idempotency::store_response(&client, &claim.scope, &claim.key, answer).await?;
                crate::faults::point("idempotency.before_commit").await;
            }
            client.batch_execute("COMMIT").await?;
            Ok::<_, StoreError>(())
        }
        .await;
        if committed.is_err() {
            // Out of the pool: closing the connection rolls back whatever is left open.
            drop(deadpool_postgres::Object::take(client));
            return committed;
        }
        for (stream_type, event_type) in self.appended.drain(..) {
            crate::telemetry::events_appended(stream_type, event_type);
        }
        Ok(())
    }
}

impl Drop for PendingCommit {
    /// An answer never given (a cancelled request, a panic) leaves the command uncommitted.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// Who asked, from where, and why: stored as each event's metadata.
#[derive(Debug, Clone, Default)]
pub struct CommandMetadata {
    /// The signed-in account that asked, if any.
    pub actor: Option<Uuid>,
    /// The request's id.
    pub request_id: String,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// The idempotency key, when the client sent one.
    pub idempotency: Option<IdempotencyClaim>,
}

impl CommandMetadata {
    /// The same request, acted on by `actor`.
    pub fn with_actor(&self, actor: Uuid) -> Self {
        Self {
            actor: Some(actor),
            ..self.clone()
        }
    }

    pub(super) fn to_json(&self) -> serde_json::Value {
        json!({
            "actor": self.actor,
            "request_id": self.request_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "idempotency_key": self.idempotency.as_ref().map(|claim| &claim.key),
        })
    }
}

/// A write to an inline table that accompanies a command's events.
#[derive(Debug, Clone)]
pub enum InlineWrite {
    /// Take a unique identifier.
    Claim(ClaimKind, String),
    /// Free a unique identifier.
    Release(ClaimKind, String),
    /// Free every identifier of the stream.
    ReleaseAll,
    /// Record a new session.
    OpenSession(NewSession),
    /// End some sessions of the account.
    EndSessions(Vec<Uuid>, &'static str),
    /// End every session of the account.
    EndAllSessions(&'static str),
    /// Record the account's role.
    SetRole(Role),
    /// Refuse the command unless another owner remains.
    RequireAnotherOwner,
    /// Give back the sign-in attempts reserved on these throttle keys (the sign-in succeeded).
    ReleaseSignInAttempts(Vec<Vec<u8>>),
    /// Record a second-factor challenge.
    OpenChallenge(NewChallenge),
    /// Spend the second-factor challenge with this token hash at this instant, or refuse the
    /// unit (`ChallengeSpent`) when it is spent or dead.
    SpendChallenge(Vec<u8>, chrono::DateTime<chrono::Utc>),
    /// Record that a session of the account proved a second factor (its method) at an instant.
    ProveSecondFactor(Uuid, &'static str, chrono::DateTime<chrono::Utc>),
    /// Record the account's deletion at this instant: its erasure is due after the grace
    /// period.
    ScheduleErasure(chrono::DateTime<chrono::Utc>),
    /// Forget the account's pending erasure (it was restored).
    CancelErasure,
    /// Erase the account's personal data in the inline tables: the data keys of its streams,
    /// their snapshots, its sessions, challenges and ceremonies.
    ErasePersonalData(super::erasure::StreamsOf),
}

async fn apply_inline(
    client: &impl GenericClient,
    stream_id: Uuid,
    write: &InlineWrite,
) -> Result<(), StoreError> {
    match write {
        InlineWrite::Claim(kind, value) => claims::claim(client, *kind, value, stream_id).await,
        InlineWrite::Release(kind, value) => claims::release(client, *kind, value, stream_id).await,
        InlineWrite::ReleaseAll => claims::release_all(client, stream_id).await,
        InlineWrite::OpenSession(session) => sessions::open(client, session).await,
        InlineWrite::EndSessions(ids, reason) => {
            sessions::end(client, stream_id, ids, reason).await
        }
        InlineWrite::EndAllSessions(reason) => sessions::end_all(client, stream_id, reason).await,
        InlineWrite::SetRole(role) => privileged::set_role(client, stream_id, *role).await,
        InlineWrite::RequireAnotherOwner => {
            privileged::require_another_owner(client, stream_id).await
        }
        InlineWrite::ReleaseSignInAttempts(keys) => throttle::release_attempts(client, keys).await,
        InlineWrite::OpenChallenge(challenge) => challenges::open(client, challenge).await,
        InlineWrite::SpendChallenge(token_hash, now) => {
            challenges::spend(client, token_hash, *now).await
        }
        InlineWrite::ProveSecondFactor(session_id, method, at) => {
            sessions::prove_second_factor(client, stream_id, *session_id, method, *at).await
        }
        InlineWrite::ScheduleErasure(at) => erasures::schedule(client, stream_id, *at).await,
        InlineWrite::CancelErasure => erasures::cancel(client, stream_id).await,
        InlineWrite::ErasePersonalData(streams) => {
            erasures::erase(client, stream_id, &streams.own, &streams.codes).await
        }
    }
}

/// The outcome of a command.
#[derive(Debug, Clone)]
pub struct Committed<A: Aggregate> {
    /// The aggregate after the command.
    pub state: A,
    /// The events it recorded (maybe none).
    pub events: Vec<A::Event>,
    /// The log position of the stream's last event: the command's own last event, or the one
    /// before it when the command changed nothing.
    pub position: i64,
}

/// Why a command did not commit.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E> {
    /// The aggregate refused it.
    #[error(transparent)]
    Domain(E),
    /// The store failed or refused an inline write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs a command on one stream: `decide` gives the events from the current state, and
/// `inline_writes` the inline-table writes that go with them.
pub async fn execute<A, E>(
    ctx: &super::Context,
    stream_id: Uuid,
    metadata: &CommandMetadata,
    decide: impl Fn(&A) -> Result<Vec<A::Event>, E>,
    inline_writes: impl Fn(&A, &[A::Event]) -> Vec<InlineWrite>,
) -> Result<Committed<A>, ExecuteError<E>>
where
    A: Aggregate,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut unit = Unit::begin(ctx, metadata, &[stream_id]).await?;
        let outcome = unit.run::<A, E>(stream_id, &decide, &inline_writes).await;
        match outcome {
            Err(clash @ ExecuteError::Store(StoreError::VersionConflict { .. }))
                if attempt < MAX_ATTEMPTS =>
            {
                // Rolled back; decided again on the stream as it is now.
                unit.finish(Err::<(), _>(clash)).await.ok();
            }
            outcome => return unit.finish(outcome).await,
        }
    }
}

/// A command decided on a stream as loaded outside any transaction, ready to be appended in a
/// statement of its own ([`event_log::append_alone_sql`]) at the version it was decided on.
pub(super) struct Decided<A: Aggregate> {
    /// The version the events follow.
    pub version: i64,
    /// The events, as the aggregate has them.
    events: Vec<A::Event>,
    /// The state after them.
    state: A,
    /// The events and that state as their snapshot, as the log appends them (sealed).
    pub sealed: SealedAppend,
}

/// Runs a command on `stream_id`, as `loaded` outside any transaction, in one statement that
/// is its whole transaction, when it can: the command needs no inline write, no other writer
/// holds the stream's lock or wrote the stream since `loaded`, and `session` (when given, a
/// session of the account `stream_id`) is still live. Then `Some` with the outcome (a command
/// that changes nothing commits nothing); otherwise `None`, having written nothing, and the
/// caller runs it in a [`Unit`]. A refusal of `decide` is returned as is: it was decided on
/// the stream as it was when loaded. Not for a command under an idempotency key, whose answer
/// must commit with it.
pub async fn try_alone<A, E>(
    ctx: &super::Context,
    stream_id: Uuid,
    session: Option<sessions::ActiveSession>,
    metadata: &CommandMetadata,
    loaded: &Loaded<A>,
    decide: impl FnOnce(&A) -> Result<Vec<A::Event>, E>,
    inline_writes: impl FnOnce(&A, &[A::Event]) -> Vec<InlineWrite>,
) -> Result<Option<Committed<A>>, ExecuteError<E>>
where
    A: Aggregate,
{
    debug_assert!(metadata.idempotency.is_none());
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| event_log::append_alone_sql(false, ""));
    static WHILE_LIVE_SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| event_log::append_alone_sql(true, ""));
    let session_id = session.map(|session| session.id);
    let (sql, more): (&str, &[&(dyn tokio_postgres::types::ToSql + Sync)]) = match &session_id {
        Some(id) => (&WHILE_LIVE_SQL, &[id]),
        None => (&SQL, &[]),
    };
    let metadata = metadata.to_json();
    try_alone_with(
        ctx,
        stream_id,
        &metadata,
        loaded,
        decide,
        inline_writes,
        async |client, decided| {
            event_log::append_alone(
                client,
                sql,
                A::STREAM_TYPE,
                decided.version,
                &decided.sealed,
                more,
            )
            .await
        },
    )
    .await
}

/// Like [`try_alone`], with `append` sending the statement of [`event_log::append_alone_sql`]
/// (and whatever else it writes with the events): it returns the events' positions, none when
/// it wrote nothing, or `StoreError::VersionConflict`, and is not called when the command has
/// nothing to append.
#[allow(
    clippy::too_many_arguments,
    reason = "the stream and its append's metadata, then the command's steps"
)]
pub(super) async fn try_alone_with<A, E>(
    ctx: &super::Context,
    stream_id: Uuid,
    metadata: &serde_json::Value,
    loaded: &Loaded<A>,
    decide: impl FnOnce(&A) -> Result<Vec<A::Event>, E>,
    inline_writes: impl FnOnce(&A, &[A::Event]) -> Vec<InlineWrite>,
    append: impl AsyncFnOnce(&deadpool_postgres::Object, &Decided<A>) -> Result<Vec<i64>, StoreError>,
) -> Result<Option<Committed<A>>, ExecuteError<E>>
where
    A: Aggregate,
{
    let events = decide(&loaded.state).map_err(ExecuteError::Domain)?;
    if !inline_writes(&loaded.state, &events).is_empty() {
        return Ok(None);
    }
    if events.is_empty() {
        return Ok(Some(Committed {
            position: loaded.position.unwrap_or(0),
            state: loaded.state.clone(),
            events,
        }));
    }
    let state = events
        .iter()
        .fold(loaded.state.clone(), |state, event| state.evolve(event));
    // A state that does not serialize (it always does) goes the unit's way, unsnapshotted.
    let Ok(snapshot) = serde_json::to_value(&state) else {
        return Ok(None);
    };
    let new_events = to_new_events::<A>(&events);
    let sealed = ctx
        .keys
        .seal(
            (stream_id, A::STREAM_TYPE),
            ctx.now(),
            &new_events,
            metadata,
            Some((A::snapshot_format(), &snapshot)),
        )
        .await?;
    let decided = Decided {
        version: loaded.version,
        events,
        state,
        sealed,
    };
    let client = ctx.pool.get().await.map_err(StoreError::from)?;
    let positions = match append(&client, &decided).await {
        Ok(positions) => positions,
        Err(StoreError::VersionConflict { .. }) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let Some(&position) = positions.last() else {
        return Ok(None);
    };
    for event in &decided.sealed.events {
        crate::telemetry::events_appended(A::STREAM_TYPE, event.event_type);
    }
    Ok(Some(Committed {
        state: decided.state,
        events: decided.events,
        position,
    }))
}

/// One transaction over the streams a use case changes: each stream's commands are decided on
/// its state as loaded inside the transaction, and every stream's events, their inline writes
/// and the idempotency claim commit together, or nothing does.
///
/// Writers of a stream are serialized by its advisory lock. A unit takes the locks of all its
/// streams when it begins, in one order (so two units never wait on each other) and before any
/// write, so that the transaction id that orders the log is taken after every earlier writer
/// of those streams committed. A use case runs its steps on the unit and hands their outcome
/// to [`Unit::finish`], which commits on success and rolls back otherwise.
pub struct Unit {
    client: Option<deadpool_postgres::Object>,
    /// Seals the events' personal data before they are sent, and opens what loads read.
    keys: std::sync::Arc<Keyring>,
    /// The service's clock (data keys that seal for a time only are judged by it).
    clock: crate::clock::Clock,
    locked: Vec<Uuid>,
    /// Its turns in its streams' queues in this process (`stream_queue`), taken before its
    /// connection and held until its transaction ends.
    turns: Vec<stream_queue::Turn>,
    /// Whether BEGIN and the locks went out (with the unit's first statement), or may have.
    began: bool,
    metadata: serde_json::Value,
    claim: Option<IdempotencyClaim>,
    appended: Vec<(&'static str, &'static str)>,
    /// Set by a step whose refusal must still be recorded (a wrong code's failed attempt).
    commit_refusal: bool,
    /// A session that must still be live, checked with the unit's first load (or at its
    /// commit, if it loads nothing).
    session_guard: Option<sessions::ActiveSession>,
}

impl Unit {
    /// Opens a transaction holding the locks of `streams`.
    pub async fn begin(
        ctx: &super::Context,
        metadata: &CommandMetadata,
        streams: &[Uuid],
    ) -> Result<Self, StoreError> {
        if let Some(claim) = &metadata.idempotency {
            if let Some(earlier) = claim.take_pending() {
                // A use case of more than one unit: its earlier unit commits now (with the key
                // but without the answer), so this one never waits on its locks.
                debug_assert!(false, "a second unit under one idempotency key");
                earlier.commit_without_answer().await?;
            }
        }
        let mut locked = streams.to_vec();
        locked.sort_unstable();
        locked.dedup();
        // Waiting for this process's other writers of these streams holds no connection.
        let turns = stream_queue::turns(&locked).await;
        let client = ctx.pool.get().await?;
        // The transaction begins with the unit's first statement (`began`), which it goes out
        // with: a unit's BEGIN, locks and first load are one round trip.
        Ok(Self {
            client: Some(client),
            keys: ctx.keys.clone(),
            clock: ctx.clock.clone(),
            locked,
            turns,
            began: false,
            metadata: metadata.to_json(),
            claim: metadata.idempotency.clone(),
            appended: Vec::new(),
            commit_refusal: false,
            session_guard: None,
        })
    }

    /// Runs `first`, the unit's next statement(s), on its connection; when the transaction has
    /// not begun yet, sends BEGIN and the locks ahead of it, pipelined (PostgreSQL runs them in
    /// order, so `first` reads with the locks held). After an error the unit counts as begun: its
    /// `finish` rolls back whatever of it ran.
    pub(super) async fn began<T>(
        &mut self,
        first: impl AsyncFnOnce(&deadpool_postgres::Object) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let client = held(&self.client);
        if self.began {
            return first(client).await;
        }
        // From here the connection may be in the transaction, whatever the outcome: `end`
        // rolls it back.
        self.began = true;
        // Prepared before anything is sent (no round trip once cached), so that the locks'
        // statement goes out whole ahead of `first`'s.
        let lock = client
            .prepare_cached(
                "SELECT pg_advisory_xact_lock(hashtextextended(stream::text, 0))
                 FROM unnest($1::uuid[]) AS stream",
            )
            .await?;
        // One statement takes them all, in the order of the array (a function scan yields its
        // elements in order): every unit locks in one order, so no two wait on each other.
        let (_, _, value) = futures::try_join!(
            async { Ok::<_, StoreError>(client.batch_execute("BEGIN").await?) },
            async { Ok::<_, StoreError>(client.execute(&lock, &[&self.locked]).await?) },
            first(client),
        )?;
        Ok(value)
    }

    /// Makes the unit's work depend on `session` being live: its first load checks it in the
    /// same statement (`StoreError::SessionEnded` when it ended), or its commit does if it
    /// loads nothing. The unit must hold the lock of the session's account, so that whatever
    /// ends the session commits before the check or after the unit.
    pub fn require_live_session(&mut self, session: sessions::ActiveSession) {
        debug_assert!(self.locked.contains(&session.account_id));
        self.session_guard = Some(session);
    }

    /// The unit's connection, inside its transaction (for reads of inline tables): begins the
    /// transaction if no statement did yet.
    pub async fn client(&mut self) -> Result<&deadpool_postgres::Object, StoreError> {
        self.began(async |_| Ok(())).await?;
        Ok(self.connection())
    }

    fn connection(&self) -> &deadpool_postgres::Object {
        held(&self.client)
    }

    /// Runs a command on `stream_id`, one of the streams the unit locked.
    pub async fn run<A, E>(
        &mut self,
        stream_id: Uuid,
        decide: impl FnOnce(&A) -> Result<Vec<A::Event>, E>,
        inline_writes: impl FnOnce(&A, &[A::Event]) -> Vec<InlineWrite>,
    ) -> Result<Committed<A>, ExecuteError<E>>
    where
        A: Aggregate,
    {
        debug_assert!(
            self.locked.contains(&stream_id),
            "a stream the unit did not lock"
        );
        let loaded = self.load::<A>(stream_id).await?;
        let events = decide(&loaded.state).map_err(ExecuteError::Domain)?;
        let new_events = to_new_events::<A>(&events);
        let writes = inline_writes(&loaded.state, &events);
        let state = events
            .iter()
            .fold(loaded.state, |state, event| state.evolve(event));
        // Every stream's snapshot is its state at its head, written with its events; a state
        // that does not serialize (it always does) is simply not snapshotted.
        let snapshot = match new_events.is_empty() {
            true => None,
            false => serde_json::to_value(&state).ok(),
        };
        // Sealed before anything is sent: making a stream's first data key takes a round trip
        // (on the keyring's connection), which must not let the inline writes go out first.
        let sealed = self
            .keys
            .seal(
                (stream_id, A::STREAM_TYPE),
                self.clock.now(),
                &new_events,
                &self.metadata,
                snapshot.as_ref().map(|state| (A::snapshot_format(), state)),
            )
            .await?;
        // The inline writes go out right behind the events, pipelined: PostgreSQL runs them in
        // order, so the events stay the transaction's first write (their statement is prepared
        // first, or it would go out after the writes'), and the first error (the events'
        // version conflict before the writes it aborts) is the one returned.
        let client = self.connection();
        if !writes.is_empty() {
            event_log::prepare_append(client, snapshot.is_some()).await?;
        }
        let (positions, ()) = futures::try_join!(
            event_log::append_events(client, A::STREAM_TYPE, loaded.version, &sealed),
            async {
                for write in &writes {
                    apply_inline(client, stream_id, write).await?;
                }
                Ok(())
            },
        )?;
        self.appended.extend(
            new_events
                .iter()
                .map(|event| (A::STREAM_TYPE, event.event_type)),
        );
        let position = positions.last().copied().or(loaded.position).unwrap_or(0);
        Ok(Committed {
            state,
            events,
            position,
        })
    }

    /// Loads a locked stream's aggregate as the unit sees it (checking the unit's session
    /// guard, the first time, in the same statement).
    pub async fn load<A: Aggregate>(&mut self, stream_id: Uuid) -> Result<Loaded<A>, StoreError> {
        match self.session_guard.take() {
            Some(session) => {
                let keys = self.keys.clone();
                self.began(async |client| {
                    load_while_live::<A>(&keys, client, stream_id, session).await
                })
                .await
            }
            None => {
                let keys = self.keys.clone();
                self.began(async |client| load::<A>(&keys, client, stream_id).await)
                    .await
            }
        }
    }

    /// Marks what the unit appended so far to be committed even though the use case ends in a
    /// refusal (a wrong code's failed attempt must count).
    pub fn commit_refusal(&mut self) {
        self.commit_refusal = true;
    }

    /// Ends the unit with its use case's `outcome`: commits (with the idempotency claim) on
    /// success, commits without the claim a refusal marked by `commit_refusal`, and rolls back
    /// anything else. A failure to commit replaces the outcome.
    pub async fn finish<T, E>(mut self, outcome: Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let result = self.end(outcome.is_ok()).await;
        match (outcome, result) {
            (outcome, Ok(())) => outcome,
            (_, Err(error)) => Err(error.into()),
        }
    }

    async fn end(&mut self, succeeded: bool) -> Result<(), StoreError> {
        if self.client.is_none() {
            return Ok(());
        }
        if let (false, Some(claim)) = (succeeded, &self.claim) {
            claim.refused.store(true, Ordering::SeqCst);
        }
        if !succeeded && !self.commit_refusal {
            let client = self.client.take();
            return match (self.began, client) {
                (true, Some(client)) => Ok(client.batch_execute("ROLLBACK").await?),
                // Nothing was sent: the connection goes back to the pool as it came.
                _ => Ok(()),
            };
        }
        if !self.began {
            self.began(async |_| Ok(())).await?;
        }
        let Some(client) = self.client.take() else {
            return Ok(());
        };
        if let Some(session) = self.session_guard.take() {
            if !sessions::is_live(&client, session).await? {
                client.batch_execute("ROLLBACK").await?;
                return Err(StoreError::SessionEnded);
            }
        }
        // A unit that recorded no event (a check before the command, a change to nothing)
        // commits without the key; the HTTP layer keeps its answer if it is the command's.
        let command = succeeded && !self.appended.is_empty();
        if let (true, false, Some(claim)) = (succeeded, command, &self.claim) {
            claim.unchanged.store(true, Ordering::SeqCst);
        }
        if let (true, Some(claim)) = (command, &self.claim) {
            if let Err(error) =
                idempotency::claim(&client, &claim.scope, &claim.key, &claim.fingerprint, None)
                    .await
            {
                client.batch_execute("ROLLBACK").await?;
                return Err(error);
            }
        }
        let ready = PendingCommit {
            client: Some(client),
            appended: std::mem::take(&mut self.appended),
            _turns: std::mem::take(&mut self.turns),
        };
        match (command, &self.claim) {
            // Committed by the HTTP layer together with the answer.
            (true, Some(claim)) => {
                claim.leave_pending(ready);
                Ok(())
            }
            _ => ready.commit(None).await,
        }
    }
}

/// Domain events as the log appends them, each with a fresh (time-ordered) event id.
pub(super) fn to_new_events<A: Aggregate>(events: &[A::Event]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|event| NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event.event_type(),
            schema_version: event.schema_version(),
            data: serde_json::to_value(event)
                .map(|tagged| tagged["data"].clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// A unit's connection, which it holds until it finishes.
#[allow(
    clippy::expect_used,
    reason = "the connection is taken only by `finish`, which consumes the unit"
)]
fn held(client: &Option<deadpool_postgres::Object>) -> &deadpool_postgres::Object {
    client
        .as_ref()
        .expect("a unit's connection is held until it finishes")
}

impl Drop for Unit {
    /// A unit dropped unfinished (a panic, a cancelled request) takes its connection out of the
    /// pool: closing it rolls the transaction back, and no one reuses it mid-transaction.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}
