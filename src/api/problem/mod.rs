//! Errors as RFC 9457 problem details, in one place.
//!
//! Every failure, whether a use case's `ServiceError` or poem's own (bad JSON, wrong content
//! type, unknown route, body too large), leaves as `application/problem+json` with a stable
//! snake_case `code`, a `title` and `detail` in the caller's language, and per-field `errors`
//! for validation failures. Operations declare which statuses they can answer through the
//! `Problems<STATUSES>` type, so the OpenAPI document lists exactly those.

mod responses;

pub use responses::{Problems, statuses};

use super::i18n::{Language, title_of};
use crate::service::{FieldError, ServiceError};
use crate::store::claims::ClaimKind;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use poem_openapi::types::ToJSON;

/// A problem detail (RFC 9457).
#[derive(Debug, Clone, Object)]
pub struct Problem {
    /// A URI reference naming the problem type: `/problems/<code>`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type, in the requested language.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time, in the requested language.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// Stable machine-readable code.
    pub code: String,
    /// The invalid fields, for validation problems.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<ProblemField>>,
}

/// One invalid field.
#[derive(Debug, Clone, Object)]
pub struct ProblemField {
    /// The field's name in the request.
    pub field: String,
    /// Stable machine-readable code.
    pub code: String,
    /// Explanation in the requested language.
    pub message: String,
}

