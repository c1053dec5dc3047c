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
