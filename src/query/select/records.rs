//! Streaming the selected cables' stored records from an archive: the index inflated and
//! parsed on its own thread, each batch's records found in the archive's directory and read in
//! parallel while the previous batch is handed on.

use crate::bag::capture::IndexLine;
use crate::bag::record::{RECORD_SCHEMA_2, TextAt, read_record_with};
use crate::bag::{DirectoryCursor, Entry, INDEX_FILE, OpenArchive};
use crate::cable::provenance::Source;
use crate::error::{Error, IoContext, Result};
use crate::jsonl::parse_json;
use crate::progress::Progress;
use rayon::prelude::*;
use serde::Deserialize;
use std::sync::mpsc::{Receiver, SyncSender};

/// How many selected cables are read at once: enough to keep every core busy, few enough that
/// memory stays flat whatever the corpus (a batch holds its records, about 10 MB).
pub const BATCH: usize = 512;

/// The redaction facts of a stored record that exports use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RedactionView {
    /// `redacted` or `not-redacted` (`redaction.status` in FORMAT.md section 3).
    pub status: String,
    /// Number of redaction runs in the text: 5 or more capital `X` in a row.
    pub runs: usize,
    /// True when the page says its text is only a partial extract of the cable.
    pub partial_extract: bool,
}

/// The capture facts of a stored record that exports use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CaptureView {
    /// The capture's name, `<released>_<sha256[0:12]>` (FORMAT.md section 2.5).
    pub name: String,
    /// Path of the capture's raw bytes in the bag.
    pub raw: String,
    /// SHA-256 of the raw bytes, lower-case hex: what a citation names to fix the exact copy.
    pub sha256: String,
    /// SHA-256 of the record's text.
    #[serde(default)]
    pub text_sha256: String,
    /// Format 2: where the text lies in the raw bytes, when the record leaves it out. Always
    /// None in a [`Selected`] record: the text is rebuilt when the record is read.
    #[serde(default)]
    pub text_at: Option<TextAt>,
}

/// The fields of a stored record (`cablekeep-record/1`) that exports, citations and the catalog
/// use. Reading only these is much cheaper than a whole [`crate::bag::capture::StoredRecord`]:
/// serde skips the others (paragraphs, recipients, redaction positions...) without building
/// them, and there is no flattened struct to buffer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordView {
    /// The record's schema: `cablekeep-record/1`, or `cablekeep-record/2` as format 2 stores it.
    #[serde(default)]
    pub schema: String,
    /// The id as the page gave it, when a reader repaired or mapped it.
    #[serde(default)]
    pub id_original: Option<String>,
    /// When the cable was sent, UTC (`YYYY-MM-DDTHH:MM:00Z`, or a bare date for partial extracts);
    /// None when the page gives no date.
    pub created: Option<String>,
    /// Release date at this capture's source, `YYYY-MM-DD`; None when undated.
    pub released: Option<String>,
    /// Classification as written, e.g. `CONFIDENTIAL//NOFORN`; None when the page gives none.
    pub classification: Option<String>,
    /// Handling caveats such as `NOFORN` or `SIPDIS`; empty when there are none.
    #[serde(default)]
    pub caveats: Vec<String>,
    /// The sending post, e.g. `Embassy Madrid`; None when the page does not say.
    pub origin: Option<String>,
    /// The TAGS, in page order; empty when the cable lists none.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The SUBJECT line, joined across lines; None when the cable has none.
    pub subject: Option<String>,
    /// The REF lines: canonical ids of cited cables, other references as text; empty when there are
    /// none.
    #[serde(default)]
    pub references: Vec<String>,
    /// The signature line(s); empty when none was found.
    #[serde(default)]
    pub signers: Vec<String>,
    /// The redaction facts of the record.
    pub redaction: RedactionView,
    /// Where the capture came from (publisher, URL, release, format).
    pub source: Source,
    /// The cable text (routing header and body), markup removed and entities decoded.
    pub text: String,
    /// The raw capture the record was read from.
    pub capture: CaptureView,
}

/// Only the provenance of an older capture's record (the catalog lists every capture's source)
/// and the id its page gave.
#[derive(Deserialize)]
struct SourceView {
    source: Source,
    #[serde(default)]
    id_original: Option<String>,
}

