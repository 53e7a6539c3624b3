//! A hardened zip reader, written separately from the writer and without the `zip` crate, so that
//! verification shares no code with what wrote the archive. It never stops at the first problem:
//! every structural defect it meets becomes a finding, and entries it can still locate stay
//! readable.

use crate::error::{IoContext, Result};
use crate::finding::{CappedFindings, Code, Finding};
use rayon::prelude::*;
use std::fs::File;
use std::io::Read;
use std::path::Path;

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
pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATE: u16 = 8;
/// An entry larger than this is refused when read whole into memory (streamed reads have no limit).
pub const MAX_IN_MEMORY_ENTRY: u64 = 1 << 30;

/// One entry as the central directory describes it, checked against its local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name, decoded as UTF-8 (lossily when it is not).
    pub name: String,
    pub method: u16,
    pub flags: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub local_header_offset: u64,
    /// Where the entry's data starts, when its local header could be read.
    pub data_offset: Option<u64>,
}

/// The structure of a zip file: its entries and every structural finding.
#[derive(Debug, Clone, Default)]
pub struct ZipIndex {
    pub entries: Vec<Entry>,
    pub findings: Vec<Finding>,
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
    open_with(path, None, false)
}

/// Reads the entries of the zip at `path` whose names `keep` selects, and nothing of the others
/// but their central directory records: for a reader that needs some entries of a large
/// archive (`diff` the two cable indexes, then the records of the changed cables; exports the
/// index and the records), with memory that grows with the entries kept only. Findings are
/// about the kept entries only; the checks that need every entry (the layout of the whole
/// file) are `open`'s.
pub fn open_selected(path: &Path, keep: &dyn Fn(&str) -> bool) -> Result<ZipIndex> {
    open_with(path, Some(keep), false)
}

/// Like [`open_selected`], and when `keep` kept every entry, the layout of the whole file is
/// checked too (bytes outside any entry, overlaps), as [`open`] does: for a zip that comes from
/// elsewhere, where bytes between entries can hide a member other readers would see.
pub fn open_selected_checking_layout(path: &Path, keep: &dyn Fn(&str) -> bool) -> Result<ZipIndex> {
    open_with(path, Some(keep), true)
}

fn open_with(
    path: &Path,
    keep: Option<&dyn Fn(&str) -> bool>,
    layout_when_whole: bool,
) -> Result<ZipIndex> {
    let file = File::open(path).at(path)?;
    let file_len = file.metadata().at(path)?.len();
    let label = path.display().to_string();
    let mut index = ZipIndex {
        file_len,
        ..ZipIndex::default()
    };
    let Some(end) = find_end(&file, file_len, &label, &mut index.findings).at(path)? else {
        return Ok(index);
    };
    index.readable = true;
    read_central_directory(&file, &end, &label, keep, &mut index).at(path)?;
    check_local_headers(&file, &label, &mut index).at(path)?;
    let kept_all = index.entries.len() as u64 == end.entry_count;
    if keep.is_none() || (layout_when_whole && kept_all) {
        check_layout(&end, &label, &mut index);
    }
    check_names(&label, &mut index);
    Ok(index)
}

/// Where the central directory is, per the end records.
#[derive(Debug)]
struct End {
    cd_offset: u64,
    cd_size: u64,
    entry_count: u64,
    /// Where the records after the central directory start (zip64 record or EOCD).
    trailer_start: u64,
}

fn find_end(
    file: &File,
    len: u64,
    label: &str,
    findings: &mut Vec<Finding>,
) -> std::io::Result<Option<End>> {
    if len < EOCD_LEN {
        findings.push(Finding::new(
            Code::ZipUnreadable,
            label,
            format!("file is {len} bytes, too short to be a zip"),
        ));
        return Ok(None);
    }
    let tail_len = len.min(EOCD_LEN + MAX_COMMENT);
    let tail = read_at(file, len - tail_len, tail_len as usize)?;
    // Search backwards for an EOCD whose comment length reaches exactly the end of the file.
    let mut found = None;
    let mut loose = None;
    for i in (0..=tail.len() - EOCD_LEN as usize).rev() {
        if le32(&tail[i..]) == SIG_EOCD {
            let comment_len = le16(&tail[i + 20..]) as usize;
            if i + EOCD_LEN as usize + comment_len == tail.len() {
                found = Some(i);
                break;
            }
            loose.get_or_insert(i);
        }
    }
    let Some(i) = found.or(loose) else {
        findings.push(Finding::new(
            Code::ZipUnreadable,
            label,
            "no end-of-central-directory record: the file is truncated or not a zip",
        ));
        return Ok(None);
    };
    let eocd_pos = len - tail_len + i as u64;
    if found.is_none() {
        findings.push(Finding::new(Code::StrayBytes, label, "the end-of-central-directory comment length does not reach the end of the file (bytes appended or cut)"));
    }
    let rec = &tail[i..];
    if le16(&rec[4..]) != 0 || le16(&rec[6..]) != 0 {
        findings.push(Finding::new(
            Code::UnsupportedEntry,
            label,
            "multi-disk zip",
        ));
    }
    let mut end = End {
        entry_count: le16(&rec[10..]) as u64,
        cd_size: le32(&rec[12..]) as u64,
        cd_offset: le32(&rec[16..]) as u64,
        trailer_start: eocd_pos,
    };
    // A zip64 locator sits right before the EOCD when the archive needed zip64.
    if eocd_pos >= 20 {
        let loc = read_at(file, eocd_pos - 20, 20)?;
        if le32(&loc) == SIG_ZIP64_LOCATOR {
            let rec64_pos = le64(&loc[8..]);
            match read_exact_at(file, rec64_pos, 56, len)? {
                Some(r) if le32(&r) == SIG_ZIP64_EOCD => {
                    end.entry_count = le64(&r[32..]);
                    end.cd_size = le64(&r[40..]);
                    end.cd_offset = le64(&r[48..]);
                    end.trailer_start = rec64_pos;
                }
                _ => findings.push(Finding::new(
                    Code::ZipUnreadable,
                    label,
                    format!("zip64 end record missing at offset {rec64_pos}"),
                )),
            }
        }
    }
    if end
        .cd_offset
        .checked_add(end.cd_size)
        .is_none_or(|e| e > end.trailer_start)
    {
        findings.push(Finding::new(
            Code::CentralDirectoryCorrupt,
            label,
            format!(
                "central directory (offset {}, {} bytes) does not fit before the end record at {}",
                end.cd_offset, end.cd_size, end.trailer_start
            ),
        ));
        // Fall back to where the central directory must end if the size is right.
        end.cd_offset = end.trailer_start.saturating_sub(end.cd_size);
    }
    Ok(Some(end))
}

