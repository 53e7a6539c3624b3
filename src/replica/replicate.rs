//! `replicate`: copy to a replica the versions it lacks, write-once.
//!
//! Per version, in this order: the zip, its `.sha256`, the checkpoint, signatures and
//! timestamp, the receipt (object storage), and the sidecar last: on a replica as on disk, a
//! version exists exactly when its sidecar does, so a kill at any moment never leaves a version
//! whose files are not all there and verified. Then the collection's link log, which may only
//! grow: the replica's copy is replaced only by a log it is a prefix of.

use super::files::{self, FileKind, StoreFile, sidecar_rel};
use super::local::hash_file;
use super::place::Placed;
use super::{Digest, Listed, Replica, STATE_DIR};
use crate::error::{Error, IoContext, Result};
use crate::progress::{NoProgress, Progress};
use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;

/// A sidecar or receipt is read up to this size (as the store reads sidecars).
pub(crate) const MAX_SMALL_FILE: u64 = 16 << 20;
/// The format of a receipt (`.cablekeep/replica/receipts/<c>/<c>-v<N>.json`).
pub const RECEIPT_FORMAT: &str = "cablekeep replica receipt 1";

/// What a replicate did.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The replica written to.
    pub to: String,
    /// Per collection.
    pub collections: Vec<CollectionReport>,
    /// Files placed, over all collections.
    pub files_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Temporaries of earlier, interrupted runs that were removed.
    pub temporaries_removed: usize,
}

/// What a replicate did for one collection.
#[derive(Debug, Serialize)]
pub struct CollectionReport {
    /// The collection.
    pub name: String,
    /// Versions copied by this run.
    pub versions_copied: Vec<u32>,
    /// Versions the replica already held (with the same sidecar).
    pub versions_present: Vec<u32>,
    /// `copied`, `extended`, `same` or `none` (the store has no link log).
    pub link_log: &'static str,
}

/// A file the replica records as verified on arrival: object storage's entity tag for bytes
/// of this digest, so that `audit` can tell a replaced object from its listing alone.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReceiptFile {
    /// Store-relative path.
    pub rel: String,
    /// Size and SHA-256 of the bytes verified.
    #[serde(flatten)]
    pub digest: Digest,
    /// The final object's entity tag.
    pub etag: Option<String>,
}

/// A version's receipt on a replica.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The files of the version, but its sidecar.
    pub files: Vec<ReceiptFile>,
}

/// Where a version's receipt lies on a replica.
pub fn receipt_rel(collection: &str, version: u32) -> String {
    format!("{STATE_DIR}/receipts/{collection}/{collection}-v{version}.json")
}

/// Copies to `target` every version of `store` (of `collection`, or of all) it lacks.
pub fn replicate(
    store: &Store,
    target: &Replica,
    collection: Option<&str>,
    progress: &dyn Progress,
) -> Result<Report> {
    if store.is_remote() {
        return Err(Error::Invalid(format!(
            "{}: replicate copies from a local store (--store FOLDER); to copy between buckets, \
             use `cablekeep repair TARGET --from SOURCE`",
            store.root().display()
        )));
    }
    let _lock = target.prepare_for_writing()?;
    let temporaries_removed = target.remove_temporaries(None)?;
    let run = run_id();
    let held: BTreeMap<String, Listed> = target
        .list()?
        .into_iter()
        .map(|l| (l.rel.clone(), l))
        .collect();
    let collections = match collection {
        Some(c) => {
            store.versions(c)?;
            vec![c.to_string()]
        }
        None => store.collections()?,
    };
    let source = super::local::Folder::new(store.root().to_path_buf());
    let source_files = source.list()?;
    let plan = Plan::new(store, &collections, &source_files, &held)?;
    progress.start("replicating", plan.bytes);
    let mut report = Report {
        to: target.label(),
        collections: Vec::new(),
        files_copied: 0,
        bytes_copied: 0,
        temporaries_removed,
    };
    for name in &collections {
        let mut done = CollectionReport {
            name: name.clone(),
            versions_copied: Vec::new(),
            versions_present: Vec::new(),
            link_log: "none",
        };
        for v in store.versions(name)? {
            let files = plan.version_files(name, v);
            if copy_version(
                store,
                target,
                name,
                v,
                &files,
                &held,
                &run,
                progress,
                &mut report,
            )? {
                done.versions_copied.push(v);
            } else {
                done.versions_present.push(v);
            }
        }
        done.link_log = copy_link_log(store, target, name, &held, &run, progress, &mut report)?;
        report.collections.push(done);
    }
    // A temporary whose deletion failed on the way (a node that went away) goes now.
    target.remove_temporaries(Some(&run))?;
    progress.finish();
    Ok(report)
}

