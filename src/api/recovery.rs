//! Verification and recovery: `/v1/password-reset`, `/v1/email-verification`, and the changes
//! of a way in, `PUT /v1/me/email` and `PUT /v1/me/phone`.

use super::ApiTags;
use super::auth::SignedIn;
use super::codes::CodeAccepted;
use super::i18n::Language;
use super::problem::{ApiError, FieldCode, Problems, statuses::*};
use super::views::{AccountView, Done};
use crate::domain::code::{CODE_LIFETIME, Channel};
use crate::domain::values::{Email, Phone};
use crate::service;
use crate::service::codes::{CodeProof, Target};
use crate::service::contact::CurrentEmailProof;
use crate::service::executor::CommandMetadata;
use crate::service::{Context, FieldError};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// Who forgot their password: an email address (mailed a link and a code) or a phone
/// (texted a code).
#[derive(Debug, Object)]
pub struct PasswordResetRequest {
    /// The account's email address.
    #[oai(skip_serializing_if_is_none, validator(max_length = 320))]
    pub email: Option<String>,
    /// The account's phone number.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub phone: Option<String>,
}

/// A new password, proven by the link's token or by the mailed code.
#[derive(Debug, Object)]
pub struct PasswordResetConfirmation {
    /// The token from the mailed link (give this, or `email` or `phone` and `code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub token: Option<String>,
    /// The email address the code went to.
    #[oai(skip_serializing_if_is_none, validator(max_length = 320))]
    pub email: Option<String>,
    /// The phone the code was texted to.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub phone: Option<String>,
    /// The 6-digit code.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub code: Option<String>,
    /// The new password: 8 to 128 characters, not easy to guess.
    #[oai(validator(max_length = 1024))]
    pub new_password: String,
}

/// An email verification, by the link's token or by the mailed code.
#[derive(Debug, Object)]
pub struct EmailConfirmation {
    /// The token from the mailed link (give this, or `email` and `code`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 200))]
    pub token: Option<String>,
    /// The email address the code went to.
    #[oai(skip_serializing_if_is_none, validator(max_length = 320))]
    pub email: Option<String>,
    /// The mailed 6-digit code.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub code: Option<String>,
    /// The account's password, to keep it. The first proof of an address removes the password
    /// and ends every session unless the password is shown with it, since whoever signed up
    /// with the address may not own it; a wrong password is `403 wrong_password` and the code
    /// stays unspent.
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
}

