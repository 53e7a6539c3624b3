//! What the server holds while it runs: the edition (as `site` builds it), where each cable's
//! index line and record entries lie, the table of page paths, and the search index. Built
//! once at startup; every request then reads one cable's records at their entries, never the
//! whole index.
//!
//! The index lines and entries are written once to an unnamed temporary file (gone when the
//! server ends, whatever way it ends) and read back at their offsets: held in memory they
//! would grow with the collection (about 1 KB a cable), and the archive's own table of entries
//! (`OpenArchive::open_captures`) would cost about 150 bytes an entry.

use crate::bag::capture::IndexLine;
use crate::bag::{Entry, OpenArchive, ZipIndex};
use crate::error::{Error, IoContext, Result};
use crate::progress::Progress;
use crate::query::search::SearchIndex;
use crate::query::select::{self, Need, Selected, VersionRef};
use crate::store::Store;
use crate::web::edition::Edition;
use crate::web::page;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// The server's view of one edition.
pub(crate) struct Catalog {
    /// The edition, as `site` builds it.
    pub(crate) ed: Edition,
    /// The search index: the store's (latest version) or one made for this version.
    pub(crate) search: SearchIndex,
    records: Records,
    pages: PageTable,
    /// The store, where proofs are made on request (through the version's tree cache, not the
    /// whole tree held in memory: it is about as large as the edition's table).
    pub(crate) store: Store,
    /// One proof at a time: without the tree cache a proof reads the version's whole tree
    /// (and writes the cache), which must not happen on every render thread at once.
    pub(crate) proving: std::sync::Mutex<()>,
    /// The lists, grouped once at startup.
    pub(crate) lists: crate::web::page::lists::ListCache,
    /// The home and about pages, made once.
    pub(crate) home: Vec<u8>,
    pub(crate) about: Vec<u8>,
}

impl Catalog {
    /// The catalog of `collection`'s `version`: the edition, the records' places, the search
    /// index (the store's when the version is the latest, brought up to date; else one made
    /// for this run).
    pub(crate) fn build(
        store: &Store,
        collection: &str,
        version: Option<u32>,
        progress: &dyn Progress,
    ) -> Result<Catalog> {
        let v = store.resolve_version(collection, version)?;
        let version = VersionRef::read(store, collection, v)?;
        progress.start("reading the cables", version.cables);
        let ed = Edition::build(store, version.clone(), &|_| true, None, progress)?;
        progress.finish();
        progress.start("finding the records", ed.cables.len() as u64);
        let archive = store.open_zip(collection, v, crate::bag::Reading::Index)?;
        let records = Records::build(archive, &ed, progress)?;
        progress.finish();
        let pages = PageTable::build(&ed);
        let search = if store.latest(collection)? == Some(v) {
            SearchIndex::open(store, progress)?.0
        } else {
            SearchIndex::temporary(store, &version, &|_| true, progress)?
        };
        let lists = crate::web::page::lists::ListCache::new();
        lists.lists(&ed);
        Ok(Catalog {
            store: store.clone(),
            proving: std::sync::Mutex::new(()),
            lists,
            home: page::home::home(&ed),
            about: page::home::about(&ed),
            ed,
            search,
            records,
            pages,
        })
    }

    /// The number (in the edition) of the cable whose page or alias page is `path`.
    pub(crate) fn cable_at(&self, path: &str) -> Option<usize> {
        self.pages.find(&self.ed, path)
    }

    /// Reads cable number `index`'s records (as `site` reads them with the same `need`).
    pub(crate) fn load(&self, index: usize, need: Need) -> Result<Selected> {
        self.records.load(index, need)
    }
}

/// Where each cable's index line and record entries lie in the temporary file.
struct Records {
    /// The archive, opened once; each read uses a handle of its own on the same file.
    zip: std::sync::Arc<dyn crate::bag::ReadAt>,
    zip_path: PathBuf,
    zip_len: u64,
    folder: String,
    /// The temporary file.
    file: File,
    /// Per cable of the edition: offset and length of its [`Stored`] in `file`.
    spans: Vec<(u64, u32)>,
}

/// What the temporary file holds for a cable: its index line, and the zip entries of its
/// captures' records and of its current capture's raw bytes (a format 2 record's text lies
/// there).
#[derive(Serialize, Deserialize)]
struct Stored<L> {
    line: L,
    entries: Vec<StoredEntry>,
}

/// A zip entry as the central directory gave it.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    name: String,
    method: u16,
    flags: u16,
    crc32: u32,
    compressed_size: u64,
    uncompressed_size: u64,
    local_header_offset: u64,
    data_offset: Option<u64>,
}

impl StoredEntry {
    fn of(e: &Entry) -> StoredEntry {
        StoredEntry {
            name: e.name.clone(),
            method: e.method,
            flags: e.flags,
            crc32: e.crc32,
            compressed_size: e.compressed_size,
            uncompressed_size: e.uncompressed_size,
            local_header_offset: e.local_header_offset,
            data_offset: e.data_offset,
        }
    }

    fn entry(self) -> Entry {
        Entry {
            name: self.name,
            method: self.method,
            flags: self.flags,
            crc32: self.crc32,
            compressed_size: self.compressed_size,
            uncompressed_size: self.uncompressed_size,
            local_header_offset: self.local_header_offset,
            data_offset: self.data_offset,
        }
    }
}

