//! cablekeep: keeps leaked and declassified diplomatic cables safe for the long run.
//!
//! The library holds all domain logic; the `cablekeep` binary is a thin CLI over it.
//! Modules are named after the domain nouns they own:
//!
//! * [`cable`]: reading cable pages (WikiLeaks pages, mirror text pages) into records;
//! * [`capture`]: raw captures, their bag paths, stored records and the cable index;
//! * [`provenance`]: where a capture came from, when it was released, how it is redacted;
//! * [`hash`]: SHA-256 / SHA-512 fixity digests computed in one pass;
//! * [`manifest`]: BagIt manifest text and the sidecar version manifest (hash chain);
//! * [`archive`]: the deterministic BagIt-in-zip writer and a hardened, independent zip reader;
//! * [`store`]: collections, versions, the stage and the store lock;
//! * [`verify`]: fixity and structure checks that report every finding;
//! * [`diff`]: what changed between two versions of a collection.

pub mod archive;
pub mod cable;
pub mod capture;
pub mod diff;
pub mod error;
pub mod finding;
pub mod fsutil;
pub mod hash;
pub mod ingest;
pub mod manifest;
pub mod provenance;
pub mod store;
pub mod time;
pub mod verify;

pub use error::{Error, Result};
pub use finding::{Code, Finding, Severity};

/// The version of cablekeep that wrote an archive, recorded in every bag and manifest.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
