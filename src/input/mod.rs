//! Ingest: finding the input pages among files, folders (recursively) and zip files, safely.

mod zip_file;

use crate::cable::Format;
use crate::error::{Error, IoContext, Result};
use crate::finding::{Code, Finding};
use std::path::{Path, PathBuf};

pub use zip_file::{DEFAULT_MAX_ZIP_BYTES, DEFAULT_MAX_ZIP_MEMBERS, MemberAt};

/// Pages larger than this are refused (the largest real WikiLeaks page is about 140 KB).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;
/// File endings taken when walking a folder; files given by name are always taken.
pub const PAGE_EXTENSIONS: &[&str] = &["html", "htm", "txt"];

/// How inputs are found and read.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Inputs larger than this are refused (finding `I002`).
    pub max_bytes: u64,
    /// The reader for every input (`--format`); None detects each page's format. Files ending
    /// `.csv` given by name are read as `cables.csv` bulk tables whatever this says.
    pub format: Option<Format>,
    /// An input zip's members past this many are not read (finding `I006`).
    pub max_zip_members: u64,
    /// An input zip's members are read until they hold this many bytes in all (finding `I006`).
    pub max_zip_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bytes: DEFAULT_MAX_INPUT_BYTES,
            format: None,
            max_zip_members: DEFAULT_MAX_ZIP_MEMBERS,
            max_zip_bytes: DEFAULT_MAX_ZIP_BYTES,
        }
    }
}

/// One input page: a stable name for it and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputItem {
    /// The page's name relative to what the user gave (e.g. `dev/cable/2005/01/05COLOMBO35.html`,
    /// or `pages.zip/a/b.html` for a zip member). It does not depend on where the input lies.
    pub name: String,
    /// Where its bytes are read from when the page is ingested.
    pub source: InputSource,
    /// The reader to use; None detects the format from the bytes.
    pub format: Option<Format>,
}

/// Where an input's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// A regular file, read with a limit: one that grew past it since it was listed is an
    /// error (its size when listed was within it).
    File {
        /// The file's path as opened (absolute or relative to the current folder).
        path: PathBuf,
        /// The most bytes the read accepts: the input limit (`--max-input-bytes`) when the file
        /// was listed, no limit for [`InputItem::file`].
        max_bytes: u64,
    },
    /// Bytes in memory.
    Bytes(std::sync::Arc<Vec<u8>>),
    /// A member of an input zip, read when it is needed. The path is shared by all the
    /// members of a zip.
    ZipMember {
        /// Path of the input zip.
        zip: std::sync::Arc<Path>,
        /// Where the member's bytes lie in the zip, and their size and CRC-32.
        at: MemberAt,
    },
    /// A staged input's blob (`.cablekeep/stage/blobs/<sha256>`): its bytes are checked against
    /// the size and digest recorded when it was staged every time they are read.
    Staged {
        /// Path of the blob in the store.
        path: PathBuf,
        /// SHA-256 the bytes must have (lower-case hex), as recorded in the stage.
        sha256: String,
        /// Size the bytes must have, in bytes.
        len: u64,
    },
    /// A byte range of a file: one row of a bulk table, read again when it is needed. The path
    /// is shared by all the rows of a table (a copy per row would cost memory per cable).
    Range {
        /// Path of the file holding the range (the bulk table).
        path: std::sync::Arc<Path>,
        /// Where the range starts, in bytes from the start of the file.
        offset: u64,
        /// Length of the range, in bytes (the row's line end included).
        len: u64,
    },
}

impl InputItem {
    /// A file on disk, its format detected.
    pub fn file(name: impl Into<String>, path: impl Into<PathBuf>) -> InputItem {
        InputItem::file_within(name, path, u64::MAX)
    }

    /// A file on disk that must not be longer than `max_bytes` when it is read.
    fn file_within(name: impl Into<String>, path: impl Into<PathBuf>, max_bytes: u64) -> Self {
        InputItem {
            name: name.into(),
            source: InputSource::File {
                path: path.into(),
                max_bytes,
            },
            format: None,
        }
    }

    /// Bytes in memory, their format detected.
    pub fn bytes(name: impl Into<String>, bytes: Vec<u8>) -> InputItem {
        InputItem {
            name: name.into(),
            source: InputSource::Bytes(std::sync::Arc::new(bytes)),
            format: None,
        }
    }

    /// The same input, read with the given reader.
    pub fn with_format(mut self, format: Option<Format>) -> InputItem {
        self.format = format;
        self
    }

