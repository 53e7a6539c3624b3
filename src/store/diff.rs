//! Diff: what changed between two versions of a collection, cable by cable.
//!
//! A cable is *changed* when its set of captures changed. The diff then compares consecutive
//! captures (in capture order) wherever at least one of the two is new in the later version, and,
//! when the cable's current capture was removed, the old current with the new one. Each comparison
//! says whether the text changed (with a line count summary), whether redactions were gained or
//! lost, and which metadata fields changed. For an added cable, all its consecutive captures are
//! compared.

use crate::bag::capture::{CaptureRef, IndexLine, StoredRecord};
use crate::bag::record::read_record;
use crate::bag::{INDEX_FILE, OpenArchive};
use crate::bag::{ReadAt, Reading};
use crate::cable::CableRecord;
use crate::cable::provenance::RedactionChange;
use crate::error::{Error, Result};
use crate::query::select;
use crate::store::Store;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

/// The difference between two versions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VersionDiff {
    /// The collection both versions belong to.
    pub collection: String,
    /// The earlier version's number (the `N` of `v<N>`).
    pub from: u32,
    /// The later version's number.
    pub to: u32,
    /// Cables only the later version holds, by id, each with its captures compared one after the
    /// other.
    pub added: Vec<CableChange>,
    /// Ids of the cables only the earlier version holds, in id order.
    pub removed: Vec<String>,
    /// Cables both versions hold whose set of captures differs, in id order.
    pub changed: Vec<CableChange>,
    /// How many cables both versions hold with exactly the same captures.
    pub unchanged: u64,
}

/// How one cable changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CableChange {
    /// The cable's canonical reference id.
    pub id: String,
    /// Names of the captures only the later version holds (FORMAT.md section 2.5); empty for an
    /// unchanged set.
    pub captures_added: Vec<String>,
    /// Names of the captures only the earlier version holds.
    pub captures_removed: Vec<String>,
    /// `gained`, `lost`, `gained-and-lost`, `moved` or `same`: over all comparisons.
    pub redaction: RedactionChange,
    /// True when any comparison found the text changed.
    pub text_changed: bool,
    /// The comparisons of consecutive captures (see the module documentation).
    pub comparisons: Vec<ContentChange>,
}

impl CableChange {
    fn new(
        id: &str,
        added: Vec<String>,
        removed: Vec<String>,
        comparisons: Vec<ContentChange>,
    ) -> Self {
        let mut change = CableChange {
            id: id.to_string(),
            captures_added: added,
            captures_removed: removed,
            comparisons,
            ..CableChange::default()
        };
        change.summarize();
        change
    }

    /// Adds a comparison made later (see [`diff`]) and sums up again.
    fn add_comparison(&mut self, comparison: ContentChange) {
        self.comparisons.push(comparison);
        self.summarize();
    }

    /// Sets `redaction` and `text_changed` from the comparisons.
    fn summarize(&mut self) {
        self.redaction = RedactionChange::overall(self.comparisons.iter().map(|c| c.redaction));
        self.text_changed = self.comparisons.iter().any(|c| c.text_changed);
    }
}

/// How the text, redactions and metadata of two captures of one cable differ.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContentChange {
    /// Name of the earlier capture compared (for a link check: the archived capture).
    pub from_capture: String,
    /// Name of the later capture compared (for a link check: the page as fetched).
    pub to_capture: String,
    /// True when the two texts differ at all, white space included.
    pub text_changed: bool,
    /// Lines of the later text that the earlier lacks, by a line diff (for texts of over 20,000
    /// lines together, by counting equal lines instead).
    pub lines_added: usize,
    /// Lines of the earlier text that the later lacks, counted the same way.
    pub lines_removed: usize,
    /// `gained` (more redaction runs), `lost` (fewer), `moved` (as many, elsewhere) or `same`.
    pub redaction: RedactionChange,
    /// Redaction runs in the earlier capture's text.
    pub redaction_runs_from: usize,
    /// Redaction runs in the later capture's text.
    pub redaction_runs_to: usize,
    /// Metadata fields whose values differ.
    pub fields: Vec<FieldChange>,
}

