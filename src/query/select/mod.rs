//! Selections: which cables of a version an export, a search or the stats are about (a
//! [`Filter`]), and streaming the selected cables' stored records from an archive in batches.

use crate::bag::capture::IndexLine;
use crate::bag::{DirectoryCursor, Entry, INDEX_FILE, OpenArchive};
use crate::cable::provenance::Source;
use crate::error::{Error, IoContext, Result};
use crate::jsonl::parse_json;
use crate::progress::Progress;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{Receiver, SyncSender};

/// What cables to select. Every criterion given must hold; an empty filter selects every cable.
/// Text comparisons ignore ASCII case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// Only these reference ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Sent from one of these origins (e.g. `Embassy Madrid`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Carries any of these tags (all of them with `all_tags`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all_tags: bool,
    /// One of these classifications: the whole marking (`SECRET//NOFORN`) or its level (`SECRET`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classifications: Vec<String>,
    /// Created on or after / on or before this day (`YYYY-MM-DD`, inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_to: Option<String>,
    /// Released (current capture) on or after / on or before this day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_to: Option<String>,
    /// `redacted` or `not-redacted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_extract: Option<bool>,
    /// A full-text query (FTS5 syntax) over subject and text, answered by the catalog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The facts of a cable that a filter looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub id: &'a str,
    pub created: Option<&'a str>,
    pub released: Option<&'a str>,
    pub classification: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub tags: &'a [String],
    pub redaction: &'a str,
    pub partial_extract: bool,
}

impl<'a> Facts<'a> {
    /// The facts of a cable's index line (its current capture).
    pub fn of(line: &'a IndexLine) -> Facts<'a> {
        Facts {
            id: &line.id,
            created: line.created.as_deref(),
            released: line.released.as_deref(),
            classification: line.classification.as_deref(),
            origin: line.origin.as_deref(),
            tags: &line.tags,
            redaction: &line.redaction.status,
            partial_extract: line.redaction.partial_extract,
        }
    }
}

fn is_day(s: &str) -> bool {
    s.len() == 10 && crate::time::normalize(s).as_deref() == Some(s)
}

/// The day (`YYYY-MM-DD`) of an RFC 3339 date or date-time.
fn day(s: &str) -> &str {
    s.get(..10).unwrap_or(s)
}

fn in_range(value: Option<&str>, from: &Option<String>, to: &Option<String>) -> bool {
    if from.is_none() && to.is_none() {
        return true;
    }
    let Some(v) = value.map(day) else {
        return false;
    };
    from.as_deref().is_none_or(|f| v >= f) && to.as_deref().is_none_or(|t| v <= t)
}

fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Filter {
    /// Checks the filter's values (dates, redaction status), normalizing ids to upper case.
    pub fn validated(mut self) -> Result<Filter> {
        for (name, value) in [
            ("created-from", &self.created_from),
            ("created-to", &self.created_to),
            ("released-from", &self.released_from),
            ("released-to", &self.released_to),
        ] {
            if let Some(v) = value
                && !is_day(v)
            {
                return Err(Error::Invalid(format!(
                    "--{name} {v:?}: expected a day as YYYY-MM-DD"
                )));
            }
        }
        if let Some(r) = &self.redaction
            && r != "redacted"
            && r != "not-redacted"
        {
            return Err(Error::Invalid(format!(
                "--redaction {r:?}: expected redacted or not-redacted"
            )));
        }
        if self.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
            self.query = None;
        }
        // A cable asked for by its published id is found under its canonical id too.
        self.ids = self.ids.iter().flat_map(|id| ids_to_look_up(id)).collect();
        self.ids.retain(|i| !i.is_empty());
        self.ids.sort();
        self.ids.dedup();
        Ok(self)
    }

    /// True when the filter selects every cable.
    pub fn is_empty(&self) -> bool {
        self == &Filter::default()
    }

