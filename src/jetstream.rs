//! The JetStream stream the relay publishes the log to and the projectors and subscribers read.

use anyhow::Context as _;
use async_nats::jetstream::{self, stream};
use std::time::Duration;

/// How long the stream keeps an event when no setting says (`ACCOUNTS_NATS_MAX_AGE_DAYS`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The events stream, created if missing: file storage, subjects `<prefix>.>`, a duplicate
/// window of 10 minutes for `Nats-Msg-Id`, and a maximum age: events carry personal data to
/// subscribers in clear, so the stream forgets each after `max_age` (zero: never). With
/// `max_age`, an existing stream of another maximum age is updated to it (the relay, which
/// owns the setting); without, [`DEFAULT_MAX_AGE`] for a stream it creates.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    name: &str,
    subject_prefix: &str,
    max_age: Option<Duration>,
) -> anyhow::Result<stream::Stream> {
    let config = stream::Config {
        name: name.to_owned(),
        subjects: vec![format!("{subject_prefix}.>")],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(10 * 60),
        max_age: max_age.unwrap_or(DEFAULT_MAX_AGE),
        ..Default::default()
    };
    let mut stream = jetstream
        .get_or_create_stream(config.clone())
        .await
        .context("creating the JetStream stream")?;
    if let Some(max_age) = max_age
        && stream.cached_info().config.max_age != max_age
    {
        let mut updated = stream.cached_info().config.clone();
        updated.max_age = max_age;
        jetstream
            .update_stream(updated)
            .await
            .context("setting the JetStream stream's maximum age")?;
        stream = jetstream
            .get_stream(name)
            .await
            .context("reading the JetStream stream")?;
    }
    Ok(stream)
}
