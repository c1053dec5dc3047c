//! The service's clock: wall time, which tests may move forward to see what time does
//! (codes expiring, limits lifting) without waiting for it.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Wall time plus an offset that only ever grows; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and its clones) forward by `by`; a negative duration does nothing.
    pub fn advance(&self, by: Duration) {
        self.ahead_ms
            .fetch_add(by.num_milliseconds().max(0), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_runs_ahead_in_every_clone_and_never_back() {
        let clock = Clock::default();
        let clone = clock.clone();
        clock.advance(Duration::minutes(11));
        clock.advance(Duration::minutes(-30));
        let ahead = clone.now() - Utc::now();
        assert!(ahead > Duration::minutes(10) && ahead <= Duration::minutes(11));
    }
}
