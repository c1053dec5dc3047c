//! Test helpers: the service under test with a database of its own, and the test's own NATS,
//! SMTP server and SMS gateway, all real.

mod app;
mod database;
mod nats;
#[cfg(feature = "failpoints")]
mod process;
mod scenarios;
mod sms;
mod smtp;

pub use app::*;
pub use database::*;
pub use nats::*;
#[cfg(feature = "failpoints")]
pub use process::*;
pub use scenarios::*;
pub use sms::*;
pub use smtp::*;
