//! Which problem statuses each operation declares (`Problems<STATUSES>`), so that the OpenAPI
//! document lists exactly those, each with what its codes mean.

use super::{ApiError, Problem};
use crate::service::ServiceError;
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;

/// Bit flags naming the problem statuses an operation can answer.
pub mod statuses {
    /// 400: malformed JSON, wrong types, bad parameters.
    pub const BAD_REQUEST: u64 = 1;
    /// 401: not signed in, or wrong credentials at sign-in.
    pub const UNAUTHORIZED: u64 = 1 << 1;
    /// 403: refused to this caller.
    pub const FORBIDDEN: u64 = 1 << 2;
    /// 404: no such resource.
    pub const NOT_FOUND: u64 = 1 << 3;
    /// 409: conflicts with the current state.
    pub const CONFLICT: u64 = 1 << 4;
    /// 413: body too large.
    pub const TOO_LARGE: u64 = 1 << 5;
    /// 415: not JSON.
    pub const UNSUPPORTED: u64 = 1 << 6;
    /// 422: invalid fields, or an idempotency key reused with another request.
    pub const UNPROCESSABLE: u64 = 1 << 7;
    /// 503: a dependency is down; retry.
    pub const UNAVAILABLE: u64 = 1 << 8;
    /// 428: a captcha is required first.
    pub const CAPTCHA: u64 = 1 << 9;
    /// 429: too many requests; see Retry-After.
    pub const TOO_MANY: u64 = 1 << 10;
    /// What every command with a JSON body can answer.
    pub const BODY: u64 = BAD_REQUEST | TOO_LARGE | UNSUPPORTED | UNPROCESSABLE | UNAVAILABLE;
    /// What every signed-in operation can answer.
    pub const SIGNED_IN: u64 = BAD_REQUEST | UNAUTHORIZED | UNAVAILABLE;
    /// What a signed-in command with a JSON body can answer.
    pub const SIGNED_IN_BODY: u64 = BODY | UNAUTHORIZED | CONFLICT;
}

const DOCUMENTED: &[(u64, u16, &str)] = &[
    (
        statuses::BAD_REQUEST,
        400,
        "The request is malformed: `invalid_body` (not JSON; or, naming the field in `errors`, \
         a key twice in one object, `duplicate_field`, or a value of another type or outside \
         its enum, `wrong_type`), `invalid_request`; or a one-time code is `code_invalid` or \
         `code_expired`.",
    ),
    (
        statuses::UNAUTHORIZED,
        401,
        "Not signed in (`unauthenticated`), or `invalid_credentials`.",
    ),
    (
        statuses::FORBIDDEN,
        403,
        "Refused: `account_blocked`, `wrong_password`, `follows_hidden`, `forbidden` (role, or an \
         admin acting on an admin or owner).",
    ),
    (
        statuses::NOT_FOUND,
        404,
        "Not found: `account_not_found`, `session_not_found`, `user_not_found`, \
         `address_not_found`, `group_not_found`, `not_following`.",
    ),
    (
        statuses::CONFLICT,
        409,
        "Conflicts with current state: `email_taken`, `username_taken`, `idempotency_key_in_use`, \
         `email_already_verified`, `email_not_verified`, `no_email`, `address_limit_reached`, `group_exists`, \
         `group_limit_reached`, `group_undeletable`, `last_owner`, `cannot_block_self`.",
    ),
    (
        statuses::TOO_LARGE,
        413,
        "The body is too large: `payload_too_large`.",
    ),
    (
        statuses::UNSUPPORTED,
        415,
        "The body is not JSON: `unsupported_media_type`.",
    ),
    (
        statuses::UNPROCESSABLE,
        422,
        "Invalid fields (`validation_failed`, with `errors`: among their codes, \
         `unknown_field` for a field the operation does not take and `required` for one missing \
         or null), `idempotency_key_reused`, `cannot_follow_self`, `invalid_group_name`.",
    ),
    (
        statuses::CAPTCHA,
        428,
        "A solved captcha is needed (many failed sign-ins for this identifier or from this \
         address, or many sign-ups from this address): `captcha_required` (solve `GET \
         /v1/captcha` and send the solution as `captcha`), or `captcha_invalid`.",
    ),
    (
        statuses::TOO_MANY,
        429,
        "Too many requests (`too_many_requests`): retry after the seconds in Retry-After.",
    ),
    (
        statuses::UNAVAILABLE,
        503,
        "Temporarily unavailable: `service_unavailable`, or `read_model_behind` when the read \
         model has not reached `min_position` in time; see Retry-After.",
    ),
];

/// The problem answers of an operation that can fail with the statuses in `STATUSES`.
#[derive(Debug)]
pub struct Problems<const STATUSES: u64>(pub ApiError);

impl<const STATUSES: u64> ApiResponse for Problems<STATUSES> {
    fn meta() -> MetaResponses {
        let responses = DOCUMENTED
            .iter()
            .filter(|(flag, _, _)| STATUSES & flag != 0)
            .map(|(_, status, description)| MetaResponse {
                description,
                status: Some(*status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/problem+json",
                    schema: Problem::schema_ref(),
                }],
                headers: vec![],
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl<const STATUSES: u64> From<Problems<STATUSES>> for poem::Error {
    fn from(problems: Problems<STATUSES>) -> Self {
        problems.0.into()
    }
}

impl<const STATUSES: u64> From<ServiceError> for Problems<STATUSES> {
    fn from(error: ServiceError) -> Self {
        Self(error.into())
    }
}

impl<const STATUSES: u64> From<ApiError> for Problems<STATUSES> {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}
