//! `accounts`: an event-sourced user-account service.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod domain;
