//! The checker loop: the links of a version collected, interleaved by host, checked by a pool of
//! workers (each link: remap, follow the redirects, classify the final answer, look up a
//! memento), and every result logged as it comes in.

use super::hosts::{Hosts, after};
use super::result::{Hop, LinkResult};
use super::state::{State, Verdict, classify};
use super::url::{authority, resolve};
use super::{Options, log, remap, user_agent};
use crate::bag::OpenArchive;
use crate::bag::capture::CaptureRef;
use crate::error::Result;
use crate::http;
use crate::progress::{NoProgress, Progress};
use crate::query::select;
use crate::store::Store;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Instant;

/// The error of a link the run's time limit left unchecked: such a result is returned but not
/// logged.
const NOT_CHECKED: &str = "not checked: the run time limit was reached";

/// A link to check: a cable, a URL and the capture it is compared with.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) cable: String,
    pub(super) url: String,
    pub(super) field: &'static str,
    pub(super) capture: CaptureRef,
}

/// Collects the links of a version: for each cable and URL, the latest capture naming it. The
/// cables stream from the archive in batches; only each capture's source is read.
fn targets(archive: &OpenArchive) -> Result<Vec<Target>> {
    let mut out: BTreeMap<(String, String), Target> = BTreeMap::new();
    let need = select::Need {
        bytes: false,
        sources: true,
        skip_text: false,
        older: false,
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
    if options.log {
        // Refused before any link is checked: the results could not be recorded.
        store.require_local("record link checks in it")?;
    }
    let version = store.resolve_version(collection, version)?;
    // The index and the records are all the checker reads.
    let archive = store.open_zip(collection, version, crate::bag::Reading::Captures)?;
    let targets = targets(&archive)?;
    let checker = Checker::new(options.clone());
    let total = targets.len();
    let queue = checker.interleave_hosts(targets);
    progress.start("links", total as u64);
    let mut results = Vec::with_capacity(total);
    let mut log_error = None;
    checker.run(&archive, queue, |result| {
        let checked = result.error.as_deref() != Some(NOT_CHECKED);
        // After one failed append, no more are tried: the error ends the command.
        if options.log
            && checked
            && log_error.is_none()
            && let Err(e) = log::append(store, collection, std::slice::from_ref(&result))
        {
            log_error = Some(e);
        }
        progress.inc(1);
        results.push(result);
    });
    progress.finish();
    if let Some(e) = log_error {
        return Err(e);
    }
    results.sort_by(|a, b| (&a.cable, &a.url).cmp(&(&b.cable, &b.url)));
    Ok(results)
}

/// Why following a URL gave no final answer.
pub(super) enum Stop {
    Failure(http::Failure),
    Loop,
    TooManyRedirects,
    Robots(String),
    Deadline,
    BadLocation,
}

impl Stop {
    /// The state and the reason a link has when following it stopped so.
    fn verdict(self, max_redirects: usize) -> Verdict {
        let (state, why) = match self {
            Stop::Failure(f) => (
                State::Unreachable,
                format!("{}: {}", f.kind.label(), f.message),
            ),
            Stop::Loop => (State::Unreachable, "redirect loop".to_string()),
            Stop::TooManyRedirects => (
                State::Unreachable,
                format!("more than {max_redirects} redirects"),
            ),
            Stop::Robots(u) => (
                State::Blocked,
                format!("robots.txt disallows {u} for cablekeep"),
            ),
            Stop::Deadline => (
                State::Unreachable,
                "the run time limit was reached".to_string(),
            ),
            Stop::BadLocation => (
                State::Unreachable,
                "a redirect names no usable Location".to_string(),
            ),
        };
        Verdict::failed(state, why)
    }
}

/// What every worker shares: the options, the HTTP client, the hosts' rate limits, each host's
/// robots.txt rules (fetched once) and the end of the run.
pub(super) struct Checker {
    pub(super) options: Options,
    pub(super) client: http::Client,
    pub(super) hosts: Hosts,
    pub(super) robots: Mutex<HashMap<String, Arc<OnceLock<Vec<String>>>>>,
    pub(super) deadline: Instant,
}

impl Checker {
    pub(super) fn new(options: Options) -> Checker {
        let client = http::Client::new(&user_agent(), options.timeout, options.max_body);
        let hosts = Hosts::new(options.per_host, options.host_interval);
        Checker {
            deadline: after(options.run_timeout),
            options,
            client,
            hosts,
            robots: Mutex::new(HashMap::new()),
        }
    }

    fn remap(&self, url: &str) -> String {
        remap::apply(&self.options.remap, url)
    }

    /// The targets in the order they are checked: one of each host in turn, so that workers
    /// seldom wait for a busy host.
    fn interleave_hosts(&self, targets: Vec<Target>) -> VecDeque<Target> {
        let mut by_host: BTreeMap<String, VecDeque<Target>> = BTreeMap::new();
        for t in targets {
            by_host
                .entry(authority(&self.remap(&t.url)).to_string())
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
        queue
    }

    /// Checks the queued targets with `concurrency` workers, handing each result to `each` on
    /// this thread as it comes in.
    fn run(
        &self,
        archive: &OpenArchive,
        queue: VecDeque<Target>,
        mut each: impl FnMut(LinkResult),
    ) {
        let queue = Mutex::new(queue);
        let (tx, rx) = mpsc::channel::<LinkResult>();
        std::thread::scope(|scope| {
            for _ in 0..self.options.concurrency.max(1) {
                let tx = tx.clone();
                let queue = &queue;
                scope.spawn(move || {
                    loop {
                        let next = queue.lock().expect("queue lock").pop_front();
                        let Some(target) = next else { break };
                        if tx.send(self.check_one(archive, &target)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for result in rx {
                each(result);
            }
        });
    }

    /// Follows redirects from `url`, recording every hop; the final answer.
    fn follow(&self, url: &str, hops: &mut Vec<Hop>) -> std::result::Result<http::Response, Stop> {
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
                Some(loc) => current = resolve(&current, loc.trim()).ok_or(Stop::BadLocation)?,
                None => return Ok(response),
            }
        }
    }

    /// Checks one link: fetched (remapped, redirects followed), its final answer classified,
    /// and an archived copy looked up when it is not intact or equivalent, or moved.
    fn check_one(&self, archive: &OpenArchive, target: &Target) -> LinkResult {
        let mut result = unchecked(target);
        if Instant::now() >= self.deadline {
            return not_checked(result);
        }
        let mut hops = Vec::new();
        let outcome = self.follow(&self.remap(&target.url), &mut hops);
        result.final_url = hops.last().map(|h| h.url.clone());
        result.http_status = hops.last().and_then(|h| h.status);
        // A loop's hops are no move to somewhere else.
        let looped = matches!(outcome, Err(Stop::Loop));
        let verdict = match outcome {
            Ok(response) => {
                result.body_sha256 = Some(crate::hash::sha256_hex(&response.body));
                classify(archive, target, &response, self.options.max_body)
            }
            Err(Stop::Deadline) if hops.is_empty() => return not_checked(result),
            Err(stop) => stop.verdict(self.options.max_redirects),
        };
        let redirected = hops.len() > 1;
        result.hops = hops;
        result.drift = verdict.drift;
        result.error = verdict.error;
        if redirected && !looped {
            result.state = State::Moved;
            result.target_state = Some(verdict.state);
        } else {
            result.state = verdict.state;
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
}

/// The result of `target` before it is checked: unreachable, nothing known.
fn unchecked(target: &Target) -> LinkResult {
    LinkResult {
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
    }
}

/// A result the run's time limit left unchecked (returned, not logged).
fn not_checked(mut result: LinkResult) -> LinkResult {
    result.error = Some(NOT_CHECKED.to_string());
    result.time = crate::time::rfc3339(crate::time::now());
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
    fn hosts_take_turns_in_the_queue() {
        let checker = Checker::new(Options {
            remap: vec![("http://mirror/".to_string(), "http://b/".to_string())],
            ..Options::default()
        });
        let capture = CaptureRef {
            name: "c".to_string(),
            raw: "raw/c".to_string(),
            record: "records/c.json".to_string(),
            input: "c.html".to_string(),
            bytes: 0,
            sha256: String::new(),
            sha512: String::new(),
            text_sha256: String::new(),
            format: "wikileaks".to_string(),
            released: None,
            site_build: None,
            retrieved: None,
            redaction: Default::default(),
        };
        let target = |url: &str| Target {
            cable: "X".to_string(),
            url: url.to_string(),
            field: "url",
            capture: capture.clone(),
        };
        let queue = checker.interleave_hosts(vec![
            target("http://a/1"),
            target("http://a/2"),
            target("http://mirror/3"),
            target("http://b/4"),
            target("http://c/5"),
        ]);
        let urls: Vec<&str> = queue.iter().map(|t| t.url.as_str()).collect();
        // By host as fetched (the remapped mirror is host b), one of each in turn.
        assert_eq!(
            urls,
            [
                "http://a/1",
                "http://mirror/3",
                "http://c/5",
                "http://a/2",
                "http://b/4"
            ]
        );
    }
}
