//! Link rot: are the pages that archived captures came from still there, and still the same?
//!
//! For every source URL of a version (each capture's `source.url` and `source.upstream_url`) the
//! checker sends a GET, follows redirects itself (recording every hop), and gives the URL a
//! [`State`]: the same bytes as the capture (`intact`), other bytes that read as the same cable
//! (`equivalent`), the cable changed (`drifted`, with what changed), no cable or another one
//! (`soft-404`), redirected elsewhere (`moved`, with the state of what is there), or an HTTP or
//! network failure (`gone`, `blocked`, `server-error`, `unreachable`). For a link that is not
//! intact or equivalent, an archived copy is looked up through a Memento TimeGate (RFC 7089).
//!
//! It is polite: a global and a per-host limit on concurrent requests, a minimum interval between
//! requests to one host, `Retry-After` honoured, retries with back-off for 429 and 5xx, robots.txt
//! respected, an identifying User-Agent, and limits on body size, redirects and time.
//!
//! Every result is appended to the collection's hash-chained event log ([`log`]).

pub(crate) mod http;
pub mod log;

use crate::archive::OpenArchive;
use crate::capture::CaptureRef;
use crate::error::{Error, Result};
use crate::provenance::SourceHints;
use crate::select;
use crate::store::{NoProgress, Progress, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The default Memento TimeGate (the Internet Archive's Wayback Machine).
pub const DEFAULT_TIMEGATE: &str = "https://web.archive.org/web/";

/// The defaults of [`Options`] and the most the command line accepts, in the units of its flags
/// (the one home of both). The bounds keep every duration far from overflowing an `Instant`.
pub mod limits {
    pub const CONCURRENCY: usize = 4;
    pub const MAX_CONCURRENCY: u64 = 64;
    pub const PER_HOST: usize = 2;
    pub const MAX_PER_HOST: u64 = 16;
    pub const HOST_INTERVAL_MS: u64 = 1000;
    /// One hour.
    pub const MAX_HOST_INTERVAL_MS: u64 = 3_600_000;
    pub const RETRIES: u32 = 2;
    pub const MAX_RETRIES: u64 = 10;
    pub const BACKOFF_MS: u64 = 1000;
    /// Ten minutes.
    pub const MAX_BACKOFF_MS: u64 = 600_000;
    pub const MAX_RETRY_AFTER_SECS: u64 = 120;
    pub const TIMEOUT_SECS: u64 = 30;
    /// One hour.
    pub const MAX_TIMEOUT_SECS: u64 = 3600;
    /// Six hours.
    pub const RUN_TIME_SECS: u64 = 6 * 3600;
    /// Seven days.
    pub const MAX_RUN_TIME_SECS: u64 = 7 * 24 * 3600;
    pub const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
    pub const MAX_MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;
    pub const MAX_REDIRECTS: usize = 10;
    pub const MAX_MAX_REDIRECTS: u64 = 50;
}

/// `Instant::now()` plus `wait`, or a point far beyond any run when that overflows.
fn after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_secs(limits::MAX_RUN_TIME_SECS * 2)))
        .unwrap_or(now)
}

/// The state of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The same bytes as the archived capture.
    Intact,
    /// Other bytes, but the parser reads the same cable text and metadata.
    Equivalent,
    /// The cable's text, redactions or metadata changed.
    Drifted,
    /// A success status, but no cable, or another cable.
    #[serde(rename = "soft-404")]
    Soft404,
    /// Redirected to another URL (see `target_state`).
    Moved,
    /// 404, 410 or another client error.
    Gone,
    /// 401, 403, 429 (after retries), 451, or disallowed by robots.txt.
    Blocked,
    /// 5xx after retries.
    ServerError,
    /// DNS, connection, TLS, time-out, a redirect loop, too many redirects, a body over the limit.
    Unreachable,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Intact,
        State::Equivalent,
        State::Drifted,
        State::Soft404,
        State::Moved,
        State::Gone,
        State::Blocked,
        State::ServerError,
        State::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Intact => "intact",
            State::Equivalent => "equivalent",
            State::Drifted => "drifted",
            State::Soft404 => "soft-404",
            State::Moved => "moved",
            State::Gone => "gone",
            State::Blocked => "blocked",
            State::ServerError => "server-error",
            State::Unreachable => "unreachable",
        }
    }

    /// True for `intact` and `equivalent`: the source still holds the cable as archived.
    pub fn is_ok(self) -> bool {
        matches!(self, State::Intact | State::Equivalent)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub url: String,
    /// The final status (after retries), none when no answer came.
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Requests sent for this hop (more than one after 429 or 5xx).
    pub attempts: u32,
}

