//! A replica in a local folder: a store's root on this machine (another disk, a mounted share).

use super::{Digest, Listed, STATE_DIR};
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, Existing};
use crate::progress::Progress;
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The folders of a store a replica compares (and the replication's own state).
const LISTED_FOLDERS: [&str; 3] = ["archives", "manifests", STATE_DIR];
/// Buffer of the streaming reads and copies.
const CHUNK: usize = 1024 * 1024;

/// A store's root folder.
#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
}

impl Folder {
    pub(super) fn new(root: PathBuf) -> Folder {
        Folder { root }
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn path_of(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The folder must exist (a replica to read) and be a folder.
    pub(super) fn check_access(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.root).at(&self.root)?;
        if !meta.is_dir() {
            return Err(Error::Invalid(format!(
                "{}: is not a folder",
                self.root.display()
            )));
        }
        Ok(())
    }

    /// Every regular file under the compared folders. Symbolic links are listed as what they
    /// are not (files of size 0 would hide a problem): they are reported by their own name with
    /// no size, so the audit sees a file that is not the majority's.
    pub(super) fn list(&self) -> Result<Vec<Listed>> {
        let mut listed = Vec::new();
        for folder in LISTED_FOLDERS {
            let top = self.root.join(folder);
            if !top.exists() {
                continue;
            }
            for entry in walkdir::WalkDir::new(&top).follow_links(false) {
                let entry = entry.map_err(|e| {
                    let path = e.path().unwrap_or(&top).to_path_buf();
                    Error::io(path, e.into())
                })?;
                if entry.file_type().is_dir() {
                    continue;
                }
                let Some(rel) = self.rel_of(entry.path()) else {
                    continue;
                };
                let bytes = if entry.file_type().is_file() {
                    entry
                        .metadata()
                        .map_err(|e| Error::io(entry.path(), e.into()))?
                        .len()
                } else {
                    u64::MAX
                };
                listed.push(Listed {
                    rel,
                    bytes,
                    etag: None,
                });
            }
        }
        listed.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(listed)
    }

    fn rel_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }

    pub(super) fn head(&self, rel: &str) -> Result<Option<Listed>> {
        let path = self.path_of(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(Listed {
                rel: rel.to_string(),
                bytes: meta.len(),
                etag: None,
            })),
            Ok(_) => Err(Error::Invalid(format!(
                "{}: is not a regular file",
                path.display()
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    pub(super) fn read_small(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>> {
        if self.head(rel)?.is_none() {
            return Ok(None);
        }
        fsutil::read_regular_file(&self.path_of(rel), max).map(Some)
    }

    pub(super) fn hash(&self, rel: &str, progress: &dyn Progress) -> Result<Option<Digest>> {
        if self.head(rel)?.is_none() {
            return Ok(None);
        }
        let path = self.path_of(rel);
        hash_file(&path, progress).map(Some)
    }

    /// Copies `source` to `rel` through a temporary file beside it that is flushed and read
    /// back; the final name is taken only if nothing has it (never overwritten). `replacing`
    /// moves the file that has the name aside into `quarantine` first (repair only).
    pub(super) fn write_once(
        &self,
        rel: &str,
        source: &Path,
        expected: &Digest,
        quarantine: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Digest> {
        let dest = self.path_of(rel);
        let parent = dest.parent().unwrap_or(&self.root);
        let mut tmp = fsutil::temp_file_in(parent)?;
        let tmp_path = tmp.path().to_path_buf();
        let written = copy_hashing(source, tmp.as_file_mut(), &tmp_path, progress)?;
        tmp.as_file().sync_all().at(tmp.path())?;
        check_digest(&written, expected, &source.display().to_string())?;
        let back = hash_file(tmp.path(), &crate::progress::NoProgress)?;
        check_digest(&back, expected, &tmp.path().display().to_string())?;
        if let Some(quarantine) = quarantine {
            self.move_aside(rel, quarantine)?;
        }
        fsutil::persist(tmp, &dest, Existing::Keep)?;
        Ok(back)
    }

    /// Moves the file at `rel` to `quarantine/rel` (kept as evidence, never deleted).
    fn move_aside(&self, rel: &str, quarantine: &str) -> Result<()> {
        let from = self.path_of(rel);
        let to = self.path_of(&format!("{quarantine}/{rel}"));
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        std::fs::rename(&from, &to).at(&from)?;
        fsutil::fsync_parent(&from)
    }

    /// Writes a file of the replication's own state (replaced atomically).
    pub(super) fn put_state(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.path_of(rel);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        fsutil::atomic_write(&dest, bytes)
    }
}

/// Streams `path` through SHA-256.
pub(super) fn hash_file(path: &Path, progress: &dyn Progress) -> Result<Digest> {
    hash_file_prefix(path, u64::MAX, progress)
}

/// Streams the first `len` bytes of `path` (all of a shorter file) through SHA-256.
pub(super) fn hash_file_prefix(path: &Path, len: u64, progress: &dyn Progress) -> Result<Digest> {
    let file = std::fs::File::open(path).at(path)?;
    stream_hashing(file.take(len), path, &mut |_| Ok(()), progress)
}

/// Copies `source` into `dest` (the temporary file at `dest_path`), hashing what it copies.
fn copy_hashing(
    source: &Path,
    dest: &mut std::fs::File,
    dest_path: &Path,
    progress: &dyn Progress,
) -> Result<Digest> {
    let file = std::fs::File::open(source).at(source)?;
    let mut write = |chunk: &[u8]| dest.write_all(chunk).at(dest_path);
    stream_hashing(file, source, &mut write, progress)
}

/// Reads `reader` (the file at `path`) to its end in chunks, handing each to `each` and to
/// SHA-256.
fn stream_hashing(
    mut reader: impl Read,
    path: &Path,
    each: &mut dyn FnMut(&[u8]) -> Result<()>,
    progress: &dyn Progress,
) -> Result<Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        each(&buf[..n])?;
        bytes += n as u64;
        progress.inc(n as u64);
    }
    Ok(Digest {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// An error unless `got` is `expected`: bytes that changed on the way are never stored.
pub(super) fn check_digest(got: &Digest, expected: &Digest, what: &str) -> Result<()> {
    if got == expected {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{what}: {} bytes with SHA-256 {}, where {} bytes with SHA-256 {} were expected; nothing \
         was stored under the final name",
        got.bytes, got.sha256, expected.bytes, expected.sha256
    )))
}
