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
//! spans the renames; a zip left without a manifest by a killed writer (its marker still there) is
//! removed by the next writer. Any other zip without a manifest is kept and reported.

use crate::archive::{self, BagPlan, CopiedFile, CopyFrom, OpenArchive, Spill};
use crate::capture::{self, IndexLine, Ingested, UnparsedLine};
use crate::error::{Error, IoContext, Result};
use crate::finding::{Code, Finding};
use crate::fsutil::{self, StoreLock};
use crate::hash;
use crate::ingest::InputItem;
use crate::manifest::{self, ArchiveFacts, BagFacts, Counts, PreviousLink, VersionManifest};
use crate::provenance::SourceHints;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Reports progress of long work; the CLI draws it, the library only counts.
pub trait Progress: Sync {
    /// A new phase with `total` units (bytes or items).
    fn start(&self, phase: &str, total: u64);
    /// `n` more units done.
    fn inc(&self, n: u64);
    /// The phase is over.
    fn finish(&self);
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

/// A store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// What to write as a collection's next version.
pub struct WriteRequest<'a> {
    pub collection: &'a str,
    /// The new pages, each with the provenance flags given for it.
    pub inputs: Vec<(InputItem, SourceHints)>,
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

/// Checks a collection name: 1 to 64 characters, lower-case letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit (names become folder and file names on every system).
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "collection name {name:?}: use 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
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

    fn state_dir(&self) -> PathBuf {
        self.root.join(".cablekeep")
    }

    fn stage_path(&self, collection: &str) -> PathBuf {
        self.state_dir()
            .join("stage")
            .join(format!("{collection}.json"))
    }

    /// The marker that a write of this version is under way. It exists from before the zip is
    /// renamed into place until after the manifest is, so a zip without a manifest but with its
    /// marker is known to come from an interrupted write (and only such a zip is ever removed).
    pub fn pending_marker(&self, collection: &str, version: u32) -> PathBuf {
        self.state_dir()
            .join("pending")
            .join(format!("{collection}-v{version}"))
    }

    fn blob_dir(&self) -> PathBuf {
        self.state_dir().join("stage").join("blobs")
    }

