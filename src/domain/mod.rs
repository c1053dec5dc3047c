//! The domain: aggregates as pure functions and the values they are made of.
//!
//! Nothing here knows about HTTP, SQL or NATS. Time and new ids are inputs, so every decision
//! is exact and testable without I/O.

pub mod account;
pub mod address_book;
pub mod code;
pub mod follow_graph;
pub mod pseudonyms;
pub mod values;

#[cfg(test)]
pub mod testing;

/// Something that can happen to an aggregate, recorded in the log under a stable type name.
pub trait DomainEvent: serde::Serialize + serde::de::DeserializeOwned + Clone {
    /// The event's type name in the log, e.g. `AccountRegistered`.
    fn event_type(&self) -> &'static str;
    /// The version of this event type's data layout.
    fn schema_version(&self) -> i32 {
        1
    }
}

/// An aggregate: it decides what a command leads to from its state, and is rebuilt from its
/// stream by folding its events. Both are pure; time and new ids come in the commands.
pub trait Aggregate:
    Default
    + Clone
    + PartialEq
    + std::fmt::Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
{
    /// The stream type in the log, e.g. `account`.
    const STREAM_TYPE: &'static str;
    /// The source of what shapes the state: its type and `evolve`. A snapshot is used only by
    /// a build whose sources hash the same ([`Aggregate::snapshot_format`]); after any change
    /// to them the stream is replayed in full and snapshotted again.
    const STATE_SOURCES: &'static [&'static str];

    /// The format of this aggregate's snapshots: the SHA-256 (hex) of its `STATE_SOURCES`.
    fn snapshot_format() -> &'static str {
        static FORMATS: std::sync::Mutex<Vec<(&'static str, &'static str)>> =
            std::sync::Mutex::new(Vec::new());
        let mut formats = FORMATS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, format)) = formats.iter().find(|(t, _)| *t == Self::STREAM_TYPE) {
            return format;
        }
        use sha2::Digest as _;
        let mut hash = sha2::Sha256::new();
        for source in Self::STATE_SOURCES {
            hash.update(source.as_bytes());
            hash.update([0]);
        }
        let format: &'static str = Box::leak(hex::encode(hash.finalize()).into_boxed_str());
        formats.push((Self::STREAM_TYPE, format));
        format
    }
    /// The events of this aggregate.
    type Event: DomainEvent + Send + Sync;
    /// What callers ask of it.
    type Command;
    /// Why it refuses a command.
    type Error;
    /// The events `command` leads to from this state (none when it changes nothing), or why
    /// it is refused.
    fn decide(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    /// Applies one event to the state.
    fn evolve(self, event: &Self::Event) -> Self;
}
