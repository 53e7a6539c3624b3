//! Seals anyone can check: a signed, timestamped checkpoint per version and a proof for one cable
//! (docs/FORMAT.md section 9).
//!
//! A version's **checkpoint** (`manifests/<c>/<c>-v<N>.checkpoint`) names the root of a Merkle
//! tree over the lines of its `manifest-sha256.txt` (one leaf per payload file), its zip's and
//! tag manifest's digests, and the digest of the previous version's checkpoint. SSH signatures
//! over it (`<c>-v<N>.checkpoint.<keyid>.sig`) say who sealed it; a **proof** carries the
//! checkpoint, its signatures and the audit paths of one cable's files, and is checked offline.
//! Sealing never rewrites a version: checkpoint and signatures are files beside its sidecar.

pub mod cache;
pub mod checkpoint;
pub mod merkle;
pub mod proof;
pub mod sshsig;
pub mod stamp;
pub mod timestamp;

mod check;
mod sealed;

pub use check::{CheckOptions, check_seals};
pub use sealed::{SealExportFiles, SealedVersion, cable_files, for_export, prove, seal_files};

use std::path::{Path, PathBuf};

use crate::bag::Reading;
use crate::error::{Error, Result};
use crate::finding::terminal_safe;
use crate::fsutil::{self, StoreLock};
use crate::store::Store;
use crate::store::sidecar::VersionManifest;

use checkpoint::{Checkpoint, MAX_CHECKPOINT_BYTES};
use sshsig::{AllowedSigners, SigningKey, Verdict};

/// The payload manifest whose lines are the leaves.
const PAYLOAD_MANIFEST: &str = "manifest-sha256.txt";
/// The tag manifest whose SHA-512 a checkpoint names.
const TAG_MANIFEST: &str = "tagmanifest-sha512.txt";
/// Where `verify` and `check-proof` look for the trusted keys when none are given.
pub const DEFAULT_ALLOWED_SIGNERS: &str = ".cablekeep/allowed_signers";
/// At most this many signature files of one version are checked.
const MAX_SIGNATURE_FILES: usize = 64;

/// A version's checkpoint file.
pub fn checkpoint_path(store: &Store, collection: &str, version: u32) -> PathBuf {
    store
        .manifest_dir(collection)
        .join(format!("{collection}-v{version}.checkpoint"))
}

/// The signature file of key `key_id` over a version's checkpoint.
pub fn signature_path(store: &Store, collection: &str, version: u32, key_id: &str) -> PathBuf {
    store
        .manifest_dir(collection)
        .join(format!("{collection}-v{version}.checkpoint.{key_id}.sig"))
}

/// A version's RFC 3161 timestamp token over its checkpoint (the `.tsr` reply), when it has one.
pub fn timestamp_path(store: &Store, collection: &str, version: u32) -> PathBuf {
    store
        .manifest_dir(collection)
        .join(format!("{collection}-v{version}.checkpoint.tsr"))
}

/// A timestamp reply is read up to this size (one is about 2 KB).
const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;

/// The signature files beside a version's checkpoint, as (key id from the name, path), sorted.
pub fn signature_files(
    store: &Store,
    collection: &str,
    version: u32,
) -> Result<Vec<(String, PathBuf)>> {
    let dir = store.manifest_dir(collection);
    let prefix = format!("{collection}-v{version}.checkpoint.");
    let mut found = Vec::new();
    let Some(entries) = store.list_folder(&dir)? else {
        return Ok(found);
    };
    for entry in entries {
        let name = entry.name;
        if let Some(key_id) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".sig"))
            && is_key_id(key_id)
        {
            found.push((key_id.to_string(), dir.join(&name)));
        }
    }
    found.sort();
    Ok(found)
}

fn is_key_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where the lines of a payload manifest are, each as (start, end) without its line end (LF, or
/// CR LF): the leaves. Bytes after the last line end are a last line.
pub fn manifest_line_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let without_cr = |start: usize, end: usize| {
        if end > start && bytes[end - 1] == b'\r' {
            (start, end - 1)
        } else {
            (start, end)
        }
    };
    let mut spans = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        spans.push(without_cr(start, end));
        start = end + 1;
    }
    if start < bytes.len() {
        spans.push(without_cr(start, bytes.len()));
    }
    spans
}

