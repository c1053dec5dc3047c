//! `/v1/codes`: one-time codes by email or SMS, and checking them.

use super::ApiTags;
use super::i18n::Language;
use super::problem::{Problems, statuses::*};
use crate::domain::code::{self, Channel, Purpose};
use crate::service;
use crate::service::Context;
use crate::service::codes::Target;
use crate::service::executor::CommandMetadata;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ChannelView {
    /// By mail.
    Email,
    /// By text message.
    Sms,
}

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum PurposeView {
    /// Sign up with this address or phone.
    SignUp,
    /// Sign in with a code.
    SignIn,
    /// Prove the account's email address.
    VerifyEmail,
    /// Reset a forgotten password.
    ResetPassword,
    /// Move the account to a new email address.
    ChangeEmail,
    /// Move the account to a new phone number.
    ChangePhone,
    /// Confirm deleting the account.
    DeleteAccount,
}

impl From<ChannelView> for Channel {
    fn from(channel: ChannelView) -> Self {
        match channel {
            ChannelView::Email => Self::Email,
            ChannelView::Sms => Self::Sms,
        }
    }
}

impl From<PurposeView> for Purpose {
    fn from(purpose: PurposeView) -> Self {
        match purpose {
            PurposeView::SignUp => Self::SignUp,
            PurposeView::SignIn => Self::SignIn,
            PurposeView::VerifyEmail => Self::VerifyEmail,
            PurposeView::ResetPassword => Self::ResetPassword,
            PurposeView::ChangeEmail => Self::ChangeEmail,
            PurposeView::ChangePhone => Self::ChangePhone,
            PurposeView::DeleteAccount => Self::DeleteAccount,
        }
    }
}

/// A code to send.
#[derive(Debug, Object)]
pub struct SendCodeRequest {
    /// How to send it.
    pub channel: ChannelView,
    /// The email address or phone number (E.164, or 11-digit mainland China mobile).
    #[oai(validator(max_length = 320))]
    pub to: String,
    /// What it is for.
    pub purpose: PurposeView,
}

/// A code to check.
#[derive(Debug, Object)]
pub struct CheckCodeRequest {
    /// How it was sent.
    pub channel: ChannelView,
    /// The email address or phone number it was sent to.
    #[oai(validator(max_length = 320))]
    pub to: String,
    /// What it is for.
    pub purpose: PurposeView,
    /// The 6-digit code.
    #[oai(validator(max_length = 32))]
    pub code: String,
}

/// The answer to a code request.
#[derive(Debug, Object)]
pub struct CodeAccepted {
    /// Seconds the code is valid, once it arrives.
    pub expires_in: i64,
}

/// The answer to a code check.
#[derive(Debug, Object)]
pub struct CodeValid {
    /// Always true: invalid codes are problem answers.
    pub valid: bool,
}

#[derive(ApiResponse)]
enum SendCodeResponse {
    /// Accepted: a code is on its way if the target can receive one for this purpose. The
    /// answer is the same whether or not an account holds the target.
    #[oai(status = 202)]
    Accepted(
        Json<CodeAccepted>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
enum CheckCodeResponse {
    /// The code is right and still valid (it is not spent).
    #[oai(status = 200)]
    Valid(Json<CodeValid>),
}

/// One-time codes.
pub struct CodesApi;

#[OpenApi(tag = "ApiTags::Codes")]
impl CodesApi {
    /// Send a one-time code
    ///
    /// A 6-digit code, valid 10 minutes, dead after 5 wrong tries, used once, by mail or text
    /// in the `Accept-Language` language. At most one a minute and ten an hour per target and
    /// purpose, and 30 an hour per client address: `429` with Retry-After.
    #[oai(path = "/v1/codes", method = "post", operation_id = "sendCode")]
    async fn send_code(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        language: Language,
        body: Json<SendCodeRequest>,
    ) -> Result<SendCodeResponse, Problems<{ BODY | CONFLICT | TOO_MANY }>> {
        let target = Target::parse(body.channel.into(), &body.to, "to")?;
        let position = service::codes::send_code(
            &ctx,
            &target,
            body.purpose.into(),
            language.tag(),
            &metadata,
        )
        .await?;
        Ok(SendCodeResponse::Accepted(
            Json(CodeAccepted {
                expires_in: code::CODE_LIFETIME.num_seconds(),
            }),
            position,
        ))
    }

    /// Check a one-time code
    ///
    /// Without spending it: `200` when right, else `400 code_invalid` (a wrong try counts
    /// towards the five) or `400 code_expired`.
    #[oai(path = "/v1/codes/check", method = "post", operation_id = "checkCode")]
    async fn check_code(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<CheckCodeRequest>,
    ) -> Result<CheckCodeResponse, Problems<{ BODY | CONFLICT }>> {
        let target = Target::parse(body.channel.into(), &body.to, "to")?;
        service::codes::check_code(
            &ctx,
            &target,
            body.purpose.into(),
            &body.code,
            false,
            &metadata,
        )
        .await?;
        Ok(CheckCodeResponse::Valid(Json(CodeValid { valid: true })))
    }
}