/// What a consumer of selected cables needs besides the current record's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Need {
    /// The current record's exact bytes (JSON Lines exports).
    pub bytes: bool,
    /// The source of every capture (the catalog and SQLite exports).
    pub sources: bool,
    /// Leave a format 2 record's text out (empty) instead of rebuilding it from the raw bytes:
    /// for readers of the other fields only (the web edition's table of cables).
    pub skip_text: bool,
    /// Every older capture's record too, text included (a cable page compares consecutive
    /// captures' texts). Implies [`Need::sources`].
    pub older: bool,
}

impl Need {
    /// True when the older captures' records are read at all (for their sources or whole).
    fn reads_older(self) -> bool {
        self.sources || self.older
    }
}

/// A selected cable: its index line and what was read of its records.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The cable's index line: id, current metadata and every capture.
    pub line: IndexLine,
    /// The current capture's record (the line's last capture).
    pub record: RecordView,
    /// The current record's bytes, when [`Need::bytes`]; else empty.
    pub bytes: Vec<u8>,
    /// Every capture's source in the line's order, when [`Need::sources`]; else empty.
    pub sources: Vec<Source>,
    /// The id each capture's page gave (its record's `id_original`, else the canonical id), in
    /// the line's order, when [`Need::sources`]; else empty.
    pub published_ids: Vec<String>,
    /// The older captures' records (all but the current one), in the line's order, when
    /// [`Need::older`]; else empty.
    pub older: Vec<RecordView>,
    /// The zip entries of the current capture's record and raw bytes, where they were found:
    /// a reader that keeps them (the search index) reads the text again without the directory.
    pub entries: Option<(Entry, Entry)>,
}

impl Selected {
    /// The id the cable was published under and is cited by (see
    /// [`crate::cable::CableRecord::published_id`]).
    pub fn published_id(&self) -> &str {
        self.record.id_original.as_deref().unwrap_or(&self.line.id)
    }
}

/// Which index lines to take.
pub type Keep<'a> = &'a (dyn Fn(&IndexLine) -> bool + Sync);

/// Streams the cables of an archive that `keep` selects, in index order, in batches of
/// [`BATCH`], to `each`. Nothing grows with the corpus: the index is inflated and parsed line by
/// line on its own thread, a batch's records are read and parsed in parallel while the previous
/// batch is handed to `each`. `progress` counts index lines. Returns the number of cables.
pub fn stream(
    archive: &OpenArchive,
    keep: Keep<'_>,
    need: Need,
    progress: &dyn Progress,
    mut each: impl FnMut(Vec<Selected>) -> Result<()> + Send,
) -> Result<usize> {
    stream_mapped(archive, keep, need, progress, &Ok, |chunks| {
        each(chunks.into_iter().flatten().collect())
    })
}

/// What [`stream_mapped`] makes of a chunk of selected cables, on the worker threads.
pub type Map<'a, T> = &'a (dyn Fn(Vec<Selected>) -> Result<T> + Sync);

/// Like [`stream`], but each batch is cut into chunks of up to [`CHUNK`] cables that `map`
/// turns into whatever `each` needs (formatted rows, say) in parallel, as the chunk's records
/// are read: the single consumer then only writes what was made for it. `each` gets a batch's
/// chunks in index order. Returns the number of cables.
pub fn stream_mapped<T: Send>(
    archive: &OpenArchive,
    keep: Keep<'_>,
    need: Need,
    progress: &dyn Progress,
    map: Map<'_, T>,
    each: impl FnMut(Vec<T>) -> Result<()> + Send,
) -> Result<usize> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        s.spawn(move || stream_index(archive, keep, progress, &tx));
        consume(archive, need, rx, map, each)
    })
}

/// Calls `each` with every line of an archive's index, in order, inflated and parsed as the
/// index streams (nothing else is read). Returns the number of lines.
pub fn for_each_line(archive: &OpenArchive, mut each: impl FnMut(&IndexLine)) -> Result<usize> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        s.spawn(move || stream_index(archive, &|_| true, &crate::progress::NoProgress, &tx));
        let mut n = 0;
        for batch in rx {
            for line in &batch? {
                each(line);
                n += 1;
            }
        }
        Ok(n)
    })
}

