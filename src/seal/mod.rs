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

use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};

use crate::bag::OpenArchive;
use crate::error::{Error, Result};
use crate::finding::{Code, Finding, terminal_safe};
use crate::fsutil::{self, StoreLock};
use crate::store::Store;
use crate::store::sidecar::VersionManifest;

use checkpoint::{Checkpoint, MAX_CHECKPOINT_BYTES};
use proof::{Proof, ProofSignature, ProvenFile};
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
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(found);
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(key_id) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".sig"))
            && is_key_id(key_id)
        {
            found.push((key_id.to_string(), entry.path()));
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
    let zip = store.zip_path(collection, version);
    let archive = OpenArchive::open_selected(&zip, &|p| p == PAYLOAD_MANIFEST)?;
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
fn read_checkpoint_file(path: &Path) -> Result<Option<Vec<u8>>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    fsutil::read_regular_file(path, MAX_CHECKPOINT_BYTES as u64).map(Some)
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
        if let Some(bytes) = read_checkpoint_file(&checkpoint_path(store, collection, start))? {
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
    let path = checkpoint_path(store, collection, version);
    let existing = read_checkpoint_file(&path)?;
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
    let cache = cache::cache_path(store, collection, version);
    if !matches!(
        cache::TreeCache::open(&cache, expected.size, &expected.root),
        Ok(Some(_))
    ) {
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

/// Options of the seal checks of `verify`.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A version without a seal is an error, not a warning.
    pub require_seal: bool,
    /// The TSA certificates timestamps are checked against.
    pub tsa_trust: stamp::TsaTrust,
}

/// Checks the seals of `versions` of a collection: each checkpoint against its archive and the
/// chain, each signature over it, and whose key it is. Findings, never errors, for what is
/// wrong with the seal files; errors only when the archive itself cannot be read.
pub fn check_seals(
    store: &Store,
    collection: &str,
    versions: &[u32],
    allowed: Option<&AllowedSigners>,
    options: &CheckOptions,
) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let mut any_signature = false;
    let mut any_timestamp = false;
    for &version in versions {
        any_signature |=
            check_version(store, collection, version, allowed, options, &mut findings)?;
        any_timestamp |= stamp::check_version_timestamp(
            store,
            collection,
            version,
            &options.tsa_trust,
            &mut findings,
        );
    }
    if any_timestamp
        && let Some(f) = options
            .tsa_trust
            .unchecked_finding(&store.manifest_dir(collection).display().to_string())
    {
        findings.push(f);
    }
    if any_signature && allowed.is_none() {
        findings.push(Finding::new(
            Code::SealsUnchecked,
            store.manifest_dir(collection).display().to_string(),
            format!(
                "the signatures were checked, not whose keys they are: give --allowed-signers (or put the file at {DEFAULT_ALLOWED_SIGNERS})"
            ),
        ));
    }
    Ok(findings)
}

/// One version's seal; returns whether it has any signature file.
fn check_version(
    store: &Store,
    collection: &str,
    version: u32,
    allowed: Option<&AllowedSigners>,
    options: &CheckOptions,
    findings: &mut Vec<Finding>,
) -> Result<bool> {
    let path = checkpoint_path(store, collection, version);
    let label = path.display().to_string();
    let missing = |message: String| {
        let mut f = Finding::new(Code::SealMissing, &label, message);
        if options.require_seal {
            f.severity = crate::Severity::Error;
        }
        f
    };
    let bytes = match read_checkpoint_file(&path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            findings.push(missing(format!(
                "{collection}@v{version} has no checkpoint (run `cablekeep seal`)"
            )));
            return Ok(!signature_files(store, collection, version)?.is_empty());
        }
        Err(e) => {
            findings.push(Finding::new(Code::SealMalformed, &label, e.to_string()));
            return Ok(false);
        }
    };
    match Checkpoint::parse(&bytes) {
        Ok(cp) => compare_with_archive(store, collection, version, &cp, &label, findings)?,
        Err(e) => findings.push(Finding::new(
            Code::SealMalformed,
            &label,
            format!("checkpoint unreadable: {e}"),
        )),
    }
    let signatures = signature_files(store, collection, version)?;
    let mut trusted = false;
    for (key_id, sig_path) in signatures.iter().take(MAX_SIGNATURE_FILES) {
        trusted |= check_signature_file(key_id, sig_path, &bytes, allowed, findings);
    }
    if signatures.is_empty() {
        findings.push(missing(format!(
            "{collection}@v{version}'s checkpoint has no signature"
        )));
    } else if allowed.is_some() && !trusted && !findings_cover(findings, &signatures) {
        findings.push(missing(format!(
            "{collection}@v{version} has no signature by an allowed signer"
        )));
    }
    Ok(!signatures.is_empty())
}