    /// Takes the writers' lock. With `wait`, waits for another writer to finish.
    pub fn lock(&self, wait: bool) -> Result<StoreLock> {
        StoreLock::acquire(&self.state_dir().join("lock"), wait)
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
        let bytes = std::fs::read(&path).at(&path)?;
        let manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.clone(),
            message: format!("not a cablekeep manifest: {e}"),
        })?;
        Ok((manifest, bytes))
    }

    /// Reads a version's cable index and unparsed list from its zip.
    pub fn read_index(
        &self,
        collection: &str,
        version: u32,
    ) -> Result<(Vec<IndexLine>, Vec<UnparsedLine>)> {
        let archive = OpenArchive::open(&self.zip_path(collection, version))?;
        read_index(&archive)
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
                let marker = self.pending_marker(&collection, v);
                // Only the zip of an interrupted write is removed. A zip that lost its manifest
                // in any other way is kept for a person to look at (verify reports it).
                if v > latest && marker.exists() {
                    for path in [
                        self.zip_path(&collection, v),
                        self.checksum_path(&collection, v),
                    ] {
                        if path.exists() {
                            std::fs::remove_file(&path).at(&path)?;
                            removed.push(path);
                        }
                    }
                }
            }
        }
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

    /// Writes the next version of a collection, or nothing when the inputs add nothing new.
    pub fn write_version(
        &self,
        lock: &StoreLock,
        request: WriteRequest<'_>,
    ) -> Result<WriteOutcome> {
        validate_collection_name(request.collection)?;
        self.recover(lock)?;
        let collection = request.collection;
        let previous = self.latest(collection)?;
        let mut outcome = WriteOutcome {
            previous,
            ..WriteOutcome::default()
        };
        // The previous version is read even with --replace: the new version chains to it and
        // copies the captures it still holds.
        let base = previous
            .map(|v| Base::open(self, collection, v))
            .transpose()?;

        // Every new capture is compressed into the spill as it is read, so it is read, parsed,
        // hashed and compressed once; bytes the previous version already holds are not spilled.
        let spill = Spill::create(&self.state_dir())?;
        let known: HashSet<&str> = base.as_ref().map_or_else(HashSet::new, |b| b.raw_paths());
        let ingested = ingest_all(
            &request.inputs,
            &spill,
            &known,
            request.progress,
            &mut outcome.findings,
        )?;
        let mut snapshot = match (&base, request.replace) {
            (Some(b), false) => Snapshot::from_base(b),
            _ => Snapshot::default(),
        };
        for (i, item) in ingested {
            if snapshot.add(i, item) {
                outcome.new_captures += 1;
            } else {
                outcome.duplicate_captures += 1;
                let (input, _) = &request.inputs[i];
                outcome.findings.push(Finding::new(
                    Code::DuplicateCapture,
                    &input.name,
                    "the same bytes are already in the collection or among the inputs; kept once",
                ));
            }
        }
        if let Some(b) = &base {
            if request.replace {
                outcome.removed_cables = b
                    .lines
                    .iter()
                    .filter(|l| !snapshot.cables.contains_key(&l.id))
                    .count() as u64;
                snapshot.reuse_from(b);
            }
            if snapshot.same_as(b) {
                return Ok(outcome);
            }
        }
        let version = previous.map_or(1, |v| v + 1);
        let manifest = self.commit_snapshot(
            collection,
            version,
            &snapshot,
            spill,
            base.as_ref(),
            &request,
        )?;
        outcome.manifest = Some(manifest);
        Ok(outcome)
    }

    fn commit_snapshot(
        &self,
        collection: &str,
        version: u32,
        snapshot: &Snapshot,
        spill: Spill,
        base: Option<&Base>,
        request: &WriteRequest<'_>,
    ) -> Result<VersionManifest> {
        let folder = format!("{collection}-v{version}");
        let files = snapshot.copied_files(&spill, base, request.progress)?;
        let plan = BagPlan {
            folder: folder.clone(),
            bag_info: bag_info(collection, version, request.message, snapshot, base),
            tag_files: vec![
                (
                    archive::INDEX_FILE.to_string(),
                    capture::write_jsonl(snapshot.cables.values()),
                ),
                (
                    archive::UNPARSED_FILE.to_string(),
                    capture::write_jsonl(snapshot.unparsed.values()),
                ),
            ],
        };
        let dir = self.archive_dir(collection);
        let tmp = fsutil::temp_file_in(&dir)?;
        let file = tmp.as_file().try_clone().at(tmp.path())?;
        request
            .progress
            .start("writing", files.iter().map(|f| f.bytes).sum());
        let previous_zip = base.map(|b| b.archive.path.clone());
        let (_, written) =
            archive::write_bag_copying(file, &plan, files, spill, previous_zip.as_deref(), &|n| {
                request.progress.inc(n)
            })?;
        request.progress.finish();
        tmp.as_file().sync_all().at(tmp.path())?;
        let (zip_digests, zip_bytes) = hash::digest_file(tmp.path())?;
        let zip_path = self.zip_path(collection, version);
        let marker = self.pending_marker(collection, version);
        fsutil::atomic_write(&marker, b"")?;
        fsutil::persist(tmp, &zip_path, true)?;
        let zip_name = Self::zip_name(collection, version);
        fsutil::atomic_create(
            &self.checksum_path(collection, version),
            format!("{}  {zip_name}\n", zip_digests.sha256).as_bytes(),
        )?;
        let manifest = VersionManifest {
            format: manifest::SIDECAR_FORMAT.to_string(),
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
                captures: snapshot.capture_count(),
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
        };
        // The commit point: the version exists from the moment this rename lands.
        fsutil::atomic_create(
            &self.manifest_path(collection, version),
            &manifest.to_bytes(),
        )?;
        // The version is committed; a marker that cannot be removed now is removed by the next
        // writer's recovery, and never leads to removing a committed zip.
        let _ = std::fs::remove_file(&marker);
        Ok(manifest)
    }

    /// Reads the stage of a collection (empty when there is none).
    pub fn stage(&self, collection: &str) -> Result<Stage> {
        let path = self.stage_path(collection);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path,
                message: format!("not a stage file: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Stage {
                format: STAGE_FORMAT.into(),
                collection: collection.into(),
                items: Vec::new(),
            }),
            Err(e) => Err(Error::io(path, e)),
        }
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
                if !blob.exists() {
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
        for result in staged {
            let (item, mut item_findings) = result?;
            findings.append(&mut item_findings);
            // Adding the same input name again replaces the earlier copy.
            stage.items.retain(|s| s.input != item.input);
            stage.items.push(item);
        }
        stage.items.sort_by(|a, b| a.input.cmp(&b.input));
        let mut bytes = serde_json::to_vec_pretty(&stage).expect("stage serializes");
        bytes.push(b'\n');
        fsutil::atomic_write(&self.stage_path(collection), &bytes)?;
        Ok((stage, findings))
    }

    /// The staged inputs of a collection as inputs for [`Store::write_version`].
    pub fn staged_inputs(&self, stage: &Stage) -> Vec<(InputItem, SourceHints)> {
        stage
            .items
            .iter()
            .map(|s| {
                let item = InputItem::file(&s.input, self.blob_dir().join(&s.sha256))
                    .with_format(s.format);
                (item, s.hints.clone())
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

/// Reads the cable index and unparsed list of an archive, which must be intact.
pub fn read_index(archive: &OpenArchive) -> Result<(Vec<IndexLine>, Vec<UnparsedLine>)> {
    let parse = |name: &str| -> Result<Vec<u8>> { archive.read_required(name) };
    let lines = capture::read_jsonl(&parse(archive::INDEX_FILE)?).map_err(|e| Error::Corrupt {
        path: archive.path.clone(),
        message: format!("{}: {e}", archive::INDEX_FILE),
    })?;
    let unparsed =
        capture::read_jsonl(&parse(archive::UNPARSED_FILE)?).map_err(|e| Error::Corrupt {
            path: archive.path.clone(),
            message: format!("{}: {e}", archive::UNPARSED_FILE),
        })?;
    Ok((lines, unparsed))
}

/// The previous version, which a new version builds on.
struct Base {
    version: u32,
    manifest: VersionManifest,
    manifest_bytes: Vec<u8>,
    archive: OpenArchive,
    lines: Vec<IndexLine>,
    unparsed: Vec<UnparsedLine>,
    /// SHA-256 and SHA-512 of every payload file, from the previous bag's manifests.
    payload_sha256: HashMap<String, String>,
    payload_sha512: HashMap<String, String>,
}

impl Base {
    fn open(store: &Store, collection: &str, version: u32) -> Result<Base> {
        let (manifest, manifest_bytes) = store.read_manifest(collection, version)?;
        let archive = OpenArchive::open(&store.zip_path(collection, version))?;
        let (lines, unparsed) = read_index(&archive)?;
        let payload_sha256 = payload_manifest(&archive, &manifest, "sha256")?;
        let payload_sha512 = payload_manifest(&archive, &manifest, "sha512")?;
        Ok(Base {
            version,
            manifest,
            manifest_bytes,
            archive,
            lines,
            unparsed,
            payload_sha256,
            payload_sha512,
        })
    }

    /// The raw bytes' paths of every capture the version holds (parsed or not).
    fn raw_paths(&self) -> HashSet<&str> {
        self.lines
            .iter()
            .flat_map(|l| l.captures.iter().map(|c| c.raw.as_str()))
            .chain(self.unparsed.iter().map(|u| u.raw.as_str()))
            .collect()
    }

    /// A payload file copied from this version, with the digests its manifests give.
    fn copied_file(&self, path: &str) -> Result<CopiedFile> {
        let (Some(sha256), Some(sha512)) =
            (self.payload_sha256.get(path), self.payload_sha512.get(path))
        else {
            return Err(self.damaged(format!("{path} is not in its payload manifests")));
        };
        let entry = self
            .archive
            .entry(path)
            .ok_or_else(|| self.damaged(format!("{path} is missing from the zip")))?;
        Ok(CopiedFile {
            path: path.to_string(),
            from: CopyFrom::Previous(entry.name.clone()),
            digests: hash::Digests {
                sha256: sha256.clone(),
                sha512: sha512.clone(),
            },
            bytes: entry.uncompressed_size,
        })
    }

    /// Inflates every file to be copied from this version and checks its SHA-256 (and the
    /// zip's CRC-32) against the manifest, on all cores. Any difference stops the write.
    fn check_copied(&self, files: &[CopiedFile], progress: &dyn Progress) -> Result<()> {
        let copied: Vec<&CopiedFile> = files
            .iter()
            .filter(|f| matches!(f.from, CopyFrom::Previous(_)))
            .collect();
        progress.start("checking", copied.iter().map(|f| f.bytes).sum());
        let result = copied.par_iter().try_for_each(|f| {
            let entry = self
                .archive
                .entry(&f.path)
                .ok_or_else(|| self.damaged(format!("{} is missing from the zip", f.path)))?;
            let mut sha256 = Sha256::new();
            let findings = self.archive.stream(entry, |chunk| sha256.update(chunk))?;
            if !findings.is_empty() || hex::encode(sha256.finalize()) != f.digests.sha256 {
                return Err(self.damaged(format!("{} does not match its manifest", f.path)));
            }
            progress.inc(f.bytes);
            Ok(())
        });
        progress.finish();
        result
    }

    fn damaged(&self, what: String) -> Error {
        Error::Corrupt {
            path: self.archive.path.clone(),
            message: format!("{what}; run `cablekeep verify` before writing a new version"),
        }
    }
}

/// A payload manifest of a version's bag, checked against the digest its sidecar manifest
/// records for it (so the digests carried into the next version are the committed ones).
fn payload_manifest(
    archive: &OpenArchive,
    manifest: &VersionManifest,
    algorithm: &str,
) -> Result<HashMap<String, String>> {
    let name = format!("manifest-{algorithm}.txt");
    let text = archive.read_required(&name)?;
    let recorded = manifest.bag.tag_files.get(&name).map(|d| d.sha256.as_str());
    let damaged = |what: &str| Error::Corrupt {
        path: archive.path.clone(),
        message: format!("{name} {what}; run `cablekeep verify`"),
    };
    if recorded != Some(hash::sha256_hex(&text).as_str()) {
        return Err(damaged("differs from the sidecar manifest's digest"));
    }
    let digest_len = if algorithm == "sha512" { 128 } else { 64 };
    let (entries, bad) = manifest::parse_manifest(&String::from_utf8_lossy(&text), digest_len);
    if !bad.is_empty() {
        return Err(damaged("is damaged"));
    }
    Ok(entries.into_iter().map(|l| (l.path, l.digest)).collect())
}

/// Where a capture's bytes come from when the version is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Input number i of the request.
    Input(usize),
    /// The previous version's archive.
    Previous,
}

/// The content of the version being written: cables with their captures, and unparsed inputs.
#[derive(Default)]
struct Snapshot {
    cables: BTreeMap<String, IndexLine>,
    unparsed: BTreeMap<String, UnparsedLine>,
    /// Where each capture's raw bytes (by bag path) come from.
    origins: HashMap<String, Origin>,
}

impl Snapshot {
    fn from_base(base: &Base) -> Snapshot {
        let mut s = Snapshot::default();
        for line in &base.lines {
            for c in &line.captures {
                s.origins.insert(c.raw.clone(), Origin::Previous);
            }
            s.cables.insert(line.id.clone(), line.clone());
        }
        for u in &base.unparsed {
            s.origins.insert(u.raw.clone(), Origin::Previous);
            s.unparsed.insert(u.raw.clone(), u.clone());
        }
        s
    }

    /// With `--replace`, captures that the previous version already had are copied from it
    /// rather than re-read, so their records stay exactly as they were.
    fn reuse_from(&mut self, base: &Base) {
        let previous: std::collections::HashSet<&str> = base
            .lines
            .iter()
            .flat_map(|l| l.captures.iter().map(|c| c.raw.as_str()))
            .chain(base.unparsed.iter().map(|u| u.raw.as_str()))
            .collect();
        for (raw, origin) in self.origins.iter_mut() {
            if previous.contains(raw.as_str()) {
                *origin = Origin::Previous;
            }
        }
        for line in base.lines.iter() {
            if let Some(mine) = self.cables.get_mut(&line.id) {
                for c in mine.captures.iter_mut() {
                    if let Some(old) = line.captures.iter().find(|o| o.raw == c.raw) {
                        *c = old.clone();
                    }
                }
            }
        }
    }

    /// Adds an ingested input; false when its bytes are already there.
    fn add(&mut self, input: usize, item: Ingested) -> bool {
        match item {
            Ingested::Cable { line, .. } => {
                let raw = line.captures[0].raw.clone();
                if self.origins.contains_key(&raw) {
                    return false;
                }
                let added = match self.cables.get_mut(&line.id) {
                    Some(existing) => capture::merge_capture(existing, line),
                    None => {
                        self.cables.insert(line.id.clone(), line);
                        true
                    }
                };
                if added {
                    self.origins.insert(raw, Origin::Input(input));
                }
                added
            }
            Ingested::Unparsed(u) => {
                if self.origins.contains_key(&u.raw) {
                    return false;
                }
                self.origins.insert(u.raw.clone(), Origin::Input(input));
                self.unparsed.insert(u.raw.clone(), u);
                true
            }
        }
    }

    /// True when this snapshot holds exactly the captures of the base version.
    fn same_as(&self, base: &Base) -> bool {
        self.origins.values().all(|o| *o == Origin::Previous)
            && self.origins.len()
                == base.lines.iter().map(|l| l.captures.len()).sum::<usize>() + base.unparsed.len()
    }

    fn capture_count(&self) -> u64 {
        self.cables.values().map(|l| l.captures.len() as u64).sum()
    }

    /// The payload files of the version, sorted by path, each with where its compressed bytes
    /// are copied from. Files copied from the previous version are checked against its
    /// manifest first (inflated and hashed on all cores), so damage is never carried forward.
    fn copied_files(
        &self,
        spill: &Spill,
        base: Option<&Base>,
        progress: &dyn Progress,
    ) -> Result<Vec<CopiedFile>> {
        let mut files = Vec::new();
        for line in self.cables.values() {
            for c in &line.captures {
                for path in [&c.raw, &c.record] {
                    files.push(self.copied_file(path, &c.raw, spill, base)?);
                }
            }
        }
        for u in self.unparsed.values() {
            files.push(self.copied_file(&u.raw, &u.raw, spill, base)?);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(base) = base {
            base.check_copied(&files, progress)?;
        }
        Ok(files)
    }

    /// One payload file; `raw` names the capture it belongs to (its raw bytes' path).
    fn copied_file(
        &self,
        path: &str,
        raw: &str,
        spill: &Spill,
        base: Option<&Base>,
    ) -> Result<CopiedFile> {
        match (self.origins[raw], base) {
            (Origin::Input(i), _) => {
                let name = spill_name(i, path);
                let spilled = spill.take(&name).ok_or_else(|| {
                    Error::Invalid(format!("{path}: not read into the spill (internal error)"))
                })?;
                Ok(CopiedFile {
                    path: path.to_string(),
                    from: CopyFrom::Spill(name),
                    digests: spilled.digests,
                    bytes: spilled.bytes,
                })
            }
            (Origin::Previous, Some(base)) => base.copied_file(path),
            (Origin::Previous, None) => Err(Error::Invalid(format!(
                "{path}: from a previous version, but there is none (internal error)"
            ))),
        }
    }
}

/// The name of input `input`'s file `path` in the spill. The input number keeps apart two
/// inputs with the same bytes (their records differ by the input's name).
fn spill_name(input: usize, path: &str) -> String {
    format!("{input}/{path}")
}

/// Reads every input in parallel: digests, parse, and both of its files compressed into the
/// spill (unless the previous version holds its bytes already). Findings are collected; a page
/// that cannot be read at all stops the write (nothing is stored yet, so nothing is lost).
fn ingest_all(
    inputs: &[(InputItem, SourceHints)],
    spill: &Spill,
    known: &HashSet<&str>,
    progress: &dyn Progress,
    findings: &mut Vec<Finding>,
) -> Result<Vec<(usize, Ingested)>> {
    progress.start("reading", inputs.len() as u64);
    let results: Vec<Result<(usize, Ingested, Vec<Finding>)>> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, (item, hints))| {
            let bytes = item.load()?;
            let (ingested, found) = capture::ingest(item, &bytes, hints);
            let ingested = spill_capture(spill, known, i, bytes, ingested)?;
            progress.inc(1);
            Ok((i, ingested, found))
        })
        .collect();
    progress.finish();
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        let (i, ingested, mut found) = r?;
        findings.append(&mut found);
        out.push((i, ingested));
    }
    Ok(out)
}

