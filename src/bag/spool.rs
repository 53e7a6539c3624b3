//! Spools: tag files too large to hold, written to a temporary file and hashed as they come.

use super::zip_write::{self, EntryFacts};
use crate::error::{IoContext, Result};
use crate::hash::{self, Digests};
use std::fs::File;
use std::path::{Path, PathBuf};

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

    /// True when nothing was written to the spool.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its SHA-256 and SHA-512, in hex.
    pub fn digests(&self) -> &Digests {
        &self.digests
    }

    /// Compresses the file for its zip entry ahead of [`BagWriter::finish`](super::BagWriter::finish), which then only
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

    /// Appends `bytes` to the file and to its digests.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        self.hasher.update(bytes);
        self.out.write_all(bytes).at(&self.dir)
    }

    /// Flushes the file and returns it with its size and digests.
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
