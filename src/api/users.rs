//! `/v1/users`: public profiles, from the `users` read model.

use super::ApiTags;
use super::problem::{ApiError, FieldCode, Problems, statuses::*};
use super::views::ProfileView;
use crate::service;
use crate::service::Context;
use crate::service::users::{MAX_USERS_PER_REQUEST, PublicProfile};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

/// What anyone may see of a user: the user's privacy settings decide whether the (masked)
/// email and phone and the birthday are shown.
#[derive(Debug, Clone, Object)]
pub struct UserView {
    /// Account id.
    pub id: Uuid,
    /// Username.
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// Display name.
    #[oai(skip_serializing_if_is_none)]
    pub display_name: Option<String>,
    /// Masked email (`1****1@qq.com`), when the user shows it.
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Masked phone (`+86138****8000`), when the user shows it.
    #[oai(skip_serializing_if_is_none)]
    pub phone: Option<String>,
    /// What the user tells about themselves.
    #[oai(flatten)]
    pub profile: ProfileView,
    /// Featured by an administrator.
    pub featured: bool,
    /// Whether the user's follows and followers are visible to others.
    pub follows_visible: bool,
    /// How many follow the user.
    pub followers_count: i64,
    /// How many the user follows.
    pub following_count: i64,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl From<PublicProfile> for UserView {
    fn from(profile: PublicProfile) -> Self {
        Self {
            id: profile.id,
            username: profile.username,
            display_name: profile.display_name,
            email: profile.email,
            phone: profile.phone,
            profile: profile.profile.into(),
            featured: profile.featured,
            follows_visible: profile.follows_visible,
            followers_count: profile.followers_count,
            following_count: profile.following_count,
            created_at: profile.created_at,
        }
    }
}

/// The answer to a username lookup.
#[derive(Debug, Clone, Object)]
pub struct UserIdView {
    /// Account id.
    pub id: Uuid,
}

/// Public profiles.
pub struct UsersApi;

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// Get a user's public profile
    ///
    /// Privacy applied: email and phone are masked and shown only if the user shows them; the
    /// birthday likewise. `min_position` (a command's `Accounts-Position`) waits until this
    /// read model includes that change, or answers `503 read_model_behind`.
    #[oai(path = "/v1/users/:id", method = "get", operation_id = "getUser")]
    async fn get_user(
        &self,
        ctx: Data<&Context>,
        /// Account id.
        id: Path<Uuid>,
        /// Wait until the read model has applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<UserView>, Problems<{ BAD_REQUEST | NOT_FOUND | UNAVAILABLE }>> {
        let profile = service::users::public_profile(&ctx, id.0, min_position.0).await?;
        Ok(Json(profile.into()))
    }

    /// Get several public profiles
    ///
    /// By `ids` (comma-separated, at most 100; unknown ids are left out, the rest keep the
    /// order asked), optionally only featured ones; or, without `ids`, the featured users
    /// (`featured=true`, newest first, at most 100). Neither gives an empty list.
    #[oai(path = "/v1/users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        ctx: Data<&Context>,
        /// Account ids (UUIDs), comma-separated: 1 to 100.
        #[oai(validator(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}){0,99}$"
        ))]
        ids: Query<Option<String>>,
        /// Only featured (`true`) or only not featured (`false`) users.
        featured: Query<Option<bool>>,
        /// Wait until the read model has applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Vec<UserView>>, Problems<{ BAD_REQUEST | UNAVAILABLE }>> {
        let ids: Vec<Uuid> = match ids.0.as_deref() {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(Uuid::parse_str)
                .collect::<Result<_, _>>()
                .map_err(|error| {
                    ApiError::bad_parameter(
                        "ids",
                        FieldCode::WrongType,
                        format!("`ids` must be comma-separated UUIDs: {error}"),
                    )
                })?,
        };
        debug_assert!(ids.len() <= MAX_USERS_PER_REQUEST);
        let profiles =
            service::users::public_profiles(&ctx, &ids, featured.0, min_position.0).await?;
        Ok(Json(profiles.into_iter().map(Into::into).collect()))
    }

    /// Find a user by username
    ///
    /// Compared without regard to case. `404 user_not_found` when no user has it.
    #[oai(path = "/v1/users/lookup", method = "get", operation_id = "lookupUser")]
    async fn lookup_user(
        &self,
        ctx: Data<&Context>,
        /// The username.
        #[oai(validator(min_length = 1, max_length = 64, pattern = r"^[^\x00]*$"))]
        username: Query<String>,
        /// Wait until the read model has applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<UserIdView>, Problems<{ BAD_REQUEST | NOT_FOUND | UNAVAILABLE }>> {
        let id = service::users::user_id_by_username(&ctx, &username.0, min_position.0).await?;
        Ok(Json(UserIdView { id }))
    }
}
