//! The line journal: index lines kept on disk while a version is written, found by their slot.

use crate::bag::capture::IndexLine;
use crate::error::{Error, IoContext, Result};
use std::path::{Path, PathBuf};

/// The index lines of the versions being read and written, as JSON, in a temporary file: a
/// line is appended when it is read or changed, and found again by its [`Slot`]. So a cable
/// costs memory only for its id and slot (its line is ~1 KB: 250 MB for the whole corpus).
pub(super) struct LineJournal {
    writer: std::io::BufWriter<std::fs::File>,
    end: u64,
    dir: PathBuf,
}

/// Where an index line is in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) offset: u64,
    pub(super) len: u32,
}

impl LineJournal {
    pub(super) fn create(dir: &Path) -> Result<LineJournal> {
        let file = tempfile::tempfile_in(dir).at(dir)?;
        Ok(LineJournal {
            writer: std::io::BufWriter::with_capacity(1 << 20, file),
            end: 0,
            dir: dir.to_path_buf(),
        })
    }

    pub(super) fn append(&mut self, line: &IndexLine) -> Result<Slot> {
        use std::io::Write;
        let bytes = serde_json::to_vec(line).expect("an index line serializes");
        self.writer.write_all(&bytes).at(&self.dir)?;
        let slot = Slot {
            offset: self.end,
            len: u32::try_from(bytes.len())
                .map_err(|_| Error::Invalid(format!("{}: index line too long", line.id)))?,
        };
        self.end += bytes.len() as u64;
        Ok(slot)
    }

    /// The bytes of a line (its JSON, without a line break).
    pub(super) fn bytes(&mut self, slot: Slot, buf: &mut Vec<u8>) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        self.writer.flush().at(&self.dir)?;
        buf.resize(slot.len as usize, 0);
        self.writer
            .get_ref()
            .read_exact_at(buf, slot.offset)
            .at(&self.dir)
    }

    pub(super) fn read(&mut self, slot: Slot) -> Result<IndexLine> {
        let mut buf = Vec::new();
        self.bytes(slot, &mut buf)?;
        serde_json::from_slice(&buf)
            .map_err(|e| Error::Invalid(format!("the index journal is damaged: {e}")))
    }
}
