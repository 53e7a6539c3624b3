//! Writing a static edition: the table of cables first ([`Edition::build`]), then every
//! cable's page (records streamed from the archive, pages rendered on every core), the lists,
//! home, about and search pages, the style sheet and the seal files; `SHA256SUMS` lists every
//! file as it is written. The edition is written into a locked temporary folder beside `--out`
//! and renamed into place when complete, so no half-written edition is ever visible.

use super::edition::Edition;
use super::page;
use super::search::{DocRows, DocTable};
use crate::bag::capture::IndexLine;
use crate::error::{Error, IoContext, Result};
use crate::progress::Progress;
use crate::query::select::{self, Facts, Filter, Need, Selected, VersionRef};
use crate::scratch::ScratchDir;
use crate::seal::SealedVersion;
use crate::store::Store;
use rayon::prelude::*;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The checksum file at an edition's root, in `sha256sum` format.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// The style sheet every page links (`style.css`): the layout's, the cable page's and the
/// search page's rules, kept in three files and served as one.
pub const STYLE_CSS: &str = concat!(
    include_str!("assets/style.css"),
    include_str!("assets/cable.css"),
    include_str!("assets/search.css")
);

/// What a cable's page is made of: every capture's record (sources, and the older captures'
/// texts for the differences between captures). `serve` reads a cable with the same, so that
/// its pages are the files `site` writes.
pub(crate) const CABLE_PAGE_NEED: Need = Need {
    bytes: false,
    sources: true,
    skip_text: false,
    older: true,
};

/// What edition to write.
pub struct SiteRequest<'a> {
    /// The collection.
    pub collection: &'a str,
    /// The version (default: the latest).
    pub version: Option<u32>,
    /// Which cables (`export --format site`); an empty filter takes every cable.
    pub filter: &'a Filter,
    /// The folder to create; it must not exist, or be empty.
    pub out: &'a Path,
    /// Write each cable's proof (in its page's folder) when the version is sealed.
    pub proofs: bool,
    /// Report progress here.
    pub progress: &'a dyn Progress,
}

/// What an edition holds.
#[derive(Debug, Clone)]
pub struct SiteOutcome {
    /// The version shown.
    pub version: VersionRef,
    /// Cables, each with its page.
    pub cables: usize,
    /// Files written (`SHA256SUMS` included).
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Bytes of the search page's index (`search/`).
    pub search_bytes: u64,
    /// The folder written.
    pub out: PathBuf,
}

/// Writes the static edition of a collection version (or of the cables a filter selects).
pub fn write_site(store: &Store, req: SiteRequest<'_>) -> Result<SiteOutcome> {
    let v = store.resolve_version(req.collection, req.version)?;
    let version = VersionRef::read(store, req.collection, v)?;
    crate::export::check_out(store, req.out)?;
    let ids = crate::export::query_ids(store, &version, req.filter, req.progress)?;
    let keep = |l: &IndexLine| {
        req.filter.matches(&Facts::of(l)) && ids.as_ref().is_none_or(|ids| ids.contains(&l.id))
    };
    let subset = (!req.filter.is_empty()).then(|| req.filter.describe());
    let parent = match req.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).at(&parent)?;
    let scratch = ScratchDir::create_in(&parent)?;
    let files = SiteFiles::create(scratch.path())?;
    // Proofs first, from the cable index alone: the sealed version's tree is about as large as
    // the edition's table, so the two are never held together.
    let sealed = match req.proofs {
        true => crate::seal::for_export(store, &version.collection, version.version, false)?,
        false => None,
    };
    let proofs = sealed.is_some();
    if let Some(sealed) = sealed {
        req.progress.start("writing proofs", version.cables);
        write_proofs(store, &version, &keep, &sealed, &files, req.progress)?;
        req.progress.finish();
    }
    req.progress.start("reading the cables", version.cables);
    let ed = Edition::build(store, version, &keep, subset, req.progress)?;
    req.progress.finish();
    req.progress
        .start("writing cable pages", ed.cables.len() as u64);
    let docs = write_cable_pages(store, &ed, &keep, proofs, &files, req.progress)?;
    req.progress.finish();
    write_other_pages(store, &ed, &files, docs, req.progress)?;
    let cables = ed.cables.len();
    let version = ed.version.clone();
    drop(ed);
    let (count, bytes, search_bytes) = files.finish()?;
    // One flush of the whole edition, then the rename that makes it visible, then its folder.
    crate::fsutil::sync_file_system(scratch.path())?;
    scratch.publish(req.out)?;
    crate::fsutil::fsync_parent(req.out)?;
    Ok(SiteOutcome {
        cables,
        version,
        files: count,
        bytes,
        search_bytes,
        out: req.out.to_path_buf(),
    })
}

