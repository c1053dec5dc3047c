//! Account use cases: sign-up, sign-in, sessions, profile, password, privacy, deletion.

use super::codes::{CodeProof, Target};
use super::executor::{self, CommandMetadata, Committed, ExecuteError, InlineWrite, Loaded};
use super::{ServiceError, Services};
use crate::captcha;
use crate::credentials::{self, IssuedToken};
use crate::domain::Aggregate;
use crate::domain::account::{
    Account, AccountCommand, AccountError, AccountEvent, AccountStatus, IdentifierKind,
    NewIdentifier, Privacy, ProfileChanges, Proof, Role, SealedPasswordHash, SessionEndReason,
    SessionsToEnd, SignInFailure, decide,
};
use crate::domain::code::{Channel, Purpose};
use crate::domain::values::{DisplayName, Email, Password, Phone, Username};
use crate::store::claims::{self, ClaimKind};
use crate::store::event_log;
use crate::store::sessions::{self, ActiveSession, NewSession, SessionSummary};
use crate::store::throttle;
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

/// The identifier a caller names at sign-up or sign-in, as typed.
#[derive(Debug, Clone, Copy)]
pub enum GivenIdentifier<'a> {
    /// An email address, as typed.
    Email(&'a str),
    /// A username, as typed.
    Username(&'a str),
    /// A phone number, as typed.
    Phone(&'a str),
}

/// The inline-table writes that follow from account events: identifiers claimed and freed,
/// sessions ended.
fn account_inline_writes(before: &Account, events: &[AccountEvent]) -> Vec<InlineWrite> {
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
            AccountEvent::AccountDeleted { .. } => {
                if before.role == Role::Owner {
                    writes.push(InlineWrite::RequireAnotherOwner);
                }
                writes.push(InlineWrite::SetRole(Role::User));
                writes.push(InlineWrite::ReleaseAll);
                writes.push(InlineWrite::EndAllSessions("account_deleted"));
            }
            AccountEvent::ProfileUpdated { .. }
            | AccountEvent::PasswordChanged { .. }
            | AccountEvent::PrivacyChanged { .. }
            | AccountEvent::SessionStarted { .. }
            | AccountEvent::SignInFailed { .. }
            | AccountEvent::EmailVerified { .. }
            | AccountEvent::AccountUnblocked { .. }
            | AccountEvent::UnverifiedPasswordRemoved { .. }
            | AccountEvent::FeaturedChanged { .. } => {}
            AccountEvent::AccountBlocked { .. } => {
                writes.push(InlineWrite::EndAllSessions("blocked"));
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
    }
}

/// Failed password sign-ins for one account (or unknown identifier) within `THROTTLE_WINDOW`
/// after which a captcha is required.
pub const FAILURES_BEFORE_CAPTCHA: i32 = 3;

/// How long failures count: after this long without one, the count starts again.
pub const THROTTLE_WINDOW: chrono::Duration = chrono::Duration::minutes(30);

/// The throttle's key for an identifier: a hash, so that the table holds no identifiers.
fn identifier_hash(kind: ClaimKind, value: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("{kind:?}:{value}").as_bytes()).to_vec()
}

/// The throttle's key for the password sign-ins of a known account, whatever identifier
/// names it.
fn account_throttle_hash(account_id: Uuid) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("account:{account_id}").as_bytes()).to_vec()
}

/// The throttle's key for a client address, beside the identifiers' in the same table.
fn address_hash(ip: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("address:{ip}").as_bytes()).to_vec()
}

/// Wrong passwords confirming signed-in actions (`PUT /v1/me/password`, `DELETE /v1/me`) an
/// account may send within `THROTTLE_WINDOW` before further tries answer 429.
pub const PASSWORD_RECHECKS_PER_ACCOUNT: i32 = 5;

/// The throttle's key for password re-checks of a signed-in account.
fn recheck_hash(account_id: Uuid) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(format!("recheck:{account_id}").as_bytes()).to_vec()
}

/// How long sign-ups from one address count towards their limit.
const SIGN_UP_WINDOW: chrono::Duration = chrono::Duration::hours(1);

/// What a failed sign-in counts against: the identifier, and the client's address when the
/// service limits addresses too.
struct ThrottleKeys {
    identifier: Vec<u8>,
    address: Option<Vec<u8>>,
}

fn from_execute(error: ExecuteError<AccountError>) -> ServiceError {
    match error {
        ExecuteError::Domain(error) => error.into(),
        ExecuteError::Store(error) => error.into(),
    }
}

