//! The account's rules: given its state and a command, the events that follow, or why not.

use super::commands::{AccountCommand, Identifier, Proof, SessionsToEnd};
use super::events::{
    AccountEvent, IdentifierKind, ProfileChanges, SealedPasswordHash, SessionEndReason,
    SignInMethod,
};
use super::factors::{
    PASSKEYS_PER_ACCOUNT, RECOVERY_CODES_PER_SET, RecoveryCodeHash, SecondFactor,
    SecondFactorMethod, StepUp,
};
use super::state::{Account, AccountStatus, Profile, Role};
use chrono::{DateTime, Utc};

/// Why an account refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The account does not exist or was deleted.
    #[error("no such account")]
    NotFound,
    /// The account already exists.
    #[error("the account already exists")]
    AlreadyRegistered,
    /// An administrator blocked the account.
    #[error("the account is blocked")]
    Blocked,
    /// The password the caller proved is no longer the account's password.
    #[error("the credentials do not match")]
    InvalidCredentials,
    /// The email address is already verified.
    #[error("the email address is already verified")]
    EmailAlreadyVerified,
    /// The code was sent to an address the account no longer has.
    #[error("the address is not the account's")]
    AddressMismatch,
    /// The phone number changed too often lately: retry after this many seconds.
    #[error("the phone number changed too often; retry in {0} s")]
    TooManyPhoneChanges(i64),
    /// The session is not one of the account's live sessions.
    #[error("no such session")]
    SessionNotFound,
    /// The account's email address must be proven first.
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// The account has a second factor: a session needs it too.
    #[error("a second factor is required")]
    SecondFactorRequired,
    /// The second factor is wrong, or was used already (a replayed TOTP time step, a spent
    /// recovery code).
    #[error("the second factor is not valid")]
    SecondFactorInvalid,
    /// The action needs a second factor, proven in the session lately or sent with it.
    #[error("the action needs a second factor")]
    StepUpRequired,
    /// The account has no second factor (for a command about one).
    #[error("the account has no second factor")]
    SecondFactorNotEnabled,
    /// TOTP is on already: remove it before enrolling again.
    #[error("TOTP is already enabled")]
    TotpAlreadyEnabled,
    /// No TOTP enrolment is waiting for its confirming code.
    #[error("no TOTP enrolment is pending")]
    TotpNotPending,
    /// The account has as many passkeys as it may (`PASSKEYS_PER_ACCOUNT`).
    #[error("the account has as many passkeys as it may")]
    PasskeyLimitReached,
    /// The credential is registered to the account already.
    #[error("the passkey is registered already")]
    PasskeyAlreadyRegistered,
    /// No passkey of the account has that id.
    #[error("no such passkey")]
    PasskeyNotFound,
    /// Only a deleted account can be restored.
    #[error("the account is not deleted")]
    NotDeleted,
    /// The account's personal data is erased: it cannot come back.
    #[error("the account is erased")]
    Erased,
}

/// How many times the phone number may change in 30 days.
pub const MAX_PHONE_CHANGES_PER_30_DAYS: usize = 2;