/// The leaf hashes of a payload manifest's lines.
fn manifest_leaves(bytes: &[u8], spans: &[(usize, usize)]) -> Vec<merkle::Hash> {
    let lines: Vec<&[u8]> = spans.iter().map(|&(s, e)| &bytes[s..e]).collect();
    merkle::leaf_hashes(&lines)
}

/// What sealing needs from a version: its sidecar facts and its payload manifest's bytes.
struct VersionFacts {
    manifest: VersionManifest,
    payload_manifest: Vec<u8>,
}

fn read_version(store: &Store, collection: &str, version: u32) -> Result<VersionFacts> {
    let (manifest, _) = store.read_manifest(collection, version)?;
    let archive = store.open_zip(
        collection,
        version,
        Reading::Selected(&|p| p == PAYLOAD_MANIFEST),
    )?;
    let payload_manifest = archive.read_required(PAYLOAD_MANIFEST)?;
    Ok(VersionFacts {
        manifest,
        payload_manifest,
    })
}

fn tag_digest<'a>(manifest: &'a VersionManifest, file: &str) -> Result<&'a crate::hash::Digests> {
    manifest.bag.tag_files.get(file).ok_or_else(|| {
        Error::NotFound(format!(
            "the sidecar of {} names no digest of {file}",
            manifest.identifier
        ))
    })
}

/// The checkpoint a version's archive and sidecar call for, given the previous checkpoint's
/// digest. Fails when the payload manifest is not the one the sidecar names (run verify).
fn checkpoint_of(
    facts: &VersionFacts,
    store_id: Option<&str>,
    previous: Option<String>,
) -> Result<Checkpoint> {
    let m = &facts.manifest;
    let expected = &tag_digest(m, PAYLOAD_MANIFEST)?.sha256;
    let actual = crate::hash::sha256_hex(&facts.payload_manifest);
    if &actual != expected {
        return Err(Error::Corrupt {
            path: PathBuf::from(&m.archive.file),
            message: format!(
                "{PAYLOAD_MANIFEST} has SHA-256 {actual}, the sidecar names {expected}; run `cablekeep verify`"
            ),
        });
    }
    let spans = manifest_line_spans(&facts.payload_manifest);
    let tree = merkle::Tree::new(manifest_leaves(&facts.payload_manifest, &spans));
    Ok(Checkpoint {
        store: store_id.map(str::to_string),
        collection: m.collection.clone(),
        version: m.version,
        size: tree.size() as u64,
        root: tree.root(),
        zip_sha256: m.archive.sha256.clone(),
        zip_sha512: m.archive.sha512.clone(),
        tagmanifest_sha512: tag_digest(m, TAG_MANIFEST)?.sha512.clone(),
        previous,
    })
}

/// Reads a checkpoint file's bytes (bounded); None when there is none.
fn read_checkpoint_file(store: &Store, path: &Path) -> Result<Option<Vec<u8>>> {
    if !store.has_entry(path) {
        return Ok(None);
    }
    store
        .read_regular(path, MAX_CHECKPOINT_BYTES as u64)
        .map(Some)
}

/// The SHA-256 of version `version`'s checkpoint: of its file when there is one, else of the
/// checkpoint its archive calls for (computed, down the chain as far as files are missing).
fn checkpoint_digest(
    store: &Store,
    collection: &str,
    version: u32,
    store_id: Option<&str>,
) -> Result<String> {
    // Find the newest version at or below `version` whose checkpoint file exists, then compute
    // forward from there.
    let mut start = version;
    let mut digest = None;
    loop {
        if let Some(bytes) =
            read_checkpoint_file(store, &checkpoint_path(store, collection, start))?
        {
            digest = Some(crate::hash::sha256_hex(&bytes));
            break;
        }
        if start == 1 {
            break;
        }
        start -= 1;
    }
    let first_missing = if digest.is_some() { start + 1 } else { 1 };
    for v in first_missing..=version {
        let facts = read_version(store, collection, v)?;
        let cp = checkpoint_of(&facts, store_id, digest.take())?;
        digest = Some(crate::hash::sha256_hex(cp.to_text().as_bytes()));
    }
    digest.ok_or_else(|| Error::NotFound(format!("{collection}@v{version} has no checkpoint")))
}

