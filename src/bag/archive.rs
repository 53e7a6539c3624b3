//! [`OpenArchive`]: an archive opened for reading, its structure checked and its bag folder found.

use super::INDEX_FILE;
use super::zip_read::{self, DirectoryCursor, Entry, EntryData, Opening, ReadAt, ZipIndex};
use crate::error::{Error, IoContext, Result};
use crate::finding::Finding;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What of a zip [`OpenArchive::open_file`] and [`OpenArchive::open_source`] read.
#[derive(Clone, Copy)]
pub enum Reading<'a> {
    /// Every entry, the structure of the whole file checked ([`OpenArchive::open`]).
    Whole,
    /// The entries whose path in the bag `keep` selects ([`OpenArchive::open_selected`]).
    Selected(&'a dyn Fn(&str) -> bool),
    /// The cable index only ([`OpenArchive::open_index`]).
    Index,
    /// The cable index and the captures ([`OpenArchive::open_captures`]).
    Captures,
    /// No directory ([`OpenArchive::open_unlisted`]).
    Unlisted,
}

/// An archive opened for reading: the zip's structure read and checked, and its bag folder
/// found. Entries are read by name through it.
pub struct OpenArchive {
    /// The zip's path as opened.
    pub path: PathBuf,
    /// The open zip (a local file or a remote object), which entries are read from at their
    /// offsets: one handle for all of the archive's reads, shared by threads.
    pub file: Arc<dyn ReadAt>,
    /// The zip's entries and every structural finding about it.
    pub index: ZipIndex,
    /// The single top-level folder, when there is exactly one.
    pub folder: Option<String>,
    /// A label for findings (the path as given).
    pub label: String,
}

impl OpenArchive {
    /// Opens and structurally checks a zip. Only I/O failures are errors.
    pub fn open(path: &Path) -> Result<OpenArchive> {
        Self::open_file(path, Reading::Whole)
    }

    /// Opens a zip for reading only the entries whose path in the bag (the name without its top
    /// folder) `keep` selects: memory that grows with the entries kept, not with the archive.
    /// The structural checks cover the kept entries only (`zip_read::Opening::Selected`); `verify`
    /// opens the whole.
    pub fn open_selected(path: &Path, keep: &dyn Fn(&str) -> bool) -> Result<OpenArchive> {
        Self::open_file(path, Reading::Selected(keep))
    }

    /// Opens a zip for reading its cable index only (`diff`'s merge, `stats`, finding a cable).
    pub fn open_index(path: &Path) -> Result<OpenArchive> {
        Self::open_file(path, Reading::Index)
    }

    /// Opens a zip for reading its cable index and its captures (records and raw bytes, which
    /// a format 2 record may need for its text) only: not the tag files, manifests or unparsed
    /// inputs.
    pub fn open_captures(path: &Path) -> Result<OpenArchive> {
        Self::open_file(path, Reading::Captures)
    }

    /// Opens a zip without reading its directory, for reading entries whose places the caller
    /// kept (the search index keeps those of each cable's text): with
    /// [`Self::with_entry_required`], each read checks the entry's local header against the
    /// kept one and its CRC-32, so a place that is not that entry's any more is an error, never
    /// other bytes. At full scale reading the directory takes longer than a whole search.
    pub fn open_unlisted(path: &Path) -> Result<OpenArchive> {
        Self::open_file(path, Reading::Unlisted)
    }

    /// Opens the local zip at `path`, one handle for all its reads, as `reading` says.
    pub fn open_file(path: &Path, reading: Reading<'_>) -> Result<OpenArchive> {
        let file = File::open(path).at(path)?;
        Self::open_source(Arc::new(file), path, reading)
    }

    /// Opens a zip whose bytes `source` gives (a local file, or an object of a store on object
    /// storage read by ranges), as `reading` says; `path` names it in findings and errors (the
    /// remote file's address for a remote store).
    pub fn open_source(
        source: Arc<dyn ReadAt>,
        path: &Path,
        reading: Reading<'_>,
    ) -> Result<OpenArchive> {
        let label = path.display().to_string();
        let in_bag = |keep: &dyn Fn(&str) -> bool, name: &str| {
            name.split_once('/').is_some_and(|(_, p)| keep(p))
        };
        let selected = |keep: &dyn Fn(&str) -> bool| -> Result<ZipIndex> {
            let keep_in_bag = |name: &str| in_bag(keep, name);
            zip_read::open_source(&*source, &label, Opening::Selected(&keep_in_bag))
        };
        let index = match reading {
            Reading::Whole => zip_read::open_source(&*source, &label, Opening::Whole)?,
            Reading::Selected(keep) => selected(keep)?,
            Reading::Index => selected(&|p| p == INDEX_FILE)?,
            Reading::Captures => selected(&|p| p == INDEX_FILE || p.starts_with("data/cables/"))?,
            Reading::Unlisted => {
                let mut index = ZipIndex::default();
                index.readable = true;
                index.file_len = source.len().at(path)?;
                index
            }
        };
        Ok(Self::with_index(source, path, label, index))
    }

    /// The same zip opened again as `reading` says, through the same handle (a local file or a
    /// remote object): for a reader that finds it needs more of the directory than it read.
    pub fn reopen(&self, reading: Reading<'_>) -> Result<OpenArchive> {
        Self::open_source(self.file.clone(), &self.path, reading)
    }