/// One metadata field that differs.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    /// The record field's name as in FORMAT.md section 3: `id`, `created`, `classification`,
    /// `caveats`, `origin`, `tags`, `subject`, `references` or `signers`.
    pub field: String,
    /// The field's value in the earlier capture's record, as JSON (null when absent).
    pub from: serde_json::Value,
    /// The field's value in the later capture's record, as JSON (null when absent).
    pub to: serde_json::Value,
}

/// Compares two versions of a collection.
///
/// Both indexes are sorted by cable id (the store writes them from an ordered map), so they are
/// merged as they stream, each on its own thread, and the merge notes the comparisons to make.
/// Only then are the records of those comparisons read, on all cores. Each archive is opened
/// twice, each time keeping only the entries read (its index, then the records compared), not
/// its whole central directory (two entries per capture): what the diff holds grows with the
/// number of changes, not with the corpus.
pub fn diff(store: &Store, collection: &str, from: u32, to: u32) -> Result<VersionDiff> {
    let from_index = store.open_zip(collection, from, Reading::Index)?;
    let to_index = store.open_zip(collection, to, Reading::Index)?;
    // The records are read through the same handles (a local file, or a remote object read by
    // ranges), the directories kept for them only.
    let (from_zip, to_zip) = (from_index.file.clone(), to_index.file.clone());
    let (from_path, to_path) = (from_index.path.clone(), to_index.path.clone());
    let out = VersionDiff {
        collection: collection.to_string(),
        from,
        to,
        ..VersionDiff::default()
    };
    let (mut out, pending) = merge_indexes(&from_index, &to_index, out)?;
    drop((from_index, to_index));
    compare_pending(
        &mut out,
        &pending,
        (from_zip, &from_path),
        (to_zip, &to_path),
    )?;
    Ok(out)
}

/// Which cable of the diff a comparison belongs to.
#[derive(Debug, Clone, Copy)]
enum CableAt {
    Added(usize),
    Changed(usize),
}

/// A comparison the merge found to make: (capture name, record path) on each side. The later
/// side is always in the newer version; the earlier one too, but for the comparison of a removed
/// current capture with the new current one.
struct Pending {
    cable: CableAt,
    from: CaptureFiles,
    /// The version the earlier side is read from.
    from_side: VersionSide,
    to: CaptureFiles,
}

/// A capture's name and the paths of its record and raw bytes (a format 2 record may need the
/// raw bytes for its text).
#[derive(Debug, Clone)]
struct CaptureFiles {
    name: String,
    record: String,
    raw: String,
}

impl CaptureFiles {
    fn of(c: &CaptureRef) -> CaptureFiles {
        CaptureFiles {
            name: c.name.clone(),
            record: c.record.clone(),
            raw: c.raw.clone(),
        }
    }
}

/// Which of the two versions compared holds a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VersionSide {
    Older,
    Newer,
}

/// Makes the comparisons the merge noted, in parallel, and adds each to its cable in the order
/// noted.
fn compare_pending(
    out: &mut VersionDiff,
    pending: &[Pending],
    (from_zip, from_path): (Arc<dyn ReadAt>, &Path),
    (to_zip, to_path): (Arc<dyn ReadAt>, &Path),
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let (mut in_older, mut in_newer) = (HashSet::new(), HashSet::new());
    for p in pending {
        let from_side = match p.from_side {
            VersionSide::Older => &mut in_older,
            VersionSide::Newer => &mut in_newer,
        };
        from_side.extend([p.from.record.as_str(), p.from.raw.as_str()]);
        in_newer.extend([p.to.record.as_str(), p.to.raw.as_str()]);
    }
    let newer_kept = |path: &str| in_newer.contains(path);
    let newer = OpenArchive::open_source(to_zip, to_path, Reading::Selected(&newer_kept))?;
    let older = if in_older.is_empty() {
        None
    } else {
        let older_kept = |path: &str| in_older.contains(path);
        Some(OpenArchive::open_source(
            from_zip,
            from_path,
            Reading::Selected(&older_kept),
        )?)
    };
    let changes = pending
        .par_iter()
        .map(|p| {
            let from_archive = match (&older, p.from_side) {
                (Some(older), VersionSide::Older) => older,
                _ => &newer,
            };
            compare((from_archive, &p.from), (&newer, &p.to))
        })
        .collect::<Result<Vec<_>>>()?;
    for (p, change) in pending.iter().zip(changes) {
        let cable = match p.cable {
            CableAt::Added(i) => out.added.get_mut(i),
            CableAt::Changed(i) => out.changed.get_mut(i),
        };
        if let Some(cable) = cable {
            cable.add_comparison(change);
        }
    }
    Ok(())
}

