//! A store read through a backend instead of the local file system: [`RemoteFiles`], which a
//! store on object storage implements (`s3://bucket/prefix`), and the store's own read methods
//! that every read-only command uses, which go to the disk for a local store and to the backend
//! for a remote one. A remote store is read-only: writers refuse it before anything is written.
//!
//! A remote store's root is its label (`s3://bucket/prefix`), so the paths the store gives
//! ([`Store::zip_path`] and the rest) name the remote files in findings and errors; the read
//! methods below turn them back into store-relative names (`archives/<c>/<c>-vN.zip`).

use super::Store;
use crate::bag::{OpenArchive, ReadAt, Reading};
use crate::error::{Error, IoContext, Result};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The files of a store held somewhere else than on a local disk (an S3 bucket prefix), read
/// only. Names are store-relative, with `/` between parts (`manifests/demo/demo-v1.json`); a
/// folder is a name prefix. Errors are "could not run" (unreachable, refused), never "absent",
/// and name the remote file (`<label>/<name>`): they reach the user as they are.
pub trait RemoteFiles: Send + Sync + std::fmt::Debug {
    /// Where the store is, for messages: `s3://bucket/prefix` (no trailing `/`).
    fn label(&self) -> &str;

    /// The files directly under a store-relative folder (`manifests/demo`; `""` is the store's
    /// top), as bare names (`demo-v1.json`) with their sizes in bytes, in any order; empty
    /// when there are none (or no such folder).
    fn list(&self, dir: &str) -> Result<Vec<(String, u64)>>;

    /// The folders directly under a store-relative folder (`manifests` gives the collections),
    /// as bare names (`demo`), in any order; empty when there are none.
    fn subdirs(&self, dir: &str) -> Result<Vec<String>>;

    /// A small file read whole; None when it is absent, an error when it is larger than `max`
    /// bytes (nothing larger is ever read into memory).
    fn read_small(&self, rel: &str, max: u64) -> Result<Option<Vec<u8>>>;

    /// A file's size in bytes; None when it is absent.
    fn size(&self, rel: &str) -> Result<Option<u64>>;

    /// A file to be read at offsets (a zip, read by ranged requests, never whole unless every
    /// byte is asked for). Its reads come from several threads at once (`verify` checks the
    /// bag while it hashes the whole file front to back; both read through one handle), most
    /// of them small and in order: a bounded cache of blocks serves them well. Its
    /// [`ReadAt::len`] is asked often and should be known from the opening (a HEAD).
    fn open(&self, rel: &str) -> Result<Arc<dyn ReadAt>>;
}

/// What lies at a path of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file of this many bytes.
    File(u64),
    /// A folder.
    Folder,
    /// Something that is neither, which cablekeep never reads (a FIFO would block for ever, a
    /// device never end): what it is, for a message.
    Special(&'static str),
}

/// One name in a folder of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The file or folder name (lossily decoded on a local disk).
    pub name: String,
    /// Whether it is a file (with its size), a folder or something else.
    pub kind: FileKind,
}

impl Store {
    /// A store read through `files` (a bucket prefix on object storage): every read-only
    /// command works on it; every writer refuses it.
    pub fn remote(files: Arc<dyn RemoteFiles>) -> Store {
        Store {
            root: files.label().trim_end_matches('/').into(),
            remote: Some(files),
            cache: None,
        }
    }

