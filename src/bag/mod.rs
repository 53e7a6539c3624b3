//! Archives: one immutable zip per version, holding one BagIt 1.0 bag (see `docs/FORMAT.md`).
//!
//! Writing goes through [`write`] (cablekeep's own zip writer, flat in memory, whose bytes the
//! tests compare with the `zip` crate's writer); reading and checking through [`read`], a
//! hardened reader that reports every defect it meets. Neither trusts the other: the tests read
//! what cablekeep writes with the `zip` crate, Python's `zipfile` and bagit.py too.

pub mod capture;
pub mod check;
pub mod manifest;
pub mod zip_read;
mod zip_write;
/// The zip reader under its earlier name, which other wings use.
pub use zip_read as read;

use crate::error::{Error, IoContext, Result};
use crate::finding::Finding;
use crate::hash::{self, DigestBytes, Digests};

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub use zip_read::{
    Chunk, DirectoryCursor, DirectoryStream, Entry, EntryData, ZipIndex, lossy_text,
};
pub use zip_write::{Compressed, DEFLATE_LEVEL, EntryFacts, compress};

/// The format name written into `bag-info.txt` as `Cablekeep-Format`.
pub const FORMAT_NAME: &str = "cablekeep archive format 1";
/// `bagit.txt`, byte for byte.
pub const BAGIT_TXT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
/// The payload manifests and tag manifests every bag has, by algorithm.
pub const ALGORITHMS: [&str; 2] = ["sha256", "sha512"];
/// The cable index tag file.
pub const INDEX_FILE: &str = "cablekeep/index.jsonl";
/// The tag file listing captures that no reader understood.
pub const UNPARSED_FILE: &str = "cablekeep/unparsed.jsonl";
/// How many payload files per worker thread are loaded, hashed and compressed at once: enough to
/// keep every core busy, few enough to keep memory flat (each file in flight costs its bytes plus
/// its compressed copy).
const FILES_PER_THREAD: usize = 8;

/// What a bag holds besides its payload.
#[derive(Debug, Default)]
pub struct BagPlan {
    /// The bag's top-level folder in the zip, e.g. `dev-v1`.
    pub folder: String,
    /// `bag-info.txt` labels in order; `Payload-Oxum` and `Bag-Size` are appended when known.
    pub bag_info: Vec<(String, String)>,
    /// Other tag files (paths relative to the bag folder), e.g. the cable index.
    pub tag_files: Vec<(String, TagData)>,
}

/// The bytes of a tag file: held, or spooled to a temporary file when they could be large.
#[derive(Debug)]
pub enum TagData {
    Bytes(Vec<u8>),
    Spooled(Spooled),
}

/// A payload file to write: its path in the bag (starting `data/`) and a way to get its bytes.
pub trait Payload: Sync {
    /// How many payload files there are.
    fn count(&self) -> usize;
    /// The path of file `i` in the bag. Paths must be sorted and unique.
    fn path(&self, i: usize) -> &str;
    /// The bytes of file `i`.
    fn load(&self, i: usize) -> Result<Vec<u8>>;
}

/// Facts about a bag that was written.
#[derive(Debug, Clone, Default)]
pub struct WrittenBag {
    pub payload_files: u64,
    pub payload_bytes: u64,
    pub payload_oxum: String,
    /// Digests of every tag file (every non-payload file), keyed by path in the bag.
    pub tag_files: BTreeMap<String, Digests>,
    pub zip_entries: u64,
    /// SHA-256 and SHA-512 of the whole zip file, hashed as it was written.
    pub zip_digests: Digests,
    /// The zip file's length.
    pub zip_bytes: u64,
}