/// A new email address, proven by a code sent to it (`POST /v1/codes`, purpose
/// `change_email`).
#[derive(Debug, Object)]
pub struct ChangeEmailRequest {
    /// The new address.
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// The code sent to it.
    #[oai(validator(max_length = 32))]
    pub code: String,
    /// When the current address is verified: a code sent to it (`POST /v1/codes`, purpose
    /// `change_email`), or else `password`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub current_email_code: Option<String>,
    /// When the current address is verified and no `current_email_code` is given: the
    /// account's password (counted like every re-check).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// A TOTP or recovery code, when the account has a second factor and this session did not
    /// prove one in the last 10 minutes (`403 mfa_step_up_required` otherwise).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

/// A new phone number, proven by a code texted to it and, when the account has a phone, one
/// texted to the current number (both `POST /v1/codes`, channel `sms`, purpose
/// `change_phone`).
#[derive(Debug, Object)]
pub struct ChangePhoneRequest {
    /// The new number.
    #[oai(validator(max_length = 32))]
    pub phone: String,
    /// The code texted to it.
    #[oai(validator(max_length = 32))]
    pub code: String,
    /// The code texted to the current number.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub current_phone_code: Option<String>,
    /// For a first phone, when the account's email address is verified: a code mailed to it
    /// (`POST /v1/codes`, channel `email`, purpose `change_phone`), or else `password`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub current_email_code: Option<String>,
    /// For a first phone: the account's password, when no `current_email_code` is given
    /// (counted like every re-check).
    #[oai(skip_serializing_if_is_none, validator(max_length = 1024))]
    pub password: Option<String>,
    /// A TOTP or recovery code, when the account has a second factor and this session did not
    /// prove one in the last 10 minutes (`403 mfa_step_up_required` otherwise).
    #[oai(skip_serializing_if_is_none, validator(max_length = 32))]
    pub mfa_code: Option<String>,
}

#[derive(ApiResponse)]
enum Accepted {
    /// Accepted: a mail is on its way if an account has the address. The answer is the same
    /// either way.
    #[oai(status = 202)]
    Accepted(
        Json<CodeAccepted>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

#[derive(ApiResponse)]
enum EmailChanged {
    /// The account after the change (of email or phone).
    #[oai(status = 200)]
    Ok(
        Json<AccountView>,
        /// Log position of the account's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// Verification and recovery.
pub struct RecoveryApi;

#[OpenApi(tag = "ApiTags::Recovery")]
impl RecoveryApi {
    /// Ask for a password reset
    ///
    /// Mails a link and a code (valid 1 hour and 10 minutes) if an account has the address,
    /// or texts a code to the phone; `202` whatever the case. Limits as for `POST /v1/codes`.
    #[oai(
        path = "/v1/password-reset",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        language: Language,
        body: Json<PasswordResetRequest>,
    ) -> Result<Accepted, Problems<{ BODY | CONFLICT | TOO_MANY }>> {
        let target = match (&body.email, &body.phone) {
            (Some(email), None) => Target::parse(Channel::Email, email, "email")?,
            (None, Some(phone)) => Target::parse(Channel::Sms, phone, "phone")?,
            (None, None) => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "email".to_owned(),
                    code: FieldCode::IdentifierRequired.as_str(),
                    message: "give the account's `email` or `phone`".to_owned(),
                }])
                .into());
            }
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "phone".to_owned(),
                    code: FieldCode::OneIdentifierOnly.as_str(),
                    message: "give only one of `email` and `phone`".to_owned(),
                }])
                .into());
            }
        };
        let position =
            service::recovery::request_password_reset(&ctx, &target, language.tag(), &metadata)
                .await?;
        Ok(Accepted::Accepted(
            Json(CodeAccepted {
                expires_in: CODE_LIFETIME.num_seconds(),
            }),
            position,
        ))
    }

    /// Reset the password
    ///
    /// With the mailed link's `token`, or with `email` and `code`. Every session ends; sign in
    /// with the new password.
    #[oai(
        path = "/v1/password-reset/confirm",
        method = "post",
        operation_id = "confirmPasswordReset"
    )]
    async fn confirm_password_reset(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<PasswordResetConfirmation>,
    ) -> Result<Done, Problems<{ BODY | CONFLICT }>> {
        let proof = match (&body.phone, &body.code, &body.token, &body.email) {
            (Some(phone), Some(code), None, None) => CodeProof::Code {
                target: Target::parse(Channel::Sms, phone, "phone")?,
                code: code.clone(),
            },
            _ => proof_of(
                body.token.as_deref(),
                body.email.as_deref(),
                body.code.as_deref(),
            )?,
        };
        let position =
            service::recovery::reset_password(&ctx, &proof, &body.new_password, &metadata).await?;
        Ok(Done::NoContent(position))
    }

    /// Send me a verification mail
    ///
    /// A link and a code to my email address. `409 email_already_verified` if it is.
    #[oai(
        path = "/v1/email-verification",
        method = "post",
        operation_id = "requestEmailVerification"
    )]
    async fn request_email_verification(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        language: Language,
        caller: SignedIn,
    ) -> Result<Accepted, Problems<{ SIGNED_IN | CONFLICT | UNPROCESSABLE | TOO_MANY }>> {
        let position =
            service::contact::request_email_verification(&ctx, caller.0, language.tag(), &metadata)
                .await?;
        Ok(Accepted::Accepted(
            Json(CodeAccepted {
                expires_in: CODE_LIFETIME.num_seconds(),
            }),
            position,
        ))
    }

    /// Verify an email address
    ///
    /// With the mailed link's `token`, or with `email` and `code`. The first proof of an
    /// address also removes the password and ends every session of the account (an address
    /// someone else signed up with is the owner's from then on: they set a password by reset),
    /// unless the account's `password` comes with it. Counted like every password re-check:
    /// past 5 wrong in 30 minutes, `429`.
    #[oai(
        path = "/v1/email-verification/confirm",
        method = "post",
        operation_id = "confirmEmail"
    )]
    async fn confirm_email(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        body: Json<EmailConfirmation>,
    ) -> Result<Done, Problems<{ BODY | CONFLICT | FORBIDDEN | TOO_MANY }>> {
        let proof = proof_of(
            body.token.as_deref(),
            body.email.as_deref(),
            body.code.as_deref(),
        )?;
        let position =
            service::contact::confirm_email(&ctx, &proof, body.password.as_deref(), &metadata)
                .await?;
        Ok(Done::NoContent(position))
    }

    /// Change my email address
    ///
    /// Proven by a code sent to the new address (`POST /v1/codes`, purpose `change_email`)
    /// and, when the current address is verified, by a code sent to it as well (or the
    /// password): a session alone does not move a proven address. An account with a second
    /// factor sends `mfa_code` too, unless this session proved one in the last 10 minutes
    /// (`403 mfa_step_up_required`). The new address counts as verified; the old one becomes
    /// free, and codes sent before stop working.
    #[oai(path = "/v1/me/email", method = "put", operation_id = "changeEmail")]
    async fn change_email(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<ChangeEmailRequest>,
    ) -> Result<EmailChanged, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let email = Email::parse(&body.email)
            .map_err(|invalid| ApiError::validation(vec![FieldError::new("email", invalid)]))?;
        let committed = service::contact::change_email(
            &ctx,
            caller.0,
            &email,
            &body.code,
            CurrentEmailProof {
                code: body.current_email_code.as_deref(),
                password: body.password.as_deref(),
            },
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        Ok(EmailChanged::Ok(
            Json(AccountView::of(caller.0.account_id, &committed.state)),
            committed.position,
        ))
    }
}