/// Decides what happens when `command` meets `account`.
pub fn decide(
    account: &Account,
    command: AccountCommand,
) -> Result<Vec<AccountEvent>, AccountError> {
    if let AccountCommand::Register {
        identifier,
        password,
        email_verified,
        display_name,
        now,
    } = command
    {
        if account.status != AccountStatus::Unregistered {
            return Err(AccountError::AlreadyRegistered);
        }
        let (email, username, phone) = match identifier {
            Identifier::Email(email) => (Some(email), None, None),
            Identifier::Username(username) => (None, Some(username), None),
            Identifier::Phone(phone) => (None, None, Some(phone)),
        };
        let verified = match (&email, email_verified) {
            (Some(email), true) => Some(AccountEvent::EmailVerified {
                email: email.clone(),
                at: now,
            }),
            _ => None,
        };
        let registered = AccountEvent::AccountRegistered {
            email,
            username,
            phone,
            display_name,
            password,
            role: Role::User,
            at: now,
        };
        return Ok(std::iter::once(registered).chain(verified).collect());
    }

    // A deleted account is restored or erased; every other command needs a usable one.
    if !matches!(
        command,
        AccountCommand::Restore { .. } | AccountCommand::ErasePersonalData { .. }
    ) {
        ensure_usable(account)?;
    }
    match command {
        AccountCommand::Restore { administrator, now } => match account.status {
            AccountStatus::Deleted => Ok(vec![AccountEvent::AccountRestored {
                administrator,
                at: now,
            }]),
            AccountStatus::Erased => Err(AccountError::Erased),
            AccountStatus::Unregistered => Err(AccountError::NotFound),
            AccountStatus::Active | AccountStatus::Blocked => Err(AccountError::NotDeleted),
        },
        AccountCommand::RecordExport { requested_by, now } => {
            Ok(vec![AccountEvent::PersonalDataExported {
                requested_by,
                at: now,
            }])
        }
        AccountCommand::ErasePersonalData { now } => Ok(match account.status {
            AccountStatus::Deleted => vec![
                AccountEvent::PersonalDataErased { at: now },
                AccountEvent::AccountErased { at: now },
            ],
            _ => Vec::new(),
        }),
        AccountCommand::Register { .. } => Err(AccountError::AlreadyRegistered),
        AccountCommand::RecordSignInFailure {
            identifier,
            reason,
            ip,
            user_agent,
            now,
        } => Ok(vec![AccountEvent::SignInFailed {
            identifier,
            reason,
            ip,
            user_agent,
            at: now,
        }]),
        AccountCommand::StartSession {
            session_id,
            proof,
            second_factor,
            identifier,
            ip,
            user_agent,
            expires_at,
            now,
        } => {
            let method = ensure_first_factor(account, &proof)?;
            // A passkey signing in alone is its own second factor, and nothing else is.
            let passkey_second = matches!(second_factor, Some(SecondFactor::Passkey { .. }));
            if matches!(proof, Proof::Passkey) && !passkey_second {
                return Err(AccountError::InvalidCredentials);
            }
            let (second_factor, used) = match second_factor {
                Some(factor) => {
                    let (method, used) = use_second_factor(account, &factor, now)?;
                    (Some(method), Some(used))
                }
                None if account.factors.enabled() => {
                    return Err(AccountError::SecondFactorRequired);
                }
                None => (None, None),
            };
            // A code mailed to an address not yet verified proves it, and ends what was set
            // up before by whoever signed up with it.
            let mut events = match (&proof, identifier, &account.email) {
                (Proof::Code, IdentifierKind::Email, Some(email)) if !account.email_verified => {
                    first_proof_of_address(account, email, false, now)
                }
                _ => Vec::new(),
            };
            let passkey_id = passkey_of(used.as_ref());
            events.extend(used);
            events.push(AccountEvent::SessionStarted {
                session_id,
                identifier,
                method,
                second_factor,
                passkey_id,
                ip,
                user_agent,
                expires_at,
                at: now,
            });
            Ok(events)
        }
        AccountCommand::ChallengeSecondFactor {
            challenge_id,
            proof,
            identifier,
            ip,
            user_agent,
            expires_at,
            now,
        } => {
            let method = ensure_first_factor(account, &proof)?;
            if !account.factors.enabled() {
                return Err(AccountError::SecondFactorNotEnabled);
            }
            Ok(vec![AccountEvent::SecondFactorChallenged {
                challenge_id,
                identifier,
                method,
                ip,
                user_agent,
                expires_at,
                at: now,
            }])
        }
        AccountCommand::StartTotpEnrolment {
            secret,
            verified_password,
            step_up,
            now,
        } => {
            if account.factors.totp.is_some() {
                return Err(AccountError::TotpAlreadyEnabled);
            }
            // Whoever signed up with an address they may not own must not lock its owner out
            // with a second factor of theirs: the first proof of the address removes only the
            // password and sessions (`UnverifiedPasswordRemoved`).
            if account.email_unproven() {
                return Err(AccountError::EmailNotVerified);
            }
            match (&account.password, &verified_password) {
                (None, None) => {}
                (_, Some(verified)) => ensure_password(account, verified)?,
                (Some(_), None) => return Err(AccountError::InvalidCredentials),
            }
            // A new way in on an account that has one (passkeys): its owner's second factor.
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::TotpEnrolmentStarted { secret, at: now });
            Ok(events)
        }
        AccountCommand::ConfirmTotp {
            secret,
            time_step,
            recovery_codes,
            session_id,
            now,
        } => {
            if account.factors.totp.is_some() {
                return Err(AccountError::TotpAlreadyEnabled);
            }
            if account.factors.totp_pending.as_ref() != Some(&secret) {
                return Err(AccountError::TotpNotPending);
            }
            if account.factors.enabled() && !account.factors.totp_pending_stepped_up {
                return Err(AccountError::StepUpRequired);
            }
            let mut events = vec![AccountEvent::TotpEnabled { time_step, at: now }];
            // The codes an account has left (from its passkeys) stay: new ones would void them
            // unseen.
            if account.factors.recovery_codes_left() == 0 {
                events.push(recovery_codes_generated(recovery_codes, now));
            }
            // The confirming code proved the new factor in the session that sent it.
            events.push(AccountEvent::StepUpProven {
                session_id,
                method: SecondFactorMethod::Totp,
                passkey_id: None,
                at: now,
            });
            events.extend(first_factor_ends_sessions(account, session_id, now));
            Ok(events)
        }
        AccountCommand::StartPasskeyRegistration {
            verified_password,
            step_up,
            now,
        } => {
            // As for TOTP: whoever signed up with an address they may not own must not add a
            // way in that outlives its owner's proof of it.
            if account.email_unproven() {
                return Err(AccountError::EmailNotVerified);
            }
            if account.factors.passkeys.len() >= PASSKEYS_PER_ACCOUNT {
                return Err(AccountError::PasskeyLimitReached);
            }
            match (&account.password, &verified_password) {
                (None, None) => {}
                (_, Some(verified)) => ensure_password(account, verified)?,
                (Some(_), None) => return Err(AccountError::InvalidCredentials),
            }
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::PasskeyRegistrationStarted { at: now });
            Ok(events)
        }
        AccountCommand::AddPasskey {
            passkey_id,
            name,
            credential_id,
            credential,
            recovery_codes,
            stepped_up,
            session_id,
            now,
        } => {
            if account.email_unproven() {
                return Err(AccountError::EmailNotVerified);
            }
            if account.factors.enabled() && !stepped_up {
                return Err(AccountError::StepUpRequired);
            }
            if account.factors.passkeys.len() >= PASSKEYS_PER_ACCOUNT {
                return Err(AccountError::PasskeyLimitReached);
            }
            if account.factors.passkey(&credential_id).is_some() {
                return Err(AccountError::PasskeyAlreadyRegistered);
            }
            let first_factor = !account.factors.enabled();
            let mut events = vec![AccountEvent::PasskeyAdded {
                passkey_id,
                name,
                credential_id,
                credential,
                at: now,
            }];
            if first_factor && account.factors.recovery_codes_left() == 0 {
                events.push(recovery_codes_generated(recovery_codes, now));
            }
            // The registration, user verified, proved the new passkey in its session.
            events.push(AccountEvent::StepUpProven {
                session_id,
                method: SecondFactorMethod::Passkey,
                passkey_id: Some(passkey_id),
                at: now,
            });
            events.extend(first_factor_ends_sessions(account, session_id, now));
            Ok(events)
        }
        AccountCommand::RemovePasskey {
            passkey_id,
            step_up,
            now,
        } => {
            let factors = &account.factors;
            if !factors
                .passkeys
                .iter()
                .any(|passkey| passkey.id == passkey_id)
            {
                return Err(AccountError::PasskeyNotFound);
            }
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::PasskeyRemoved {
                passkey_id,
                at: now,
            });
            // What the passkey signed in or stepped up goes with it: a lost or stolen key
            // is removed to shut out whoever holds it.
            let signed_in: Vec<_> = account
                .sessions_live_at(now)
                .filter(|session| {
                    account
                        .session_passkeys
                        .get(session)
                        .is_some_and(|used| used.contains(&passkey_id))
                })
                .collect();
            events.extend(sessions_ended(
                signed_in,
                SessionEndReason::PasskeyRemoved,
                now,
            ));
            let last = factors.totp.is_none() && factors.passkeys.len() == 1;
            if last && !factors.recovery_codes.is_empty() {
                events.push(AccountEvent::RecoveryCodesRevoked { at: now });
            }
            Ok(events)
        }
        AccountCommand::RemoveTotp { step_up, now } => {
            // An enrolment not confirmed is no factor: withdrawing it needs none.
            if !account.factors.enabled() && account.factors.totp_pending.is_some() {
                return Ok(vec![AccountEvent::TotpEnrolmentCancelled { at: now }]);
            }
            if !account.factors.enabled() {
                return Err(AccountError::SecondFactorNotEnabled);
            }
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::TotpRemoved { at: now });
            // The codes that stand in for the second factors go with the last of them.
            if account.factors.passkeys.is_empty() && !account.factors.recovery_codes.is_empty() {
                events.push(AccountEvent::RecoveryCodesRevoked { at: now });
            }
            Ok(events)
        }
        AccountCommand::ProveStepUp {
            session_id,
            factor,
            now,
        } => {
            if !account.factors.enabled() {
                return Err(AccountError::SecondFactorNotEnabled);
            }
            if !account.sessions_live_at(now).any(|live| live == session_id) {
                return Err(AccountError::SessionNotFound);
            }
            let (method, used) = use_second_factor(account, &factor, now)?;
            let passkey_id = passkey_of(Some(&used));
            Ok(vec![
                used,
                AccountEvent::StepUpProven {
                    session_id,
                    method,
                    passkey_id,
                    at: now,
                },
            ])
        }
        AccountCommand::RecordStepUpFailure { session_id, now } => {
            Ok(vec![AccountEvent::StepUpFailed {
                session_id,
                at: now,
            }])
        }
        AccountCommand::ResetSecondFactors { administrator, now } => {
            if account.factors == super::factors::SecondFactors::default() {
                return Ok(Vec::new());
            }
            let mut events = vec![AccountEvent::SecondFactorsReset {
                administrator,
                at: now,
            }];
            // Whoever holds the factors removed holds no session of them either.
            let live = account.sessions_live_at(now).collect();
            events.extend(sessions_ended(
                live,
                SessionEndReason::SecondFactorsReset,
                now,
            ));
            Ok(events)
        }
        AccountCommand::RegenerateRecoveryCodes {
            codes,
            step_up,
            now,
        } => {
            if !account.factors.enabled() {
                return Err(AccountError::SecondFactorNotEnabled);
            }
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(recovery_codes_generated(codes, now));
            Ok(events)
        }
        AccountCommand::EndSessions { which, reason, now } => {
            let session_ids: Vec<_> = match which {
                SessionsToEnd::One(id) => {
                    if !account.sessions_live_at(now).any(|live| live == id) {
                        return Err(AccountError::SessionNotFound);
                    }
                    vec![id]
                }
                SessionsToEnd::AllExcept(keep) => account
                    .sessions_live_at(now)
                    .filter(|id| *id != keep)
                    .collect(),
            };
            Ok(sessions_ended(session_ids, reason, now)
                .into_iter()
                .collect())
        }
        AccountCommand::UpdateProfile {
            changes,
            username,
            now,
        } => Ok(update_profile(account, changes, username, now)),
        AccountCommand::ChangePassword {
            verified_password,
            new_password,
            keep_session,
            step_up,
            now,
        } => {
            ensure_password(account, &verified_password)?;
            let mut events = ensure_step_up(account, &step_up, now)?;
            let others = account
                .sessions_live_at(now)
                .filter(|id| *id != keep_session)
                .collect();
            events.push(AccountEvent::PasswordChanged {
                password: new_password,
                at: now,
            });
            events.extend(sessions_ended(
                others,
                SessionEndReason::PasswordChanged,
                now,
            ));
            Ok(events)
        }
        AccountCommand::ChangePrivacy { privacy, now } => {
            if privacy == account.privacy {
                return Ok(vec![]);
            }
            Ok(vec![AccountEvent::PrivacyChanged { privacy, at: now }])
        }
        AccountCommand::Delete {
            proof,
            step_up,
            now,
        } => {
            ensure_proof(account, &proof)?;
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::AccountDeleted { at: now });
            Ok(events)
        }
        AccountCommand::ResetPassword {
            new_password,
            proven,
            now,
        } => {
            let all = account.sessions_live_at(now).collect();
            let mut events = Vec::new();
            if let (IdentifierKind::Email, Some(email)) = (proven, &account.email) {
                if !account.email_verified {
                    events.push(AccountEvent::EmailVerified {
                        email: email.clone(),
                        at: now,
                    });
                }
            }
            events.push(AccountEvent::PasswordChanged {
                password: new_password,
                at: now,
            });
            events.extend(sessions_ended(all, SessionEndReason::PasswordReset, now));
            Ok(events)
        }
        AccountCommand::VerifyEmail {
            email,
            verified_password,
            now,
        } => {
            if account.email.as_ref() != Some(&email) {
                return Err(AccountError::AddressMismatch);
            }
            if account.email_verified {
                return Err(AccountError::EmailAlreadyVerified);
            }
            if let Some(verified) = &verified_password {
                ensure_password(account, verified)?;
            }
            Ok(first_proof_of_address(
                account,
                &email,
                verified_password.is_some(),
                now,
            ))
        }
        AccountCommand::ChangeRole { role, now } => {
            if account.role == role {
                return Ok(Vec::new());
            }
            Ok(vec![AccountEvent::RoleChanged {
                role,
                previous: account.role,
                at: now,
            }])
        }
        AccountCommand::Block { now } => {
            if account.status == AccountStatus::Blocked {
                return Ok(Vec::new());
            }
            let all = account.sessions_live_at(now).collect();
            let mut events = vec![AccountEvent::AccountBlocked { at: now }];
            events.extend(sessions_ended(all, SessionEndReason::Blocked, now));
            Ok(events)
        }
        AccountCommand::Unblock { now } => {
            if account.status != AccountStatus::Blocked {
                return Ok(Vec::new());
            }
            Ok(vec![AccountEvent::AccountUnblocked { at: now }])
        }
        AccountCommand::SetFeatured { featured, now } => {
            if account.featured == featured {
                return Ok(Vec::new());
            }
            Ok(vec![AccountEvent::FeaturedChanged { featured, at: now }])
        }
        AccountCommand::ChangePhone {
            phone,
            step_up,
            now,
        } => {
            if account.phone.as_ref() == Some(&phone) {
                return Ok(Vec::new());
            }
            // A phone signs in by texted codes: a squatter of an address must not keep a way
            // in once the owner proves it.
            if account.email_unproven() {
                return Err(AccountError::EmailNotVerified);
            }
            let window = chrono::Duration::days(30);
            let recent: Vec<&DateTime<Utc>> = account
                .phone_changes
                .iter()
                .filter(|at| now - **at < window)
                .collect();
            if recent.len() >= MAX_PHONE_CHANGES_PER_30_DAYS {
                let oldest = recent[recent.len() - MAX_PHONE_CHANGES_PER_30_DAYS];
                let wait = window - (now - *oldest);
                return Err(AccountError::TooManyPhoneChanges(
                    (wait.num_milliseconds().max(0) + 999) / 1000,
                ));
            }
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::PhoneChanged {
                phone,
                previous: account.phone.clone(),
                at: now,
            });
            Ok(events)
        }
        AccountCommand::ChangeEmail {
            email,
            step_up,
            now,
        } => {
            if account.email.as_ref() == Some(&email) {
                return Ok(Vec::new());
            }
            let mut events = ensure_step_up(account, &step_up, now)?;
            events.push(AccountEvent::EmailChanged {
                email,
                previous: account.email.clone(),
                at: now,
            });
            Ok(events)
        }
    }
}