fn read_central_directory(
    file: &File,
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
            Ok(false) => break,
            Ok(true) => {}
            Err(message) => {
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

/// The central directory's records, read forward through a buffer (the directory of the full
/// corpus is ~60 MB), one at a time: only the current record is held.
struct CentralRecords<'a> {
    cd: std::io::BufReader<RangeReader<'a>>,
    cd_offset: u64,
    cd_size: u64,
    /// Bytes of the directory read so far.
    pos: u64,
    /// Records read so far.
    count: u64,
    fixed: [u8; 46],
    /// The current record's name, extra field and comment.
    variable: Vec<u8>,
}

impl<'a> CentralRecords<'a> {
    fn new(file: &'a File, end: &End) -> Self {
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

    /// Reads the next record. `Ok(false)` at the end of the directory; `Err` with a message when
    /// the directory is damaged here (nothing after it can be read).
    fn advance(&mut self) -> std::io::Result<std::result::Result<bool, String>> {
        if self.pos >= self.cd_size {
            return Ok(Ok(false));
        }
        let at = self.cd_offset + self.pos;
        let fixed_read =
            self.cd_size - self.pos >= 46 && read_or_eof(&mut self.cd, &mut self.fixed)?;
        if !fixed_read || le32(&self.fixed) != SIG_CENTRAL {
            return Ok(Err(format!(
                "no central directory record at offset {at} (after {} entries); the rest of the directory is unreadable",
                self.count
            )));
        }
        let total = 46 + self.name_len() + self.extra_len() + le16(&self.fixed[32..]) as usize;
        self.variable.resize(total - 46, 0);
        if self.cd_size - self.pos < total as u64 || !read_or_eof(&mut self.cd, &mut self.variable)?
        {
            return Ok(Err(format!(
                "central directory record at offset {at} runs past the directory"
            )));
        }
        self.pos += total as u64;
        self.count += 1;
        Ok(Ok(true))
    }

    fn name_len(&self) -> usize {
        le16(&self.fixed[28..]) as usize
    }

    fn extra_len(&self) -> usize {
        le16(&self.fixed[30..]) as usize
    }

    /// The current record's name as stored.
    fn raw_name(&self) -> &[u8] {
        &self.variable[..self.name_len()]
    }

    /// The current record as an entry (where its data starts is not known yet).
    fn entry(&self) -> Entry {
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
            true,
        );
        entry
    }
}

/// A zip's central directory read forward, for a reader that wants entries by name in the
/// order the directory lists them: cablekeep lists payload files sorted by path, and copies
/// them into the next version in that order. Nothing but the current record is held, where
/// [`open`] builds a table of every entry (~140 bytes each: ~100 MB for the full corpus).
pub struct DirectoryCursor<'a> {
    file: &'a File,
    label: &'a str,
    file_len: u64,
    /// None when the directory cannot be found, is damaged, or has been read to its end.
    records: Option<CentralRecords<'a>>,
    /// A record read but not asked for yet (its name sorts after the last one asked for).
    peeked: Option<Entry>,
}

impl<'a> DirectoryCursor<'a> {
    pub fn new(file: &'a File, label: &'a str) -> std::io::Result<Self> {
        let file_len = file.metadata()?.len();
        let end = find_end(file, file_len, label, &mut Vec::new())?;
        Ok(DirectoryCursor {
            file,
            label,
            file_len,
            records: end.map(|end| CentralRecords::new(file, &end)),
            peeked: None,
        })
    }

    /// The entry called `name`, with where its data starts, reading on past the records listed
    /// before it. None when the directory lists a name that sorts after `name` first, ends, or
    /// is damaged, or when the entry's local header differs from its record: the entry is then
    /// missing, listed out of order or damaged, and the caller looks it up in a whole
    /// [`ZipIndex`], which says which.
    pub fn find(&mut self, name: &str) -> std::io::Result<Option<Entry>> {
        loop {
            let entry = match self.peeked.take() {
                Some(entry) => entry,
                None => match self.next_record()? {
                    Some(entry) => entry,
                    None => return Ok(None),
                },
            };
            match entry.name.as_str().cmp(name) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Greater => {
                    self.peeked = Some(entry);
                    return Ok(None);
                }
                std::cmp::Ordering::Equal => {
                    let mut entry = entry;
                    let finding =
                        check_local_header(self.file, self.label, self.file_len, &mut entry)?;
                    return Ok(finding.is_none().then_some(entry));
                }
            }
        }
    }

    fn next_record(&mut self) -> std::io::Result<Option<Entry>> {
        let Some(records) = self.records.as_mut() else {
            return Ok(None);
        };
        match records.advance()? {
            Ok(true) => Ok(Some(records.entry())),
            Ok(false) | Err(_) => {
                self.records = None;
                Ok(None)
            }
        }
    }
}