    /// The input's bytes.
    pub fn load(&self) -> Result<Vec<u8>> {
        match &self.source {
            InputSource::File { path, max_bytes } => {
                crate::fsutil::read_regular_file(path, *max_bytes)
            }
            InputSource::Bytes(b) => Ok(b.as_ref().clone()),
            InputSource::ZipMember { zip, at } => zip_file::read_member(zip, &self.name, at),
            InputSource::Range { path, offset, len } => read_range(path, *offset, *len),
            InputSource::Staged { path, sha256, len } => read_staged(path, sha256, *len),
        }
    }
}

/// A staged blob's bytes, refused when they are not the bytes that were staged (a blob changed
/// on disk would otherwise be archived as if it were the input).
fn read_staged(path: &Path, sha256: &str, len: u64) -> Result<Vec<u8>> {
    let bytes = crate::fsutil::read_regular_file(path, len)?;
    let found = crate::hash::sha256_hex(&bytes);
    if found != sha256 {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            message: format!(
                "this staged blob changed after it was staged (its SHA-256 is {found}, the stage \
                 recorded {sha256}); nothing was written: `cablekeep add` the input again"
            ),
        });
    }
    Ok(bytes)
}

fn read_range(path: &Path, offset: u64, len: u64) -> Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).at(path)?;
    file.seek(SeekFrom::Start(offset)).at(path)?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf).at(path)?;
    if buf.len() as u64 != len {
        return Err(Error::Invalid(format!(
            "{}: the file is shorter than when it was read",
            path.display()
        )));
    }
    Ok(buf)
}

/// An input as found: one page, or the rows of a bulk table, which become pages one at a time
/// as they are read (a row here is 24 bytes, several times smaller than a page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A single page: a file, a zip member, a staged blob or bytes in memory.
    One(InputItem),
    /// The rows of a `cables.csv` bulk table, each a page of its own.
    Rows(TableRows),
}

impl Input {
    /// How many pages it is.
    pub fn count(&self) -> usize {
        match self {
            Input::One(_) => 1,
            Input::Rows(t) => t.rows.len(),
        }
    }

    /// The name it sorts by: a page's, or a table's first row's (its rows follow each other).
    fn sort_name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Input::One(item) => std::borrow::Cow::Borrowed(&item.name),
            Input::Rows(t) => std::borrow::Cow::Owned(t.row_name(0)),
        }
    }

    /// Its pages, in order: each row of a table made when it is reached.
    pub fn items(&self) -> impl Iterator<Item = InputItem> + '_ {
        let (one, rows) = match self {
            Input::One(item) => (Some(item.clone()), None),
            Input::Rows(t) => (None, Some((0..t.rows.len()).map(|i| t.item(i)))),
        };
        one.into_iter().chain(rows.into_iter().flatten())
    }
}

impl From<InputItem> for Input {
    fn from(item: InputItem) -> Input {
        Input::One(item)
    }
}

/// The rows of a `cables.csv` bulk table, as byte ranges of the file (read again when needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRows {
    /// The table's name relative to what the user gave.
    name: String,
    path: std::sync::Arc<Path>,
    rows: Vec<RowRange>,
}

/// A row of a bulk table: its number and where it is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowRange {
    number: u64,
    offset: u64,
    len: u64,
}

impl TableRows {
    /// How many rows it has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table holds no rows at all.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i` (counted from 0) as a page, named `<table>#<row number, 9 digits>` so that
    /// rows sort in file order.
    pub fn item(&self, i: usize) -> InputItem {
        let row = self.rows[i];
        InputItem {
            name: self.row_name(i),
            source: InputSource::Range {
                path: self.path.clone(),
                offset: row.offset,
                len: row.len,
            },
            format: Some(Format::CablesCsv),
        }
    }

    fn row_name(&self, i: usize) -> String {
        format!("{}#{:09}", self.name, self.rows[i].number)
    }
}

/// What was found among the inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Pages and tables, sorted by name (a table by its first row's).
    pub items: Vec<Input>,
    /// Problems with inputs that were skipped (unsafe zip member names, oversized files,
    /// special files met in folders).
    pub findings: Vec<Finding>,
    /// Files seen in folders that are not pages (by their ending), skipped.
    pub skipped: Vec<String>,
}