/// Commands other than sign-up need an account that exists. A blocked account is refused
/// everything but sign-in, which answers `Blocked` only after the password is proven.
fn ensure_usable(account: &Account) -> Result<(), AccountError> {
    match account.status {
        AccountStatus::Unregistered | AccountStatus::Deleted | AccountStatus::Erased => {
            Err(AccountError::NotFound)
        }
        AccountStatus::Active | AccountStatus::Blocked => Ok(()),
    }
}

fn ensure_proof(account: &Account, proof: &Proof) -> Result<SignInMethod, AccountError> {
    match proof {
        Proof::Password(verified) => ensure_password(account, verified)?,
        // A passkey's proof is its assertion, which the sign-in's second factor carries.
        Proof::Code | Proof::Administrator | Proof::Passkey => {}
        // A credential or identifier changed after the challenge: what proved the first
        // factor then proves nothing now.
        Proof::Challenged { at, .. } => {
            if account
                .codes_valid_from
                .is_some_and(|valid_from| *at < valid_from)
            {
                return Err(AccountError::InvalidCredentials);
            }
        }
    }
    Ok(proof.method())
}

/// The first factor of a sign-in: proven, on an account that is not blocked (a blocked
/// account is told so only once its first factor is proven).
fn ensure_first_factor(account: &Account, proof: &Proof) -> Result<SignInMethod, AccountError> {
    let method = ensure_proof(account, proof)?;
    if account.status == AccountStatus::Blocked {
        return Err(AccountError::Blocked);
    }
    Ok(method)
}

