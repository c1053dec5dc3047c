//! `/v1/sessions`: sign in, list my sessions, sign out, end sessions.

use super::ApiTags;
use super::accounts::parse_identifier;
use super::auth::SignedIn;
use super::problem::{ApiError, FieldCode, Problems, statuses::*};
use super::views::{AccountView, Done};
use crate::domain::account::Identifier;
use crate::domain::account::SessionsToEnd;
use crate::domain::values::Phone;
use crate::service;
use crate::service::Context;
use crate::service::FieldError;
use crate::service::codes::Target;
use crate::service::executor::CommandMetadata;
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

/// Sign-in by email or username, with the password.
#[derive(Debug, Object)]
pub struct SignInRequest {
    /// Email address (give this or `username`).
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    /// Username (give one of `email`, `username`, `phone`).
    #[oai(skip_serializing_if_is_none)]
    pub username: Option<String>,
    /// Phone number.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub phone: Option<String>,
    /// Password (give this or `code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// A one-time code sent to the email address for `sign_in` (`POST /v1/codes`); give this
    /// or `password`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub code: Option<String>,
    /// A solved captcha from `GET /v1/captcha` (base64 JSON, as the ALTCHA widget sends it);
    /// needed after 3 failed sign-ins for the identifier, or 20 (by default) from the client,
    /// within 30 minutes (`428 captcha_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 4096))]
    pub captcha: Option<String>,
}

/// Sign-in (or sign-up) by a texted code.
#[derive(Debug, Object)]
pub struct SmsSignInRequest {
    /// The phone number the `sign_in` code was texted to.
    #[oai(validator(max_length = 32))]
    pub phone: String,
    /// The code.
    #[oai(validator(max_length = 32))]
    pub code: String,
    /// A solved captcha from `GET /v1/captcha`: needed when the phone is new and the client's
    /// address has sent 20 sign-ups (by default) within an hour (`428 captcha_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 4096))]
    pub captcha: Option<String>,
}

