//! The account as its events leave it.

use super::events::SealedPasswordHash;
use super::factors::SecondFactors;
use crate::domain::values::{
    Bio, Birthday, DisplayName, Email, Gender, ImageUrl, Phone, PlaceName, Username,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AccountStatus {
    /// No such account: the stream is empty.
    #[default]
    Unregistered,
    /// Can sign in and act.
    Active,
    /// Blocked by an administrator.
    Blocked,
    /// Deleted; its identifiers are free. An administrator may restore it until its personal
    /// data is erased.
    Deleted,
    /// Deleted, and its personal data erased for good.
    Erased,
}

/// What an account may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An ordinary user.
    #[default]
    User,
    /// Manages users.
    Admin,
    /// Manages users and roles.
    Owner,
}

impl Role {
    /// The snake_case name (`user`, `admin`, `owner`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// The role named `name` (`user`, `admin`, `owner`), as `as_str` writes it.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::User, Self::Admin, Self::Owner]
            .into_iter()
            .find(|role| role.as_str() == name)
    }

    /// Whether this role has at least the powers of `other`: owner > admin > user.
    pub fn at_least(self, other: Self) -> bool {
        let rank = |role: Self| match role {
            Self::User => 0,
            Self::Admin => 1,
            Self::Owner => 2,
        };
        rank(self) >= rank(other)
    }

    /// Whether an administrator with this role may act on an account with role `target`:
    /// admins act on users and on themselves (`own`), owners on anyone.
    pub fn may_act_on(self, target: Self, own: bool) -> bool {
        match self {
            Self::Owner => true,
            Self::Admin => own || target == Self::User,
            Self::User => false,
        }
    }
}

/// What others may see of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Privacy {
    /// Others see the (masked) phone number.
    pub show_phone: bool,
    /// Others see the (masked) email address.
    pub show_email: bool,
    /// Others see the birthday.
    pub show_birthday: bool,
    /// Others see whom this account follows and who follows it.
    pub show_follows: bool,
}

impl Default for Privacy {
    /// Contact details and birthday are private until the user shows them; follows are public,
    /// as in the community products this service replaces.
    fn default() -> Self {
        Self {
            show_phone: false,
            show_email: false,
            show_birthday: false,
            show_follows: true,
        }
    }
}

/// The descriptive part of an account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name shown to others.
    pub display_name: Option<DisplayName>,
    /// Avatar image.
    pub avatar_url: Option<ImageUrl>,
    /// Cover image.
    pub cover_url: Option<ImageUrl>,
    /// About the user.
    pub bio: Option<Bio>,
    /// Gender.
    pub gender: Gender,
    /// Birthday.
    pub birthday: Option<Birthday>,
    /// Country.
    pub country: Option<PlaceName>,
    /// Province or state.
    pub province: Option<PlaceName>,
    /// City.
    pub city: Option<PlaceName>,
}

/// An account, folded from its stream (and kept as a snapshot in that form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Life-cycle status.
    pub status: AccountStatus,
    /// Email address, if any.
    pub email: Option<Email>,
    /// Whether the email address was proven.
    pub email_verified: bool,
    /// Username, if any.
    pub username: Option<Username>,
    /// Phone number, if any.
    pub phone: Option<Phone>,
    /// Whether the phone number was proven.
    pub phone_verified: bool,
    /// Sealed password hash, if a password is set.
    pub password: Option<SealedPasswordHash>,
    /// Profile fields.
    pub profile: Profile,
    /// Privacy settings.
    pub privacy: Privacy,
    /// Role.
    pub role: Role,
    /// When the account was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the account last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// Sessions started and not ended, with their expiry.
    pub live_sessions: BTreeMap<Uuid, DateTime<Utc>>,
    /// The passkeys each live session was signed in or stepped up with.
    #[serde(default)]
    pub session_passkeys: BTreeMap<Uuid, Vec<Uuid>>,
    /// When the phone number changed, within the last 30 days.
    pub phone_changes: Vec<DateTime<Utc>>,
    /// Featured on listings by an administrator.
    pub featured: bool,
    /// Codes and links issued before this instant prove nothing for this account: it is moved
    /// by each change of credentials or identifiers (registration, password change or reset,
    /// email or phone change, block), so that what was sent before cannot be used after.
    pub codes_valid_from: Option<DateTime<Utc>>,
    /// Second factors: TOTP and recovery codes.
    #[serde(default)]
    pub factors: SecondFactors,
    /// The account was blocked when it was deleted: a restore brings it back blocked.
    #[serde(default)]
    pub deleted_while_blocked: bool,
}

impl Account {
    /// Whether the account has an email address nobody has proven yet: whoever signed up with
    /// it may not own it, so it may add no other way in (a phone) until it is proven.
    pub fn email_unproven(&self) -> bool {
        self.email.is_some() && !self.email_verified
    }

    /// Sessions still valid at `now`.
    pub fn sessions_live_at(&self, now: DateTime<Utc>) -> impl Iterator<Item = Uuid> + '_ {
        self.live_sessions
            .iter()
            .filter(move |(_, expires_at)| **expires_at > now)
            .map(|(id, _)| *id)
    }
}
