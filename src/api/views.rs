//! What the API shows of an account.

use super::problem::{ApiError, FieldCode, ProblemCode};
use crate::domain::account::{Account, AccountStatus, Privacy, Profile, Role};
use crate::domain::values::Gender;
use crate::service::FieldError;
use crate::store::event_log::RecordedEvent;
use crate::store::users::ProfileRow;
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{ApiResponse, Enum, Object};
use uuid::Uuid;

/// Gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum GenderView {
    /// Not told.
    Unknown,
    /// Male.
    Male,
    /// Female.
    Female,
}

impl From<Gender> for GenderView {
    fn from(gender: Gender) -> Self {
        match gender {
            Gender::Unknown => Self::Unknown,
            Gender::Male => Self::Male,
            Gender::Female => Self::Female,
        }
    }
}

impl From<GenderView> for Gender {
    fn from(gender: GenderView) -> Self {
        match gender {
            GenderView::Unknown => Self::Unknown,
            GenderView::Male => Self::Male,
            GenderView::Female => Self::Female,
        }
    }
}

/// Role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum RoleView {
    /// An ordinary user.
    User,
    /// Manages users.
    Admin,
    /// Manages users and roles.
    Owner,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Admin => Self::Admin,
            Role::Owner => Self::Owner,
        }
    }
}

impl From<RoleView> for Role {
    fn from(view: RoleView) -> Self {
        match view {
            RoleView::User => Role::User,
            RoleView::Admin => Role::Admin,
            RoleView::Owner => Role::Owner,
        }
    }
}

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StatusView {
    /// In good standing.
    Active,
    /// Blocked by an administrator.
    Blocked,
}

/// An account as its owner sees it.
#[derive(Debug, Clone, Object)]
pub struct AccountView {
    /// Account id.
    pub id: Uuid,
    /// Username.
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// Display name.
    #[oai(skip_serializing_if_is_none)]
    pub display_name: Option<String>,
    /// Email address.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Whether the email address is verified.
    pub email_verified: bool,
    /// Phone number (E.164).
    #[oai(skip_serializing_if_is_none)]
    pub phone: Option<String>,
    /// Whether the phone number is verified.
    pub phone_verified: bool,
    /// What the user tells about themselves.
    #[oai(flatten)]
    pub profile: ProfileView,
    /// Role.
    pub role: RoleView,
    /// Status.
    pub status: StatusView,
    /// Featured on listings by an administrator.
    pub featured: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    pub updated_at: DateTime<Utc>,
}

/// The profile fields a user tells about themselves, in their own account and in their
/// public profile alike.
#[derive(Debug, Clone, Object)]
pub struct ProfileView {
    /// Avatar image URL.
    #[oai(skip_serializing_if_is_none)]
    pub avatar_url: Option<String>,
    /// Cover image URL.
    #[oai(skip_serializing_if_is_none)]
    pub cover_url: Option<String>,
    /// About the user.
    #[oai(skip_serializing_if_is_none)]
    pub bio: Option<String>,
    /// Gender.
    pub gender: GenderView,
    /// Birthday (in a public profile, only when the user shows it).
    #[oai(skip_serializing_if_is_none)]
    pub birthday: Option<NaiveDate>,
    /// Country.
    #[oai(skip_serializing_if_is_none)]
    pub country: Option<String>,
    /// Province or state.
    #[oai(skip_serializing_if_is_none)]
    pub province: Option<String>,
    /// City.
    #[oai(skip_serializing_if_is_none)]
    pub city: Option<String>,
}

impl ProfileView {
    /// The view of an account's profile.
    pub fn of(profile: &Profile) -> Self {
        let text = |value: Option<&str>| value.map(str::to_owned);
        Self {
            avatar_url: text(profile.avatar_url.as_ref().map(|v| v.as_str())),
            cover_url: text(profile.cover_url.as_ref().map(|v| v.as_str())),
            bio: text(profile.bio.as_ref().map(|v| v.as_str())),
            gender: profile.gender.into(),
            birthday: profile.birthday.map(|b| b.date()),
            country: text(profile.country.as_ref().map(|v| v.as_str())),
            province: text(profile.province.as_ref().map(|v| v.as_str())),
            city: text(profile.city.as_ref().map(|v| v.as_str())),
        }
    }
}

impl From<ProfileRow> for ProfileView {
    fn from(row: ProfileRow) -> Self {
        let gender = match row.gender.as_str() {
            "male" => Gender::Male,
            "female" => Gender::Female,
            _ => Gender::Unknown,
        };
        Self {
            avatar_url: row.avatar_url,
            cover_url: row.cover_url,
            bio: row.bio,
            gender: gender.into(),
            birthday: row.birthday,
            country: row.country,
            province: row.province,
            city: row.city,
        }
    }
}

impl AccountView {
    /// The view of an account.
    pub fn of(id: Uuid, account: &Account) -> Self {
        let profile = &account.profile;
        let text = |value: Option<&str>| value.map(str::to_owned);
        let created_at = account.created_at.unwrap_or_default();
        Self {
            id,
            username: text(account.username.as_ref().map(|v| v.as_str())),
            display_name: text(profile.display_name.as_ref().map(|v| v.as_str())),
            email: text(account.email.as_ref().map(|v| v.as_str())),
            email_verified: account.email_verified,
            phone: text(account.phone.as_ref().map(|v| v.as_str())),
            phone_verified: account.phone_verified,
            profile: ProfileView::of(profile),
            role: account.role.into(),
            status: match account.status {
                AccountStatus::Blocked => StatusView::Blocked,
                _ => StatusView::Active,
            },
            featured: account.featured,
            created_at,
            updated_at: account.updated_at.unwrap_or(created_at),
        }
    }
}