/// An archived copy found through a Memento TimeGate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memento {
    pub url: String,
    /// `Memento-Datetime` (or the `datetime` of the `Link` header), as the archive gave it.
    pub datetime: Option<String>,
}

/// What changed in a drifted cable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// `added`, `removed`, `moved` or `same`.
    pub redactions: String,
    pub redaction_runs_archived: usize,
    pub redaction_runs_live: usize,
    pub text_changed: bool,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// A few changed lines, `+ ` or `- ` first.
    pub sample: Vec<String>,
    /// Metadata fields that differ.
    pub fields: Vec<String>,
}

impl Drift {
    /// One line for people, e.g. `redactions added (0 -> 7 runs); text changed (+7 -8 lines)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.redactions != "same" {
            parts.push(format!(
                "redactions {} ({} -> {} runs)",
                self.redactions, self.redaction_runs_archived, self.redaction_runs_live
            ));
        }
        if self.text_changed {
            parts.push(format!(
                "text changed (+{} -{} lines)",
                self.lines_added, self.lines_removed
            ));
        }
        if !self.fields.is_empty() {
            parts.push(format!("fields changed: {}", self.fields.join(", ")));
        }
        parts.join("; ")
    }
}

/// The result of checking one link: also one line of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkResult {
    pub cable: String,
    /// The URL as archived (before any `--remap`).
    pub url: String,
    /// `url` or `upstream_url`: which provenance field named it.
    pub field: String,
    /// The capture compared with.
    pub capture: String,
    /// When the check ended (RFC 3339, UTC).
    pub time: String,
    pub state: State,
    /// For `moved`: the state of what is at the end of the redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_state: Option<State>,
    /// The status of the last answer.
    pub http_status: Option<u16>,
    /// The URL of the last request (after redirects and `--remap`).
    pub final_url: Option<String>,
    /// SHA-256 of the last body read.
    pub body_sha256: Option<String>,
    pub memento: Option<Memento>,
    pub hops: Vec<Hop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// Why, for a failure or a soft 404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LinkResult {
    /// The state that decides: for `moved`, what is there; else the state.
    pub fn effective_state(&self) -> State {
        self.target_state.unwrap_or(self.state)
    }
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

/// A link to check: a cable, a URL and the capture it is compared with.
#[derive(Debug, Clone)]
struct Target {
    cable: String,
    url: String,
    field: &'static str,
    capture: CaptureRef,
}

