//! The application layer: one function per use case, grouped by area. Each takes the shared
//! [`Context`] and typed values (the API parses requests), loads what it needs, decides, and
//! commits. Queries answer from the store. Nothing here knows about HTTP.
//!
//! # Map of the use cases
//!
//! | Area | Commands | Queries |
//! |------|----------|---------|
//! | [`sign_up`] | `sign_up` (email, username or phone; the verification mail it owes) | |
//! | [`sign_in`] | `sign_in` by password, with its throttle and captcha | `captcha_challenge` |
//! | [`recovery`] | `sign_in_with_code`, `sign_in_or_up_by_sms`, `request_password_reset`, `reset_password`, `delete_account_with_code` | |
//! | [`sessions`] | `end_sessions` | `authenticate` a bearer token, `live` sessions |
//! | [`profile`] | `update_profile`, `change_privacy`, `change_password`, `delete_account` | [`accounts::account`] |
//! | [`contact`] | `request_email_verification`, `confirm_email`, `change_email`, `change_phone` | |
//! | [`codes`] | `send_code`, `check_code` | |
//! | [`addresses`] | `add_address`, `change_address`, `remove_address`, `make_default_address` | `address_book` |
//! | [`follows`] | `follow`, `unfollow`, `create_group`, `delete_group` | `follow_page`, `my_following` |
//! | [`users`] | | `public_profile`, `public_profiles`, `user_id_by_username` |
//! | [`admin`] | `edit_account`, `set_role`, `block`, `unblock`, `set_featured`, `delete_account`, `create_owner` (command line) | `admin_account` (as it was at an instant), `admin_list` |
//! | [`audit`] | | `account_history`, `admin_history`, `admin_log` |
//!
//! What areas share: [`accounts`] runs commands on an account's stream (with the inline writes
//! its events imply), `proven` spends codes and makes the change they prove in one
//! transaction, [`executor`] loads and appends any aggregate in a [`executor::Unit`] (one
//! transaction over one or more streams), and [`read_models`] waits for a projection to reach
//! a position. Every command commits once: its events, inline writes and `Idempotency-Key`
//! claim together. The one exception is the courtesy mail after a sign-up, which is its own
//! command, so that a refused mail (limits) never undoes the sign-up.

pub mod accounts;
pub mod addresses;
pub mod admin;
pub mod audit;
pub mod codes;
pub mod contact;
pub mod erasure;
mod error;
pub mod executor;
pub mod follows;
pub mod passkeys;
pub mod personal_data;
pub mod profile;
mod proven;
pub mod read_models;
pub mod recovery;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;
pub mod sign_up;
pub mod stream_queue;
pub mod users;

pub use error::{FieldError, ServiceError};

use crate::credentials::PasswordHasher;
use crate::secrets::SecretBox;
use deadpool_postgres::Pool;

/// What every use case shares, cloned cheaply into each request.
#[derive(Clone)]
pub struct Context {
    /// The database.
    pub pool: Pool,
    /// Connections shared by single-statement reads (the session checks), which PostgreSQL
    /// then receives pipelined.
    pub reads: crate::store::shared_reads::SharedReads,
    /// The time commands are decided at.
    pub clock: crate::clock::Clock,
    /// Password hashing (argon2id).
    pub hasher: PasswordHasher,
    /// Sealing of secrets at rest, and the keys codes and links are hashed with.
    pub secrets: SecretBox,
    /// Keyed pseudonyms of identifiers: code stream ids, throttle and rate-limit keys.
    pub pseudonyms: crate::domain::pseudonyms::Pseudonyms,
    /// The data keys that seal personal data in the log (`crate::personal`).
    pub keys: std::sync::Arc<crate::personal::Keyring>,
    /// Proof-of-work challenges, for sign-in and sign-up protection.
    pub captcha: crate::captcha::Captcha,
    /// The operator's settings the use cases follow.
    pub policy: Policy,
    /// Wake-ups when projections move, for reads that wait for a position (at most the
    /// operator's `read_wait_ms`).
    pub projections: read_models::ProjectionWatch,
    /// The NATS connection, for readiness reports.
    pub nats: async_nats::Client,
    /// The WebAuthn relying party, for passkeys.
    pub passkeys: std::sync::Arc<crate::passkeys::Passkeys>,
}

/// The operator's settings (see `Config`) that change what use cases decide.
#[derive(Debug, Clone)]
pub struct Policy {
    /// How long sessions last.
    pub session_ttl: chrono::Duration,
    /// Whether a sign-up by email needs a code sent to the address.
    pub require_email_code: bool,
    /// Failed sign-ins from one client address before its sign-ins need a captcha (0: never).
    pub sign_in_failures_per_address: u32,
    /// Sign-ups from one client address in an hour before the next need a captcha (0: never).
    pub sign_ups_per_address: u32,
    /// Codes one client address may ask for in an hour (0: no limit).
    pub codes_per_address: u32,
    /// The issuer authenticator apps show beside TOTP codes.
    pub totp_issuer: String,
    /// Administrators and owners must have a second factor to administer.
    pub require_mfa_for_admins: bool,
    /// How long a deleted account waits before its personal data is erased.
    pub erasure_grace: chrono::Duration,
}

impl Context {
    /// The current instant, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