/// What others may see of the account.
#[derive(Debug, Clone, Copy, Object)]
pub struct PrivacyView {
    /// Others see the (masked) phone number.
    pub show_phone: bool,
    /// Others see the (masked) email address.
    pub show_email: bool,
    /// Others see the birthday.
    pub show_birthday: bool,
    /// Others see follows and followers.
    pub show_follows: bool,
}

impl From<Privacy> for PrivacyView {
    fn from(p: Privacy) -> Self {
        Self {
            show_phone: p.show_phone,
            show_email: p.show_email,
            show_birthday: p.show_birthday,
            show_follows: p.show_follows,
        }
    }
}

impl From<PrivacyView> for Privacy {
    fn from(p: PrivacyView) -> Self {
        Self {
            show_phone: p.show_phone,
            show_email: p.show_email,
            show_birthday: p.show_birthday,
            show_follows: p.show_follows,
        }
    }
}

/// One event of an account's history.
#[derive(Debug, Clone, Object)]
pub struct EventView {
    /// Event id.
    pub id: Uuid,
    /// Event type, e.g. `SessionStarted`, `PasswordChanged`.
    #[oai(rename = "type")]
    pub event_type: String,
    /// Kind of stream: `account`, `address_book` or `follow_graph`.
    pub stream_type: String,
    /// Version within its stream, from 1.
    pub version: i64,
    /// Position in the whole log.
    pub position: i64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The event's data, as in `openapi/events/`, with its sealed secrets left out: password
    /// hashes (`password`), TOTP secrets (`secret`) and recovery-code hashes (`codes`).
    pub data: serde_json::Value,
    /// The signed-in account that caused it, when not the account itself signing up or in.
    #[oai(skip_serializing_if_is_none)]
    pub actor: Option<Uuid>,
    /// Client address of the request.
    #[oai(skip_serializing_if_is_none)]
    pub ip: Option<String>,
    /// Client user agent of the request.
    #[oai(skip_serializing_if_is_none)]
    pub user_agent: Option<String>,
    /// The request's id (`X-Request-Id`).
    #[oai(skip_serializing_if_is_none)]
    pub request_id: Option<String>,
}

impl EventView {
    /// The view of one of `account`'s own events for the account itself: without secrets, and
    /// without the client address and user agent of another account that acted on it (an
    /// administrator's are theirs, not the account's).
    pub fn of_own(event: &RecordedEvent, account: Uuid) -> Self {
        let mut view = Self::of(event);
        if view.actor.is_some_and(|actor| actor != account) {
            view.ip = None;
            view.user_agent = None;
        }
        view
    }

    /// The view of a recorded event, without secrets.
    pub fn of(event: &RecordedEvent) -> Self {
        let mut data = event.data.clone();
        if let Some(object) = data.as_object_mut() {
            for secret in ["password", "secret", "codes"] {
                object.remove(secret);
            }
        }
        let text = |key: &str| {
            event
                .metadata
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        Self {
            id: event.event_id,
            event_type: event.event_type.clone(),
            stream_type: event.stream_type.clone(),
            version: event.version,
            position: event.position,
            recorded_at: event.recorded_at,
            data,
            actor: text("actor").and_then(|actor| actor.parse().ok()),
            ip: text("ip"),
            user_agent: text("user_agent"),
            request_id: text("request_id"),
        }
    }
}

/// A page of history, newest first.
#[derive(Debug, Clone, Object)]
pub struct EventPage {
    /// The events.
    pub events: Vec<EventView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_before: Option<i64>,
}

/// The answer to a command that returns no body.
#[derive(ApiResponse)]
pub enum Done {
    /// Done.
    #[oai(status = 204)]
    NoContent(
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// The `types` filter of a log query, `None` for every type; a name that is no event type
/// (`crate::events::event_type_names`) is refused, 400 `invalid_request` naming it, rather than
/// matching nothing.
pub fn event_types(types: Vec<String>) -> Result<Option<Vec<String>>, ApiError> {
    let known = crate::events::event_type_names();
    let unknown: Vec<FieldError> = types
        .iter()
        .filter(|name| !known.contains(name.as_str()))
        .map(|name| FieldError {
            field: "types".to_owned(),
            code: FieldCode::UnknownEventType.as_str(),
            message: format!("`{}` is not an event type", name.escape_debug()),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::new(ProblemCode::InvalidRequest).naming(unknown));
    }
    Ok((!types.is_empty()).then_some(types))
}

/// `instant` when RFC 3339 can write it (a four-digit year, 0000 to 9999, well inside what
/// PostgreSQL's `timestamptz` holds); otherwise 400 `invalid_request` naming the query
/// parameter `field` (chrono reads `-9999-01-01T00:00:00Z` too).
pub fn rfc3339_instant(
    field: &str,
    instant: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    use chrono::Datelike as _;
    match instant {
        Some(at) if !(0..=9999).contains(&at.year()) => Err(ApiError::bad_parameter(
            field,
            FieldCode::WrongType,
            format!("`{field}` must be an RFC 3339 instant, years 0000 to 9999"),
        )),
        instant => Ok(instant),
    }
}
