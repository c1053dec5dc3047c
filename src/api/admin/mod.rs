//! `/v1/admin`: roles, actions on accounts, and the audit trail. Administrators and owners
//! only (`403 forbidden` otherwise); role changes are for owners.

mod types;

use super::ApiTags;
use super::auth::SignedIn;
use super::me::parse_profile_changes;
use super::problem::{ApiError, Problems, statuses::*};
use super::views::{AccountView, Done, EventPage, EventView, RoleView};
use crate::domain::account::Role;
use crate::domain::values::Email;
use crate::service;
use crate::service::admin::AccountEdit;
use crate::service::executor::CommandMetadata;
use crate::service::{Context, FieldError};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use types::*;
use uuid::Uuid;

/// Administration.
pub struct AdminApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// List accounts
    ///
    /// From the `users` read model. `q` matches the start of the display name, username, email
    /// or phone (any case), or an exact id; the other filters combine with it. `fields` keeps
    /// only the named fields in each item (an unknown one is `400 unknown_field`).
    #[oai(
        path = "/v1/admin/users",
        method = "get",
        operation_id = "adminListUsers"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list_users(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Search text.
        #[oai(validator(max_length = 200, pattern = r"^[^\x00]*$"))]
        q: Query<Option<String>>,
        /// Account ids (UUIDs), comma-separated: 1 to 100.
        #[oai(validator(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}){0,99}$"
        ))]
        ids: Query<Option<String>>,
        /// Exactly this email address.
        #[oai(validator(max_length = 320, pattern = r"^[^\x00]*$"))]
        email: Query<Option<String>>,
        /// Verified email or not.
        email_verified: Query<Option<bool>>,
        /// Blocked or not.
        blocked: Query<Option<bool>>,
        /// Featured or not.
        featured: Query<Option<bool>>,
        /// With a second factor (TOTP) or without.
        mfa_enabled: Query<Option<bool>>,
        /// This role.
        role: Query<Option<RoleView>>,
        /// Created at or after (RFC 3339).
        created_from: Query<Option<DateTime<Utc>>>,
        /// Created before (RFC 3339).
        created_before: Query<Option<DateTime<Utc>>>,
        /// Order: `created_at`, `updated_at`, `display_name`, each descending with `-`.
        #[oai(default = "default_order")]
        order_by: Query<OrderBy>,
        /// Page, from 1.
        #[oai(
            default = "first_page",
            validator(minimum(value = "1"), maximum(value = "100000"))
        )]
        page: Query<i64>,
        /// Accounts per page: 1 to 100.
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<i64>,
        /// Count all matching accounts too.
        #[oai(default)]
        include_total: Query<bool>,
        /// Only these fields in each item, comma-separated.
        #[oai(validator(max_length = 300, pattern = r"^[^\x00]*$"))]
        fields: Query<Option<String>>,
        /// Wait until the read model has applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<AdminUserPage>, Problems<{ SIGNED_IN | FORBIDDEN }>> {
        let fields = listed_fields(fields.0.as_deref())?;
        let ids = ids.0.as_deref().map(id_list).transpose()?;
        let filter = crate::store::users::AdminFilter {
            q: q.0,
            ids,
            // An address in any spelling finds the account that holds it.
            email: email
                .0
                .map(|raw| Email::parse(&raw).map_or(raw, |email| email.as_str().to_owned())),
            email_verified: email_verified.0,
            blocked: blocked.0,
            featured: featured.0,
            mfa_enabled: mfa_enabled.0,
            role: role.0.map(Role::from),
            created_from: super::views::rfc3339_instant("created_from", created_from.0)?,
            created_before: super::views::rfc3339_instant("created_before", created_before.0)?,
        };
        let order = crate::store::users::AdminOrder::from(order_by.0);
        let (rows, total) = service::admin::admin_list(
            &ctx,
            caller.0,
            &filter,
            order,
            (page.0, per_page.0),
            include_total.0,
            min_position.0,
        )
        .await?;
        Ok(Json(AdminUserPage {
            items: rows
                .into_iter()
                .map(|row| AdminUserItem::of(row, &fields))
                .collect(),
            page: page.0,
            per_page: per_page.0,
            total,
        }))
    }

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
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        /// An instant (RFC 3339).
        as_of: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<AccountView>, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND }>> {
        let as_of = super::views::rfc3339_instant("as_of", as_of.0)?;
        let account = service::admin::admin_account(&ctx, caller.0, id.0, as_of).await?;
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
        ctx: Data<&Context>,
        metadata: CommandMetadata,
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
        let (changes, username) = parse_profile_changes(body.profile, ctx.now().date_naive())
            .map_err(ApiError::validation)?;
        let edit = AccountEdit {
            changes,
            username,
            email,
        };
        let committed = service::admin::edit_account(&ctx, caller.0, id.0, edit, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
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
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        body: Json<RoleRequest>,
    ) -> Result<Changed, Problems<{ SIGNED_IN_BODY | FORBIDDEN | NOT_FOUND }>> {
        let role = Role::from(body.role);
        let committed = service::admin::set_role(&ctx, caller.0, id.0, role, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
    }

    /// Block an account
    ///
    /// Every session ends at once; sign-in answers `403 account_blocked`. Admins block users;
    /// owners block admins and other owners too (`403 forbidden` otherwise). Nobody blocks
    /// their own account (`409 cannot_block_self`).
    #[oai(
        path = "/v1/admin/users/:id/block",
        method = "post",
        operation_id = "adminBlockUser"
    )]
    async fn block(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Changed, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed = service::admin::block(&ctx, caller.0, id.0, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
    }

    /// Unblock an account
    #[oai(
        path = "/v1/admin/users/:id/unblock",
        method = "post",
        operation_id = "adminUnblockUser"
    )]
    async fn unblock(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Changed, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed = service::admin::unblock(&ctx, caller.0, id.0, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
    }

    /// Feature an account, or stop
    #[oai(
        path = "/v1/admin/users/:id/featured",
        method = "put",
        operation_id = "adminSetFeatured"
    )]
    async fn set_featured(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
        body: Json<FeaturedRequest>,
    ) -> Result<Changed, Problems<{ SIGNED_IN_BODY | FORBIDDEN | NOT_FOUND }>> {
        let featured = body.featured;
        let committed =
            service::admin::set_featured(&ctx, caller.0, id.0, featured, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
    }

    /// Remove an account's second factors
    ///
    /// For an owner who lost their authenticator and recovery codes: TOTP and the recovery
    /// codes go, and sign-in needs the first factor only until the owner enrols again. The
    /// event (`SecondFactorsReset`) names the administrator; the owner is mailed.
    #[oai(
        path = "/v1/admin/users/:id/mfa",
        method = "delete",
        operation_id = "adminResetMfa"
    )]
    async fn reset_mfa(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Changed, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed =
            service::admin::reset_second_factors(&ctx, caller.0, id.0, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
    }

    /// Restore a deleted account
    ///
    /// Within the grace period after its deletion (`ACCOUNTS_ERASURE_GRACE_DAYS`): the account
    /// is active again with its identifiers, profile, addresses and follows; no session comes
    /// back (its owner signs in again). `409 email_taken`, `username_taken` or `phone_taken`
    /// when another account took one of its identifiers meanwhile; `409 account_not_deleted`
    /// for an account that is not deleted; `410 account_erased` once its personal data is
    /// erased. Recorded as `AccountRestored`, naming the administrator.
    #[oai(
        path = "/v1/admin/users/:id/restore",
        method = "post",
        operation_id = "adminRestoreUser"
    )]
    async fn restore_user(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<
        Changed,
        Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | GONE | UNPROCESSABLE }>,
    > {
        let committed = service::admin::restore_account(&ctx, caller.0, id.0, &metadata).await?;
        Ok(Changed::of(id.0, &committed))
    }

    /// Delete an account
    ///
    /// As self-deletion: sessions end, identifiers become free, the history stays; an
    /// administrator may restore it until the grace period ends (`ACCOUNTS_ERASURE_GRACE_DAYS`,
    /// 30 days by default), when its personal data is erased. The last owner cannot be deleted
    /// (`409 last_owner`).
    #[oai(
        path = "/v1/admin/users/:id",
        method = "delete",
        operation_id = "adminDeleteUser"
    )]
    async fn delete_user(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>>
    {
        let committed = service::admin::delete_account(&ctx, caller.0, id.0, &metadata).await?;
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
        ctx: Data<&Context>,
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
        let (events, next_before) =
            service::audit::admin_history(&ctx, caller.0, id.0, before.0, limit.0).await?;
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
        ctx: Data<&Context>,
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
        /// Only these event types: a comma-separated list (`types=A,B`), or the parameter
        /// repeated (`types=A&types=B`). A name that is no event type is 400
        /// `unknown_event_type`.
        #[oai(default, explode = false, validator(max_items = 50))]
        types: Query<Vec<String>>,
    ) -> Result<Json<LogPage>, Problems<{ SIGNED_IN | FORBIDDEN }>> {
        let types = super::views::event_types(types.0)?;
        let events =
            service::audit::admin_log(&ctx, caller.0, after.0, types.as_deref(), limit.0).await?;
        let next_after = (events.len() as i64 == limit.0)
            .then(|| events.last().map(|e| e.position))
            .flatten();
        Ok(Json(LogPage {
            events: events.iter().map(EventView::of).collect(),
            next_after,
        }))
    }
}
