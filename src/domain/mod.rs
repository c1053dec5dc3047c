//! The domain: aggregates as pure functions and the values they are made of.
//!
//! Nothing here knows about HTTP, SQL or NATS. Time and new ids are inputs, so every decision
//! is exact and testable without I/O.

pub mod account;
pub mod address_book;
pub mod code;
pub mod follow_graph;
pub mod values;

/// Something that can happen to an aggregate, recorded in the log under a stable type name.
pub trait DomainEvent: serde::Serialize + serde::de::DeserializeOwned + Clone {
    /// The event's type name in the log, e.g. `AccountRegistered`.
    fn event_type(&self) -> &'static str;
    /// The version of this event type's data layout.
    fn schema_version(&self) -> i32 {
        1
    }
}

/// An aggregate rebuilt from its stream by folding its events.
pub trait Aggregate: Default + Clone + Send + Sync {
    /// The stream type in the log, e.g. `account`.
    const STREAM_TYPE: &'static str;
    /// The events of this aggregate.
    type Event: DomainEvent + Send + Sync;
    /// Applies one event to the state.
    fn evolve(self, event: &Self::Event) -> Self;
}
