//! The audit trail: an account's own history, and the whole log for administrators.

use super::{Context, ServiceError};
use crate::domain::account::Role;
use crate::store::event_log::{self, RecordedEvent};
use crate::store::sessions::ActiveSession;
use uuid::Uuid;

/// A page of events, newest first, and the version to ask `before` for the next page (none
/// when this is the last).
pub type HistoryPage = (Vec<RecordedEvent>, Option<i64>);

/// A page of an account's history, newest first, and the version to ask `before` for the
/// next page (none when this is the last).
pub async fn account_history(
    ctx: &Context,
    account_id: Uuid,
    before: Option<i64>,
    types: Option<&[String]>,
    limit: i64,
) -> Result<HistoryPage, ServiceError> {
    let client = ctx.pool.get().await?;
    let mut events =
        event_log::load_stream_page(&ctx.keys, &client, account_id, before, types, limit + 1)
            .await?;
    let more = events.len() as i64 > limit;
    events.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more.then(|| events.last().map(|e| e.version)).flatten();
    Ok((events, next))
}

/// A page of any account's history, for an administrator (`Forbidden` otherwise).
pub async fn admin_history(
    ctx: &Context,
    caller: ActiveSession,
    account_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<HistoryPage, ServiceError> {
    super::admin::require_role(ctx, caller, Role::Admin).await?;
    account_history(ctx, account_id, before, None, limit).await
}

/// A page of the whole log after `after` (commit order), of `types` if given.
pub async fn admin_log(
    ctx: &Context,
    caller: ActiveSession,
    after: i64,
    types: Option<&[String]>,
    limit: i64,
) -> Result<Vec<RecordedEvent>, ServiceError> {
    super::admin::require_role(ctx, caller, Role::Admin).await?;
    let client = ctx.pool.get().await?;
    Ok(event_log::read_by_position(&ctx.keys, &client, after, types, limit).await?)
}
