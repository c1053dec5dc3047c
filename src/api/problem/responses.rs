//! Which problem statuses each operation declares (`Problems<STATUSES>`), so that the OpenAPI
//! document lists exactly those, each with what its codes mean.

use super::{ApiError, Problem, ProblemCode};
use crate::service::ServiceError;
use poem::http::StatusCode;
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use std::sync::OnceLock;

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
    /// 410: gone for good.
    pub const GONE: u64 = 1 << 11;
    /// What every command with a JSON body can answer.
    pub const BODY: u64 = BAD_REQUEST | TOO_LARGE | UNSUPPORTED | UNPROCESSABLE | UNAVAILABLE;
    /// What every signed-in operation can answer.
    pub const SIGNED_IN: u64 = BAD_REQUEST | UNAUTHORIZED | UNAVAILABLE;
    /// What a signed-in command with a JSON body can answer.
    pub const SIGNED_IN_BODY: u64 = BODY | UNAUTHORIZED | CONFLICT;
}

/// Each documented status with what it means; the codes it answers with are added from the
/// catalogue.
const DOCUMENTED: &[(u64, StatusCode, &str)] = &[
    (
        statuses::BAD_REQUEST,
        StatusCode::BAD_REQUEST,
        "The request is malformed: the body is not JSON, or a body field or parameter is of \
         another type, outside its enum, given twice or unknown (named in `errors`); or a \
         one-time code is refused.",
    ),
    (
        statuses::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        "Not signed in, or the credentials are wrong.",
    ),
    (
        statuses::FORBIDDEN,
        StatusCode::FORBIDDEN,
        "Refused to this caller.",
    ),
    (statuses::NOT_FOUND, StatusCode::NOT_FOUND, "Not found."),
    (
        statuses::CONFLICT,
        StatusCode::CONFLICT,
        "Conflicts with the current state.",
    ),
    (statuses::GONE, StatusCode::GONE, "Gone for good."),
    (
        statuses::TOO_LARGE,
        StatusCode::PAYLOAD_TOO_LARGE,
        "The body is too large.",
    ),
    (
        statuses::UNSUPPORTED,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The body is not JSON.",
    ),
    (
        statuses::UNPROCESSABLE,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Refused: invalid fields are named in `errors` (among their codes, `unknown_field` for \
         a field the operation does not take and `required` for one missing or null).",
    ),
    (
        statuses::CAPTCHA,
        StatusCode::PRECONDITION_REQUIRED,
        "A solved captcha is needed: solve `GET /v1/captcha` and send the solution as \
         `captcha`.",
    ),
    (
        statuses::TOO_MANY,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests: retry after the seconds in Retry-After.",
    ),
    (
        statuses::UNAVAILABLE,
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable: retry after the seconds in Retry-After.",
    ),
];

/// The description of each documented status: what it means, then each problem code of the
/// catalogue that answers with it and its title (`request_failed`, poem's answer for a status
/// no code names, is never one of these).
fn descriptions() -> &'static [(u64, u16, String)] {
    static DESCRIPTIONS: OnceLock<Vec<(u64, u16, String)>> = OnceLock::new();
    DESCRIPTIONS.get_or_init(|| {
        DOCUMENTED
            .iter()
            .map(|(flag, status, meaning)| {
                let codes: Vec<String> = ProblemCode::ALL
                    .iter()
                    .filter(|code| code.status() == *status && **code != ProblemCode::RequestFailed)
                    .map(|code| format!("`{}` ({})", code.as_str(), code.title().en))
                    .collect();
                let description = format!("{meaning} Codes: {}.", codes.join("; "));
                (*flag, status.as_u16(), description)
            })
            .collect()
    })
}

/// Declares on every operation of the document the problems any request can meet, whatever
/// the operation: `400` (a query parameter it does not take, a body it does not take) and `413`
/// (a body over the size limit, which is refused before the operation is known).
pub fn declare_everywhere(spec: &mut serde_json::Value) {
    let everywhere: Vec<(String, serde_json::Value)> = descriptions()
        .iter()
        .filter(|(flag, _, _)| *flag & (statuses::BAD_REQUEST | statuses::TOO_LARGE) != 0)
        .map(|(_, status, description)| {
            let answer = serde_json::json!({
                "description": description,
                "content": {"application/problem+json": {
                    "schema": {"$ref": "#/components/schemas/Problem"}
                }}
            });
            (status.to_string(), answer)
        })
        .collect();
    for (_, operation) in crate::api::spec_index::operations_mut(spec) {
        let Some(responses) = operation["responses"].as_object_mut() else {
            continue;
        };
        for (status, answer) in &everywhere {
            responses
                .entry(status.clone())
                .or_insert_with(|| answer.clone());
        }
        let mut sorted: Vec<(String, serde_json::Value)> =
            std::mem::take(responses).into_iter().collect();
        sorted.sort_by(|(a, _), (b, _)| a.cmp(b));
        responses.extend(sorted);
    }
}

/// The problem answers of an operation that can fail with the statuses in `STATUSES`.
#[derive(Debug)]
pub struct Problems<const STATUSES: u64>(pub ApiError);

impl<const STATUSES: u64> ApiResponse for Problems<STATUSES> {
    fn meta() -> MetaResponses {
        let responses = descriptions()
            .iter()
            .filter(|(flag, _, _)| STATUSES & flag != 0)
            .map(|(_, status, description)| MetaResponse {
                description: description.as_str(),
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