/// Writes a whole bag as a zip into `file`. Payload files are loaded, hashed and compressed in
/// parallel, in chunks, and appended in path order; `progress` is called with each file's size.
/// Temporary files go to `scratch`.
pub fn write_bag(
    file: File,
    scratch: &Path,
    plan: BagPlan,
    payload: &dyn Payload,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(File, WrittenBag)> {
    let mut bag = BagWriter::new(file, &plan.folder, scratch)?;
    let chunk_len = rayon::current_num_threads().max(1) * FILES_PER_THREAD;
    let indices: Vec<usize> = (0..payload.count()).collect();
    for chunk in indices.chunks(chunk_len) {
        let prepared: Vec<Result<PreparedFile>> = chunk
            .par_iter()
            .map(|&i| prepare_file(payload, i, progress))
            .collect();
        for file in prepared {
            let file = file?;
            bag.add_compressed(payload.path(file.index), &file.entry, &file.digests)?;
        }
    }
    bag.finish(plan)
}

/// Bytes written to a temporary file and hashed as they are written: a tag file too large to
/// hold (the cable index, a payload manifest).
#[derive(Debug)]
pub struct Spooled {
    file: File,
    digests: Digests,
    len: u64,
    /// Its zip entry's bytes (in a temporary file) and facts, once compressed.
    compressed: Option<(File, EntryFacts)>,
}

impl Spooled {
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its SHA-256 and SHA-512, in hex.
    pub fn digests(&self) -> &Digests {
        &self.digests
    }

    /// Compresses the file for its zip entry ahead of [`BagWriter::finish`], which then only
    /// copies it: a caller may do this on another thread while the payload is written (the
    /// cable index is known before the payload is copied). `name` names it in errors.
    pub fn compress(&mut self, name: &str, scratch: &Path) -> Result<(&File, EntryFacts)> {
        let done = match self.compressed.take() {
            Some(done) => done,
            None => zip_write::compress_file(name, &mut self.file, scratch).at(scratch)?,
        };
        let (file, facts) = self.compressed.insert(done);
        Ok((&*file, *facts))
    }
}

/// A [`Spooled`] file being written.
pub struct Spool {
    out: std::io::BufWriter<File>,
    hasher: hash::Hasher,
    dir: PathBuf,
}

impl Spool {
    /// A new spool in `dir` (the file has no name: it goes away when dropped).
    pub fn create(dir: &Path) -> Result<Spool> {
        let file = tempfile::tempfile_in(dir).at(dir)?;
        Ok(Spool {
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            hasher: hash::Hasher::new(),
            dir: dir.to_path_buf(),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        self.hasher.update(bytes);
        self.out.write_all(bytes).at(&self.dir)
    }

    pub fn finish(self) -> Result<Spooled> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .at(&self.dir)?;
        Ok(Spooled {
            file,
            len: self.hasher.len(),
            digests: self.hasher.finish(),
            compressed: None,
        })
    }
}

/// A spool is also a writer, for code that writes to any (citations, say).
impl std::io::Write for Spool {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(bytes);
        std::io::Write::write_all(&mut self.out, bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.out)
    }
}

/// A bag being written into a zip: payload files in path order (their manifest lines spooled
/// as they come), then [`BagWriter::finish`] adds the tag files. Memory does not grow with the
/// number of files.
pub struct BagWriter {
    zip: zip_write::ZipOut,
    folder: String,
    manifests: [Spool; 2],
    files: u64,
    bytes: u64,
    scratch: PathBuf,
    /// The last path added, to refuse one out of order (the format keeps them sorted).
    last_path: String,
}

impl BagWriter {
    /// Starts a bag with top folder `folder` in `file`; temporary files go to `scratch`.
    pub fn new(file: File, folder: &str, scratch: &Path) -> Result<BagWriter> {
        Ok(BagWriter {
            zip: zip_write::ZipOut::new(file, scratch).at(scratch)?,
            folder: folder.to_string(),
            manifests: [Spool::create(scratch)?, Spool::create(scratch)?],
            files: 0,
            bytes: 0,
            scratch: scratch.to_path_buf(),
            last_path: String::new(),
        })
    }

    /// Adds a payload file compressed by [`compress`].
    pub fn add_compressed(
        &mut self,
        path: &str,
        entry: &Compressed,
        digests: &DigestBytes,
    ) -> Result<()> {
        self.list(path, digests, entry.facts.uncompressed)?;
        let name = self.entry_name(path);
        self.zip
            .add_compressed(&name, entry)
            .map_err(|e| Error::io(path, e))
    }

    /// Adds a payload file whose compressed bytes are copied from `source` at `offset`.
    pub fn add_copied(
        &mut self,
        path: &str,
        facts: EntryFacts,
        source: &File,
        offset: u64,
        digests: &DigestBytes,
    ) -> Result<()> {
        self.list(path, digests, facts.uncompressed)?;
        let name = self.entry_name(path);
        self.zip
            .add_copied(&name, facts, source, offset)
            .map_err(|e| Error::io(path, e))
    }

    /// Adds a payload file from the spill.
    pub fn add_spilled(&mut self, path: &str, spill: &SpillReader, at: SpillRef) -> Result<()> {
        let spilled = spill.entry(at)?;
        self.add_copied(
            path,
            spilled.facts,
            &spill.file,
            spilled.data_offset,
            &spilled.digests,
        )
    }

    /// Adds a payload file copied from another archive (an earlier version), whose digests
    /// the caller has checked.
    pub fn add_from_archive(
        &mut self,
        path: &str,
        archive: &OpenArchive,
        entry: &Entry,
        digests: &DigestBytes,
    ) -> Result<()> {
        let Some(offset) = entry.data_offset else {
            return Err(Error::Corrupt {
                path: archive.path.clone(),
                message: format!("{} has no readable local header", entry.name),
            });
        };
        let facts = EntryFacts {
            method: entry.method,
            crc32: entry.crc32,
            compressed: entry.compressed_size,
            uncompressed: entry.uncompressed_size,
        };
        self.add_copied(path, facts, &archive.file, offset, digests)
    }

    /// Where the writer makes its temporary files.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    fn entry_name(&self, path: &str) -> String {
        format!("{}/{path}", self.folder)
    }

    /// Lists a payload file in both manifests (and counts it), refusing paths out of order.
    fn list(&mut self, path: &str, digests: &DigestBytes, bytes: u64) -> Result<()> {
        if self.files > 0 && path <= self.last_path.as_str() {
            return Err(Error::Invalid(format!(
                "{path}: payload files must be added in path order, once each (internal error)"
            )));
        }
        self.last_path.clear();
        self.last_path.push_str(path);
        let encoded = manifest::encode_path(path);
        let mut hex = [0u8; 128];
        for (spool, digest) in self
            .manifests
            .iter_mut()
            .zip([&digests.sha256[..], &digests.sha512[..]])
        {
            let hex = &mut hex[..digest.len() * 2];
            hex::encode_to_slice(digest, hex).expect("the buffer fits the digest");
            spool.write(hex)?;
            spool.write(b"  ")?;
            spool.write(encoded.as_bytes())?;
            spool.write(b"\n")?;
        }
        self.files += 1;
        self.bytes += bytes;
        Ok(())
    }

    /// Writes the tag files after the payload (`bagit.txt`, `bag-info.txt`, the plan's own
    /// tag files, the payload manifests, then the tag manifests) and the central directory.
    pub fn finish(self, plan: BagPlan) -> Result<(File, WrittenBag)> {
        let BagWriter {
            mut zip,
            folder,
            manifests: [sha256, sha512],
            files,
            bytes,
            scratch,
            ..
        } = self;
        let payload_oxum = format!("{bytes}.{files}");
        let mut bag_info = plan.bag_info;
        bag_info.push(("Payload-Oxum".into(), payload_oxum.clone()));
        bag_info.push(("Bag-Size".into(), human_size(bytes)));

        let mut tags: Vec<(String, TagData)> = vec![
            (
                "bagit.txt".into(),
                TagData::Bytes(BAGIT_TXT.as_bytes().to_vec()),
            ),
            (
                "bag-info.txt".into(),
                TagData::Bytes(manifest::write_bag_info(&bag_info).into_bytes()),
            ),
        ];
        tags.extend(plan.tag_files);
        tags.push((
            "manifest-sha256.txt".into(),
            TagData::Spooled(sha256.finish()?),
        ));
        tags.push((
            "manifest-sha512.txt".into(),
            TagData::Spooled(sha512.finish()?),
        ));
        let mut tag_digests: BTreeMap<String, Digests> = tags
            .iter()
            .map(|(name, data)| {
                let digests = match data {
                    TagData::Bytes(b) => hash::digests(b),
                    TagData::Spooled(s) => s.digests.clone(),
                };
                (name.clone(), digests)
            })
            .collect();
        for alg in ALGORITHMS {
            let text = manifest::write_manifest(tag_digests.iter().map(|(name, d)| {
                let digest = if alg == "sha256" {
                    &d.sha256
                } else {
                    &d.sha512
                };
                (digest.as_str(), name.as_str())
            }));
            tags.push((
                format!("tagmanifest-{alg}.txt"),
                TagData::Bytes(text.into_bytes()),
            ));
        }
        // The large tag files (the index and the payload manifests: hundreds of MB for the
        // whole corpus) are compressed side by side, then appended in order.
        tags.par_iter_mut()
            .try_for_each(|(name, data)| match data {
                TagData::Spooled(s) => s.compress(name, &scratch).map(|_| ()),
                TagData::Bytes(_) => Ok(()),
            })?;
        for (name, data) in &mut tags[..] {
            let entry = format!("{folder}/{name}");
            let added = match data {
                TagData::Bytes(b) => zip.add_bytes(&entry, b),
                TagData::Spooled(s) => {
                    let (file, facts) = s.compress(name, &scratch)?;
                    zip.add_compressed_file(&entry, file, facts)
                }
            };
            added.map_err(|e| Error::io(&scratch, e))?;
        }
        for (name, data) in &tags[tags.len() - 2..] {
            if let TagData::Bytes(b) = data {
                tag_digests.insert(name.clone(), hash::digests(b));
            }
        }
        let zip_entries = zip.entries();
        let zip = zip.finish().map_err(|e| Error::io(&folder, e))?;
        Ok((
            zip.file,
            WrittenBag {
                zip_digests: zip.digests,
                zip_bytes: zip.bytes,
                payload_files: files,
                payload_bytes: bytes,
                payload_oxum,
                tag_files: tag_digests,
                zip_entries,
            },
        ))
    }
}