/// The event that spends a second factor, and its method; `SecondFactorInvalid` when the
/// account has no such factor, the TOTP time step is not after the last one accepted (a
/// replay, or an older code), or the recovery code is not one of its unused codes.
fn use_second_factor(
    account: &Account,
    factor: &SecondFactor,
    now: DateTime<Utc>,
) -> Result<(SecondFactorMethod, AccountEvent), AccountError> {
    let factors = &account.factors;
    match factor {
        SecondFactor::Totp { time_step } => {
            let fresh = factors.totp_last_step.is_none_or(|last| *time_step > last);
            if factors.totp.is_none() || !fresh {
                return Err(AccountError::SecondFactorInvalid);
            }
            Ok((
                SecondFactorMethod::Totp,
                AccountEvent::TotpCodeUsed {
                    time_step: *time_step,
                    at: now,
                },
            ))
        }
        SecondFactor::RecoveryCode(hash) => {
            let index = factors
                .recovery_codes
                .iter()
                .position(|code| code.as_ref() == Some(hash))
                .and_then(|index| u8::try_from(index).ok())
                .ok_or(AccountError::SecondFactorInvalid)?;
            Ok((
                SecondFactorMethod::RecoveryCode,
                AccountEvent::RecoveryCodeUsed { index, at: now },
            ))
        }
        SecondFactor::Passkey {
            credential_id,
            sign_count,
        } => {
            let passkey = factors
                .passkey(credential_id)
                .ok_or(AccountError::SecondFactorInvalid)?;
            // A counter that did not go forward betrays a cloned authenticator (WebAuthn
            // §6.1.1); authenticators that keep none always say 0.
            let kept = passkey.sign_count;
            if (*sign_count != 0 || kept != 0) && *sign_count <= kept {
                return Err(AccountError::SecondFactorInvalid);
            }
            Ok((
                SecondFactorMethod::Passkey,
                AccountEvent::PasskeyUsed {
                    passkey_id: passkey.id,
                    sign_count: *sign_count,
                    at: now,
                },
            ))
        }
    }
}

