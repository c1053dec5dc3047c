//! `/v1/admin`: roles, actions on accounts, and the audit trail. Administrators and owners
//! only (`403 forbidden` otherwise); role changes are for owners.

use super::ApiTags;
use super::auth::SignedIn;
use super::edge::{IdempotencyKey, command_metadata};
use super::me::{UpdateMeRequest, parse_profile_changes};
use super::problem::{ApiError, Problems, statuses::*};
use super::views::{AccountView, Done, EventPage, EventView, RoleView};
use crate::domain::account::{AccountCommand, Role};
use crate::domain::values::Email;
use crate::service::{FieldError, Services};
use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
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

#[derive(ApiResponse)]
enum Changed {
    /// The account after the change.
    #[oai(status = 200)]
    Ok(
        Json<AccountView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

fn default_limit() -> i64 {
    50
}

/// Administration.
pub struct AdminApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// Get an account
    ///
    /// The whole account. With `as_of`, as it was at that instant, by replaying its stream up
    /// to then (`404` if it did not exist yet or was deleted).
    #[oai(
        path = "/v1/admin/users/:id",
        method = "get",
        operation_id = "adminGetUser"
    )]
    async fn get_user(
        &self,
        services: Data<&Services>,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        /// An instant (RFC 3339).
        as_of: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<AccountView>, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND }>> {
        let account = services.admin_account(caller.0, id.0, as_of.0).await?;
        Ok(Json(AccountView::of(id.0, &account)))
    }

    /// Edit an account
    ///
    /// Profile fields, username and email; uniqueness holds (`409`).
    #[oai(
        path = "/v1/admin/users/:id",
        method = "patch",
        operation_id = "adminUpdateUser"
    )]
    async fn update_user(
        &self,
        services: Data<&Services>,
        req: &Request,
        /// Makes a retry safe: the same key with the same request replays the first answer;
        /// with another request it is `422 idempotency_key_reused`. Kept 24 hours per caller.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: IdempotencyKey,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        body: Json<AdminUserPatch>,
    ) -> Result<Changed, Problems<{ SIGNED_IN_BODY | FORBIDDEN | NOT_FOUND }>> {
        let body = body.0;
        let email = match body.email.as_deref().map(Email::parse).transpose() {
            Ok(email) => email,
            Err(invalid) => {
                return Err(ApiError::validation(vec![FieldError::new("email", invalid)]).into());
            }
        };
        let (changes, username) =
            parse_profile_changes(body.profile).map_err(ApiError::validation)?;
        let metadata = command_metadata(req);
        let mut committed = None;
        if !changes.is_empty() || username.is_some() {
            committed = Some(
                services
                    .admin_command(caller.0, id.0, false, &metadata, |_| {
                        AccountCommand::UpdateProfile {
                            changes: changes.clone(),
                            username: username.clone(),
                            now: Utc::now(),
                        }
                    })
                    .await?,
            );
        }
        if let Some(email) = email {
            committed = Some(
                services
                    .admin_command(caller.0, id.0, false, &metadata, |_| {
                        AccountCommand::ChangeEmail {
                            email: email.clone(),
                            now: Utc::now(),
                        }
                    })
                    .await?,
            );
        }
        let committed = match committed {
            Some(committed) => committed,
            None => {
                // Nothing to change: answer the account as it is.
                let account = services.admin_account(caller.0, id.0, None).await?;
                return Ok(Changed::Ok(
                    Json(AccountView::of(id.0, &account)),
                    services.account(id.0).await?.position.unwrap_or(0),
                ));
            }
        };
        Ok(Changed::Ok(
            Json(AccountView::of(id.0, &committed.state)),
            committed.position,
        ))
    }

    /// Change an account's role
    ///
    /// Owners only. The last owner cannot be demoted (`409 last_owner`).
    #[oai(
        path = "/v1/admin/users/:id/role",
        method = "put",
        operation_id = "adminSetRole"
    )]
    async fn set_role(
        &self,
        services: Data<&Services>,
        req: &Request,
        /// Makes a retry safe: the same key with the same request replays the first answer;
        /// with another request it is `422 idempotency_key_reused`. Kept 24 hours per caller.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: IdempotencyKey,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        body: Json<RoleRequest>,
    ) -> Result<Changed, Problems<{ SIGNED_IN_BODY | FORBIDDEN | NOT_FOUND }>> {
        let role = match body.role {
            RoleView::User => Role::User,
            RoleView::Admin => Role::Admin,
            RoleView::Owner => Role::Owner,
        };
        let committed = services
            .admin_command(caller.0, id.0, true, &command_metadata(req), |_| {
                AccountCommand::ChangeRole {
                    role,
                    now: Utc::now(),
                }
            })
            .await?;
        Ok(Changed::Ok(
            Json(AccountView::of(id.0, &committed.state)),
            committed.position,
        ))
    }

    /// Block an account
    ///
    /// Every session ends at once; sign-in answers `403 account_blocked`.
    #[oai(
        path = "/v1/admin/users/:id/block",
        method = "post",
        operation_id = "adminBlockUser"
    )]
    async fn block(
        &self,
        services: Data<&Services>,
        req: &Request,
        /// Makes a retry safe: the same key with the same request replays the first answer;
        /// with another request it is `422 idempotency_key_reused`. Kept 24 hours per caller.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: IdempotencyKey,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Changed, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed = services
            .admin_command(caller.0, id.0, false, &command_metadata(req), |_| {
                AccountCommand::Block { now: Utc::now() }
            })
            .await?;
        Ok(Changed::Ok(
            Json(AccountView::of(id.0, &committed.state)),
            committed.position,
        ))
    }

    /// Unblock an account
    #[oai(
        path = "/v1/admin/users/:id/unblock",
        method = "post",
        operation_id = "adminUnblockUser"
    )]
    async fn unblock(
        &self,
        services: Data<&Services>,
        req: &Request,
        /// Makes a retry safe: the same key with the same request replays the first answer;
        /// with another request it is `422 idempotency_key_reused`. Kept 24 hours per caller.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: IdempotencyKey,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Changed, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed = services
            .admin_command(caller.0, id.0, false, &command_metadata(req), |_| {
                AccountCommand::Unblock { now: Utc::now() }
            })
            .await?;
        Ok(Changed::Ok(
            Json(AccountView::of(id.0, &committed.state)),
            committed.position,
        ))
    }

    /// Feature an account, or stop
    #[oai(
        path = "/v1/admin/users/:id/featured",
        method = "put",
        operation_id = "adminSetFeatured"
    )]
    async fn set_featured(
        &self,
        services: Data<&Services>,
        req: &Request,
        /// Makes a retry safe: the same key with the same request replays the first answer;
        /// with another request it is `422 idempotency_key_reused`. Kept 24 hours per caller.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: IdempotencyKey,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        body: Json<FeaturedRequest>,
    ) -> Result<Changed, Problems<{ SIGNED_IN_BODY | FORBIDDEN | NOT_FOUND }>> {
        let featured = body.featured;
        let committed = services
            .admin_command(caller.0, id.0, false, &command_metadata(req), |_| {
                AccountCommand::SetFeatured {
                    featured,
                    now: Utc::now(),
                }
            })
            .await?;
        Ok(Changed::Ok(
            Json(AccountView::of(id.0, &committed.state)),
            committed.position,
        ))
    }

    /// Delete an account
    ///
    /// As self-deletion: sessions end, identifiers become free, the history stays. The last
    /// owner cannot be deleted (`409 last_owner`).
    #[oai(
        path = "/v1/admin/users/:id",
        method = "delete",
        operation_id = "adminDeleteUser"
    )]
    async fn delete_user(
        &self,
        services: Data<&Services>,
        req: &Request,
        /// Makes a retry safe: the same key with the same request replays the first answer;
        /// with another request it is `422 idempotency_key_reused`. Kept 24 hours per caller.
        #[oai(name = "Idempotency-Key", validator(min_length = 1, max_length = 255))]
        _idempotency_key: IdempotencyKey,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed = services
            .admin_command(caller.0, id.0, false, &command_metadata(req), |_| {
                AccountCommand::Delete {
                    proof: crate::domain::account::Proof::Administrator,
                    now: Utc::now(),
                }
            })
            .await?;
        Ok(Done::NoContent(committed.position))
    }

    /// An account's history
    ///
    /// The stream's events, newest first, paged like `GET /v1/me/events`.
    #[oai(
        path = "/v1/admin/users/:id/events",
        method = "get",
        operation_id = "adminUserEvents"
    )]
    async fn user_events(
        &self,
        services: Data<&Services>,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        /// Only events older than this version.
        #[oai(validator(minimum(value = "1")))]
        before: Query<Option<i64>>,
        /// Events per page: 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
    ) -> Result<Json<EventPage>, Problems<{ SIGNED_IN | FORBIDDEN }>> {
        services.require_role(caller.0, Role::Admin).await?;
        let (events, next_before) = services
            .account_history(id.0, before.0, None, limit.0)
            .await?;
        Ok(Json(EventPage {
            events: events.iter().map(EventView::of).collect(),
            next_before,
        }))
    }

    /// The log
    ///
    /// Every event after position `after`, in position order, optionally of some `types`
    /// (comma-separated).
    #[oai(
        path = "/v1/admin/events",
        method = "get",
        operation_id = "adminEvents"
    )]
    async fn events(
        &self,
        services: Data<&Services>,
        caller: SignedIn,
        /// Only events after this position.
        #[oai(default, validator(minimum(value = "0")))]
        after: Query<i64>,
        /// Events per page: 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Only these event types, comma-separated.
        #[oai(default, explode = false, validator(max_items = 50))]
        types: Query<Vec<String>>,
    ) -> Result<Json<LogPage>, Problems<{ SIGNED_IN | FORBIDDEN }>> {
        let types = (!types.0.is_empty()).then_some(types.0);
        let events = services
            .admin_log(caller.0, after.0, types.as_deref(), limit.0)
            .await?;
        let next_after = (events.len() as i64 == limit.0)
            .then(|| events.last().map(|e| e.position))
            .flatten();
        Ok(Json(LogPage {
            events: events.iter().map(EventView::of).collect(),
            next_after,
        }))
    }
}
