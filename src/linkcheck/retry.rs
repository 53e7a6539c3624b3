//! One request with retries: after 429 or 5xx the checker waits as long as `Retry-After` says
//! (up to a limit) or backs off, doubling, and asks again; the host's rate limits apply to
//! every attempt.

use super::checker::{Checker, Stop};
use super::hosts::after;
use super::url::authority;
use crate::http;
use std::time::{Duration, Instant};

impl Checker {
    /// One request, with retries after 429 and 5xx; returns the last answer and the attempts.
    pub(super) fn request(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> (Result<http::Response, Stop>, u32) {
        let host = authority(url).to_string();
        let mut attempts = 0;
        loop {
            if !self.hosts.acquire(&host, self.deadline) {
                return (Err(Stop::Deadline), attempts);
            }
            attempts += 1;
            let left = self.deadline.saturating_duration_since(Instant::now());
            let timeout = self.options.timeout.min(left).max(Duration::from_millis(1));
            let answer = self.client.get(url, headers, timeout);
            self.hosts.release(&host);
            let response = match answer {
                Ok(r) => r,
                Err(f) => return (Err(Stop::Failure(f)), attempts),
            };
            match self.retry_at(&response, attempts) {
                Some(until) => self.hosts.defer(&host, until),
                None => return (Ok(response), attempts),
            }
        }
    }

    /// When to ask again after `response`, the answer to attempt number `attempts`; none when
    /// it is final: not 429 or 5xx, no retries left, or a wait too long or past the run's end.
    fn retry_at(&self, response: &http::Response, attempts: u32) -> Option<Instant> {
        let retryable = response.status == 429 || response.status >= 500;
        if !retryable || attempts > self.options.retries {
            return None;
        }
        let wait = match response.header("retry-after").map(retry_after) {
            Some(Some(d)) => d,
            _ => self
                .options
                .backoff
                .saturating_mul(2u32.saturating_pow(attempts - 1)),
        };
        let until = after(wait);
        if wait > self.options.max_retry_after || until > self.deadline {
            return None;
        }
        Some(until)
    }
}

/// `Retry-After` in seconds or as an HTTP date; None (back off instead) when it is neither.
fn retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .or_else(|| crate::time::seconds_until_http_date(value))
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_nothing_usable() {
        assert_eq!(retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("soon"), None);
    }
}