/// The central directory read forward a chunk of entries at a time, with [`open`]'s structural
/// checks made on each chunk (local headers, the file's layout, methods, unsafe names), for a
/// reader that must not hold the whole directory: `verify` of a large archive. It needs the
/// entries to lie in the file in directory order (as every zip writer puts them) and a directory
/// that reads whole; [`Chunk::Unstreamable`] says when the archive is otherwise, and the caller
/// then opens it whole. Duplicate names are the caller's to rule out: it knows the order the
/// names must come in.
pub struct DirectoryStream<'a> {
    file: &'a File,
    label: &'a str,
    file_len: u64,
    cd_offset: u64,
    entry_count: u64,
    records: CentralRecords<'a>,
    /// The previous entry's local header offset.
    previous_offset: Option<u64>,
    layout: LayoutWalk,
    // Capped: a chunked check holds memory that does not grow with the archive.
    headers: CappedFindings,
    unsupported: CappedFindings,
    names: CappedFindings,
}

/// What [`DirectoryStream::next_chunk`] read.
pub enum Chunk {
    /// The next entries in directory order, with where their data starts.
    Entries(Vec<Entry>),
    /// The directory has been read to its end.
    End,
    /// The archive cannot be checked a chunk at a time; why.
    Unstreamable(String),
}

impl<'a> DirectoryStream<'a> {
    /// Finds the directory. `Err` with why when the end records are damaged or odd in any way
    /// (the whole-archive reader reports what is wrong).
    pub fn new(file: &'a File, label: &'a str) -> std::io::Result<Result<Self, String>> {
        let file_len = file.metadata()?.len();
        let mut end_findings = Vec::new();
        let end = find_end(file, file_len, label, &mut end_findings)?;
        let Some(end) = end.filter(|_| end_findings.is_empty()) else {
            return Ok(Err("the end records are damaged".to_string()));
        };
        Ok(Ok(DirectoryStream {
            file,
            label,
            file_len,
            cd_offset: end.cd_offset,
            entry_count: end.entry_count,
            records: CentralRecords::new(file, &end),
            previous_offset: None,
            layout: LayoutWalk::default(),
            headers: CappedFindings::new(),
            unsupported: CappedFindings::new(),
            names: CappedFindings::new(),
        }))
    }

    /// Reads up to `max` more entries and checks them.
    pub fn next_chunk(&mut self, max: usize) -> std::io::Result<Chunk> {
        let mut entries = Vec::with_capacity(max);
        while entries.len() < max {
            match self.records.advance()? {
                Ok(true) => entries.push(self.records.entry()),
                Ok(false) => break,
                Err(why) => return Ok(Chunk::Unstreamable(why)),
            }
        }
        if entries.is_empty() {
            if self.records.count != self.entry_count {
                return Ok(Chunk::Unstreamable(
                    "the end record's entry count differs from the directory's".to_string(),
                ));
            }
            return Ok(Chunk::End);
        }
        for e in &entries {
            if self
                .previous_offset
                .is_some_and(|p| e.local_header_offset <= p)
            {
                return Ok(Chunk::Unstreamable(format!(
                    "{} lies before the entry listed ahead of it",
                    e.name
                )));
            }
            self.previous_offset = Some(e.local_header_offset);
        }
        self.check(&mut entries)?;
        Ok(Chunk::Entries(entries))
    }

    /// [`open`]'s checks of single entries, in the order `open` reports them.
    fn check(&mut self, entries: &mut [Entry]) -> std::io::Result<()> {
        let (file, label, file_len) = (self.file, self.label, self.file_len);
        let headers = entries
            .par_iter_mut()
            .map(|entry| check_local_header(file, label, file_len, entry))
            .filter_map(Result::transpose)
            .collect::<std::io::Result<Vec<Finding>>>()?;
        self.headers.extend(headers);
        for e in entries.iter() {
            if let Some(stop) = span_end(e) {
                self.layout
                    .span(e.local_header_offset, stop, &e.name, label);
            }
        }
        self.unsupported
            .extend(entries.iter().filter_map(|e| unsupported(e, label)));
        let names: Vec<Finding> = entries
            .par_iter()
            .filter_map(|e| {
                let problem = unsafe_name_problem(&e.name)?;
                Some(Finding::new(Code::UnsafeEntryName, label, problem).at_entry(&e.name))
            })
            .collect();
        self.names.extend(names);
        Ok(())
    }

    /// Every structural finding, in the order [`open`] gives them (the directory read to its end).
    pub fn finish(mut self) -> CappedFindings {
        self.layout.finish(self.cd_offset, self.label);
        let mut findings = self.headers;
        findings.append(&mut self.layout.findings);
        findings.append(&mut self.unsupported);
        findings.append(&mut self.names);
        findings
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

/// Replaces 0xFFFFFFFF sizes and offsets with the values of the zip64 extra field (0x0001).
fn apply_zip64_extra(mut extra: &[u8], entry: &mut Entry, central: bool) {
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
            if central
                && entry.local_header_offset == 0xFFFF_FFFF
                && let Some(v) = fields.next()
            {
                entry.local_header_offset = v;
            }
        }
        extra = &extra[(4 + size).min(extra.len())..];
    }
}

/// Reads every entry's local header (on all cores: half a million small reads for the whole
/// corpus) and compares it with the central directory; sets where each entry's data starts.
fn check_local_headers(file: &File, label: &str, index: &mut ZipIndex) -> std::io::Result<()> {
    let file_len = index.file_len;
    let findings = index
        .entries
        .par_iter_mut()
        .map(|entry| check_local_header(file, label, file_len, entry))
        .filter_map(Result::transpose)
        .collect::<std::io::Result<Vec<Finding>>>()?;
    index.findings.extend(findings);
    Ok(())
}