/// The checkpoint text a version calls for (the previous link from the previous checkpoint).
pub fn expected_checkpoint(
    store: &Store,
    collection: &str,
    version: u32,
    store_id: Option<&str>,
) -> Result<Checkpoint> {
    expected_with_facts(store, collection, version, store_id).map(|(cp, _)| cp)
}

/// [`expected_checkpoint`] with the version's facts it was computed from.
fn expected_with_facts(
    store: &Store,
    collection: &str,
    version: u32,
    store_id: Option<&str>,
) -> Result<(Checkpoint, VersionFacts)> {
    let previous = match version {
        1 => None,
        v => Some(checkpoint_digest(store, collection, v - 1, store_id)?),
    };
    let facts = read_version(store, collection, version)?;
    let cp = checkpoint_of(&facts, store_id, previous)?;
    Ok((cp, facts))
}

/// What sealing one version did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sealed {
    /// The collection sealed.
    pub collection: String,
    /// The version sealed.
    pub version: u32,
    /// The checkpoint's path, `manifests/<collection>/<collection>-v<N>.checkpoint` (FORMAT.md
    /// section 9.2).
    pub checkpoint: PathBuf,
    /// The checkpoint was written now (false: it was there and is what the archive calls for).
    pub checkpoint_written: bool,
    /// Path of the key's signature, `<checkpoint>.<keyid>.sig` (FORMAT.md section 9.3), when a
    /// key was given.
    pub signature: Option<PathBuf>,
    /// The key's id (the first 16 hex digits of the SHA-256 of its public key blob), when a key
    /// was given.
    pub key_id: Option<String>,
    /// The signature was written now (false: this key had signed already, or no key was given).
    pub signed: bool,
    /// Leaves of the version's tree: the lines of its `manifest-sha256.txt`.
    pub tree_size: u64,
    /// The tree's root (FORMAT.md section 9.1), lower-case hex.
    pub root: String,
    /// The timestamp, when one was asked for ([`stamp::timestamp_version`]).
    pub timestamp: Option<stamp::Stamped>,
}

/// Seals a version: writes its checkpoint when it has none (atomically, never overwriting) and,
/// with a key, this key's signature over it. An existing checkpoint must be what the archive
/// calls for; a signature of this key that is already there is kept.
pub fn seal_version(
    store: &Store,
    _lock: &StoreLock,
    collection: &str,
    version: u32,
    key: Option<&SigningKey>,
    store_id: Option<&str>,
) -> Result<Sealed> {
    store.require_local("seal a version in it")?;
    let path = checkpoint_path(store, collection, version);
    let existing = read_checkpoint_file(store, &path)?;
    let store_id = match &existing {
        Some(bytes) => {
            Checkpoint::parse(bytes)
                .map_err(|e| Error::Corrupt {
                    path: path.clone(),
                    message: format!("{e}; run `cablekeep verify`"),
                })?
                .store
        }
        None => store_id.map(str::to_string),
    };
    let (expected, facts) = expected_with_facts(store, collection, version, store_id.as_deref())?;
    let text = expected.to_text();
    let checkpoint_written = match &existing {
        Some(bytes) if bytes == text.as_bytes() => false,
        Some(_) => {
            return Err(Error::Corrupt {
                path,
                message: "the checkpoint is not the one the archive calls for; it is not signed (run `cablekeep verify`)".into(),
            });
        }
        None => {
            fsutil::atomic_create(&path, text.as_bytes())?;
            true
        }
    };
    let (signature, signed) = match key {
        Some(key) => {
            let (signature, signed) = sign_checkpoint(store, collection, version, key, &text)?;
            (Some(signature), signed)
        }
        None => (None, false),
    };
    // The tree cache makes the version's proofs quick; it is only a cache, so a version it
    // cannot be written for is sealed all the same, and one there already is kept (prove
    // rebuilds it if a block turns out damaged).
    if let Some(cache) = cache::cache_path(store, collection, version)
        && !matches!(
            cache::TreeCache::open(&cache, expected.size, &expected.root),
            Ok(Some(_))
        )
    {
        let spans = manifest_line_spans(&facts.payload_manifest);
        let _ = cache::write(&cache, &facts.payload_manifest, &spans, &expected.root);
    }
    Ok(Sealed {
        collection: collection.to_string(),
        version,
        checkpoint: path,
        checkpoint_written,
        signature,
        key_id: key.map(|k| k.key_id.clone()),
        signed,
        tree_size: expected.size,
        root: hex::encode(expected.root),
        timestamp: None,
    })
}