/// Merges the two indexes by id, the older one streamed on its own thread. Returns the diff
/// without its comparisons, and the comparisons to make.
fn merge_indexes(
    from_index: &OpenArchive,
    to_index: &OpenArchive,
    out: VersionDiff,
) -> Result<(VersionDiff, Vec<Pending>)> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        s.spawn(|| send_old_cables(from_index, tx));
        let mut merge = Merge {
            to: to_index,
            old: OldCables::new(rx),
            new_order: IdOrder::default(),
            error: None,
            out,
            pending: Vec::new(),
        };
        let streamed = select::for_each_line(to_index, |line| merge.step(line));
        merge.finish(streamed)
    })
}

/// What the diff keeps of a cable of the older version: its capture names, oldest first, and
/// where its current capture's record is.
struct OldCable {
    id: String,
    captures: Vec<String>,
    current: Option<CaptureFiles>,
}

impl OldCable {
    fn of(line: &IndexLine) -> OldCable {
        OldCable {
            id: line.id.clone(),
            captures: line.captures.iter().map(|c| c.name.clone()).collect(),
            current: line.current().map(CaptureFiles::of),
        }
    }
}

/// Streams the older version's cables to the merge in batches. Stops sending (the index is still
/// read to its end, which `for_each_line` cannot cut short) once the merge has hung up.
fn send_old_cables(archive: &OpenArchive, tx: SyncSender<Result<Vec<OldCable>>>) {
    let mut batch = Vec::with_capacity(select::BATCH);
    let mut order = IdOrder::default();
    let mut failed = None;
    let mut hung_up = false;
    let streamed = select::for_each_line(archive, |line| {
        if hung_up || failed.is_some() {
            return;
        }
        if let Err(e) = order.check(&archive.path, &line.id) {
            failed = Some(e);
            return;
        }
        batch.push(OldCable::of(line));
        if batch.len() == select::BATCH {
            hung_up = tx.send(Ok(std::mem::take(&mut batch))).is_err();
        }
    });
    let last = match (streamed, failed) {
        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
        (Ok(_), None) => Ok(batch),
    };
    if !hung_up {
        let _ = tx.send(last);
    }
}

/// The older version's cables as they arrive from [`send_old_cables`], one at a time.
struct OldCables {
    /// `None` once the merge has failed: dropping the receiver stops the sender.
    rx: Option<Receiver<Result<Vec<OldCable>>>>,
    batch: std::iter::Peekable<std::vec::IntoIter<OldCable>>,
}

impl OldCables {
    fn new(rx: Receiver<Result<Vec<OldCable>>>) -> OldCables {
        OldCables {
            rx: Some(rx),
            batch: Vec::new().into_iter().peekable(),
        }
    }

    /// The next cable without taking it; `None` at the end.
    fn peek(&mut self) -> Result<Option<&OldCable>> {
        while self.batch.peek().is_none() {
            let Some(next) = self.rx.as_ref().and_then(|rx| rx.recv().ok()) else {
                return Ok(None);
            };
            self.batch = next?.into_iter().peekable();
        }
        Ok(self.batch.peek())
    }

    fn take(&mut self) -> Option<OldCable> {
        self.batch.next()
    }

    fn hang_up(&mut self) {
        self.rx = None;
    }
}

