//! Diff: what changed between two versions of a collection, cable by cable.
//!
//! A cable is *changed* when its set of captures changed. The diff then compares consecutive
//! captures (in capture order) wherever at least one of the two is new in the later version, and,
//! when the cable's current capture was removed, the old current with the new one. Each comparison
//! says whether the text changed (with a line count summary), whether redactions were gained or
//! lost, and which metadata fields changed. For an added cable, all its consecutive captures are
//! compared.

use crate::archive::OpenArchive;
use crate::cable::CableRecord;
use crate::capture::{CaptureRef, IndexLine, StoredRecord};
use crate::error::{Error, Result};
use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;

/// The difference between two versions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VersionDiff {
    pub collection: String,
    pub from: u32,
    pub to: u32,
    pub added: Vec<CableChange>,
    pub removed: Vec<String>,
    pub changed: Vec<CableChange>,
    pub unchanged: u64,
}

/// How one cable changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CableChange {
    pub id: String,
    pub captures_added: Vec<String>,
    pub captures_removed: Vec<String>,
    /// `gained`, `lost`, `gained-and-lost`, `moved` or `same`: over all comparisons.
    pub redaction: String,
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
        let has = |r: &str| comparisons.iter().any(|c| c.redaction == r);
        let redaction = match (has("gained"), has("lost")) {
            (true, true) => "gained-and-lost",
            (true, false) => "gained",
            (false, true) => "lost",
            _ if has("moved") => "moved",
            _ => "same",
        };
        CableChange {
            id: id.to_string(),
            captures_added: added,
            captures_removed: removed,
            redaction: redaction.to_string(),
            text_changed: comparisons.iter().any(|c| c.text_changed),
            comparisons,
        }
    }
}

/// How the text, redactions and metadata of two captures of one cable differ.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContentChange {
    pub from_capture: String,
    pub to_capture: String,
    pub text_changed: bool,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// `gained` (more redaction runs), `lost` (fewer), `moved` (as many, elsewhere) or `same`.
    pub redaction: String,
    pub redaction_runs_from: usize,
    pub redaction_runs_to: usize,
    /// Metadata fields whose values differ.
    pub fields: Vec<FieldChange>,
}

/// One metadata field that differs.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// Compares two versions of a collection.
pub fn diff(store: &Store, collection: &str, from: u32, to: u32) -> Result<VersionDiff> {
    let from_archive = OpenArchive::open(&store.zip_path(collection, from))?;
    let to_archive = OpenArchive::open(&store.zip_path(collection, to))?;
    let (old_lines, _) = crate::store::read_index(&from_archive)?;
    let (new_lines, _) = crate::store::read_index(&to_archive)?;
    let old: BTreeMap<&str, &IndexLine> = old_lines.iter().map(|l| (l.id.as_str(), l)).collect();
    let new: BTreeMap<&str, &IndexLine> = new_lines.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut out = VersionDiff {
        collection: collection.to_string(),
        from,
        to,
        ..VersionDiff::default()
    };
    for id in old.keys() {
        if !new.contains_key(id) {
            out.removed.push(id.to_string());
        }
    }
    for (id, line) in &new {
        match old.get(id) {
            None => {
                let added: Vec<String> = line.captures.iter().map(|c| c.name.clone()).collect();
                let comparisons = consecutive(&to_archive, line, |_| true)?;
                out.added
                    .push(CableChange::new(id, added, Vec::new(), comparisons));
            }
            Some(before) => {
                let names = |l: &IndexLine| {
                    l.captures
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                };
                let (was, is) = (names(before), names(line));
                if was == is {
                    out.unchanged += 1;
                    continue;
                }
                let added: Vec<String> = is.iter().filter(|n| !was.contains(n)).cloned().collect();
                let removed: Vec<String> =
                    was.iter().filter(|n| !is.contains(n)).cloned().collect();
                let mut comparisons = consecutive(&to_archive, line, |c| added.contains(&c.name))?;
                if let (Some(a), Some(b)) = (before.current(), line.current())
                    && removed.contains(&a.name)
                {
                    comparisons.push(compare(&from_archive, a, &to_archive, b)?);
                }
                out.changed
                    .push(CableChange::new(id, added, removed, comparisons));
            }
        }
    }
    Ok(out)
}

/// Compares each pair of consecutive captures of a cable where `is_new` holds for either side.
fn consecutive(
    archive: &OpenArchive,
    line: &IndexLine,
    is_new: impl Fn(&CaptureRef) -> bool,
) -> Result<Vec<ContentChange>> {
    line.captures
        .windows(2)
        .filter(|pair| is_new(&pair[0]) || is_new(&pair[1]))
        .map(|pair| compare(archive, &pair[0], archive, &pair[1]))
        .collect()
}

pub(crate) fn load_record(archive: &OpenArchive, capture: &CaptureRef) -> Result<StoredRecord> {
    let bytes = archive.read_required(&capture.record)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
        path: archive.path.clone(),
        message: format!("{}: {e}", capture.record),
    })
}

/// Compares two captures of one cable by their stored records.
fn compare(
    a_archive: &OpenArchive,
    a: &CaptureRef,
    b_archive: &OpenArchive,
    b: &CaptureRef,
) -> Result<ContentChange> {
    let before = load_record(a_archive, a)?;
    let after = load_record(b_archive, b)?;
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
    let text_diff = similar::TextDiff::from_lines(&before.text, &after.text);
    let (mut added, mut removed) = (0, 0);
    for change in text_diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let (runs_from, runs_to) = (before.redaction.runs, after.redaction.runs);
    let redaction = match runs_to.cmp(&runs_from) {
        std::cmp::Ordering::Greater => "gained",
        std::cmp::Ordering::Less => "lost",
        std::cmp::Ordering::Equal if before.redaction.positions != after.redaction.positions => {
            "moved"
        }
        std::cmp::Ordering::Equal => "same",
    };
    ContentChange {
        from_capture: from_name.to_string(),
        to_capture: to_name.to_string(),
        text_changed: before.text != after.text,
        lines_added: added,
        lines_removed: removed,
        redaction: redaction.to_string(),
        redaction_runs_from: runs_from,
        redaction_runs_to: runs_to,
        fields: field_changes(before, after),
    }
}

/// Up to `max` changed lines of the text, each prefixed `+ ` or `- ` and cut to 100 characters:
/// a short sample of what changed.
pub fn changed_lines_sample(before: &str, after: &str, max: usize) -> Vec<String> {
    similar::TextDiff::from_lines(before, after)
        .iter_all_changes()
        .filter_map(|c| {
            let sign = match c.tag() {
                similar::ChangeTag::Insert => "+",
                similar::ChangeTag::Delete => "-",
                similar::ChangeTag::Equal => return None,
            };
            let line = c.value().trim_end();
            (!line.trim().is_empty())
                .then(|| format!("{sign} {}", line.chars().take(100).collect::<String>()))
        })
        .take(max)
        .collect()
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