    fn with_index(
        file: Arc<dyn ReadAt>,
        path: &Path,
        label: String,
        index: ZipIndex,
    ) -> OpenArchive {
        let mut tops: Vec<&str> = index
            .entries
            .iter()
            .map(|e| e.name.split('/').next().unwrap_or(""))
            .collect();
        tops.sort();
        tops.dedup();
        let folder = (tops.len() == 1).then(|| tops[0].to_string());
        OpenArchive {
            path: path.to_path_buf(),
            file,
            label,
            index,
            folder,
        }
    }

    /// The path inside the bag of an entry (its name without the top folder), if it is in it.
    pub fn bag_path<'a>(&self, entry: &'a Entry) -> Option<&'a str> {
        let folder = self.folder.as_deref()?;
        entry.name.strip_prefix(folder)?.strip_prefix('/')
    }

    /// The entry for a path inside the bag.
    pub fn entry(&self, bag_path: &str) -> Option<&Entry> {
        let folder = self.folder.as_deref()?;
        self.index.entry(&format!("{folder}/{bag_path}"))
    }

    /// Reads a (small) file of the bag whole. `Ok(None)` with a finding when it is missing or damaged.
    pub fn read(&self, bag_path: &str) -> Result<(Option<Vec<u8>>, Vec<Finding>)> {
        let Some(entry) = self.entry(bag_path) else {
            return Ok((None, Vec::new()));
        };
        zip_read::read_entry(&*self.file, entry, &self.label).at(&self.path)
    }

    /// The archive format its `bag-info.txt` names (`Cablekeep-Format`); an error when it names
    /// none this release knows or the file cannot be read.
    pub fn archive_format(&self) -> Result<super::ArchiveFormat> {
        let bytes = self.read_required("bag-info.txt")?;
        let (fields, _) = super::manifest::parse_bag_info(&String::from_utf8_lossy(&bytes));
        let named = super::manifest::bag_info_value(&fields, "Cablekeep-Format");
        named
            .and_then(super::ArchiveFormat::from_bag_info)
            .ok_or_else(|| Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "bag-info.txt names archive format {:?}, which this release of cablekeep does not know",
                    named.unwrap_or("")
                ),
            })
    }

    /// Reads a file of the bag whole, failing with a "could not run" error when it is missing or
    /// damaged. For commands that need an intact archive (show, diff, a new version).
    pub fn read_required(&self, bag_path: &str) -> Result<Vec<u8>> {
        let (data, findings) = self.read(bag_path)?;
        match (data, findings.is_empty()) {
            (Some(d), true) => Ok(d),
            (_, false) => Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "{bag_path} is damaged ({}); run `cablekeep verify`",
                    findings[0]
                ),
            }),
            (None, true) => Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!("{bag_path} is missing from the archive; run `cablekeep verify`"),
            }),
        }
    }

    /// Hands the bytes of a file of the bag to `use_bytes`, without a copy where it can (see
    /// `zip_read::with_intact_entry`), failing like [`Self::read_required`] when the file is
    /// missing or damaged. For reading many records quickly.
    pub fn with_required<R>(
        &self,
        bag_path: &str,
        use_bytes: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        self.with_entry_required(bag_path, self.entry(bag_path), use_bytes)
    }

    /// [`Self::with_required`] for the file at `bag_path` whose entry the caller found (None:
    /// the archive lacks it).
    pub fn with_entry_required<R>(
        &self,
        bag_path: &str,
        entry: Option<&Entry>,
        use_bytes: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let Some(entry) = entry else {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!("{bag_path} is missing from the archive; run `cablekeep verify`"),
            });
        };
        match zip_read::with_intact_entry(&*self.file, entry, &self.label, use_bytes)
            .at(&self.path)?
        {
            Ok(r) => Ok(r),
            Err(findings) => Err(Error::Corrupt {
                path: self.path.clone(),
                message: format!(
                    "{bag_path} is damaged ({}); run `cablekeep verify`",
                    findings.first().map(|f| f.to_string()).unwrap_or_default()
                ),
            }),
        }
    }

    /// Streams an entry's bytes to `sink`; returns findings about its data.
    pub fn stream(&self, entry: &Entry, sink: impl FnMut(&[u8])) -> Result<Vec<Finding>> {
        zip_read::stream_entry(&*self.file, entry, &self.label, sink).at(&self.path)
    }

    /// An entry's data, to be read into the caller's own buffers whatever the entry's size
    /// (memory that does not follow the size of a large tag file; see `EntryData`), or the
    /// finding that it cannot be read.
    pub fn entry_data<'a>(
        &'a self,
        entry: &'a Entry,
    ) -> std::result::Result<EntryData<'a>, Finding> {
        EntryData::new(&*self.file, entry, &self.label)
    }

    /// The zip's central directory, to be read forward by name ([`DirectoryCursor`]), whatever
    /// entries this opening kept.
    pub fn directory_cursor(&self) -> Result<DirectoryCursor<'_>> {
        DirectoryCursor::new(&*self.file, &self.label).at(&self.path)
    }
}

#[cfg(test)]
mod tests;
