//! What can happen to an account. Released events never change: a new layout is a new
//! `schema_version` with an upcaster.

use super::factors::{
    PasskeyCredential, PasskeyName, RecoveryCodeHash, SealedTotpSecret, SecondFactorMethod,
};
use super::state::{Privacy, Role};
use crate::domain::DomainEvent;
use crate::domain::values::{
    Bio, Birthday, DisplayName, Email, Gender, ImageUrl, Phone, PlaceName, Username,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// An argon2id password hash, sealed with the service's key before it enters an event, so that
/// neither the log nor its subscribers ever hold a crackable hash. The domain only compares it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct SealedPasswordHash(pub String);

impl std::fmt::Debug for SealedPasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedPasswordHash(..)")
    }
}

/// Which identifier a sign-in named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// An email address.
    Email,
    /// A username.
    Username,
    /// A phone number.
    Phone,
    /// No identifier typed: a discoverable passkey's user handle named the account.
    Passkey,
}

impl IdentifierKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::Email, Self::Username, Self::Phone, Self::Passkey];

    /// The snake_case name (`email`, `username`, `phone`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
            Self::Phone => "phone",
            Self::Passkey => "passkey",
        }
    }

    /// The kind `as_str` names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// How a session was signed in.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// With the password.
    #[default]
    Password,
    /// With a one-time code.
    Code,
    /// With a discoverable passkey alone (WebAuthn, user verified): both factors in one.
    Passkey,
}

impl SignInMethod {
    /// The snake_case name (`password`, `code`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Code => "code",
            Self::Passkey => "passkey",
        }
    }

    /// The method `as_str` names.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Password, Self::Code, Self::Passkey]
            .into_iter()
            .find(|method| method.as_str() == name)
    }
}

/// Why sessions ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionEndReason {
    /// The user signed out of this session.
    SignedOut,
    /// The user ended the session from another one.
    EndedByUser,
    /// The password changed; other sessions end.
    PasswordChanged,
    /// The password was reset; every session ends.
    PasswordReset,
    /// An administrator blocked the account.
    Blocked,
    /// The account's address was proven for the first time: sessions started before that
    /// proof, by whoever signed up with the address, end.
    AddressProven,
    /// The passkey that signed the session in, or proved its step-up, was removed.
    PasskeyRemoved,
    /// An administrator removed the account's second factors: every session ends.
    SecondFactorsReset,
    /// The account got its first second factor: sessions that never proved one end, but the
    /// one that added it.
    SecondFactorEnabled,
}

/// Why a sign-in failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignInFailure {
    /// The password was wrong.
    WrongPassword,
    /// The password was right but the account is blocked.
    AccountBlocked,
    /// The first factor was proven, the second factor was wrong or used already.
    SecondFactorInvalid,
    /// A passkey's assertion named the account but did not verify (signature, challenge,
    /// origin, user verification, or a signature counter that went back).
    PasskeyInvalid,
}

/// Profile fields that a change touches: absent = unchanged, `Some(None)` = cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProfileChanges {
    /// New display name, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub display_name: Option<Option<DisplayName>>,
    /// New avatar, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub avatar_url: Option<Option<ImageUrl>>,
    /// New cover image, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub cover_url: Option<Option<ImageUrl>>,
    /// New bio, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub bio: Option<Option<Bio>>,
    /// New gender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// New birthday, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub birthday: Option<Option<Birthday>>,
    /// New country, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub country: Option<Option<PlaceName>>,
    /// New province, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub province: Option<Option<PlaceName>>,
    /// New city, or cleared.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub city: Option<Option<PlaceName>>,
}

/// A field that is present in the JSON (even as `null`) is a change: `Some(value)`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl ProfileChanges {
    /// True when the change touches no field.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The events of the account stream. In the log, `event_type` is the variant's name and `data`
