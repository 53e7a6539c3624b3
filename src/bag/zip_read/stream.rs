//! [`DirectoryStream`]: the central directory read and checked a chunk of entries at a time.

use super::Entry;
use super::directory::{Advance, CentralRecords};
use super::end::find_end;
use super::layout::{LayoutWalk, span_end, unsupported};
use super::local::check_local_header;
use super::names::unsafe_name_problem;
use super::source::ReadAt;
use crate::finding::{CappedFindings, Code, Finding};
use rayon::prelude::*;

/// The central directory read forward a chunk of entries at a time, with [`open`](super::open)'s structural
/// checks made on each chunk (local headers, the file's layout, methods, unsafe names), for a
/// reader that must not hold the whole directory: `verify` of a large archive. It needs the
/// entries to lie in the file in directory order (as every zip writer puts them) and a directory
/// that reads whole; [`Chunk::Unstreamable`] says when the archive is otherwise, and the caller
/// then opens it whole. Duplicate names are the caller's to rule out: it knows the order the
/// names must come in.
pub struct DirectoryStream<'a> {
    file: &'a dyn ReadAt,
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
    /// Finds the directory. None when the end records are damaged or odd in any way (the
    /// whole-archive reader reports what is wrong).
    pub fn new(file: &'a dyn ReadAt, label: &'a str) -> std::io::Result<Option<Self>> {
        let file_len = file.len()?;
        let mut end_findings = Vec::new();
        let end = find_end(file, file_len, label, &mut end_findings)?;
        let Some(end) = end.filter(|_| end_findings.is_empty()) else {
            return Ok(None);
        };
        Ok(Some(DirectoryStream {
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
                Advance::Record => entries.push(self.records.entry()),
                Advance::End => break,
                Advance::Damaged(why) => return Ok(Chunk::Unstreamable(why)),
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

    /// [`open`](super::open)'s checks of single entries, in the order `open` reports them.
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

    /// Every structural finding, in the order [`open`](super::open) gives them (the directory read to its end).
    pub fn finish(mut self) -> CappedFindings {
        self.layout.finish(self.cd_offset, self.label);
        let mut findings = self.headers;
        findings.append(&mut self.layout.findings);
        findings.append(&mut self.unsupported);
        findings.append(&mut self.names);
        findings
    }
}
