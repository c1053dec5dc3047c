//! Follows: the account's `follow_graph` stream for changes, the `follows` read model for lists.

use super::executor::{self, CommandMetadata, Committed, ExecuteError, Loaded};
use super::{Context, ServiceError};
use crate::domain::follow_graph::{self, FollowCommand, FollowGraph};
use crate::domain::values::{InvalidValue, Refusal};
use crate::store::follows::{self, FollowRow, Side};
use crate::store::sessions::ActiveSession;
use crate::store::users;
use uuid::Uuid;

/// The read model of follows.
const PROJECTION: &str = "follows";

/// A page of follows.
#[derive(Debug, Clone)]
pub struct FollowPage {
    /// The follows on the page.
    pub follows: Vec<FollowRow>,
    /// All of them.
    pub total: i64,
}

/// The caller's follow graph (groups).
pub(super) async fn follow_graph(
    ctx: &Context,
    account_id: Uuid,
) -> Result<Loaded<FollowGraph>, ServiceError> {
    let client = ctx.pool.get().await?;
    Ok(
        executor::load::<FollowGraph>(&ctx.keys, &client, follow_graph::stream_id(account_id))
            .await?,
    )
}

/// Follows `followee` (an existing, not deleted account) into `group`.
pub async fn follow(
    ctx: &Context,
    caller: ActiveSession,
    followee: Uuid,
    group: Option<String>,
    metadata: &CommandMetadata,
) -> Result<Committed<FollowGraph>, ServiceError> {
    if followee != caller.account_id {
        super::accounts::account(ctx, followee)
            .await
            .map_err(|error| match error {
                ServiceError::AccountNotFound => ServiceError::UserNotFound,
                error => error,
            })?;
    }
    if let Some(group) = &group {
        checked_group_name("group", group)?;
    }
    change_follows(ctx, caller, metadata, |_| FollowCommand::Follow {
        follower: caller.account_id,
        followee,
        group: group.clone(),
        now: ctx.now(),
    })
    .await
}

/// Why a follow group's name is refused.
pub fn bad_group_name() -> InvalidValue {
    InvalidValue::new(
        Refusal::InvalidGroupName,
        "a group name has 1 to 20 characters and no control or invisible characters",
    )
}

/// A group name the request gives in `field`, refused (`invalid_group_name`) before any command
/// when the domain would refuse it.
fn checked_group_name(field: &str, raw: &str) -> Result<(), ServiceError> {
    follow_graph::group_name(raw)
        .map(|_| ())
        .map_err(|_| ServiceError::invalid(field, bad_group_name()))
}

/// Stops following `followee`.
pub async fn unfollow(
    ctx: &Context,
    caller: ActiveSession,
    followee: Uuid,
    metadata: &CommandMetadata,
) -> Result<Committed<FollowGraph>, ServiceError> {
    change_follows(ctx, caller, metadata, |_| FollowCommand::Unfollow {
        follower: caller.account_id,
        followee,
        now: ctx.now(),
    })
    .await
}

/// Makes a follow group (`GroupExists`; at most `MAX_GROUPS`).
pub async fn create_group(
    ctx: &Context,
    caller: ActiveSession,
    name: &str,
    metadata: &CommandMetadata,
) -> Result<Committed<FollowGraph>, ServiceError> {
    checked_group_name("name", name)?;
    change_follows(ctx, caller, metadata, |_| FollowCommand::CreateGroup {
        follower: caller.account_id,
        name: name.to_owned(),
        now: ctx.now(),
    })
    .await
}

/// Deletes a follow group and the follows in it (not `default` or `special`).
pub async fn delete_group(
    ctx: &Context,
    caller: ActiveSession,
    name: &str,
    metadata: &CommandMetadata,
) -> Result<Committed<FollowGraph>, ServiceError> {
    change_follows(ctx, caller, metadata, |_| FollowCommand::DeleteGroup {
        follower: caller.account_id,
        name: name.to_owned(),
        now: ctx.now(),
    })
    .await
}

/// Runs a command on the caller's follow graph.
async fn change_follows(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
    command: impl Fn(&FollowGraph) -> FollowCommand,
) -> Result<Committed<FollowGraph>, ServiceError> {
    let stream = follow_graph::stream_id(caller.account_id);
    super::accounts::run_own_stream(
        ctx,
        caller,
        metadata,
        stream,
        |graph: &FollowGraph| follow_graph::decide(graph, command(graph)),
        |error| match error {
            ExecuteError::Domain(error) => ServiceError::Follow(error),
            ExecuteError::Store(error) => error.into(),
        },
    )
    .await
}

/// A page of a user's followers or followees, newest first. Hidden from others when the
/// user's privacy says so.
pub async fn follow_page(
    ctx: &Context,
    viewer: Option<Uuid>,
    user: Uuid,
    side: Side,
    page: i64,
    per_page: i64,
    min_position: Option<i64>,
) -> Result<FollowPage, ServiceError> {
    super::read_models::wait_for_projection(ctx, PROJECTION, Some(min_position.unwrap_or(0)))
        .await?;
    let client = super::read_models::read_model(ctx, "users", min_position).await?;
    let row = users::find(&client, user)
        .await?
        .ok_or(ServiceError::UserNotFound)?;
    if !row.show_follows && viewer != Some(user) {
        return Err(ServiceError::FollowsHidden);
    }
    let (follows, total) =
        follows::page(&client, user, side, per_page, (page - 1) * per_page).await?;
    Ok(FollowPage { follows, total })
}

/// Whom the caller follows, from the read model (deleted accounts are gone from it).
pub async fn my_following(
    ctx: &Context,
    caller: ActiveSession,
    min_position: Option<i64>,
) -> Result<(Vec<String>, Vec<FollowRow>), ServiceError> {
    let groups = follow_graph(ctx, caller.account_id)
        .await?
        .state
        .group_names();
    super::read_models::wait_for_projection(ctx, PROJECTION, Some(min_position.unwrap_or(0)))
        .await?;
    let client = ctx.pool.get().await?;
    let (follows, _) =
        follows::page(&client, caller.account_id, Side::Following, 10_000, 0).await?;
    Ok((groups, follows))
}