/// True when every signature file already has a finding (bad or not allowed).
fn findings_cover(findings: &[Finding], signatures: &[(String, PathBuf)]) -> bool {
    signatures.iter().all(|(_, p)| {
        let label = p.display().to_string();
        findings.iter().any(|f| f.file == label)
    })
}

/// Checks one signature file; returns whether an allowed signer made it.
fn check_signature_file(
    key_id: &str,
    path: &Path,
    checkpoint: &[u8],
    allowed: Option<&AllowedSigners>,
    findings: &mut Vec<Finding>,
) -> bool {
    let label = path.display().to_string();
    let bytes = match fsutil::read_regular_file(path, sshsig::MAX_SIGNATURE_BYTES) {
        Ok(b) => b,
        Err(e) => {
            findings.push(Finding::new(Code::SealMalformed, &label, e.to_string()));
            return false;
        }
    };
    let verdict = sshsig::check(&bytes, checkpoint, allowed);
    let named_other = |actual: &str| {
        Finding::new(
            Code::SealMalformed,
            &label,
            format!("the file is named for key {key_id}, the signature is by key {actual}"),
        )
    };
    match verdict {
        Verdict::Trusted { key_id: actual, .. } | Verdict::Unchecked { key_id: actual }
            if actual != key_id =>
        {
            findings.push(named_other(&actual));
            false
        }
        Verdict::Trusted { .. } => true,
        Verdict::Unchecked { .. } => false,
        Verdict::NotAllowed { key_id: actual } => {
            findings.push(Finding::new(
                Code::SignerNotAllowed,
                &label,
                format!(
                    "signed by key {actual}, which the allowed signers do not list for {}",
                    sshsig::NAMESPACE
                ),
            ));
            false
        }
        Verdict::Bad { problem } => {
            findings.push(Finding::new(Code::SignatureBad, &label, problem));
            false
        }
    }
}

/// A parsed checkpoint against the one its archive and the previous checkpoint call for.
fn compare_with_archive(
    store: &Store,
    collection: &str,
    version: u32,
    cp: &Checkpoint,
    label: &str,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let facts = match read_version(store, collection, version) {
        Ok(f) => f,
        // The archive's own checks report why it cannot be read.
        Err(_) => return Ok(()),
    };
    let previous = match version {
        1 => None,
        v => checkpoint_digest(store, collection, v - 1, cp.store.as_deref()).ok(),
    };
    let expected = match checkpoint_of(&facts, cp.store.as_deref(), previous.clone()) {
        Ok(e) => e,
        Err(e) => {
            findings.push(Finding::new(Code::CheckpointMismatch, label, e.to_string()));
            return Ok(());
        }
    };
    let mut differs = Vec::new();
    if (&cp.collection, cp.version) != (&expected.collection, expected.version) {
        differs.push(format!("it names {}@v{}", cp.collection, cp.version));
    }
    if (cp.size, cp.root) != (expected.size, expected.root) {
        differs.push(format!(
            "tree {} leaves, root {}; the archive's manifest gives {} leaves, root {}",
            cp.size,
            hex::encode(cp.root),
            expected.size,
            hex::encode(expected.root)
        ));
    }
    if cp.zip_sha256 != expected.zip_sha256 || cp.zip_sha512 != expected.zip_sha512 {
        differs.push("the zip digests are not the sidecar's".into());
    }
    if cp.tagmanifest_sha512 != expected.tagmanifest_sha512 {
        differs.push(format!("the {TAG_MANIFEST} digest is not the sidecar's"));
    }
    if !differs.is_empty() {
        findings.push(Finding::new(
            Code::CheckpointMismatch,
            label,
            differs.join("; "),
        ));
    }
    if cp.previous != previous && previous.is_some() {
        findings.push(Finding::new(
            Code::CheckpointChainBroken,
            label,
            format!(
                "it names previous checkpoint SHA-256 {}, v{}'s checkpoint has {}",
                cp.previous.as_deref().unwrap_or("none"),
                version - 1,
                previous.as_deref().unwrap_or("none")
            ),
        ));
    }
    Ok(())
}