/// Payload files compressed as soon as they are read, on any thread and in any order, into a
/// temporary file in the store's state folder; a [`BagWriter`] then copies them raw, in path
/// order, into the bag. So each input is read, parsed, hashed and compressed exactly once, and
/// the only file bytes in memory are those of the files in flight. Each spilled file is its
/// header ([`SPILL_HEADER`] bytes: method, CRC-32, sizes, both digests) then its compressed
/// bytes; the caller keeps only where it starts.
pub struct Spill {
    out: std::sync::Mutex<SpillOut>,
    tmp: tempfile::NamedTempFile,
}

struct SpillOut {
    writer: std::io::BufWriter<File>,
    position: u64,
}

/// Where a file starts in the spill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRef(pub u64);

/// The spill's header of each file: method (2), CRC-32 (4), compressed and uncompressed sizes
/// (8 + 8), SHA-256 (32), SHA-512 (64).
const SPILL_HEADER: usize = 2 + 4 + 8 + 8 + 32 + 64;

impl Spill {
    /// Starts a spill in `dir` (the store's state folder: a spill left by a killed run is
    /// removed by the next writer's recovery).
    pub fn create(dir: &Path) -> Result<Spill> {
        let tmp = crate::fsutil::temp_file_in(dir)?;
        let file = tmp.as_file().try_clone().at(tmp.path())?;
        Ok(Spill {
            out: std::sync::Mutex::new(SpillOut {
                writer: std::io::BufWriter::with_capacity(1 << 20, file),
                position: 0,
            }),
            tmp,
        })
    }