/// its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event_type", content = "data")]
pub enum AccountEvent {
    /// An account was created with one identifier.
    AccountRegistered {
        /// Sign-up email, if signed up by email.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<Email>,
        /// Sign-up username, if signed up by username.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<Username>,
        /// Sign-up phone, if signed up by phone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<Phone>,
        /// Display name chosen at sign-up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_name: Option<DisplayName>,
        /// The sealed password hash, when a password was set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<SealedPasswordHash>,
        /// The account's role.
        role: Role,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// Profile fields changed.
    ProfileUpdated {
        /// The fields that changed, with their new values.
        changes: ProfileChanges,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The username changed (or was set for the first time).
    UsernameChanged {
        /// The new username.
        username: Username,
        /// The username it replaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Username>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The password changed.
    PasswordChanged {
        /// The new sealed password hash.
        password: SealedPasswordHash,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// Privacy settings changed.
    PrivacyChanged {
        /// The settings now in force.
        privacy: Privacy,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The user signed in: a session started.
    SessionStarted {
        /// The new session.
        session_id: Uuid,
        /// Which identifier the user signed in with.
        identifier: IdentifierKind,
        /// Password or code.
        #[serde(default)]
        method: SignInMethod,
        /// The second factor proven with the first, if any (then the session is at AAL2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        second_factor: Option<SecondFactorMethod>,
        /// The passkey that proved it, when one did: removing that passkey ends the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passkey_id: Option<Uuid>,
        /// Client address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// Client user agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
        /// When the session stops being valid.
        expires_at: DateTime<Utc>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A sign-in failed (the password itself is never recorded).
    SignInFailed {
        /// Which identifier the caller named.
        identifier: IdentifierKind,
        /// Why it failed.
        reason: SignInFailure,
        /// Client address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// Client user agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// Sessions ended before their expiry.
    SessionsEnded {
        /// The sessions that ended.
        session_ids: Vec<Uuid>,
        /// Why.
        reason: SessionEndReason,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The email address was proven by a code or link sent to it.
    EmailVerified {
        /// The address.
        email: Email,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account moved to a new email address (proven by a code sent to it).
    EmailChanged {
        /// The new address.
        email: Email,
        /// The address it replaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Email>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account moved to a new phone number (proven by codes).
    PhoneChanged {
        /// The new number.
        phone: Phone,
        /// The number it replaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Phone>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account's role changed.
    RoleChanged {
        /// The new role.
        role: Role,
        /// The role it replaces.
        previous: Role,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An administrator blocked the account.
    AccountBlocked {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An administrator lifted the block.
    AccountUnblocked {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account was featured on listings, or stopped being.
    FeaturedChanged {
        /// Featured or not.
        featured: bool,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account's email address was proven for the first time (by a mailed link or code)
    /// without its password: the password set before that proof, by whoever signed up with an
    /// address they might not own, no longer signs in (pre-account hijacking; OWASP ASVS
    /// 2.5.x). The owner sets one by password reset. Sessions of before end in the
    /// `SessionsEnded` that follows.
    UnverifiedPasswordRemoved {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A sign-in proved its first factor on an account with a second factor: instead of a
    /// session, it got a short-lived, single-use challenge to answer with the second.
    SecondFactorChallenged {
        /// The challenge.
        challenge_id: Uuid,
        /// Which identifier the caller named.
        identifier: IdentifierKind,
        /// How the first factor was proven.
        method: SignInMethod,
        /// Client address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// Client user agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
        /// When the challenge dies unanswered.
        expires_at: DateTime<Utc>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// TOTP enrolment (RFC 6238) started: a new secret, not active until a first code from it
    /// confirms it (`TotpEnabled`).
    TotpEnrolmentStarted {
        /// The secret, sealed with the service's key.
        secret: SealedTotpSecret,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The pending TOTP secret was confirmed by a code of it: sign-in now needs a second factor.
    TotpEnabled {
        /// The confirming code's time step (RFC 6238 `T`): no code of it or before is taken
        /// again.
        time_step: u64,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A TOTP code was accepted (for a sign-in or a step-up): its time step is spent.
    TotpCodeUsed {
        /// The code's time step (RFC 6238 `T`).
        time_step: u64,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A TOTP enrolment not yet confirmed was withdrawn: its secret is void.
    TotpEnrolmentCancelled {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// TOTP was removed (confirmed by a second factor).
    TotpRemoved {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A new set of single-use recovery codes, voiding the set before. Only their keyed
    /// hashes are kept; the codes were shown once.
    RecoveryCodesGenerated {
        /// The codes' keyed hashes, in the order they were shown.
        codes: Vec<RecoveryCodeHash>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A recovery code was used (for a sign-in or a step-up) and is spent.
    RecoveryCodeUsed {
        /// Its place in the set (0-based, in the order shown).
        index: u8,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The recovery codes were voided: the account has no second factor left for them to
    /// stand in for.
    RecoveryCodesRevoked {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A second factor sent for a step-up action (`mfa_code`) was wrong or used already: the
    /// action was refused.
    StepUpFailed {
        /// The session that sent it.
        session_id: Uuid,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A signed-in session proved a second factor on its own (a passkey's assertion): step-up
    /// actions need no other for `STEP_UP_WINDOW` from then.
    StepUpProven {
        /// The session.
        session_id: Uuid,
        /// The second factor it proved.
        method: SecondFactorMethod,
        /// The passkey, when it was one: removing that passkey ends the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passkey_id: Option<Uuid>,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An administrator removed every second factor of the account (TOTP, pending or on, and
    /// the recovery codes), for an owner who lost them: sign-in needs the first factor only.
    SecondFactorsReset {
        /// The administrator who did it.
        administrator: Uuid,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A passkey registration began: its owner proved the password (or a fresh sign-in) and,
    /// with a second factor on, the step-up, and WebAuthn creation options were issued.
    PasskeyRegistrationStarted {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A passkey (WebAuthn credential, user verification required) was registered: it is a
    /// second factor, and a discoverable one signs in alone.
    PasskeyAdded {
        /// The account's id for it.
        passkey_id: Uuid,
        /// Its owner's name for it.
        name: PasskeyName,
        /// The WebAuthn credential id, base64url without padding.
        credential_id: String,
        /// The credential (public key and counter), as webauthn-rs stores it.
        credential: PasskeyCredential,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A passkey's assertion was accepted (a sign-in or a step-up).
    PasskeyUsed {
        /// Which passkey.
        passkey_id: Uuid,
        /// The assertion's signature counter (WebAuthn §6.1.1; 0 when the authenticator keeps
        /// none).
        sign_count: u32,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// A passkey was removed (a step-up action).
    PasskeyRemoved {
        /// Which passkey.
        passkey_id: Uuid,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The account was deleted: its identifiers are free and its sessions over. Its personal
    /// data is erased when the grace period (`ACCOUNTS_ERASURE_GRACE_DAYS`) ends, unless an
    /// administrator restores it first.
    AccountDeleted {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// An administrator brought the deleted account back within its grace period: it is active
    /// again, its identifiers claimed anew; no session came back.
    AccountRestored {
        /// The administrator who restored it.
        administrator: Uuid,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// The grace period after the deletion ended and the data keys of the account's streams
    /// were destroyed (crypto-shredding, GDPR art. 17): from now on every event of the account
    /// reads with its facts (type, time, version, ids) and `"personal_data": "erased"` in place
    /// of its personal fields. The account can no longer be restored.
    PersonalDataErased {
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// Everything held about the account was exported (GDPR art. 15 and 20, PIPL art. 45):
    /// `GET /v1/me/export` by the account itself, or `GET /v1/admin/users/{id}/export`.
    PersonalDataExported {
        /// Who asked: the account, or the administrator.
        requested_by: Uuid,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// For subscribers: the account (the event's `stream_id`) is gone for good, and its
    /// personal data with it. A subscriber must now delete or anonymize what it keeps about
    /// the account (copies of its email, phone, names, addresses, and the events it received
    /// about it), as the service did. Follows `PersonalDataErased` in the same transaction.
    AccountErased {
        /// When it happened.
        at: DateTime<Utc>,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::AccountRegistered { .. } => "AccountRegistered",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::UsernameChanged { .. } => "UsernameChanged",
            Self::PasswordChanged { .. } => "PasswordChanged",
            Self::PrivacyChanged { .. } => "PrivacyChanged",
            Self::SessionStarted { .. } => "SessionStarted",
            Self::SignInFailed { .. } => "SignInFailed",
            Self::EmailVerified { .. } => "EmailVerified",
            Self::EmailChanged { .. } => "EmailChanged",
            Self::PhoneChanged { .. } => "PhoneChanged",
            Self::RoleChanged { .. } => "RoleChanged",
            Self::AccountBlocked { .. } => "AccountBlocked",
            Self::AccountUnblocked { .. } => "AccountUnblocked",
            Self::FeaturedChanged { .. } => "FeaturedChanged",
            Self::SessionsEnded { .. } => "SessionsEnded",
            Self::UnverifiedPasswordRemoved { .. } => "UnverifiedPasswordRemoved",
            Self::AccountDeleted { .. } => "AccountDeleted",
            Self::AccountRestored { .. } => "AccountRestored",
            Self::PersonalDataErased { .. } => "PersonalDataErased",
            Self::AccountErased { .. } => "AccountErased",
            Self::PersonalDataExported { .. } => "PersonalDataExported",
            Self::SecondFactorChallenged { .. } => "SecondFactorChallenged",
            Self::TotpEnrolmentStarted { .. } => "TotpEnrolmentStarted",
            Self::TotpEnabled { .. } => "TotpEnabled",
            Self::TotpCodeUsed { .. } => "TotpCodeUsed",
            Self::TotpRemoved { .. } => "TotpRemoved",
            Self::TotpEnrolmentCancelled { .. } => "TotpEnrolmentCancelled",
            Self::RecoveryCodesGenerated { .. } => "RecoveryCodesGenerated",
            Self::RecoveryCodeUsed { .. } => "RecoveryCodeUsed",
            Self::RecoveryCodesRevoked { .. } => "RecoveryCodesRevoked",
            Self::SecondFactorsReset { .. } => "SecondFactorsReset",
            Self::StepUpFailed { .. } => "StepUpFailed",
            Self::StepUpProven { .. } => "StepUpProven",
            Self::PasskeyRegistrationStarted { .. } => "PasskeyRegistrationStarted",
            Self::PasskeyAdded { .. } => "PasskeyAdded",
            Self::PasskeyUsed { .. } => "PasskeyUsed",
            Self::PasskeyRemoved { .. } => "PasskeyRemoved",
        }
    }
}
