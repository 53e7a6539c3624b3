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
//!
//! The wing, by concern: `options` (the options, their defaults and bounds), `remap`
//! (`--remap`), `checker` (the loop: targets, workers, one link followed and classified),
//! `hosts` (per-host rate limits), `retry` (one request with retries), `robots` (robots.txt),
//! `url` (URL arithmetic), `state` (a link's state from its final answer), `drift` (what changed
//! in a cable), `memento` (archived copies), `result` (a link's result, latest and counts) and
//! [`log`] (the event log). The HTTP client is the ground floor's `crate::http`.

mod checker;
mod drift;
mod hosts;
pub mod log;
mod memento;
mod options;
mod remap;
mod result;
mod retry;
mod robots;
mod state;
mod url;

pub use checker::check;
pub use drift::Drift;
pub use memento::Memento;
pub use options::{DEFAULT_TIMEGATE, Options, limits, user_agent};
pub use remap::parse_remap;
pub use result::{Hop, LinkResult, counts, latest};
pub use state::State;