/// What confirms a step-up action of an account with a second factor: a second factor proven
/// in the session lately, or one sent with the request (spent by the events returned).
fn ensure_step_up(
    account: &Account,
    step_up: &StepUp,
    now: DateTime<Utc>,
) -> Result<Vec<AccountEvent>, AccountError> {
    if !account.factors.enabled() {
        return Ok(Vec::new());
    }
    match step_up {
        StepUp::Recent | StepUp::Administrator => Ok(Vec::new()),
        StepUp::Factor(factor) => Ok(vec![use_second_factor(account, factor, now)?.1]),
        StepUp::Missing => Err(AccountError::StepUpRequired),
    }
}

/// When `account` gets its first second factor from the session `keep`: the end of every
/// other live session, none of which proved it (an old or stolen session must not keep
/// acting, or sign its owner out, at one factor).
fn first_factor_ends_sessions(
    account: &Account,
    keep: uuid::Uuid,
    now: DateTime<Utc>,
) -> Option<AccountEvent> {
    if account.factors.enabled() {
        return None;
    }
    let others = account
        .sessions_live_at(now)
        .filter(|id| *id != keep)
        .collect();
    sessions_ended(others, SessionEndReason::SecondFactorEnabled, now)
}

/// The passkey an event that spent a second factor names, when it was one.
fn passkey_of(used: Option<&AccountEvent>) -> Option<uuid::Uuid> {
    match used {
        Some(AccountEvent::PasskeyUsed { passkey_id, .. }) => Some(*passkey_id),
        _ => None,
    }
}