    /// Whether a cable passes every criterion but the full-text query (which the catalog answers).
    pub fn matches(&self, f: &Facts<'_>) -> bool {
        (self.ids.is_empty() || self.ids.iter().any(|i| eq(i, f.id)))
            && (self.origins.is_empty()
                || f.origin
                    .is_some_and(|o| self.origins.iter().any(|x| eq(x, o))))
            && (self.tags.is_empty() || {
                let has = |t: &String| f.tags.iter().any(|x| eq(x, t));
                if self.all_tags {
                    self.tags.iter().all(has)
                } else {
                    self.tags.iter().any(has)
                }
            })
            && (self.classifications.is_empty()
                || f.classification.is_some_and(|c| {
                    let level = c.split("//").next().unwrap_or(c);
                    self.classifications
                        .iter()
                        .any(|x| eq(x, c) || eq(x, level))
                }))
            && in_range(f.created, &self.created_from, &self.created_to)
            && in_range(f.released, &self.released_from, &self.released_to)
            && self.redaction.as_deref().is_none_or(|r| r == f.redaction)
            && self.partial_extract.is_none_or(|p| p == f.partial_extract)
    }

    /// The filter in words, for READMEs: `all cables` or `origin is "Embassy London"; ...`.
    pub fn describe(&self) -> String {
        let quoted = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let range = |what: &str, from: &Option<String>, to: &Option<String>| match (from, to) {
            (None, None) => None,
            (Some(f), None) => Some(format!("{what} on or after {f}")),
            (None, Some(t)) => Some(format!("{what} on or before {t}")),
            (Some(f), Some(t)) => Some(format!("{what} from {f} to {t} (inclusive)")),
        };
        let mut parts = Vec::new();
        if !self.ids.is_empty() {
            parts.push(format!("id is one of {}", quoted(&self.ids)));
        }
        if !self.origins.is_empty() {
            parts.push(format!("origin is one of {}", quoted(&self.origins)));
        }
        if !self.tags.is_empty() {
            let how = if self.all_tags { "all" } else { "any" };
            parts.push(format!("tags include {how} of {}", quoted(&self.tags)));
        }
        if !self.classifications.is_empty() {
            parts.push(format!(
                "classification is one of {}",
                quoted(&self.classifications)
            ));
        }
        parts.extend(range("created", &self.created_from, &self.created_to));
        parts.extend(range("released", &self.released_from, &self.released_to));
        if let Some(r) = &self.redaction {
            parts.push(format!("redaction status is {r}"));
        }
        if let Some(p) = self.partial_extract {
            parts.push(format!("partial extract is {p}"));
        }
        if let Some(q) = &self.query {
            parts.push(format!("full text matches {q:?} (SQLite FTS5)"));
        }
        if parts.is_empty() {
            "all cables".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// The archive version a selection is taken from, as exports and the catalog name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRef {
    pub collection: String,
    pub version: u32,
    /// `<collection>@v<N>`.
    pub identifier: String,
    /// SHA-256 of the sidecar manifest file, byte for byte.
    pub manifest_sha256: String,
    /// SHA-256 of the archive zip, as the sidecar manifest gives it.
    pub archive_sha256: String,
    /// When the version was written (the sidecar's `created`).
    pub created: String,
    /// The version's message.
    pub message: String,
    /// How many cables the version holds (for progress).
    #[serde(skip)]
    pub cables: u64,
}

impl VersionRef {
    /// Reads a version's sidecar manifest.
    pub fn read(store: &crate::store::Store, collection: &str, version: u32) -> Result<VersionRef> {
        let (m, bytes) = store.read_manifest(collection, version)?;
        Ok(VersionRef {
            collection: collection.to_string(),
            version,
            identifier: m.identifier.clone(),
            manifest_sha256: crate::hash::sha256_hex(&bytes),
            archive_sha256: m.archive.sha256.clone(),
            created: m.created.clone(),
            message: m.message.clone(),
            cables: m.counts.cables,
        })
    }

    /// The sidecar manifest's file name, e.g. `dev-v1.json`.
    pub fn manifest_file(&self) -> String {
        format!("{}-v{}.json", self.collection, self.version)
    }
}

/// How many selected cables are read at once: enough to keep every core busy, few enough that
/// memory stays flat whatever the corpus (a batch holds its records, about 10 MB).
pub const BATCH: usize = 512;

/// The redaction facts of a stored record that exports use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RedactionView {
    pub status: String,
    pub runs: usize,
    pub partial_extract: bool,
}

/// The capture facts of a stored record that exports use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CaptureView {
    pub name: String,
    pub raw: String,
    pub sha256: String,
}