/// Room read after a local header and the name the directory gives it, in the same read: a
/// zip64 extra field fits (cablekeep writes none for entries under 4 GB). Reading only this
/// much matters: the header of each of half a million entries is copied out of the page cache.
const LOCAL_EXTRA_SLACK: usize = 32;

fn check_local_header(
    file: &File,
    label: &str,
    file_len: u64,
    entry: &mut Entry,
) -> std::io::Result<Option<Finding>> {
    let at = entry.local_header_offset;
    let corrupt = |message: String| {
        Ok(Some(
            Finding::new(Code::LocalHeaderCorrupt, label, message).at_entry(&entry.name),
        ))
    };
    let available = file_len
        .saturating_sub(at)
        .min((30 + entry.name.len() + LOCAL_EXTRA_SLACK) as u64) as usize;
    if available < 30 {
        return corrupt(format!(
            "local header offset {at} is past the end of the file"
        ));
    }
    let mut h = read_at(file, at, available)?;
    if h.len() < 30 {
        return corrupt(format!(
            "local header offset {at} is past the end of the file"
        ));
    }
    if le32(&h) != SIG_LOCAL {
        return corrupt(format!("no local header signature at offset {at}"));
    }
    let name_len = le16(&h[26..]) as usize;
    let extra_len = le16(&h[28..]) as usize;
    let header_len = 30 + name_len + extra_len;
    if h.len() < header_len {
        match read_exact_at(file, at, header_len, file_len)? {
            Some(whole) => h = whole,
            None => return corrupt("local header runs past the end of the file".to_string()),
        }
    }
    let local_flags = le16(&h[6..]);
    let raw_name = &h[30..30 + name_len];
    let mut local = Entry {
        // Decoded only when it differs: comparing bytes is enough for the usual case.
        name: String::new(),
        method: le16(&h[8..]),
        flags: local_flags,
        crc32: le32(&h[14..]),
        compressed_size: le32(&h[18..]) as u64,
        uncompressed_size: le32(&h[22..]) as u64,
        local_header_offset: at,
        data_offset: None,
    };
    apply_zip64_extra(&h[30 + name_len..header_len], &mut local, false);
    let mut differences = Vec::new();
    if raw_name != entry.name.as_bytes() {
        let name = decode_name(raw_name, local_flags);
        if name != entry.name {
            differences.push(format!("name {name:?} vs {:?}", entry.name));
        }
    }
    if local.method != entry.method {
        differences.push(format!("method {} vs {}", local.method, entry.method));
    }
    if local.flags != entry.flags {
        differences.push(format!(
            "flags {:#06x} vs {:#06x}",
            local.flags, entry.flags
        ));
    }
    // With a data descriptor the local header may carry zeros; cablekeep never writes one,
    // and the layout check accounts for it when others do.
    if entry.flags & FLAG_DATA_DESCRIPTOR == 0 {
        if local.crc32 != entry.crc32 {
            differences.push(format!("crc32 {:08x} vs {:08x}", local.crc32, entry.crc32));
        }
        if local.compressed_size != entry.compressed_size {
            differences.push(format!(
                "compressed size {} vs {}",
                local.compressed_size, entry.compressed_size
            ));
        }
        if local.uncompressed_size != entry.uncompressed_size {
            differences.push(format!(
                "size {} vs {}",
                local.uncompressed_size, entry.uncompressed_size
            ));
        }
    }
    entry.data_offset = Some(at + header_len as u64);
    if differences.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        Finding::new(
            Code::HeaderMismatch,
            label,
            format!(
                "local header vs central directory: {}",
                differences.join("; ")
            ),
        )
        .at_entry(&entry.name),
    ))
}

/// Every byte of the file must belong to exactly one entry or to the directory records.
fn check_layout(end: &End, label: &str, index: &mut ZipIndex) {
    let mut spans: Vec<(u64, u64, &str)> = index
        .entries
        .iter()
        .filter_map(|e| Some((e.local_header_offset, span_end(e)?, e.name.as_str())))
        .collect();
    spans.sort();
    let mut walk = LayoutWalk::default();
    for (start, stop, name) in &spans {
        walk.span(*start, *stop, name, label);
    }
    walk.finish(end.cd_offset, label);
    let unsupported = index.entries.iter().filter_map(|e| unsupported(e, label));
    let findings: Vec<Finding> = walk
        .findings
        .into_vec()
        .into_iter()
        .chain(unsupported)
        .collect();
    index.findings.extend(findings);
}

/// Where an entry's bytes end (its data and any data descriptor), when its data was located.
fn span_end(e: &Entry) -> Option<u64> {
    let data_end = e.data_offset?.checked_add(e.compressed_size)?;
    // Allowed by the zip format, but the descriptor is then the only place the sizes are.
    let descriptor = if e.flags & FLAG_DATA_DESCRIPTOR != 0 {
        16
    } else {
        0
    };
    Some(data_end + descriptor)
}

/// The entries' spans of the file taken in order of their start: gaps and overlaps are findings.
#[derive(Default)]
struct LayoutWalk {
    /// Where the spans seen so far end.
    cursor: u64,
    any: bool,
    findings: CappedFindings,
}

