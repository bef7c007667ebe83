//! The host's clock. Production uses the system clock; tests of time rules
//! (quiet hours, deferrals, TTLs) use a manual clock they move themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch, from the system or set by hand.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `ms` until moved.
    pub fn manual(ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(ms))))
    }

    /// Now (ms).
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => jiff::Timestamp::now().as_millisecond(),
            Some(t) => t.load(Ordering::Acquire),
        }
    }

    /// Now as a timestamp.
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.now_ms()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Move a manual clock to `ms` (no effect on the system clock).
    pub fn set_ms(&self, ms: i64) {
        if let Some(t) = &self.0 {
            t.store(ms, Ordering::Release);
        }
    }
}