/// Checks that an index lists its cables in strictly increasing id order, as the store writes
/// them: the merge depends on it, and a line out of order means the archive was damaged or not
/// written by cablekeep.
#[derive(Default)]
struct IdOrder {
    last: Option<String>,
}

impl IdOrder {
    fn check(&mut self, archive: &Path, id: &str) -> Result<()> {
        if let Some(last) = &self.last
            && id <= last.as_str()
        {
            return Err(Error::Corrupt {
                path: archive.to_path_buf(),
                message: format!(
                    "{INDEX_FILE} lists cable {id} after {last}, out of id order (the store \
                     writes it sorted by id); run `cablekeep verify`"
                ),
            });
        }
        let last = self.last.get_or_insert_with(String::new);
        last.clear();
        last.push_str(id);
        Ok(())
    }
}

/// The merge of the two indexes by id, fed the newer version's lines in order.
struct Merge<'a> {
    /// The newer version's archive (for its path).
    to: &'a OpenArchive,
    old: OldCables,
    new_order: IdOrder,
    /// The first error; later lines are skipped (the newer index still streams to its end).
    error: Option<Error>,
    out: VersionDiff,
    pending: Vec<Pending>,
}

impl Merge<'_> {
    fn step(&mut self, line: &IndexLine) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self.merge_line(line) {
            self.error = Some(e);
            self.old.hang_up();
        }
    }

    /// Older cables before this line's id were removed; then the line's cable is either in both
    /// versions or added.
    fn merge_line(&mut self, line: &IndexLine) -> Result<()> {
        self.new_order.check(&self.to.path, &line.id)?;
        while let Some(old) = self.old.peek()?
            && old.id.as_str() < line.id.as_str()
        {
            let removed = self.old.take().map(|o| o.id).unwrap_or_default();
            self.out.removed.push(removed);
        }
        match self.old.peek()? {
            Some(old) if old.id == line.id => {
                let Some(before) = self.old.take() else {
                    return Ok(());
                };
                self.in_both(&before, line)
            }
            _ => self.added(line),
        }
    }

    fn added(&mut self, line: &IndexLine) -> Result<()> {
        let added: Vec<String> = line.captures.iter().map(|c| c.name.clone()).collect();
        let at = CableAt::Added(self.out.added.len());
        self.consecutive(at, line, |_| true);
        self.out
            .added
            .push(CableChange::new(&line.id, added, Vec::new(), Vec::new()));
        Ok(())
    }

    fn in_both(&mut self, before: &OldCable, line: &IndexLine) -> Result<()> {
        let was = &before.captures;
        if was.len() == line.captures.len()
            && was.iter().zip(&line.captures).all(|(a, b)| *a == b.name)
        {
            self.out.unchanged += 1;
            return Ok(());
        }
        let is: Vec<String> = line.captures.iter().map(|c| c.name.clone()).collect();
        let added: Vec<String> = is.iter().filter(|n| !was.contains(n)).cloned().collect();
        let removed: Vec<String> = was.iter().filter(|n| !is.contains(n)).cloned().collect();
        let at = CableAt::Changed(self.out.changed.len());
        self.consecutive(at, line, |c| added.contains(&c.name));
        if let (Some(a_name), Some(a), Some(b)) =
            (was.last(), before.current.as_ref(), line.current())
            && removed.contains(a_name)
        {
            self.pending.push(Pending {
                cable: at,
                from: a.clone(),
                from_side: VersionSide::Older,
                to: CaptureFiles::of(b),
            });
        }
        self.out
            .changed
            .push(CableChange::new(&line.id, added, removed, Vec::new()));
        Ok(())
    }

    /// Notes a comparison of each pair of consecutive captures of a cable (in the newer
    /// version) where `is_new` holds for either side.
    fn consecutive(
        &mut self,
        cable: CableAt,
        line: &IndexLine,
        is_new: impl Fn(&CaptureRef) -> bool,
    ) {
        let pairs = line
            .captures
            .windows(2)
            .filter(|pair| is_new(&pair[0]) || is_new(&pair[1]));
        for pair in pairs {
            self.pending.push(Pending {
                cable,
                from: CaptureFiles::of(&pair[0]),
                from_side: VersionSide::Newer,
                to: CaptureFiles::of(&pair[1]),
            });
        }
    }

    /// The older cables after the newer index's last line were removed.
    fn finish(mut self, streamed: Result<usize>) -> Result<(VersionDiff, Vec<Pending>)> {
        streamed?;
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        while self.old.peek()?.is_some() {
            let removed = self.old.take().map(|o| o.id).unwrap_or_default();
            self.out.removed.push(removed);
        }
        Ok((self.out, self.pending))
    }
}