#[derive(ApiResponse)]
enum SmsSignInResponse {
    /// Signed in to the phone's account.
    #[oai(status = 200)]
    SignedIn(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
    /// No account had the phone: one was created with it, and signed in.
    #[oai(status = 201)]
    SignedUp(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// A proof-of-work challenge (ALTCHA-compatible): find `number` in `0..=maxnumber` such that
/// `hex(sha256(salt + number)) == challenge`, then send base64 of the JSON
/// `{algorithm, challenge, number, salt, signature}` as `captcha`.
#[derive(Debug, Object)]
pub struct CaptchaView {
    /// `SHA-256`.
    pub algorithm: String,
    /// The hash to find the number for.
    pub challenge: String,
    /// The number is at most this.
    pub maxnumber: u64,
    /// Salt, with its expiry.
    pub salt: String,
    /// The service's signature of the challenge.
    pub signature: String,
}

/// A new session.
#[derive(Debug, Object)]
pub struct NewSessionView {
    /// Bearer token for `Authorization: Bearer <token>`. Shown only once.
    pub token: String,
    /// When the session expires.
    pub expires_at: DateTime<Utc>,
    /// Session id.
    pub session_id: Uuid,
    /// The signed-in account.
    pub account: AccountView,
}

/// One of my live sessions.
#[derive(Debug, Object)]
pub struct SessionView {
    /// Session id.
    pub id: Uuid,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// User agent at sign-in.
    #[oai(skip_serializing_if_is_none)]
    pub user_agent: Option<String>,
    /// Client address at sign-in.
    #[oai(skip_serializing_if_is_none)]
    pub ip: Option<String>,
    /// True for the session making this request.
    pub current: bool,
}

#[derive(ApiResponse)]
enum SignInResponse {
    /// Signed in.
    #[oai(status = 201)]
    Created(
        Json<NewSessionView>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// Sessions.
pub struct SessionsApi;

#[OpenApi(tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// Sign in
    ///
    /// Starts a session for an email, username or phone and its password, or for an email or
    /// phone and a `sign_in` code sent to it. A wrong password and an unknown account get the
    /// same `401 invalid_credentials`, in about the same time. Each password attempt is counted
    /// before it is checked: after 3 failures for the identifier, or 20 from the client
    /// address, within 30 minutes, `428 captcha_required` until a solved captcha comes with it.
    /// A mailed code proves the address: on an account whose address was not verified, it
    /// verifies it, removes the password set before and ends every other session.
    #[oai(path = "/v1/sessions", method = "post", operation_id = "signIn")]
    async fn sign_in(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<SignInRequest>,
    ) -> Result<SignInResponse, Problems<{ BODY | UNAUTHORIZED | FORBIDDEN | CONFLICT | CAPTCHA }>>
    {
        let identifier = parse_identifier(
            body.email.as_deref(),
            body.username.as_deref(),
            body.phone.as_deref(),
        )
        .map_err(|error| ApiError::validation(vec![error]))?;
        let signed_in = match (&body.password, &body.code, identifier) {
            (Some(password), None, identifier) => {
                service::sign_in::sign_in(
                    &ctx,
                    &identifier,
                    password,
                    body.captcha.as_deref(),
                    &metadata,
                )
                .await?
            }
            (None, Some(code), Identifier::Email(email)) => {
                let target = Target::email(&email);
                service::recovery::sign_in_with_code(&ctx, &target, code, &metadata).await?
            }
            (None, Some(code), Identifier::Phone(phone)) => {
                let target = Target::phone(&phone);
                service::recovery::sign_in_with_code(&ctx, &target, code, &metadata).await?
            }
            (None, Some(_), Identifier::Username(_)) => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "code".to_owned(),
                    code: FieldCode::CodeNeedsEmail.as_str(),
                    message: "codes are sent to an email address or a phone: sign in with \
                              `email` or `phone` and `code`"
                        .to_owned(),
                }])
                .into());
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
        Ok(SignInResponse::Created(
            Json(NewSessionView {
                token: signed_in.token,
                expires_at: signed_in.expires_at,
                session_id: signed_in.session_id,
                account: AccountView::of(signed_in.account_id, &signed_in.account),
            }),
            signed_in.position,
        ))
    }

    /// Sign in or up by text message
    ///
    /// With a `sign_in` code texted to the phone (`POST /v1/codes`, channel `sms`): signs in to
    /// the phone's account (`200`), or creates one with the phone and no password (`201`).
    #[oai(
        path = "/v1/sessions/sms",
        method = "post",
        operation_id = "signInBySms"
    )]
    async fn sign_in_by_sms(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<SmsSignInRequest>,
    ) -> Result<SmsSignInResponse, Problems<{ BODY | FORBIDDEN | CONFLICT | CAPTCHA }>> {
        let phone = Phone::parse(&body.phone)
            .map_err(|invalid| ApiError::validation(vec![FieldError::new("phone", invalid)]))?;
        let (signed_in, created) = service::recovery::sign_in_or_up_by_sms(
            &ctx,
            &phone,
            &body.code,
            body.captcha.as_deref(),
            &metadata,
        )
        .await?;
        let position = signed_in.position;
        let view = Json(NewSessionView {
            token: signed_in.token,
            expires_at: signed_in.expires_at,
            session_id: signed_in.session_id,
            account: AccountView::of(signed_in.account_id, &signed_in.account),
        });
        Ok(if created {
            SmsSignInResponse::SignedUp(view, position)
        } else {
            SmsSignInResponse::SignedIn(view, position)
        })
    }

    /// Get a captcha challenge
    ///
    /// A proof-of-work challenge, valid 10 minutes, compatible with the ALTCHA widget
    /// (`challengeurl`). Its solution goes in `captcha` of a sign-in once one is required.
    #[oai(path = "/v1/captcha", method = "get", operation_id = "getCaptcha")]
    async fn get_captcha(&self, ctx: Data<&Context>) -> Json<CaptchaView> {
        let challenge = service::sign_in::captcha_challenge(&ctx);
        Json(CaptchaView {
            algorithm: challenge.algorithm,
            challenge: challenge.challenge,
            maxnumber: challenge.maxnumber,
            salt: challenge.salt,
            signature: challenge.signature,
        })
    }

    /// List my sessions
    ///
    /// The live sessions of my account, newest first.
    #[oai(path = "/v1/sessions", method = "get", operation_id = "listSessions")]
    async fn list_sessions(
        &self,
        ctx: Data<&Context>,
        caller: SignedIn,
        /// Accepted for uniformity with other queries; sessions are always current.
        #[oai(validator(minimum(value = "0")))]
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Vec<SessionView>>, Problems<SIGNED_IN>> {
        let _ = min_position;
        let sessions = service::sessions::live(&ctx, caller.0.account_id).await?;
        Ok(Json(
            sessions
                .into_iter()
                .map(|s| SessionView {
                    current: s.id == caller.0.id,
                    id: s.id,
                    created_at: s.created_at,
                    last_seen_at: s.last_seen_at,
                    expires_at: s.expires_at,
                    user_agent: s.user_agent,
                    ip: s.ip,
                })
                .collect(),
        ))
    }

    /// Sign out
    ///
    /// Ends the session making this request.
    #[oai(
        path = "/v1/sessions/current",
        method = "delete",
        operation_id = "signOut"
    )]
    async fn sign_out(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
    ) -> Result<Done, Problems<{ SIGNED_IN | CONFLICT | UNPROCESSABLE }>> {
        let which = SessionsToEnd::One(caller.0.id);
        let position = service::sessions::end_sessions(&ctx, caller.0, which, &metadata).await?;
        Ok(Done::NoContent(position))
    }

    /// End one of my sessions
    ///
    /// Signs out another device. `404 session_not_found` when the session is not a live
    /// session of mine.
    #[oai(
        path = "/v1/sessions/:id",
        method = "delete",
        operation_id = "endSession"
    )]
    async fn end_session(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        /// The session to end.
        id: Path<Uuid>,
    ) -> Result<Done, Problems<{ SIGNED_IN | NOT_FOUND | CONFLICT | UNPROCESSABLE }>> {
        let position =
            service::sessions::end_sessions(&ctx, caller.0, SessionsToEnd::One(id.0), &metadata)
                .await?;
        Ok(Done::NoContent(position))
    }

    /// End all my other sessions
    ///
    /// Signs out every device but this one.
    #[oai(
        path = "/v1/sessions",
        method = "delete",
        operation_id = "endOtherSessions"
    )]
    async fn end_other_sessions(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
    ) -> Result<Done, Problems<{ SIGNED_IN | CONFLICT | UNPROCESSABLE }>> {
        let which = SessionsToEnd::AllExcept(caller.0.id);
        let position = service::sessions::end_sessions(&ctx, caller.0, which, &metadata).await?;
        Ok(Done::NoContent(position))
    }
}