/// Collects the pages in `paths`: files as given, folders recursively (page files only, hidden
/// files and folders skipped), zip files member by member. A path that does not exist, or that
/// is neither a folder nor a regular file (a FIFO, a device, a socket), is an error: it is
/// refused before it is opened, since opening a FIFO waits for a writer and a device may never
/// end. Such files met in a folder are skipped with a finding (`I005`), as are symbolic links
/// there (a link given by name is followed).
pub fn collect(paths: &[PathBuf], options: &Options) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for path in paths {
        let meta = std::fs::metadata(path).at(path)?;
        let base = display_name(path);
        if meta.is_dir() {
            walk_folder(path, &base, options, &mut inputs)?;
            continue;
        }
        crate::fsutil::require_regular_file(path)?;
        if is_table(path, options) {
            add_table(path, &base, options.max_bytes, &mut inputs)?;
        } else {
            add_file(path, base, options, &mut inputs)?;
        }
    }
    for input in &mut inputs.items {
        if let Input::One(item) = input
            && item.format.is_none()
        {
            item.format = options.format;
        }
    }
    // A table with no rows is no input (and has no first row to sort by).
    inputs.items.retain(|i| i.count() > 0);
    inputs
        .items
        .sort_by(|a, b| a.sort_name().cmp(&b.sort_name()));
    drop_repeated_inputs(&mut inputs.items);
    Ok(inputs)
}

/// Drops an input given twice (the same file named twice, or a folder given twice): one with
/// the name and the source of an input before it. Names alone do not tell: they do not depend
/// on where inputs lie, so `a/cables.csv` and `b/cables.csv` are both `cables.csv`, and both
/// are read. `items` is sorted by name, so inputs of the same name are neighbours; only they
/// have their sources compared (a path resolved once each, however many share the name).
fn drop_repeated_inputs(items: &mut Vec<Input>) {
    let mut repeated = Vec::with_capacity(items.len());
    for run in items.chunk_by(|a, b| a.sort_name() == b.sort_name()) {
        let mut seen = std::collections::HashSet::new();
        repeated.extend(
            run.iter()
                .map(|input| run.len() > 1 && !seen.insert(source_key(input))),
        );
    }
    let mut repeated = repeated.into_iter();
    items.retain(|_| !repeated.next().unwrap_or(false));
}

/// What an input reads, comparable: a file by its resolved path (however it was spelled), a
/// table's row by its place in the file, a zip member by its zip and its place in the zip.
#[derive(PartialEq, Eq, Hash)]
enum SourceKey<'a> {
    File(PathBuf),
    Table(PathBuf),
    Range(PathBuf, u64, u64),
    Bytes(&'a [u8]),
    ZipMember(PathBuf, u64),
}

fn source_key(input: &Input) -> SourceKey<'_> {
    let resolved = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    match input {
        Input::Rows(t) => SourceKey::Table(resolved(&t.path)),
        Input::One(item) => match &item.source {
            InputSource::File { path, .. } | InputSource::Staged { path, .. } => {
                SourceKey::File(resolved(path))
            }
            InputSource::Bytes(b) => SourceKey::Bytes(b.as_slice()),
            InputSource::ZipMember { zip, at } => {
                SourceKey::ZipMember(resolved(zip), at.local_header_offset)
            }
            InputSource::Range { path, offset, len } => {
                SourceKey::Range(resolved(path), *offset, *len)
            }
        },
    }
}

impl Inputs {
    /// How many pages were found, each row of a table one.
    pub fn count(&self) -> usize {
        self.items.iter().map(Input::count).sum()
    }

    /// Every page found, in order, each row of a table made when it is reached.
    pub fn pages(&self) -> impl Iterator<Item = InputItem> + '_ {
        self.items.iter().flat_map(Input::items)
    }
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn walk_folder(root: &Path, base: &str, options: &Options, inputs: &mut Inputs) -> Result<()> {
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.to_path_buf());
            Error::io(
                path,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let name = format!("{base}/{}", rel.to_string_lossy().replace('\\', "/"));
        let ext = extension(entry.path());
        let wanted = ext == "zip"
            || PAGE_EXTENSIONS.contains(&ext.as_str())
            || (ext == "csv" && options.format == Some(Format::CablesCsv));
        if !entry.file_type().is_file() {
            if wanted {
                let kind =
                    crate::fsutil::special_kind(entry.file_type()).unwrap_or("not a regular file");
                inputs.findings.push(Finding::new(
                    Code::NotRegularFile,
                    name,
                    format!("{kind}: not read (only regular files in folders are read)"),
                ));
            } else {
                inputs.skipped.push(name);
            }
            continue;
        }
        if ext == "csv" && options.format == Some(Format::CablesCsv) {
            add_table(entry.path(), &name, options.max_bytes, inputs)?;
        } else if ext == "zip" || PAGE_EXTENSIONS.contains(&ext.as_str()) {
            add_file(entry.path(), name, options, inputs)?;
        } else {
            inputs.skipped.push(name);
        }
    }
    Ok(())
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A bulk table: a file given by name that ends `.csv`, or any file with `--format cables-csv`.
fn is_table(path: &Path, options: &Options) -> bool {
    options.format == Some(Format::CablesCsv) || extension(path) == "csv"
}

