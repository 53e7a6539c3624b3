//! Archives: one immutable zip per version, holding one BagIt 1.0 bag (see `docs/FORMAT.md`).
//!
//! Writing goes through [`write`] (the `zip` crate); reading and checking through [`read`], an
//! independent parser, so that a bug in one library cannot hide itself in verification.

pub mod read;
mod write;

use crate::error::{Error, IoContext, Result};
use crate::finding::Finding;
use crate::hash::{self, Digests};
use crate::manifest;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

pub use read::{Entry, ZipIndex};
pub use write::read_input_zip;

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
#[derive(Debug, Clone, Default)]
pub struct BagPlan {
    /// The bag's top-level folder in the zip, e.g. `dev-v1`.
    pub folder: String,
    /// `bag-info.txt` labels in order; `Payload-Oxum` and `Bag-Size` are appended when known.
    pub bag_info: Vec<(String, String)>,
    /// Other tag files (paths relative to the bag folder), e.g. the cable index.
    pub tag_files: Vec<(String, Vec<u8>)>,
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
}

/// Writes a whole bag as a zip into `file`. Payload files are loaded, hashed and compressed in
/// parallel, in chunks, and appended in path order; `progress` is called with each file's size.
pub fn write_bag(
    file: File,
    plan: &BagPlan,
    payload: &dyn Payload,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(File, WrittenBag)> {
    let folder = &plan.folder;
    let mut zip = write::ZipOut::new(file);
    let mut sha256_lines = Vec::with_capacity(payload.count());
    let mut sha512_lines = Vec::with_capacity(payload.count());
    let mut bytes_total = 0u64;
    let chunk_len = rayon::current_num_threads().max(1) * FILES_PER_THREAD;
    let indices: Vec<usize> = (0..payload.count()).collect();
    for chunk in indices.chunks(chunk_len) {
        let prepared: Vec<Result<PreparedFile>> = chunk
            .par_iter()
            .map(|&i| prepare_file(folder, payload, i, progress))
            .collect();
        for file in prepared {
            let file = file?;
            let path = payload.path(file.index);
            zip.add(file.entry).map_err(|e| Error::io(path, e))?;
            bytes_total += file.len;
            sha256_lines.push((file.digests.sha256, path.to_string()));
            sha512_lines.push((file.digests.sha512, path.to_string()));
        }
    }
    let payload = PayloadFacts {
        files: payload.count() as u64,
        bytes: bytes_total,
        sha256_lines,
        sha512_lines,
    };
    finish_bag(zip, plan, payload)
}

/// What the payload manifests and `Payload-Oxum` are made from.
struct PayloadFacts {
    files: u64,
    bytes: u64,
    /// (digest, path in the bag) in path order.
    sha256_lines: Vec<(String, String)>,
    sha512_lines: Vec<(String, String)>,
}

/// Writes the tag files after the payload (`bagit.txt`, `bag-info.txt`, the plan's own tag
/// files, the payload manifests, then the tag manifests) and the central directory.
fn finish_bag(
    mut zip: write::ZipOut,
    plan: &BagPlan,
    payload: PayloadFacts,
) -> Result<(File, WrittenBag)> {
    let folder = &plan.folder;
    let PayloadFacts {
        files: payload_files,
        bytes: bytes_total,
        sha256_lines,
        sha512_lines,
    } = payload;
    let payload_oxum = format!("{bytes_total}.{payload_files}");
    let mut bag_info = plan.bag_info.clone();
    bag_info.push(("Payload-Oxum".into(), payload_oxum.clone()));
    bag_info.push(("Bag-Size".into(), human_size(bytes_total)));

    let mut tags: Vec<(String, Vec<u8>)> = vec![
        ("bagit.txt".into(), BAGIT_TXT.as_bytes().to_vec()),
        (
            "bag-info.txt".into(),
            manifest::write_bag_info(&bag_info).into_bytes(),
        ),
    ];
    tags.extend(plan.tag_files.iter().cloned());
    tags.push((
        "manifest-sha256.txt".into(),
        manifest::write_manifest(sha256_lines.iter().map(|(d, p)| (d.as_str(), p.as_str())))
            .into_bytes(),
    ));
    tags.push((
        "manifest-sha512.txt".into(),
        manifest::write_manifest(sha512_lines.iter().map(|(d, p)| (d.as_str(), p.as_str())))
            .into_bytes(),
    ));
    let mut tag_digests: BTreeMap<String, Digests> = tags
        .iter()
        .map(|(name, data)| (name.clone(), hash::digests(data)))
        .collect();
    for alg in ALGORITHMS {
        let lines: Vec<(String, String)> = tag_digests
            .iter()
            .map(|(name, d)| {
                (
                    if alg == "sha256" {
                        d.sha256.clone()
                    } else {
                        d.sha512.clone()
                    },
                    name.clone(),
                )
            })
            .collect();
        let text = manifest::write_manifest(lines.iter().map(|(d, p)| (d.as_str(), p.as_str())));
        tags.push((format!("tagmanifest-{alg}.txt"), text.into_bytes()));
    }
    for (name, data) in &tags {
        zip.add_bytes(&format!("{folder}/{name}"), data)
            .map_err(|e| Error::io(name, e))?;
    }
    for (name, data) in &tags[tags.len() - 2..] {
        tag_digests.insert(name.clone(), hash::digests(data));
    }
    let zip_entries = zip.entries();
    let file = zip.finish().map_err(|e| Error::io(folder, e))?;
    Ok((
        file,
        WrittenBag {
            payload_files,
            payload_bytes: bytes_total,
            payload_oxum,
            tag_files: tag_digests,
            zip_entries,
        },
    ))
}

/// Payload files compressed as soon as they are read, on any thread and in any order, into a
/// temporary zip in the store's state folder; [`write_bag_copying`] then copies them raw, in path
/// order, into the bag. So each input is read, parsed, hashed and compressed exactly once, and
/// the only file bytes in memory are those of the files in flight (their digests are kept).
pub struct Spill {
    out: std::sync::Mutex<write::ZipOut>,
    tmp: tempfile::NamedTempFile,
    files: std::sync::Mutex<HashMap<String, SpilledFile>>,
}

/// A file in the spill: its digests and length (from the bytes that were compressed).
#[derive(Debug, Clone)]
pub struct SpilledFile {
    pub digests: Digests,
    pub bytes: u64,
}

impl Spill {
    /// Starts a spill in `dir` (the store's state folder: a spill left by a killed run is
    /// removed by the next writer's recovery).
    pub fn create(dir: &Path) -> Result<Spill> {
        let tmp = crate::fsutil::temp_file_in(dir)?;
        let file = tmp.as_file().try_clone().at(tmp.path())?;
        Ok(Spill {
            out: std::sync::Mutex::new(write::ZipOut::new(file)),
            tmp,
            files: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Hashes (unless `digests` already holds the bytes' digests) and compresses `data` on the
    /// calling thread, then appends it under the unique `name`.
    pub fn add(&self, name: &str, data: &[u8], digests: Option<Digests>) -> Result<()> {
        let digests = digests.unwrap_or_else(|| hash::digests(data));
        let entry = write::prepare(name, data).map_err(|e| Error::io(name, e))?;
        self.out
            .lock()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?
            .add(entry)
            .map_err(|e| Error::io(self.tmp.path(), e))?;
        let file = SpilledFile {
            digests,
            bytes: data.len() as u64,
        };
        self.files
            .lock()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?
            .insert(name.to_string(), file);
        Ok(())
    }

    /// The digests and length of a spilled file, handed over once (memory is per file).
    pub fn take(&self, name: &str) -> Option<SpilledFile> {
        self.files.lock().ok()?.remove(name)
    }

    /// Ends writing and opens the spill for copying.
    fn into_source(self) -> Result<(tempfile::NamedTempFile, write::CopySource)> {
        let out = self
            .out
            .into_inner()
            .map_err(|_| Error::Invalid("a spill writer panicked".into()))?;
        out.finish().map_err(|e| Error::io(self.tmp.path(), e))?;
        let source = write::CopySource::open(self.tmp.path()).at(self.tmp.path())?;
        Ok((self.tmp, source))
    }
}

/// Where a payload file of [`write_bag_copying`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFrom {
    /// The spill, under this name.
    Spill(String),
    /// The previous version's archive, under this full entry name (with its bag folder).
    Previous(String),
}

/// A payload file of [`write_bag_copying`]: its path in the bag, where its compressed bytes
/// are, and its (already checked) digests and length.
#[derive(Debug, Clone)]
pub struct CopiedFile {
    pub path: String,
    pub from: CopyFrom,
    pub digests: Digests,
    pub bytes: u64,
}

/// Writes a whole bag as a zip into `file`, copying every payload file's compressed bytes raw
/// from the spill or from the previous version's archive (`previous`), in the order of
/// `files` (sorted by path). The caller has checked every copied file's digests already.
pub fn write_bag_copying(
    file: File,
    plan: &BagPlan,
    files: Vec<CopiedFile>,
    spill: Spill,
    previous: Option<&Path>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(File, WrittenBag)> {
    let (_spill_file, mut spilled) = spill.into_source()?;
    let mut previous = previous
        .map(|p| write::CopySource::open(p).at(p))
        .transpose()?;
    let mut zip = write::ZipOut::new(file);
    let mut facts = PayloadFacts {
        files: files.len() as u64,
        bytes: 0,
        sha256_lines: Vec::with_capacity(files.len()),
        sha512_lines: Vec::with_capacity(files.len()),
    };
    for f in files {
        let name = format!("{}/{}", plan.folder, f.path);
        let copied = match (&f.from, previous.as_mut()) {
            (CopyFrom::Spill(from), _) => zip.copy_raw(&mut spilled, from, &name),
            (CopyFrom::Previous(from), Some(source)) => zip.copy_raw(source, from, &name),
            (CopyFrom::Previous(_), None) => {
                return Err(Error::Invalid(format!(
                    "{}: to be copied from a previous version, but there is none",
                    f.path
                )));
            }
        };
        copied.map_err(|e| Error::io(&f.path, e))?;
        progress(f.bytes);
        facts.bytes += f.bytes;
        facts.sha256_lines.push((f.digests.sha256, f.path.clone()));
        facts.sha512_lines.push((f.digests.sha512, f.path));
    }
    finish_bag(zip, plan, facts)
}

/// A payload file hashed and compressed, ready to append.
struct PreparedFile {
    index: usize,
    len: u64,
    digests: Digests,
    entry: write::Prepared,
}

/// Loads, hashes and compresses one payload file (on a worker thread).
fn prepare_file(
    folder: &str,
    payload: &dyn Payload,
    index: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PreparedFile> {
    let data = payload.load(index)?;
    let digests = hash::digests(&data);
    let entry = write::prepare(&format!("{folder}/{}", payload.path(index)), &data)
        .map_err(|e| Error::io(payload.path(index), e))?;
    progress(data.len() as u64);
    Ok(PreparedFile {
        index,
        len: data.len() as u64,
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
        let index = read::open(path)?;
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
        read::read_entry(&self.file, entry, &self.label).at(&self.path)
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
    /// [`read::with_intact_entry`]), failing like [`Self::read_required`] when the file is
    /// missing or damaged. For reading many records quickly.
    pub fn with_required<R>(
        &self,
        bag_path: &str,
        use_bytes: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let Some(entry) = self.entry(bag_path) else {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!("{bag_path} is missing from the archive; run `cablekeep verify`"),
            });
        };
        match read::with_intact_entry(&self.file, entry, &self.label, use_bytes).at(&self.path)? {
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
        read::stream_entry(&self.file, entry, &self.label, sink).at(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