/// Reads a capture's stored record, of either archive format, as the record/1 it stands for.
pub(crate) fn load_record(archive: &OpenArchive, capture: &CaptureRef) -> Result<StoredRecord> {
    load_record_at(archive, &CaptureFiles::of(capture))
}

fn load_record_at(archive: &OpenArchive, files: &CaptureFiles) -> Result<StoredRecord> {
    let bytes = archive.read_required(&files.record)?;
    read_record(&bytes, || archive.read_required(&files.raw))
        .map_err(|e| e.into_error(&archive.path, &files.record))
}

/// A capture to compare: the archive holding it, and its files.
type Side<'a> = (&'a OpenArchive, &'a CaptureFiles);

/// Compares two captures of one cable by their stored records.
fn compare((a_archive, a): Side<'_>, (b_archive, b): Side<'_>) -> Result<ContentChange> {
    let before = load_record_at(a_archive, a)?;
    let after = load_record_at(b_archive, b)?;
    Ok(compare_records(
        &a.name,
        &before.record,
        &b.name,
        &after.record,
    ))
}

/// Compares two readings of one cable: text (line counts), redaction runs and metadata fields.
/// Used by `diff` for captures and by the link checker for a page fetched again.
pub fn compare_records(
    from_name: &str,
    before: &CableRecord,
    to_name: &str,
    after: &CableRecord,
) -> ContentChange {
    let (added, removed) = line_counts(&before.text, &after.text);
    let (runs_from, runs_to) = (before.redaction.runs, after.redaction.runs);
    let redaction = RedactionChange::between(&before.redaction, &after.redaction);
    ContentChange {
        from_capture: from_name.to_string(),
        to_capture: to_name.to_string(),
        text_changed: before.text != after.text,
        lines_added: added,
        lines_removed: removed,
        redaction,
        redaction_runs_from: runs_from,
        redaction_runs_to: runs_to,
        fields: field_changes(before, after),
    }
}

/// Texts with more lines than this (together) are not diffed line by line: Myers' diff takes
/// time that grows with the lines times the differences, which a hostile page (or a fetched page
/// of a link check) controls. Real cables have at most a few thousand lines.
const MAX_DIFFED_LINES: usize = 20_000;

/// Lines added and removed between two texts: by a line diff, or for texts over
/// [`MAX_DIFFED_LINES`] by comparing them as multisets of lines (linear time, and the same
/// answer on every machine, unlike a diff cut off by a deadline).
fn line_counts(before: &str, after: &str) -> (usize, usize) {
    if before.lines().count() + after.lines().count() > MAX_DIFFED_LINES {
        return multiset_line_counts(before, after);
    }
    let (mut added, mut removed) = (0, 0);
    for change in similar::TextDiff::from_lines(before, after).iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    (added, removed)
}

/// Lines of `after` not matched by an equal line of `before`, and the other way round.
fn multiset_line_counts(before: &str, after: &str) -> (usize, usize) {
    let mut balance: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for line in before.lines() {
        *balance.entry(line).or_default() -= 1;
    }
    for line in after.lines() {
        *balance.entry(line).or_default() += 1;
    }
    let added = balance.values().filter(|&&b| b > 0).sum::<i64>();
    let removed = -balance.values().filter(|&&b| b < 0).sum::<i64>();
    (added as usize, removed as usize)
}

