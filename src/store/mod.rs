//! The store: named collections of immutable versions, the stage, and the write protocol.
//!
//! Layout (see `docs/FORMAT.md`):
//! ```text
//! <store>/archives/<collection>/<collection>-v<N>.zip          the version (a BagIt bag in a zip)
//! <store>/archives/<collection>/<collection>-v<N>.zip.sha256   for `sha256sum -c`
//! <store>/manifests/<collection>/<collection>-v<N>.json        sidecar manifest (the commit record)
//! <store>/.cablekeep/lock                                      the writers' lock
//! <store>/.cablekeep/stage/<collection>.json, blobs/<sha256>   the stage
//! ```
//! A version exists exactly when its sidecar manifest exists. Writing a version puts the zip and
//! its `.sha256` in place first and the manifest last, each by an atomic rename, so a writer killed
//! at any moment leaves either no version or a complete one. A marker in `.cablekeep/pending/`
//! spans the renames and names the digest of the zip its writer is putting in place; a zip left
//! without a manifest by a killed writer (its marker still there, naming exactly that zip's
//! digest) is removed by the next writer. Any other zip without a manifest is kept, reported, and
//! blocks the collection's next version until its manifest is rebuilt
//! ([`crate::store::rebuild::rebuild_manifest`]) or a person moves it away.
//!
//! The files of this module, one job each: `paths` (where a store keeps what), `versions`
//! (reading collections, versions and sidecar manifests), `recovery` (the lock, pending markers,
//! interrupted writes, zips without a manifest), `stage` (the stage), `write` (the write
//! protocol) with its parts `ingest` (reading the inputs into the spill), `journal` (index lines
//! on disk), `base` (the previous version), `snapshot` (the new version's content) and `payload`
//! (writing its files); `commit` (committing the stage), `show` (one cable of a version), `demo`
//! (the sample store); `sidecar` (the manifest format), `name` (collection and version names),
//! `verify`, `rebuild` and `diff`.

mod base;
mod commit;
pub mod demo;
pub mod diff;
mod ingest;
mod journal;
mod name;
mod paths;
mod payload;
pub mod rebuild;
mod recovery;
pub mod remote;
#[cfg(test)]
mod remote_tests;
pub mod show;
pub mod sidecar;
mod snapshot;
mod stage;
pub mod verify;
mod versions;
mod write;

pub use crate::fsutil::LockWait;
pub use name::{CollectionName, VersionId, VersionNum, validate_collection_name};
pub use remote::{FileKind, Listed, RemoteFiles};
pub use stage::{STAGE_FORMAT, Stage, StagedItem};
pub use write::{WriteOutcome, WriteRequest};

use std::path::{Path, PathBuf};

/// A store rooted at a directory, or read through a [`RemoteFiles`] backend
/// ([`Store::remote`]).
#[derive(Debug, Clone)]
pub struct Store {
    /// The folder, or for a remote store its label (`s3://bucket/prefix`).
    root: PathBuf,
    remote: Option<std::sync::Arc<dyn RemoteFiles>>,
    /// For a remote store, the folder its caches are kept in when not the default one
    /// ([`Store::remote_cache_dir`]).
    cache: Option<PathBuf>,
}

impl Store {
    /// A store at `root` (nothing is created until something is written).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store {
            root: root.into(),
            remote: None,
            cache: None,
        }
    }

    /// The store's folder, as given to [`Store::new`] (not made absolute); for a remote store,
    /// its label (`s3://bucket/prefix`), which is no local path.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