/// Reads the batches of lines from the index thread, loads and maps each batch's records and
/// hands the previous batch to `each` at the same time. Takes the receiver by value so that an
/// early return drops it, which stops the index thread.
fn consume<T: Send>(
    archive: &OpenArchive,
    need: Need,
    rx: Receiver<Result<Vec<IndexLine>>>,
    map: Map<'_, T>,
    mut each: impl FnMut(Vec<T>) -> Result<()> + Send,
) -> Result<usize> {
    let mut records = RecordFinder::new(archive)?;
    let mut pending: Option<Vec<T>> = None;
    let mut count = 0;
    loop {
        let next = rx.recv().ok().transpose()?;
        if next.is_none() && pending.is_none() {
            return Ok(count);
        }
        count += next.as_ref().map_or(0, Vec::len);
        let done = pending.take();
        let (loaded, written) = rayon::join(
            || {
                next.map(|lines| {
                    let located = records.locate(lines, need)?;
                    load_batch(archive, located, need, map)
                })
                .transpose()
            },
            || done.map_or(Ok(()), &mut each),
        );
        written?;
        pending = loaded?;
    }
}

/// Finds the zip entries of the records a selection reads by reading the archive's directory
/// forward, in step with the index: both list cables in id order, so no table of the archive's
/// entries is held (it would grow with the archive: ~140 bytes an entry). A record the
/// directory does not list where expected (out of order, missing, its header damaged) is looked
/// up in the table of every record, made the first time that happens, which says which.
struct RecordFinder<'a> {
    archive: &'a OpenArchive,
    cursor: DirectoryCursor<'a>,
    folder: String,
    table: Option<OpenArchive>,
}

/// An index line with the entries of the records read for it (the current capture's last), and
/// of the current capture's raw bytes (which a format 2 record may need for its text).
struct Located {
    line: IndexLine,
    records: Vec<Option<Entry>>,
    current_raw: Option<Entry>,
    /// With [`Need::older`], the older captures' raw entries (a format 2 record's text lies
    /// there), in the line's order; else empty.
    older_raws: Vec<Option<Entry>>,
}

impl<'a> RecordFinder<'a> {
    fn new(archive: &'a OpenArchive) -> Result<Self> {
        Ok(RecordFinder {
            archive,
            cursor: archive.directory_cursor()?,
            folder: archive.folder.clone().unwrap_or_default(),
            table: None,
        })
    }

    /// The entries of the records each line needs: its current capture's, and with
    /// [`Need::sources`] every older one's. None for a record the archive lacks.
    fn locate(&mut self, lines: Vec<IndexLine>, need: Need) -> Result<Vec<Located>> {
        lines
            .into_iter()
            .map(|line| {
                let older = match line.captures.split_last() {
                    Some((_, older)) if need.reads_older() => older,
                    _ => &[],
                };
                let older_raws = if need.older { older } else { &[] };
                let current = line.captures.last();
                // Looked up in path order, as the directory lists them: the records (the
                // current one last), the older raws asked for, the current raw.
                let mut wanted: Vec<(&str, usize)> = older
                    .iter()
                    .chain(current)
                    .map(|c| c.record.as_str())
                    .chain(older_raws.iter().map(|c| c.raw.as_str()))
                    .chain(current.map(|c| c.raw.as_str()))
                    .enumerate()
                    .map(|(i, path)| (path, i))
                    .collect();
                wanted.sort_unstable();
                let mut found = vec![None; wanted.len()];
                for (path, i) in wanted {
                    found[i] = self.entry(path)?;
                }
                let current_raw = if current.is_some() {
                    found.pop().flatten()
                } else {
                    None
                };
                let older_raws = found.split_off(found.len() - older_raws.len());
                Ok(Located {
                    line,
                    records: found,
                    current_raw,
                    older_raws,
                })
            })
            .collect()
    }

    fn entry(&mut self, bag_path: &str) -> Result<Option<Entry>> {
        let name = format!("{}/{bag_path}", self.folder);
        if let Some(entry) = self.cursor.find_unread(&name).at(&self.archive.path)? {
            return Ok(Some(entry));
        }
        if self.table.is_none() {
            self.table = Some(self.archive.reopen(crate::bag::Reading::Captures)?);
        }
        let table = self.table.as_ref().expect("made above");
        Ok(table.entry(bag_path).cloned())
    }
}