/// Up to `max` changed lines of the text, each prefixed `+ ` or `- ` and cut to 100 characters:
/// a short sample of what changed. Texts over `MAX_DIFFED_LINES` get a sample of the lines
/// one has and the other lacks, in their order.
pub fn changed_lines_sample(before: &str, after: &str, max: usize) -> Vec<String> {
    let shown = |sign: &str, line: &str| {
        let line = line.trim_end();
        (!line.trim().is_empty())
            .then(|| format!("{sign} {}", line.chars().take(100).collect::<String>()))
    };
    if before.lines().count() + after.lines().count() > MAX_DIFFED_LINES {
        let lacking = |text: &str, other: &str, sign: &str| -> Vec<String> {
            let other: std::collections::HashSet<&str> = other.lines().collect();
            text.lines()
                .filter(|l| !other.contains(l))
                .filter_map(|l| shown(sign, l))
                .take(max)
                .collect()
        };
        let mut sample = lacking(before, after, "-");
        sample.extend(lacking(after, before, "+"));
        sample.truncate(max);
        return sample;
    }
    similar::TextDiff::from_lines(before, after)
        .iter_all_changes()
        .filter_map(|c| {
            let sign = match c.tag() {
                similar::ChangeTag::Insert => "+",
                similar::ChangeTag::Delete => "-",
                similar::ChangeTag::Equal => return None,
            };
            shown(sign, c.value())
        })
        .take(max)
        .collect()
}

/// One line of a text difference as a page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DiffLine<'a> {
    /// A line both texts have (context around a change).
    Same(&'a str),
    /// A line only the later text has.
    Added(&'a str),
    /// A line only the earlier text has.
    Removed(&'a str),
    /// This many unchanged lines left out between changes.
    Skipped(usize),
}

/// The difference of two texts, bounded for display ([`text_hunks`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShownDiff<'a> {
    /// The lines shown: changes with their context, gaps between them; at most the bound given.
    pub lines: Vec<DiffLine<'a>>,
    /// Lines of the later text that the earlier lacks.
    pub added: usize,
    /// Lines of the earlier text that the later lacks.
    pub removed: usize,
    /// Added and removed lines left out because the bound was reached.
    pub omitted: usize,
    /// False when the texts were too long to diff line by line (over [`MAX_DIFFED_LINES`]):
    /// `added` and `removed` then count unmatched lines and no line is shown.
    pub by_line: bool,
}

/// The line difference of two texts for a page: each change with `context` unchanged lines
/// around it, gaps between changes as [`DiffLine::Skipped`], at most `max_shown` lines in all
/// (the rest counted in `omitted`). Texts over [`MAX_DIFFED_LINES`] together are not diffed
/// line by line (see [`line_counts`]). Lines are compared without their line ends.
pub(crate) fn text_hunks<'a>(
    before: &'a str,
    after: &'a str,
    context: usize,
    max_shown: usize,
) -> ShownDiff<'a> {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    if old.len() + new.len() > MAX_DIFFED_LINES {
        let (added, removed) = multiset_line_counts(before, after);
        return ShownDiff {
            added,
            removed,
            omitted: added + removed,
            ..ShownDiff::default()
        };
    }
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new);
    let mut shown = ShownDiff {
        by_line: true,
        ..ShownDiff::default()
    };
    let push = |shown: &mut ShownDiff<'a>, line: DiffLine<'a>| {
        match line {
            DiffLine::Added(_) => shown.added += 1,
            DiffLine::Removed(_) => shown.removed += 1,
            _ => {}
        }
        if shown.lines.len() < max_shown {
            shown.lines.push(line);
        } else if matches!(line, DiffLine::Added(_) | DiffLine::Removed(_)) {
            shown.omitted += 1;
        }
    };
    let mut old_at = 0;
    for group in similar::group_diff_ops(ops, context) {
        let Some(first) = group.first() else { continue };
        let start = first.old_range().start;
        if start > old_at {
            push(&mut shown, DiffLine::Skipped(start - old_at));
        }
        for op in &group {
            let (tag, o, n) = op.as_tag_tuple();
            match tag {
                similar::DiffTag::Equal => {
                    for line in &old[o.clone()] {
                        push(&mut shown, DiffLine::Same(line));
                    }
                }
                similar::DiffTag::Delete | similar::DiffTag::Insert | similar::DiffTag::Replace => {
                    for line in &old[o.clone()] {
                        push(&mut shown, DiffLine::Removed(line));
                    }
                    for line in &new[n] {
                        push(&mut shown, DiffLine::Added(line));
                    }
                }
            }
            old_at = o.end;
        }
    }
    if shown.added + shown.removed > 0 && old.len() > old_at {
        push(&mut shown, DiffLine::Skipped(old.len() - old_at));
    }
    shown
}