/// A sealed version read for proofs: its checkpoint, signatures and whole tree.
pub struct SealedVersion {
    /// The collection of the version.
    pub collection: String,
    /// The version read.
    pub version: u32,
    /// The checkpoint file's text.
    pub checkpoint: String,
    /// Each signature file: (key id, its text).
    pub signatures: Vec<(String, String)>,
    /// The timestamp token's bytes, when the version has one.
    pub timestamp: Option<Vec<u8>>,
    tree: merkle::Tree,
    /// The payload manifest, and each line's start and end (without its line end) in it.
    manifest: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Line numbers sorted by the path each line names, for finding a file's line.
    by_path: Vec<usize>,
}

/// A sealed version's seal files: its checkpoint (text and parsed), signatures and timestamp.
struct SealFiles {
    cp_path: PathBuf,
    checkpoint: String,
    parsed: Checkpoint,
    signatures: Vec<(String, String)>,
    timestamp: Option<Vec<u8>>,
}

/// Reads a version's seal files; fails when it is not sealed or its checkpoint is unreadable.
fn read_seal_files(store: &Store, c: &str, v: u32) -> Result<SealFiles> {
    let cp_path = checkpoint_path(store, c, v);
    let checkpoint = read_checkpoint_file(&cp_path)?.ok_or_else(|| {
        Error::NotFound(format!(
            "{c}@v{v} is not sealed (no {}); run `cablekeep seal -c {c} --version {v} --key KEY`",
            cp_path.display()
        ))
    })?;
    let corrupt = |message: String| Error::Corrupt {
        path: cp_path.clone(),
        message,
    };
    let checkpoint =
        String::from_utf8(checkpoint).map_err(|_| corrupt("the checkpoint is not UTF-8".into()))?;
    let parsed = Checkpoint::parse(checkpoint.as_bytes()).map_err(|e| corrupt(e.to_string()))?;
    let mut signatures = Vec::new();
    for (key_id, path) in signature_files(store, c, v)?
        .into_iter()
        .take(MAX_SIGNATURE_FILES)
    {
        let bytes = fsutil::read_regular_file(&path, sshsig::MAX_SIGNATURE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Corrupt {
            path: path.clone(),
            message: "the signature is not text".into(),
        })?;
        signatures.push((key_id, text));
    }
    let tsr = timestamp_path(store, c, v);
    let timestamp = match std::fs::symlink_metadata(&tsr) {
        Ok(_) => Some(fsutil::read_regular_file(&tsr, MAX_TIMESTAMP_BYTES)?),
        Err(_) => None,
    };
    Ok(SealFiles {
        cp_path,
        checkpoint,
        parsed,
        signatures,
        timestamp,
    })
}

/// A proof from its parts.
fn assemble_proof(
    seal: (&str, u32, &str),
    signatures: &[(String, String)],
    timestamp: Option<&Vec<u8>>,
    tree_size: u64,
    id: &str,
    files: Vec<ProvenFile>,
    audit: &[merkle::Hash],
) -> Proof {
    let (collection, version, checkpoint) = seal;
    Proof {
        format: proof::PROOF_FORMAT.to_string(),
        cable: id.to_string(),
        collection: collection.to_string(),
        version,
        tree_size,
        checkpoint: checkpoint.to_string(),
        signatures: signatures
            .iter()
            .map(|(key_id, signature)| ProofSignature {
                key_id: key_id.clone(),
                signature: signature.clone(),
            })
            .collect(),
        timestamp: timestamp.map(|t| Base64::encode_string(t)),
        files,
        audit_path: proof::encode_path(audit),
    }
}

impl SealedVersion {
    /// Reads a version's seal and builds its tree; fails when it is not sealed or its
    /// checkpoint is not its archive's tree.
    pub fn read(store: &Store, collection: &str, version: u32) -> Result<SealedVersion> {
        let (c, v) = (collection, version);
        let SealFiles {
            cp_path,
            checkpoint,
            parsed,
            signatures,
            timestamp,
        } = read_seal_files(store, c, v)?;
        let corrupt = |message: String| Error::Corrupt {
            path: cp_path.clone(),
            message,
        };
        let facts = read_version(store, c, v)?;
        let manifest = facts.payload_manifest;
        let spans = manifest_line_spans(&manifest);
        let leaves = manifest_leaves(&manifest, &spans);
        let tree = merkle::Tree::new(leaves);
        if tree.size() as u64 != parsed.size || tree.root() != parsed.root {
            return Err(corrupt(
                "the checkpoint is not the archive's tree; run `cablekeep verify`".into(),
            ));
        }
        let mut sealed = SealedVersion {
            collection: c.to_string(),
            version: v,
            checkpoint,
            signatures,
            timestamp,
            tree,
            manifest,
            spans,
            by_path: Vec::new(),
        };
        let mut by_path: Vec<usize> = (0..sealed.spans.len()).collect();
        by_path.sort_by(|a, b| sealed.path_of(*a).cmp(sealed.path_of(*b)));
        sealed.by_path = by_path;
        Ok(sealed)
    }

