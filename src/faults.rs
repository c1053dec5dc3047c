//! Fault points: named places where the crash tests stop the process on purpose.
//!
//! Built only with the `failpoints` feature (the test command turns it on); otherwise every
//! point is an empty `async fn`. With the feature, a point configured in the `FAILPOINTS`
//! environment variable as `name=return` (or `name=1*return`, once) prints
//! `fault point <name> reached` on standard error and then never returns, so that a test can
//! kill the process exactly there; as `name=return(<ms>)` it waits that many milliseconds and
//! goes on, so that a test can break something meanwhile (`fail` crate, as TiKV uses it).

/// Stops here for good when the point `name` is configured; returns at once otherwise.
#[allow(
    clippy::unused_async,
    reason = "empty without the `failpoints` feature"
)]
pub async fn point(name: &'static str) {
    #[cfg(feature = "failpoints")]
    {
        let reached = (|| {
            fail::fail_point!(name, |argument: Option<String>| Some(argument));
            None
        })();
        if let Some(pause) = reached {
            eprintln!("fault point {name} reached");
            match pause.and_then(|ms| ms.parse().ok()) {
                Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                None => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// Reads the points' configuration from `FAILPOINTS`, for the life of the process.
pub fn configure_from_environment() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}