/// A file of the source store: what it is and its store-relative path.
#[derive(Debug, Clone)]
struct SourceFile {
    file: StoreFile,
    rel: String,
}

/// The files of the store to copy, by version, and the bytes the progress bar counts.
struct Plan {
    by_version: BTreeMap<(String, u32), Vec<SourceFile>>,
    bytes: u64,
}

impl Plan {
    fn new(
        store: &Store,
        collections: &[String],
        source_files: &[Listed],
        held: &BTreeMap<String, Listed>,
    ) -> Result<Plan> {
        let mut by_version: BTreeMap<(String, u32), Vec<SourceFile>> = BTreeMap::new();
        let mut bytes = 0;
        for listed in source_files {
            let Some(file) = files::classify(&listed.rel) else {
                continue;
            };
            let Some(v) = file.version else { continue };
            if !collections.contains(&file.collection) {
                continue;
            }
            if !held.contains_key(&sidecar_rel(&file.collection, v))
                && store.manifest_path(&file.collection, v).exists()
            {
                bytes += listed.bytes;
            }
            by_version
                .entry((file.collection.clone(), v))
                .or_default()
                .push(SourceFile {
                    file,
                    rel: listed.rel.clone(),
                });
        }
        for files in by_version.values_mut() {
            files.sort_by_key(|f| (f.file.kind, f.rel.clone()));
        }
        Ok(Plan { by_version, bytes })
    }

    fn version_files(&self, collection: &str, version: u32) -> Vec<SourceFile> {
        self.by_version
            .get(&(collection.to_string(), version))
            .cloned()
            .unwrap_or_default()
    }
}

