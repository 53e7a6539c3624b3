//! The state of a link, and how a final answer (no more redirects) is given one: by its status,
//! then by comparing its body with the archived capture.

use super::checker::Target;
use super::drift::{self, Drift};
use crate::bag::OpenArchive;
use crate::cable::provenance::SourceHints;
use crate::http;
use serde::{Deserialize, Serialize};

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
    /// Every state, in the order reports list them.
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

    /// The state's name in the event log and reports, e.g. `soft-404` (FORMAT.md section 6.1).
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

/// What a final answer says about a link: its state, what changed when it drifted, and why
/// when it failed or holds no cable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    pub(super) state: State,
    pub(super) drift: Option<Drift>,
    pub(super) error: Option<String>,
}

impl Verdict {
    pub(super) fn plain(state: State) -> Verdict {
        Verdict {
            state,
            drift: None,
            error: None,
        }
    }

    pub(super) fn failed(state: State, why: String) -> Verdict {
        Verdict {
            state,
            drift: None,
            error: Some(why),
        }
    }
}

/// Classifies a final answer (no more redirects): by its status, then by its body compared with
/// the capture `target` names (a body cut at `max_body` bytes cannot be compared).
pub(super) fn classify(
    archive: &OpenArchive,
    target: &Target,
    response: &http::Response,
    max_body: u64,
) -> Verdict {
    if let Some(verdict) = by_status(response.status) {
        return verdict;
    }
    if response.truncated {
        return Verdict::failed(
            State::Unreachable,
            format!("the body is larger than {max_body} bytes; reading stopped there"),
        );
    }
    if crate::hash::sha256_hex(&response.body) == target.capture.sha256 {
        return Verdict::plain(State::Intact);
    }
    let outcome = crate::cable::parse(&response.body, &target.url, &SourceHints::default());
    let Some(live) = outcome.record else {
        return Verdict::failed(State::Soft404, "the page holds no cable".to_string());
    };
    if live.id != target.cable {
        return Verdict::failed(
            State::Soft404,
            format!("the page holds another cable, {}", live.id),
        );
    }
    drift::compare(archive, target, &live)
}

/// The state a status decides alone; none for a success, whose body decides.
fn by_status(status: u16) -> Option<Verdict> {
    let state = match status {
        200..=299 => return None,
        401 | 403 | 429 | 451 => State::Blocked,
        400..=499 => State::Gone,
        500..=599 => State::ServerError,
        _ => {
            return Some(Verdict::failed(
                State::Unreachable,
                format!("HTTP {status} is not a final answer"),
            ));
        }
    };
    Some(Verdict::plain(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_decide_alone() {
        assert_eq!(by_status(200), None);
        assert_eq!(by_status(451).map(|v| v.state), Some(State::Blocked));
        assert_eq!(by_status(410).map(|v| v.state), Some(State::Gone));
        assert_eq!(by_status(503).map(|v| v.state), Some(State::ServerError));
        let odd = by_status(304).expect("a verdict");
        assert_eq!(odd.state, State::Unreachable);
        assert_eq!(odd.error.as_deref(), Some("HTTP 304 is not a final answer"));
    }
}