impl LayoutWalk {
    fn span(&mut self, start: u64, stop: u64, name: &str, label: &str) {
        let cursor = self.cursor;
        if start > cursor {
            self.findings.push(
                Finding::new(
                    Code::StrayBytes,
                    label,
                    format!("{} unexplained bytes at offset {cursor}", start - cursor),
                )
                .at_entry(name),
            );
        } else if start < cursor {
            self.findings.push(Finding::new(Code::StrayBytes, label, format!("entry at offset {start} overlaps the previous entry (which ends at {cursor})")).at_entry(name));
        }
        self.cursor = cursor.max(stop);
        self.any = true;
    }

    /// The last span must end where the central directory starts.
    fn finish(&mut self, cd_offset: u64, label: &str) {
        if self.cursor < cd_offset && self.any {
            self.findings.push(Finding::new(
                Code::StrayBytes,
                label,
                format!(
                    "{} unexplained bytes before the central directory at {cd_offset}",
                    cd_offset - self.cursor,
                ),
            ));
        } else if self.cursor > cd_offset {
            self.findings.push(Finding::new(
                Code::StrayBytes,
                label,
                format!("entry data runs into the central directory at {cd_offset}"),
            ));
        }
    }
}

/// An entry cablekeep cannot read: encrypted, or compressed with another method than Stored
/// and Deflate.
fn unsupported(e: &Entry, label: &str) -> Option<Finding> {
    let why = if e.flags & FLAG_ENCRYPTED != 0 {
        "entry is encrypted".to_string()
    } else if e.method != METHOD_STORED && e.method != METHOD_DEFLATE {
        format!("compression method {}", e.method)
    } else {
        return None;
    };
    Some(Finding::new(Code::UnsupportedEntry, label, why).at_entry(&e.name))
}

/// Names must be safe relative paths (no absolute paths, `..`, backslashes, control characters,
/// empty components) and unique, also when compared case-insensitively.
fn check_names(label: &str, index: &mut ZipIndex) {
    let entries = &index.entries;
    let (mut numbered, duplicates) = rayon::join(
        || {
            entries
                .par_iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let problem = unsafe_name_problem(&e.name)?;
                    Some((
                        i,
                        Finding::new(Code::UnsafeEntryName, label, problem).at_entry(&e.name),
                    ))
                })
                .collect::<Vec<(usize, Finding)>>()
        },
        || duplicate_names(entries),
    );
    for (original, duplicate) in duplicates {
        let (original, entry) = (&entries[original].name, &entries[duplicate]);
        let message = if *original == entry.name {
            "the name appears more than once".to_string()
        } else {
            format!("differs only in case from {original:?}")
        };
        numbered.push((
            duplicate,
            Finding::new(Code::DuplicateEntryName, label, message).at_entry(&entry.name),
        ));
    }
    numbered.sort_by_key(|(i, _)| *i);
    index.findings.extend(numbered.into_iter().map(|(_, f)| f));
}

/// Pairs (first entry, later entry) of names equal when folded to lower case. A zip whose
/// directory is already (nearly) sorted, as cablekeep writes it, is settled by a sort that
/// merges its few sorted runs in linear time; any other, through a hash map.
fn duplicate_names(entries: &[Entry]) -> Vec<(usize, usize)> {
    /// More sorted runs than this and sorting would cost n log n.
    const FEW_RUNS: usize = 16;
    let mut descents = 0;
    for pair in entries.windows(2) {
        if folded_cmp(&pair[0].name, &pair[1].name) == std::cmp::Ordering::Greater {
            descents += 1;
            if descents >= FEW_RUNS {
                return duplicates_by_hash(entries).unwrap_or_else(|| duplicates_by_sort(entries));
            }
        }
    }
    duplicates_by_sort(entries)
}

/// Pairs (first entry, later entry) of names equal when folded to lower case, found through a
/// map from each folded name's 64-bit hash to its first entry (no copy of any name: archives
/// hold half a million). None when two different names share a hash, which the caller then
/// settles by sorting.
fn duplicates_by_hash(entries: &[Entry]) -> Option<Vec<(usize, usize)>> {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut first: std::collections::HashMap<u64, u32> =
        std::collections::HashMap::with_capacity(entries.len());
    let mut folded = Vec::new();
    let mut pairs = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        folded.clear();
        if e.name.is_ascii() {
            folded.extend(e.name.bytes().map(|c| c.to_ascii_lowercase()));
        } else {
            folded.extend_from_slice(e.name.to_lowercase().as_bytes());
        }
        let mut h = state.build_hasher();
        h.write(&folded);
        match first.entry(h.finish()) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i as u32);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let original = *o.get() as usize;
                if folded_cmp(&entries[original].name, &e.name) != std::cmp::Ordering::Equal {
                    return None;
                }
                pairs.push((original, i));
            }
        }
    }
    Some(pairs)
}

/// The same pairs as [`duplicates_by_hash`], by sorting entry numbers by folded name.
fn duplicates_by_sort(entries: &[Entry]) -> Vec<(usize, usize)> {
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    // Stable, so that of equal names the first in the zip comes first.
    order.sort_by(|&a, &b| folded_cmp(&entries[a as usize].name, &entries[b as usize].name));
    let mut pairs = Vec::new();
    let mut group_first = None;
    for pair in order.windows(2) {
        let (a, b) = (pair[0] as usize, pair[1] as usize);
        if folded_cmp(&entries[a].name, &entries[b].name) != std::cmp::Ordering::Equal {
            group_first = None;
            continue;
        }
        pairs.push((*group_first.get_or_insert(a), b));
    }
    pairs
}

/// Compares names as their lower-case forms would compare, without building them for ASCII.
pub fn folded_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        // Names in one folder share long prefixes: skip the identical bytes a word at a time.
        let same = common_prefix_len(a.as_bytes(), b.as_bytes());
        let fold = |c: &u8| c.to_ascii_lowercase();
        a.as_bytes()[same..]
            .iter()
            .map(fold)
            .cmp(b.as_bytes()[same..].iter().map(fold))
    } else {
        a.to_lowercase().cmp(&b.to_lowercase())
    }
}

