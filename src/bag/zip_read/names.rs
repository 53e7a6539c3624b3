//! Entry names: unsafe names, duplicates (also when folded to lower case), and decoding.

use super::{Entry, FLAG_UTF8, ZipIndex};
use crate::finding::{Code, Finding};
use rayon::prelude::*;

/// Names must be safe relative paths (no absolute paths, `..`, backslashes, control characters,
/// empty components) and unique, also when compared case-insensitively.
pub(super) fn check_names(label: &str, index: &mut ZipIndex) {
    let entries = &index.entries;
    let (mut numbered, duplicates) = rayon::join(
        || {
            entries
                .par_iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let problem = unsafe_name_problem(&e.name)?;
                    Some((
                        i,
                        Finding::new(Code::UnsafeEntryName, label, problem).at_entry(&e.name),
                    ))
                })
                .collect::<Vec<(usize, Finding)>>()
        },
        || duplicate_names(entries),
    );
    for (original, duplicate) in duplicates {
        let (original, entry) = (&entries[original].name, &entries[duplicate]);
        let message = if *original == entry.name {
            "the name appears more than once".to_string()
        } else {
            format!("differs only in case from {original:?}")
        };
        numbered.push((
            duplicate,
            Finding::new(Code::DuplicateEntryName, label, message).at_entry(&entry.name),
        ));
    }
    numbered.sort_by_key(|(i, _)| *i);
    index.findings.extend(numbered.into_iter().map(|(_, f)| f));
}

/// Pairs (first entry, later entry) of names equal when folded to lower case. A zip whose
/// directory is already (nearly) sorted, as cablekeep writes it, is settled by a sort that
/// merges its few sorted runs in linear time; any other, through a hash map.
pub(super) fn duplicate_names(entries: &[Entry]) -> Vec<(usize, usize)> {
    /// More sorted runs than this and sorting would cost n log n.
    const FEW_RUNS: usize = 16;
    let mut descents = 0;
    for pair in entries.windows(2) {
        if folded_cmp(&pair[0].name, &pair[1].name) == std::cmp::Ordering::Greater {
            descents += 1;
            if descents >= FEW_RUNS {
                return duplicates_by_hash(entries).unwrap_or_else(|| duplicates_by_sort(entries));
            }
        }
    }
    duplicates_by_sort(entries)
}

/// Pairs (first entry, later entry) of names equal when folded to lower case, found through a
/// map from each folded name's 64-bit hash to its first entry (no copy of any name: archives
/// hold half a million). None when two different names share a hash, which the caller then
/// settles by sorting.
pub(super) fn duplicates_by_hash(entries: &[Entry]) -> Option<Vec<(usize, usize)>> {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let mut first: std::collections::HashMap<u64, u32> =
        std::collections::HashMap::with_capacity(entries.len());
    let mut folded = Vec::new();
    let mut pairs = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        folded.clear();
        if e.name.is_ascii() {
            folded.extend(e.name.bytes().map(|c| c.to_ascii_lowercase()));
        } else {
            folded.extend_from_slice(e.name.to_lowercase().as_bytes());
        }
        let mut h = state.build_hasher();
        h.write(&folded);
        match first.entry(h.finish()) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i as u32);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let original = *o.get() as usize;
                if folded_cmp(&entries[original].name, &e.name) != std::cmp::Ordering::Equal {
                    return None;
                }
                pairs.push((original, i));
            }
        }
    }
    Some(pairs)
}

/// The same pairs as [`duplicates_by_hash`], by sorting entry numbers by folded name.
pub(super) fn duplicates_by_sort(entries: &[Entry]) -> Vec<(usize, usize)> {
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    // Stable, so that of equal names the first in the zip comes first.
    order.sort_by(|&a, &b| folded_cmp(&entries[a as usize].name, &entries[b as usize].name));
    let mut pairs = Vec::new();
    let mut group_first = None;
    for pair in order.windows(2) {
        let (a, b) = (pair[0] as usize, pair[1] as usize);
        if folded_cmp(&entries[a].name, &entries[b].name) != std::cmp::Ordering::Equal {
            group_first = None;
            continue;
        }
        pairs.push((*group_first.get_or_insert(a), b));
    }
    pairs
}

/// Compares names as their lower-case forms would compare, without building them for ASCII.
pub(crate) fn folded_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        // Names in one folder share long prefixes: skip the identical bytes a word at a time.
        let same = common_prefix_len(a.as_bytes(), b.as_bytes());
        let fold = |c: &u8| c.to_ascii_lowercase();
        a.as_bytes()[same..]
            .iter()
            .map(fold)
            .cmp(b.as_bytes()[same..].iter().map(fold))
    } else {
        a.to_lowercase().cmp(&b.to_lowercase())
    }
}

/// How many leading bytes two byte strings share.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n && a[i..i + 8] == b[i..i + 8] {
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Why a zip entry name is unsafe to extract, if it is.
pub(crate) fn unsafe_name_problem(name: &str) -> Option<String> {
    if plainly_safe(name) {
        return None;
    }
    unsafe_name_problem_in_full(name)
}

pub(super) fn unsafe_name_problem_in_full(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("empty name".into());
    }
    if name.contains('\u{FFFD}') {
        return Some("name is not valid UTF-8".into());
    }
    if name.starts_with('/') || name.starts_with('~') || name.as_bytes().get(1) == Some(&b':') {
        return Some("absolute path".into());
    }
    if name.contains('\\') {
        return Some("backslash in name".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Some("control character in name".into());
    }
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    if trimmed
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some("empty, `.` or `..` path component".into());
    }
    None
}

/// The usual name, settled in one pass: printable ASCII without a backslash, not starting with
/// `/`, `~` or a drive letter, and no empty, `.` or `..` component (one trailing slash, as a
/// folder entry has, aside). False only sends a name to the full check.
pub(super) fn plainly_safe(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b[0] == b'/' || b[0] == b'~' || b.get(1) == Some(&b':') {
        return false;
    }
    let mut component_start = 0;
    for (i, &c) in b.iter().enumerate() {
        if !(0x20..0x7f).contains(&c) || c == b'\\' {
            return false;
        }
        if c == b'/' {
            if !ordinary_component(&b[component_start..i]) {
                return false;
            }
            component_start = i + 1;
        }
    }
    component_start == b.len() || ordinary_component(&b[component_start..])
}

/// A path component other than empty, `.` and `..`.
fn ordinary_component(c: &[u8]) -> bool {
    !matches!(c, b"" | b"." | b"..")
}

/// Bytes as text, replacing what is not UTF-8; checked with `from_utf8` first, which is several
/// times faster than `from_utf8_lossy` on valid text (`from_utf8_lossy` walks it in chunks even
/// then): the names of half a million entries, the lines of million-line manifests.
pub(crate) fn lossy_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(name) => std::borrow::Cow::Borrowed(name),
        Err(_) => String::from_utf8_lossy(raw),
    }
}

pub(super) fn decode_name(raw: &[u8], flags: u16) -> String {
    // Without the UTF-8 flag a name is CP437; cablekeep only writes ASCII names, so any
    // non-UTF-8 name is reported through the replacement character.
    let _ = flags & FLAG_UTF8;
    lossy_text(raw).into_owned()
}
