//! How links are checked: [`Options`], their defaults and the bounds the command line accepts
//! (the one home of both), and the User-Agent.

use std::time::Duration;

/// The default Memento TimeGate (the Internet Archive's Wayback Machine).
pub const DEFAULT_TIMEGATE: &str = "https://web.archive.org/web/";

/// The defaults of [`Options`] and the most the command line accepts, in the units of its flags
/// (the one home of both). The bounds keep every duration far from overflowing an `Instant`.
pub mod limits {
    /// Default of `--concurrency`: requests in flight at once, over all hosts.
    pub const CONCURRENCY: usize = 4;
    /// Most `--concurrency` accepts.
    pub const MAX_CONCURRENCY: u64 = 64;
    /// Default of `--per-host`: requests in flight at once to one host.
    pub const PER_HOST: usize = 2;
    /// Most `--per-host` accepts.
    pub const MAX_PER_HOST: u64 = 16;
    /// Default of `--host-interval-ms`: milliseconds between the starts of two requests to one
    /// host.
    pub const HOST_INTERVAL_MS: u64 = 1000;
    /// Most `--host-interval-ms` accepts: one hour.
    pub const MAX_HOST_INTERVAL_MS: u64 = 3_600_000;
    /// Default of `--retries`: retries after a 429 or 5xx answer.
    pub const RETRIES: u32 = 2;
    /// Most `--retries` accepts.
    pub const MAX_RETRIES: u64 = 10;
    /// Default of `--backoff-ms`: the first back-off in milliseconds when the server gives no
    /// `Retry-After` (doubled on each retry).
    pub const BACKOFF_MS: u64 = 1000;
    /// Most `--backoff-ms` accepts: ten minutes.
    pub const MAX_BACKOFF_MS: u64 = 600_000;
    /// The longest `Retry-After`, in seconds, that is waited for; a longer one ends the retries.
    /// Not a flag.
    pub const MAX_RETRY_AFTER_SECS: u64 = 120;
    /// Default of `--timeout`: seconds for one request (connection, headers and body).
    pub const TIMEOUT_SECS: u64 = 30;
    /// Most `--timeout` accepts: one hour.
    pub const MAX_TIMEOUT_SECS: u64 = 3600;
    /// Default of `--max-run-time`: seconds for the whole run, six hours.
    pub const RUN_TIME_SECS: u64 = 6 * 3600;
    /// Most `--max-run-time` accepts: seven days.
    pub const MAX_RUN_TIME_SECS: u64 = 7 * 24 * 3600;
    /// Default of `--max-body-bytes`: bytes of a body read at most (16 MiB).
    pub const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
    /// Most `--max-body-bytes` accepts (256 MiB).
    pub const MAX_MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;
    /// Default of `--max-redirects`: redirects followed at most.
    pub const MAX_REDIRECTS: usize = 10;
    /// Most `--max-redirects` accepts.
    pub const MAX_MAX_REDIRECTS: u64 = 50;

    // The command line offers each default as its flag's default value: a default outside the
    // bounds its flag accepts would make every run fail, so the build refuses it.
    const _: () = {
        assert!(1 <= CONCURRENCY && CONCURRENCY as u64 <= MAX_CONCURRENCY);
        assert!(1 <= PER_HOST && PER_HOST as u64 <= MAX_PER_HOST);
        assert!(HOST_INTERVAL_MS <= MAX_HOST_INTERVAL_MS);
        assert!(RETRIES as u64 <= MAX_RETRIES);
        assert!(BACKOFF_MS <= MAX_BACKOFF_MS);
        assert!(1 <= TIMEOUT_SECS && TIMEOUT_SECS <= MAX_TIMEOUT_SECS);
        assert!(1 <= RUN_TIME_SECS && RUN_TIME_SECS <= MAX_RUN_TIME_SECS);
        assert!(1 <= MAX_BODY_BYTES && MAX_BODY_BYTES <= MAX_MAX_BODY_BYTES);
        assert!(MAX_REDIRECTS as u64 <= MAX_MAX_REDIRECTS);
    };
}

/// How to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// `(prefix, replacement)`: URLs starting with a prefix are fetched with it replaced.
    pub remap: Vec<(String, String)>,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// Requests in flight at once to one host (`host:port`).
    pub per_host: usize,
    /// Minimum time between the starts of two requests to one host.
    pub host_interval: Duration,
    /// Retries after 429 or 5xx.
    pub retries: u32,
    /// The first back-off (doubled on each retry) when there is no `Retry-After`.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// Time for one request (connection, headers and body).
    pub timeout: Duration,
    /// Time for the whole run; links not checked by then are reported unreachable, not logged.
    pub run_timeout: Duration,
    /// Bytes of a body read at most.
    pub max_body: u64,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Fetch nothing that robots.txt disallows for cablekeep (such a link is `blocked`).
    pub respect_robots: bool,
    /// The Memento TimeGate prefix, none to skip the archive lookup.
    pub timegate: Option<String>,
    /// Append results to the collection's event log.
    pub log: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            remap: Vec::new(),
            concurrency: limits::CONCURRENCY,
            per_host: limits::PER_HOST,
            host_interval: Duration::from_millis(limits::HOST_INTERVAL_MS),
            retries: limits::RETRIES,
            backoff: Duration::from_millis(limits::BACKOFF_MS),
            max_retry_after: Duration::from_secs(limits::MAX_RETRY_AFTER_SECS),
            timeout: Duration::from_secs(limits::TIMEOUT_SECS),
            run_timeout: Duration::from_secs(limits::RUN_TIME_SECS),
            max_body: limits::MAX_BODY_BYTES,
            max_redirects: limits::MAX_REDIRECTS,
            respect_robots: true,
            timegate: Some(DEFAULT_TIMEGATE.to_string()),
            log: true,
        }
    }
}

/// The User-Agent of every request.
pub fn user_agent() -> String {
    format!("cablekeep/{} (+link check)", crate::TOOL_VERSION)
}