/// Streams the selected cables' records and writes each cable's page (linking its proof when
/// `proofs`) and alias pages, rendered in parallel; `SHA256SUMS` lists them in index order.
/// The search page's document table is gathered from the same records.
fn write_cable_pages(
    store: &Store,
    ed: &Edition,
    keep: select::Keep<'_>,
    proofs: bool,
    files: &SiteFiles,
    progress: &dyn Progress,
) -> Result<DocTable> {
    let archive = store.open_zip(
        &ed.version.collection,
        ed.version.version,
        crate::bag::Reading::Index,
    )?;
    let need = CABLE_PAGE_NEED;
    let render = |cables: Vec<Selected>| -> Result<(Vec<Sum>, DocRows)> {
        let mut sums = Vec::with_capacity(cables.len() * 2);
        for cable in &cables {
            let (index, _) = ed.cable(&cable.line.id).ok_or_else(|| Error::Corrupt {
                path: archive.path.clone(),
                message: format!("cable {} appeared twice in the index", cable.line.id),
            })?;
            for (path, bytes) in page::cable::page_files(ed, index, cable, proofs) {
                sums.push(files.write(&path, &bytes)?);
            }
        }
        let rows = DocTable::rows_of(ed, &cables)?;
        progress.inc(cables.len() as u64);
        Ok((sums, rows))
    };
    let mut docs = DocTable::new();
    select::stream_mapped(
        &archive,
        keep,
        need,
        &crate::progress::NoProgress,
        &render,
        |chunks| {
            for (sums, rows) in chunks {
                files.record(&sums)?;
                docs.add(files, rows)?;
            }
            Ok(())
        },
    )?;
    Ok(docs)
}

