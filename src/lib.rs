//! `accounts`: an event-sourced user-account service.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod captcha;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod events;
pub mod export;
pub mod factors;
pub mod faults;
pub mod jetstream;
pub mod leadership;
pub mod messages;
pub mod passkeys;
pub mod personal;
pub mod projector;
pub mod relay;
pub mod secrets;
pub mod server;
pub mod service;
pub mod store;
pub mod synthetic;
pub mod telemetry;
