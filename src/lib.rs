//! `accounts`: an event-sourced user-account service.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod domain;
pub mod store;
pub mod config;
pub mod credentials;
pub mod secrets;
pub mod service;