/// Writes each selected cable's proof in its page's folder, in parallel a batch at a time;
/// only the index is read (a proof names the cable's files, which its index line lists).
fn write_proofs(
    store: &Store,
    version: &VersionRef,
    keep: select::Keep<'_>,
    sealed: &SealedVersion,
    files: &SiteFiles,
    progress: &dyn Progress,
) -> Result<()> {
    let archive = store.open_zip(
        &version.collection,
        version.version,
        crate::bag::Reading::Index,
    )?;
    let write_batch = |lines: &[IndexLine]| -> Result<()> {
        let sums = lines
            .par_iter()
            .map(|line| {
                let (path, bytes) = page::cable::proof_file(sealed, line)?;
                files.write(&path, &bytes)
            })
            .collect::<Result<Vec<Sum>>>()?;
        progress.inc(lines.len() as u64);
        files.record(&sums)
    };
    let mut batch = Vec::with_capacity(select::BATCH);
    let mut failed = None;
    select::for_each_line(&archive, |line| {
        if failed.is_some() || !keep(line) {
            return;
        }
        batch.push(line.clone());
        if batch.len() == select::BATCH {
            failed = write_batch(&batch).err();
            batch.clear();
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    write_batch(&batch)
}

/// The lists, home, about and search pages, the style sheet and the seal files.
fn write_other_pages(
    store: &Store,
    ed: &Edition,
    files: &SiteFiles,
    docs: DocTable,
    progress: &dyn Progress,
) -> Result<()> {
    page::lists::for_each_list_page(ed, &mut |path, bytes| files.put(&path, &bytes))?;
    files.put("index.html", &page::home::home(ed))?;
    files.put("about.html", &page::home::about(ed))?;
    files.put("style.css", STYLE_CSS.as_bytes())?;
    if let Some(seal) = &ed.seal {
        for (path, bytes) in &seal.files {
            files.put(path, bytes)?;
        }
    }
    super::search::write_search(store, ed, files, docs, progress)
}

/// A file written and its `SHA256SUMS` line.
pub struct Sum(String);

/// The files of an edition being written: each is written once, its digest kept for
/// `SHA256SUMS` in the order the writer records them (so the file's bytes do not depend on
/// which thread finished first).
pub struct SiteFiles {
    root: PathBuf,
    sums: Mutex<BufWriter<File>>,
    folders: Mutex<HashSet<PathBuf>>,
    files: AtomicU64,
    bytes: AtomicU64,
    search_bytes: AtomicU64,
}

impl SiteFiles {
    fn create(root: &Path) -> Result<SiteFiles> {
        let sums_path = root.join(SUMS_FILE);
        let sums = File::create(&sums_path).at(&sums_path)?;
        Ok(SiteFiles {
            root: root.to_path_buf(),
            sums: Mutex::new(BufWriter::with_capacity(1 << 16, sums)),
            folders: Mutex::new(HashSet::new()),
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            search_bytes: AtomicU64::new(0),
        })
    }

    /// Writes the file at `path` (relative to the edition's root, made by the edition: plain
    /// segments only) and returns its `SHA256SUMS` line, to be [`SiteFiles::record`]ed.
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<Sum> {
        let plain = !path.is_empty()
            && path
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'));
        if !plain || path == SUMS_FILE {
            return Err(Error::Invalid(format!(
                "the edition would write a file at {path:?}, which is not a plain relative path"
            )));
        }
        let full = self.root.join(path);
        if let Some(folder) = full.parent() {
            self.make_folder(folder)?;
        }
        // A plain create: an edition has a file or two per cable, so they are flushed together
        // (one syncfs) before the folder is renamed into place (see `write_site`).
        std::fs::write(&full, bytes).at(&full)?;
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if path.starts_with("search/") || path == "search.html" {
            self.search_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
        Ok(Sum(format!("{}  {path}\n", crate::hash::sha256_hex(bytes))))
    }

    /// Adds written files to `SHA256SUMS`, in the order given.
    pub fn record<'a>(&self, sums: impl IntoIterator<Item = &'a Sum>) -> Result<()> {
        let mut out = self.sums.lock().unwrap_or_else(|e| e.into_inner());
        for Sum(line) in sums {
            out.write_all(line.as_bytes())
                .at(self.root.join(SUMS_FILE))?;
        }
        Ok(())
    }

    /// Writes a file and records it at once.
    pub fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let sum = self.write(path, bytes)?;
        self.record([&sum])
    }

    fn make_folder(&self, folder: &Path) -> Result<()> {
        let mut made = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        if !made.contains(folder) {
            std::fs::create_dir_all(folder).at(folder)?;
            made.insert(folder.to_path_buf());
        }
        Ok(())
    }

    /// Completes `SHA256SUMS`; returns the files (itself included), bytes and search bytes.
    fn finish(self) -> Result<(u64, u64, u64)> {
        let path = self.root.join(SUMS_FILE);
        let sums = self.sums.into_inner().unwrap_or_else(|e| e.into_inner());
        let file = sums
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        let size = file.metadata().at(&path)?.len();
        Ok((
            self.files.into_inner() + 1,
            self.bytes.into_inner() + size,
            self.search_bytes.into_inner(),
        ))
    }
}