    /// The bytes of line `i`, without its line end.
    fn line(&self, i: usize) -> &[u8] {
        let (start, end) = self.spans[i];
        &self.manifest[start..end]
    }

    /// The path line `i` names (after `<64 hex digits>` and two spaces); empty when it is not a
    /// manifest line.
    fn path_of(&self, i: usize) -> &[u8] {
        let line = self.line(i);
        match line.get(64..66) {
            Some(b"  ") => &line[66..],
            _ => &[],
        }
    }

    /// The leaf index and text of the line naming `path`.
    fn find(&self, path: &str) -> Option<(usize, String)> {
        let at = self
            .by_path
            .binary_search_by(|i| self.path_of(*i).cmp(path.as_bytes()))
            .ok()?;
        let i = self.by_path[at];
        let text = std::str::from_utf8(self.line(i)).ok()?;
        proof::split_line(text).map(|_| (i, text.to_string()))
    }

    /// The paths of the payload files of cable `id`: the manifest's lines under
    /// `data/cables/<id>/`.
    pub fn files_of(&self, id: &str) -> Vec<String> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Vec::new();
        }
        let prefix = format!("data/cables/{id}/");
        let first = self
            .by_path
            .partition_point(|i| self.path_of(*i) < prefix.as_bytes());
        self.by_path[first..]
            .iter()
            .map(|i| self.path_of(*i))
            .take_while(|p| p.starts_with(prefix.as_bytes()))
            .filter_map(|p| std::str::from_utf8(p).ok().map(str::to_string))
            .collect()
    }

    /// The proof for cable `id` whose payload files are `paths`.
    pub fn proof(&self, id: &str, paths: &[&str]) -> Result<Proof> {
        let mut files = Vec::new();
        for path in paths {
            let (index, line) = self.find(path).ok_or_else(|| Error::Corrupt {
                path: PathBuf::from(format!("{}@v{}", self.collection, self.version)),
                message: format!(
                    "{PAYLOAD_MANIFEST} does not list {path} of cable {id}; run `cablekeep verify`"
                ),
            })?;
            files.push(ProvenFile {
                line,
                index: index as u64,
            });
        }
        files.sort_by_key(|f| f.index);
        files.dedup_by_key(|f| f.index);
        let indices: Vec<usize> = files.iter().map(|f| f.index as usize).collect();
        let audit = self.tree.multi_path(&indices).unwrap_or_default();
        Ok(assemble_proof(
            (&self.collection, self.version, &self.checkpoint),
            &self.signatures,
            self.timestamp.as_ref(),
            self.tree.size() as u64,
            id,
            files,
            &audit,
        ))
    }

    /// Writes this version's tree cache ([`cache`]); false when its manifest cannot have one.
    pub fn write_cache(&self, store: &Store) -> Result<bool> {
        let path = cache::cache_path(store, &self.collection, self.version);
        cache::write(&path, &self.manifest, &self.spans, &self.tree.root())
    }

    /// The seal files an export of this version carries: the checkpoint and its signatures,
    /// under `seal/`, named as in the store.
    pub fn export_files(&self) -> Vec<(String, Vec<u8>)> {
        let stem = format!("{}-v{}.checkpoint", self.collection, self.version);
        let mut files = vec![(format!("seal/{stem}"), self.checkpoint.clone().into_bytes())];
        for (key_id, text) in &self.signatures {
            files.push((
                format!("seal/{stem}.{key_id}.sig"),
                text.clone().into_bytes(),
            ));
        }
        if let Some(token) = &self.timestamp {
            files.push((format!("seal/{stem}.tsr"), token.clone()));
        }
        files
    }
}

/// The seal an export of a version carries: None when the version has no checkpoint (an error
/// when proofs are asked for).
pub fn for_export(
    store: &Store,
    collection: &str,
    version: u32,
    proofs: bool,
) -> Result<Option<SealedVersion>> {
    let sealed = read_checkpoint_file(&checkpoint_path(store, collection, version))?.is_some();
    if sealed || proofs {
        SealedVersion::read(store, collection, version).map(Some)
    } else {
        Ok(None)
    }
}

