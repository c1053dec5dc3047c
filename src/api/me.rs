//! `/v1/me`: my account, profile, password, privacy, and deletion.

use super::ApiTags;
use super::auth::{SessionToken, SignedIn};
use super::problem::{ApiError, FieldCode, Problems, statuses::*};
use super::views::{AccountView, Done, EventPage, EventView, GenderView, PrivacyView};
use crate::domain::account::ProfileChanges;
use crate::domain::values::{
    Bio, Birthday, DisplayName, ImageUrl, InvalidValue, PlaceName, Refusal, Username,
};
use crate::service;
use crate::service::executor::CommandMetadata;
use crate::service::{Context, FieldError, ServiceError};
use chrono::NaiveDate;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// Profile fields to change. Absent fields stay as they are; `null` clears a field.
#[derive(Debug, Object)]
pub struct UpdateMeRequest {
    /// New username (unique regardless of case; cannot be cleared).
    pub username: MaybeUndefined<String>,
    /// Name shown to others: 1 to 32 characters.
    #[oai(nullable)]
    pub display_name: MaybeUndefined<String>,
    /// Avatar image: an http or https URL.
    #[oai(nullable)]
    pub avatar_url: MaybeUndefined<String>,
    /// Cover image: an http or https URL.
    #[oai(nullable)]
    pub cover_url: MaybeUndefined<String>,
    /// About me: at most 500 characters.
    #[oai(nullable)]
    pub bio: MaybeUndefined<String>,
    /// Gender.
    pub gender: Option<GenderView>,
    /// Birthday, between 1900-01-01 and today.
    #[oai(nullable)]
    pub birthday: MaybeUndefined<NaiveDate>,
    /// Country: 1 to 64 characters.
    #[oai(nullable)]
    pub country: MaybeUndefined<String>,
    /// Province or state: 1 to 64 characters.
    #[oai(nullable)]
    pub province: MaybeUndefined<String>,
    /// City: 1 to 64 characters.
    #[oai(nullable)]
    pub city: MaybeUndefined<String>,
}

