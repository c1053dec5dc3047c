//! What a caller can ask of an account. Anything costly or random (hashing, ids, the clock) is
//! done before, and handed in.

use super::events::{
    IdentifierKind, ProfileChanges, SealedPasswordHash, SessionEndReason, SignInFailure,
};
use super::state::Privacy;
use crate::domain::values::{DisplayName, Email, Username};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The identifier an account signs up with.
#[derive(Debug, Clone, PartialEq)]
pub enum NewIdentifier {
    /// Sign-up by email and password.
    Email(Email),
    /// Sign-up by username and password.
    Username(Username),
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionsToEnd {
    /// Exactly this one.
    One(Uuid),
    /// Every live session but this one.
    AllExcept(Uuid),
}

/// A request to change an account.
#[derive(Debug, Clone)]
pub enum AccountCommand {
    /// Create the account.
    Register {
        /// The identifier it signs up with.
        identifier: NewIdentifier,
        /// The sealed hash of its password.
        password: SealedPasswordHash,
        /// An optional display name.
        display_name: Option<DisplayName>,
        /// The clock.
        now: DateTime<Utc>,
    },
    /// Sign in: start a session. The password was verified against `verified_password`.
    StartSession {
        /// The new session's id.
        session_id: Uuid,
        /// The password hash the caller's password matched.
        verified_password: SealedPasswordHash,
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
    /// Delete the account, confirmed by its password.
    Delete {
        /// The password hash the caller's password matched.
        verified_password: SealedPasswordHash,
        /// The clock.
        now: DateTime<Utc>,
    },
}
