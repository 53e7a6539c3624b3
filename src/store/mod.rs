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

pub mod diff;
mod name;
pub mod rebuild;
pub mod sidecar;
pub mod verify;

pub use name::{CollectionName, VersionId, VersionNum, validate_collection_name};

use crate::bag::capture::{self, IndexLine, Ingested, UnparsedLine};
use crate::bag::manifest::{self};
use crate::bag::{
    self, BagPlan, BagWriter, DirectoryCursor, Entry, OpenArchive, Spill, SpillReader, SpillRef,
    Spool, Spooled, TagData,
};
use crate::cable::provenance::SourceHints;
use crate::error::{Error, IoContext, Result};
use crate::finding::{Code, Finding};
use crate::fsutil::{self, StoreLock};
use crate::hash::{self, DigestBytes};
use crate::input::{Input, InputItem, InputSource};
use crate::progress::Progress;
use crate::store::sidecar::{ArchiveFacts, BagFacts, Counts, PreviousLink, VersionManifest};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// What to write as a collection's next version.
pub struct WriteRequest<'a> {
    pub collection: &'a str,
    /// The new pages (or tables of them), each with the provenance flags given for it.
    pub inputs: Vec<(Input, Arc<SourceHints>)>,
    /// The version holds exactly the inputs (cables not among them are removed), instead of the
    /// previous version's captures plus the inputs.
    pub replace: bool,
    pub message: &'a str,
    pub progress: &'a dyn Progress,
}

/// What a write did.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// The manifest of the new version; None when nothing changed (no version was written).
    pub manifest: Option<VersionManifest>,
    /// The latest version before this write.
    pub previous: Option<u32>,
    /// Every finding about the inputs.
    pub findings: Vec<Finding>,
    pub new_captures: u64,
    pub duplicate_captures: u64,
    pub removed_cables: u64,
}

/// The stage of a collection: inputs added and not yet committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub format: String,
    pub collection: String,
    pub items: Vec<StagedItem>,
}

/// One staged input. Its bytes are kept in the stage's blob folder under their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedItem {
    pub input: String,
    pub sha256: String,
    pub bytes: u64,
    /// The cable the page names, when a reader understood it.
    pub cable: Option<String>,
    /// The reader chosen with `--format`; None detects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<crate::cable::Format>,
    pub hints: SourceHints,
    pub added: String,
}

/// The `format` value of stage files.
pub const STAGE_FORMAT: &str = "cablekeep-stage/1";

/// The most a pending marker, or a `.sha256` file, can hold: a file name and a digest.
const MAX_MARKER_BYTES: u64 = 4096;

/// The most a sidecar manifest is read: a few kilobytes in practice (verify uses the same bound).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// The most a stage file is read: ~600 bytes per staged input.
const MAX_STAGE_BYTES: u64 = 1 << 30;

/// A pending marker's content: the zip a write is putting in place (see
/// [`Store::pending_marker`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PendingWrite {
    /// The zip's file name.
    file: String,
    bytes: u64,
    sha256: String,
}

