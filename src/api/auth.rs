//! Bearer-token authentication: `Authorization: Bearer <session token>`.

use super::problem::ApiError;
use crate::service;
use crate::service::{Context, ServiceError};
use crate::store::sessions::ActiveSession;
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

/// A signed-in caller: the session token named a live session.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque", checker = "live_session")]
pub struct SignedIn(pub ActiveSession);

// The same security scheme as `SignedIn` (same name and description in the document), for a
// handler that checks the token itself in the statement that reads what it answers
// (`GET /v1/me`): the bearer token, not yet checked.
/// A signed-in caller: the session token named a live session.
#[derive(SecurityScheme)]
#[oai(rename = "SignedIn", ty = "bearer", bearer_format = "opaque")]
pub struct SessionToken(pub Bearer);

async fn live_session(req: &Request, bearer: Bearer) -> poem::Result<ActiveSession> {
    let ctx = req
        .data::<Context>()
        .ok_or_else(|| ApiError::from(ServiceError::Internal(anyhow::anyhow!("no ctx"))))?;
    match service::sessions::authenticate(ctx, &bearer.token).await {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(ApiError::from(ServiceError::Unauthenticated).into()),
        Err(error) => Err(ApiError::from(error).into()),
    }
}

/// Who reads a public resource that shows more to its own user (hidden follows): the account
/// of the bearer token, when one came and is live. Not a security scheme: the read needs
/// none, and an unknown token reads as no one.
pub struct Viewer(pub Option<uuid::Uuid>);

impl<'a> poem::FromRequest<'a> for Viewer {
    async fn from_request(req: &'a Request, _body: &mut poem::RequestBody) -> poem::Result<Self> {
        let Some(token) = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            return Ok(Self(None));
        };
        let ctx = req
            .data::<Context>()
            .ok_or_else(|| ApiError::from(ServiceError::Internal(anyhow::anyhow!("no context"))))?;
        match service::sessions::authenticate(ctx, token).await {
            Ok(session) => Ok(Self(session.map(|session| session.account_id))),
            Err(error) => Err(ApiError::from(error).into()),
        }
    }
}