/// Copies one version unless the replica holds it: whether it copied.
#[allow(clippy::too_many_arguments)]
fn copy_version(
    store: &Store,
    target: &Replica,
    collection: &str,
    version: u32,
    files: &[SourceFile],
    held: &BTreeMap<String, Listed>,
    run: &str,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<bool> {
    let sidecar = sidecar_rel(collection, version);
    let (manifest, sidecar_bytes) = store.read_manifest(collection, version)?;
    if held.contains_key(&sidecar) {
        let theirs = target.read_small(&sidecar, MAX_SMALL_FILE)?;
        if theirs.as_deref() == Some(&sidecar_bytes[..]) {
            return Ok(false);
        }
        return Err(Error::Remote {
            place: target.label_of(&sidecar),
            message: format!(
                "the replica holds another {collection} v{version} than this store (its sidecar \
                 differs); nothing was written: compare them with `cablekeep audit`"
            ),
        });
    }
    let zip_expected = Digest {
        bytes: manifest.archive.bytes,
        sha256: manifest.archive.sha256.clone(),
    };
    let mut receipt = Receipt {
        format: RECEIPT_FORMAT.to_string(),
        files: Vec::new(),
    };
    for SourceFile { file, rel } in files.iter().filter(|f| f.file.kind != FileKind::Sidecar) {
        let source = store.root().join(rel);
        let expected = match file.kind {
            FileKind::Zip => zip_expected.clone(),
            _ => hash_file(&source, &NoProgress)?,
        };
        let placed = place_once(target, rel, &source, &expected, held, run, progress, report)?;
        receipt.files.push(ReceiptFile {
            rel: rel.clone(),
            digest: placed.digest,
            etag: placed.etag,
        });
    }
    if target.is_remote() {
        let bytes =
            serde_json::to_vec_pretty(&receipt).map_err(|e| Error::Invalid(e.to_string()))?;
        target.put_state(&receipt_rel(collection, version), bytes)?;
    }
    let source = store.manifest_path(collection, version);
    let expected = Digest::of(&sidecar_bytes);
    place_once(
        target, &sidecar, &source, &expected, held, run, progress, report,
    )?;
    Ok(true)
}

/// Places one file unless the replica holds exactly these bytes already (a run that was
/// interrupted after placing it); other bytes under the name are an error, never replaced.
#[allow(clippy::too_many_arguments)]
fn place_once(
    target: &Replica,
    rel: &str,
    source: &std::path::Path,
    expected: &Digest,
    held: &BTreeMap<String, Listed>,
    run: &str,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<Placed> {
    if let Some(listed) = held.get(rel) {
        let theirs = if listed.bytes == expected.bytes {
            target.hash(rel, &NoProgress)?
        } else {
            None
        };
        if theirs.as_ref() == Some(expected) {
            progress.inc(expected.bytes);
            let etag = target.head(rel)?.and_then(|l| l.etag);
            return Ok(Placed {
                digest: expected.clone(),
                etag,
            });
        }
        return Err(Error::Remote {
            place: target.label_of(rel),
            message: "the replica holds other bytes under this name, and cablekeep never \
                      overwrites; nothing was written: run `cablekeep audit` and `repair`"
                .to_string(),
        });
    }
    let placed = target.write_once(rel, source, expected, run, None, progress)?;
    report.files_copied += 1;
    report.bytes_copied += expected.bytes;
    Ok(placed)
}

/// Copies or extends the collection's link log. The replica's copy may only be replaced by a
/// log that begins with it (the log only grows); anything else is an error.
fn copy_link_log(
    store: &Store,
    target: &Replica,
    collection: &str,
    held: &BTreeMap<String, Listed>,
    run: &str,
    progress: &dyn Progress,
    report: &mut Report,
) -> Result<&'static str> {
    let rel = format!("manifests/{collection}/links.jsonl");
    let path = store.root().join(&rel);
    if !path.exists() {
        return Ok("none");
    }
    // A writer may be appending: copy the complete lines only.
    let snapshot = complete_lines_copy(&path)?;
    let ours = hash_file(snapshot.path(), &NoProgress)?;
    let Some(theirs) = held.get(&rel) else {
        target.write_once(&rel, snapshot.path(), &ours, run, None, progress)?;
        report.files_copied += 1;
        report.bytes_copied += ours.bytes;
        return Ok("copied");
    };
    if theirs.bytes > ours.bytes || !is_prefix(target, &rel, theirs.bytes, snapshot.path())? {
        if theirs.bytes == ours.bytes && target.hash(&rel, &NoProgress)?.as_ref() == Some(&ours) {
            return Ok("same");
        }
        return Err(Error::Remote {
            place: target.label_of(&rel),
            message: "the replica's link log is not the beginning of this store's: the logs \
                      diverged; nothing was written (compare them with `cablekeep audit`)"
                .to_string(),
        });
    }
    if theirs.bytes == ours.bytes {
        return Ok("same");
    }
    let grown = format!("{STATE_DIR}/superseded/{run}");
    target.write_once(&rel, snapshot.path(), &ours, run, Some(&grown), progress)?;
    report.files_copied += 1;
    report.bytes_copied += ours.bytes;
    Ok("extended")
}

/// Whether the replica's `rel` (of `len` bytes) is the first `len` bytes of `local`.
fn is_prefix(target: &Replica, rel: &str, len: u64, local: &std::path::Path) -> Result<bool> {
    let theirs = target.hash(rel, &NoProgress)?;
    let mut file = std::fs::File::open(local).at(local)?;
    let mut head = Vec::new();
    (&mut file).take(len).read_to_end(&mut head).at(local)?;
    Ok(theirs == Some(Digest::of(&head)))
}

/// A temporary copy of `path` up to its last newline.
fn complete_lines_copy(path: &std::path::Path) -> Result<tempfile::NamedTempFile> {
    let bytes = std::fs::read(path).at(path)?;
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut tmp = tempfile::NamedTempFile::new().at(std::env::temp_dir())?;
    std::io::Write::write_all(tmp.as_file_mut(), &bytes[..end]).at(tmp.path().to_path_buf())?;
    Ok(tmp)
}

/// A name for this run's temporaries: the time and the process.
fn run_id() -> String {
    let now = crate::time::now().format("%Y%m%dT%H%M%SZ");
    format!("{now}-{}", std::process::id())
}

/// The quarantine folder of a repair run.
pub(crate) fn quarantine_dir(run: &str) -> String {
    format!("{STATE_DIR}/quarantine/{run}")
}
