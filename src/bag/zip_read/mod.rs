//! A hardened zip reader, written separately from the writer and without the `zip` crate, so that
//! verification shares no code with what wrote the archive. It never stops at the first problem:
//! every structural defect it meets becomes a finding, and entries it can still locate stay
//! readable.
//!
//! [`open`] reads the end records (`end`), the central directory (`directory`), each local
//! header (`local`), and checks the file's layout (`layout`) and the names (`names`);
//! [`DirectoryCursor`] and [`DirectoryStream`] read the directory forward instead of holding
//! it; an entry's data is read, inflated and checked by `data` and `inflate`.

use crate::error::{IoContext, Result};
use crate::finding::Finding;
use std::fs::File;
use std::path::Path;

pub use source::{ReadAt, SourceReader, read_exact_at};

mod bytes;
mod cursor;
mod data;
mod directory;
mod end;
mod inflate;
mod layout;
mod local;
mod names;
mod source;
mod stream;
#[cfg(test)]
mod tests;

pub use cursor::DirectoryCursor;
pub(crate) use data::{EntryData, read_entry, stream_entry};
pub(crate) use inflate::with_intact_entry;
pub(crate) use names::{folded_cmp, lossy_text, unsafe_name_problem};
pub use stream::{Chunk, DirectoryStream};

use directory::read_central_directory;
use end::find_end;
use layout::check_layout;
use local::check_local_headers;
use names::check_names;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;
const EOCD_LEN: u64 = 22;
const MAX_COMMENT: u64 = 0xFFFF;
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;
/// Stored and Deflate are the only methods cablekeep writes.
pub(crate) const METHOD_STORED: u16 = 0;
pub(crate) const METHOD_DEFLATE: u16 = 8;
/// An entry larger than this is refused when read whole into memory (streamed reads have no limit).
pub(crate) const MAX_IN_MEMORY_ENTRY: u64 = 1 << 30;

/// One entry as the central directory describes it, checked against its local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name, decoded as UTF-8 (lossily when it is not).
    pub name: String,
    /// The compression method from the central record: 8 (Deflate) in cablekeep's zips, 0 (stored)
    /// accepted on reading.
    pub method: u16,
    /// The general purpose bit flags from the central record (bit 0: encrypted, bit 3: data
    /// descriptor, bit 11: UTF-8 name).
    pub flags: u16,
    /// The CRC-32 of the uncompressed bytes, as recorded.
    pub crc32: u32,
    /// Size of the stored (compressed) data, in bytes, from the ZIP64 extra field when there is
    /// one.
    pub compressed_size: u64,
    /// Size of the bytes once inflated, in bytes.
    pub uncompressed_size: u64,
    /// Where the entry's local header starts, in bytes from the start of the file.
    pub local_header_offset: u64,
    /// Where the entry's data starts, when its local header could be read.
    pub data_offset: Option<u64>,
}

/// The structure of a zip file: its entries and every structural finding.
#[derive(Debug, Clone, Default)]
pub struct ZipIndex {
    /// Every entry in central directory order, including those with findings.
    pub entries: Vec<Entry>,
    /// Every structural problem found (codes `Z0xx` in `docs/FINDINGS.md`); empty for a sound zip.
    pub findings: Vec<Finding>,
    /// The file's length in bytes, which bounds every table read from it.
    pub file_len: u64,
    /// False when the end of central directory could not be found: nothing else was read.
    pub readable: bool,
    /// Entry numbers sorted by name, made at the first lookup (so that looking up every entry
    /// of a large archive costs n log n, not n squared).
    by_name: std::sync::OnceLock<Vec<u32>>,
}

