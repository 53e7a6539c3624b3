//! The writers' lock and recovery after a killed writer: pending markers, the removal of an
//! interrupted write's zip, and zips without a sidecar manifest (kept, reported, and blocking
//! the next version until their manifest is rebuilt).

use super::Store;
use super::sidecar::VersionManifest;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, LockWait, StoreLock};
use crate::hash;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The most a pending marker, or a `.sha256` file, can hold: a file name and a digest.
const MAX_MARKER_BYTES: u64 = 4096;

/// A pending marker's content: the zip a write is putting in place (see
/// [`Store::pending_marker`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PendingWrite {
    /// The zip's file name.
    pub(super) file: String,
    pub(super) bytes: u64,
    pub(super) sha256: String,
}

impl PendingWrite {
    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("a pending marker serializes");
        bytes.push(b'\n');
        bytes
    }

    /// The marker at `path`, when there is one in this form (an older release's markers are
    /// empty and name no zip).
    pub(super) fn read(path: &Path) -> Option<PendingWrite> {
        // Read only when it is a regular file of a marker's size: a FIFO put there must not
        // hang recovery (which holds the store lock) or verify.
        let bytes = fsutil::read_regular_file(path, MAX_MARKER_BYTES).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The line of the zip's `.sha256` file.
    pub(super) fn checksum_line(&self) -> String {
        format!("{}  {}\n", self.sha256, self.file)
    }

    /// True when `zip` is the file this marker names: its name, size and SHA-256.
    fn names(&self, zip: &Path) -> Result<bool> {
        let named = zip.file_name().is_some_and(|n| *n == *self.file);
        let Ok(meta) = std::fs::symlink_metadata(zip) else {
            return Ok(false);
        };
        if !named || !meta.is_file() || meta.len() != self.bytes {
            return Ok(false);
        }
        Ok(hash::digest_file(zip)?.0.sha256 == self.sha256)
    }
}

impl Store {
    /// True when the zip of this version, which has no sidecar manifest, is the one an
    /// interrupted write was putting in place (its marker names its size and SHA-256), so the
    /// next writer may remove it. False for any other zip: one whose manifest was lost, one put
    /// there by hand, one a marker of an older release names without a digest.
    pub fn is_interrupted_write(&self, collection: &str, version: u32) -> Result<bool> {
        if self.is_remote() {
            // Pending markers are a local writer's state; a remote store has none.
            return Ok(false);
        }
        let marker = self.pending_marker(collection, version);
        let Some(pending) = PendingWrite::read(&marker) else {
            return Ok(false);
        };
        let zip = self.zip_path(collection, version);
        pending.names(&zip)
    }

    /// Takes the writers' lock, waiting for another writer or failing at once as `wait` says.
    pub fn lock(&self, wait: LockWait) -> Result<StoreLock> {
        self.require_local("write to it")?;
        let lock = StoreLock::acquire(&self.state_dir().join("lock"), wait)?;
        self.remove_markers_of_committed_versions(&lock)?;
        Ok(lock)
    }

    /// Removes pending markers whose version has its manifest: a writer killed after its commit
    /// point, before it removed its marker, leaves one, and were that manifest lost later, the
    /// marker would name a committed zip. Done whenever the lock is taken, so it never waits
    /// for the next write.
    fn remove_markers_of_committed_versions(&self, _lock: &StoreLock) -> Result<()> {
        let pending = self.state_dir().join("pending");
        let Ok(entries) = std::fs::read_dir(&pending) else {
            return Ok(());
        };
        let mut removed = false;
        for entry in entries {
            let entry = entry.at(&pending)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let committed = name.rsplit_once("-v").is_some_and(|(collection, v)| {
                v.parse::<u32>()
                    .is_ok_and(|v| self.manifest_path(collection, v).exists())
            });
            if committed {
                std::fs::remove_file(entry.path()).at(entry.path())?;
                removed = true;
            }
        }
        if removed {
            fsutil::fsync_parent(&pending.join("x"))?;
        }
        Ok(())
    }

