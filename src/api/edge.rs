//! What happens to every request before and after its operation: a request id, the body read
//! under a size cap, and every error rendered as a problem answer in the caller's language.

use super::i18n::Language;
use super::problem::ApiError;
use crate::service::executor::CommandMetadata;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

/// The request's id: the caller's `X-Request-Id` when sensible, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

/// Wraps every request: assigns its id, caps its body, and renders errors as problems.
pub async fn around_every_request<E: Endpoint>(
    next: E,
    mut req: Request,
    max_body_bytes: usize,
) -> poem::Result<Response> {
    let language = Language::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok()),
    );
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.is_ascii())
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.uri().path());
    let _entered = span.enter();

    let outcome = match buffer_body(&mut req, max_body_bytes).await {
        Ok(()) => next.call(req).await.map(IntoResponse::into_response),
        Err(error) => Err(error),
    };
    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => ApiError::from_poem(&error).to_response(language),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if response.status().is_server_error() {
        tracing::warn!(status = %response.status(), "request failed");
    }
    Ok(response)
}

/// Reads the body into memory, refusing more than `limit` bytes with 413 whether or not the
/// client announced the length.
async fn buffer_body(req: &mut Request, limit: usize) -> poem::Result<()> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let body = req.take_body();
    let bytes = body
        .into_bytes_limit(limit)
        .await
        .map_err(|error| match error {
            poem::error::ReadBodyError::PayloadTooLarge => too_large(limit),
            other => other.into(),
        })?;
    req.set_body(bytes);
    Ok(())
}

fn too_large(limit: usize) -> poem::Error {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        .with_detail(format!("a request body has at most {limit} bytes"))
        .into()
}

/// Who is asking and from where, for the events a command records.
pub fn command_metadata(req: &Request) -> CommandMetadata {
    CommandMetadata {
        actor: None,
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        ip: req
            .remote_addr()
            .as_socket_addr()
            .map(|addr| addr.ip().to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(512).collect()),
        idempotency: req
            .extensions()
            .get::<crate::service::executor::IdempotencyClaim>()
            .cloned(),
    }
}
