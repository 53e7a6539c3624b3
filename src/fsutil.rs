//! File-system safety: atomic writes (temp file, fsync, rename, directory fsync) and the store lock.

use crate::error::{Error, IoContext, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Prefix of every temporary file cablekeep creates, so leftovers of a killed run are recognisable.
pub const TEMP_PREFIX: &str = ".cablekeep-tmp-";

/// Creates a temporary file in `dir` (the same file system as the final name, so the rename is
/// atomic).
pub fn temp_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    std::fs::create_dir_all(dir).at(dir)?;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .at(dir)
}

/// Whether giving a file its final name may replace a file that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// An existing file of that name is an error and is left untouched (nothing stored is ever
    /// rewritten).
    Keep,
    /// The new file replaces it atomically (caches, the stage).
    Replace,
}

/// Whether taking the store's lock waits for another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Block until the other writer is done (`--wait`).
    Wait,
    /// Fail at once with [`Error::Locked`].
    FailAtOnce,
}

/// Makes a fully written temporary file durable and gives it its final name; `existing` says
/// what happens to a file that already has it.
pub fn persist(tmp: tempfile::NamedTempFile, dest: &Path, existing: Existing) -> Result<()> {
    // Temporary files are created private (0600); archives and manifests are for sharing.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o644);
        tmp.as_file().set_permissions(perms).at(tmp.path())?;
    }
    tmp.as_file().sync_all().at(tmp.path())?;
    let result = match existing {
        Existing::Keep => tmp.persist_noclobber(dest),
        Existing::Replace => tmp.persist(dest),
    };
    result.map_err(|e| Error::io(dest, e.error))?;
    fsync_parent(dest)
}

/// Writes `bytes` to `dest` atomically: readers see the old file or the new one, never a mix.
pub fn atomic_write(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_of(dest);
    let mut tmp = temp_file_in(&dir)?;
    tmp.write_all(bytes).at(tmp.path())?;
    persist(tmp, dest, Existing::Replace)
}

/// Like [`atomic_write`], but fails if `dest` exists (an existing version is never rewritten).
pub fn atomic_create(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_of(dest);
    let mut tmp = temp_file_in(&dir)?;
    tmp.write_all(bytes).at(tmp.path())?;
    persist(tmp, dest, Existing::Keep)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Flushes everything written to the file system holding `path` to disk, at once: for a
/// folder of many files written in one go (a web edition), where a sync of each file would
/// cost more than writing them. Where `syncfs` is not available, each file under `path` is
/// synced instead.
pub fn sync_file_system(path: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let folder = File::open(path).at(path)?;
        rustix::fs::syncfs(&folder).map_err(|e| Error::io(path, e.into()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        for entry in walkdir::WalkDir::new(path) {
            let entry = entry.map_err(|e| Error::io(path, e.into()))?;
            if entry.file_type().is_file() {
                File::open(entry.path())
                    .and_then(|f| f.sync_all())
                    .at(entry.path())?;
            }
        }
        Ok(())
    }
}

/// Fsyncs the directory holding `path`, so a rename into it survives a crash.
pub fn fsync_parent(path: &Path) -> Result<()> {
    let dir = parent_of(path);
    File::open(&dir).and_then(|d| d.sync_all()).at(&dir)
}

/// What a file is when it is not a regular file or a folder, for messages: opening a FIFO
/// blocks until a writer comes, and a device or a pipe can be endless.
pub fn special_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return Some("a device");
        }
    }
    if file_type.is_symlink() {
        return Some("a symbolic link");
    }
    if file_type.is_file() || file_type.is_dir() {
        None
    } else {
        Some("not a regular file")
    }
}

/// Refuses `path` unless it is a regular file (after following symbolic links), looking at its
/// metadata before opening it: opening a FIFO blocks, a device never ends.
pub fn require_regular_file(path: &Path) -> Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).at(path)?;
    if meta.is_file() {
        return Ok(meta);
    }
    let kind = if meta.is_dir() {
        "a folder"
    } else {
        special_kind(meta.file_type()).unwrap_or("not a regular file")
    };
    Err(Error::Invalid(format!(
        "{}: is {kind}, not a regular file; cablekeep reads only regular files and folders",
        path.display()
    )))
}

