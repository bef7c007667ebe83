//! A circuit breaker per (tenant, plugin) binding: after repeated failures
//! within a window the binding is suspended — its messages go to humans with
//! the reason, without calling the plugin — and after a cool-down one trial
//! call decides whether it closes again or stays open.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures within [`WINDOW`] that open the breaker.
pub const THRESHOLD: usize = 5;
/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long an open breaker waits before a trial call.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

/// The breaker of one binding.
#[derive(Debug, Default)]
pub struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: VecDeque<Instant>,
    open_until: Option<Instant>,
    trial: bool,
    last_error: Option<String>,
    trips: u32,
}

/// What an admin sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerStatus {
    /// `closed`, `open` or `half-open` (a trial call is running).
    pub state: &'static str,
    /// Failures within the window.
    pub recent_failures: usize,
    /// Seconds until a trial call is allowed (open only).
    pub retry_in_secs: Option<u64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// How often it opened since start-up.
    pub trips: u32,
}

impl Breaker {
    /// May the plugin be called now? `Err` says why not. When the cool-down
    /// has passed, one caller gets a trial call; others still wait.
    pub fn allow(&self, now: Instant) -> Result<(), String> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.open_until {
            None => Ok(()),
            Some(until) if now >= until && !s.trial => {
                s.trial = true;
                Ok(())
            }
            Some(_) => Err(format!(
                "suspended after {} failures within {} s (last: {}); retried after a {} s cool-down",
                THRESHOLD,
                WINDOW.as_secs(),
                s.last_error.as_deref().unwrap_or("unknown"),
                COOL_DOWN.as_secs()
            )),
        }
    }

    /// Record how a call went.
    pub fn record(&self, now: Instant, error: Option<&str>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            None => {
                s.failures.clear();
                s.open_until = None;
                s.trial = false;
            }
            Some(e) => {
                s.last_error = Some(e.chars().take(300).collect());
                s.failures.push_back(now);
                while s.failures.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
                    s.failures.pop_front();
                }
                let trial_failed = s.trial;
                if trial_failed || (s.open_until.is_none() && s.failures.len() >= THRESHOLD) {
                    s.open_until = Some(now + COOL_DOWN);
                    s.trial = false;
                    s.trips += 1;
                }
            }
        }
    }

    /// The state now.
    pub fn status(&self, now: Instant) -> BreakerStatus {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let recent = s.failures.iter().filter(|t| now.duration_since(**t) <= WINDOW).count();
        let (state, retry_in_secs) = match s.open_until {
            None => ("closed", None),
            Some(_) if s.trial => ("half-open", None),
            Some(until) => ("open", Some(until.saturating_duration_since(now).as_secs())),
        };
        BreakerStatus {
            state,
            recent_failures: recent,
            retry_in_secs,
            last_error: s.last_error.clone(),
            trips: s.trips,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_after_a_good_trial() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for i in 0..THRESHOLD - 1 {
            assert!(b.allow(t0).is_ok());
            b.record(t0 + Duration::from_secs(i as u64), Some("trap"));
        }
        assert_eq!(b.status(t0).state, "closed");
        b.record(t0 + Duration::from_secs(5), Some("deadline"));
        let why = b.allow(t0 + Duration::from_secs(6)).unwrap_err();
        assert!(why.contains("suspended after 5 failures") && why.contains("deadline"), "{why}");
        assert_eq!(b.status(t0 + Duration::from_secs(6)).state, "open");
        // After the cool-down: one trial; the others still wait.
        let later = t0 + Duration::from_secs(5) + COOL_DOWN;
        assert!(b.allow(later).is_ok());
        assert!(b.allow(later).is_err());
        assert_eq!(b.status(later).state, "half-open");
        // A failed trial opens it again; a good one closes it.
        b.record(later, Some("trap"));
        assert_eq!(b.status(later).state, "open");
        assert_eq!(b.status(later).trips, 2);
        let again = later + COOL_DOWN;
        assert!(b.allow(again).is_ok());
        b.record(again, None);
        assert_eq!(b.status(again).state, "closed");
        assert!(b.allow(again).is_ok());
    }

    #[test]
    fn old_failures_fall_out_of_the_window() {
        let b = Breaker::default();
        let t0 = Instant::now();
        for i in 0..THRESHOLD as u64 {
            b.record(t0 + WINDOW / 2 * i as u32, Some("trap"));
        }
        assert_eq!(b.status(t0 + WINDOW * 2).state, "closed");
    }
}