    /// Hashes (unless `digests` already holds the bytes' digests) and compresses `data` on the
    /// calling thread, then appends it.
    pub fn add(&self, data: &[u8], digests: Option<DigestBytes>) -> Result<SpillRef> {
        self.add_together(&[(data, digests)])
    }

    /// Hashes and compresses each file on the calling thread, then appends them one after the
    /// other (no other thread's file between them) and returns where the first starts: the
    /// others are found from it with [`SpillReader::after`], so a caller keeps one reference
    /// for a raw page and its record.
    pub fn add_together(&self, files: &[(&[u8], Option<DigestBytes>)]) -> Result<SpillRef> {
        use std::io::Write;
        let prepared: Vec<([u8; SPILL_HEADER], Compressed)> = files
            .iter()
            .map(|&(data, digests)| {
                let digests = digests.unwrap_or_else(|| DigestBytes::of(data));
                let entry = zip_write::compress(data);
                (spill_header(&entry.facts, &digests), entry)
            })
            .collect();
        let mut out = self
            .out
            .lock()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?;
        let at = SpillRef(out.position);
        for (header, entry) in &prepared {
            let written = out
                .writer
                .write_all(header)
                .and_then(|_| out.writer.write_all(&entry.data));
            written.at(self.tmp.path())?;
            out.position += (SPILL_HEADER + entry.data.len()) as u64;
        }
        Ok(at)
    }

