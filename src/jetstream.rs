//! The JetStream stream the relay publishes the log to and the projectors and subscribers read.

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use std::time::Duration;

/// The events stream, created if missing: file storage, subjects `<prefix>.>`, and a
/// duplicate window of 10 minutes for `Nats-Msg-Id`.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    name: &str,
    subject_prefix: &str,
) -> anyhow::Result<stream::Stream> {
    jetstream
        .get_or_create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{subject_prefix}.>")],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(10 * 60),
            ..Default::default()
        })
        .await
        .context("creating the JetStream stream")
}
