//! Writing a bag into a zip: [`write_bag`] and [`BagWriter`], which lists each payload file in
//! the payload manifests as it goes and ends with the tag files.

use super::manifest;
use super::spill::{SpillReader, SpillRef};
use super::spool::{Spool, Spooled};
use super::zip_read::ReadAt;
use super::zip_write::{self, Compressed, EntryFacts};
use super::{ALGORITHMS, BAGIT_TXT, Entry, OpenArchive};
use crate::error::{Error, IoContext, Result};
use crate::hash::{self, DigestBytes, Digests};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

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
    /// The file's bytes, held in memory.
    Bytes(Vec<u8>),
    /// The file's bytes in a temporary file, with their size and digests already known.
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
    /// Files in the payload (`data/`), the second number of Payload-Oxum.
    pub payload_files: u64,
    /// Total size of the payload files in bytes, the first number of Payload-Oxum.
    pub payload_bytes: u64,
    /// The bag's Payload-Oxum, `<payload bytes>.<payload files>` (FORMAT.md section 2.3).
    pub payload_oxum: String,
    /// Digests of every tag file (every non-payload file), keyed by path in the bag.
    pub tag_files: BTreeMap<String, Digests>,
    /// Entries written to the zip: payload files plus tag files.
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

    /// Adds a payload file compressed by [`compress`](super::compress).
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
        source: &dyn ReadAt,
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
        self.add_copied(path, facts, &*archive.file, offset, digests)
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
            manifests,
            files,
            bytes,
            scratch,
            ..
        } = self;
        let payload_oxum = format!("{bytes}.{files}");
        let mut tags = tag_files(plan, &payload_oxum, bytes, manifests)?;
        let mut tag_digests: BTreeMap<String, Digests> = tags
            .iter()
            .map(|(name, data)| (name.clone(), tag_digests_of(data)))
            .collect();
        for alg in ALGORITHMS {
            tags.push((
                format!("tagmanifest-{alg}.txt"),
                TagData::Bytes(tag_manifest(alg, &tag_digests).into_bytes()),
            ));
        }
        append_tag_files(&mut zip, &folder, &scratch, &mut tags)?;
        for (name, data) in &tags[tags.len() - 2..] {
            tag_digests.insert(name.clone(), tag_digests_of(data));
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

/// The tag files before the tag manifests, in the order they are written: `bagit.txt`,
/// `bag-info.txt` (with `Payload-Oxum` and `Bag-Size`), the plan's own, the payload manifests.
fn tag_files(
    plan: BagPlan,
    payload_oxum: &str,
    bytes: u64,
    [sha256, sha512]: [Spool; 2],
) -> Result<Vec<(String, TagData)>> {
    let mut bag_info = plan.bag_info;
    bag_info.push(("Payload-Oxum".into(), payload_oxum.to_string()));
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
    Ok(tags)
}

fn tag_digests_of(data: &TagData) -> Digests {
    match data {
        TagData::Bytes(b) => hash::digests(b),
        TagData::Spooled(s) => s.digests().clone(),
    }
}

/// The tag manifest for `alg` over the tag files' digests.
fn tag_manifest(alg: &str, tag_digests: &BTreeMap<String, Digests>) -> String {
    manifest::write_manifest(tag_digests.iter().map(|(name, d)| {
        let digest = if alg == "sha256" {
            &d.sha256
        } else {
            &d.sha512
        };
        (digest.as_str(), name.as_str())
    }))
}

/// Appends the tag files to the zip in order. The large ones (the index and the payload
/// manifests: hundreds of MB for the whole corpus) are compressed side by side first.
fn append_tag_files(
    zip: &mut zip_write::ZipOut,
    folder: &str,
    scratch: &Path,
    tags: &mut [(String, TagData)],
) -> Result<()> {
    tags.par_iter_mut()
        .try_for_each(|(name, data)| match data {
            TagData::Spooled(s) => s.compress(name, scratch).map(|_| ()),
            TagData::Bytes(_) => Ok(()),
        })?;
    for (name, data) in tags {
        let entry = format!("{folder}/{name}");
        let added = match data {
            TagData::Bytes(b) => zip.add_bytes(&entry, b),
            TagData::Spooled(s) => {
                let (file, facts) = s.compress(name, scratch)?;
                zip.add_compressed_file(&entry, file, facts)
            }
        };
        added.map_err(|e| Error::io(scratch, e))?;
    }
    Ok(())
}

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