/// An error on its way to becoming a problem answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// English detail, when there is more to say than the title.
    pub detail: Option<String>,
    /// Invalid fields.
    pub errors: Vec<FieldError>,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.status)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with a status and code.
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds an English detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The fields at fault, the first one's message as the detail: a problem about one or more
    /// named fields that is not a `validation_failed` (a malformed body, a query parameter).
    pub fn naming(self, errors: Vec<FieldError>) -> Self {
        Self {
            detail: errors.first().map(|error| error.message.clone()),
            errors,
            ..self
        }
    }

    /// A validation failure of several fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        }
    }

    /// Renders the problem answer in `language`.
    pub fn to_response(&self, language: Language) -> Response {
        let problem = Problem {
            kind: format!("/problems/{}", self.code),
            title: title_of(self.code, language).to_owned(),
            status: self.status.as_u16(),
            detail: match language {
                Language::En => self.detail.clone(),
                // The English detail is not translated, but the fields it names are.
                Language::ZhCn if !self.errors.is_empty() => Some(
                    self.errors
                        .iter()
                        .map(|error| {
                            format!("`{}`：{}", error.field, title_of(error.code, language))
                        })
                        .collect::<Vec<_>>()
                        .join("；"),
                ),
                Language::ZhCn => None,
            },
            code: self.code.to_owned(),
            errors: (!self.errors.is_empty()).then(|| {
                self.errors
                    .iter()
                    .map(|error| ProblemField {
                        field: error.field.clone(),
                        code: error.code.to_owned(),
                        message: match language {
                            Language::En => error.message.clone(),
                            Language::ZhCn => title_of(error.code, language).to_owned(),
                        },
                    })
                    .collect()
            }),
        };
        let body = problem.to_json_string();
        let mut response = body
            .with_status(self.status)
            .with_content_type("application/problem+json")
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(language.tag()),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// The problem for one of poem's own errors (routing, extraction, body reading).
    pub fn from_poem(error: &poem::Error) -> Self {
        if let Some(api_error) = error.downcast_ref::<ApiError>() {
            return api_error.clone();
        }
        let status = error.status();
        let code = match status {
            StatusCode::BAD_REQUEST
                if error.is::<poem_openapi::error::ParseRequestPayloadError>() =>
            {
                "invalid_body"
            }
            StatusCode::BAD_REQUEST => "invalid_request",
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            status if status.is_server_error() => "internal_error",
            _ => "request_failed",
        };
        let detail = match status {
            StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => None,
            status if status.is_server_error() => None,
            _ => Some(error.to_string()),
        };
        Self {
            detail,
            ..Self::new(status, code)
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        use StatusCode as S;
        match error {
            ServiceError::Validation(errors) => Self::validation(errors),
            ServiceError::Unauthenticated => Self::new(S::UNAUTHORIZED, "unauthenticated"),
            ServiceError::InvalidCredentials => Self::new(S::UNAUTHORIZED, "invalid_credentials"),
            ServiceError::WrongPassword => Self::new(S::FORBIDDEN, "wrong_password"),
            ServiceError::AccountBlocked => Self::new(S::FORBIDDEN, "account_blocked"),
            ServiceError::AccountNotFound => Self::new(S::NOT_FOUND, "account_not_found"),
            ServiceError::SessionNotFound => Self::new(S::NOT_FOUND, "session_not_found"),
            ServiceError::UserNotFound => Self::new(S::NOT_FOUND, "user_not_found"),
            ServiceError::TooManyRequests(seconds) => Self {
                retry_after: Some(u64::try_from(seconds.max(1)).unwrap_or(1)),
                ..Self::new(S::TOO_MANY_REQUESTS, "too_many_requests")
            },
            ServiceError::CodeInvalid => Self::new(S::BAD_REQUEST, "code_invalid")
                .with_detail("the code is wrong, used, or dead after too many tries"),
            ServiceError::CodeExpired => Self::new(S::BAD_REQUEST, "code_expired"),
            ServiceError::Follow(error) => {
                use crate::domain::follow_graph::FollowError as F;
                let status = match error {
                    F::SelfFollow | F::BadGroupName => S::UNPROCESSABLE_ENTITY,
                    F::GroupNotFound | F::NotFollowing => S::NOT_FOUND,
                    F::GroupExists | F::TooManyGroups | F::BuiltInGroup => S::CONFLICT,
                };
                Self::new(status, crate::service::follows::follow_error_code(error))
                    .with_detail(error.to_string())
            }
            ServiceError::LastOwner => {
                Self::new(S::CONFLICT, "last_owner").with_detail("promote another owner first")
            }
            ServiceError::Forbidden => Self::new(S::FORBIDDEN, "forbidden"),
            ServiceError::CannotBlockSelf => Self::new(S::CONFLICT, "cannot_block_self")
                .with_detail("another administrator can block this account"),
            ServiceError::FollowsHidden => Self::new(S::FORBIDDEN, "follows_hidden"),
            ServiceError::AddressNotFound => Self::new(S::NOT_FOUND, "address_not_found"),
            ServiceError::AddressBookFull => Self::new(S::CONFLICT, "address_limit_reached")
                .with_detail("at most 20 addresses; remove one first"),
            ServiceError::NoEmail => Self::new(S::CONFLICT, "no_email")
                .with_detail("the account has no email address; add one with PUT /v1/me/email"),
            ServiceError::EmailAlreadyVerified => Self::new(S::CONFLICT, "email_already_verified"),
            ServiceError::EmailNotVerified => Self::new(S::CONFLICT, "email_not_verified")
                .with_detail(
                    "verify the account's email address first (POST /v1/email-verification)",
                ),
            ServiceError::CaptchaRequired => {
                Self::new(S::PRECONDITION_REQUIRED, "captcha_required").with_detail(
                    "too many attempts from here (failed sign-ins, or sign-ups within the hour): \
                     solve GET /v1/captcha and send the solution as `captcha`",
                )
            }
            ServiceError::CaptchaInvalid => Self::new(S::PRECONDITION_REQUIRED, "captcha_invalid")
                .with_detail("the captcha solution is wrong, expired or already used"),
            ServiceError::PositionAhead => Self::new(S::BAD_REQUEST, "position_ahead").with_detail(
                "min_position is beyond the end of the log: give an Accounts-Position a \
                     command answered",
            ),
            ServiceError::TooManyWaitingReads => Self {
                retry_after: Some(1),
                ..Self::new(S::SERVICE_UNAVAILABLE, "read_model_behind")
            }
            .with_detail("too many reads are waiting for the read model; retry"),
            ServiceError::ReadModelBehind => Self {
                retry_after: Some(1),
                ..Self::new(S::SERVICE_UNAVAILABLE, "read_model_behind")
            }
            .with_detail("the read model has not reached min_position yet; retry"),
            ServiceError::IdentifierTaken(ClaimKind::Email) => {
                Self::new(S::CONFLICT, "email_taken")
            }
            ServiceError::IdentifierTaken(ClaimKind::Username) => {
                Self::new(S::CONFLICT, "username_taken")
            }
            ServiceError::IdentifierTaken(ClaimKind::Phone) => {
                Self::new(S::CONFLICT, "phone_taken")
            }
            ServiceError::PasswordUnchanged => Self::validation(vec![FieldError {
                field: "new_password".to_owned(),
                code: "password_unchanged",
                message: "the new password must differ from the current one".to_owned(),
            }]),
            ServiceError::IdempotencyKeyInUse => Self {
                retry_after: Some(1),
                ..Self::new(S::CONFLICT, "idempotency_key_in_use")
            },
            ServiceError::Unavailable => Self {
                retry_after: Some(1),
                ..Self::new(S::SERVICE_UNAVAILABLE, "service_unavailable")
            },
            ServiceError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal_error")
            }
        }
    }
}

impl From<ApiError> for poem::Error {
    fn from(error: ApiError) -> Self {
        let status = error.status;
        poem::Error::new(error, status)
    }
}
