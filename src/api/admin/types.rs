//! The bodies, pages and answers of the administration operations.

use crate::api::me::UpdateMeRequest;
use crate::api::problem::{ApiError, FieldCode};
use crate::api::views::{AccountView, EventView, RoleView};
use crate::domain::account::Account;
use crate::service::executor::Committed;
use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};
use uuid::Uuid;

/// Changes to an account: profile fields, username, and email.
#[derive(Debug, Object)]
pub struct AdminUserPatch {
    /// Profile fields and username, as for `PATCH /v1/me`.
    #[oai(flatten)]
    pub profile: UpdateMeRequest,
    /// A new email address (unique; counts as verified).
    #[oai(validator(max_length = 320))]
    pub email: Option<String>,
}

/// A role to give.
#[derive(Debug, Object)]
pub struct RoleRequest {
    /// `user`, `admin` or `owner`.
    pub role: RoleView,
}

/// Featured or not.
#[derive(Debug, Object)]
pub struct FeaturedRequest {
    /// Featured on listings.
    pub featured: bool,
}

/// A page of the log.
#[derive(Debug, Object)]
pub struct LogPage {
    /// The events, in position order.
    pub events: Vec<EventView>,
    /// Pass as `after` for the next page; absent when this page is the end of the log so far.
    #[oai(skip_serializing_if_is_none)]
    pub next_after: Option<i64>,
}

/// An account in an admin listing: every field unless `fields` names some.
#[derive(Debug, Clone, Default, Object)]
pub struct AdminUserItem {
    /// Account id.
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<Uuid>,
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
    #[oai(skip_serializing_if_is_none)]
    pub email_verified: Option<bool>,
    /// Phone number.
    #[oai(skip_serializing_if_is_none)]
    pub phone: Option<String>,
    /// Avatar URL.
    #[oai(skip_serializing_if_is_none)]
    pub avatar_url: Option<String>,
    /// The role.
    #[oai(skip_serializing_if_is_none)]
    pub role: Option<RoleView>,
    /// `active` or `blocked`.
    #[oai(skip_serializing_if_is_none)]
    pub status: Option<String>,
    /// Featured.
    #[oai(skip_serializing_if_is_none)]
    pub featured: Option<bool>,
    /// Has a second factor (TOTP).
    #[oai(skip_serializing_if_is_none)]
    pub mfa_enabled: Option<bool>,
    /// Created.
    #[oai(skip_serializing_if_is_none)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last changed.
    #[oai(skip_serializing_if_is_none)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The fields `fields` may name.
pub(super) const LISTABLE: &[&str] = &[
    "id",
    "username",
    "display_name",
    "email",
    "email_verified",
    "phone",
    "avatar_url",
    "role",
    "status",
    "featured",
    "mfa_enabled",
    "created_at",
    "updated_at",
];

impl AdminUserItem {
    pub(super) fn of(row: crate::store::users::UserRow, fields: &[String]) -> Self {
        let wanted = |name: &str| fields.is_empty() || fields.iter().any(|f| f == name);
        Self {
            id: wanted("id").then_some(row.id),
            username: row.username.filter(|_| wanted("username")),
            display_name: row.display_name.filter(|_| wanted("display_name")),
            email: row.email.filter(|_| wanted("email")),
            email_verified: wanted("email_verified").then_some(row.email_verified),
            phone: row.phone.filter(|_| wanted("phone")),
            avatar_url: row.profile.avatar_url.filter(|_| wanted("avatar_url")),
            role: wanted("role").then_some(row.role.into()),
            status: wanted("status").then_some(row.status),
            featured: wanted("featured").then_some(row.featured),
            mfa_enabled: wanted("mfa_enabled").then_some(row.mfa_enabled),
            created_at: wanted("created_at").then_some(row.created_at),
            updated_at: wanted("updated_at").then_some(row.updated_at),
        }
    }
}

/// A page of accounts.
#[derive(Debug, Object)]
pub struct AdminUserPage {
    /// The accounts on this page.
    pub items: Vec<AdminUserItem>,
    /// This page, from 1.
    pub page: i64,
    /// Accounts per page.
    pub per_page: i64,
    /// All accounts that match, when `include_total` is asked.
    #[oai(skip_serializing_if_is_none)]
    pub total: Option<i64>,
}

/// The order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
pub enum OrderBy {
    /// Oldest first.
    #[oai(rename = "created_at")]
    CreatedAt,
    /// Newest first.
    #[oai(rename = "-created_at")]
    CreatedAtDesc,
    /// Least recently changed first.
    #[oai(rename = "updated_at")]
    UpdatedAt,
    /// Most recently changed first.
    #[oai(rename = "-updated_at")]
    UpdatedAtDesc,
    /// By display name.
    #[oai(rename = "display_name")]
    DisplayName,
    /// By display name, descending.
    #[oai(rename = "-display_name")]
    DisplayNameDesc,
}

pub(super) fn default_order() -> OrderBy {
    OrderBy::CreatedAtDesc
}

pub(super) fn first_page() -> i64 {
    1
}

pub(super) fn default_per_page() -> i64 {
    15
}

#[derive(ApiResponse)]
pub(super) enum Changed {
    /// The account after the change.
    #[oai(status = 200)]
    Ok(
        Json<AccountView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

impl Changed {
    /// Account `id` as a command left it.
    pub(super) fn of(id: Uuid, committed: &Committed<Account>) -> Self {
        Self::Ok(
            Json(AccountView::of(id, &committed.state)),
            committed.position,
        )
    }
}

pub(super) fn default_limit() -> i64 {
    50
}

/// The `fields` an item keeps, from a comma-separated list (`400 invalid_request` naming `fields`,
/// `unknown_field`, for a field not in `LISTABLE`).
pub(super) fn listed_fields(list: Option<&str>) -> Result<Vec<String>, ApiError> {
    let fields: Vec<String> = list
        .map(|list| {
            list.split(',')
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(unknown) = fields.iter().find(|f| !LISTABLE.contains(&f.as_str())) {
        return Err(ApiError::bad_parameter(
            "fields",
            FieldCode::UnknownField,
            format!(
                "`{}` is not a field; fields are {}",
                unknown.escape_debug(),
                LISTABLE.join(", ")
            ),
        ));
    }
    Ok(fields)
}

/// Account ids from a comma-separated list (`400 invalid_request` for one that is not a UUID).
pub(super) fn id_list(list: &str) -> Result<Vec<Uuid>, ApiError> {
    list.split(',')
        .map(Uuid::parse_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            ApiError::bad_parameter(
                "ids",
                FieldCode::WrongType,
                format!("`ids` must be comma-separated UUIDs: {error}"),
            )
        })
}

impl From<OrderBy> for crate::store::users::AdminOrder {
    fn from(order: OrderBy) -> Self {
        match order {
            OrderBy::CreatedAt => Self::CreatedAt { descending: false },
            OrderBy::CreatedAtDesc => Self::CreatedAt { descending: true },
            OrderBy::UpdatedAt => Self::UpdatedAt { descending: false },
            OrderBy::UpdatedAtDesc => Self::UpdatedAt { descending: true },
            OrderBy::DisplayName => Self::DisplayName { descending: false },
            OrderBy::DisplayNameDesc => Self::DisplayName { descending: true },
        }
    }
}