/// Collects the links of a version: for each cable and URL, the latest capture naming it. The
/// cables stream from the archive in batches; only each capture's source is read.
fn targets(archive: &OpenArchive) -> Result<Vec<Target>> {
    let mut out: BTreeMap<(String, String), Target> = BTreeMap::new();
    let need = select::Need {
        bytes: false,
        sources: true,
    };
    select::stream(archive, &|_| true, need, &NoProgress, |batch| {
        for cable in batch {
            let line = &cable.line;
            for (capture, source) in line.captures.iter().zip(&cable.sources) {
                for (field, url) in [("url", &source.url), ("upstream_url", &source.upstream_url)] {
                    if let Some(url) = url.as_deref().filter(|u| !u.trim().is_empty()) {
                        out.insert(
                            (line.id.clone(), url.to_string()),
                            Target {
                                cable: line.id.clone(),
                                url: url.to_string(),
                                field,
                                capture: capture.clone(),
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(out.into_values().collect())
}

/// Checks every link of a collection's version (default: the latest), appends each result to the
/// event log (unless `options.log` is off) and returns them sorted by cable and URL.
pub fn check(
    store: &Store,
    collection: &str,
    version: Option<u32>,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Vec<LinkResult>> {
    let version = store.resolve_version(collection, version)?;
    // The index and the records are all the checker reads.
    let archive = OpenArchive::open_records(&store.zip_path(collection, version))?;
    let targets = targets(&archive)?;
    let checker = Checker::new(options.clone());
    let total = targets.len();
    // Interleave hosts so that workers seldom wait for a busy host.
    let mut by_host: BTreeMap<String, VecDeque<Target>> = BTreeMap::new();
    for t in targets {
        by_host
            .entry(authority(&checker.remap(&t.url)).to_string())
            .or_default()
            .push_back(t);
    }
    let mut queue = VecDeque::new();
    while !by_host.is_empty() {
        by_host.retain(|_, q| {
            if let Some(t) = q.pop_front() {
                queue.push_back(t);
            }
            !q.is_empty()
        });
    }
    let queue = Mutex::new(queue);
    let (tx, rx) = mpsc::channel::<LinkResult>();
    progress.start("links", total as u64);
    let mut results = Vec::with_capacity(total);
    let mut log_error = None;
    std::thread::scope(|scope| {
        for _ in 0..options.concurrency.max(1) {
            let tx = tx.clone();
            let (queue, checker, archive) = (&queue, &checker, &archive);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().expect("queue lock").pop_front();
                    let Some(target) = next else { break };
                    let result = checker.check_one(archive, &target);
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            let checked = result.error.as_deref() != Some(NOT_CHECKED);
            if options.log
                && checked
                && log_error.is_none()
                && let Err(e) = log::append(store, collection, std::slice::from_ref(&result))
            {
                log_error = Some(e);
            }
            progress.inc(1);
            results.push(result);
        }
    });
    progress.finish();
    if let Some(e) = log_error {
        return Err(e);
    }
    results.sort_by(|a, b| (&a.cable, &a.url).cmp(&(&b.cable, &b.url)));
    Ok(results)
}

const NOT_CHECKED: &str = "not checked: the run time limit was reached";

/// Per-host limits: requests in flight and the earliest next start.
struct Hosts {
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
    /// Waits for a slot on `host`; false when `deadline` passes first.
    fn acquire(&self, host: &str, deadline: Instant) -> bool {
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

    fn release(&self, host: &str) {
        let mut map = self.state.lock().expect("hosts lock");
        if let Some(s) = map.get_mut(host) {
            s.active = s.active.saturating_sub(1);
        }
        self.cv.notify_all();
    }

    /// No request to `host` starts before `until` (a `Retry-After` or a back-off).
    fn defer(&self, host: &str, until: Instant) {
        let mut map = self.state.lock().expect("hosts lock");
        let s = map.entry(host.to_string()).or_default();
        if s.next.is_none_or(|n| n < until) {
            s.next = Some(until);
        }
    }
}

/// Why following a URL gave no final answer.
enum Stop {
    Failure(http::Failure),
    Loop,
    TooManyRedirects,
    Robots(String),
    Deadline,
    BadLocation,
}

struct Checker {
    options: Options,
    client: http::Client,
    hosts: Hosts,
    robots: Mutex<HashMap<String, Arc<OnceLock<Vec<String>>>>>,
    deadline: Instant,
}

impl Checker {
    fn new(options: Options) -> Checker {
        let client = http::Client::new(&user_agent(), options.timeout, options.max_body);
        let hosts = Hosts {
            state: Mutex::new(HashMap::new()),
            cv: Condvar::new(),
            per_host: options.per_host.max(1),
            interval: options.host_interval,
        };
        Checker {
            deadline: after(options.run_timeout),
            options,
            client,
            hosts,
            robots: Mutex::new(HashMap::new()),
        }
    }

    fn remap(&self, url: &str) -> String {
        for (prefix, replacement) in &self.options.remap {
            if let Some(rest) = url.strip_prefix(prefix.as_str()) {
                return format!("{replacement}{rest}");
            }
        }
        url.to_string()
    }

    /// One request, with retries after 429 and 5xx; returns the last answer and the attempts.
    fn request(&self, url: &str, headers: &[(&str, &str)]) -> (Result<http::Response, Stop>, u32) {
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
            let retryable = response.status == 429 || response.status >= 500;
            if !retryable || attempts > self.options.retries {
                return (Ok(response), attempts);
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
                return (Ok(response), attempts);
            }
            self.hosts.defer(&host, until);
        }
    }

    /// The Disallow prefixes of `url`'s host for us, fetched once per host.
    fn allowed(&self, url: &str) -> bool {
        if !self.options.respect_robots {
            return true;
        }
        let (base, path) = split_origin(url);
        let cell = self
            .robots
            .lock()
            .expect("robots lock")
            .entry(base.to_string())
            .or_default()
            .clone();
        let rules = cell.get_or_init(|| {
            let (answer, _) = self.request(&format!("{base}/robots.txt"), &[]);
            match answer {
                Ok(r) if (200..300).contains(&r.status) => {
                    robots_disallows(&String::from_utf8_lossy(&r.body), "cablekeep")
                }
                _ => Vec::new(),
            }
        });
        let path = if path.is_empty() { "/" } else { path };
        !rules.iter().any(|p| path.starts_with(p.as_str()))
    }

    /// Follows redirects from `url`, recording every hop.
    fn follow(&self, url: &str, hops: &mut Vec<Hop>) -> Result<(String, http::Response), Stop> {
        let mut current = url.to_string();
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(current.clone()) {
                return Err(Stop::Loop);
            }
            if hops.len() > self.options.max_redirects {
                return Err(Stop::TooManyRedirects);
            }
            if !self.allowed(&current) {
                return Err(Stop::Robots(current));
            }
            let (answer, attempts) = self.request(&current, &[]);
            let response = match answer {
                Ok(r) => r,
                Err(stop) => {
                    hops.push(Hop {
                        url: current,
                        status: None,
                        location: None,
                        attempts,
                    });
                    return Err(stop);
                }
            };
            let location = (300..400)
                .contains(&response.status)
                .then(|| response.header("location").map(str::to_string))
                .flatten();
            hops.push(Hop {
                url: current.clone(),
                status: Some(response.status),
                location: location.clone(),
                attempts,
            });
            match location {
                Some(loc) => match resolve(&current, loc.trim()) {
                    Some(next) => current = next,
                    None => return Err(Stop::BadLocation),
                },
                None => return Ok((current, response)),
            }
        }
    }

    fn check_one(&self, archive: &OpenArchive, target: &Target) -> LinkResult {
        let mut result = LinkResult {
            cable: target.cable.clone(),
            url: target.url.clone(),
            field: target.field.to_string(),
            capture: target.capture.name.clone(),
            time: String::new(),
            state: State::Unreachable,
            target_state: None,
            http_status: None,
            final_url: None,
            body_sha256: None,
            memento: None,
            hops: Vec::new(),
            drift: None,
            error: None,
        };
        if Instant::now() >= self.deadline {
            result.error = Some(NOT_CHECKED.to_string());
            result.time = crate::time::rfc3339(crate::time::now());
            return result;
        }
        let fetch_url = self.remap(&target.url);
        let mut hops = Vec::new();
        let outcome = self.follow(&fetch_url, &mut hops);
        let redirected = hops.len() > 1;
        result.final_url = hops.last().map(|h| h.url.clone());
        result.http_status = hops.last().and_then(|h| h.status);
        let (state, error) = match outcome {
            Ok((_, response)) => {
                result.body_sha256 = Some(crate::hash::sha256_hex(&response.body));
                let (state, drift, error) = self.classify(archive, target, &response);
                result.drift = drift;
                (state, error)
            }
            Err(Stop::Failure(f)) => (
                State::Unreachable,
                Some(format!("{}: {}", f.kind.label(), f.message)),
            ),
            Err(Stop::Loop) => (State::Unreachable, Some("redirect loop".to_string())),
            Err(Stop::TooManyRedirects) => (
                State::Unreachable,
                Some(format!(
                    "more than {} redirects",
                    self.options.max_redirects
                )),
            ),
            Err(Stop::Robots(u)) => (
                State::Blocked,
                Some(format!("robots.txt disallows {u} for cablekeep")),
            ),
            Err(Stop::Deadline) => {
                if hops.is_empty() {
                    result.error = Some(NOT_CHECKED.to_string());
                    result.time = crate::time::rfc3339(crate::time::now());
                    return result;
                }
                (
                    State::Unreachable,
                    Some("the run time limit was reached".to_string()),
                )
            }
            Err(Stop::BadLocation) => (
                State::Unreachable,
                Some("a redirect names no usable Location".to_string()),
            ),
        };
        result.hops = hops;
        result.error = error;
        if redirected && result.error.as_deref() != Some("redirect loop") {
            result.state = State::Moved;
            result.target_state = Some(state);
        } else {
            result.state = state;
        }
        if (!result.effective_state().is_ok() || result.state == State::Moved)
            && let Some(timegate) = &self.options.timegate
        {
            let released = target.capture.released.as_deref();
            result.memento = self.memento(timegate, &target.url, released);
        }
        result.time = crate::time::rfc3339(crate::time::now());
        result
    }

    /// Classifies a final answer (no more redirects).
    fn classify(
        &self,
        archive: &OpenArchive,
        target: &Target,
        response: &http::Response,
    ) -> (State, Option<Drift>, Option<String>) {
        let status = response.status;
        match status {
            200..=299 => {}
            401 | 403 | 429 | 451 => return (State::Blocked, None, None),
            400..=499 => return (State::Gone, None, None),
            500..=599 => return (State::ServerError, None, None),
            _ => {
                return (
                    State::Unreachable,
                    None,
                    Some(format!("HTTP {status} is not a final answer")),
                );
            }
        }
        if response.truncated {
            return (
                State::Unreachable,
                None,
                Some(format!(
                    "the body is larger than {} bytes; reading stopped there",
                    self.options.max_body
                )),
            );
        }
        if crate::hash::sha256_hex(&response.body) == target.capture.sha256 {
            return (State::Intact, None, None);
        }
        let outcome = crate::cable::parse(&response.body, &target.url, &SourceHints::default());
        let Some(live) = outcome.record else {
            return (
                State::Soft404,
                None,
                Some("the page holds no cable".to_string()),
            );
        };
        if live.id != target.cable {
            return (
                State::Soft404,
                None,
                Some(format!("the page holds another cable, {}", live.id)),
            );
        }
        let archived = match crate::diff::load_record(archive, &target.capture) {
            Ok(r) => r.record,
            Err(e) => {
                return (
                    State::Unreachable,
                    None,
                    Some(format!("the archived record cannot be read: {e}")),
                );
            }
        };
        let change = crate::diff::compare_records(&target.capture.name, &archived, "live", &live);
        if !change.text_changed && change.fields.is_empty() && change.redaction == "same" {
            return (State::Equivalent, None, None);
        }
        let redactions = match change.redaction.as_str() {
            "gained" => "added",
            "lost" => "removed",
            other => other,
        };
        let drift = Drift {
            redactions: redactions.to_string(),
            redaction_runs_archived: change.redaction_runs_from,
            redaction_runs_live: change.redaction_runs_to,
            text_changed: change.text_changed,
            lines_added: change.lines_added,
            lines_removed: change.lines_removed,
            sample: crate::diff::changed_lines_sample(&archived.text, &live.text, 5),
            fields: change.fields.iter().map(|f| f.field.clone()).collect(),
        };
        (State::Drifted, Some(drift), None)
    }

    /// The memento a TimeGate redirected to, whose date the redirect did not give (RFC 7089
    /// pattern 2.2, as the Wayback Machine answers): redirects are followed, at most
    /// `max_redirects`, to an answer that says its `Memento-Datetime`; anything else is no
    /// memento.
    fn memento_at(&self, mut url: String) -> Option<Memento> {
        for _ in 0..=self.options.max_redirects {
            let (answer, _) = self.request(&url, &[]);
            let response = answer.ok()?;
            match response.status {
                200..=299 => {
                    let datetime = response.header("memento-datetime")?.trim().to_string();
                    return Some(Memento {
                        url,
                        datetime: Some(datetime),
                    });
                }
                300..=399 => url = resolve(&url, response.header("location")?.trim())?,
                _ => return None,
            }
        }
        None
    }

    /// Asks a Memento TimeGate for the copy of `url` nearest `released`.
    fn memento(&self, timegate: &str, url: &str, released: Option<&str>) -> Option<Memento> {
        let when = released.and_then(crate::time::http_date);
        let mut headers = Vec::new();
        if let Some(w) = when.as_deref() {
            headers.push(("Accept-Datetime", w));
        }
        let gate_url = format!("{timegate}{url}");
        let (answer, _) = self.request(&gate_url, &headers);
        let response = answer.ok()?;
        let links = parse_link_header(response.header("link").unwrap_or(""));
        let from_link = |target: &str| {
            links
                .iter()
                .find(|l| l.url == target && l.rel.split_whitespace().any(|r| r == "memento"))
                .and_then(|l| l.datetime.clone())
        };
        match response.status {
            300..=399 => {
                let location = resolve(&gate_url, response.header("location")?.trim())?;
                match response
                    .header("memento-datetime")
                    .map(str::to_string)
                    .or_else(|| from_link(&location))
                {
                    Some(datetime) => Some(Memento {
                        url: location,
                        datetime: Some(datetime),
                    }),
                    None => self.memento_at(location),
                }
            }
            200..=299 => {
                let datetime = response.header("memento-datetime")?.to_string();
                let url = response
                    .header("content-location")
                    .and_then(|l| resolve(&gate_url, l.trim()))
                    .unwrap_or(gate_url);
                Some(Memento {
                    url,
                    datetime: Some(datetime),
                })
            }
            _ => None,
        }
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

/// The `host[:port]` of a URL, lower-cased comparison left to the caller.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// `scheme://authority` and the rest (path and query, without fragment).
fn split_origin(url: &str) -> (&str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let rest = &url[end..];
    let rest = rest.split('#').next().unwrap_or("");
    (&url[..end], rest)
}

/// Resolves a `Location` against the URL it came from.
fn resolve(base: &str, location: &str) -> Option<String> {
    if location.is_empty() {
        return None;
    }
    let lower = location.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(location.to_string());
    }
    let (origin, path) = split_origin(base);
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split_once("://")?.0;
        return Some(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    if location.contains("://") {
        return None;
    }
    let path = path.split('?').next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    Some(format!("{origin}{dir}{location}"))
}

/// The Disallow prefixes that apply to `agent`: its own group if robots.txt has one, else `*`.
fn robots_disallows(text: &str, agent: &str) -> Vec<String> {
    let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut in_agents = false;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
        match key.as_str() {
            "user-agent" => {
                if !in_agents {
                    groups.push((Vec::new(), Vec::new()));
                }
                in_agents = true;
                if let Some(g) = groups.last_mut() {
                    g.0.push(value.to_ascii_lowercase());
                }
            }
            "disallow" => {
                in_agents = false;
                if let Some(g) = groups.last_mut()
                    && !value.is_empty()
                {
                    g.1.push(value);
                }
            }
            _ => in_agents = false,
        }
    }
    let agent = agent.to_ascii_lowercase();
    let own = groups.iter().find(|(agents, _)| {
        agents
            .iter()
            .any(|a| a != "*" && agent.contains(a.as_str()))
    });
    let any = groups
        .iter()
        .find(|(agents, _)| agents.iter().any(|a| a == "*"));
    own.or(any).map(|g| g.1.clone()).unwrap_or_default()
}

struct LinkValue {
    url: String,
    rel: String,
    datetime: Option<String>,
}

/// Parses an HTTP `Link` header (RFC 8288) into its links: URL, `rel` and `datetime`.
fn parse_link_header(value: &str) -> Vec<LinkValue> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let url = rest[open + 1..open + close].to_string();
        rest = &rest[open + close + 1..];
        // Parameters run to the next link: a comma outside quotes followed by '<'.
        let mut end = rest.len();
        let mut quoted = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..end];
        rest = &rest[end..];
        let mut link = LinkValue {
            url,
            rel: String::new(),
            datetime: None,
        };
        for p in params.split(';') {
            if let Some((k, v)) = p.split_once('=') {
                let v = v.trim().trim_matches('"').to_string();
                match k.trim().to_ascii_lowercase().as_str() {
                    "rel" => link.rel = v,
                    "datetime" => link.datetime = Some(v),
                    _ => {}
                }
            }
        }
        out.push(link);
    }
    out
}

/// The latest event of each (cable, URL) in a log, sorted by cable and URL.
pub fn latest(events: &[log::Event]) -> Vec<LinkResult> {
    let mut map: BTreeMap<(String, String), LinkResult> = BTreeMap::new();
    for e in events {
        map.insert(
            (e.result.cable.clone(), e.result.url.clone()),
            e.result.clone(),
        );
    }
    map.into_values().collect()
}

/// How many results are in each state, every state listed.
pub fn counts(results: &[LinkResult]) -> BTreeMap<&'static str, usize> {
    let mut map: BTreeMap<&'static str, usize> =
        State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for r in results {
        *map.entry(r.state.as_str()).or_default() += 1;
    }
    map
}

/// Parses a `--remap 'PREFIX REPLACEMENT'` value; the replacement must be an http or https URL
/// with a host, or every remapped link would fail alike.
pub fn parse_remap(value: &str) -> Result<(String, String)> {
    let mut parts = value.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(p), Some(r), None) => match crate::provenance::check_url(r, &["http", "https"]) {
            Ok(()) => Ok((p.to_string(), r.to_string())),
            Err(e) => Err(Error::Invalid(format!("--remap {value:?}: {e}"))),
        },
        _ => Err(Error::Invalid(format!(
            "--remap {value:?}: expected 'PREFIX REPLACEMENT'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_of_any_size_never_overflow_an_instant() {
        let options = Options {
            run_timeout: Duration::MAX,
            host_interval: Duration::MAX,
            backoff: Duration::MAX,
            timeout: Duration::MAX,
            ..Options::default()
        };
        let checker = Checker::new(options);
        assert!(checker.hosts.acquire("h", checker.deadline));
        checker.hosts.release("h");
        checker.hosts.defer("h", after(Duration::MAX));
        assert!(after(Duration::MAX) > Instant::now());
    }

    #[test]
    fn resolves_locations() {
        let base = "http://127.0.0.1:8080/cable/2009/05/a.html?x=1";
        assert_eq!(
            resolve(base, "/b").as_deref(),
            Some("http://127.0.0.1:8080/b")
        );
        assert_eq!(
            resolve(base, "c.html").as_deref(),
            Some("http://127.0.0.1:8080/cable/2009/05/c.html")
        );
        assert_eq!(resolve(base, "//h:1/d").as_deref(), Some("http://h:1/d"));
        assert_eq!(resolve(base, "https://x/y").as_deref(), Some("https://x/y"));
        assert_eq!(authority(base), "127.0.0.1:8080");
    }

    #[test]
    fn robots_groups_and_prefixes() {
        let text = "User-agent: *\nDisallow: /private\n\nUser-agent: cablekeep\nUser-agent: other\nDisallow: /cable/\nDisallow:\n";
        assert_eq!(robots_disallows(text, "cablekeep"), vec!["/cable/"]);
        assert_eq!(robots_disallows(text, "someone"), vec!["/private"]);
        assert!(robots_disallows("", "cablekeep").is_empty());
    }

    #[test]
    fn link_header_memento() {
        let v = r#"<http://a/b>; rel="original", <http://m/20101208/b>; rel="memento"; datetime="Wed, 08 Dec 2010 10:00:00 GMT""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(links[1].url, "http://m/20101208/b");
        assert_eq!(links[1].rel, "memento");
        assert_eq!(
            links[1].datetime.as_deref(),
            Some("Wed, 08 Dec 2010 10:00:00 GMT")
        );
    }
}