impl ZipIndex {
    /// The entry called `name`, if exactly one has that name.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        let order = self.by_name.get_or_init(|| {
            let mut order: Vec<u32> = (0..self.entries.len() as u32).collect();
            order.sort_by(|&a, &b| {
                self.entries[a as usize]
                    .name
                    .cmp(&self.entries[b as usize].name)
            });
            order
        });
        let name_at = |i: usize| self.entries[order[i] as usize].name.as_str();
        let first = order.partition_point(|&i| self.entries[i as usize].name.as_str() < name);
        if first >= order.len() || name_at(first) != name {
            return None;
        }
        let unique = first + 1 == order.len() || name_at(first + 1) != name;
        unique.then(|| &self.entries[order[first] as usize])
    }
}

/// Reads and checks the structure of the zip at `path`. I/O failures are errors; everything
/// wrong with the bytes is a finding.
pub fn open(path: &Path) -> Result<ZipIndex> {
    open_with(path, None, Layout::Checked)
}

/// Like [`Opening::Selected`] on the zip at `path`, and when `keep` kept every entry, the layout of the whole file is
/// checked too (bytes outside any entry, overlaps), as [`open`] does: for a zip that comes from
/// elsewhere, where bytes between entries can hide a member other readers would see.
pub(crate) fn open_selected_checking_layout(
    path: &Path,
    keep: &dyn Fn(&str) -> bool,
) -> Result<ZipIndex> {
    open_with(path, Some(keep), Layout::CheckedWhenAllKept)
}

/// Whether the layout of the whole file is checked (it needs every entry).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Checked,
    CheckedWhenAllKept,
    Unchecked,
}

fn open_with(path: &Path, keep: Option<&dyn Fn(&str) -> bool>, layout: Layout) -> Result<ZipIndex> {
    let file = File::open(path).at(path)?;
    open_source_with(&file, &path.display().to_string(), keep, layout)
}

/// How much of a zip read from a [`ReadAt`] is read and checked ([`open`] and
/// `open_selected_checking_layout` are local-file twins).
#[derive(Clone, Copy)]
pub enum Opening<'a> {
    /// Every entry, and the layout of the whole file ([`open`]).
    Whole,
    /// The entries whose names `keep` selects, and nothing of the others but their central
    /// directory records: for a reader that needs some entries of a large archive (`diff` the
    /// two cable indexes, then the records of the changed cables; exports the index and the
    /// records), with memory that grows with the entries kept only. Findings are about the kept
    /// entries only; the checks that need every entry (the layout of the whole file) are
    /// [`Opening::Whole`]'s.
    Selected(&'a dyn Fn(&str) -> bool),
    /// The entries `keep` selects, the layout checked when it kept all
    /// (`open_selected_checking_layout`).
    SelectedCheckingLayout(&'a dyn Fn(&str) -> bool),
}

/// Reads and checks the structure of a zip whose bytes `source` gives (a remote object), as
/// `opening` says; `label` names it in findings and errors.
pub fn open_source(source: &dyn ReadAt, label: &str, opening: Opening<'_>) -> Result<ZipIndex> {
    match opening {
        Opening::Whole => open_source_with(source, label, None, Layout::Checked),
        Opening::Selected(keep) => open_source_with(source, label, Some(keep), Layout::Unchecked),
        Opening::SelectedCheckingLayout(keep) => {
            open_source_with(source, label, Some(keep), Layout::CheckedWhenAllKept)
        }
    }
}

fn open_source_with(
    file: &dyn ReadAt,
    label: &str,
    keep: Option<&dyn Fn(&str) -> bool>,
    layout: Layout,
) -> Result<ZipIndex> {
    let path = Path::new(label);
    let file_len = file.len().at(path)?;
    let mut index = ZipIndex {
        file_len,
        ..ZipIndex::default()
    };
    let Some(end) = find_end(file, file_len, label, &mut index.findings).at(path)? else {
        return Ok(index);
    };
    index.readable = true;
    read_central_directory(file, &end, label, keep, &mut index).at(path)?;
    check_local_headers(file, label, &mut index).at(path)?;
    let kept_all = index.entries.len() as u64 == end.entry_count;
    if layout == Layout::Checked || (layout == Layout::CheckedWhenAllKept && kept_all) {
        check_layout(&end, label, &mut index);
    }
    check_names(label, &mut index);
    Ok(index)
}
