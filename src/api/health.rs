//! Liveness and readiness probes.

use super::ApiTags;
use crate::service::Context;
use poem::web::Data;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

/// A probe's answer.
#[derive(Debug, Object)]
pub struct Health {
    /// `ok`; for readiness also `degraded` (NATS down: commands work, events wait) or
    /// `unavailable` (database down).
    pub status: String,
    /// The database's state (`ok` or `unavailable`), for readiness.
    #[oai(skip_serializing_if_is_none)]
    pub database: Option<String>,
    /// NATS's state (`ok` or `unavailable`), for readiness.
    #[oai(skip_serializing_if_is_none)]
    pub nats: Option<String>,
}

#[derive(ApiResponse)]
enum Readiness {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// A dependency is down.
    #[oai(status = 503)]
    NotReady(Json<Health>),
}

/// Probes.
pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness
    ///
    /// Answers while the process runs.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".to_owned(),
            database: None,
            nats: None,
        })
    }

    /// Metrics
    ///
    /// Prometheus text format: `accounts_events_appended_total` (by stream and event type),
    /// `accounts_log_head_position`, `accounts_relay_lag_events` and `_seconds`, and per
    /// projection `accounts_projection_lag_events`, `_lag_seconds`, `_position` and
    /// `_failed_events`, read from the database at each scrape.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, ctx: Data<&Context>) -> PlainText<String> {
        PlainText(crate::telemetry::render(&ctx.pool).await)
    }

    /// Readiness
    ///
    /// Answers 200 when the database answers, else 503. NATS being down makes the service
    /// `degraded`, not unready: commands still succeed and their events are published later.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, ctx: Data<&Context>) -> Readiness {
        let database_ok = match ctx.pool.get().await {
            Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        };
        let nats_ok = ctx.nats.connection_state() == async_nats::connection::State::Connected;
        let state = |ok: bool| if ok { "ok" } else { "unavailable" }.to_owned();
        let health = Health {
            status: match (database_ok, nats_ok) {
                (false, _) => "unavailable",
                (true, false) => "degraded",
                (true, true) => "ok",
            }
            .to_owned(),
            database: Some(state(database_ok)),
            nats: Some(state(nats_ok)),
        };
        if database_ok {
            Readiness::Ready(Json(health))
        } else {
            Readiness::NotReady(Json(health))
        }
    }
}
