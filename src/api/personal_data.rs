//! Access and portability (GDPR art. 15 and 20, PIPL art. 45): `GET /v1/me/export` and
//! `GET /v1/admin/users/{id}/export`, one JSON document of everything held about an account.

use super::ApiTags;
use super::addresses::AddressView;
use super::auth::SignedIn;
use super::follows::types::{FollowGroupView, FollowView};
use super::problem::{Problems, statuses::*};
use super::sessions::SessionView;
use super::views::{AccountView, EventView, PrivacyView};
use crate::service;
use crate::service::Context;
use crate::service::executor::CommandMetadata;
use crate::service::personal_data::PersonalData;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

/// The layout of [`PersonalDataExport`], named in its `format`.
pub const EXPORT_FORMAT: &str = "accounts.personal-data/1";

/// Everything the service holds about an account, as one document (GDPR art. 15 and 20). Its
/// layout is named by `format`; a change of layout comes with a new one.
#[derive(Debug, Object)]
pub struct PersonalDataExport {
    /// The document's layout: `accounts.personal-data/1`.
    pub format: String,
    /// When it was made.
    pub exported_at: DateTime<Utc>,
    /// The account, as `GET /v1/me` shows it.
    pub account: AccountView,
    /// Its privacy settings.
    pub privacy: PrivacyView,
    /// Its shipping addresses.
    pub addresses: Vec<AddressView>,
    /// Its follow groups (`default` and `special` first), with whom it follows in each.
    pub following: Vec<FollowGroupView>,
    /// Who follows it, newest first.
    pub followers: Vec<FollowView>,
    /// Its live sessions, with the client address and user agent each started from.
    pub sessions: Vec<SessionView>,
    /// The history of its account, address book and follow graph, oldest first: every event,
    /// its client address and user agent, and its personal fields opened; secrets (password
    /// hashes, TOTP secrets, recovery-code hashes) left out.
    pub events: Vec<EventView>,
}

impl PersonalDataExport {
    /// The document; `own` for the account itself (then another account's client address and
    /// user agent, an administrator's, are left out of its history).
    fn of(data: PersonalData, current_session: Option<Uuid>, own: bool) -> Self {
        let graph = &data.follow_graph;
        let following = graph
            .group_names()
            .into_iter()
            .map(|name| FollowGroupView {
                followees: graph
                    .follows
                    .iter()
                    .filter(|(_, follow)| follow.group == name)
                    .map(|(id, follow)| FollowView {
                        user_id: *id,
                        followed_at: follow.since,
                    })
                    .collect(),
                name,
            })
            .collect();
        Self {
            format: EXPORT_FORMAT.to_owned(),
            exported_at: data.exported_at,
            account: AccountView::of(data.account_id, &data.account),
            privacy: data.account.privacy.into(),
            addresses: super::addresses::list(&data.address_book),
            following,
            followers: data
                .followers
                .iter()
                .map(|row| FollowView {
                    user_id: row.user_id,
                    followed_at: row.followed_at,
                })
                .collect(),
            sessions: data
                .sessions
                .into_iter()
                .map(|session| SessionView::of(session, current_session))
                .collect(),
            events: data
                .events
                .iter()
                .map(|event| match own {
                    true => EventView::of_own(event, data.account_id),
                    false => EventView::of(event),
                })
                .collect(),
        }
    }
}

#[derive(ApiResponse)]
enum Exported {
    /// The document.
    #[oai(status = 200)]
    Ok(
        Json<PersonalDataExport>,
        /// Log position of the export's own record (`PersonalDataExported`).
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// Access and portability.
pub struct PersonalDataApi;

#[OpenApi]
impl PersonalDataApi {
    /// Export everything held about me
    ///
    /// One JSON document (`format` `accounts.personal-data/1`): my account, privacy settings,
    /// addresses, follow groups and follows, followers, live sessions, and the whole history of
    /// my events with their personal fields (GDPR art. 15 and 20, PIPL art. 45). Recorded as
    /// `PersonalDataExported` first, so the document holds its own record.
    #[oai(
        path = "/v1/me/export",
        method = "get",
        operation_id = "exportMyData",
        tag = "ApiTags::Me"
    )]
    async fn export_mine(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
    ) -> Result<Exported, Problems<SIGNED_IN>> {
        let data = service::personal_data::export_own(&ctx, caller.0, &metadata).await?;
        let position = data.position;
        Ok(Exported::Ok(
            Json(PersonalDataExport::of(data, Some(caller.0.id), true)),
            position,
        ))
    }

    /// Export everything held about an account
    ///
    /// The document of `GET /v1/me/export`, for an administrator (who may act on the account:
    /// admins on users, owners on anyone); `PersonalDataExported` names the administrator.
    #[oai(
        path = "/v1/admin/users/:id/export",
        method = "get",
        operation_id = "adminExportUserData",
        tag = "ApiTags::Admin"
    )]
    async fn export_for_admin(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// Account id.
        id: Path<Uuid>,
    ) -> Result<Exported, Problems<{ SIGNED_IN | FORBIDDEN | NOT_FOUND }>> {
        let data =
            service::personal_data::export_for_admin(&ctx, caller.0, id.0, &metadata).await?;
        let position = data.position;
        Ok(Exported::Ok(
            Json(PersonalDataExport::of(data, None, false)),
            position,
        ))
    }
}