/// How many leading bytes two byte strings share.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n && a[i..i + 8] == b[i..i + 8] {
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Why a zip entry name is unsafe to extract, if it is.
pub fn unsafe_name_problem(name: &str) -> Option<String> {
    if plainly_safe(name) {
        return None;
    }
    unsafe_name_problem_in_full(name)
}

fn unsafe_name_problem_in_full(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("empty name".into());
    }
    if name.contains('\u{FFFD}') {
        return Some("name is not valid UTF-8".into());
    }
    if name.starts_with('/') || name.starts_with('~') || name.as_bytes().get(1) == Some(&b':') {
        return Some("absolute path".into());
    }
    if name.contains('\\') {
        return Some("backslash in name".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Some("control character in name".into());
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    if trimmed
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some("empty, `.` or `..` path component".into());
    }
    None
}

/// The usual name, settled in one pass: printable ASCII without a backslash, not starting with
/// `/`, `~` or a drive letter, and no empty, `.` or `..` component (one trailing slash, as a
/// folder entry has, aside). False only sends a name to the full check.
fn plainly_safe(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b[0] == b'/' || b[0] == b'~' || b.get(1) == Some(&b':') {
        return false;
    }
    let mut component_start = 0;
    for (i, &c) in b.iter().enumerate() {
        if !(0x20..0x7f).contains(&c) || c == b'\\' {
            return false;
        }
        if c == b'/' {
            if !ordinary_component(&b[component_start..i]) {
                return false;
            }
            component_start = i + 1;
        }
    }
    component_start == b.len() || ordinary_component(&b[component_start..])
}

/// A path component other than empty, `.` and `..`.
fn ordinary_component(c: &[u8]) -> bool {
    !matches!(c, b"" | b"." | b"..")
}

/// Bytes as text, replacing what is not UTF-8; checked with `from_utf8` first, which is several
/// times faster than `from_utf8_lossy` on valid text (`from_utf8_lossy` walks it in chunks even
/// then): the names of half a million entries, the lines of million-line manifests.
pub fn lossy_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(name) => std::borrow::Cow::Borrowed(name),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

fn decode_name(raw: &[u8], flags: u16) -> String {
    // Without the UTF-8 flag a name is CP437; cablekeep only writes ASCII names, so any
    // non-UTF-8 name is reported through the replacement character.
    let _ = flags & FLAG_UTF8;
    lossy_text(raw).into_owned()
}