impl Services {
    /// Runs an account command whose only inline writes are those its events imply.
    pub(super) async fn run_account_command(
        &self,
        account_id: Uuid,
        metadata: &CommandMetadata,
        command: impl Fn(&Account) -> AccountCommand,
    ) -> Result<Committed<Account>, ServiceError> {
        self.run_account_commands(account_id, metadata, |account| vec![command(account)])
            .await
    }

    /// Runs several account commands as one: each is decided on the state the ones before it
    /// leave, and all their events (and inline writes) commit in one transaction, or none do.
    pub(super) async fn run_account_commands(
        &self,
        account_id: Uuid,
        metadata: &CommandMetadata,
        commands: impl Fn(&Account) -> Vec<AccountCommand>,
    ) -> Result<Committed<Account>, ServiceError> {
        executor::execute(
            &self.pool,
            account_id,
            metadata,
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
            account_inline_writes,
        )
        .await
        .map_err(from_execute)
    }

    /// The caller's session for a bearer token, if the token is live.
    pub async fn authenticate(&self, token: &str) -> Result<Option<ActiveSession>, ServiceError> {
        let client = self.pool.get().await?;
        Ok(sessions::authenticate(&client, &credentials::session_token_hash(token)).await?)
    }

    /// Signs up and signs in: by email (password; a code sent for `sign_up` too when the
    /// service requires it, which also verifies the address), by username (password), or by
    /// phone (a texted `sign_up` code; password optional).
    pub async fn sign_up(
        &self,
        identifier: NewIdentifier,
        password: Option<&Password>,
        code: Option<&str>,
        display_name: Option<DisplayName>,
        metadata: &CommandMetadata,
    ) -> Result<SignedIn, ServiceError> {
        let (claim_kind, claim_value, identifier_kind) = match &identifier {
            NewIdentifier::Email(email) => (
                ClaimKind::Email,
                email.as_str().to_owned(),
                IdentifierKind::Email,
            ),
            NewIdentifier::Username(username) => (
                ClaimKind::Username,
                username.normalized(),
                IdentifierKind::Username,
            ),
            NewIdentifier::Phone(phone) => (
                ClaimKind::Phone,
                phone.as_str().to_owned(),
                IdentifierKind::Phone,
            ),
        };
        let code_target = match &identifier {
            NewIdentifier::Phone(_) => Some(Channel::Sms),
            NewIdentifier::Email(_) if code.is_some() || self.require_email_code => {
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
            let client = self.pool.get().await?;
            if claims::holder(&client, claim_kind, &claim_value)
                .await?
                .is_some()
            {
                return Err(ServiceError::IdentifierTaken(claim_kind));
            }
        }
        if let (Some(channel), Some(code)) = (code_target, code) {
            let proof = CodeProof::Code {
                target: Target {
                    channel,
                    value: claim_value.clone(),
                },
                code: code.to_owned(),
            };
            self.check_proof(&proof, Purpose::SignUp, true, metadata)
                .await?;
        }
        let sealed = match password {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let account_id = Uuid::now_v7();
        let now = self.now();
        let register = AccountCommand::Register {
            identifier,
            password: sealed.clone(),
            email_verified: code_target == Some(Channel::Email),
            display_name,
            now,
        };
        let proof = match sealed {
            Some(sealed) => Proof::Password(sealed),
            None => Proof::Code,
        };
        self.start_session(
            account_id,
            Some(register),
            proof,
            identifier_kind,
            now,
            metadata,
        )
        .await
    }

    /// Counts a sign-up from the client's address; past the address's hourly limit, the
    /// sign-up needs a solved captcha (`CaptchaRequired` without one).
    pub async fn admit_sign_up(
        &self,
        captcha: Option<&str>,
        metadata: &CommandMetadata,
    ) -> Result<(), ServiceError> {
        let limit = i32::try_from(self.sign_ups_per_address).unwrap_or(i32::MAX);
        let Some(ip) = metadata.ip.as_deref().filter(|_| limit > 0) else {
            return Ok(());
        };
        let now = self.now();
        let client = self.pool.get().await?;
        let key = format!("sign_ups_per_ip:{ip}");
        if throttle::hit_rate_limit(&client, key.as_bytes(), now, SIGN_UP_WINDOW, limit)
            .await?
            .is_some()
        {
            self.spend_captcha(&client, captcha, now).await?;
        }
        Ok(())
    }

    /// Signs in with an identifier and password. Unknown accounts and wrong passwords answer
    /// alike, in about the same time.
    pub async fn sign_in(
        &self,
        identifier: GivenIdentifier<'_>,
        password: &str,
        captcha: Option<&str>,
        metadata: &CommandMetadata,
    ) -> Result<SignedIn, ServiceError> {
        let (kind, claim_kind, value) = match identifier {
            GivenIdentifier::Email(raw) => {
                let email =
                    Email::parse(raw).map_err(|invalid| ServiceError::invalid("email", invalid))?;
                (
                    IdentifierKind::Email,
                    ClaimKind::Email,
                    email.as_str().to_owned(),
                )
            }
            GivenIdentifier::Username(raw) => {
                let username = Username::parse(raw)
                    .map_err(|invalid| ServiceError::invalid("username", invalid))?;
                (
                    IdentifierKind::Username,
                    ClaimKind::Username,
                    username.normalized(),
                )
            }
            GivenIdentifier::Phone(raw) => {
                let phone =
                    Phone::parse(raw).map_err(|invalid| ServiceError::invalid("phone", invalid))?;
                (
                    IdentifierKind::Phone,
                    ClaimKind::Phone,
                    phone.as_str().to_owned(),
                )
            }
        };
        let now = self.now();
        let (account_id, account, keys) = {
            let client = self.pool.get().await?;
            let account_id = claims::holder(&client, claim_kind, &value).await?;
            // Known and unknown identifiers are throttled alike, so that answers reveal
            // nothing. A known one counts against its account, so that its email, username
            // and phone share one allowance. The address counts failures across identifiers.
            // A success gives back only its own attempt: failures stay counted, or a sign-in
            // of the owner's would hand a guesser a fresh allowance.
            let keys = ThrottleKeys {
                identifier: match account_id {
                    Some(id) => account_throttle_hash(id),
                    None => identifier_hash(claim_kind, &value),
                },
                address: metadata
                    .ip
                    .as_deref()
                    .filter(|_| self.sign_in_failures_per_address > 0)
                    .map(address_hash),
            };
            self.reserve_sign_in_attempt(&client, &keys, captcha, now)
                .await?;
            let account = match account_id {
                Some(id) => executor::load::<Account>(&client, id).await?.state,
                None => Account::default(),
            };
            (account_id, account, keys)
        };
        let verified = self
            .hasher
            .verify(password, account.password.as_ref())
            .await;
        let (Some(account_id), true, Some(hash)) = (account_id, verified, account.password) else {
            self.sign_in_failed(account_id, kind, SignInFailure::WrongPassword, metadata)
                .await?;
            return Err(ServiceError::InvalidCredentials);
        };
        match self
            .start_session(account_id, None, Proof::Password(hash), kind, now, metadata)
            .await
        {
            Ok(signed_in) => {
                let client = self.pool.get().await?;
                for key in std::iter::once(&keys.identifier).chain(&keys.address) {
                    throttle::release_attempt(&client, key).await?;
                }
                Ok(signed_in)
            }
            Err(ServiceError::AccountBlocked) => {
                self.sign_in_failed(
                    Some(account_id),
                    kind,
                    SignInFailure::AccountBlocked,
                    metadata,
                )
                .await?;
                Err(ServiceError::AccountBlocked)
            }
            Err(error) => Err(error),
        }
    }

    /// Counts a password sign-in attempt against the identifier and the address before its
    /// password is checked, so that parallel tries cannot all pass a limit read before any is
    /// counted. Past a limit, the attempt needs a solved captcha (`CaptchaRequired` without
    /// one, and then nothing is counted).
    async fn reserve_sign_in_attempt(
        &self,
        client: &deadpool_postgres::Object,
        keys: &ThrottleKeys,
        captcha: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let address_limit = i32::try_from(self.sign_in_failures_per_address).unwrap_or(i32::MAX);
        let limits = std::iter::once((&keys.identifier, FAILURES_BEFORE_CAPTCHA))
            .chain(keys.address.iter().map(|key| (key, address_limit)));
        let (mut reserved, mut over_limit) = (Vec::new(), Vec::new());
        for (key, limit) in limits {
            match throttle::reserve_attempt(client, key, now, THROTTLE_WINDOW, limit).await? {
                None => reserved.push(key),
                Some(_) => over_limit.push(key),
            }
        }
        if over_limit.is_empty() {
            return Ok(());
        }
        if let Err(refused) = self.spend_captcha(client, captcha, now).await {
            for key in reserved {
                throttle::release_attempt(client, key).await?;
            }
            return Err(refused);
        }
        for key in over_limit {
            throttle::count_attempt(client, key, now, THROTTLE_WINDOW).await?;
        }
        Ok(())
    }

    /// A fresh proof-of-work challenge for sign-in protection.
    pub fn captcha_challenge(&self) -> captcha::Challenge {
        self.captcha.challenge(self.now())
    }

    /// Checks and spends a captcha solution; `CaptchaRequired` without one.
    async fn spend_captcha(
        &self,
        client: &deadpool_postgres::Object,
        payload: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let payload = payload.ok_or(ServiceError::CaptchaRequired)?;
        let solution = self
            .captcha
            .verify(payload, now)
            .map_err(|_| ServiceError::CaptchaInvalid)?;
        let expires_at = now + captcha::LIFETIME;
        if throttle::spend_captcha(client, &solution.challenge, expires_at).await? {
            Ok(())
        } else {
            Err(ServiceError::CaptchaInvalid)
        }
    }

    /// Records a failed sign-in in the account's history when it names an account (the attempt
    /// was counted before the password was checked).
    async fn sign_in_failed(
        &self,
        account_id: Option<Uuid>,
        identifier: IdentifierKind,
        reason: SignInFailure,
        metadata: &CommandMetadata,
    ) -> Result<(), ServiceError> {
        let Some(account_id) = account_id else {
            return Ok(());
        };
        let command = AccountCommand::RecordSignInFailure {
            identifier,
            reason,
            ip: metadata.ip.clone(),
            user_agent: metadata.user_agent.clone(),
            now: self.now(),
        };
        // A sign-in is no command to replay: its failure is recorded whatever the key.
        let metadata = CommandMetadata {
            idempotency: None,
            ..metadata.clone()
        };
        match executor::execute::<Account, _>(
            &self.pool,
            account_id,
            &metadata,
            |account| decide(account, command.clone()),
            |_, _| Vec::new(),
        )
        .await
        {
            // Deleted meanwhile: nothing to record.
            Ok(_) | Err(ExecuteError::Domain(AccountError::NotFound)) => Ok(()),
            Err(error) => Err(from_execute(error)),
        }
    }

    /// Starts a session, after registering the account first when `register` is given.
    pub(super) async fn start_session(
        &self,
        account_id: Uuid,
        register: Option<AccountCommand>,
        proof: Proof,
        identifier: IdentifierKind,
        now: DateTime<Utc>,
        metadata: &CommandMetadata,
    ) -> Result<SignedIn, ServiceError> {
        let IssuedToken { token, hash } = credentials::issue_session_token();
        let session_id = Uuid::now_v7();
        let expires_at = now + self.session_ttl;
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
            &self.pool,
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

    /// The caller's account, read from its stream.
    pub async fn account(&self, account_id: Uuid) -> Result<Loaded<Account>, ServiceError> {
        let client = self.pool.get().await?;
        let loaded = executor::load::<Account>(&client, account_id).await?;
        match loaded.state.status {
            AccountStatus::Active | AccountStatus::Blocked => Ok(loaded),
            _ => Err(ServiceError::AccountNotFound),
        }
    }

    /// The caller's live sessions.
    pub async fn sessions(&self, account_id: Uuid) -> Result<Vec<SessionSummary>, ServiceError> {
        let client = self.pool.get().await?;
        Ok(sessions::list_live(&client, account_id).await?)
    }

    /// Ends sessions of the caller's account.
    pub async fn end_sessions(
        &self,
        caller: ActiveSession,
        which: SessionsToEnd,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let reason = match which {
            SessionsToEnd::One(id) if id == caller.id => SessionEndReason::SignedOut,
            _ => SessionEndReason::EndedByUser,
        };
        let committed = self
            .run_account_command(
                caller.account_id,
                &metadata.with_actor(caller.account_id),
                |_| AccountCommand::EndSessions {
                    which,
                    reason,
                    now: self.now(),
                },
            )
            .await?;
        Ok(committed.position)
    }

    /// Changes profile fields and perhaps the username.
    pub async fn update_profile(
        &self,
        caller: ActiveSession,
        changes: ProfileChanges,
        username: Option<Username>,
        metadata: &CommandMetadata,
    ) -> Result<Committed<Account>, ServiceError> {
        self.run_account_command(
            caller.account_id,
            &metadata.with_actor(caller.account_id),
            |_| AccountCommand::UpdateProfile {
                changes: changes.clone(),
                username: username.clone(),
                now: self.now(),
            },
        )
        .await
    }

    /// Replaces the password, proven by the current one; every other session ends.
    pub async fn change_password(
        &self,
        caller: ActiveSession,
        current_password: &str,
        new_password: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let account = self.account(caller.account_id).await?.state;
        let mut context: Vec<&str> = Vec::new();
        context.extend(account.email.as_ref().map(Email::as_str));
        context.extend(account.username.as_ref().map(Username::as_str));
        context.extend(
            account
                .profile
                .display_name
                .as_ref()
                .map(DisplayName::as_str),
        );
        let new_password = Password::parse(new_password, &context)
            .map_err(|invalid| ServiceError::invalid("new_password", invalid))?;
        let verified_password = self
            .verify_password(caller.account_id, &account, current_password)
            .await?;
        if current_password == new_password.expose() {
            return Err(ServiceError::PasswordUnchanged);
        }
        let sealed = self.hasher.hash(&new_password).await?;
        let committed = self
            .run_account_command(
                caller.account_id,
                &metadata.with_actor(caller.account_id),
                |_| AccountCommand::ChangePassword {
                    verified_password: verified_password.clone(),
                    new_password: sealed.clone(),
                    keep_session: caller.id,
                    now: self.now(),
                },
            )
            .await?;
        Ok(committed.position)
    }

    /// Replaces the privacy settings.
    pub async fn change_privacy(
        &self,
        caller: ActiveSession,
        privacy: Privacy,
        metadata: &CommandMetadata,
    ) -> Result<Committed<Account>, ServiceError> {
        self.run_account_command(
            caller.account_id,
            &metadata.with_actor(caller.account_id),
            |_| AccountCommand::ChangePrivacy {
                privacy,
                now: self.now(),
            },
        )
        .await
    }

    /// Deletes the caller's account, confirmed by its password. Its identifiers become free.
    pub async fn delete_account(
        &self,
        caller: ActiveSession,
        password: &str,
        metadata: &CommandMetadata,
    ) -> Result<i64, ServiceError> {
        let account = self.account(caller.account_id).await?.state;
        let verified_password = self
            .verify_password(caller.account_id, &account, password)
            .await?;
        let committed = self
            .run_account_command(
                caller.account_id,
                &metadata.with_actor(caller.account_id),
                |_| AccountCommand::Delete {
                    proof: Proof::Password(verified_password.clone()),
                    now: self.now(),
                },
            )
            .await?;
        Ok(committed.position)
    }

    /// Checks the password confirming a signed-in action (OWASP ASVS 2.2.1: counted per account
    /// before the check, so that a stolen session cannot guess it): at most
    /// `PASSWORD_RECHECKS_PER_ACCOUNT` failures in `THROTTLE_WINDOW`, then `TooManyRequests`.
    /// A success gives back its own attempt only.
    pub(super) async fn verify_password(
        &self,
        account_id: Uuid,
        account: &Account,
        password: &str,
    ) -> Result<SealedPasswordHash, ServiceError> {
        let key = recheck_hash(account_id);
        {
            let client = self.pool.get().await?;
            if let Some(retry_after) = throttle::reserve_attempt(
                &client,
                &key,
                self.now(),
                THROTTLE_WINDOW,
                PASSWORD_RECHECKS_PER_ACCOUNT,
            )
            .await?
            {
                return Err(ServiceError::TooManyRequests(retry_after));
            }
        }
        match &account.password {
            Some(hash) if self.hasher.verify(password, Some(hash)).await => {
                let client = self.pool.get().await?;
                throttle::release_attempt(&client, &key).await?;
                Ok(hash.clone())
            }
            _ => Err(ServiceError::WrongPassword),
        }
    }
}

impl Services {
    /// A page of an account's history, newest first, and the version to ask `before` for the
    /// next page (none when this is the last).
    pub async fn account_history(
        &self,
        account_id: Uuid,
        before: Option<i64>,
        types: Option<&[String]>,
        limit: i64,
    ) -> Result<(Vec<event_log::RecordedEvent>, Option<i64>), ServiceError> {
        let client = self.pool.get().await?;
        let mut events =
            event_log::load_stream_page(&client, account_id, before, types, limit + 1).await?;
        let more = events.len() as i64 > limit;
        events.truncate(usize::try_from(limit).unwrap_or(0));
        let next = more.then(|| events.last().map(|e| e.version)).flatten();
        Ok((events, next))
    }
}
