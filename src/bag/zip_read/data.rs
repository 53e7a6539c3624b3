//! An entry's data: located, inflated, and checked against its recorded length and CRC-32.

use super::bytes::RangeReader;
use super::inflate::{inflate_whole, whole_inflatable};
use super::source::ReadAt;
use super::{Entry, MAX_IN_MEMORY_ENTRY, METHOD_DEFLATE, METHOD_STORED};
use crate::finding::{Code, Finding};
use std::io::Read;

/// Streams an entry's uncompressed bytes to `sink`, checking its size and CRC-32. Returns the
/// findings about the entry's data (none when it is intact).
pub(crate) fn stream_entry(
    file: &dyn ReadAt,
    entry: &Entry,
    label: &str,
    sink: impl FnMut(&[u8]),
) -> std::io::Result<Vec<Finding>> {
    let Some(data_offset) = entry.data_offset else {
        return Ok(vec![unlocated(entry, label)]);
    };
    if whole_inflatable(entry) {
        return inflate_whole(file, entry, data_offset, label, sink);
    }
    stream_in_pieces(file, entry, data_offset, label, sink)
}

pub(super) fn unlocated(entry: &Entry, label: &str) -> Finding {
    Finding::new(
        Code::LocalHeaderCorrupt,
        label,
        "entry data cannot be located",
    )
    .at_entry(&entry.name)
}

/// [`stream_entry`] for any entry, 64 KB at a time.
pub(super) fn stream_in_pieces(
    file: &dyn ReadAt,
    entry: &Entry,
    data_offset: u64,
    label: &str,
    mut sink: impl FnMut(&[u8]),
) -> std::io::Result<Vec<Finding>> {
    let mut data = match EntryData::at(file, entry, data_offset, label) {
        Ok(data) => data,
        Err(finding) => return Ok(vec![finding]),
    };
    // Buffers no larger than the entry (plus one byte to see it end): most entries are a few
    // KB, and zeroing 64 KB buffers for half a million of them costs more than inflating some.
    let mut buf = vec![0u8; buffer_for(entry.uncompressed_size)];
    loop {
        let n = data.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sink(&buf[..n]);
    }
    Ok(data.finish())
}

/// A buffer for `size` bytes, plus one to see them end, of at most 64 KB.
pub(super) fn buffer_for(size: u64) -> usize {
    size.saturating_add(1).min(64 * 1024) as usize
}

/// An entry's uncompressed bytes, checked as they are read: never more than the directory's
/// size; at the end, the length and CRC-32 ([`Self::finish`]). Damaged data ends the reading
/// early and becomes the finding `finish` returns; only I/O errors are errors.
pub struct EntryData<'a> {
    reader: Box<dyn Read + 'a>,
    entry: &'a Entry,
    label: &'a str,
    crc: crc32fast::Hasher,
    total: u64,
    /// Why reading stopped before the end.
    damaged: Option<Finding>,
}

impl<'a> EntryData<'a> {
    /// The entry's data, or the finding that it cannot be read (no data offset, or a method
    /// cablekeep does not read).
    pub fn new(file: &'a dyn ReadAt, entry: &'a Entry, label: &'a str) -> Result<Self, Finding> {
        match entry.data_offset {
            Some(data_offset) => Self::at(file, entry, data_offset, label),
            None => Err(unlocated(entry, label)),
        }
    }

    pub(super) fn at(
        file: &'a dyn ReadAt,
        entry: &'a Entry,
        data_offset: u64,
        label: &'a str,
    ) -> Result<Self, Finding> {
        let raw = RangeReader {
            file,
            pos: data_offset,
            end: data_offset.saturating_add(entry.compressed_size),
        };
        let reader: Box<dyn Read> = match entry.method {
            METHOD_STORED => Box::new(raw),
            METHOD_DEFLATE => Box::new(flate2::read::DeflateDecoder::new(
                std::io::BufReader::with_capacity(buffer_for(entry.compressed_size), raw),
            )),
            m => {
                return Err(Finding::new(
                    Code::UnsupportedEntry,
                    label,
                    format!("compression method {m}"),
                )
                .at_entry(&entry.name));
            }
        };
        Ok(EntryData {
            reader,
            entry,
            label,
            crc: crc32fast::Hasher::new(),
            total: 0,
            damaged: None,
        })
    }

    /// Reads the next bytes into `buf`: 0 at the end, or once the data is found damaged.
    pub fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.damaged.is_some() {
            return Ok(0);
        }
        let n = match self.reader.read(buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::InvalidInput
                    || e.kind() == std::io::ErrorKind::InvalidData
                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                let why = format!("after {} bytes: {e}", self.total);
                return Ok(self.stop(why));
            }
            Err(e) => return Err(e),
        };
        self.total += n as u64;
        if self.total > self.entry.uncompressed_size {
            // A zip bomb or a corrupt size: stop reading, never trust the data.
            let why = format!(
                "data is longer than the recorded size {}",
                self.entry.uncompressed_size
            );
            return Ok(self.stop(why));
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    /// Fills `buf` as far as the data goes; returns how many bytes it holds.
    pub fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }

    fn stop(&mut self, why: String) -> usize {
        let finding = Finding::new(Code::DecompressFailed, self.label, why);
        self.damaged = Some(finding.at_entry(&self.entry.name));
        0
    }

    /// The findings about the data read: none when it is intact and was read to its end.
    pub fn finish(self) -> Vec<Finding> {
        match self.damaged {
            Some(finding) => vec![finding],
            None => {
                length_and_crc_findings(self.entry, self.label, self.total, self.crc.finalize())
            }
        }
    }
}

/// What is wrong with an entry read to its end: its length and CRC-32 against the directory's.
pub(super) fn length_and_crc_findings(
    entry: &Entry,
    label: &str,
    length: u64,
    crc32: u32,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if length != entry.uncompressed_size {
        findings.push(
            Finding::new(
                Code::DecompressFailed,
                label,
                format!(
                    "data is {length} bytes, the directory says {}",
                    entry.uncompressed_size
                ),
            )
            .at_entry(&entry.name),
        );
    }
    if crc32 != entry.crc32 {
        findings.push(
            Finding::new(
                Code::CrcMismatch,
                label,
                format!(
                    "CRC-32 is {crc32:08x}, the directory says {:08x}",
                    entry.crc32
                ),
            )
            .at_entry(&entry.name),
        );
    }
    findings
}

/// Reads a whole entry into memory (for tag files and records, which are small). Findings about
/// its data are returned beside the bytes; the bytes are None when they cannot be trusted at all.
pub(crate) fn read_entry(
    file: &dyn ReadAt,
    entry: &Entry,
    label: &str,
) -> std::io::Result<(Option<Vec<u8>>, Vec<Finding>)> {
    if entry.uncompressed_size > MAX_IN_MEMORY_ENTRY {
        return Ok((
            None,
            vec![
                Finding::new(
                    Code::DecompressFailed,
                    label,
                    format!(
                        "entry of {} bytes is too large to read into memory",
                        entry.uncompressed_size
                    ),
                )
                .at_entry(&entry.name),
            ],
        ));
    }
    let mut out = Vec::with_capacity(entry.uncompressed_size as usize);
    let findings = stream_entry(file, entry, label, |b| out.extend_from_slice(b))?;
    let usable = findings.iter().all(|f| {
        f.code != Code::DecompressFailed
            && f.code != Code::LocalHeaderCorrupt
            && f.code != Code::UnsupportedEntry
    });
    Ok((usable.then_some(out), findings))
}