    /// Ends writing and opens the spill for copying.
    pub fn into_reader(self) -> Result<SpillReader> {
        let out = self
            .out
            .into_inner()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?;
        let file = out
            .writer
            .into_inner()
            .map_err(|e| e.into_error())
            .at(self.tmp.path())?;
        Ok(SpillReader {
            file,
            _tmp: self.tmp,
        })
    }
}

/// A spilled file's header: what its zip headers record, then its digests (the layout
/// [`SpillReader`] reads).
fn spill_header(facts: &EntryFacts, digests: &DigestBytes) -> [u8; SPILL_HEADER] {
    let mut header = [0u8; SPILL_HEADER];
    header[0..2].copy_from_slice(&facts.method.to_le_bytes());
    header[2..6].copy_from_slice(&facts.crc32.to_le_bytes());
    header[6..14].copy_from_slice(&facts.compressed.to_le_bytes());
    header[14..22].copy_from_slice(&facts.uncompressed.to_le_bytes());
    header[22..54].copy_from_slice(&digests.sha256);
    header[54..118].copy_from_slice(&digests.sha512);
    header
}

/// A finished spill, read back for copying.
pub struct SpillReader {
    file: File,
    _tmp: tempfile::NamedTempFile,
}

/// A file in the spill: what its zip headers record, its digests, where its data starts.
struct SpilledEntry {
    facts: EntryFacts,
    digests: DigestBytes,
    data_offset: u64,
}

impl SpillReader {
    /// Where the file after the one at `at` starts (the second of files added together).
    pub fn after(&self, at: SpillRef) -> Result<SpillRef> {
        let entry = self.entry(at)?;
        Ok(SpillRef(entry.data_offset + entry.facts.compressed))
    }

    fn entry(&self, at: SpillRef) -> Result<SpilledEntry> {
        use std::os::unix::fs::FileExt;
        let mut h = [0u8; SPILL_HEADER];
        self.file.read_exact_at(&mut h, at.0).at(self._tmp.path())?;
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8 bytes"));
        Ok(SpilledEntry {
            facts: EntryFacts {
                method: u16::from_le_bytes([h[0], h[1]]),
                crc32: u32::from_le_bytes(h[2..6].try_into().expect("4 bytes")),
                compressed: u64_at(6),
                uncompressed: u64_at(14),
            },
            digests: DigestBytes {
                sha256: h[22..54].try_into().expect("32 bytes"),
                sha512: h[54..118].try_into().expect("64 bytes"),
            },
            data_offset: at.0 + SPILL_HEADER as u64,
        })
    }
}

/// A payload file hashed and compressed, ready to append.
struct PreparedFile {
    index: usize,
    digests: DigestBytes,
    entry: Compressed,
}

