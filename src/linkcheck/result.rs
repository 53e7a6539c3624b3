//! The result of checking one link (also one line of the event log), and what a set of results
//! says: the latest of each link, the count in each state.

use super::drift::Drift;
use super::memento::Memento;
use super::state::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One request of a redirect chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The URL requested: the archived one (remapped) first, then each redirect's target.
    pub url: String,
    /// The final status (after retries), none when no answer came.
    pub status: Option<u16>,
    /// The `Location` header of a redirect, as the server sent it; None for a final answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Requests sent for this hop (more than one after 429 or 5xx).
    pub attempts: u32,
}

/// The result of checking one link: also one line of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkResult {
    /// The cable whose capture named the link, by its canonical id.
    pub cable: String,
    /// The URL as archived (before any `--remap`).
    pub url: String,
    /// `url` or `upstream_url`: which provenance field named it.
    pub field: String,
    /// The capture compared with.
    pub capture: String,
    /// When the check ended (RFC 3339, UTC).
    pub time: String,
    /// What the check found (FORMAT.md section 6.1).
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
    /// The archived copy the Memento TimeGate found, for a link that is not intact; None when none
    /// was found or asked for.
    pub memento: Option<Memento>,
    /// Every request of the redirect chain, in order; empty when no request was sent (robots.txt,
    /// the run's time limit).
    pub hops: Vec<Hop>,
    /// For `drifted`: how the live page's text, redactions and metadata differ from the archived
    /// capture.
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

/// The latest event of each (cable, URL) in a log, sorted by cable and URL.
pub fn latest(events: &[super::log::Event]) -> Vec<LinkResult> {
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
