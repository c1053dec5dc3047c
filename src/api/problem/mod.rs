//! Errors as RFC 9457 problem details, in one place.
//!
//! Every failure, whether a use case's `ServiceError` or poem's own (bad JSON, wrong content
//! type, unknown route, body too large), leaves as `application/problem+json` with a stable
//! snake_case `code`, a `title` and `detail` in the caller's language, and per-field `errors`
//! for validation failures. Operations declare which statuses they can answer through the
//! `Problems<STATUSES>` type, so the OpenAPI document lists exactly those.

pub mod catalog;
mod responses;

pub use catalog::{FieldCode, ProblemCode};
pub use responses::{Problems, declare_everywhere, statuses};

use super::i18n::Language;
use crate::service::{FieldError, ServiceError};
use crate::store::claims::ClaimKind;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use poem_openapi::types::ToJSON;

/// Most field errors one answer lists: a body of many unknown fields is refused just the same,
/// without an answer many times its size.
pub const MAX_FIELD_ERRORS: usize = 50;

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
    /// The invalid fields, for validation problems: at most 50 (`MAX_FIELD_ERRORS`).
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
    /// HTTP status: the code's, but for a `request_failed` from poem.
    pub status: StatusCode,
    /// Stable code.
    pub code: ProblemCode,
    /// English detail about this request, in place of the code's own (an English answer only;
    /// a Chinese one names the fields in `errors`, or gives the code's own detail).
    pub detail: Option<String>,
    /// The same detail in Chinese, when it is written for this request in both languages.
    pub detail_zh: Option<String>,
    /// Invalid fields.
    pub errors: Vec<FieldError>,
    /// Seconds after which a retry may succeed.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code.as_str(), self.status)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with a code, answered with the code's status.
    pub fn new(code: ProblemCode) -> Self {
        Self {
            status: code.status(),
            code,
            detail: None,
            detail_zh: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds an English detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a detail written for this request in English and in Chinese.
    pub fn with_details(mut self, english: impl Into<String>, chinese: impl Into<String>) -> Self {
        self.detail = Some(english.into());
        self.detail_zh = Some(chinese.into());
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

    /// 400 `invalid_request` about one query parameter or header, named in `errors`.
    pub fn bad_parameter(field: &str, code: FieldCode, message: impl Into<String>) -> Self {
        Self::new(ProblemCode::InvalidRequest).naming(vec![FieldError {
            field: field.to_owned(),
            code: code.as_str(),
            message: message.into(),
        }])
    }

    /// Asks the caller to retry after `seconds` (`Retry-After`).
    pub fn retry_in(self, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..self
        }
    }

    /// A validation failure of several fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(ProblemCode::ValidationFailed)
        }
    }

    /// Renders the problem answer in `language`.
    pub fn to_response(&self, language: Language) -> Response {
        // In Chinese a field reads by its code's title; a code of the HTTP layer keeps the
        // English particulars (the value refused, the values allowed) after it.
        let field_title = |error: &FieldError| match catalog::field_title(error.code) {
            Some(title) if language == Language::ZhCn && catalog::names_values(error.code) => {
                format!("{}（{}）", title.zh, error.message)
            }
            Some(title) => title.of(language).to_owned(),
            None => error.message.clone(),
        };
        let errors = &self.errors[..self.errors.len().min(MAX_FIELD_ERRORS)];
        let problem = Problem {
            kind: format!("/problems/{}", self.code.as_str()),
            title: self.code.title().of(language).to_owned(),
            status: self.status.as_u16(),
            detail: match language {
                Language::En => self
                    .detail
                    .clone()
                    .or_else(|| self.code.detail().map(|detail| detail.en.to_owned()))
                    .or_else(|| {
                        // A validation failure names its fields here too, as in Chinese.
                        (!errors.is_empty()).then(|| {
                            errors
                                .iter()
                                .map(|error| format!("`{}`: {}", error.field, error.message))
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                    }),
                // The English detail is not translated, but the fields it names are.
                Language::ZhCn if !errors.is_empty() => Some(
                    errors
                        .iter()
                        .map(|error| format!("`{}`：{}", error.field, field_title(error)))
                        .collect::<Vec<_>>()
                        .join("；"),
                ),
                // A detail written for this request in English only: better than none.
                Language::ZhCn => self
                    .detail_zh
                    .clone()
                    .or_else(|| self.code.detail().map(|detail| detail.zh.to_owned()))
                    .or_else(|| self.detail.clone()),
            },
            code: self.code.as_str().to_owned(),
            errors: (!errors.is_empty()).then(|| {
                errors
                    .iter()
                    .map(|error| ProblemField {
                        field: error.field.clone(),
                        code: error.code.to_owned(),
                        message: match language {
                            Language::En => error.message.clone(),
                            Language::ZhCn => field_title(error),
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
                ProblemCode::InvalidBody
            }
            StatusCode::BAD_REQUEST => ProblemCode::InvalidRequest,
            StatusCode::UNAUTHORIZED => ProblemCode::Unauthenticated,
            StatusCode::NOT_FOUND => ProblemCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ProblemCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ProblemCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemCode::UnsupportedMediaType,
            status if status.is_server_error() => ProblemCode::InternalError,
            _ => ProblemCode::RequestFailed,
        };
        let detail = match status {
            // The catalogue says it better than poem, in both languages.
            StatusCode::UNAUTHORIZED
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::UNSUPPORTED_MEDIA_TYPE => None,
            status if status.is_server_error() => None,
            _ => Some(error.to_string()),
        };
        Self {
            status,
            detail,
            ..Self::new(code)
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        use ProblemCode as P;
        let code = match error {
            ServiceError::Validation(errors) => return Self::validation(errors),
            ServiceError::PasswordUnchanged => {
                return Self::validation(vec![FieldError {
                    field: "new_password".to_owned(),
                    code: FieldCode::PasswordUnchanged.as_str(),
                    message: "the new password must differ from the current one".to_owned(),
                }]);
            }
            ServiceError::TooManyRequests(seconds) => {
                return Self {
                    retry_after: Some(u64::try_from(seconds.max(1)).unwrap_or(1)),
                    ..Self::new(P::TooManyRequests)
                };
            }
            ServiceError::IdempotencyKeyInUse => {
                return Self::new(P::IdempotencyKeyInUse).retry_in(1);
            }
            ServiceError::Unavailable => return Self::new(P::ServiceUnavailable).retry_in(1),
            ServiceError::ReadModelBehind => return Self::new(P::ReadModelBehind).retry_in(1),
            ServiceError::TooManyWaitingReads => {
                return Self::new(P::ReadModelBehind)
                    .retry_in(1)
                    .with_detail("too many reads are waiting for the read model; retry");
            }
            ServiceError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                P::InternalError
            }
            ServiceError::Unauthenticated => P::Unauthenticated,
            ServiceError::InvalidCredentials => P::InvalidCredentials,
            ServiceError::WrongPassword => P::WrongPassword,
            ServiceError::AccountBlocked => P::AccountBlocked,
            ServiceError::AccountNotFound => P::AccountNotFound,
            ServiceError::AccountNotDeleted => P::AccountNotDeleted,
            ServiceError::AccountErased => P::AccountErased,
            ServiceError::SessionNotFound => P::SessionNotFound,
            ServiceError::UserNotFound => P::UserNotFound,
            ServiceError::CodeInvalid => P::CodeInvalid,
            ServiceError::CodeExpired => P::CodeExpired,
            ServiceError::Follow(error) => {
                use crate::domain::follow_graph::FollowError as F;
                match error {
                    F::SelfFollow => P::CannotFollowSelf,
                    F::GroupNotFound => P::GroupNotFound,
                    F::GroupExists => P::GroupExists,
                    F::TooManyGroups => P::GroupLimitReached,
                    F::BuiltInGroup => P::GroupUndeletable,
                    // The service names the field before the command; this is a backstop.
                    F::BadGroupName => {
                        return Self::validation(vec![FieldError::new(
                            "name",
                            crate::service::follows::bad_group_name(),
                        )]);
                    }
                    F::NotFollowing => P::NotFollowing,
                }
            }
            ServiceError::LastOwner => P::LastOwner,
            ServiceError::Forbidden => P::Forbidden,
            ServiceError::CannotBlockSelf => P::CannotBlockSelf,
            ServiceError::FollowsHidden => P::FollowsHidden,
            ServiceError::AddressNotFound => P::AddressNotFound,
            ServiceError::AddressBookFull => P::AddressLimitReached,
            ServiceError::NoEmail => P::NoEmail,
            ServiceError::EmailAlreadyVerified => P::EmailAlreadyVerified,
            ServiceError::EmailNotVerified => P::EmailNotVerified,
            ServiceError::CaptchaRequired => P::CaptchaRequired,
            ServiceError::CaptchaInvalid => P::CaptchaInvalid,
            ServiceError::PositionAhead => P::PositionAhead,
            ServiceError::IdentifierTaken(ClaimKind::Email) => P::EmailTaken,
            ServiceError::IdentifierTaken(ClaimKind::Username) => P::UsernameTaken,
            ServiceError::IdentifierTaken(ClaimKind::Phone) => P::PhoneTaken,
            ServiceError::IdentifierTaken(ClaimKind::Passkey) => P::PasskeyAlreadyRegistered,
            ServiceError::MfaInvalid => P::MfaInvalid,
            ServiceError::MfaChallengeExpired => P::MfaChallengeExpired,
            ServiceError::StepUpRequired => P::MfaStepUpRequired,
            ServiceError::MfaNotEnabled => P::MfaNotEnabled,
            ServiceError::MfaEnrolmentRequired => P::MfaEnrolmentRequired,
            ServiceError::RecentSignInRequired => P::RecentSignInRequired,
            ServiceError::TotpAlreadyEnabled => P::TotpAlreadyEnabled,
            ServiceError::TotpNotPending => P::TotpNotPending,
            ServiceError::PasskeyLimitReached => P::PasskeyLimitReached,
            ServiceError::PasskeyAlreadyRegistered => P::PasskeyAlreadyRegistered,
            ServiceError::PasskeyNotFound => P::PasskeyNotFound,
            ServiceError::PasskeyCeremonyExpired => P::PasskeyChallengeExpired,
            ServiceError::PasskeyInvalid => P::PasskeyInvalid,
            // The sign-in use cases answer it with a challenge: it never gets this far.
            ServiceError::SecondFactorRequired => {
                tracing::error!("a sign-in needing a second factor was not challenged");
                P::InternalError
            }
        };
        Self::new(code)
    }
}

impl From<ApiError> for poem::Error {
    fn from(error: ApiError) -> Self {
        let status = error.status;
        poem::Error::new(error, status)
    }
}
