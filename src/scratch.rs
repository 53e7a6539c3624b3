//! Temporaries that can be told from any other file: each is created with [`PREFIX`] in its name
//! and holds an OS file lock (`flock`) from its creation until it is published or dropped. A
//! file or folder with that prefix whose lock can be taken was left by a run that died (the lock
//! goes with the process), so it is provably cablekeep's and abandoned, and
//! [`remove_abandoned`] removes it; one whose lock is held belongs to a run still working and is
//! left alone. Used where no store lock covers the folder (an export's destination).

use crate::error::{Error, IoContext, Result};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Prefix of every locked temporary.
pub(crate) const PREFIX: &str = ".cablekeep-scratch-";

/// A temporary folder, locked while it lives; removed when dropped unless published.
pub(crate) struct ScratchDir {
    dir: Option<tempfile::TempDir>,
    _lock: File,
}

impl ScratchDir {
    /// Creates a locked temporary folder in `parent`.
    pub(crate) fn create_in(parent: &Path) -> Result<ScratchDir> {
        for _ in 0..ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix(PREFIX)
                .tempdir_in(parent)
                .at(parent)?;
            let lock = File::open(dir.path()).at(dir.path())?;
            lock.try_lock().map_err(|e| lock_error(dir.path(), e))?;
            if still_there(&lock, dir.path())? {
                return Ok(ScratchDir {
                    dir: Some(dir),
                    _lock: lock,
                });
            }
        }
        Err(taken_away(parent))
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the folder is there until published")
            .path()
    }

    /// Gives the completed folder its final name (an empty folder of that name is replaced;
    /// anything else makes the rename fail, and the temporary is removed).
    pub(crate) fn publish(mut self, dest: &Path) -> Result<()> {
        let dir = self.dir.take().expect("published once");
        let path = dir.keep();
        if let Err(e) = std::fs::rename(&path, dest) {
            let _ = std::fs::remove_dir_all(&path);
            return Err(Error::io(dest, e));
        }
        Ok(())
    }
}

/// A temporary file, locked while it lives; removed when dropped unless published.
pub(crate) struct ScratchFile {
    file: tempfile::NamedTempFile,
}

impl ScratchFile {
    /// Creates a locked temporary file in `parent`.
    pub(crate) fn create_in(parent: &Path) -> Result<ScratchFile> {
        for _ in 0..ATTEMPTS {
            let file = tempfile::Builder::new()
                .prefix(PREFIX)
                .tempfile_in(parent)
                .at(parent)?;
            file.as_file()
                .try_lock()
                .map_err(|e| lock_error(file.path(), e))?;
            if still_there(file.as_file(), file.path())? {
                return Ok(ScratchFile { file });
            }
        }
        Err(taken_away(parent))
    }

    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    pub(crate) fn as_file(&self) -> &File {
        self.file.as_file()
    }

    /// The temporary file, for [`crate::fsutil::persist`] (the lock stays with the file's
    /// handle until that is dropped).
    pub(crate) fn into_temp(self) -> tempfile::NamedTempFile {
        self.file
    }
}

/// How often a temporary is made again when another run's clean-up removed it between its
/// creation and its lock.
const ATTEMPTS: usize = 8;

/// True when `path` is still the file or folder `handle` has open and locked: between creating
/// a temporary and locking it, another run's [`remove_abandoned`] may have taken its free lock
/// and removed it (the handle then holds a file no name leads to).
fn still_there(handle: &File, path: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = handle.metadata().at(path)?;
    Ok(std::fs::symlink_metadata(path)
        .is_ok_and(|named| named.dev() == held.dev() && named.ino() == held.ino()))
}

fn taken_away(parent: &Path) -> Error {
    Error::io(
        parent,
        std::io::Error::other("temporaries made here kept being removed by another process"),
    )
}

fn lock_error(path: &Path, e: TryLockError) -> Error {
    match e {
        TryLockError::Error(e) => Error::io(path, e),
        TryLockError::WouldBlock => Error::io(
            path,
            std::io::Error::other("a new temporary is locked by another process"),
        ),
    }
}

/// Removes the locked temporaries in `dir` whose run died (their lock is free). Returns what
/// was removed. Anything without the prefix, or locked, is left alone.
pub(crate) fn remove_abandoned(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(removed);
    };
    for entry in entries {
        let entry = entry.at(dir)?;
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !(kind.is_dir() || kind.is_file()) {
            continue;
        }
        let Ok(handle) = File::open(&path) else {
            continue;
        };
        if handle.try_lock().is_err() {
            continue;
        }
        let gone = if kind.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.at(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_temporary_is_kept_and_an_abandoned_one_removed() {
        let parent = tempfile::tempdir().unwrap();
        let live = ScratchDir::create_in(parent.path()).unwrap();
        let live_file = ScratchFile::create_in(parent.path()).unwrap();
        // What a killed run leaves: the names, without a lock held.
        let dead_dir = parent.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir(&dead_dir).unwrap();
        std::fs::write(dead_dir.join("cables.sqlite"), b"partial").unwrap();
        let dead_file = parent.path().join(format!("{PREFIX}dead.zip"));
        std::fs::write(&dead_file, b"partial").unwrap();
        let other = parent.path().join(".cablekeep-tmp-not-ours");
        std::fs::create_dir(&other).unwrap();

        let mut removed = remove_abandoned(parent.path()).unwrap();
        removed.sort();
        assert_eq!(removed, vec![dead_dir, dead_file]);
        assert!(live.path().exists() && live_file.path().exists() && other.exists());
    }

    #[test]
    fn a_published_folder_takes_an_empty_folders_place() {
        let parent = tempfile::tempdir().unwrap();
        let dest = parent.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        let dir = ScratchDir::create_in(parent.path()).unwrap();
        std::fs::write(dir.path().join("a"), b"a").unwrap();
        dir.publish(&dest).unwrap();
        assert_eq!(std::fs::read(dest.join("a")).unwrap(), b"a");
        assert!(remove_abandoned(parent.path()).unwrap().is_empty());
    }
}
