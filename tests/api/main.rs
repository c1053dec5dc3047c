//! HTTP integration tests against the real service and a real PostgreSQL database.

mod addresses;
mod admin;
mod audit;
mod codes;
mod event_log;
mod follows;
mod health;
mod helpers;
mod idempotency;
mod me;
mod projector;
mod recovery;
mod relay;
mod sessions;
mod sign_up;
mod sms;
mod throttle;
mod users;
