//! The central directory read forward one record at a time, and the zip64 extra field that
//! completes a record's sizes and offset.

use super::bytes::{RangeReader, le16, le32, le64};
use super::end::End;
use super::names::{decode_name, lossy_text};
use super::source::ReadAt;
use super::{Entry, SIG_CENTRAL, ZipIndex};
use crate::finding::{Code, Finding};
use std::io::Read;

pub(super) fn read_central_directory(
    file: &dyn ReadAt,
    end: &End,
    label: &str,
    keep: Option<&dyn Fn(&str) -> bool>,
    index: &mut ZipIndex,
) -> std::io::Result<()> {
    // The end record's count is not trusted further than the directory's size allows, nor
    // that size further than the file's (both may claim up to 2^64).
    if keep.is_none() {
        let room = end.cd_size.min(index.file_len) / 46;
        index.entries.reserve(end.entry_count.min(room) as usize);
    }
    let mut records = CentralRecords::new(file, end);
    loop {
        match records.advance()? {
            Advance::End => break,
            Advance::Record => {}
            Advance::Damaged(message) => {
                index
                    .findings
                    .push(Finding::new(Code::CentralDirectoryCorrupt, label, message));
                return Ok(());
            }
        }
        if let Some(keep) = keep
            && !keep(&lossy_text(records.raw_name()))
        {
            continue;
        }
        index.entries.push(records.entry());
    }
    if records.count != end.entry_count {
        index.findings.push(Finding::new(
            Code::CentralDirectoryCorrupt,
            label,
            format!(
                "end record says {} entries, central directory holds {}",
                end.entry_count, records.count
            ),
        ));
    }
    Ok(())
}

/// What [`CentralRecords::advance`] read.
pub(super) enum Advance {
    /// The next record: it is the current one.
    Record,
    /// The end of the directory.
    End,
    /// The directory is damaged here (nothing after it can be read); why.
    Damaged(String),
}

/// The central directory's records, read forward through a buffer (the directory of the full
/// corpus is ~60 MB), one at a time: only the current record is held.
pub(super) struct CentralRecords<'a> {
    cd: std::io::BufReader<RangeReader<'a>>,
    cd_offset: u64,
    cd_size: u64,
    /// Bytes of the directory read so far.
    pos: u64,
    /// Records read so far.
    pub(super) count: u64,
    fixed: [u8; 46],
    /// The current record's name, extra field and comment.
    variable: Vec<u8>,
}

impl<'a> CentralRecords<'a> {
    pub(super) fn new(file: &'a dyn ReadAt, end: &End) -> Self {
        CentralRecords {
            cd: std::io::BufReader::with_capacity(
                1 << 20,
                RangeReader {
                    file,
                    pos: end.cd_offset,
                    end: end.cd_offset.saturating_add(end.cd_size),
                },
            ),
            cd_offset: end.cd_offset,
            cd_size: end.cd_size,
            pos: 0,
            count: 0,
            fixed: [0; 46],
            variable: Vec::new(),
        }
    }

    /// Reads the next record, or says why there is none.
    pub(super) fn advance(&mut self) -> std::io::Result<Advance> {
        if self.pos >= self.cd_size {
            return Ok(Advance::End);
        }
        let at = self.cd_offset + self.pos;
        let fixed_read =
            self.cd_size - self.pos >= 46 && read_or_eof(&mut self.cd, &mut self.fixed)?;
        if !fixed_read || le32(&self.fixed) != SIG_CENTRAL {
            return Ok(Advance::Damaged(format!(
                "no central directory record at offset {at} (after {} entries); the rest of the directory is unreadable",
                self.count
            )));
        }
        let total = 46 + self.name_len() + self.extra_len() + le16(&self.fixed[32..]) as usize;
        self.variable.resize(total - 46, 0);
        if self.cd_size - self.pos < total as u64 || !read_or_eof(&mut self.cd, &mut self.variable)?
        {
            return Ok(Advance::Damaged(format!(
                "central directory record at offset {at} runs past the directory"
            )));
        }
        self.pos += total as u64;
        self.count += 1;
        Ok(Advance::Record)
    }

    fn name_len(&self) -> usize {
        le16(&self.fixed[28..]) as usize
    }

    fn extra_len(&self) -> usize {
        le16(&self.fixed[30..]) as usize
    }

    /// The current record's name as stored.
    pub(super) fn raw_name(&self) -> &[u8] {
        &self.variable[..self.name_len()]
    }

    /// The current record as an entry (where its data starts is not known yet).
    pub(super) fn entry(&self) -> Entry {
        let h = &self.fixed;
        let flags = le16(&h[8..]);
        let mut entry = Entry {
            name: decode_name(self.raw_name(), flags),
            method: le16(&h[10..]),
            flags,
            crc32: le32(&h[16..]),
            compressed_size: le32(&h[20..]) as u64,
            uncompressed_size: le32(&h[24..]) as u64,
            local_header_offset: le32(&h[42..]) as u64,
            data_offset: None,
        };
        let (name_len, extra_len) = (self.name_len(), self.extra_len());
        apply_zip64_extra(
            &self.variable[name_len..name_len + extra_len],
            &mut entry,
            HeaderKind::Central,
        );
        entry
    }
}

/// Fills `buf`; false when the data ends first (a truncated file is a finding, not an error).
fn read_or_eof(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Which header an extra field comes from: only the central directory's records carry the
/// local header's offset.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum HeaderKind {
    Central,
    Local,
}

/// Replaces 0xFFFFFFFF sizes and offsets with the values of the zip64 extra field (0x0001).
pub(super) fn apply_zip64_extra(mut extra: &[u8], entry: &mut Entry, record: HeaderKind) {
    while extra.len() >= 4 {
        let id = le16(extra);
        let size = le16(&extra[2..]) as usize;
        let body = &extra[4..(4 + size).min(extra.len())];
        if id == 0x0001 {
            let mut fields = body.chunks_exact(8).map(le64);
            if entry.uncompressed_size == 0xFFFF_FFFF
                && let Some(v) = fields.next()
            {
                entry.uncompressed_size = v;
            }
            if entry.compressed_size == 0xFFFF_FFFF
                && let Some(v) = fields.next()
            {
                entry.compressed_size = v;
            }
            if record == HeaderKind::Central
                && entry.local_header_offset == 0xFFFF_FFFF
                && let Some(v) = fields.next()
            {
                entry.local_header_offset = v;
            }
        }
        extra = &extra[(4 + size).min(extra.len())..];
    }
}
