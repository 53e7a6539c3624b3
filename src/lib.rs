//! cablekeep: keeps leaked and declassified diplomatic cables safe for the long run.
//!
//! The library holds all domain logic; the `cablekeep` binary is a thin CLI over it.
//! Modules are named after the domain nouns they own:
//!
//! * [`cable`]: reading cable pages (WikiLeaks pages, mirror text pages, bare texts, rows of the
//!   2011 bulk table `cables.csv`) into records;
//! * [`capture`]: raw captures, their bag paths, stored records and the cable index;
//! * [`provenance`]: where a capture came from, when it was released, how it is redacted;
//! * [`hash`]: SHA-256 / SHA-512 fixity digests computed in one pass;
//! * [`manifest`]: BagIt manifest text and the sidecar version manifest (hash chain);
//! * [`archive`]: the deterministic BagIt-in-zip writer and a hardened, independent zip reader;
//! * [`store`]: collections, versions, the stage and the store lock;
//! * [`verify`]: fixity and structure checks that report every finding;
//! * [`rebuild`]: writing a lost sidecar manifest again from its intact zip;
//! * [`diff`]: what changed between two versions of a collection;
//! * [`select`]: which cables a filter selects, and loading their records;
//! * [`catalog`]: the SQLite/FTS5 catalog for search, and SQLite exports;
//! * [`export`]: researcher exports (CSV, JSON Lines, SQLite, BagIt) with citations;
//! * [`seal`]: signed checkpoints of versions (a Merkle tree over each manifest) and proofs
//!   for one cable, checked offline;
//! * [`linkcheck`]: link rot: are the source pages still there and the same; the link event log;
//! * [`stats`]: counts of cables by year, origin, classification, tag and redaction;
//! * [`ingest`]: finding the input pages among files, folders and zips, with bounded reads;
//! * the ground floor: [`finding`] (findings and their codes), [`error`] (errors: could not
//!   run), [`fsutil`] (atomic writes, the store lock, bounded reads), [`scratch`] (locked
//!   temporaries), [`time`] (the only user of chrono; UTC).
//!
//! Reading a page and sealing it into a collection's first version, then checking it:
//!
//! ```
//! use cablekeep::ingest::InputItem;
//! use cablekeep::provenance::SourceHints;
//! use cablekeep::store::{NoProgress, Store, WriteRequest};
//! use cablekeep::verify::{self, Selection};
//!
//! let page = include_bytes!("../examples/10EXAMPLE202.html");
//! let outcome = cablekeep::cable::parse(page, "10EXAMPLE202.html", &SourceHints::default());
//! let record = outcome.record.expect("a cable page");
//! assert_eq!(record.id, "10EXAMPLE202");
//! assert_eq!(record.redaction.runs, 2);
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::new(dir.path());
//! let lock = store.lock(false)?;
//! let item = InputItem::bytes("10EXAMPLE202.html", page.to_vec());
//! let written = store.write_version(&lock, WriteRequest {
//!     collection: "demo",
//!     inputs: vec![(item.into(), Default::default())],
//!     replace: false,
//!     message: "one page",
//!     progress: &NoProgress,
//! })?;
//! assert_eq!(written.manifest.expect("a new version").identifier, "demo@v1");
//! let reports = verify::verify_collection(&store, "demo", Selection::All, Default::default(), &NoProgress)?;
//! assert!(reports.iter().all(|r| r.is_clean()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod archive;
pub mod cable;
pub mod capture;
pub mod catalog;
pub mod diff;
pub mod error;
pub mod export;
pub mod finding;
pub mod fsutil;
pub mod hash;
pub mod ingest;
pub mod linkcheck;
pub mod manifest;
pub mod provenance;
pub mod rebuild;
pub mod scratch;
pub mod seal;
pub mod select;
pub mod stats;
pub mod store;
pub mod time;
pub mod verify;

pub use error::{Error, Result};
pub use finding::{Code, Finding, Severity};

/// The version of cablekeep that wrote an archive, recorded in every bag and manifest.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