/// The cable's payload files: each capture's raw bytes and record.
pub fn cable_files(line: &crate::bag::capture::IndexLine) -> Vec<&str> {
    line.captures
        .iter()
        .flat_map(|cap| [cap.raw.as_str(), cap.record.as_str()])
        .collect()
}

/// Writes the proof for cable `id` (published or canonical id) of a version: its checkpoint and
/// signatures must be there. The cable's files are the lines of the manifest under
/// `data/cables/<id>/` (every payload file belongs to its cable's folder, which verify checks),
/// so the index is read only to choose the collection when the store has several.
pub fn prove(
    store: &Store,
    collection: Option<&str>,
    version: Option<u32>,
    id: &str,
) -> Result<Proof> {
    let chosen = match collection {
        Some(c) => Some(c.to_string()),
        None => match store.collections()?.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        },
    };
    let Some(c) = chosen else {
        let found = crate::query::select::locate_cable(store, None, version, id)?;
        let sealed = SealedVersion::read(store, &found.collection, found.version)?;
        return sealed.proof(&found.line.id, &cable_files(&found.line));
    };
    let v = store.resolve_version(&c, version)?;
    if let Some(found) = prove_from_cache(store, &c, v, id)? {
        return found;
    }
    let sealed = SealedVersion::read(store, &c, v)?;
    // The cache is only a speed-up: a version it cannot be written for is proven as above.
    let _ = sealed.write_cache(store);
    for candidate in crate::query::select::ids_to_look_up(id) {
        let files = sealed.files_of(&candidate);
        if !files.is_empty() {
            let paths: Vec<&str> = files.iter().map(String::as_str).collect();
            return sealed.proof(&candidate, &paths);
        }
    }
    Err(Error::NotFound(format!(
        "{c}@v{v} has no cable {}",
        terminal_safe(&id.trim().to_ascii_uppercase())
    )))
}

/// The proof for cable `id` of a version from its tree cache: None when there is no cache or
/// it is damaged or stale (the caller reads the archive and rebuilds it), else the proof or
/// the answer that the version has no such cable.
fn prove_from_cache(store: &Store, c: &str, v: u32, id: &str) -> Result<Option<Result<Proof>>> {
    let seal = read_seal_files(store, c, v)?;
    let path = cache::cache_path(store, c, v);
    let Ok(Some(mut tree)) = cache::TreeCache::open(&path, seal.parsed.size, &seal.parsed.root)
    else {
        return Ok(None);
    };
    for candidate in crate::query::select::ids_to_look_up(id) {
        if candidate.is_empty() || !candidate.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        let prefix = format!("data/cables/{candidate}/");
        let Ok(lines) = tree.lines_under(prefix.as_bytes()) else {
            return Ok(None);
        };
        if lines.is_empty() {
            continue;
        }
        let mut files = Vec::new();
        for (index, line) in lines {
            // Lines that are not UTF-8 are left out, as by SealedVersion::files_of.
            let Ok(line) = String::from_utf8(line) else {
                continue;
            };
            if proof::split_line(&line).is_none() {
                return Ok(Some(Err(Error::Corrupt {
                    path: PathBuf::from(format!("{c}@v{v}")),
                    message: format!(
                        "{PAYLOAD_MANIFEST} has a line under {prefix} that is not `<sha256>  <path>`; run `cablekeep verify`"
                    ),
                })));
            }
            files.push(ProvenFile {
                line,
                index: index as u64,
            });
        }
        let indices: Vec<usize> = files.iter().map(|f| f.index as usize).collect();
        let Ok(audit) = tree.multi_path(&indices) else {
            return Ok(None);
        };
        return Ok(Some(Ok(assemble_proof(
            (c, v, &seal.checkpoint),
            &seal.signatures,
            seal.timestamp.as_ref(),
            seal.parsed.size,
            &candidate,
            files,
            &audit,
        ))));
    }
    Ok(Some(Err(Error::NotFound(format!(
        "{c}@v{v} has no cable {}",
        terminal_safe(&id.trim().to_ascii_uppercase())
    )))))
}

/// Reads the allowed signers: the file given, else the store's default one when present.
pub fn allowed_signers(
    store: Option<&Store>,
    given: Option<&Path>,
) -> Result<Option<AllowedSigners>> {
    let path = match (given, store) {
        (Some(p), _) => p.to_path_buf(),
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
