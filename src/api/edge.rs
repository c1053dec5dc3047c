//! What happens to every request before and after its operation: a request id, the body read
//! under a size cap, and every error rendered as a problem answer in the caller's language.

use super::i18n::Language;
use super::problem::ApiError;
use crate::service::executor::CommandMetadata;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Arc;
use tracing::Instrument;

/// The request's id: the caller's `X-Request-Id` when sensible, else a new one.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

/// The methods each documented path answers, for the `Allow` header of 405 answers.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(Arc<Vec<(Vec<String>, String)>>);

impl AllowedMethods {
    /// Reads the paths and their methods from the OpenAPI document.
    pub fn from_spec(spec: &str) -> Self {
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut templates: Vec<(Vec<String>, String)> = spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, operations)| {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = operations
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(method, _)| method.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join(", ");
                (segments, methods)
            })
            .collect();
        // Literal paths (`/v1/sessions/current`) win over templates (`/v1/sessions/{id}`).
        templates
            .sort_by_key(|(segments, _)| segments.iter().filter(|s| s.starts_with('{')).count());
        Self(Arc::new(templates))
    }

    /// True when the path has an operation for the method.
    pub fn allows(&self, path: &str, method: &str) -> bool {
        self.for_path(path)
            .is_some_and(|methods| methods.split(", ").any(|m| m == method))
    }

    fn for_path(&self, path: &str) -> Option<&str> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == wanted.len()
                    && template.iter().zip(&wanted).all(|(expected, actual)| {
                        expected == actual || (expected.starts_with('{') && !actual.is_empty())
                    })
            })
            .map(|(_, methods)| methods.as_str())
    }
}

/// Wraps every request: assigns its id, caps its body, and renders errors as problems.
pub async fn around_every_request<E: Endpoint>(
    next: E,
    mut req: Request,
    max_body_bytes: usize,
    allowed: AllowedMethods,
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
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path()
    );
    let path = req.uri().path().to_owned();
    async move {
        let started = std::time::Instant::now();
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
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            if let Some(methods) = allowed.for_path(&path) {
                if let Ok(value) = HeaderValue::from_str(methods) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
        }
        let status = response.status().as_u16();
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if response.status().is_server_error() {
            tracing::warn!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request");
        }
        Ok(response)
    }
    .instrument(span)
    .await
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

/// The `Idempotency-Key` header, declared on every command for the OpenAPI document; the
/// idempotency layer (`api::idempotency`) acts on it before the operation runs.
pub type IdempotencyKey = poem_openapi::param::Header<Option<String>>;

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