    /// Cleans up after a killed writer: temporary files and zips that never got a manifest.
    /// Needs the lock. Returns what was removed.
    pub fn recover(&self, _lock: &StoreLock) -> Result<Vec<PathBuf>> {
        self.require_local("recover interrupted writes in it")?;
        let mut removed = Vec::new();
        for collection in self.collections()? {
            for dir in [
                self.archive_dir(&collection),
                self.manifest_dir(&collection),
            ] {
                if fsutil::remove_stale_temps(&dir)? > 0 {
                    removed.push(dir.join(format!("{}*", fsutil::TEMP_PREFIX)));
                }
            }
            let committed = self.versions(&collection)?;
            let latest = committed.last().copied().unwrap_or(0);
            for v in self.archive_versions(&collection)? {
                // Only the zip of an interrupted write is removed, and only when it is exactly
                // the zip its marker names. A zip that lost its manifest in any other way is
                // kept for a person to look at (verify reports it; the next write refuses).
                if v > latest && self.is_interrupted_write(&collection, v)? {
                    removed.extend(self.remove_interrupted_write(&collection, v)?);
                }
            }
        }
        // Every marker left is stale: its zip was removed above, was never put in place, or is
        // not the zip it names (that zip is kept, and now reported as having lost its manifest).
        let pending = self.state_dir().join("pending");
        if let Ok(entries) = std::fs::read_dir(&pending) {
            for entry in entries {
                let path = entry.at(&pending)?.path();
                std::fs::remove_file(&path).at(&path)?;
            }
        }
        for dir in [
            self.state_dir(),
            self.state_dir().join("stage"),
            self.blob_dir(),
        ] {
            fsutil::remove_stale_temps(&dir)?;
        }
        Ok(removed)
    }

    /// Removes the zip of an interrupted write of `version` and its `.sha256` file when that
    /// names the same digest (the writer writes it after the zip). Returns what was removed.
    fn remove_interrupted_write(&self, collection: &str, version: u32) -> Result<Vec<PathBuf>> {
        let zip = self.zip_path(collection, version);
        let checksum = self.checksum_path(collection, version);
        let mut removed = Vec::new();
        if let Some(pending) = PendingWrite::read(&self.pending_marker(collection, version))
            && fsutil::read_regular_file(&checksum, MAX_MARKER_BYTES).ok()
                == Some(pending.checksum_line().into_bytes())
        {
            std::fs::remove_file(&checksum).at(&checksum)?;
            removed.push(checksum);
        }
        std::fs::remove_file(&zip).at(&zip)?;
        removed.push(zip);
        Ok(removed)
    }

    /// Zips of a collection that have no sidecar manifest (after recovery: none of them is an
    /// interrupted write's), ascending.
    pub fn uncommitted_archives(&self, collection: &str) -> Result<Vec<u32>> {
        let committed = self.versions(collection)?;
        Ok(self
            .archive_versions(collection)?
            .into_iter()
            .filter(|v| !committed.contains(v))
            .collect())
    }

    /// A collection whose store holds a zip without a sidecar manifest gets no new version: the
    /// next version could take that zip's name, and the zip may hold the only copy of cables.
    pub(super) fn refuse_uncommitted_archives(&self, collection: &str) -> Result<()> {
        let Some(&v) = self.uncommitted_archives(collection)?.first() else {
            return Ok(());
        };
        Err(Error::Invalid(format!(
            "{}: this zip has no sidecar manifest ({} is missing), so no new version of {collection:?} \
             is written until it is dealt with; if the zip is intact, write its manifest again with \
             `cablekeep rebuild-manifest -c {collection} --version {v}`, otherwise move the zip out of the store",
            self.zip_path(collection, v).display(),
            self.manifest_path(collection, v).display(),
        )))
    }

    /// Commits a sidecar manifest written again for a zip whose manifest was lost (see
    /// [`crate::store::rebuild`]): the `.sha256` file when it is missing, then the manifest, never over
    /// an existing one; an interrupted write's marker for that zip goes, since the zip is now a
    /// version.
    pub fn commit_rebuilt_manifest(
        &self,
        _lock: &StoreLock,
        manifest: &VersionManifest,
    ) -> Result<()> {
        let (collection, version) = (manifest.collection.as_str(), manifest.version);
        let checksum = self.checksum_path(collection, version);
        if std::fs::symlink_metadata(&checksum).is_err() {
            let line = format!("{}  {}\n", manifest.archive.sha256, manifest.archive.file);
            fsutil::atomic_create(&checksum, line.as_bytes())?;
        }
        fsutil::atomic_create(
            &self.manifest_path(collection, version),
            &manifest.to_bytes(),
        )?;
        let _ = std::fs::remove_file(self.pending_marker(collection, version));
        Ok(())
    }
}