/// Streams an entry's uncompressed bytes to `sink`, checking its size and CRC-32. Returns the
/// findings about the entry's data (none when it is intact).
pub fn stream_entry(
    file: &File,
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

fn unlocated(entry: &Entry, label: &str) -> Finding {
    Finding::new(
        Code::LocalHeaderCorrupt,
        label,
        "entry data cannot be located",
    )
    .at_entry(&entry.name)
}

/// [`stream_entry`] for any entry, 64 KB at a time.
fn stream_in_pieces(
    file: &File,
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
fn buffer_for(size: u64) -> usize {
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
    pub fn new(file: &'a File, entry: &'a Entry, label: &'a str) -> Result<Self, Finding> {
        match entry.data_offset {
            Some(data_offset) => Self::at(file, entry, data_offset, label),
            None => Err(unlocated(entry, label)),
        }
    }

    fn at(
        file: &'a File,
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
fn length_and_crc_findings(entry: &Entry, label: &str, length: u64, crc32: u32) -> Vec<Finding> {
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

/// Deflate entries up to this size (compressed and inflated) are inflated in one call by
/// libdeflate, which is faster than inflating a stream (docs/PERFORMANCE.md); larger ones are
/// streamed, so memory stays bounded per thread.
const WHOLE_ENTRY_LIMIT: u64 = 16 << 20;

/// True for a Deflate entry to inflate in one call. Deflate never makes more than 1,032 bytes
/// of one, so a larger recorded size is a lie (a zip bomb, say) that must not size a buffer:
/// such an entry is streamed, and its real length reported.
fn whole_inflatable(entry: &Entry) -> bool {
    let most = entry
        .compressed_size
        .saturating_mul(1032)
        .saturating_add(1024);
    entry.method == METHOD_DEFLATE
        && entry.compressed_size <= WHOLE_ENTRY_LIMIT
        && entry.uncompressed_size <= WHOLE_ENTRY_LIMIT.min(most)
}

/// A thread's decompressor and buffers, kept between entries (half a million of them in a
/// large archive: allocating each anew showed in profiles).
struct WholeInflater {
    decompressor: libdeflater::Decompressor,
    compressed: Vec<u8>,
    inflated: Vec<u8>,
}

thread_local! {
    static WHOLE_INFLATER: std::cell::RefCell<WholeInflater> = std::cell::RefCell::new(WholeInflater {
        decompressor: libdeflater::Decompressor::new(),
        compressed: Vec::new(),
        inflated: Vec::new(),
    });
}

/// [`stream_entry`] for a Deflate entry small enough to hold: read whole, inflated in one
/// call, checked, and handed to `sink` in one piece. The same findings as streaming it.
fn inflate_whole(
    file: &File,
    entry: &Entry,
    data_offset: u64,
    label: &str,
    mut sink: impl FnMut(&[u8]),
) -> std::io::Result<Vec<Finding>> {
    with_whole_inflater(|inflater| {
        let (inflated, findings) = inflater.inflate(file, entry, data_offset, label)?;
        if let Some(len) = inflated {
            sink(&inflater.inflated[..len]);
        }
        Ok(findings)
    })
}

/// Runs `work` with this thread's inflater, or with a fresh one when it is in use (only when
/// the code handed an entry's bytes reads another entry on the same thread).
fn with_whole_inflater<R>(work: impl FnOnce(&mut WholeInflater) -> R) -> R {
    WHOLE_INFLATER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut inflater) => work(&mut inflater),
        Err(_) => work(&mut WholeInflater {
            decompressor: libdeflater::Decompressor::new(),
            compressed: Vec::new(),
            inflated: Vec::new(),
        }),
    })
}

/// Reads a whole entry and hands its bytes to `use_bytes` only when they are intact (no
/// finding at all), without copying them for a Deflate entry up to 16 MB (it is inflated into
/// this thread's reused buffer). Returns what `use_bytes` returned, or else the findings.
pub fn with_intact_entry<R>(
    file: &File,
    entry: &Entry,
    label: &str,
    use_bytes: impl FnOnce(&[u8]) -> R,
) -> std::io::Result<std::result::Result<R, Vec<Finding>>> {
    let whole = whole_inflatable(entry);
    match entry.data_offset {
        Some(data_offset) if whole => with_whole_inflater(|inflater| {
            let (inflated, findings) = inflater.inflate(file, entry, data_offset, label)?;
            Ok(match inflated {
                Some(len) if findings.is_empty() => Ok(use_bytes(&inflater.inflated[..len])),
                _ => Err(findings),
            })
        }),
        _ => {
            let (data, findings) = read_entry(file, entry, label)?;
            Ok(match data {
                Some(data) if findings.is_empty() => Ok(use_bytes(&data)),
                _ => Err(findings),
            })
        }
    }
}

impl WholeInflater {
    /// Inflates an entry into `self.inflated`; returns the length inflated (None when the data
    /// cannot be read whole) and the findings.
    fn inflate(
        &mut self,
        file: &File,
        entry: &Entry,
        data_offset: u64,
        label: &str,
    ) -> std::io::Result<(Option<usize>, Vec<Finding>)> {
        let failed = |message: String| {
            Ok((
                None,
                vec![Finding::new(Code::DecompressFailed, label, message).at_entry(&entry.name)],
            ))
        };
        self.compressed.resize(entry.compressed_size as usize, 0);
        let mut read = 0;
        while read < self.compressed.len() {
            let n = pread(
                file,
                &mut self.compressed[read..],
                data_offset + read as u64,
            )?;
            if n == 0 {
                return failed("after 0 bytes: entry data runs past the end of the file".into());
            }
            read += n;
        }
        let limit = entry.uncompressed_size;
        // One byte more than recorded, so that longer data shows as longer, not as an error.
        self.inflated.resize(limit as usize + 1, 0);
        let len = match self
            .decompressor
            .deflate_decompress(&self.compressed, &mut self.inflated)
        {
            Ok(n) if n as u64 > limit => {
                return failed(format!("data is longer than the recorded size {limit}"));
            }
            Ok(n) => n,
            Err(libdeflater::DecompressionError::InsufficientSpace) => {
                return failed(format!("data is longer than the recorded size {limit}"));
            }
            Err(libdeflater::DecompressionError::BadData) => {
                return failed("after 0 bytes: the data is not valid Deflate".into());
            }
        };
        let crc32 = crc32fast::hash(&self.inflated[..len]);
        let findings = length_and_crc_findings(entry, label, len as u64, crc32);
        Ok((Some(len), findings))
    }
}

/// Reads a whole entry into memory (for tag files and records, which are small). Findings about
/// its data are returned beside the bytes; the bytes are None when they cannot be trusted at all.
pub fn read_entry(
    file: &File,
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

/// A `Read` over a byte range of a file, by positioned reads, so threads can share one handle.
struct RangeReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = pread(self.file, &mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "entry data runs past the end of the file",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Reads up to `len` bytes at `offset` (fewer at the end of the file).
fn read_at(file: &File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut done = 0;
    while done < len {
        let n = pread(file, &mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok(buf)
}

/// Reads exactly `len` bytes at `offset`, or None when the file ends first.
fn read_exact_at(
    file: &File,
    offset: u64,
    len: usize,
    file_len: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    if offset.checked_add(len as u64).is_none_or(|e| e > file_len) {
        return Ok(None);
    }
    let buf = read_at(file, offset, len)?;
    Ok((buf.len() == len).then_some(buf))
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Entry {
        Entry {
            name: name.to_string(),
            method: METHOD_DEFLATE,
            flags: 0,
            crc32: 0,
            compressed_size: 0,
            uncompressed_size: 0,
            local_header_offset: 0,
            data_offset: None,
        }
    }

    /// What reading an entry gave: its bytes and its findings' codes and messages.
    type Read = (Vec<u8>, Vec<(Code, String)>);

    /// Reads an entry both ways: whole (libdeflate) and in pieces (zlib-rs).
    fn both_ways(file: &File, entry: &Entry) -> [Read; 2] {
        let whole = {
            let mut data = Vec::new();
            let f = inflate_whole(file, entry, 0, "t", |b| data.extend_from_slice(b)).unwrap();
            (data, f)
        };
        let pieces = {
            let mut data = Vec::new();
            let f = stream_in_pieces(file, entry, 0, "t", |b| data.extend_from_slice(b)).unwrap();
            (data, f)
        };
        [whole, pieces].map(|(data, findings)| {
            let kinds = findings.into_iter().map(|f| (f.code, f.message)).collect();
            (data, kinds)
        })
    }

    #[test]
    fn whole_and_streamed_inflating_agree_on_good_and_bad_data() {
        use std::io::Write;
        let text: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&text).unwrap();
        let compressed = encoder.finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, &compressed).unwrap();
        let file = File::open(&path).unwrap();
        let good = Entry {
            crc32: crc32fast::hash(&text),
            compressed_size: compressed.len() as u64,
            uncompressed_size: text.len() as u64,
            ..named("e")
        };
        let [whole, pieces] = both_ways(&file, &good);
        assert_eq!(whole, (text.clone(), vec![]));
        assert_eq!(pieces, whole);
        let located = Entry {
            data_offset: Some(0),
            ..good.clone()
        };
        let intact = with_intact_entry(&file, &located, "t", |b| b.to_vec()).unwrap();
        assert_eq!(intact.unwrap(), text);
        let damaged = Entry {
            crc32: good.crc32 ^ 1,
            ..located
        };
        let refused = with_intact_entry(&file, &damaged, "t", |b| b.to_vec()).unwrap();
        assert_eq!(refused.unwrap_err()[0].code, Code::CrcMismatch);
        let cases = [
            Entry {
                crc32: good.crc32 ^ 1,
                ..good.clone()
            },
            Entry {
                uncompressed_size: good.uncompressed_size + 5,
                ..good.clone()
            },
            Entry {
                uncompressed_size: good.uncompressed_size - 5,
                ..good.clone()
            },
            Entry {
                compressed_size: good.compressed_size + 10,
                ..good.clone()
            },
            Entry {
                compressed_size: good.compressed_size / 2,
                ..good.clone()
            },
        ];
        for bad in cases {
            let [whole, pieces] = both_ways(&file, &bad);
            let codes = |r: &Read| r.1.iter().map(|(c, _)| *c).collect::<Vec<_>>();
            assert!(!whole.1.is_empty(), "{bad:?}: no finding");
            assert_eq!(
                codes(&whole),
                codes(&pieces),
                "{bad:?}: {whole:?} vs {pieces:?}"
            );
        }
    }

    #[test]
    fn duplicate_names_are_found_alike_by_hash_and_by_sort() {
        let names = [
            "b/x.txt", "a/X.txt", "a/x.txt", "b/x.txt", "ÄB/é", "äb/É", "a/x.TXT", "c", "b/x.txt",
        ];
        let entries: Vec<Entry> = names.iter().map(|n| named(n)).collect();
        let mut by_hash = duplicates_by_hash(&entries).expect("no hash collision here");
        by_hash.sort();
        let mut by_sort = duplicates_by_sort(&entries);
        by_sort.sort();
        assert_eq!(by_hash, vec![(0, 3), (0, 8), (1, 2), (1, 6), (4, 5)]);
        assert_eq!(by_hash, by_sort);
        let mut index = ZipIndex {
            entries,
            ..ZipIndex::default()
        };
        check_names("t.zip", &mut index);
        let found: Vec<(&str, &str)> = index
            .findings
            .iter()
            .map(|f| (f.entry.as_deref().unwrap_or(""), f.message.as_str()))
            .collect();
        assert_eq!(
            found[0],
            ("a/x.txt", "differs only in case from \"a/X.txt\"")
        );
        assert_eq!(found[1], ("b/x.txt", "the name appears more than once"));
        assert_eq!(found.len(), 5, "{found:?}");
    }

    #[test]
    fn unsafe_names_are_named() {
        for bad in [
            "/etc/passwd",
            "a/../b",
            "a\\b",
            "C:/x",
            "a//b",
            "./a",
            "a\u{0}b",
            "~/x",
        ] {
            assert!(
                unsafe_name_problem(bad).is_some(),
                "{bad:?} should be unsafe"
            );
        }
        for good in [
            "bag/data/cables/05ALMATY4285/2011-10-04_0123456789ab.txt",
            "bag/bagit.txt",
        ] {
            assert_eq!(unsafe_name_problem(good), None, "{good:?}");
        }
    }

    /// The one-pass check may only send names on to the full check, never pass an unsafe one.
    #[test]
    fn the_quick_name_check_never_passes_an_unsafe_name() {
        let parts = [
            "", "a", ".", "..", "/", "//", "\\", "~", "C:", "é", "\u{1}", "\u{7f}", "x.txt",
        ];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    let name = format!("{a}{b}{c}");
                    if plainly_safe(&name) {
                        assert_eq!(unsafe_name_problem_in_full(&name), None, "{name:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100, "{checked}");
        assert!(plainly_safe("bag/data/cables/05ALMATY4285/x.txt"));
        assert!(plainly_safe("bag/data/"));
        assert!(!plainly_safe("bag//"));
    }

    /// A sorted directory (cablekeep's) takes the sorting path; the pairs are the same.
    #[test]
    fn a_sorted_directory_finds_the_same_duplicates() {
        let names = [
            "a/X.txt",
            "a/x.txt",
            "a/x.txt",
            "b",
            "c/D",
            "c/d",
            "bagit.txt",
            "B",
        ];
        let entries: Vec<Entry> = names.iter().map(|n| named(n)).collect();
        let mut quick = duplicate_names(&entries);
        quick.sort();
        let mut by_hash = duplicates_by_hash(&entries).expect("no hash collision here");
        by_hash.sort();
        assert_eq!(quick, vec![(0, 1), (0, 2), (3, 7), (4, 5)]);
        assert_eq!(quick, by_hash);
    }

    #[test]
    fn garbage_is_a_finding_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.zip");
        std::fs::write(&path, b"not a zip at all, just some words here").unwrap();
        let index = open(&path).unwrap();
        assert!(!index.readable);
        assert_eq!(index.findings[0].code, Code::ZipUnreadable);
    }
}
