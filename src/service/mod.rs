//! The application layer: use cases that load a stream, decide, and append, plus the queries
//! that answer from the store. The API maps HTTP onto these; nothing here knows about HTTP.

pub mod accounts;
pub mod addresses;
pub mod admin;
pub mod codes;
mod error;
pub mod executor;
pub mod follows;
pub mod read_models;
pub mod recovery;
pub mod users;

pub use error::{FieldError, ServiceError};

use crate::credentials::PasswordHasher;
use crate::secrets::SecretBox;
use deadpool_postgres::Pool;

/// Everything a use case needs, cloned cheaply into each request.
#[derive(Clone)]
pub struct Services {
    /// The database.
    pub pool: Pool,
    /// Password hashing.
    pub hasher: PasswordHasher,
    /// Sealing of secrets at rest.
    pub secrets: SecretBox,
    /// How long sessions last.
    pub session_ttl: chrono::Duration,
    /// The NATS connection, for readiness reports.
    pub nats: async_nats::Client,
    /// Wake-ups when projections move.
    pub projections: read_models::ProjectionWatch,
    /// Longest wait of a query for `min_position`.
    pub read_wait: std::time::Duration,
    /// Proof-of-work challenges for sign-in protection.
    pub captcha: crate::captcha::Captcha,
    /// Whether a sign-up by email needs a code sent to the address.
    pub require_email_code: bool,
    /// Failed sign-ins from one client address before its sign-ins need a captcha (0: never).
    pub sign_in_failures_per_address: u32,
    /// Sign-ups from one client address in an hour before the next need a captcha (0: never).
    pub sign_ups_per_address: u32,
    /// The time commands are decided at.
    pub clock: crate::clock::Clock,
}

impl Services {
    /// The current instant, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