/// Reads at most `limit` bytes from `reader`, and one more to see whether it goes on: the
/// bytes, or None when there are more than `limit`. Memory never exceeds `limit + 1` bytes,
/// whatever a size on disk said (a file that grows, a pipe, a device). `expected` sizes the
/// buffer (within the limit), so a file read whole is not copied as the buffer grows.
pub fn read_at_most(
    reader: impl std::io::Read,
    limit: u64,
    expected: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    // One more byte than expected, so that reaching the end needs no larger buffer.
    let capacity = expected.min(limit).saturating_add(1);
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(usize::MAX));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Reads the regular file `path` (refused otherwise, before it is opened), never more than
/// `limit` bytes: a file longer than that (one that grew since it was listed) is an error.
pub fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta = require_regular_file(path)?;
    let file = File::open(path).at(path)?;
    read_at_most(file, limit, meta.len())
        .at(path)?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{}: is longer than the limit of {limit} bytes (it grew after it was listed)",
                path.display()
            ))
        })
}

/// Removes temporary files left in `dir` by a killed run. Call only while holding the store lock.
pub fn remove_stale_temps(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let entry = entry.at(dir)?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            std::fs::remove_file(entry.path()).at(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// An exclusive advisory lock on the store, held until dropped. It is an OS file lock
/// (`flock`), so it is released when the process dies and never goes stale.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock at `path`, waiting for another writer or failing at once as `wait` says.
    pub fn acquire(path: &Path, wait: LockWait) -> Result<StoreLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .at(path)?;
        if wait == LockWait::Wait {
            file.lock().at(path)?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::Locked(path.parent().unwrap_or(path).to_path_buf()));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
        }
        Ok(StoreLock { _file: file })
    }
}

/// How much a file grows between two background syncs.
pub const SYNC_EVERY: usize = 128 << 20;

/// Syncs a file being written on a thread of its own, every [`SYNC_EVERY`] bytes. A file is
/// synced before it is published (an export's folder, a version's zip); a file of gigabytes
/// would then make the writer wait seconds for the disk at the end, while this way most of it
/// is on disk by then, written while the next cables were read.
pub struct Syncer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    unsynced: usize,
}

impl Syncer {
    /// Starts the syncing thread for `file` (it syncs a handle of its own).
    pub fn start(file: &File) -> std::io::Result<Syncer> {
        let file = file.try_clone()?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::spawn(move || woken.iter().try_for_each(|()| file.sync_data()));
        Ok(Syncer {
            wake: Some(wake),
            thread: Some(thread),
            unsynced: 0,
        })
    }

    /// Counts bytes written; wakes the thread when enough were. A sync still under way is not
    /// waited for: the next one takes what this one would have.
    pub fn wrote(&mut self, bytes: usize) {
        self.unsynced += bytes;
        if self.unsynced >= SYNC_EVERY
            && let Some(wake) = &self.wake
        {
            let _ = wake.try_send(());
            self.unsynced = 0;
        }
    }

    /// Stops the thread and says whether a sync failed.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.wake = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(synced)) => synced,
            Some(Err(_)) => Err(std::io::Error::other("the sync thread failed")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_while_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = StoreLock::acquire(&path, LockWait::FailAtOnce).unwrap();
        assert!(matches!(
            StoreLock::acquire(&path, LockWait::FailAtOnce),
            Err(Error::Locked(_))
        ));
        drop(first);
        StoreLock::acquire(&path, LockWait::FailAtOnce).unwrap();
    }

    #[test]
    fn reads_stop_one_byte_past_the_limit() {
        let endless = std::io::repeat(0);
        assert_eq!(read_at_most(endless, 10, u64::MAX).unwrap(), None);
        let ten = read_at_most(&b"0123456789"[..], 10, 0).unwrap();
        assert_eq!(ten.unwrap().len(), 10);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_regular_file(&path, 5).unwrap(), b"12345");
        let err = read_regular_file(&path, 4).unwrap_err().to_string();
        assert!(err.contains("longer than the limit of 4"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_before_they_are_opened() {
        let err = read_regular_file(Path::new("/dev/zero"), 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/zero: is a device"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = require_regular_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
    }

    #[test]
    fn atomic_create_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1");
        atomic_create(&path, b"one").unwrap();
        assert!(atomic_create(&path, b"two").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 0);
    }
}