/// Writes `key`'s signature over the checkpoint `text` unless it is there; returns its path and
/// whether it was written now.
fn sign_checkpoint(
    store: &Store,
    collection: &str,
    version: u32,
    key: &SigningKey,
    text: &str,
) -> Result<(PathBuf, bool)> {
    let signature = signature_path(store, collection, version, &key.key_id);
    if std::fs::symlink_metadata(&signature).is_ok() {
        let bytes = fsutil::read_regular_file(&signature, sshsig::MAX_SIGNATURE_BYTES)?;
        if matches!(
            sshsig::check(&bytes, text.as_bytes(), None),
            Verdict::Bad { .. }
        ) {
            return Err(Error::Corrupt {
                path: signature,
                message: "a signature of this key is there and does not verify; move it away to sign again".into(),
            });
        }
        return Ok((signature, false));
    }
    fsutil::atomic_create(&signature, key.sign(text.as_bytes())?.as_bytes())?;
    Ok((signature, true))
}

/// Reads the allowed signers: the file given, else the store's default one when present.
pub fn allowed_signers(
    store: Option<&Store>,
    given: Option<&Path>,
) -> Result<Option<AllowedSigners>> {
    let path = match (given, store) {
        (Some(p), _) => p.to_path_buf(),
        // A remote store's `.cablekeep/` is local state that is not copied to it.
        (None, Some(s)) if s.is_remote() => return Ok(None),
        (None, Some(s)) => {
            let p = s.root().join(DEFAULT_ALLOWED_SIGNERS);
            if std::fs::symlink_metadata(&p).is_err() {
                return Ok(None);
            }
            p
        }
        (None, None) => return Ok(None),
    };
    AllowedSigners::read(&path).map(Some)
}

/// One line saying what sealing a version did, for terminals.
pub fn describe(sealed: &Sealed) -> String {
    let mut line = format!(
        "{}@v{}: {} leaves, root {}; checkpoint {}{}",
        sealed.collection,
        sealed.version,
        sealed.tree_size,
        sealed.root,
        terminal_safe(&sealed.checkpoint.display().to_string()),
        if sealed.checkpoint_written {
            " written"
        } else {
            " kept"
        },
    );
    if let Some(signature) = &sealed.signature {
        line.push_str(&format!(
            "; signature {} ({})",
            terminal_safe(&signature.display().to_string()),
            if sealed.signed {
                "signed"
            } else {
                "already signed by this key"
            },
        ));
    }
    if let Some(stamp) = &sealed.timestamp {
        line.push_str(&format!(
            "; timestamp {} ({} {}{})",
            terminal_safe(&stamp.path.display().to_string()),
            if stamp.written {
                "stamped"
            } else {
                "already stamped"
            },
            stamp.gen_time,
            stamp
                .tsa
                .as_deref()
                .map(|t| format!(" by {}", terminal_safe(t)))
                .unwrap_or_default(),
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lines_end_with_lf_or_cr_lf_and_a_last_line_may_have_none() {
        let lines = |b: &[u8]| -> Vec<Vec<u8>> {
            manifest_line_spans(b)
                .into_iter()
                .map(|(s, e)| b[s..e].to_vec())
                .collect()
        };
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"a\n"), [b"a".to_vec()]);
        assert_eq!(lines(b"a\r\nb"), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(lines(b"a\n\n"), [b"a".to_vec(), b"".to_vec()]);
        assert_eq!(lines(b"\n"), [b"".to_vec()]);
    }
}
