//! Writing an export's files: hashed as they are written, synced together, and published by
//! renaming a scratch folder into place.

use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::scratch::{self, ScratchDir};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub(super) fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file being written that keeps its SHA-256 and size as it goes, so that a data file is
/// never read back (or held) to describe it.
pub(super) struct HashingFile {
    out: BufWriter<File>,
    sha256: Sha256,
    bytes: u64,
    path: PathBuf,
    syncer: fsutil::Syncer,
}

impl HashingFile {
    pub(super) fn create(path: PathBuf) -> Result<HashingFile> {
        let file = File::create(&path).at(&path)?;
        Ok(HashingFile {
            syncer: fsutil::Syncer::start(&file).at(&path)?,
            out: BufWriter::with_capacity(1 << 16, file),
            sha256: Sha256::new(),
            bytes: 0,
            path,
        })
    }

    /// Flushes the file (it is synced with the others before the folder is published) and
    /// returns its SHA-256 and size.
    pub(super) fn finish(self) -> Result<(String, u64)> {
        self.out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        self.syncer.stop().at(&self.path)?;
        Ok((hex::encode(self.sha256.finalize()), self.bytes))
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.bytes += n as u64;
        self.syncer.wrote(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// SHA-256 and size of a file, streamed.
pub(super) fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).at(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0;
    loop {
        let n = file.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((hex::encode(h.finalize()), bytes))
}

/// Makes written files and folders durable before the rename that publishes them. All files
/// are written first and synced here, several at a time: the file system then commits them in
/// a few journal transactions instead of one per file. Folders are synced after their files.
pub(super) fn sync_all(files: &[PathBuf], dirs: &[PathBuf]) -> Result<()> {
    const SYNCERS: usize = 16;
    let sync = |paths: &[PathBuf]| -> Result<()> {
        let chunk = paths.len().div_ceil(SYNCERS).max(1);
        std::thread::scope(|s| {
            let workers: Vec<_> = paths
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<()> {
                        for p in part {
                            File::open(p).and_then(|f| f.sync_all()).at(p)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(Error::Invalid("a sync thread failed".into())))
            })
        })
    };
    sync(files)?;
    sync(dirs)
}

/// Gives a completed temporary folder its final name.
pub(super) fn finish_folder(tmp: ScratchDir, out: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .at(tmp.path())?;
    }
    fsutil::fsync_parent(&tmp.path().join("x"))?;
    // An empty folder of that name is replaced; anything else makes the rename fail.
    tmp.publish(out)?;
    fsutil::fsync_parent(out)
}

/// Creates the folder the export goes into and removes what killed exports left there (only
/// temporaries that are provably cablekeep's and no longer in use: see [`crate::scratch`]).
pub(super) fn prepare_parent(out: &Path) -> Result<PathBuf> {
    let parent = parent_of(out);
    std::fs::create_dir_all(&parent).at(&parent)?;
    scratch::remove_abandoned(&parent)?;
    Ok(parent)
}