/// Splits a `cables.csv` table into its rows, each a byte range of the file read again when
/// needed, so the table is streamed and never held in memory.
fn add_table(path: &Path, name: &str, max_bytes: u64, inputs: &mut Inputs) -> Result<()> {
    let file = std::fs::File::open(path).at(path)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut table = TableRows {
        name: name.to_string(),
        path: std::sync::Arc::from(path),
        rows: Vec::new(),
    };
    crate::cable::bulk::split_rows_with_offsets(reader, |row| {
        let entry = format!("row {}", row.number);
        for problem in row.problems {
            inputs
                .findings
                .push(Finding::new(Code::BrokenMarkup, name, problem).at_entry(&entry));
        }
        if row.len > max_bytes {
            inputs.findings.push(
                Finding::new(
                    Code::InputTooLarge,
                    name,
                    format!("{} bytes is over the limit of {max_bytes}", row.len),
                )
                .at_entry(entry),
            );
            return;
        }
        table.rows.push(RowRange {
            number: row.number,
            offset: row.offset,
            len: row.len,
        });
    })
    .at(path)?;
    table.rows.shrink_to_fit();
    inputs.items.push(Input::Rows(table));
    Ok(())
}

fn add_file(path: &Path, name: String, options: &Options, inputs: &mut Inputs) -> Result<()> {
    let max_bytes = options.max_bytes;
    if extension(path) == "zip" {
        return zip_file::add_zip(path, &name, options, inputs);
    }
    let len = std::fs::metadata(path).at(path)?.len();
    if len > max_bytes {
        inputs.findings.push(Finding::new(
            Code::InputTooLarge,
            name,
            format!("{len} bytes is over the limit of {max_bytes} (see --max-input-bytes)"),
        ));
        return Ok(());
    }
    inputs
        .items
        .push(InputItem::file_within(name, path, max_bytes).into());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
        path.to_path_buf()
    }

    fn names(inputs: &Inputs) -> Vec<String> {
        inputs.pages().map(|p| p.name).collect()
    }

    const ROW: &str = "\"1\",\"1/13/2010 14:31\",\"10ATLANTIS7\",\"Embassy Atlantis\",\
                       \"CONFIDENTIAL\",\"\",\"HEADER\",\"TEXT\"\n";

    #[test]
    fn different_files_of_the_same_name_are_both_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(&dir.path().join("a/x.html"), "first");
        let b = write(&dir.path().join("b/x.html"), "second");
        let inputs = collect(&[a.clone(), b, a], &Options::default()).expect("collect");
        assert_eq!(names(&inputs), ["x.html", "x.html"]);
        let bytes: Vec<Vec<u8>> = inputs.pages().map(|p| p.load().expect("load")).collect();
        assert_eq!(bytes, [b"first".to_vec(), b"second".to_vec()]);

        let a = write(&dir.path().join("a/cables.csv"), ROW);
        let b = write(
            &dir.path().join("b/cables.csv"),
            &ROW.replace("ATLANTIS7", "ATLANTIS8"),
        );
        let inputs = collect(&[a, b], &Options::default()).expect("collect");
        assert_eq!(inputs.count(), 2, "both tables' rows");
    }

    #[test]
    fn a_zip_given_twice_is_read_once_a_member_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pages.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        for (name, text) in [("a.html", "first"), ("b/c.html", "second")] {
            let options = zip::write::SimpleFileOptions::default();
            z.start_file(name, options).expect("start");
            std::io::Write::write_all(&mut z, text.as_bytes()).expect("write");
        }
        z.finish().expect("finish");
        let inputs = collect(&[path.clone(), path], &Options::default()).expect("collect");
        assert_eq!(names(&inputs), ["pages.zip/a.html", "pages.zip/b/c.html"]);
        let pages: Vec<InputItem> = inputs.pages().collect();
        assert!(matches!(pages[0].source, InputSource::ZipMember { .. }));
        assert_eq!(pages[1].load().expect("load"), b"second");
    }

    #[test]
    fn a_file_or_folder_given_twice_is_read_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let page = write(&dir.path().join("pages/x.html"), "page");
        let table = write(&dir.path().join("pages/cables.csv"), ROW);
        let respelled = dir.path().join("pages/../pages/x.html");
        let folder = dir.path().join("pages");
        let given = [
            page.clone(),
            respelled,
            table.clone(),
            table,
            folder.clone(),
            folder,
        ];
        let inputs = collect(&given, &Options::default()).expect("collect");
        assert_eq!(
            names(&inputs),
            ["cables.csv#000000001", "pages/x.html", "x.html"]
        );
    }
}
