//! Rate limits per host: how many requests to one host are in flight, and when the next may
//! start (the minimum interval, a `Retry-After` or a back-off).

use super::limits;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// `Instant::now()` plus `wait`, or a point far beyond any run when that overflows.
pub(super) fn after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_secs(limits::MAX_RUN_TIME_SECS * 2)))
        .unwrap_or(now)
}

/// Per-host limits: requests in flight and the earliest next start.
pub(super) struct Hosts {
    state: Mutex<HashMap<String, HostState>>,
    cv: Condvar,
    per_host: usize,
    interval: Duration,
}

#[derive(Default)]
struct HostState {
    active: usize,
    next: Option<Instant>,
}

impl Hosts {
    /// At most `per_host` (at least one) requests at once to a host, their starts at least
    /// `interval` apart.
    pub(super) fn new(per_host: usize, interval: Duration) -> Hosts {
        Hosts {
            state: Mutex::new(HashMap::new()),
            cv: Condvar::new(),
            per_host: per_host.max(1),
            interval,
        }
    }

    /// Waits for a slot on `host`; false when `deadline` passes first.
    pub(super) fn acquire(&self, host: &str, deadline: Instant) -> bool {
        let mut map = self.state.lock().expect("hosts lock");
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let s = map.entry(host.to_string()).or_default();
            let ready_at = s.next.filter(|n| *n > now);
            if s.active < self.per_host && ready_at.is_none() {
                s.active += 1;
                s.next = Some(now.checked_add(self.interval).unwrap_or(deadline));
                return true;
            }
            let wait = ready_at
                .map_or(Duration::from_millis(200), |t| t - now)
                .min(deadline - now);
            map = self.cv.wait_timeout(map, wait).expect("hosts lock").0;
        }
    }

    pub(super) fn release(&self, host: &str) {
        let mut map = self.state.lock().expect("hosts lock");
        if let Some(s) = map.get_mut(host) {
            s.active = s.active.saturating_sub(1);
        }
        self.cv.notify_all();
    }

    /// No request to `host` starts before `until` (a `Retry-After` or a back-off).
    pub(super) fn defer(&self, host: &str, until: Instant) {
        let mut map = self.state.lock().expect("hosts lock");
        let s = map.entry(host.to_string()).or_default();
        if s.next.is_none_or(|n| n < until) {
            s.next = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_any_size_never_overflow_an_instant() {
        let hosts = Hosts::new(2, Duration::MAX);
        let deadline = after(Duration::MAX);
        assert!(hosts.acquire("h", deadline));
        hosts.release("h");
        hosts.defer("h", after(Duration::MAX));
        assert!(after(Duration::MAX) > Instant::now());
    }

    #[test]
    fn a_host_waits_for_its_interval_and_a_deadline_ends_the_wait() {
        let hosts = Hosts::new(4, Duration::from_secs(3600));
        let deadline = after(Duration::from_millis(50));
        assert!(hosts.acquire("h", deadline), "the first request starts");
        hosts.release("h");
        assert!(
            hosts.acquire("other", deadline),
            "another host does not wait"
        );
        assert!(
            !hosts.acquire("h", deadline),
            "the next waits past the deadline"
        );
    }
}