impl Records {
    /// Streams the index once and finds each cable's entries by reading the zip's directory
    /// forward in step with it (both list cables in id order), as `select::stream` does; an
    /// entry not where expected is looked up in the archive's table, read only then.
    fn build(archive: OpenArchive, ed: &Edition, progress: &dyn Progress) -> Result<Records> {
        let zip_path = archive.path.clone();
        let zip_path = zip_path.as_path();
        let folder = archive.folder.clone().unwrap_or_default();
        let tmp = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let mut out = BufWriter::with_capacity(1 << 16, &tmp);
        let mut cursor = archive.directory_cursor()?;
        let mut table: Option<OpenArchive> = None;
        let mut spans = vec![(0u64, 0u32); ed.cables.len()];
        let mut offset = 0u64;
        let mut failed: Option<Error> = None;
        select::for_each_line(&archive, |line| {
            if failed.is_some() {
                return;
            }
            let Some((index, _)) = ed.cable(&line.id) else {
                return;
            };
            let mut find = |bag_path: &str| -> Result<Option<Entry>> {
                let name = format!("{folder}/{bag_path}");
                if let Some(entry) = cursor.find_unread(&name).at(zip_path)? {
                    return Ok(Some(entry));
                }
                if table.is_none() {
                    table = Some(archive.reopen(crate::bag::Reading::Captures)?);
                }
                Ok(table.as_ref().and_then(|t| t.entry(bag_path).cloned()))
            };
            let written = entries_of(line, &mut find).and_then(|entries| {
                let bytes = serde_json::to_vec(&Stored { line, entries })
                    .map_err(|e| Error::Invalid(format!("cable {}: {e}", line.id)))?;
                out.write_all(&bytes)
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                Ok(bytes.len())
            });
            match written {
                Ok(len) => {
                    spans[index] = (offset, len as u32);
                    offset += len as u64;
                    progress.inc(1);
                }
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        out.flush()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        drop(out);
        Ok(Records {
            zip_len: archive.index.file_len,
            zip: archive.file.clone(),
            zip_path: zip_path.to_path_buf(),
            folder,
            file: tmp,
            spans,
        })
    }

    /// Reads cable `index`'s records at their entries.
    fn load(&self, index: usize, need: Need) -> Result<Selected> {
        let tmp = || std::env::temp_dir();
        let (offset, len) = self.spans.get(index).copied().unwrap_or_default();
        let mut bytes = vec![0; len as usize];
        self.file
            .read_exact_at(&mut bytes, offset)
            .map_err(|e| Error::io(tmp(), e))?;
        let stored: Stored<IndexLine> =
            serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path: tmp(),
                message: format!("the server's table of cables is damaged ({e})"),
            })?;
        let mut index = ZipIndex::default();
        index.entries = stored.entries.into_iter().map(StoredEntry::entry).collect();
        index.readable = true;
        index.file_len = self.zip_len;
        let archive = OpenArchive {
            path: self.zip_path.clone(),
            file: self.zip.clone(),
            index,
            folder: Some(self.folder.clone()),
            label: self.zip_path.display().to_string(),
        };
        select::load_cable(&archive, stored.line, need)
    }
}

/// The entries `select::load_cable` reads for `line`: every capture's record and raw bytes (a
/// format 2 record's text is rebuilt from them, for the page's differences between captures),
/// looked up in path order (the directory's). A missing one is left out:
/// reading the cable then says it is missing.
fn entries_of(
    line: &IndexLine,
    find: &mut dyn FnMut(&str) -> Result<Option<Entry>>,
) -> Result<Vec<StoredEntry>> {
    let mut wanted: Vec<&str> = line
        .captures
        .iter()
        .map(|c| c.record.as_str())
        .chain(line.captures.iter().map(|c| c.raw.as_str()))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut entries = Vec::with_capacity(wanted.len());
    for path in wanted {
        if let Some(entry) = find(path)? {
            entries.push(StoredEntry::of(&entry));
        }
    }
    Ok(entries)
}

/// Every cable page and alias page of the edition, sorted by path: (cable number, 0 for its
/// page or k for its k-th alias). Eight bytes a page; the paths stay in the edition.
struct PageTable(Vec<(u32, u32)>);

impl PageTable {
    fn build(ed: &Edition) -> PageTable {
        let mut pages: Vec<(u32, u32)> = ed
            .cables
            .iter()
            .enumerate()
            .flat_map(|(i, c)| (0..=c.aliases.len() as u32).map(move |k| (i as u32, k)))
            .collect();
        pages.sort_unstable_by(|a, b| Self::path(ed, *a).cmp(Self::path(ed, *b)));
        PageTable(pages)
    }

    fn path(ed: &Edition, (cable, k): (u32, u32)) -> &str {
        let c = &ed.cables[cable as usize];
        match k {
            0 => &c.page,
            k => &c.aliases[k as usize - 1],
        }
    }

    fn find(&self, ed: &Edition, path: &str) -> Option<usize> {
        let at = self
            .0
            .binary_search_by(|p| Self::path(ed, *p).cmp(path))
            .ok()?;
        Some(self.0[at].0 as usize)
    }
}
