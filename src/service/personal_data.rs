//! Access and portability (GDPR art. 15 and 20, PIPL art. 45): everything the service holds
//! about an account, for the account itself (`GET /v1/me/export`) or an administrator
//! (`GET /v1/admin/users/{id}/export`). Each export is recorded as `PersonalDataExported`
//! before it is read, so the document includes its own record.

use super::executor::{self, CommandMetadata};
use super::{Context, ServiceError};
use crate::domain::account::{Account, AccountCommand};
use crate::domain::address_book::{self, AddressBook};
use crate::domain::follow_graph::{self, FollowGraph};
use crate::store::event_log::{self, RecordedEvent};
use crate::store::follows::{self, FollowRow, Side};
use crate::store::sessions::{self, ActiveSession, SessionSummary};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Everything held about one account.
#[derive(Debug, Clone)]
pub struct PersonalData {
    /// The account's id.
    pub account_id: Uuid,
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The account as its events leave it.
    pub account: Account,
    /// Its addresses.
    pub address_book: AddressBook,
    /// Its follow groups and whom it follows.
    pub follow_graph: FollowGraph,
    /// Who follows it (from the read model).
    pub followers: Vec<FollowRow>,
    /// Its live sessions.
    pub sessions: Vec<SessionSummary>,
    /// Every event of its account, address book and follow graph, opened, in log order.
    pub events: Vec<RecordedEvent>,
    /// The log position of the export's own record.
    pub position: i64,
}

/// The caller's own data, recorded as exported by the caller.
pub async fn export_own(
    ctx: &Context,
    caller: ActiveSession,
    metadata: &CommandMetadata,
) -> Result<PersonalData, ServiceError> {
    let committed = super::accounts::run_own_command(
        ctx,
        caller,
        metadata,
        AccountCommand::RecordExport {
            requested_by: caller.account_id,
            now: ctx.now(),
        },
    )
    .await?;
    gather(ctx, caller.account_id, committed.state, committed.position).await
}

/// An account's data for an administrator (who may act on it), recorded as exported by them.
pub async fn export_for_admin(
    ctx: &Context,
    caller: ActiveSession,
    id: Uuid,
    metadata: &CommandMetadata,
) -> Result<PersonalData, ServiceError> {
    let committed = super::admin::admin_command(ctx, caller, id, false, metadata, |_| {
        AccountCommand::RecordExport {
            requested_by: caller.account_id,
            now: ctx.now(),
        }
    })
    .await?;
    gather(ctx, id, committed.state, committed.position).await
}

async fn gather(
    ctx: &Context,
    account_id: Uuid,
    account: Account,
    position: i64,
) -> Result<PersonalData, ServiceError> {
    let client = ctx.pool.get().await?;
    let book = address_book::stream_id(account_id);
    let graph = follow_graph::stream_id(account_id);
    let address_book = executor::load::<AddressBook>(&ctx.keys, &client, book).await?;
    let follow_graph = executor::load::<FollowGraph>(&ctx.keys, &client, graph).await?;
    let mut events = Vec::new();
    for stream in [account_id, book, graph] {
        events.extend(event_log::load_stream(&ctx.keys, &client, stream).await?);
    }
    events.sort_by_key(|event| event.position);
    let (followers, _) = follows::page(&client, account_id, Side::Followers, 100_000, 0).await?;
    let sessions = sessions::list_live(&client, account_id).await?;
    Ok(PersonalData {
        account_id,
        exported_at: ctx.now(),
        account,
        address_book: address_book.state,
        follow_graph: follow_graph.state,
        followers,
        sessions,
        events,
        position,
    })
}