/// The fields of a stored record (`cablekeep-record/1`) that exports, citations and the catalog
/// use. Reading only these is much cheaper than a whole [`crate::bag::capture::StoredRecord`]:
/// serde skips the others (paragraphs, recipients, redaction positions...) without building
/// them, and there is no flattened struct to buffer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecordView {
    /// The id as the page gave it, when a reader repaired or mapped it.
    #[serde(default)]
    pub id_original: Option<String>,
    pub created: Option<String>,
    pub released: Option<String>,
    pub classification: Option<String>,
    #[serde(default)]
    pub caveats: Vec<String>,
    pub origin: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub subject: Option<String>,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub signers: Vec<String>,
    pub redaction: RedactionView,
    pub source: Source,
    pub text: String,
    pub capture: CaptureView,
}

/// Only the provenance of an older capture's record (the catalog lists every capture's source).
#[derive(Deserialize)]
struct SourceView {
    source: Source,
}

/// What a consumer of selected cables needs besides the current record's fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Need {
    /// The current record's exact bytes (JSON Lines exports).
    pub bytes: bool,
    /// The source of every capture (the catalog and SQLite exports).
    pub sources: bool,
}

/// A selected cable: its index line and what was read of its records.
#[derive(Debug, Clone)]
pub struct Selected {
    pub line: IndexLine,
    /// The current capture's record (the line's last capture).
    pub record: RecordView,
    /// The current record's bytes, when [`Need::bytes`]; else empty.
    pub bytes: Vec<u8>,
    /// Every capture's source in the line's order, when [`Need::sources`]; else empty.
    pub sources: Vec<Source>,
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

/// The ids a cable may be asked for by: the id as given (upper case) and, when the readers store
/// it under another one, that canonical id. A cable is cited by the id it was published under
/// (`10EFTOLONDON16`, `06TAIPEI2921`), which the readers repair or map to the canonical id
/// (`10LONDON16`, `06AITTAIPEI2921`, see [`crate::cable::id::canonicalize`]).
pub fn ids_to_look_up(given: &str) -> Vec<String> {
    let given = given.trim().to_ascii_uppercase();
    let mut ids = vec![given.clone()];
    if let Some(canonical) = crate::cable::id::canonicalize(&given)
        && canonical.id != given
    {
        ids.push(canonical.id);
    }
    ids
}

/// A cable found by [`locate_cable`]: the collection and version it was found in, its line.
#[derive(Debug, Clone)]
pub struct FoundCable {
    pub collection: String,
    pub version: u32,
    pub line: IndexLine,
}

/// Finds the cable asked for as `given` (the published or the canonical id) in `collection`'s
/// `version` (default: the latest), or, without a collection, in the latest version of every
/// collection of the store that has one: the cable must then be in exactly one of them (an
/// error lists them when it is in several).
pub fn locate_cable(
    store: &crate::store::Store,
    collection: Option<&str>,
    version: Option<u32>,
    given: &str,
) -> Result<FoundCable> {
    let ids = ids_to_look_up(given);
    let asked = match ids.as_slice() {
        [id, canonical] => format!("{id} (stored as {canonical})"),
        _ => ids[0].clone(),
    };
    if let Some(c) = collection {
        let v = store.resolve_version(c, version)?;
        return find_in(store, c, v, &ids)?
            .ok_or_else(|| Error::NotFound(format!("{c}@v{v} has no cable {asked}")));
    }
    let mut found = Vec::new();
    for c in store.collections()? {
        let Some(latest) = store.latest(&c)? else {
            continue;
        };
        let v = match version {
            Some(v) if store.versions(&c)?.contains(&v) => v,
            Some(_) => continue,
            None => latest,
        };
        found.extend(find_in(store, &c, v, &ids)?);
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::NotFound(format!(
            "no collection of the store {} holds cable {asked}",
            store.root().display()
        ))),
        _ => Err(Error::Invalid(format!(
            "cable {asked} is in several collections ({}); choose one with --collection",
            found
                .iter()
                .map(|l| format!("{}@v{}", l.collection, l.version))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The line of the first of `ids` that `collection`'s `version` holds.
fn find_in(
    store: &crate::store::Store,
    collection: &str,
    version: u32,
    ids: &[String],
) -> Result<Option<FoundCable>> {
    let index = OpenArchive::open_index(&store.zip_path(collection, version))?;
    for id in ids {
        if let Some(line) = find_line(&index, id)? {
            return Ok(Some(FoundCable {
                collection: collection.to_string(),
                version,
                line,
            }));
        }
    }
    Ok(None)
}

/// The index line of cable `id` (upper case, as the index writes ids), streamed from an
/// archive's index: nothing but that line is kept.
pub fn find_line(archive: &OpenArchive, id: &str) -> Result<Option<IndexLine>> {
    let mut found = None;
    for_each_line(archive, |line| {
        if found.is_none() && line.id == id {
            found = Some(line.clone());
        }
    })?;
    Ok(found)
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

/// An index line with the entries of the records read for it: the current capture's last.
type Located = (IndexLine, Vec<Option<Entry>>);

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
                    Some((_, older)) if need.sources => older,
                    _ => &[],
                };
                let mut entries = Vec::with_capacity(older.len() + 1);
                for c in older.iter().chain(line.captures.last()) {
                    entries.push(self.entry(&c.record)?);
                }
                Ok((line, entries))
            })
            .collect()
    }

    fn entry(&mut self, bag_path: &str) -> Result<Option<Entry>> {
        let name = format!("{}/{bag_path}", self.folder);
        if let Some(entry) = self.cursor.find(&name).at(&self.archive.path)? {
            return Ok(Some(entry));
        }
        if self.table.is_none() {
            self.table = Some(OpenArchive::open_records(&self.archive.path)?);
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
fn parse_index_line(line: &[u8]) -> std::result::Result<Option<IndexLine>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(line).map(Some).map_err(|e| e.to_string())
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
                .map(|(line, entries)| load_one(archive, line, &entries, need))
                .collect::<Result<Vec<_>>>()?;
            map(selected)
        })
        .collect()
}

/// Reads a line's records from their `entries` (as [`RecordFinder::locate`] found them).
fn load_one(
    archive: &OpenArchive,
    line: IndexLine,
    entries: &[Option<Entry>],
    need: Need,
) -> Result<Selected> {
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
    if need.sources {
        for (c, entry) in older.iter().zip(older_entries) {
            // Records are parsed straight from the archive's inflating buffer (no copy).
            let view: SourceView = archive
                .with_entry_required(&c.record, entry.as_ref(), |bytes| parse_json(bytes))?
                .map_err(|e| not_a_record(&c.record, e))?;
            sources.push(view.source);
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
    let record = record.map_err(|e| not_a_record(&current.record, e))?;
    if need.sources {
        sources.push(record.source.clone());
    }
    Ok(Selected {
        bytes,
        line,
        record,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(tags: &'a [String]) -> Facts<'a> {
        Facts {
            id: "08MADRID1",
            created: Some("2008-03-04T10:00:00Z"),
            released: Some("2011-01-02"),
            classification: Some("SECRET//NOFORN"),
            origin: Some("Embassy Madrid"),
            tags,
            redaction: "redacted",
            partial_extract: false,
        }
    }

    #[test]
    fn every_criterion_must_hold() {
        let tags = vec!["PREL".to_string(), "SP".to_string()];
        let f = facts(&tags);
        assert!(Filter::default().matches(&f));
        let base = Filter {
            origins: vec!["embassy madrid".into()],
            tags: vec!["PGOV".into(), "SP".into()],
            classifications: vec!["SECRET".into()],
            created_from: Some("2008-03-04".into()),
            created_to: Some("2008-03-04".into()),
            redaction: Some("redacted".into()),
            ..Filter::default()
        };
        assert!(base.matches(&f));
        let all = Filter {
            all_tags: true,
            ..base.clone()
        };
        assert!(!all.matches(&f));
        let late = Filter {
            created_from: Some("2008-03-05".into()),
            ..base.clone()
        };
        assert!(!late.matches(&f));
        let other = Filter {
            partial_extract: Some(true),
            ..base
        };
        assert!(!other.matches(&f));
    }

    #[test]
    fn bad_dates_and_statuses_are_refused() {
        let bad = Filter {
            created_from: Some("2008-3-4".into()),
            ..Filter::default()
        };
        assert!(bad.validated().is_err());
        let bad = Filter {
            redaction: Some("maybe".into()),
            ..Filter::default()
        };
        assert!(bad.validated().is_err());
        assert_eq!(Filter::default().describe(), "all cables");
    }
}
