//! The one source of `now`. The app reads the time through the `Clock` in its
//! state (handlers, jobs, the CLI), so tests can pin or move it and no result
//! depends on the date or hour a test runs. Production uses the system clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// The current time: the system's, or a pinned instant that tests set.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    pinned: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// Reads the system clock.
    pub fn system() -> Clock {
        Clock { pinned: None }
    }

    /// Stands still at `at` until moved with `set` or `advance`.
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock {
            pinned: Some(Arc::new(Mutex::new(at))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.pinned {
            Some(at) => *at.lock().unwrap_or_else(|e| e.into_inner()),
            None => Utc::now(),
        }
    }

    /// Moves a fixed clock to `at`; a system clock cannot be moved.
    pub fn set(&self, at: DateTime<Utc>) {
        let pinned = self.pinned.as_ref().expect("only a fixed clock can be set");
        *pinned.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves a fixed clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.set(self.now() + by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_fixed_clock_stands_still_until_moved() {
        let at = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        let clock = Clock::fixed(at);
        assert_eq!(clock.now(), at);
        let shared = clock.clone();
        shared.advance(Duration::days(1));
        assert_eq!(clock.now(), at + Duration::days(1), "clones share the time");
    }

    #[test]
    fn the_system_clock_moves() {
        let clock = Clock::system();
        let a = clock.now();
        assert!(clock.now() >= a);
        assert!((Utc::now() - a).num_seconds().abs() < 5);
    }
}
