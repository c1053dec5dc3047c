//! HTTP integration tests against the real service and a real PostgreSQL database.

mod addresses;
mod admin;
mod audit;
mod bodies;
mod browser;
mod clients;
mod codes;
#[cfg(feature = "failpoints")]
mod crashes;
mod erasure;
mod event_log;
mod follows;
mod headers;
mod health;
mod helpers;
mod idempotency;
mod identifiers;
mod mail_delivery;
mod me;
mod mfa;
mod passkeys;
mod personal_data;
mod problems;
mod projector;
mod recovery;
mod relay;
mod retention;
mod sessions;
mod sign_up;
mod sms;
mod snapshots;
mod takeover;
mod throttle;
mod users;
