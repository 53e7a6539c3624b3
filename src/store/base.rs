//! The previous version, which a new version builds on: its index lines, unparsed inputs and
//! capture keys, and its payload files and manifests read forward for copying.

use super::Store;
use super::journal::{LineJournal, Slot};
use super::sidecar::VersionManifest;
use super::snapshot::{PathKey, path_key};
use crate::bag::ArchiveFormat;
use crate::bag::capture::{IndexLine, UnparsedLine};
use crate::bag::manifest;
use crate::bag::{self, DirectoryCursor, Entry, OpenArchive};
use crate::error::{Error, IoContext, Result};
use crate::hash::{self, DigestBytes};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Hands every line of an archive's cable index to `each`, as the index is inflated (it is
/// never held whole). The archive must be intact.
pub(super) fn stream_index(
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
pub(super) struct Base {
    pub(super) version: u32,
    pub(super) manifest: VersionManifest,
    pub(super) manifest_bytes: Vec<u8>,
    /// Its archive, opened for its tag files only: the payload files copied from it are found
    /// by [`PreviousFiles`].
    pub(super) archive: OpenArchive,
    /// Its cables' index lines, in the journal (moved into the new version's snapshot unless
    /// it replaces this one's captures).
    pub(super) lines: BTreeMap<Box<str>, Slot>,
    pub(super) unparsed: Vec<UnparsedLine>,
    /// The raw bytes' paths of every capture it holds (parsed or not).
    pub(super) raw_keys: HashSet<PathKey>,
    pub(super) captures: u64,
    /// The archive format it was written in.
    pub(super) format: ArchiveFormat,
}

impl Base {
    pub(super) fn open(
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
        let format = archive.archive_format()?;
        Ok(Base {
            version,
            manifest,
            manifest_bytes,
            archive,
            lines,
            unparsed,
            raw_keys,
            captures,
            format,
        })
    }

    /// The payload manifests of this version, checked against the digests its sidecar manifest
    /// records for them and ready to be read in path order.
    pub(super) fn manifests(&self, scratch: &Path) -> Result<ManifestCursors> {
        Ok((
            ManifestCursor::open(self, "sha256", scratch)?,
            ManifestCursor::open(self, "sha512", scratch)?,
        ))
    }

    /// Inflates each file to be copied from this version and checks its SHA-256 (and the zip's
    /// CRC-32) against the manifest, on all cores. Any difference stops the write.
    pub(super) fn check_copied(&self, files: &[(Entry, DigestBytes)]) -> Result<()> {
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

    pub(super) fn damaged(&self, what: String) -> Error {
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
pub(super) struct PreviousFiles<'a> {
    pub(super) base: &'a Base,
    cursor: DirectoryCursor<'a>,
    table: Option<OpenArchive>,
}

impl<'a> PreviousFiles<'a> {
    pub(super) fn new(base: &'a Base) -> Result<Self> {
        Ok(PreviousFiles {
            base,
            cursor: base.archive.directory_cursor()?,
            table: None,
        })
    }

    /// The entry of the payload file at `path` (in the bag), with where its data starts.
    pub(super) fn find(&mut self, path: &str) -> Result<Entry> {
        if self.table.is_none() {
            let folder = self.base.archive.folder.as_deref().unwrap_or_default();
            let found = self.cursor.find(&format!("{folder}/{path}"));
            if let Some(entry) = found.at(&self.base.archive.path)? {
                return Ok(entry);
            }
            self.table = Some(self.base.archive.reopen(bag::Reading::Whole)?);
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
pub(super) struct ManifestCursor<const N: usize> {
    pub(super) lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    name: String,
    pub(super) archive: PathBuf,
}

impl<const N: usize> ManifestCursor<N> {
    pub(super) fn open(base: &Base, algorithm: &str, scratch: &Path) -> Result<ManifestCursor<N>> {
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
    pub(super) fn find(&mut self, path: &str) -> Result<[u8; N]> {
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

/// The previous version's payload manifests, read forward (SHA-256, SHA-512).
pub(super) type ManifestCursors = (ManifestCursor<32>, ManifestCursor<64>);