fn recovery_codes_generated(codes: Vec<RecoveryCodeHash>, now: DateTime<Utc>) -> AccountEvent {
    debug_assert_eq!(codes.len(), RECOVERY_CODES_PER_SET);
    AccountEvent::RecoveryCodesGenerated { codes, at: now }
}

fn ensure_password(account: &Account, verified: &SealedPasswordHash) -> Result<(), AccountError> {
    match &account.password {
        Some(current) if current == verified => Ok(()),
        _ => Err(AccountError::InvalidCredentials),
    }
}

/// The events of the first proof that the account controls its email address: verified, and,
/// unless the prover showed the password as well, the password and sessions set up before by
/// whoever signed up with the address (maybe not its owner) are gone.
fn first_proof_of_address(
    account: &Account,
    email: &crate::domain::values::Email,
    password_proven: bool,
    now: DateTime<Utc>,
) -> Vec<AccountEvent> {
    let mut events = vec![AccountEvent::EmailVerified {
        email: email.clone(),
        at: now,
    }];
    if password_proven {
        return events;
    }
    if account.password.is_some() {
        events.push(AccountEvent::UnverifiedPasswordRemoved { at: now });
    }
    let before = account.sessions_live_at(now).collect();
    events.extend(sessions_ended(before, SessionEndReason::AddressProven, now));
    events
}