/// The phone change.
pub struct PhoneApi;

#[OpenApi(tag = "ApiTags::Recovery")]
impl PhoneApi {
    /// Change my phone number
    ///
    /// Proven by a code texted to the new number and, if the account has one, a code texted
    /// to the current number; a first phone instead needs a code mailed to the verified email
    /// address (`current_email_code`) or the password, as a session alone adds no way in. At
    /// most 2 changes in 30 days (`429` with Retry-After). An
    /// account whose email address is not verified yet adds no phone (`409
    /// email_not_verified`): whoever signed up with an address may not own it. An account with
    /// a second factor sends `mfa_code` too, unless this session proved one in the last 10
    /// minutes (`403 mfa_step_up_required`).
    #[oai(path = "/v1/me/phone", method = "put", operation_id = "changePhone")]
    async fn change_phone(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        caller: SignedIn,
        body: Json<ChangePhoneRequest>,
    ) -> Result<EmailChanged, Problems<{ SIGNED_IN_BODY | FORBIDDEN | TOO_MANY }>> {
        let phone = Phone::parse(&body.phone)
            .map_err(|invalid| ApiError::validation(vec![FieldError::new("phone", invalid)]))?;
        let committed = service::contact::change_phone(
            &ctx,
            caller.0,
            &phone,
            &body.code,
            body.current_phone_code.as_deref(),
            CurrentEmailProof {
                code: body.current_email_code.as_deref(),
                password: body.password.as_deref(),
            },
            body.mfa_code.as_deref(),
            &metadata,
        )
        .await?;
        Ok(EmailChanged::Ok(
            Json(AccountView::of(caller.0.account_id, &committed.state)),
            committed.position,
        ))
    }
}

/// A link token, or an email address and a code.
pub(super) fn proof_of(
    token: Option<&str>,
    email: Option<&str>,
    code: Option<&str>,
) -> Result<CodeProof, ApiError> {
    match (token, email, code) {
        (Some(token), None, None) => Ok(CodeProof::Link {
            token: token.to_owned(),
        }),
        (None, Some(email), Some(code)) => {
            let target = Target::parse(Channel::Email, email, "email").map_err(ApiError::from)?;
            Ok(CodeProof::Code {
                target,
                code: code.to_owned(),
            })
        }
        _ => Err(ApiError::validation(vec![FieldError {
            field: "token".to_owned(),
            code: FieldCode::TokenOrCode.as_str(),
            message: "give `token`, or `email` and `code`".to_owned(),
        }])),
    }
}