/// A new password, proven by the current one.
#[derive(Debug, Object)]
pub struct ChangePasswordRequest {
    /// The current password.
    #[oai(validator(max_length = 1024))]
    pub current_password: String,
    /// The new password: 8 to 128 characters, not easy to guess.
    #[oai(validator(max_length = 1024))]
    pub new_password: String,
    /// A TOTP or recovery code, when the account has a second factor and this session did not
    /// prove one in the last 10 minutes (`403 mfa_step_up_required` otherwise).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

/// Confirmation of account deletion: the password, or a code sent to the account's email
/// address (`POST /v1/codes`, purpose `delete_account`).
#[derive(Debug, Object)]
pub struct DeleteMeRequest {
    /// The account's password (give this or `code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// The code (give this or `password`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub code: Option<String>,
    /// A TOTP or recovery code, when the account has a second factor and this session did not
    /// prove one in the last 10 minutes (`403 mfa_step_up_required` otherwise).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

#[derive(ApiResponse)]
enum AccountChanged {
    /// The account after the change.
    #[oai(status = 200)]
    Ok(
        Json<AccountView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
enum PrivacyChanged {
    /// The settings now in force.
    #[oai(status = 200)]
    Ok(
        Json<PrivacyView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// My account.
pub struct MeApi;

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// Get my account
    ///
    /// Read from the account's own stream, so it always reflects my last change.
    #[oai(path = "/v1/me", method = "get", operation_id = "getMe")]
    async fn get_me(
        &self,
        ctx: Data<&Context>,
        token: SessionToken,
        /// Accepted for uniformity with other queries; this answer is always current.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<AccountView>, Problems<SIGNED_IN>> {
        let _ = min_position;
        let (session, loaded) = service::accounts::of_session(&ctx, &token.0.token)
            .await?
            .ok_or(service::ServiceError::Unauthenticated)?;
        Ok(Json(AccountView::of(session.account_id, &loaded.state)))
    }

    /// Update my profile
    ///
    /// Changes the given fields (and the username, which must be free). Answers the whole
    /// account as changed.
    #[oai(path = "/v1/me", method = "patch", operation_id = "updateMe")]
    async fn update_me(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        token: SessionToken,
        body: Json<UpdateMeRequest>,
    ) -> Result<AccountChanged, Problems<SIGNED_IN_BODY>> {
        let (changes, username) = match parse_profile_changes(body.0, ctx.now().date_naive()) {
            Ok(parsed) => parsed,
            // A caller who is not signed in learns that first, as from every other endpoint.
            Err(invalid) => match service::sessions::authenticate(&ctx, &token.0.token).await? {
                Some(_) => return Err(ApiError::validation(invalid).into()),
                None => return Err(ApiError::from(ServiceError::Unauthenticated).into()),
            },
        };
        // The token is checked in the statement that loads the account.
        let (caller, committed) =
            service::profile::update_profile(&ctx, &token.0.token, changes, username, &metadata)
                .await?;
        Ok(AccountChanged::Ok(
            Json(AccountView::of(caller.account_id, &committed.state)),
            committed.position,
        ))
    }

    /// Change my password
    ///
    /// Needs the current password (`403 wrong_password` otherwise; after too many wrong ones,
    /// `429` with `Retry-After`) and, from an account with a second factor, `mfa_code` unless
    /// this session proved one in the last 10 minutes (`403 mfa_step_up_required`). Every other
    /// session ends.
    #[oai(
        path = "/v1/me/password",
        method = "put",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<ChangePasswordRequest>,
    ) -> Result<Done, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let position = service::profile::change_password(
            &ctx,
            caller.0,
            &body.current_password,
            &body.new_password,
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        Ok(Done::NoContent(position))
    }

    /// My account's history
    ///
    /// Every event of my account, newest first: sign-ups and sign-ins (with client address
    /// and user agent), sessions ended, profile, username, password and privacy changes. Read
    /// from the log itself, so always current. Page with `before` = the last page's
    /// `next_before`.
    #[oai(path = "/v1/me/events", method = "get", operation_id = "listMyEvents")]
    async fn list_my_events(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Only events older than this version (the previous page's `next_before`).
        #[oai(validator(minimum(value = "1")))]
        before: Query<Option<i64>>,
        /// Events per page: 1 to 100.
        #[oai(
            default = "default_page_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Only these event types: a comma-separated list (`types=A,B`), or the parameter
        /// repeated (`types=A&types=B`). A name that is no event type is 400
        /// `unknown_event_type`.
        #[oai(default, explode = false, validator(max_items = 50))]
        types: Query<Vec<String>>,
        /// Accepted for uniformity with other queries; this answer is always current.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<EventPage>, Problems<SIGNED_IN>> {
        let _ = min_position;
        let types = super::views::event_types(types.0)?;
        let (events, next_before) = service::audit::account_history(
            &ctx,
            caller.0.account_id,
            before.0,
            types.as_deref(),
            limit.0,
        )
        .await?;
        let account = caller.0.account_id;
        Ok(Json(EventPage {
            events: events
                .iter()
                .map(|event| EventView::of_own(event, account))
                .collect(),
            next_before,
        }))
    }

    /// Get my privacy settings
    #[oai(path = "/v1/me/privacy", method = "get", operation_id = "getPrivacy")]
    async fn get_privacy(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Accepted for uniformity with other queries; this answer is always current.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<PrivacyView>, Problems<SIGNED_IN>> {
        let _ = min_position;
        let loaded = service::accounts::account(&ctx, caller.0.account_id).await?;
        Ok(Json(loaded.state.privacy.into()))
    }

    /// Replace my privacy settings
    #[oai(
        path = "/v1/me/privacy",
        method = "put",
        operation_id = "updatePrivacy"
    )]
    async fn update_privacy(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        token: SessionToken,
        body: Json<PrivacyView>,
    ) -> Result<PrivacyChanged, Problems<SIGNED_IN_BODY>> {
        // The token is checked in the statement that loads the account.
        let (_, committed) =
            service::profile::change_privacy(&ctx, &token.0.token, body.0.into(), &metadata)
                .await?;
        Ok(PrivacyChanged::Ok(
            Json(committed.state.privacy.into()),
            committed.position,
        ))
    }

    /// Delete my account
    ///
    /// Confirmed by the password (`403 wrong_password` otherwise) or by a code mailed for
    /// `delete_account` (`400 code_invalid` otherwise); after too many wrong passwords, `429`
    /// with `Retry-After`. An account with a second factor sends `mfa_code` too, unless this
    /// session proved one in the last 10 minutes (`403 mfa_step_up_required`). Every session ends, and the
    /// email and username become free for new sign-ups. The history stays in the log.
    #[oai(path = "/v1/me", method = "delete", operation_id = "deleteMe")]
    async fn delete_me(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<DeleteMeRequest>,
    ) -> Result<Done, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let position = match (&body.password, &body.code) {
            (Some(password), None) => {
                service::profile::delete_account(
                    &ctx,
                    caller.0,
                    password,
                    body.mfa_code.as_deref(),
                    &metadata,
                )
                .await?
            }
            (None, Some(code)) => {
                service::recovery::delete_account_with_code(
                    &ctx,
                    caller.0,
                    code,
                    body.mfa_code.as_deref(),
                    &metadata,
                )
                .await?
            }
            _ => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "password".to_owned(),
                    code: FieldCode::PasswordOrCode.as_str(),
                    message: "give exactly one of `password` and `code`".to_owned(),
                }])
                .into());
            }
        };
        Ok(Done::NoContent(position))
    }
}