/// Loads, hashes and compresses one payload file (on a worker thread).
fn prepare_file(
    payload: &dyn Payload,
    index: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PreparedFile> {
    let data = payload.load(index)?;
    let digests = DigestBytes::of(&data);
    let entry = zip_write::compress(&data);
    progress(data.len() as u64);
    Ok(PreparedFile {
        index,
        digests,
        entry,
    })
}

/// `42.6 MB`-style size for `Bag-Size` (decimal units, one decimal).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Whether a path in the bag is the cable index or a capture's normalized record
/// (`data/cables/<ID>/<capture>.json`; raw captures end `.html`, `.txt` or `.csv`).
pub fn is_index_or_record(path: &str) -> bool {
    path == INDEX_FILE || (path.starts_with("data/cables/") && path.ends_with(".json"))
}

/// An archive opened for reading: its structure checked, its bag folder found.
pub struct OpenArchive {
    pub path: PathBuf,
    pub file: File,
    pub index: ZipIndex,
    /// The single top-level folder, when there is exactly one.
    pub folder: Option<String>,
    /// A label for findings (the path as given).
    pub label: String,
}

impl OpenArchive {
    /// Opens and structurally checks a zip. Only I/O failures are errors.
    pub fn open(path: &Path) -> Result<OpenArchive> {
        Self::with_index(path, zip_read::open(path)?)
    }

    /// Opens a zip for reading only the entries whose path in the bag (the name without its top
    /// folder) `keep` selects: memory that grows with the entries kept, not with the archive.
    /// The structural checks cover the kept entries only ([`zip_read::open_selected`]); `verify`
    /// opens the whole.
    pub fn open_selected(path: &Path, keep: &dyn Fn(&str) -> bool) -> Result<OpenArchive> {
        let in_bag = |name: &str| name.split_once('/').is_some_and(|(_, p)| keep(p));
        Self::with_index(path, zip_read::open_selected(path, &in_bag)?)
    }

    /// Opens a zip for reading its cable index only (`diff`'s merge, `stats`, finding a cable).
    pub fn open_index(path: &Path) -> Result<OpenArchive> {
        Self::open_selected(path, &|p| p == INDEX_FILE)
    }

    /// Opens a zip for reading its cable index and its captures' normalized records only
    /// ([`is_index_or_record`]): what exports, the catalog and `show` read. A third of the
    /// entries of a cablekeep archive, and a third of the memory of [`OpenArchive::open`].
    pub fn open_records(path: &Path) -> Result<OpenArchive> {
        Self::open_selected(path, &is_index_or_record)
    }

    fn with_index(path: &Path, index: ZipIndex) -> Result<OpenArchive> {
        let file = File::open(path).at(path)?;
        let mut tops: Vec<&str> = index
            .entries
            .iter()
            .map(|e| e.name.split('/').next().unwrap_or(""))
            .collect();
        tops.sort();
        tops.dedup();
        let folder = (tops.len() == 1).then(|| tops[0].to_string());
        Ok(OpenArchive {
            path: path.to_path_buf(),
            file,
            label: path.display().to_string(),
            index,
            folder,
        })
    }

    /// The path inside the bag of an entry (its name without the top folder), if it is in it.
    pub fn bag_path<'a>(&self, entry: &'a Entry) -> Option<&'a str> {
        let folder = self.folder.as_deref()?;
        entry.name.strip_prefix(folder)?.strip_prefix('/')
    }

    /// The entry for a path inside the bag.
    pub fn entry(&self, bag_path: &str) -> Option<&Entry> {
        let folder = self.folder.as_deref()?;
        self.index.entry(&format!("{folder}/{bag_path}"))
    }

    /// Reads a (small) file of the bag whole. `Ok(None)` with a finding when it is missing or damaged.
    pub fn read(&self, bag_path: &str) -> Result<(Option<Vec<u8>>, Vec<Finding>)> {
        let Some(entry) = self.entry(bag_path) else {
            return Ok((None, Vec::new()));
        };
        zip_read::read_entry(&self.file, entry, &self.label).at(&self.path)
    }

    /// Reads a file of the bag whole, failing with a "could not run" error when it is missing or
    /// damaged. For commands that need an intact archive (show, diff, a new version).
    pub fn read_required(&self, bag_path: &str) -> Result<Vec<u8>> {
        let (data, findings) = self.read(bag_path)?;
        match (data, findings.is_empty()) {
            (Some(d), true) => Ok(d),
            (_, false) => Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "{bag_path} is damaged ({}); run `cablekeep verify`",
                    findings[0]
                ),
            }),
            (None, true) => Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!("{bag_path} is missing from the archive; run `cablekeep verify`"),
            }),
        }
    }

    /// Hands the bytes of a file of the bag to `use_bytes`, without a copy where it can (see
    /// [`zip_read::with_intact_entry`]), failing like [`Self::read_required`] when the file is
    /// missing or damaged. For reading many records quickly.
    pub fn with_required<R>(
        &self,
        bag_path: &str,
        use_bytes: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        self.with_entry_required(bag_path, self.entry(bag_path), use_bytes)
    }

    /// [`Self::with_required`] for the file at `bag_path` whose entry the caller found (None:
    /// the archive lacks it).
    pub fn with_entry_required<R>(
        &self,
        bag_path: &str,
        entry: Option<&Entry>,
        use_bytes: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let Some(entry) = entry else {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!("{bag_path} is missing from the archive; run `cablekeep verify`"),
            });
        };
        match zip_read::with_intact_entry(&self.file, entry, &self.label, use_bytes)
            .at(&self.path)?
        {
            Ok(r) => Ok(r),
            Err(findings) => Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "{bag_path} is damaged ({}); run `cablekeep verify`",
                    findings.first().map(|f| f.to_string()).unwrap_or_default()
                ),
            }),
        }
    }

    /// Streams an entry's bytes to `sink`; returns findings about its data.
    pub fn stream(&self, entry: &Entry, sink: impl FnMut(&[u8])) -> Result<Vec<Finding>> {
        zip_read::stream_entry(&self.file, entry, &self.label, sink).at(&self.path)
    }

    /// An entry's data, to be read into the caller's own buffers whatever the entry's size
    /// (memory that does not follow the size of a large tag file; see [`EntryData`]), or the
    /// finding that it cannot be read.
    pub fn entry_data<'a>(
        &'a self,
        entry: &'a Entry,
    ) -> std::result::Result<EntryData<'a>, Finding> {
        EntryData::new(&self.file, entry, &self.label)
    }

    /// The zip's central directory, to be read forward by name ([`DirectoryCursor`]), whatever
    /// entries this opening kept.
    pub fn directory_cursor(&self) -> Result<DirectoryCursor<'_>> {
        DirectoryCursor::new(&self.file, &self.label).at(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_spilled_together_follow_each_other_whatever_other_threads_add() {
        let dir = tempfile::tempdir().unwrap();
        let spill = Spill::create(dir.path()).unwrap();
        let raw = |i: usize| format!("raw {i}").into_bytes();
        let record = |i: usize| format!("record {i} {}", "x".repeat(i)).into_bytes();
        let together: Vec<(usize, SpillRef)> = std::thread::scope(|s| {
            let others = s.spawn(|| {
                for i in 0..300 {
                    spill.add(format!("other {i}").as_bytes(), None).unwrap();
                }
            });
            let mine = (0..300)
                .map(|i| {
                    let files = [(&raw(i)[..], None), (&record(i)[..], None)];
                    (i, spill.add_together(&files).unwrap())
                })
                .collect();
            others.join().unwrap();
            mine
        });
        let reader = spill.into_reader().unwrap();
        for (i, at) in together {
            let digests = |at| reader.entry(at).unwrap().digests;
            assert_eq!(digests(at), DigestBytes::of(&raw(i)));
            assert_eq!(
                digests(reader.after(at).unwrap()),
                DigestBytes::of(&record(i))
            );
        }
    }

    /// A zip with one bag folder holding a deflated, a stored and an empty file.
    fn small_zip(path: &std::path::Path, text: &[u8]) {
        use std::io::Write;
        use zip::write::SimpleFileOptions;
        let mut z = zip::ZipWriter::new(File::create(path).unwrap());
        let deflated =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let stored = deflated.compression_method(zip::CompressionMethod::Stored);
        for (name, options, data) in [
            ("bag/a.json", deflated, text),
            ("bag/b.json", stored, text),
            ("bag/empty.json", deflated, &b""[..]),
        ] {
            z.start_file(name, options).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap();
    }

    #[test]
    fn records_read_whole_are_the_archives_bytes_and_damage_is_told_alike() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        let text: Vec<u8> = (0..50_000u32)
            .flat_map(|i| format!("{{\"n\": {i}, \"t\": \"a\\nb\"}}\n").into_bytes())
            .collect();
        small_zip(&path, &text);
        let archive = OpenArchive::open(&path).unwrap();
        let read = |archive: &OpenArchive, p: &str| archive.with_required(p, |b| b.to_vec());
        for p in ["a.json", "b.json", "empty.json", "a.json"] {
            let expected = archive.read_required(p).unwrap();
            assert_eq!(read(&archive, p).unwrap(), expected, "{p}");
        }
        let missing = archive.read_required("c.json").unwrap_err().to_string();
        assert_eq!(read(&archive, "c.json").unwrap_err().to_string(), missing);

        // A flipped byte in each file's data: the archive's reader says what is wrong.
        let mut bytes = std::fs::read(&path).unwrap();
        for p in ["a.json", "b.json"] {
            let e = archive.entry(p).unwrap();
            let middle = e.data_offset.unwrap() + e.compressed_size / 2;
            bytes[middle as usize] ^= 0x55;
        }
        std::fs::write(&path, &bytes).unwrap();
        let archive = OpenArchive::open(&path).unwrap();
        for p in ["a.json", "b.json"] {
            let expected = archive.read_required(p).unwrap_err().to_string();
            assert!(expected.contains("is damaged"), "{expected}");
            assert_eq!(read(&archive, p).unwrap_err().to_string(), expected);
        }
    }

    #[test]
    fn records_and_the_index_are_told_from_raw_captures_and_tag_files() {
        for path in [
            INDEX_FILE,
            "data/cables/08MADRID1/2011-01-02_0123456789ab.json",
        ] {
            assert!(is_index_or_record(path), "{path}");
        }
        for path in [
            "data/cables/08MADRID1/2011-01-02_0123456789ab.html",
            "data/cables/08MADRID1/2011-01-02_0123456789ab.csv",
            UNPARSED_FILE,
            "manifest-sha256.txt",
            "bagit.txt",
        ] {
            assert!(!is_index_or_record(path), "{path}");
        }
    }

    #[test]
    fn the_directory_read_forward_finds_entries_in_its_order_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        small_zip(&path, &b"{\"n\": 1}\n".repeat(1000));
        let whole = OpenArchive::open(&path).unwrap();
        let none = OpenArchive::open_selected(&path, &|_| false).unwrap();
        assert!(none.index.entries.is_empty());
        let mut cursor = none.directory_cursor().unwrap();
        let mut find = |name: &str| cursor.find(name).unwrap();
        // Found with where its data starts, as the whole directory's table has it.
        assert_eq!(find("bag/a.json").as_ref(), whole.index.entry("bag/a.json"));
        assert!(
            whole
                .index
                .entry("bag/a.json")
                .unwrap()
                .data_offset
                .is_some()
        );
        // Not listed: the next name sorts after it (and is kept for the next question).
        assert_eq!(find("bag/aa.json"), None);
        assert_eq!(find("bag/b.json").as_ref(), whole.index.entry("bag/b.json"));
        // Listed, but behind the cursor.
        assert_eq!(find("bag/a.json"), None);
        let empty = find("bag/empty.json");
        assert_eq!(empty.as_ref(), whole.index.entry("bag/empty.json"));
        assert_eq!(find("bag/z.json"), None);
    }

    #[test]
    fn an_archive_opened_for_some_entries_holds_and_reads_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        let text = b"{\"n\": 1}\n".repeat(1000);
        small_zip(&path, &text);
        let whole = OpenArchive::open(&path).unwrap();
        let some = OpenArchive::open_selected(&path, &|p| p == "b.json").unwrap();
        assert_eq!(some.folder.as_deref(), Some("bag"));
        let names: Vec<&str> = some.index.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bag/b.json"]);
        assert_eq!(
            some.index.entry("bag/b.json"),
            whole.index.entry("bag/b.json")
        );
        assert_eq!(some.read_required("b.json").unwrap(), text);
        assert!(some.read_required("a.json").is_err());
        // The whole file's layout is only checked when every entry is read: the bytes of the
        // entries left out are not "unexplained".
        assert!(
            whole.index.findings.is_empty(),
            "{:?}",
            whole.index.findings
        );
        assert!(some.index.findings.is_empty(), "{:?}", some.index.findings);

        // A damaged central directory is still found, and counted over every record.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes
            .windows(4)
            .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
            .unwrap();
        bytes[at] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let some = OpenArchive::open_selected(&path, &|p| p == "b.json").unwrap();
        let codes: Vec<_> = some.index.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, [crate::finding::Code::CentralDirectoryCorrupt]);
        assert!(some.index.findings[0].message.contains("after 2 entries"));
    }
}
