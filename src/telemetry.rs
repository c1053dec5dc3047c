//! Prometheus metrics: counters kept by this process, and gauges of the pipeline read from the
//! database at each scrape (so that every instance reports the same lag, whichever runs the
//! relay and the projectors).

use deadpool_postgres::Pool;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use.
fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// Installs the recorder; call once at start so that counters count from the beginning.
pub fn init() {
    let _ = handle();
}

/// Counts events appended by a command.
pub fn events_appended(stream_type: &'static str, event_type: &'static str) {
    metrics::counter!(
        "accounts_events_appended_total",
        "stream_type" => stream_type,
        "event_type" => event_type
    )
    .increment(1);
}

/// Counts events a projector applied (or recorded as failed).
pub fn events_projected(projection: &str, applied: usize, failed: usize) {
    let name = projection.to_owned();
    metrics::counter!("accounts_projection_events_applied_total", "projection" => name.clone())
        .increment(applied as u64);
    metrics::counter!("accounts_projection_events_failed_total", "projection" => name)
        .increment(failed as u64);
}

/// Counts events the relay published.
pub fn events_published(count: usize) {
    metrics::counter!("accounts_relay_events_published_total").increment(count as u64);
}

/// The metrics in Prometheus's text format, with the pipeline's gauges read now.
pub async fn render(pool: &Pool) -> String {
    if let Err(error) = read_pipeline_gauges(pool).await {
        tracing::warn!(error = format!("{error:#}"), "pipeline gauges not read");
    }
    handle().map(PrometheusHandle::render).unwrap_or_default()
}

async fn read_pipeline_gauges(pool: &Pool) -> anyhow::Result<()> {
    let client = pool.get().await?;
    let head: i64 = client
        .query_one("SELECT coalesce(max(position), 0) FROM events", &[])
        .await?
        .get(0);
    metrics::gauge!("accounts_log_head_position").set(head as f64);
    // Lag: the events after each reader's cursor, and the age of the oldest of them.
    let rows = client
        .query(
            "WITH readers AS (
                 SELECT 'relay' AS kind, reader AS name, transaction_id, position, 0::bigint AS failures
                 FROM log_checkpoints WHERE reader = 'relay'
                 UNION ALL
                 SELECT 'projection', p.name, p.transaction_id, p.position,
                        (SELECT count(*) FROM projection_failures f
                         WHERE f.projection = p.name AND f.generation = p.generation)
                 FROM projections p
             )
             SELECT r.kind, r.name, r.position, r.failures, behind.events,
                    coalesce(extract(epoch FROM now() - behind.oldest), 0)::float8
             FROM readers r,
             LATERAL (SELECT count(*) AS events, min(e.recorded_at) AS oldest FROM events e
                      WHERE (e.transaction_id, e.position) > (r.transaction_id, r.position)) behind",
            &[],
        )
        .await?;
    for row in rows {
        let kind: String = row.get(0);
        let name: String = row.get(1);
        let position: i64 = row.get(2);
        let failures: i64 = row.get(3);
        let lag_events: i64 = row.get(4);
        let lag_seconds: f64 = row.get(5);
        if kind == "relay" {
            metrics::gauge!("accounts_relay_position").set(position as f64);
            metrics::gauge!("accounts_relay_lag_events").set(lag_events as f64);
            metrics::gauge!("accounts_relay_lag_seconds").set(lag_seconds);
        } else {
            metrics::gauge!("accounts_projection_position", "projection" => name.clone())
                .set(position as f64);
            metrics::gauge!("accounts_projection_lag_events", "projection" => name.clone())
                .set(lag_events as f64);
            metrics::gauge!("accounts_projection_lag_seconds", "projection" => name.clone())
                .set(lag_seconds);
            metrics::gauge!("accounts_projection_failed_events", "projection" => name)
                .set(failures as f64);
        }
    }
    Ok(())
}