fn default_page_size() -> i64 {
    20
}

/// Parses a PATCH body into domain changes, collecting every invalid field; a birthday may
/// not be after `today` (by the service's clock).
pub(super) fn parse_profile_changes(
    body: UpdateMeRequest,
    today: NaiveDate,
) -> Result<(ProfileChanges, Option<Username>), Vec<FieldError>> {
    let mut errors = Vec::new();
    let username = match body.username {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => {
            errors.push(FieldError::new(
                "username",
                InvalidValue {
                    code: Refusal::Required,
                    message: "a username cannot be removed, only changed".to_owned(),
                },
            ));
            None
        }
        MaybeUndefined::Value(raw) => Username::parse(&raw)
            .map_err(|invalid| errors.push(FieldError::new("username", invalid)))
            .ok(),
    };
    let changes = ProfileChanges {
        display_name: field(
            "display_name",
            body.display_name,
            DisplayName::parse,
            &mut errors,
        ),
        avatar_url: field("avatar_url", body.avatar_url, ImageUrl::parse, &mut errors),
        cover_url: field("cover_url", body.cover_url, ImageUrl::parse, &mut errors),
        bio: field("bio", body.bio, Bio::parse, &mut errors),
        gender: body.gender.map(Into::into),
        birthday: field(
            "birthday",
            body.birthday,
            |date: &NaiveDate| Birthday::parse(*date, today),
            &mut errors,
        ),
        country: field("country", body.country, PlaceName::parse, &mut errors),
        province: field("province", body.province, PlaceName::parse, &mut errors),
        city: field("city", body.city, PlaceName::parse, &mut errors),
    };
    if errors.is_empty() {
        Ok((changes, username))
    } else {
        Err(errors)
    }
}

/// One optional field of a PATCH: absent = no change, `null` = clear, a value = set if valid.
fn field<R: ?Sized, T, U: std::borrow::Borrow<R>>(
    name: &str,
    value: MaybeUndefined<U>,
    parse: impl Fn(&R) -> Result<T, InvalidValue>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(raw) => match parse(raw.borrow()) {
            Ok(parsed) => Some(Some(parsed)),
            Err(invalid) => {
                errors.push(FieldError::new(name, invalid));
                None
            }
        },
    }
}