/// Compresses an ingested input's files into the spill and drops its record bytes, which are
/// not needed again.
fn spill_capture(
    spill: &Spill,
    known: &HashSet<&str>,
    input: usize,
    bytes: Vec<u8>,
    ingested: Ingested,
) -> Result<Ingested> {
    match ingested {
        Ingested::Cable { line, record_bytes } => {
            let c = &line.captures[0];
            if !known.contains(c.raw.as_str()) {
                let digests = hash::Digests {
                    sha256: c.sha256.clone(),
                    sha512: c.sha512.clone(),
                };
                spill.add(&spill_name(input, &c.raw), &bytes, Some(digests))?;
                spill.add(&spill_name(input, &c.record), &record_bytes, None)?;
            }
            Ok(Ingested::Cable {
                line,
                record_bytes: Vec::new(),
            })
        }
        Ingested::Unparsed(u) => {
            if !known.contains(u.raw.as_str()) {
                let digests = hash::Digests {
                    sha256: u.sha256.clone(),
                    sha512: u.sha512.clone(),
                };
                spill.add(&spill_name(input, &u.raw), &bytes, Some(digests))?;
            }
            Ok(Ingested::Unparsed(u))
        }
    }
}

/// The `bag-info.txt` labels of a version, in order (Payload-Oxum and Bag-Size are added by the
/// writer). Bagging-Date follows `SOURCE_DATE_EPOCH` when it is set.
fn bag_info(
    collection: &str,
    version: u32,
    message: &str,
    snapshot: &Snapshot,
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
        (
            "Cablekeep-Format".to_string(),
            archive::FORMAT_NAME.to_string(),
        ),
        ("Cablekeep-Collection".to_string(), collection.to_string()),
        ("Cablekeep-Version".to_string(), version.to_string()),
        (
            "Cablekeep-Cables".to_string(),
            snapshot.cables.len().to_string(),
        ),
        (
            "Cablekeep-Captures".to_string(),
            snapshot.capture_count().to_string(),
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
