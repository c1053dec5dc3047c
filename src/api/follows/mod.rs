//! Follows: `/v1/me/following`, `/v1/me/follow-groups`, and `/v1/users/{id}/followers` and
//! `/following`.

pub(super) mod types;

use super::ApiTags;
use super::auth::{SignedIn, Viewer};
use super::problem::{Problems, statuses::*};
use super::views::Done;
use crate::service;
use crate::service::Context;
use crate::service::executor::CommandMetadata;
use crate::store::follows::Side;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use types::*;
use uuid::Uuid;

/// Follows.
pub struct FollowsApi;

#[OpenApi(tag = "ApiTags::Follows")]
impl FollowsApi {
    /// Whom I follow
    ///
    /// By group. Accounts deleted since are gone from it.
    #[oai(
        path = "/v1/me/following",
        method = "get",
        operation_id = "listMyFollowing"
    )]
    async fn my_following(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Wait until the read model has applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<FollowingView>, Problems<{ SIGNED_IN }>> {
        let (names, follows) =
            service::follows::my_following(&ctx, caller.0, min_position.0).await?;
        let groups = names
            .into_iter()
            .map(|name| FollowGroupView {
                followees: follows
                    .iter()
                    .filter(|f| f.group == name)
                    .map(|f| FollowView {
                        user_id: f.user_id,
                        followed_at: f.followed_at,
                    })
                    .collect(),
                name,
            })
            .collect();
        Ok(Json(FollowingView { groups }))
    }

    /// Follow a user
    ///
    /// Into a group (`default` when none); following again into another group moves them.
    /// `422 cannot_follow_self`, `404 user_not_found` (unknown or deleted), `404
    /// group_not_found`.
    #[oai(
        path = "/v1/me/following/:user_id",
        method = "put",
        operation_id = "follow"
    )]
    async fn follow(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// The user to follow.
        user_id: Path<Uuid>,
        body: Json<FollowRequest>,
    ) -> Result<Followed, Problems<{ SIGNED_IN_BODY | NOT_FOUND }>> {
        let committed =
            service::follows::follow(&ctx, caller.0, user_id.0, body.0.group, &metadata).await?;
        let follow = committed.state.follows.get(&user_id.0);
        Ok(Followed::Ok(
            Json(FollowGroupView {
                name: follow.map(|f| f.group.clone()).unwrap_or_default(),
                followees: follow
                    .map(|f| FollowView {
                        user_id: user_id.0,
                        followed_at: f.since,
                    })
                    .into_iter()
                    .collect(),
            }),
            committed.position,
        ))
    }

    /// Unfollow a user
    #[oai(
        path = "/v1/me/following/:user_id",
        method = "delete",
        operation_id = "unfollow"
    )]
    async fn unfollow(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// The user to unfollow.
        user_id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | CONFLICT | NOT_FOUND | UNPROCESSABLE }>> {
        let committed = service::follows::unfollow(&ctx, caller.0, user_id.0, &metadata).await?;
        Ok(Done::NoContent(committed.position))
    }

    /// Make a follow group
    ///
    /// `409 group_exists`; at most 20 (`409 group_limit_reached`).
    #[oai(
        path = "/v1/me/follow-groups",
        method = "post",
        operation_id = "createFollowGroup"
    )]
    async fn create_group(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<NewFollowGroup>,
    ) -> Result<GroupCreated, Problems<SIGNED_IN_BODY>> {
        let committed =
            service::follows::create_group(&ctx, caller.0, &body.name, &metadata).await?;
        Ok(GroupCreated::Created(
            Json(FollowGroupsView {
                groups: committed.state.group_names(),
            }),
            committed.position,
        ))
    }

    /// Delete a follow group
    ///
    /// And the follows in it. `default` and `special` cannot be deleted (`409
    /// group_undeletable`).
    #[oai(
        path = "/v1/me/follow-groups/:name",
        method = "delete",
        operation_id = "deleteFollowGroup"
    )]
    async fn delete_group(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// The group's name.
        name: Path<String>,
    ) -> Result<Done, Problems<{ SIGNED_IN | CONFLICT | NOT_FOUND | UNPROCESSABLE }>> {
        let committed = service::follows::delete_group(&ctx, caller.0, &name.0, &metadata).await?;
        Ok(Done::NoContent(committed.position))
    }

    /// A user's followers
    ///
    /// Newest first, paged. `403 follows_hidden` when the user hides their follows (they see
    /// their own).
    #[oai(
        path = "/v1/users/:id/followers",
        method = "get",
        operation_id = "listFollowers"
    )]
    async fn followers(
        &self,
        ctx: Data<&Context>,
        viewer: Viewer,
        /// The user.
        id: Path<Uuid>,
        /// Page, from 1.
        #[oai(
            default = "first_page",
            validator(minimum(value = "1"), maximum(value = "100000"))
        )]
        page: Query<i64>,
        /// Follows per page: 1 to 100.
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<i64>,
        /// Wait until the read models have applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<FollowPageView>, Problems<{ BAD_REQUEST | FORBIDDEN | NOT_FOUND | UNAVAILABLE }>>
    {
        page_of(
            &ctx,
            viewer.0,
            id.0,
            Side::Followers,
            page.0,
            per_page.0,
            min_position.0,
        )
        .await
    }

    /// Whom a user follows
    ///
    /// Newest first, paged. `403 follows_hidden` when the user hides their follows.
    #[oai(
        path = "/v1/users/:id/following",
        method = "get",
        operation_id = "listFollowing"
    )]
    async fn following(
        &self,
        ctx: Data<&Context>,
        viewer: Viewer,
        /// The user.
        id: Path<Uuid>,
        /// Page, from 1.
        #[oai(
            default = "first_page",
            validator(minimum(value = "1"), maximum(value = "100000"))
        )]
        page: Query<i64>,
        /// Follows per page: 1 to 100.
        #[oai(
            default = "default_per_page",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        per_page: Query<i64>,
        /// Wait until the read models have applied the log up to this position.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<FollowPageView>, Problems<{ BAD_REQUEST | FORBIDDEN | NOT_FOUND | UNAVAILABLE }>>
    {
        page_of(
            &ctx,
            viewer.0,
            id.0,
            Side::Following,
            page.0,
            per_page.0,
            min_position.0,
        )
        .await
    }
}

async fn page_of<const S: u64>(
    ctx: &Context,
    viewer: Option<Uuid>,
    user: Uuid,
    side: Side,
    page: i64,
    per_page: i64,
    min_position: Option<i64>,
) -> Result<Json<FollowPageView>, Problems<S>> {
    let found =
        service::follows::follow_page(ctx, viewer, user, side, page, per_page, min_position)
            .await?;
    Ok(Json(FollowPageView {
        items: found
            .follows
            .into_iter()
            .map(|f| FollowView {
                user_id: f.user_id,
                followed_at: f.followed_at,
            })
            .collect(),
        page,
        per_page,
        total: found.total,
    }))
}