impl PendingWrite {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("a pending marker serializes");
        bytes.push(b'\n');
        bytes
    }

    /// The marker at `path`, when there is one in this form (an older release's markers are
    /// empty and name no zip).
    fn read(path: &Path) -> Option<PendingWrite> {
        // Read only when it is a regular file of a marker's size: a FIFO put there must not
        // hang recovery (which holds the store lock) or verify.
        let bytes = fsutil::read_regular_file(path, MAX_MARKER_BYTES).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The line of the zip's `.sha256` file.
    fn checksum_line(&self) -> String {
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
    /// A store at `root` (nothing is created until something is written).
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn archive_dir(&self, collection: &str) -> PathBuf {
        self.root.join("archives").join(collection)
    }

    pub fn manifest_dir(&self, collection: &str) -> PathBuf {
        self.root.join("manifests").join(collection)
    }

    pub fn zip_name(collection: &str, version: u32) -> String {
        format!("{collection}-v{version}.zip")
    }

    pub fn zip_path(&self, collection: &str, version: u32) -> PathBuf {
        self.archive_dir(collection)
            .join(Self::zip_name(collection, version))
    }

    pub fn checksum_path(&self, collection: &str, version: u32) -> PathBuf {
        self.archive_dir(collection)
            .join(format!("{}.sha256", Self::zip_name(collection, version)))
    }

    pub fn manifest_path(&self, collection: &str, version: u32) -> PathBuf {
        self.manifest_dir(collection)
            .join(format!("{collection}-v{version}.json"))
    }

    /// The store whose own folders (`archives/`, `manifests/`, `.cablekeep/`) hold `path` (or
    /// are it), if any: this store, or another one (a folder of one of those names beside
    /// another of them). Nothing but a version's writer may put files there.
    pub fn root_owning(&self, path: &Path) -> Option<PathBuf> {
        let own = std::fs::canonicalize(&self.root).ok();
        let path = resolve_existing_prefix(path);
        path.ancestors().find_map(|folder| {
            let name = folder.file_name()?.to_str()?;
            let root = folder.parent()?;
            let is_store = Some(root) == own.as_deref()
                || STORE_FOLDERS
                    .iter()
                    .filter(|f| root.join(f).is_dir())
                    .count()
                    >= 2;
            (STORE_FOLDERS.contains(&name) && is_store).then(|| root.to_path_buf())
        })
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join(".cablekeep")
    }

    fn stage_path(&self, collection: &str) -> PathBuf {
        self.state_dir()
            .join("stage")
            .join(format!("{collection}.json"))
    }

    /// The marker that a write of this version is under way. It exists from before the zip is
    /// renamed into place until after the manifest is, and names the size and SHA-256 of the
    /// zip its writer puts in place ([`PendingWrite`]), so a zip without a manifest is known to
    /// come from an interrupted write only when it is exactly that zip (and only such a zip is
    /// ever removed).
    pub fn pending_marker(&self, collection: &str, version: u32) -> PathBuf {
        self.state_dir()
            .join("pending")
            .join(format!("{collection}-v{version}"))
    }

    /// True when the zip of this version, which has no sidecar manifest, is the one an
    /// interrupted write was putting in place (its marker names its size and SHA-256), so the
    /// next writer may remove it. False for any other zip: one whose manifest was lost, one put
    /// there by hand, one a marker of an older release names without a digest.
    pub fn is_interrupted_write(&self, collection: &str, version: u32) -> Result<bool> {
        let marker = self.pending_marker(collection, version);
        let Some(pending) = PendingWrite::read(&marker) else {
            return Ok(false);
        };
        let zip = self.zip_path(collection, version);
        pending.names(&zip)
    }

    fn blob_dir(&self) -> PathBuf {
        self.state_dir().join("stage").join("blobs")
    }

    /// Takes the writers' lock. With `wait`, waits for another writer to finish.
    pub fn lock(&self, wait: bool) -> Result<StoreLock> {
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

    /// The collections in the store, sorted.
    pub fn collections(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for dir in [self.root.join("manifests"), self.root.join("archives")] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry.at(&dir)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type().at(entry.path())?.is_dir()
                    && validate_collection_name(&name).is_ok()
                {
                    names.push(name);
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The versions of a collection that have a sidecar manifest, ascending.
    pub fn versions(&self, collection: &str) -> Result<Vec<u32>> {
        let prefix = format!("{collection}-v");
        numbered_files(&self.manifest_dir(collection), &prefix, ".json")
    }

    /// Zips in `archives/<collection>/` by version number (committed or not).
    pub fn archive_versions(&self, collection: &str) -> Result<Vec<u32>> {
        let prefix = format!("{collection}-v");
        numbered_files(&self.archive_dir(collection), &prefix, ".zip")
    }

    /// The newest version, if any.
    pub fn latest(&self, collection: &str) -> Result<Option<u32>> {
        Ok(self.versions(collection)?.last().copied())
    }

    /// Resolves an optional version number to an existing one (default: the latest).
    pub fn resolve_version(&self, collection: &str, version: Option<u32>) -> Result<u32> {
        let versions = self.versions(collection)?;
        match version {
            Some(v) if versions.contains(&v) => Ok(v),
            Some(v) => Err(Error::NotFound(format!(
                "collection {collection:?} has no version v{v}"
            ))),
            None => versions.last().copied().ok_or_else(|| {
                Error::NotFound(format!(
                    "collection {collection:?} has no versions in {}",
                    self.root.display()
                ))
            }),
        }
    }

    /// Reads a sidecar manifest: the parsed manifest and its exact bytes.
    pub fn read_manifest(
        &self,
        collection: &str,
        version: u32,
    ) -> Result<(VersionManifest, Vec<u8>)> {
        let path = self.manifest_path(collection, version);
        let bytes = fsutil::read_regular_file(&path, MAX_MANIFEST_BYTES)?;
        let manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.clone(),
            message: format!("not a cablekeep manifest: {e}"),
        })?;
        Ok((manifest, bytes))
    }

    /// Cleans up after a killed writer: temporary files and zips that never got a manifest.
    /// Needs the lock. Returns what was removed.
    pub fn recover(&self, _lock: &StoreLock) -> Result<Vec<PathBuf>> {
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
    fn refuse_uncommitted_archives(&self, collection: &str) -> Result<()> {
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

    /// Writes the next version of a collection, or nothing when the inputs add nothing new.
    ///
    /// Memory stays small as the collection grows: captures are compressed into the spill as
    /// they are read, index lines live in a journal on disk, and per cable only its id, where
    /// its line is, and a 16-byte key of each capture are held.
    pub fn write_version(
        &self,
        lock: &StoreLock,
        mut request: WriteRequest<'_>,
    ) -> Result<WriteOutcome> {
        validate_collection_name(request.collection)?;
        // Taken so that each can go once read (see `InputQueue`).
        let inputs = std::mem::take(&mut request.inputs);
        let input_count = inputs.iter().map(|(input, _)| input.count()).sum();
        self.recover(lock)?;
        let collection = request.collection;
        self.refuse_uncommitted_archives(collection)?;
        let previous = self.latest(collection)?;
        let mut outcome = WriteOutcome {
            previous,
            ..WriteOutcome::default()
        };
        let scratch = self.state_dir();
        let mut journal = LineJournal::create(&scratch)?;
        // The previous version is read even with --replace: the new version chains to it and
        // copies the captures it still holds.
        let mut base = previous
            .map(|v| Base::open(self, collection, v, &mut journal))
            .transpose()?;
        // Its lines move into the new version, unless that replaces its captures.
        let lines = match (&mut base, request.replace) {
            (Some(b), false) => Some(std::mem::take(&mut b.lines)),
            _ => None,
        };

        // Every new capture is compressed into the spill as it is read, so it is read, parsed,
        // hashed and compressed once; bytes the previous version already holds are not spilled.
        let spill = Spill::create(&scratch)?;
        let mut snapshot = match (&base, lines) {
            (Some(b), Some(lines)) => Snapshot::building_on(lines, b),
            _ => Snapshot::default(),
        };
        if snapshot.kept.is_none() {
            // Sized once for a first version, whose inputs are all new: growing doubles the
            // table at the end of a large bundle, the old and the new table both held for a
            // moment (6 and 13 MB for the whole corpus). A later version's inputs are mostly
            // the captures it keeps, which are not in this table.
            snapshot.origins.reserve(input_count);
        }
        let known = base.as_ref().map(|b| &b.raw_keys);
        let mut duplicates = Vec::new();
        ingest_all(
            inputs,
            request.progress,
            &spill,
            known,
            &mut outcome.findings,
            |input, item| {
                if snapshot.add(&mut journal, item)? {
                    outcome.new_captures += 1;
                } else {
                    outcome.duplicate_captures += 1;
                    duplicates.push(Finding::new(
                    Code::DuplicateCapture,
                    &input.name,
                    "the same bytes are already in the collection or among the inputs; kept once",
                ));
                }
                Ok(())
            },
        )?;
        outcome.findings.append(&mut duplicates);
        // No input was read (none given, or every one refused): there is nothing to write,
        // neither an empty first version nor, with --replace, a version without cables.
        if outcome.new_captures == 0 && outcome.duplicate_captures == 0 {
            return Ok(outcome);
        }
        if let Some(b) = &base {
            if request.replace {
                outcome.removed_cables = b
                    .lines
                    .keys()
                    .filter(|id| !snapshot.cables.contains_key(*id))
                    .count() as u64;
                snapshot.reuse_from(&mut journal, b)?;
            }
            if snapshot.same_as(b) {
                return Ok(outcome);
            }
        }
        let version = previous.map_or(1, |v| v + 1);
        let written = Written {
            snapshot: &snapshot,
            journal: &mut journal,
            spill,
            base: base.as_ref(),
        };
        let manifest = self.commit_snapshot(collection, version, written, &request)?;
        outcome.manifest = Some(manifest);
        Ok(outcome)
    }

    fn commit_snapshot(
        &self,
        collection: &str,
        version: u32,
        written: Written<'_>,
        request: &WriteRequest<'_>,
    ) -> Result<VersionManifest> {
        let Written {
            snapshot,
            journal,
            spill,
            base,
        } = written;
        let folder = format!("{collection}-v{version}");
        let scratch = self.state_dir();
        let index = snapshot.spool_index(journal, &scratch)?;
        let dir = self.archive_dir(collection);
        let tmp = fsutil::temp_file_in(&dir)?;
        let file = tmp.as_file().try_clone().at(tmp.path())?;
        let mut bag = BagWriter::new(file, &folder, &scratch)?;
        let spill = spill.into_reader()?;
        request.progress.start("packing", snapshot.payload_files());
        // The index is complete before the payload is copied, and copying leaves a core mostly
        // free (the zip's SHA-512 takes the other): the index is compressed meanwhile.
        let (copied, index) = std::thread::scope(|s| {
            let scratch = &scratch;
            let compressing = s.spawn(move || -> Result<Spooled> {
                let mut index = index;
                index.compress(bag::INDEX_FILE, scratch)?;
                Ok(index)
            });
            let copied = snapshot.write_payload(journal, &spill, base, &mut bag, request.progress);
            match compressing.join() {
                Ok(index) => (copied, index),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        copied?;
        request.progress.finish();
        drop(spill);
        let plan = BagPlan {
            folder: folder.clone(),
            bag_info: bag_info(collection, version, request.message, snapshot, base),
            tag_files: vec![
                (bag::INDEX_FILE.to_string(), TagData::Spooled(index?)),
                (
                    bag::UNPARSED_FILE.to_string(),
                    TagData::Bytes(crate::jsonl::write_jsonl(snapshot.unparsed.values())),
                ),
            ],
        };
        let (_, written) = bag.finish(plan)?;
        tmp.as_file().sync_all().at(tmp.path())?;
        let (zip_digests, zip_bytes) = (written.zip_digests.clone(), written.zip_bytes);
        let zip_path = self.zip_path(collection, version);
        let zip_name = Self::zip_name(collection, version);
        let pending = PendingWrite {
            file: zip_name.clone(),
            bytes: zip_bytes,
            sha256: zip_digests.sha256.clone(),
        };
        let marker = self.pending_marker(collection, version);
        // The marker is created only for a name this writer is about to own: never over another
        // writer's marker, and it goes again when the zip cannot take its name.
        fsutil::atomic_create(&marker, &pending.to_bytes())?;
        if let Err(e) = fsutil::persist(tmp, &zip_path, true) {
            let _ = std::fs::remove_file(&marker);
            return Err(e);
        }
        fsutil::atomic_create(
            &self.checksum_path(collection, version),
            pending.checksum_line().as_bytes(),
        )?;
        let manifest = VersionManifest {
            format: crate::store::sidecar::SIDECAR_FORMAT.to_string(),
            collection: collection.to_string(),
            version,
            identifier: format!("{collection}@v{version}"),
            created: crate::time::rfc3339(crate::time::now()),
            tool: format!("cablekeep {}", crate::TOOL_VERSION),
            message: request.message.to_string(),
            archive: ArchiveFacts {
                file: zip_name,
                bytes: zip_bytes,
                sha256: zip_digests.sha256,
                sha512: zip_digests.sha512,
            },
            bag: BagFacts {
                folder,
                payload_oxum: written.payload_oxum.clone(),
                tag_files: written.tag_files.clone(),
            },
            counts: Counts {
                cables: snapshot.cables.len() as u64,
                captures: snapshot.captures,
                unparsed: snapshot.unparsed.len() as u64,
                payload_files: written.payload_files,
                payload_bytes: written.payload_bytes,
                zip_entries: written.zip_entries,
            },
            previous: base.map(|b| PreviousLink {
                version: b.version,
                manifest_sha256: hash::sha256_hex(&b.manifest_bytes),
                archive_sha256: b.manifest.archive.sha256.clone(),
            }),
            rebuilt: None,
        };
        // The commit point: the version exists from the moment this rename lands.
        fsutil::atomic_create(
            &self.manifest_path(collection, version),
            &manifest.to_bytes(),
        )?;
        // The version is committed. The marker goes, durably: left behind (a crash just now), it
        // is removed whenever the store lock is next taken, since its version has a manifest.
        if std::fs::remove_file(&marker).is_ok() {
            let _ = fsutil::fsync_parent(&marker);
        }
        Ok(manifest)
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

    /// Reads the stage of a collection (empty when there is none).
    pub fn stage(&self, collection: &str) -> Result<Stage> {
        let path = self.stage_path(collection);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(Stage {
                format: STAGE_FORMAT.into(),
                collection: collection.into(),
                items: Vec::new(),
            });
        }
        let bytes = fsutil::read_regular_file(&path, MAX_STAGE_BYTES)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path,
            message: format!("not a stage file: {e}"),
        })
    }

    /// Collections that have something staged.
    pub fn staged_collections(&self) -> Result<Vec<String>> {
        let dir = self.state_dir().join("stage");
        let mut names = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(names);
        };
        for entry in entries {
            let name = entry.at(&dir)?.file_name().to_string_lossy().into_owned();
            if let Some(c) = name.strip_suffix(".json")
                && validate_collection_name(c).is_ok()
            {
                names.push(c.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Adds inputs to a collection's stage: their bytes are copied into the stage, and the stage
    /// file is replaced atomically. Returns the findings of reading the pages.
    pub fn stage_add(
        &self,
        _lock: &StoreLock,
        collection: &str,
        inputs: &[InputItem],
        hints: &SourceHints,
    ) -> Result<(Stage, Vec<Finding>)> {
        validate_collection_name(collection)?;
        let mut stage = self.stage(collection)?;
        let mut findings = Vec::new();
        let blob_dir = self.blob_dir();
        let staged: Vec<Result<(StagedItem, Vec<Finding>)>> = inputs
            .par_iter()
            .map(|item| {
                let bytes = item.load()?;
                let sha256 = hash::sha256_hex(&bytes);
                let blob = blob_dir.join(&sha256);
                // A blob already there is reused only while it still holds these bytes.
                let intact = fsutil::read_regular_file(&blob, bytes.len() as u64)
                    .is_ok_and(|b| hash::sha256_hex(&b) == sha256);
                if !intact {
                    fsutil::atomic_write(&blob, &bytes)?;
                }
                let outcome = crate::cable::parse_as(&bytes, &item.name, hints, item.format);
                let staged = StagedItem {
                    input: item.name.clone(),
                    sha256,
                    bytes: bytes.len() as u64,
                    cable: outcome.record.map(|r| r.id),
                    format: item.format,
                    hints: hints.clone(),
                    added: crate::time::rfc3339(crate::time::now()),
                };
                Ok((staged, outcome.findings))
            })
            .collect();
        let mut added = Vec::with_capacity(staged.len());
        for result in staged {
            let (item, mut item_findings) = result?;
            findings.append(&mut item_findings);
            added.push(item);
        }
        // Adding an input name again replaces what an earlier `add` staged under it. Inputs of
        // one `add` that share a name (`a/x.html` and `b/x.html` are both `x.html`) are all
        // kept, unless they are the same bytes.
        let names: HashSet<&str> = added.iter().map(|i| i.input.as_str()).collect();
        stage.items.retain(|s| !names.contains(s.input.as_str()));
        let mut seen = HashSet::new();
        added.retain(|i| seen.insert((i.input.clone(), i.sha256.clone())));
        stage.items.extend(added);
        // Stable: inputs of the same name keep the order they were given in.
        stage.items.sort_by(|a, b| a.input.cmp(&b.input));
        let mut bytes = serde_json::to_vec_pretty(&stage).expect("stage serializes");
        bytes.push(b'\n');
        fsutil::atomic_write(&self.stage_path(collection), &bytes)?;
        Ok((stage, findings))
    }

    /// The staged inputs of a collection as inputs for [`Store::write_version`].
    pub fn staged_inputs(&self, stage: &Stage) -> Vec<(Input, Arc<SourceHints>)> {
        stage
            .items
            .iter()
            .map(|s| {
                let item = InputItem {
                    name: s.input.clone(),
                    source: InputSource::Staged {
                        path: self.blob_dir().join(&s.sha256),
                        sha256: s.sha256.clone(),
                        len: s.bytes,
                    },
                    format: s.format,
                };
                (item.into(), Arc::new(s.hints.clone()))
            })
            .collect()
    }

    /// Empties a collection's stage after its commit, and removes blobs no stage still needs.
    pub fn stage_clear(&self, _lock: &StoreLock, collection: &str) -> Result<()> {
        let path = self.stage_path(collection);
        if path.exists() {
            std::fs::remove_file(&path).at(&path)?;
            fsutil::fsync_parent(&path)?;
        }
        let mut needed = std::collections::HashSet::new();
        for c in self.staged_collections()? {
            needed.extend(self.stage(&c)?.items.into_iter().map(|i| i.sha256));
        }
        let dir = self.blob_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries {
            let entry = entry.at(&dir)?;
            if !needed.contains(&*entry.file_name().to_string_lossy()) {
                std::fs::remove_file(entry.path()).at(entry.path())?;
            }
        }
        Ok(())
    }
}

/// The folders a store is made of.
const STORE_FOLDERS: [&str; 3] = ["archives", "manifests", ".cablekeep"];

/// `path` made absolute through its longest existing prefix (symbolic links resolved there), the
/// rest appended as written (`..` taken lexically), so a path that does not exist yet can be
/// placed.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut prefix = absolute.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(prefix) {
            let mut resolved = real;
            for part in rest.iter().rev() {
                match part {
                    std::path::Component::ParentDir => {
                        resolved.pop();
                    }
                    std::path::Component::Normal(p) => resolved.push(p),
                    _ => {}
                }
            }
            return resolved;
        }
        let (Some(parent), Some(last)) = (prefix.parent(), prefix.components().next_back()) else {
            return absolute;
        };
        rest.push(last);
        prefix = parent;
    }
}

/// Numbers N of files named `<prefix>N<suffix>` in `dir`, ascending.
fn numbered_files(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries {
        let name = entry.at(dir)?.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            && let Ok(v) = n.parse::<u32>()
            && v > 0
            && n == v.to_string()
        {
            out.push(v);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What [`Store::commit_snapshot`] writes: the snapshot, the journal its lines are in, the
/// spilled captures and the previous version.
struct Written<'a> {
    snapshot: &'a Snapshot<'a>,
    journal: &'a mut LineJournal,
    spill: Spill,
    base: Option<&'a Base>,
}

/// The index lines of the versions being read and written, as JSON, in a temporary file: a
/// line is appended when it is read or changed, and found again by its [`Slot`]. So a cable
/// costs memory only for its id and slot (its line is ~1 KB: 250 MB for the whole corpus).
struct LineJournal {
    writer: std::io::BufWriter<std::fs::File>,
    end: u64,
    dir: PathBuf,
}

/// Where an index line is in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    offset: u64,
    len: u32,
}

impl LineJournal {
    fn create(dir: &Path) -> Result<LineJournal> {
        let file = tempfile::tempfile_in(dir).at(dir)?;
        Ok(LineJournal {
            writer: std::io::BufWriter::with_capacity(1 << 20, file),
            end: 0,
            dir: dir.to_path_buf(),
        })
    }

    fn append(&mut self, line: &IndexLine) -> Result<Slot> {
        use std::io::Write;
        let bytes = serde_json::to_vec(line).expect("an index line serializes");
        self.writer.write_all(&bytes).at(&self.dir)?;
        let slot = Slot {
            offset: self.end,
            len: u32::try_from(bytes.len())
                .map_err(|_| Error::Invalid(format!("{}: index line too long", line.id)))?,
        };
        self.end += bytes.len() as u64;
        Ok(slot)
    }

    /// The bytes of a line (its JSON, without a line break).
    fn bytes(&mut self, slot: Slot, buf: &mut Vec<u8>) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        self.writer.flush().at(&self.dir)?;
        buf.resize(slot.len as usize, 0);
        self.writer
            .get_ref()
            .read_exact_at(buf, slot.offset)
            .at(&self.dir)
    }

    fn read(&mut self, slot: Slot) -> Result<IndexLine> {
        let mut buf = Vec::new();
        self.bytes(slot, &mut buf)?;
        serde_json::from_slice(&buf)
            .map_err(|e| Error::Invalid(format!("the index journal is damaged: {e}")))
    }
}

/// A capture's raw path, as a 128-bit key (the first half of its SHA-256): the sets of
/// captures held and seen keep these instead of the paths. Bytes rather than a `u128`, whose
/// 16-byte alignment would pad a map entry with an 8-byte value to 32 bytes.
type PathKey = [u8; 16];

fn path_key(path: &str) -> PathKey {
    let digest = Sha256::digest(path.as_bytes());
    digest[..16].try_into().expect("16 bytes")
}

/// Hands every line of an archive's cable index to `each`, as the index is inflated (it is
/// never held whole). The archive must be intact.
fn stream_index(
    archive: &OpenArchive,
    mut each: impl FnMut(IndexLine) -> Result<()>,
) -> Result<()> {
    let damaged = |what: String| Error::Corrupt {
        path: archive.path.clone(),
        message: format!("{}: {what}", bag::INDEX_FILE),
    };
    let entry = archive
        .entry(bag::INDEX_FILE)
        .ok_or_else(|| damaged("missing from the archive; run `cablekeep verify`".to_string()))?;
    let mut splitter = crate::jsonl::LineSplitter::default();
    let mut failed: Option<Error> = None;
    let mut take = |line: &[u8], number: usize| -> bool {
        if line.is_empty() {
            return true;
        }
        let parsed = crate::jsonl::parse_json(line)
            .map_err(|e| damaged(format!("line {number}: {e}")))
            .and_then(&mut each);
        match parsed {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    };
    let mut going = true;
    let findings = archive.stream(entry, |chunk| {
        if going {
            going = splitter.feed(chunk, &mut take);
        }
    })?;
    if going {
        splitter.finish(&mut take);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(f) = findings.first() {
        return Err(damaged(format!("is damaged ({f}); run `cablekeep verify`")));
    }
    Ok(())
}

fn read_unparsed(archive: &OpenArchive) -> Result<Vec<UnparsedLine>> {
    let bytes = archive.read_required(bag::UNPARSED_FILE)?;
    crate::jsonl::read_jsonl(&bytes).map_err(|e| Error::Corrupt {
        path: archive.path.clone(),
        message: format!("{}: {e}", bag::UNPARSED_FILE),
    })
}

/// The previous version, which a new version builds on.
struct Base {
    version: u32,
    manifest: VersionManifest,
    manifest_bytes: Vec<u8>,
    /// Its archive, opened for its tag files only: the payload files copied from it are found
    /// by [`PreviousFiles`].
    archive: OpenArchive,
    /// Its cables' index lines, in the journal (moved into the new version's snapshot unless
    /// it replaces this one's captures).
    lines: BTreeMap<Box<str>, Slot>,
    unparsed: Vec<UnparsedLine>,
    /// The raw bytes' paths of every capture it holds (parsed or not).
    raw_keys: HashSet<PathKey>,
    captures: u64,
}

impl Base {
    fn open(
        store: &Store,
        collection: &str,
        version: u32,
        journal: &mut LineJournal,
    ) -> Result<Base> {
        let (manifest, manifest_bytes) = store.read_manifest(collection, version)?;
        let tag_files = |path: &str| !path.starts_with("data/");
        let archive = OpenArchive::open_selected(&store.zip_path(collection, version), &tag_files)?;
        let mut lines = BTreeMap::new();
        let mut raw_keys = HashSet::new();
        let mut captures = 0;
        stream_index(&archive, |line| {
            raw_keys.extend(line.captures.iter().map(|c| path_key(&c.raw)));
            captures += line.captures.len() as u64;
            let slot = journal.append(&line)?;
            lines.insert(line.id.into_boxed_str(), slot);
            Ok(())
        })?;
        let unparsed = read_unparsed(&archive)?;
        raw_keys.extend(unparsed.iter().map(|u| path_key(&u.raw)));
        Ok(Base {
            version,
            manifest,
            manifest_bytes,
            archive,
            lines,
            unparsed,
            raw_keys,
            captures,
        })
    }

    /// The payload manifests of this version, checked against the digests its sidecar manifest
    /// records for them and ready to be read in path order.
    fn manifests(&self, scratch: &Path) -> Result<ManifestCursors> {
        Ok((
            ManifestCursor::open(self, "sha256", scratch)?,
            ManifestCursor::open(self, "sha512", scratch)?,
        ))
    }

    /// Inflates each file to be copied from this version and checks its SHA-256 (and the zip's
    /// CRC-32) against the manifest, on all cores. Any difference stops the write.
    fn check_copied(&self, files: &[(Entry, DigestBytes)]) -> Result<()> {
        files.par_iter().try_for_each(|(entry, digests)| {
            let mut sha256 = Sha256::new();
            let findings = self.archive.stream(entry, |chunk| sha256.update(chunk))?;
            let sha256: hash::Sha256Bytes = sha256.finalize().into();
            if !findings.is_empty() || sha256 != digests.sha256 {
                return Err(self.damaged(format!("{} does not match its manifest", entry.name)));
            }
            Ok(())
        })
    }

    fn damaged(&self, what: String) -> Error {
        Error::Corrupt {
            path: self.archive.path.clone(),
            message: format!("{what}; run `cablekeep verify` before writing a new version"),
        }
    }
}

/// Where the payload files of the previous version are, found by reading its central directory
/// forward: they are copied in path order, the order cablekeep lists them in, so no table of
/// its entries is built (~140 bytes each: 70 MB for the full corpus). Only when a file is not
/// where that order puts it (an archive written otherwise, or damaged) is the whole directory
/// read into a table, which then answers.
struct PreviousFiles<'a> {
    base: &'a Base,
    cursor: DirectoryCursor<'a>,
    table: Option<OpenArchive>,
}

impl<'a> PreviousFiles<'a> {
    fn new(base: &'a Base) -> Result<Self> {
        Ok(PreviousFiles {
            base,
            cursor: base.archive.directory_cursor()?,
            table: None,
        })
    }

    /// The entry of the payload file at `path` (in the bag), with where its data starts.
    fn find(&mut self, path: &str) -> Result<Entry> {
        if self.table.is_none() {
            let folder = self.base.archive.folder.as_deref().unwrap_or_default();
            let found = self.cursor.find(&format!("{folder}/{path}"));
            if let Some(entry) = found.at(&self.base.archive.path)? {
                return Ok(entry);
            }
            self.table = Some(OpenArchive::open(&self.base.archive.path)?);
        }
        let table = self.table.as_ref().expect("the table was just read");
        table
            .entry(path)
            .cloned()
            .ok_or_else(|| self.base.damaged(format!("{path} is missing from the zip")))
    }
}

/// A payload manifest of the previous version, inflated to a temporary file and read forward
/// in path order: the files copied from that version are wanted in path order too, so their
/// digests are found by reading on, and no table of digests is built.
struct ManifestCursor<const N: usize> {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    name: String,
    archive: PathBuf,
}

impl<const N: usize> ManifestCursor<N> {
    fn open(base: &Base, algorithm: &str, scratch: &Path) -> Result<ManifestCursor<N>> {
        use std::io::{Seek, Write};
        let name = format!("manifest-{algorithm}.txt");
        let damaged = |what: &str| Error::Corrupt {
            path: base.archive.path.clone(),
            message: format!("{name} {what}; run `cablekeep verify`"),
        };
        let entry = base
            .archive
            .entry(&name)
            .ok_or_else(|| damaged("is missing"))?;
        let mut out = std::io::BufWriter::new(tempfile::tempfile_in(scratch).at(scratch)?);
        let mut sha256 = Sha256::new();
        let mut written = Ok(());
        let findings = base.archive.stream(entry, |chunk| {
            sha256.update(chunk);
            if written.is_ok() {
                written = out.write_all(chunk);
            }
        })?;
        written.at(scratch)?;
        let recorded = base
            .manifest
            .bag
            .tag_files
            .get(&name)
            .map(|d| d.sha256.as_str());
        if !findings.is_empty() || recorded != Some(hex::encode(sha256.finalize()).as_str()) {
            return Err(damaged("differs from the sidecar manifest's digest"));
        }
        let mut file = out.into_inner().map_err(|e| e.into_error()).at(scratch)?;
        file.seek(std::io::SeekFrom::Start(0)).at(scratch)?;
        Ok(ManifestCursor {
            lines: std::io::BufRead::lines(std::io::BufReader::with_capacity(1 << 20, file)),
            name,
            archive: base.archive.path.clone(),
        })
    }

    /// The digest of `path`, reading on until its line. Paths must be asked for in order.
    fn find(&mut self, path: &str) -> Result<[u8; N]> {
        let damaged = |what: String| Error::Corrupt {
            path: self.archive.clone(),
            message: format!("{}: {what}; run `cablekeep verify`", self.name),
        };
        for line in self.lines.by_ref() {
            let line = line.map_err(|e| damaged(e.to_string()))?;
            let Some((digest, listed)) =
                manifest::split_manifest_line(&line).map_err(|e| damaged(e.to_string()))?
            else {
                continue;
            };
            match listed.as_ref().cmp(path) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => {
                    return hash::hex_to_bytes(digest)
                        .ok_or_else(|| damaged(manifest::not_a_digest(digest, N * 2).to_string()));
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        Err(damaged(format!(
            "does not list {path} (or is out of order)"
        )))
    }
}

/// Where a capture's bytes come from when the version is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Read from an input: its raw bytes in the spill, followed there by its record (for a
    /// parsed page; see [`Spill::add_together`]). One reference rather than two keeps an entry
    /// of [`Snapshot::origins`] small.
    Input { raw: SpillRef },
    /// The previous version's archive.
    Previous,
}

/// An [`Origin`] in 8 bytes, as [`Snapshot::origins`] keeps it (the enum takes 16): the spill
/// position, or `u64::MAX`, which no spill reaches, for the previous version. With the 16-byte
/// key an entry is 24 bytes, where the enum would pad it to 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedOrigin(u64);

impl PackedOrigin {
    const PREVIOUS: u64 = u64::MAX;

    fn pack(origin: Origin) -> PackedOrigin {
        match origin {
            Origin::Input { raw } => PackedOrigin(raw.0),
            Origin::Previous => PackedOrigin(Self::PREVIOUS),
        }
    }

    fn unpack(self) -> Origin {
        if self.0 == Self::PREVIOUS {
            Origin::Previous
        } else {
            Origin::Input {
                raw: SpillRef(self.0),
            }
        }
    }
}

/// The content of the version being written: cables (their lines in the journal) and
/// unparsed inputs.
#[derive(Default)]
struct Snapshot<'b> {
    cables: BTreeMap<Box<str>, Slot>,
    captures: u64,
    unparsed: BTreeMap<String, UnparsedLine>,
    /// Where each capture's bytes (by raw path) come from, but for those of `kept`.
    origins: HashMap<PathKey, PackedOrigin>,
    /// The previous version's captures (by raw path), when the version builds on it: it holds
    /// them all, and each comes from the previous version's archive. They are looked up here
    /// rather than copied into `origins`, which a second version's inputs would then make
    /// double in size.
    kept: Option<&'b HashSet<PathKey>>,
}

impl<'b> Snapshot<'b> {
    /// The previous version's captures, its lines moved out of `base` rather than copied (a
    /// copy grows with the corpus; only `--replace`, which starts from no captures, reads them
    /// again).
    fn building_on(lines: BTreeMap<Box<str>, Slot>, base: &'b Base) -> Snapshot<'b> {
        let mut s = Snapshot {
            cables: lines,
            captures: base.captures,
            kept: Some(&base.raw_keys),
            ..Snapshot::default()
        };
        for u in &base.unparsed {
            s.unparsed.insert(u.raw.clone(), u.clone());
        }
        s
    }

    /// Where the bytes of the capture with raw path `key` come from; None when the version
    /// does not hold it.
    fn origin(&self, key: &PathKey) -> Option<Origin> {
        if let Some(o) = self.origins.get(key) {
            return Some(o.unpack());
        }
        self.kept
            .filter(|kept| kept.contains(key))
            .map(|_| Origin::Previous)
    }

    /// With `--replace`, captures that the previous version already had are copied from it
    /// rather than re-read, so their records stay exactly as they were.
    fn reuse_from(&mut self, journal: &mut LineJournal, base: &Base) -> Result<()> {
        for (key, origin) in self.origins.iter_mut() {
            if base.raw_keys.contains(key) {
                *origin = PackedOrigin::pack(Origin::Previous);
            }
        }
        for (id, base_slot) in &base.lines {
            let Some(slot) = self.cables.get_mut(id) else {
                continue;
            };
            let mut mine = journal.read(*slot)?;
            let old = journal.read(*base_slot)?;
            let mut changed = false;
            for c in mine.captures.iter_mut() {
                if let Some(o) = old.captures.iter().find(|o| o.raw == c.raw)
                    && o != c
                {
                    *c = o.clone();
                    changed = true;
                }
            }
            if changed {
                *slot = journal.append(&mine)?;
            }
        }
        Ok(())
    }

    /// Adds an ingested input; false when its bytes are already there.
    fn add(&mut self, journal: &mut LineJournal, item: Spilled) -> Result<bool> {
        let origin = match item.raw {
            Some(raw) => Origin::Input { raw },
            // Bytes the previous version holds were not spilled: with --replace they are
            // copied from it (see `reuse_from`); otherwise they are a duplicate (below).
            None => Origin::Previous,
        };
        match item.ingested {
            Ingested::Cable { line, .. } => {
                let key = path_key(&line.captures[0].raw);
                if self.origin(&key).is_some() {
                    return Ok(false);
                }
                let added = match self.cables.get(line.id.as_str()).copied() {
                    Some(slot) => {
                        let mut existing = journal.read(slot)?;
                        let merged = capture::merge_capture(&mut existing, line);
                        if merged {
                            let slot = journal.append(&existing)?;
                            self.cables.insert(existing.id.into_boxed_str(), slot);
                        }
                        merged
                    }
                    None => {
                        let slot = journal.append(&line)?;
                        self.cables.insert(line.id.into_boxed_str(), slot);
                        true
                    }
                };
                if added {
                    self.origins.insert(key, PackedOrigin::pack(origin));
                    self.captures += 1;
                }
                Ok(added)
            }
            Ingested::Unparsed(u) => {
                let key = path_key(&u.raw);
                if self.origin(&key).is_some() {
                    return Ok(false);
                }
                self.origins.insert(key, PackedOrigin::pack(origin));
                self.unparsed.insert(u.raw.clone(), u);
                Ok(true)
            }
        }
    }

    /// True when this snapshot holds exactly the captures of the base version.
    fn same_as(&self, base: &Base) -> bool {
        let held = self.origins.len() + self.kept.map_or(0, HashSet::len);
        self.origins
            .values()
            .all(|o| o.unpack() == Origin::Previous)
            && held as u64 == base.captures + base.unparsed.len() as u64
    }

    /// How many payload files the version has: a raw file and a record per capture, and each
    /// unparsed input.
    fn payload_files(&self) -> u64 {
        2 * self.captures + self.unparsed.len() as u64
    }

    /// The cable index, one line per cable sorted by id, spooled from the journal.
    fn spool_index(&self, journal: &mut LineJournal, scratch: &Path) -> Result<Spooled> {
        let mut spool = Spool::create(scratch)?;
        let mut buf = Vec::new();
        for slot in self.cables.values() {
            journal.bytes(*slot, &mut buf)?;
            buf.push(b'\n');
            spool.write(&buf)?;
        }
        spool.finish()
    }

    /// Writes every payload file into `bag` in path order: cables in the order of their
    /// folders (`data/cables/<ID>/`), each cable's files sorted, then the unparsed inputs. New
    /// files are copied raw from the spill; files the previous version holds are checked
    /// against its manifests (a batch at a time, on all cores) and copied raw from its zip.
    fn write_payload(
        &self,
        journal: &mut LineJournal,
        spill: &SpillReader,
        base: Option<&Base>,
        bag: &mut BagWriter,
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut cursors = base.map(|b| b.manifests(bag.scratch())).transpose()?;
        let mut previous = base.map(PreviousFiles::new).transpose()?;
        let mut ids = FolderOrder::new(self.cables.iter().map(|(id, s)| (&**id, *s)));
        let mut batch = Vec::with_capacity(COPY_BATCH);
        let mut files: Vec<PlannedFile> = Vec::new();
        loop {
            batch.clear();
            batch.extend(ids.by_ref().take(COPY_BATCH));
            if batch.is_empty() {
                break;
            }
            files.clear();
            for (id, slot) in &batch {
                let line = journal.read(*slot)?;
                self.plan_cable(id, line, &mut files)?;
            }
            let from = previous.as_mut().zip(cursors.as_mut());
            self.write_batch(&mut files, spill, from, bag, progress)?;
        }
        files.clear();
        for u in self.unparsed.values() {
            files.push(PlannedFile {
                path: u.raw.clone(),
                origin: self.origin_of(&u.raw)?,
                record: false,
            });
        }
        let from = previous.as_mut().zip(cursors.as_mut());
        self.write_batch(&mut files, spill, from, bag, progress)
    }

    /// Where the bytes of the capture with raw path `raw` come from.
    fn origin_of(&self, raw: &str) -> Result<Origin> {
        self.origin(&path_key(raw)).ok_or_else(|| {
            Error::Invalid(format!(
                "{raw}: a capture without an origin (internal error)"
            ))
        })
    }

    /// A cable's payload files, sorted by path.
    fn plan_cable(&self, id: &str, line: IndexLine, files: &mut Vec<PlannedFile>) -> Result<()> {
        let first = files.len();
        let folder = format!("data/cables/{id}/");
        for c in line.captures {
            let origin = self.origin_of(&c.raw)?;
            for (path, record) in [(c.raw, false), (c.record, true)] {
                if !path.starts_with(&folder) {
                    return Err(Error::Invalid(format!(
                        "{path}: not in its cable's folder {folder} (the index is damaged)"
                    )));
                }
                files.push(PlannedFile {
                    path,
                    origin,
                    record,
                });
            }
        }
        files[first..].sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }

    /// Writes a batch of planned files: from the spill, or copied from the previous version
    /// (`previous`: where its files are, and its manifests), checked first.
    fn write_batch(
        &self,
        files: &mut [PlannedFile],
        spill: &SpillReader,
        previous: Option<(&mut PreviousFiles<'_>, &mut ManifestCursors)>,
        bag: &mut BagWriter,
        progress: &dyn Progress,
    ) -> Result<()> {
        let (base, copied) = match previous {
            Some((previous, manifests)) => {
                let copied = previous_files(files, previous, manifests)?;
                previous.base.check_copied(&copied)?;
                (Some(previous.base), copied)
            }
            None => (None, Vec::new()),
        };
        let mut copied = copied.into_iter();
        for f in files.iter() {
            match f.origin {
                Origin::Input { raw } => {
                    let at = if f.record { spill.after(raw)? } else { raw };
                    bag.add_spilled(&f.path, spill, at)?;
                }
                Origin::Previous => {
                    let (Some(base), Some((entry, digests))) = (base, copied.next()) else {
                        return Err(Error::Invalid(format!(
                            "{}: from a previous version, but there is none (internal error)",
                            f.path
                        )));
                    };
                    bag.add_from_archive(&f.path, &base.archive, &entry, &digests)?;
                }
            }
            progress.inc(1);
        }
        Ok(())
    }
}

/// Cables in the order of their folders' paths (`<ID>/`) from cables in the order of their
/// ids, without sorting a copy of them all again (a copy grows with the corpus). The
/// orders differ only where an id starts with another and goes on with a character that sorts
/// before `/` (`X-1/` comes before `X/`); such ids follow the shorter one in id order, with only
/// ids that start with it in between. So each run of ids that start with the run's first id is
/// sorted again; any other id is passed on as it comes.
struct FolderOrder<'a, I: Iterator<Item = (&'a str, Slot)>> {
    ids: std::iter::Peekable<I>,
    run: std::vec::IntoIter<(&'a str, Slot)>,
}

impl<'a, I: Iterator<Item = (&'a str, Slot)>> FolderOrder<'a, I> {
    fn new(ids: I) -> Self {
        FolderOrder {
            ids: ids.peekable(),
            run: Vec::new().into_iter(),
        }
    }
}

impl<'a, I: Iterator<Item = (&'a str, Slot)>> Iterator for FolderOrder<'a, I> {
    type Item = (&'a str, Slot);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(next) = self.run.next() {
            return Some(next);
        }
        let first = self.ids.next()?;
        let starts_run = |(id, _): &(&str, Slot)| id.starts_with(first.0);
        if !self.ids.peek().is_some_and(starts_run) {
            return Some(first);
        }
        let mut run = vec![first];
        while let Some(next) = self.ids.next_if(starts_run) {
            run.push(next);
        }
        run.sort_by(|a, b| folder_path_order(a.0, b.0));
        self.run = run.into_iter();
        self.run.next()
    }
}

/// The order of two cables' folders, `<ID>/`.
fn folder_path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().chain(*b"/").cmp(b.bytes().chain(*b"/"))
}

/// How many cables' files are planned, checked and written at a time: enough to keep both
/// cores busy checking copied files, few enough that the batch's paths take little memory.
const COPY_BATCH: usize = 4096;

/// A payload file of the version being written.
struct PlannedFile {
    path: String,
    origin: Origin,
    /// The capture's record (else its raw bytes).
    record: bool,
}

/// The previous version's payload manifests, read forward (SHA-256, SHA-512).
type ManifestCursors = (ManifestCursor<32>, ManifestCursor<64>);

/// The entries and manifest digests of the files of a batch that come from the previous
/// version, in order.
fn previous_files(
    files: &[PlannedFile],
    previous: &mut PreviousFiles<'_>,
    (sha256, sha512): &mut ManifestCursors,
) -> Result<Vec<(Entry, DigestBytes)>> {
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.origin == Origin::Previous) {
        let entry = previous.find(&f.path)?;
        let digests = DigestBytes {
            sha256: sha256.find(&f.path)?,
            sha512: sha512.find(&f.path)?,
        };
        out.push((entry, digests));
    }
    Ok(out)
}

/// An input read and its files spilled: the capture, and where its raw bytes (then its record)
/// are in the spill (None when the previous version holds its bytes and nothing was spilled).
struct Spilled {
    ingested: Ingested,
    raw: Option<SpillRef>,
}

/// How many inputs are read in parallel before their captures are added to the snapshot, in
/// input order (so the result does not depend on which thread finished first).
const INGEST_BATCH: usize = 2048;

/// Reads every input in parallel, a batch at a time: digests, parse, and its files compressed
/// into the spill (unless the previous version holds its bytes already); then hands each
/// capture to `add` in input order, with its input. Findings are collected; a page that cannot
/// be read at all stops the write (nothing is stored yet, so nothing is lost).
fn ingest_all(
    inputs: Vec<(Input, Arc<SourceHints>)>,
    progress: &dyn Progress,
    spill: &Spill,
    known: Option<&HashSet<PathKey>>,
    findings: &mut Vec<Finding>,
    mut add: impl FnMut(&InputItem, Spilled) -> Result<()>,
) -> Result<()> {
    let count: usize = inputs.iter().map(|(input, _)| input.count()).sum();
    progress.start("reading", count as u64);
    let mut queue = InputQueue::new(inputs);
    while let Some(batch) = queue.next_batch(INGEST_BATCH) {
        let results: Vec<Result<(Spilled, Vec<Finding>)>> = batch
            .par_iter()
            .map(|(item, hints)| {
                let bytes = item.load()?;
                let (ingested, found) = capture::ingest(&item.name, item.format, &bytes, hints);
                let spilled = spill_capture(spill, known, bytes, ingested)?;
                progress.inc(1);
                Ok((spilled, found))
            })
            .collect();
        for ((item, _), r) in batch.iter().zip(results) {
            let (spilled, mut found) = r?;
            findings.append(&mut found);
            add(item, spilled)?;
        }
    }
    progress.finish();
    Ok(())
}

/// The inputs not yet read, handed out a batch of pages at a time in input order. What was
/// handed out is freed as reading goes on (the snapshot is at its largest when the last inputs
/// are read); a table's rows become pages only when their batch is handed out.
struct InputQueue {
    /// In reverse order, so that the next is taken off the end.
    rest: Vec<(Input, Arc<SourceHints>)>,
    /// How many rows of the table at the end of `rest` were handed out.
    rows_taken: usize,
}

impl InputQueue {
    fn new(mut inputs: Vec<(Input, Arc<SourceHints>)>) -> Self {
        inputs.reverse();
        InputQueue {
            rest: inputs,
            rows_taken: 0,
        }
    }

    fn next_batch(&mut self, size: usize) -> Option<Vec<(InputItem, Arc<SourceHints>)>> {
        let mut batch = Vec::new();
        while batch.len() < size {
            let Some((input, hints)) = self.rest.last() else {
                break;
            };
            match input {
                Input::Rows(table) => {
                    let end = table.len().min(self.rows_taken + size - batch.len());
                    batch.extend((self.rows_taken..end).map(|i| (table.item(i), hints.clone())));
                    self.rows_taken = end;
                    if end == table.len() {
                        self.rest.pop();
                        self.rows_taken = 0;
                    }
                }
                Input::One(_) => {
                    let Some((Input::One(item), hints)) = self.rest.pop() else {
                        unreachable!("the last input is a page");
                    };
                    batch.push((item, hints));
                }
            }
        }
        // Halving the allocation whenever half of it is unused copies each input at most
        // once more in all.
        if self.rest.len() < self.rest.capacity() / 2 {
            self.rest.shrink_to_fit();
        }
        (!batch.is_empty()).then_some(batch)
    }
}

/// Compresses an ingested input's files into the spill and drops its record bytes, which are
/// not needed again.
fn spill_capture(
    spill: &Spill,
    known: Option<&HashSet<PathKey>>,
    bytes: Vec<u8>,
    ingested: Ingested,
) -> Result<Spilled> {
    let is_known = |raw: &str| known.is_some_and(|k| k.contains(&path_key(raw)));
    let digests_of = |sha256: &str, sha512: &str| {
        DigestBytes::from_hex(&hash::Digests {
            sha256: sha256.to_string(),
            sha512: sha512.to_string(),
        })
    };
    match ingested {
        Ingested::Cable { line, record_bytes } => {
            let c = &line.captures[0];
            let raw = if is_known(&c.raw) {
                None
            } else {
                let raw = (&bytes[..], digests_of(&c.sha256, &c.sha512));
                Some(spill.add_together(&[raw, (&record_bytes, None)])?)
            };
            Ok(Spilled {
                ingested: Ingested::Cable {
                    line,
                    record_bytes: Vec::new(),
                },
                raw,
            })
        }
        Ingested::Unparsed(u) => {
            let raw = if is_known(&u.raw) {
                None
            } else {
                Some(spill.add(&bytes, digests_of(&u.sha256, &u.sha512))?)
            };
            Ok(Spilled {
                ingested: Ingested::Unparsed(u),
                raw,
            })
        }
    }
}

/// The `bag-info.txt` labels of a version, in order (Payload-Oxum and Bag-Size are added by the
/// writer). Bagging-Date follows `SOURCE_DATE_EPOCH` when it is set.
fn bag_info(
    collection: &str,
    version: u32,
    message: &str,
    snapshot: &Snapshot<'_>,
    base: Option<&Base>,
) -> Vec<(String, String)> {
    let mut info = vec![
        (
            "Bag-Software-Agent".to_string(),
            format!(
                "cablekeep {} (https://crates.io/crates/cablekeep)",
                crate::TOOL_VERSION
            ),
        ),
        (
            "Bagging-Date".to_string(),
            crate::time::date(crate::time::now()),
        ),
        (
            "External-Identifier".to_string(),
            format!("{collection}@v{version}"),
        ),
        ("Bag-Group-Identifier".to_string(), collection.to_string()),
    ];
    if !message.trim().is_empty() {
        info.push((
            "External-Description".to_string(),
            message.trim().to_string(),
        ));
    }
    info.extend([
        ("Cablekeep-Format".to_string(), bag::FORMAT_NAME.to_string()),
        ("Cablekeep-Collection".to_string(), collection.to_string()),
        ("Cablekeep-Version".to_string(), version.to_string()),
        (
            "Cablekeep-Cables".to_string(),
            snapshot.cables.len().to_string(),
        ),
        (
            "Cablekeep-Captures".to_string(),
            snapshot.captures.to_string(),
        ),
        (
            "Cablekeep-Unparsed".to_string(),
            snapshot.unparsed.len().to_string(),
        ),
    ]);
    if let Some(b) = base {
        info.push((
            "Cablekeep-Previous-Version".to_string(),
            format!("{collection}@v{}", b.version),
        ));
        info.push((
            "Cablekeep-Previous-Archive-SHA256".to_string(),
            b.manifest.archive.sha256.clone(),
        ));
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_come_in_order_a_batch_at_a_time_and_what_was_read_is_freed() {
        let inputs: Vec<_> = (0..10_000)
            .map(|i| {
                (
                    InputItem::bytes(format!("{i}.txt"), Vec::new()).into(),
                    Arc::default(),
                )
            })
            .collect();
        let mut queue = InputQueue::new(inputs);
        let mut names = Vec::new();
        while let Some(batch) = queue.next_batch(64) {
            assert!(queue.rest.capacity() <= 2 * queue.rest.len().max(64));
            names.extend(batch.into_iter().map(|(item, _)| item.name));
        }
        let expected: Vec<String> = (0..10_000).map(|i| format!("{i}.txt")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_tables_rows_come_in_order_across_batches_between_pages() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t.csv");
        let rows: String = (1..=150)
            .map(|i| {
                format!("\"{i}\",\"1/2/2008 10:00\",\"08MADRID{i}\",\"x\",\"\",\"\",\"\",\"t\"\n")
            })
            .collect();
        std::fs::write(&table, rows).unwrap();
        let found = crate::input::collect(&[table], &Default::default()).unwrap();
        assert_eq!(found.count(), 150);
        let mut inputs = vec![(InputItem::bytes("a.txt", Vec::new()).into(), Arc::default())];
        inputs.extend(found.items.into_iter().map(|t| (t, Arc::default())));
        inputs.push((InputItem::bytes("u.txt", Vec::new()).into(), Arc::default()));
        let mut queue = InputQueue::new(inputs);
        let mut sizes = Vec::new();
        let mut names = Vec::new();
        while let Some(batch) = queue.next_batch(64) {
            sizes.push(batch.len());
            names.extend(batch.into_iter().map(|(item, _)| item.name));
        }
        assert_eq!(sizes, [64, 64, 24]);
        let mut expected = vec!["a.txt".to_string()];
        expected.extend((1..=150).map(|i| format!("t.csv#{i:09}")));
        expected.push("u.txt".to_string());
        assert_eq!(names, expected);
    }

    #[test]
    fn a_capture_costs_the_snapshot_24_bytes_of_origins() {
        // Every new capture of a version has an entry (251,287 for the whole corpus).
        assert_eq!(std::mem::size_of::<(PathKey, PackedOrigin)>(), 24);
    }

    #[test]
    fn cables_come_in_the_order_of_their_folders() {
        // Ids that start with others, going on with characters before and after `/`.
        let mut ids = vec![
            "X",
            "X-1",
            "X-1-2",
            "X-1.",
            "X-10",
            "X.2",
            "X 3",
            "X0",
            "XA",
            "X-",
            "Y",
            "Y-1",
            "Y-1-1",
            "Z",
            "08MADRID1",
            "08MADRID1-",
            "08MADRID10",
            "08MADRID1.5",
        ];
        ids.sort();
        let slots = (0..ids.len() as u64).map(|i| Slot { offset: i, len: 1 });
        let streamed: Vec<&str> = FolderOrder::new(ids.iter().copied().zip(slots))
            .map(|(id, _)| id)
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_by(|a, b| folder_path_order(a, b));
        assert_ne!(sorted, ids, "the two orders differ for these ids");
        assert_eq!(streamed, sorted);
    }

    #[test]
    fn origins_pack_into_8_bytes_and_back() {
        for origin in [
            Origin::Previous,
            Origin::Input { raw: SpillRef(0) },
            Origin::Input {
                raw: SpillRef(u64::MAX - 1),
            },
        ] {
            assert_eq!(PackedOrigin::pack(origin).unpack(), origin);
        }
    }
}
