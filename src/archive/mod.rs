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
use std::collections::BTreeMap;
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
    let indices: Vec<usize> = (0..payload.count()).collect();
    let chunk_len = rayon::current_num_threads().max(1) * FILES_PER_THREAD;
    for chunk in indices.chunks(chunk_len) {
        let prepared: Vec<Result<(Digests, u64, write::Prepared)>> = chunk
            .par_iter()
            .map(|&i| {
                let data = payload.load(i)?;
                let digests = hash::digests(&data);
                let entry = write::prepare(&format!("{folder}/{}", payload.path(i)), &data)
                    .map_err(|e| Error::io(payload.path(i), e))?;
                progress(data.len() as u64);
                Ok((digests, data.len() as u64, entry))
            })
            .collect();
        for (&i, item) in chunk.iter().zip(prepared) {
            let (digests, len, entry) = item?;
            zip.add(entry).map_err(|e| Error::io(payload.path(i), e))?;
            bytes_total += len;
            sha256_lines.push((digests.sha256, payload.path(i).to_string()));
            sha512_lines.push((digests.sha512, payload.path(i).to_string()));
        }
    }
    let payload_files = payload.count() as u64;
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

    /// Streams an entry's bytes to `sink`; returns findings about its data.
    pub fn stream(&self, entry: &Entry, sink: impl FnMut(&[u8])) -> Result<Vec<Finding>> {
        read::stream_entry(&self.file, entry, &self.label, sink).at(&self.path)
    }
}
