//! `POST /v1/accounts`: sign-up.

use super::ApiTags;
use super::i18n::Language;
use super::problem::{ApiError, FieldCode, Problems, statuses::*};
use super::views::AccountView;
use crate::domain::account::Identifier;
use crate::domain::values::{DisplayName, Email, Password, Phone, Username};
use crate::service;
use crate::service::executor::CommandMetadata;
use crate::service::sign_up::SignUp;
use crate::service::{Context, FieldError};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

/// Sign-up with one identifier: `{email, password, code?}`, `{username, password}`, or
/// `{phone, code, password?}`.
#[derive(Debug, Object)]
pub struct SignUpRequest {
    /// Email address (give one of `email`, `username`, `phone`).
    pub email: Option<String>,
    /// Username: 3 to 30 letters, digits or underscores, starting with a letter.
    pub username: Option<String>,
    /// Phone number: E.164 (`+8613812345678`) or an 11-digit mainland China mobile number.
    #[oai(validator(max_length = 32))]
    pub phone: Option<String>,
    /// Password: 8 to 128 characters, not easy to guess. Needed unless signing up by phone.
    #[oai(validator(max_length = 1024))]
    pub password: Option<String>,
    /// A code sent for `sign_up` (`POST /v1/codes`): needed for a phone, and for an email
    /// address when the service requires it (it then counts as verified).
    #[oai(validator(max_length = 32))]
    pub code: Option<String>,
    /// Name shown to others: 1 to 32 characters.
    pub display_name: Option<String>,
    /// A solved captcha from `GET /v1/captcha`: needed once the client's address has sent 20
    /// sign-ups (by default) within an hour (`428 captcha_required`).
    #[oai(skip_serializing_if_is_none, validator(max_length = 4096))]
    pub captcha: Option<String>,
}

/// A session's bearer token.
#[derive(Debug, Object)]
pub struct SessionToken {
    /// Session id.
    pub id: Uuid,
    /// Bearer token for `Authorization: Bearer <token>`. Shown only once.
    pub token: String,
    /// When the session expires.
    pub expires_at: DateTime<Utc>,
}

/// The new account and its first session.
#[derive(Debug, Object)]
pub struct SignedUp {
    /// The account.
    pub account: AccountView,
    /// The session it is signed in with.
    pub session: SessionToken,
}

#[derive(ApiResponse)]
enum SignUpResponse {
    /// The account was created and signed in.
    #[oai(status = 201)]
    Created(
        Json<SignedUp>,
        /// Log position of the command's last event.
        #[oai(header = "Accounts-Position")]
        i64,
    ),
}

/// Sign-up.
pub struct AccountsApi;

#[OpenApi(tag = "ApiTags::Accounts")]
impl AccountsApi {
    /// Sign up
    ///
    /// Creates an account identified by an email address or a username, with a password, and
    /// signs it in. Identifiers are unique regardless of case.
    #[oai(path = "/v1/accounts", method = "post", operation_id = "signUp")]
    async fn sign_up(
        &self,
        ctx: Data<&Context>,
        metadata: CommandMetadata,
        language: Language,
        body: Json<SignUpRequest>,
    ) -> Result<SignUpResponse, Problems<{ BODY | CONFLICT | CAPTCHA }>> {
        let body = body.0;
        let mut errors = Vec::new();
        let identifier = parse_identifier(
            body.email.as_deref(),
            body.username.as_deref(),
            body.phone.as_deref(),
        )
        .map_err(|error| errors.push(error))
        .ok();
        let display_name = body
            .display_name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|invalid| errors.push(FieldError::new("display_name", invalid)))
            .ok()
            .flatten();
        // A password may not contain the account's own identifier or name.
        let context: Vec<&str> = [&body.email, &body.username, &body.phone, &body.display_name]
            .into_iter()
            .filter_map(|value| value.as_deref())
            .collect();
        let password = body.password.as_deref().and_then(|password| {
            Password::parse(password, &context)
                .map_err(|invalid| errors.push(FieldError::new("password", invalid)))
                .ok()
        });
        let (Some(identifier), true) = (identifier, errors.is_empty()) else {
            return Err(ApiError::validation(errors).into());
        };
        let request = SignUp {
            identifier,
            password,
            code: body.code,
            display_name,
            captcha: body.captcha,
            mail_locale: Some(language.tag()),
        };
        let signed_in = service::sign_up::sign_up(&ctx, request, &metadata).await?;
        Ok(SignUpResponse::Created(
            Json(SignedUp {
                account: AccountView::of(signed_in.account_id, &signed_in.account),
                session: SessionToken {
                    id: signed_in.session_id,
                    token: signed_in.token,
                    expires_at: signed_in.expires_at,
                },
            }),
            signed_in.position,
        ))
    }
}

/// The identifier a caller names at sign-up or sign-in, as typed.
#[derive(Debug, Clone, Copy)]
enum GivenIdentifier<'a> {
    Email(&'a str),
    Username(&'a str),
    Phone(&'a str),
}

/// The one identifier of a sign-up or sign-in, parsed: exactly one of `email`, `username`
/// and `phone`, valid; the field error names the field.
pub(super) fn parse_identifier(
    email: Option<&str>,
    username: Option<&str>,
    phone: Option<&str>,
) -> Result<Identifier, FieldError> {
    match one_identifier(email, username, phone)? {
        GivenIdentifier::Email(email) => Email::parse(email)
            .map(Identifier::Email)
            .map_err(|invalid| FieldError::new("email", invalid)),
        GivenIdentifier::Username(username) => Username::parse(username)
            .map(Identifier::Username)
            .map_err(|invalid| FieldError::new("username", invalid)),
        GivenIdentifier::Phone(phone) => Phone::parse(phone)
            .map(Identifier::Phone)
            .map_err(|invalid| FieldError::new("phone", invalid)),
    }
}

/// Sign-up and sign-in name exactly one of `email`, `username` and `phone`.
fn one_identifier<'a>(
    email: Option<&'a str>,
    username: Option<&'a str>,
    phone: Option<&'a str>,
) -> Result<GivenIdentifier<'a>, FieldError> {
    let refused = |code, message: &str| FieldError {
        field: "email".to_owned(),
        code,
        message: message.to_owned(),
    };
    match (email, username, phone) {
        (Some(email), None, None) => Ok(GivenIdentifier::Email(email)),
        (None, Some(username), None) => Ok(GivenIdentifier::Username(username)),
        (None, None, Some(phone)) => Ok(GivenIdentifier::Phone(phone)),
        (None, None, None) => Err(refused(
            FieldCode::IdentifierRequired.as_str(),
            "give an email, a username or a phone",
        )),
        _ => Err(refused(
            FieldCode::OneIdentifierOnly.as_str(),
            "give only one of email, username and phone",
        )),
    }
}
