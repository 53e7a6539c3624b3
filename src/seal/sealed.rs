//! A sealed version read for proofs and exports: its seal files and tree, `prove` (through the
//! tree cache when it holds), and the seal files an export carries.

use std::path::PathBuf;

use base64ct::{Base64, Encoding};

use crate::error::{Error, Result};
use crate::finding::terminal_safe;
use crate::store::Store;

use super::checkpoint::Checkpoint;
use super::proof::{Proof, ProofSignature, ProvenFile};
use super::*;

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
    let checkpoint = read_checkpoint_file(store, &cp_path)?.ok_or_else(|| {
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
        let bytes = store.read_regular(&path, sshsig::MAX_SIGNATURE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Corrupt {
            path: path.clone(),
            message: "the signature is not text".into(),
        })?;
        signatures.push((key_id, text));
    }
    let tsr = timestamp_path(store, c, v);
    let timestamp = if store.has_entry(&tsr) {
        Some(store.read_regular(&tsr, MAX_TIMESTAMP_BYTES)?)
    } else {
        None
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

    /// The Merkle root over the version's payload manifest, lower-case hex (as the checkpoint
    /// gives it).
    pub fn root_hex(&self) -> String {
        hex::encode(self.tree.root())
    }

    /// Writes this version's tree cache ([`cache`]); false when its manifest cannot have one.
    pub fn write_cache(&self, store: &Store) -> Result<bool> {
        let Some(path) = cache::cache_path(store, &self.collection, self.version) else {
            return Ok(false);
        };
        cache::write(&path, &self.manifest, &self.spans, &self.tree.root())
    }

    /// The seal files an export of this version carries: the checkpoint and its signatures,
    /// under `seal/`, named as in the store.
    pub fn export_files(&self) -> Vec<(String, Vec<u8>)> {
        export_files_of(
            (&self.collection, self.version),
            &self.checkpoint,
            &self.signatures,
            self.timestamp.as_ref(),
        )
    }
}

/// The seal files of a version under `seal/`, named as in the store.
fn export_files_of(
    (collection, version): (&str, u32),
    checkpoint: &str,
    signatures: &[(String, String)],
    timestamp: Option<&Vec<u8>>,
) -> Vec<(String, Vec<u8>)> {
    let stem = format!("{collection}-v{version}.checkpoint");
    let mut files = vec![(format!("seal/{stem}"), checkpoint.as_bytes().to_vec())];
    for (key_id, text) in signatures {
        files.push((
            format!("seal/{stem}.{key_id}.sig"),
            text.clone().into_bytes(),
        ));
    }
    if let Some(token) = timestamp {
        files.push((format!("seal/{stem}.tsr"), token.clone()));
    }
    files
}

/// Files under an export's `seal/`: (path, bytes).
pub type SealExportFiles = Vec<(String, Vec<u8>)>;

/// A sealed version's Merkle root (lower-case hex, as its checkpoint gives it) and the seal
/// files an export carries, read without building its tree (which is as large as the version's
/// manifest); None when the version is not sealed. [`SealedVersion::read`] checks the root
/// against the archive.
pub fn seal_files(
    store: &Store,
    collection: &str,
    version: u32,
) -> Result<Option<(String, SealExportFiles)>> {
    if read_checkpoint_file(store, &checkpoint_path(store, collection, version))?.is_none() {
        return Ok(None);
    }
    let files = read_seal_files(store, collection, version)?;
    let exported = export_files_of(
        (collection, version),
        &files.checkpoint,
        &files.signatures,
        files.timestamp.as_ref(),
    );
    Ok(Some((hex::encode(files.parsed.root), exported)))
}

/// The seal an export of a version carries: None when the version has no checkpoint (an error
/// when proofs are asked for).
pub fn for_export(
    store: &Store,
    collection: &str,
    version: u32,
    proofs: bool,
) -> Result<Option<SealedVersion>> {
    let sealed =
        read_checkpoint_file(store, &checkpoint_path(store, collection, version))?.is_some();
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
    let Some(path) = cache::cache_path(store, c, v) else {
        return Ok(None);
    };
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
