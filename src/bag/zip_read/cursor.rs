//! [`DirectoryCursor`]: the central directory read forward to find entries by name.

use super::Entry;
use super::directory::{Advance, CentralRecords};
use super::end::find_end;
use super::local::check_local_header;
use super::source::ReadAt;

/// A zip's central directory read forward, for a reader that wants entries by name in the
/// order the directory lists them: cablekeep lists payload files sorted by path, and copies
/// them into the next version in that order. Nothing but the current record is held, where
/// [`open`](super::open) builds a table of every entry (~140 bytes each: ~100 MB for the full corpus).
pub struct DirectoryCursor<'a> {
    file: &'a dyn ReadAt,
    label: &'a str,
    file_len: u64,
    /// None when the directory cannot be found, is damaged, or has been read to its end.
    records: Option<CentralRecords<'a>>,
    /// A record read but not asked for yet (its name sorts after the last one asked for).
    peeked: Option<Entry>,
}

impl<'a> DirectoryCursor<'a> {
    /// A cursor at the start of the central directory of `file`; `label` names the zip in errors.
    /// Fails only on an I/O error reading the file; a directory that cannot be found makes
    /// every [`find`](Self::find) answer None.
    pub fn new(file: &'a dyn ReadAt, label: &'a str) -> std::io::Result<Self> {
        let file_len = file.len()?;
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
    /// [`ZipIndex`](super::ZipIndex), which says which.
    pub fn find(&mut self, name: &str) -> std::io::Result<Option<Entry>> {
        let Some(mut entry) = self.find_unread(name)? else {
            return Ok(None);
        };
        let finding = check_local_header(self.file, self.label, self.file_len, &mut entry)?;
        Ok(finding.is_none().then_some(entry))
    }

    /// [`DirectoryCursor::find`] without reading the entry's local header: the entry comes
    /// without its data offset, and reading it (`OpenArchive::with_entry_required`) reads and
    /// checks the header and the data in one read, where `find` and the read took two.
    pub fn find_unread(&mut self, name: &str) -> std::io::Result<Option<Entry>> {
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
                std::cmp::Ordering::Equal => return Ok(Some(entry)),
            }
        }
    }

    fn next_record(&mut self) -> std::io::Result<Option<Entry>> {
        let Some(records) = self.records.as_mut() else {
            return Ok(None);
        };
        match records.advance()? {
            Advance::Record => Ok(Some(records.entry())),
            Advance::End | Advance::Damaged(_) => {
                self.records = None;
                Ok(None)
            }
        }
    }
}