/// Inflates `cablekeep/index.jsonl` chunk by chunk, parses it line by line and sends the lines
/// `keep` selects in batches. Stops early when the receiver is gone.
fn stream_index(
    archive: &OpenArchive,
    keep: Keep<'_>,
    progress: &dyn Progress,
    tx: &SyncSender<Result<Vec<IndexLine>>>,
) {
    let corrupt = |message: String| Error::Corrupt {
        path: archive.path.clone(),
        message,
    };
    let Some(entry) = archive.entry(INDEX_FILE) else {
        let _ = tx.send(Err(corrupt(format!(
            "{INDEX_FILE} is missing from the archive; run `cablekeep verify`"
        ))));
        return;
    };
    let mut lines = crate::jsonl::LineSplitter::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut stopped = false;
    // One line at a time: parse, select, send full batches. False when reading must stop.
    let take = |line: &[u8], number: usize, batch: &mut Vec<IndexLine>| -> bool {
        match parse_index_line(line) {
            Ok(None) => true,
            Ok(Some(l)) => {
                progress.inc(1);
                if keep(&l) {
                    batch.push(l);
                }
                batch.len() < BATCH || tx.send(Ok(std::mem::take(batch))).is_ok()
            }
            Err(e) => {
                let _ = tx.send(Err(corrupt(format!("{INDEX_FILE}: line {number}: {e}"))));
                false
            }
        }
    };
    let streamed = archive.stream(entry, |chunk| {
        if !stopped {
            stopped = !lines.feed(chunk, |line, n| take(line, n, &mut batch));
        }
    });
    if stopped {
        return;
    }
    let end = match streamed {
        Ok(findings) if findings.is_empty() => Ok(()),
        Ok(findings) => Err(corrupt(format!(
            "{INDEX_FILE} is damaged ({}); run `cablekeep verify`",
            findings[0]
        ))),
        Err(e) => Err(e),
    };
    if let Err(e) = end {
        let _ = tx.send(Err(e));
        return;
    }
    if lines.finish(|line, n| take(line, n, &mut batch)) && !batch.is_empty() {
        let _ = tx.send(Ok(batch));
    }
}

/// An index line; `None` for a blank line (as [`crate::jsonl::read_jsonl`] skips them).
fn parse_index_line(line: &[u8]) -> serde_json::Result<Option<IndexLine>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(line).map(Some)
}

/// How many cables of a batch one worker reads and maps at a time: enough that a chunk's output
/// is written with few large writes, few enough that both cores share a batch evenly.
pub const CHUNK: usize = 32;

/// Reads, parses and maps the records of a batch of lines in parallel, a chunk at a time,
/// keeping their order.
fn load_batch<T: Send>(
    archive: &OpenArchive,
    lines: Vec<Located>,
    need: Need,
    map: Map<'_, T>,
) -> Result<Vec<T>> {
    lines
        .into_par_iter()
        .chunks(CHUNK)
        .map(|chunk| {
            let selected = chunk
                .into_iter()
                .map(|located| load_one(archive, located, need))
                .collect::<Result<Vec<_>>>()?;
            map(selected)
        })
        .collect()
}

/// Reads one cable's records, as [`stream`] reads them, from an archive opened with its table
/// of captures ([`OpenArchive::open_captures`]): for readers of a cable at a time (`serve`).
pub fn load_cable(archive: &OpenArchive, line: IndexLine, need: Need) -> Result<Selected> {
    let entry = |path: &str| archive.entry(path).cloned();
    let older = match line.captures.split_last() {
        Some((_, older)) if need.reads_older() => older,
        _ => &[],
    };
    let current = line.captures.last();
    let records = older
        .iter()
        .chain(current)
        .map(|c| entry(&c.record))
        .collect();
    let current_raw = current.and_then(|c| entry(&c.raw));
    let older_raws = match need.older {
        true => older.iter().map(|c| entry(&c.raw)).collect(),
        false => Vec::new(),
    };
    let located = Located {
        line,
        records,
        current_raw,
        older_raws,
    };
    load_one(archive, located, need)
}