/// The metadata fields compared between captures (text and provenance are compared apart).
const FIELDS: &[&str] = &[
    "id",
    "created",
    "classification",
    "caveats",
    "origin",
    "tags",
    "subject",
    "references",
    "signers",
];

fn field_changes(before: &CableRecord, after: &CableRecord) -> Vec<FieldChange> {
    let a = serde_json::to_value(before).unwrap_or_default();
    let b = serde_json::to_value(after).unwrap_or_default();
    FIELDS
        .iter()
        .filter_map(|f| {
            let (x, y) = (
                a.get(f).cloned().unwrap_or_default(),
                b.get(f).cloned().unwrap_or_default(),
            );
            (x != y).then(|| FieldChange {
                field: f.to_string(),
                from: x,
                to: y,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn texts_of_many_different_lines_are_compared_in_linear_time() {
        let before: String = (0..300_000).map(|i| format!("a{i}\n")).collect();
        let after: String = (0..300_000).map(|i| format!("b{i}\n")).collect();
        let started = std::time::Instant::now();
        assert_eq!(super::line_counts(&before, &after), (300_000, 300_000));
        let sample = super::changed_lines_sample(&before, &after, 4);
        assert_eq!(sample, vec!["- a0", "- a1", "- a2", "- a3"]);
        // Linear in the lines: far under this bound even in a debug build on a busy machine
        // (Myers' diff of these texts grows with lines times differences).
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        // Small texts still get a real line diff (a moved line counts as removed and added).
        assert_eq!(super::line_counts("a\nb\nc\n", "b\nc\na\n"), (1, 1));
    }

    use super::*;

    #[test]
    fn shown_diffs_keep_context_mark_gaps_and_stop_at_the_bound() {
        let before = "a\nb\nc\nd\ne\nf\ng\n";
        let after = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let d = text_hunks(before, after, 1, 100);
        use DiffLine::*;
        assert_eq!(
            d.lines,
            vec![
                Skipped(2),
                Same("c"),
                Removed("d"),
                Added("D"),
                Same("e"),
                Skipped(1),
                Same("g"),
                Added("h")
            ]
        );
        assert_eq!((d.added, d.removed, d.omitted, d.by_line), (2, 1, 0, true));
        let cut = text_hunks(before, after, 1, 3);
        assert_eq!(cut.lines.len(), 3);
        assert_eq!((cut.added, cut.removed, cut.omitted), (2, 1, 2));
        assert!(text_hunks("x\n", "x\n", 3, 10).lines.is_empty());
        let long: String = (0..MAX_DIFFED_LINES).map(|i| format!("{i}\n")).collect();
        let far = text_hunks(&long, "z\n", 3, 10);
        assert!(!far.by_line && far.lines.is_empty());
        assert_eq!((far.added, far.removed), (1, MAX_DIFFED_LINES));
    }

    #[test]
    fn an_index_out_of_id_order_is_an_error_naming_the_archive() {
        let mut order = IdOrder::default();
        let zip = Path::new("x-v1.zip");
        for id in ["10A1", "10A2", "10B1"] {
            order.check(zip, id).unwrap();
        }
        let err = order.check(zip, "10A3").unwrap_err().to_string();
        assert!(err.contains("x-v1.zip"), "{err}");
        assert!(err.contains("10A3 after 10B1"), "{err}");
        assert!(err.contains("cablekeep verify"), "{err}");
        assert!(
            order.check(zip, "10B1").is_err(),
            "a repeated id is out of order too"
        );
    }
}