    /// This remote store with its caches (search index, tree caches) in `dir` instead of the
    /// user's cache folder.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Store {
        self.cache = Some(dir.into());
        self
    }

    /// True when the store is read through a [`RemoteFiles`] backend, not from a local folder.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Where the store is, for messages: its folder, or its remote address.
    pub fn label(&self) -> String {
        self.root.display().to_string()
    }

    /// The local folder that keeps what cablekeep caches about a remote store (its search
    /// index, its sealed versions' tree caches): `$XDG_CACHE_HOME` (or `~/.cache`)
    /// `/cablekeep/remote/<SHA-256 of its label>`, unless [`Store::with_cache_dir`] gave
    /// another. None for a local store (whose caches are in its own `.cablekeep/`) and when
    /// neither variable gives a folder: a shared temporary folder is not trusted with what
    /// later runs reuse.
    pub fn remote_cache_dir(&self) -> Option<PathBuf> {
        let files = self.remote.as_ref()?;
        if let Some(dir) = &self.cache {
            return Some(dir.clone());
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        let key = crate::hash::sha256_hex(files.label().trim_end_matches('/').as_bytes());
        Some(cache.join("cablekeep").join("remote").join(key))
    }

    /// An error unless the store is a local folder: for writers, before they write anything,
    /// and for what needs local state (the lock, pending markers).
    pub fn require_local(&self, what: &str) -> Result<()> {
        match &self.remote {
            None => Ok(()),
            Some(files) => Err(Error::Invalid(format!(
                "{} is read-only here: cannot {what}; use `cablekeep replicate` to copy a local store to it",
                files.label()
            ))),
        }
    }

    /// The store-relative name of a path this store gave (`archives/<c>/<c>-vN.zip`).
    fn relative(&self, path: &Path) -> Result<String> {
        let inner = path.strip_prefix(&self.root).map_err(|_| {
            Error::Invalid(format!(
                "{} is not in the store {}",
                path.display(),
                self.root.display()
            ))
        })?;
        let mut parts = Vec::new();
        for part in inner.components() {
            match part {
                Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                _ => {
                    return Err(Error::Invalid(format!(
                        "{}: not a plain path in the store",
                        path.display()
                    )));
                }
            }
        }
        Ok(parts.join("/"))
    }

    /// What lies at `path` (a path this store gave), following symbolic links on a local disk
    /// (as `std::fs::metadata`); None when nothing does.
    pub fn file_kind(&self, path: &Path) -> Result<Option<FileKind>> {
        let Some(files) = &self.remote else {
            return Ok(match std::fs::metadata(path) {
                Ok(meta) => Some(local_kind(&meta)),
                Err(_) => None,
            });
        };
        let rel = self.relative(path)?;
        if let Some(size) = files.size(&rel)? {
            return Ok(Some(FileKind::File(size)));
        }
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        let is_folder = files.subdirs(parent)?.iter().any(|d| d == name);
        Ok(is_folder.then_some(FileKind::Folder))
    }

    /// True when anything lies at `path` (symbolic links not followed on a local disk, as
    /// `std::fs::symlink_metadata`); on a remote store, also when it cannot be asked (so that
    /// reading it reports why).
    pub fn has_entry(&self, path: &Path) -> bool {
        match &self.remote {
            None => std::fs::symlink_metadata(path).is_ok(),
            Some(_) => !matches!(self.file_kind(path), Ok(None)),
        }
    }

    /// True when something lies at `path` (symbolic links followed on a local disk, as
    /// [`Path::exists`]); on a remote store, also when it cannot be asked (so that reading it
    /// reports why).
    pub fn exists(&self, path: &Path) -> bool {
        match &self.remote {
            None => path.exists(),
            Some(_) => !matches!(self.file_kind(path), Ok(None)),
        }
    }

    /// The size of the file at `path`, None when there is no regular file there.
    pub fn file_size(&self, path: &Path) -> Result<Option<u64>> {
        Ok(match self.file_kind(path)? {
            Some(FileKind::File(size)) => Some(size),
            _ => None,
        })
    }

    /// True when a folder lies at `path`.
    pub fn is_folder(&self, path: &Path) -> Result<bool> {
        Ok(self.file_kind(path)? == Some(FileKind::Folder))
    }

    /// The names in the folder at `path` (symbolic links not followed on a local disk), in no
    /// given order; None when it cannot be listed (no
    /// such folder on a local disk; a remote folder with nothing under it is empty).
    pub fn list_folder(&self, path: &Path) -> Result<Option<Vec<Listed>>> {
        let Some(files) = &self.remote else {
            let Ok(entries) = std::fs::read_dir(path) else {
                return Ok(None);
            };
            let mut out = Vec::new();
            for entry in entries {
                let entry = entry.at(path)?;
                // Not following symbolic links, as the listing of collections always did.
                let kind = match entry.metadata() {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        FileKind::Special("a symbolic link")
                    }
                    Ok(meta) => local_kind(&meta),
                    Err(_) => FileKind::Special("something that cannot be read"),
                };
                let name = entry.file_name().to_string_lossy().into_owned();
                out.push(Listed { name, kind });
            }
            return Ok(Some(out));
        };
        let rel = self.relative(path)?;
        let mut out: Vec<Listed> = files
            .list(&rel)?
            .into_iter()
            .map(|(name, size)| Listed {
                name,
                kind: FileKind::File(size),
            })
            .collect();
        out.extend(files.subdirs(&rel)?.into_iter().map(|name| Listed {
            name,
            kind: FileKind::Folder,
        }));
        Ok(Some(out))
    }

    /// Reads the small file at `path` whole: None when it is larger than `limit` bytes (or
    /// grew past it while read; on a remote store, the backend's error says so). A missing file is an I/O error of kind `NotFound`; a path that
    /// is not a regular file is refused as [`crate::fsutil::require_regular_file`] does.
    pub fn read_small(&self, path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(files) = &self.remote else {
            let meta = crate::fsutil::require_regular_file(path)?;
            let file = std::fs::File::open(path).at(path)?;
            return crate::fsutil::read_at_most(file, limit, meta.len()).at(path);
        };
        // One request: the backend refuses a file larger than the bound itself (an error).
        let bytes = files
            .read_small(&self.relative(path)?, limit)?
            .ok_or_else(|| not_found(path))?;
        // A backend that handed more than asked for is not trusted with the bound.
        Ok((bytes.len() as u64 <= limit).then_some(bytes))
    }

    /// Reads the small file at `path` whole, an error when it is larger than `limit` bytes:
    /// [`crate::fsutil::read_regular_file`] for the store's files.
    pub fn read_regular(&self, path: &Path, limit: u64) -> Result<Vec<u8>> {
        if self.remote.is_none() {
            return crate::fsutil::read_regular_file(path, limit);
        }
        self.read_small(path, limit)?.ok_or_else(|| {
            Error::Invalid(format!(
                "{}: is longer than the limit of {limit} bytes",
                path.display()
            ))
        })
    }

    /// The file at `path` for reading at offsets: one handle for all its reads.
    pub fn open_file(&self, path: &Path) -> Result<Arc<dyn ReadAt>> {
        match &self.remote {
            None => Ok(Arc::new(std::fs::File::open(path).at(path)?)),
            Some(files) => files.open(&self.relative(path)?),
        }
    }

    /// Opens the zip at `path` (a path this store gave, see [`Store::zip_path`]) as `reading`
    /// says, from the disk or from the remote store by ranges.
    pub fn open_archive(&self, path: &Path, reading: Reading<'_>) -> Result<OpenArchive> {
        match &self.remote {
            None => OpenArchive::open_file(path, reading),
            Some(_) => OpenArchive::open_source(self.open_file(path)?, path, reading),
        }
    }

    /// Opens the zip of version `version` of `collection` as `reading` says.
    pub fn open_zip(
        &self,
        collection: &str,
        version: u32,
        reading: Reading<'_>,
    ) -> Result<OpenArchive> {
        self.open_archive(&self.zip_path(collection, version), reading)
    }
}

fn not_found(path: &Path) -> Error {
    Error::io(path, std::io::Error::from(std::io::ErrorKind::NotFound))
}

/// What a local path's metadata says it is.
fn local_kind(meta: &std::fs::Metadata) -> FileKind {
    if meta.is_file() {
        FileKind::File(meta.len())
    } else if meta.is_dir() {
        FileKind::Folder
    } else {
        FileKind::Special(crate::fsutil::special_kind(meta.file_type()).unwrap_or("something else"))
    }
}