/// Reads a line's records from their `entries` (as [`RecordFinder::locate`] found them).
fn load_one(archive: &OpenArchive, located: Located, need: Need) -> Result<Selected> {
    let Located {
        line,
        records: entries,
        current_raw,
        older_raws,
    } = located;
    let not_a_record = |path: &str, e: serde_json::Error| Error::Corrupt {
        path: archive.path.clone(),
        message: format!("{path}: not a cablekeep record: {e}"),
    };
    let Some((current, older)) = line.captures.split_last() else {
        return Err(Error::Corrupt {
            path: archive.path.clone(),
            message: format!("cable {} has no capture in the index", line.id),
        });
    };
    let (current_entry, older_entries) = entries.split_last().expect("located with its line");
    let mut sources = Vec::new();
    let mut published_ids = Vec::new();
    let mut older_records = Vec::new();
    if need.older {
        for ((c, entry), raw) in older.iter().zip(older_entries).zip(&older_raws) {
            let view = read_older_record(archive, c, entry.as_ref(), raw.as_ref())?;
            sources.push(view.source.clone());
            published_ids.push(view.id_original.clone().unwrap_or_else(|| line.id.clone()));
            older_records.push(view);
        }
    } else if need.sources {
        for (c, entry) in older.iter().zip(older_entries) {
            // Records are parsed straight from the archive's inflating buffer (no copy).
            let view: SourceView = archive
                .with_entry_required(&c.record, entry.as_ref(), |bytes| parse_json(bytes))?
                .map_err(|e| not_a_record(&c.record, e))?;
            sources.push(view.source);
            published_ids.push(view.id_original.unwrap_or_else(|| line.id.clone()));
        }
    }
    let (record, bytes) =
        archive.with_entry_required(&current.record, current_entry.as_ref(), |bytes| {
            let record = parse_json::<RecordView>(bytes);
            (
                record,
                if need.bytes {
                    bytes.to_vec()
                } else {
                    Vec::new()
                },
            )
        })?;
    let mut record = record.map_err(|e| not_a_record(&current.record, e))?;
    // Decided by the fields read, wherever they stood in the record.
    let compact = record.schema == RECORD_SCHEMA_2 || record.capture.text_at.is_some();
    let text = match record.capture.text_at.take().filter(|_| !need.skip_text) {
        // Not checked against `text_sha256` here, unlike a record read alone (`show`, `diff`):
        // the raw entry's CRC-32 is checked as it is inflated, and the writer checked that these
        // parts rebuild the text before it wrote them; hashing every text again was a sixth of
        // an export's CPU. A format 1 record's text is not checked on a bulk read either.
        Some(at) => Some(
            archive
                .with_entry_required(&current.raw, current_raw.as_ref(), |raw| at.rebuild(raw))?
                .map_err(|e| e.into_error(&archive.path, &current.record))?,
        ),
        None => None,
    };
    let bytes = if need.bytes && compact {
        let full = read_record_with(&bytes, |_, _| Ok(text.clone().unwrap_or_default()))
            .map_err(|e| e.into_error(&archive.path, &current.record))?;
        serde_json::to_vec(&full).expect("a record serializes")
    } else {
        bytes
    };
    if let Some(text) = text {
        record.text = text;
    }
    if need.reads_older() {
        sources.push(record.source.clone());
        published_ids.push(
            record
                .id_original
                .clone()
                .unwrap_or_else(|| line.id.clone()),
        );
    }
    let entries = current_entry.clone().zip(current_raw);
    Ok(Selected {
        bytes,
        line,
        record,
        sources,
        published_ids,
        older: older_records,
        entries,
    })
}

/// An older capture's whole record view, its text rebuilt from the raw bytes when the record
/// (format 2) leaves it out.
fn read_older_record(
    archive: &OpenArchive,
    capture: &crate::bag::capture::CaptureRef,
    entry: Option<&Entry>,
    raw: Option<&Entry>,
) -> Result<RecordView> {
    let mut view: RecordView = archive
        .with_entry_required(&capture.record, entry, |bytes| parse_json(bytes))?
        .map_err(|e| Error::Corrupt {
            path: archive.path.clone(),
            message: format!("{}: not a cablekeep record: {e}", capture.record),
        })?;
    if let Some(at) = view.capture.text_at.take() {
        view.text = archive
            .with_entry_required(&capture.raw, raw, |bytes| at.rebuild(bytes))?
            .map_err(|e| e.into_error(&archive.path, &capture.record))?;
    }
    Ok(view)
}