fn sessions_ended(
    session_ids: Vec<uuid::Uuid>,
    reason: SessionEndReason,
    now: DateTime<Utc>,
) -> Option<AccountEvent> {
    (!session_ids.is_empty()).then_some(AccountEvent::SessionsEnded {
        session_ids,
        reason,
        at: now,
    })
}

/// Keeps only the changes that differ from the current profile, so a repeated request records
/// nothing new.
fn update_profile(
    account: &Account,
    requested: ProfileChanges,
    username: Option<crate::domain::values::Username>,
    now: DateTime<Utc>,
) -> Vec<AccountEvent> {
    let current: &Profile = &account.profile;
    fn differs<T: PartialEq>(requested: Option<T>, current: &T) -> Option<T> {
        requested.filter(|value| value != current)
    }
    let changes = ProfileChanges {
        display_name: differs(requested.display_name, &current.display_name),
        avatar_url: differs(requested.avatar_url, &current.avatar_url),
        cover_url: differs(requested.cover_url, &current.cover_url),
        bio: differs(requested.bio, &current.bio),
        gender: differs(requested.gender, &current.gender),
        birthday: differs(requested.birthday, &current.birthday),
        country: differs(requested.country, &current.country),
        province: differs(requested.province, &current.province),
        city: differs(requested.city, &current.city),
    };
    let mut events = Vec::new();
    if let Some(username) = username.filter(|new| Some(new) != account.username.as_ref()) {
        events.push(AccountEvent::UsernameChanged {
            username,
            previous: account.username.clone(),
            at: now,
        });
    }
    if !changes.is_empty() {
        events.push(AccountEvent::ProfileUpdated { changes, at: now });
    }
    events
}
