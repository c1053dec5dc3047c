//! What a caller can ask of an account. Anything costly or random (hashing, ids, the clock) is
//! done before, and handed in.

use super::events::{
    IdentifierKind, ProfileChanges, SealedPasswordHash, SessionEndReason, SignInFailure,
    SignInMethod,
};
use super::factors::{
    PasskeyCredential, PasskeyName, RecoveryCodeHash, SealedTotpSecret, SecondFactor, StepUp,
};
use super::state::{Privacy, Role};
use crate::domain::values::{DisplayName, Email, Phone, Username};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An identifier that names an account: the one it signs up with, or the one given to sign
/// in.
#[derive(Debug, Clone, PartialEq)]
pub enum Identifier {
    /// An email address (signs up with a password).
    Email(Email),
    /// A username (signs up with a password).
    Username(Username),
    /// A phone number (signs up proven by a texted code).
    Phone(Phone),
}

impl Identifier {
    /// Which kind of identifier it is.
    pub fn kind(&self) -> IdentifierKind {
        match self {
            Self::Email(_) => IdentifierKind::Email,
            Self::Username(_) => IdentifierKind::Username,
            Self::Phone(_) => IdentifierKind::Phone,
        }
    }
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionsToEnd {
    /// Exactly this one.
    One(Uuid),
    /// Every live session but this one.
    AllExcept(Uuid),
}

/// What proves that the caller may act for the account.
#[derive(Debug, Clone, PartialEq)]
pub enum Proof {
    /// The account's password, which matched this hash.
    Password(SealedPasswordHash),
    /// A one-time code sent to the account's address or phone, checked and spent already.
    Code,
    /// An administrator acts (authorized by the caller; named in the event's metadata).
    Administrator,
    /// A discoverable passkey's assertion, user verified, proves both factors at once: the
    /// sign-in's second factor must be that passkey.
    Passkey,
    /// A first factor proven (`method`) when the sign-in's second-factor challenge was issued
    /// at `at`: it stands while no credential or identifier changed since.
    Challenged {
        /// How the first factor was proven.
        method: SignInMethod,
        /// When the challenge was issued.
        at: DateTime<Utc>,
    },
}

impl Proof {
    /// How a session or challenge it opens was signed in: by the password, or by a code (an
    /// administrator's act reads as a code's); a challenge's, by the first factor proven then.
    pub fn method(&self) -> SignInMethod {
        match self {
            Self::Password(_) => SignInMethod::Password,
            Self::Code | Self::Administrator => SignInMethod::Code,
            Self::Challenged { method, .. } => *method,
            Self::Passkey => SignInMethod::Passkey,
        }
    }
}

/// A request to change an account.
#[derive(Debug, Clone)]
pub enum AccountCommand {
    /// Create the account.
    Register {
        /// The identifier it signs up with.
        identifier: Identifier,
        /// The sealed hash of its password (a phone sign-up may have none).
        password: Option<SealedPasswordHash>,
        /// The email address was proven by a code at sign-up.
        email_verified: bool,
        /// An optional display name.
        display_name: Option<DisplayName>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Sign in: start a session.
    StartSession {
        /// The new session's id.
        session_id: Uuid,
        /// The password (verified against this hash) or a code.
        proof: Proof,
        /// The second factor, which an account that has one requires
        /// (`SecondFactorRequired` without it).
        second_factor: Option<SecondFactor>,
        /// Which identifier the caller named.
        identifier: IdentifierKind,
        /// Client address.
        ip: Option<String>,
        /// Client user agent.
        user_agent: Option<String>,
        /// When the session will expire.
        expires_at: DateTime<Utc>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// A first factor was proven on an account with a second factor: record the challenge
    /// that the second must answer (`SecondFactorNotEnabled` when the account has none).
    ChallengeSecondFactor {
        /// The challenge's id.
        challenge_id: Uuid,
        /// The first factor: the password (verified against this hash) or a code.
        proof: Proof,
        /// Which identifier the caller named.
        identifier: IdentifierKind,
        /// Client address.
        ip: Option<String>,
        /// Client user agent.
        user_agent: Option<String>,
        /// When the challenge dies.
        expires_at: DateTime<Utc>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Start TOTP enrolment with a new secret (replacing one pending), confirmed by the
    /// account's password when it has one, and by a step-up when it has a second factor.
    StartTotpEnrolment {
        /// The new secret, sealed.
        secret: SealedTotpSecret,
        /// The password hash the caller's password matched, for an account with a password.
        verified_password: Option<SealedPasswordHash>,
        /// The second factor confirming it, on an account with one (passkeys).
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Confirm the pending TOTP secret with a code of it, and issue the first recovery codes.
    ConfirmTotp {
        /// The pending secret the code was checked against (`TotpNotPending` when another
        /// enrolment replaced it meanwhile).
        secret: SealedTotpSecret,
        /// The time step the code matched the pending secret at.
        time_step: u64,
        /// The keyed hashes of the new recovery codes.
        recovery_codes: Vec<RecoveryCodeHash>,
        /// The caller's session: when TOTP is the account's first second factor, every other
        /// session ends (none of them proved it).
        session_id: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Begin registering a passkey: confirmed by the account's password when it has one, and
    /// by a step-up when it has a second factor.
    StartPasskeyRegistration {
        /// The password hash the caller's password matched, for an account with a password.
        verified_password: Option<SealedPasswordHash>,
        /// The second factor confirming it, on an account with one.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Register a passkey whose WebAuthn registration ceremony completed; the first second
    /// factor of an account also gets its first recovery codes.
    AddPasskey {
        /// The account's id for it.
        passkey_id: Uuid,
        /// Its owner's name for it.
        name: PasskeyName,
        /// The WebAuthn credential id, base64url without padding.
        credential_id: String,
        /// The credential.
        credential: PasskeyCredential,
        /// Keyed hashes of a new set of recovery codes, issued when the account has none.
        recovery_codes: Vec<RecoveryCodeHash>,
        /// The registration began on the account with a second factor, and so with a step-up:
        /// without it, an account that has one now refuses (`StepUpRequired`).
        stepped_up: bool,
        /// The caller's session: when the passkey is the account's first second factor, every
        /// other session ends (none of them proved it).
        session_id: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Remove a passkey (a step-up action); the recovery codes go with the last second factor.
    RemovePasskey {
        /// Which passkey.
        passkey_id: Uuid,
        /// The second factor confirming it.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Remove TOTP (a step-up action); the recovery codes go with the last second factor.
    RemoveTotp {
        /// The second factor confirming it.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Prove a second factor in a live session, ahead of step-up actions.
    ProveStepUp {
        /// The session.
        session_id: Uuid,
        /// The second factor, as far as checked.
        factor: SecondFactor,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Record that a second factor sent for a step-up action was refused.
    RecordStepUpFailure {
        /// The session that sent it.
        session_id: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Remove every second factor (an administrator's decision, for an owner who lost them).
    ResetSecondFactors {
        /// The administrator.
        administrator: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Replace the recovery codes with a new set (a step-up action).
    RegenerateRecoveryCodes {
        /// The keyed hashes of the new codes.
        codes: Vec<RecoveryCodeHash>,
        /// The second factor confirming it.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Record a failed sign-in.
    RecordSignInFailure {
        /// Which identifier the caller named.
        identifier: IdentifierKind,
        /// Why it failed.
        reason: SignInFailure,
        /// Client address.
        ip: Option<String>,
        /// Client user agent.
        user_agent: Option<String>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// End sessions.
    EndSessions {
        /// Which.
        which: SessionsToEnd,
        /// Why.
        reason: SessionEndReason,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Change profile fields and perhaps the username.
    UpdateProfile {
        /// Profile fields to change.
        changes: ProfileChanges,
        /// A new username.
        username: Option<Username>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Replace the password; other sessions end.
    ChangePassword {
        /// The password hash the current password matched.
        verified_password: SealedPasswordHash,
        /// The new sealed hash.
        new_password: SealedPasswordHash,
        /// The session that asked, which stays signed in.
        keep_session: Uuid,
        /// The second factor confirming it, for an account that has one.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Set a new password after proving control of the address or phone by a code or link;
    /// every session ends.
    ResetPassword {
        /// The new sealed hash.
        new_password: SealedPasswordHash,
        /// What the code or link was sent to: a reset by mail proves the address too.
        proven: IdentifierKind,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Mark the email address verified (by a code or link sent to it). Unless the caller also
    /// proved the password, the first proof removes the password and ends every session, which
    /// whoever signed up with the address may have set (`UnverifiedPasswordRemoved`).
    VerifyEmail {
        /// The address the code was sent to.
        email: Email,
        /// The password hash a password given with the proof matched, if one was given.
        verified_password: Option<SealedPasswordHash>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Move to a new email address, proven by a code sent to it.
    ChangeEmail {
        /// The new address.
        email: Email,
        /// The second factor confirming it, for an account that has one.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Move to a new phone number, proven by a code texted to it (and to the old one).
    ChangePhone {
        /// The new number.
        phone: Phone,
        /// The second factor confirming it, for an account that has one.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Give the account another role (an owner's decision).
    ChangeRole {
        /// The new role.
        role: Role,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Block the account: every session ends and sign-in is refused.
    Block {
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Lift a block.
    Unblock {
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Feature the account on listings, or stop.
    SetFeatured {
        /// Featured or not.
        featured: bool,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Replace the privacy settings.
    ChangePrivacy {
        /// The new settings.
        privacy: Privacy,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Record that everything held about the account was exported, for `requested_by`.
    RecordExport {
        /// The account itself, or the administrator.
        requested_by: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Bring a deleted account back, before its personal data is erased (an administrator).
    Restore {
        /// The administrator.
        administrator: Uuid,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Erase a deleted account's personal data, its grace period over (nothing when it was
    /// restored or erased already).
    ErasePersonalData {
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Delete the account, confirmed by its password or a code.
    Delete {
        /// The password (verified against this hash) or a code.
        proof: Proof,
        /// The second factor confirming it, for an account that has one.
        step_up: StepUp,
        /// The clock.
        now: DateTime<Utc>,
    },
}
