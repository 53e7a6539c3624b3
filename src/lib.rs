//! cablekeep: keeps leaked and declassified diplomatic cables safe for the long run.
//!
//! The library holds all domain logic; the `cablekeep` binary is a thin CLI over it.
//! The code is arranged in wings that follow the data and the format (`docs/ARCHITECTURE.md`):
//!
//! * [`cable`]: reading cable pages (WikiLeaks pages, mirror text pages, bare texts, rows of the
//!   2011 bulk table `cables.csv`) into records, with their [`cable::provenance`];
//! * [`input`]: finding the input pages among files, folders and zips, with bounded reads;
//! * [`bag`]: the BagIt-in-zip format (`docs/FORMAT.md` sections 2-4): the deterministic zip
//!   writer, the hardened zip reader, BagIt manifests, captures and the cable index, and the
//!   checks of a bag;
//! * [`store`]: collections and versions, the sidecar manifests and their hash chain, the stage,
//!   the write protocol and its recovery, store-level `verify`, `rebuild`, `diff`;
//! * [`query`]: selecting cables, counting them, and the search catalog;
//! * [`export`]: researcher exports (CSV, JSON Lines, SQLite, BagIt) with citations;
//! * [`linkcheck`]: link rot: are the source pages still there and the same; the link event log;
//! * [`seal`]: seals anyone can check: Merkle trees over versions, signed checkpoints, one-cable
//!   proofs and trusted timestamps (RFC 3161);
//! * [`web`]: the web edition: a static, self-checking site of a version (`site`), and the
//!   same pages served live (`serve`);
//! * the ground floor: [`finding`] (findings and their codes), [`error`] (errors: could not
//!   run), [`fsutil`] (atomic writes, the store lock, bounded reads), `scratch` (locked
//!   temporaries), `hash` (fixity digests), `jsonl` (JSON Lines, read a line at a time),
//!   [`progress`] (progress of long work), `http` (the one HTTP client), [`time`] (the only
//!   user of chrono; UTC).
//!
//! Reading a page and sealing it into a collection's first version, then checking it:
//!
//! ```
//! use cablekeep::input::InputItem;
//! use cablekeep::cable::provenance::SourceHints;
//! use cablekeep::progress::NoProgress;
//! use cablekeep::store::{LockWait, Store, WriteRequest};
//! use cablekeep::store::verify::{self, Selection};
//!
//! let page = include_bytes!("../examples/10EXAMPLE202.html");
//! let outcome = cablekeep::cable::parse(page, "10EXAMPLE202.html", &SourceHints::default());
//! let record = outcome.record.expect("a cable page");
//! assert_eq!(record.id, "10EXAMPLE202");
//! assert_eq!(record.redaction.runs, 2);
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::new(dir.path());
//! let lock = store.lock(LockWait::FailAtOnce)?;
//! let item = InputItem::bytes("10EXAMPLE202.html", page.to_vec());
//! let written = store.write_version(&lock, WriteRequest {
//!     collection: "demo",
//!     inputs: vec![(item.into(), Default::default())],
//!     replace: false,
//!     message: "one page",
//!     progress: &NoProgress,
//!     archive_format: Default::default(),
//! })?;
//! assert_eq!(written.manifest.expect("a new version").identifier, "demo@v1");
//! let reports = verify::verify_collection(&store, "demo", Selection::All, Default::default(), &NoProgress)?;
//! assert!(reports.iter().all(|r| r.is_clean()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(unreachable_pub, missing_docs)]

pub mod bag;
pub mod cable;
pub mod error;
pub mod export;
pub mod finding;
pub mod fsutil;
pub(crate) mod hash;
pub(crate) mod http;
pub mod input;
pub(crate) mod jsonl;
pub mod linkcheck;
pub mod progress;
pub mod query;
pub mod replica;
pub(crate) mod scratch;
pub mod seal;
pub mod store;
pub mod time;
pub mod web;

pub use error::{Error, Result};
pub use finding::{Code, Finding, Severity};

/// The version of cablekeep that wrote an archive, recorded in every bag and manifest.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
