//! Stats: how the cables of a collection version are distributed by year (of `created`),
//! origin, classification, tag and redaction status. Read from the cable index alone.

use crate::bag::capture::IndexLine;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts of cables by facet; keys sorted, `(none)` for a missing value. A facet counts at most
/// 100,000 distinct values; the cables of any further value fall under `(other values)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// The collection counted.
    pub collection: String,
    /// The version counted, `<collection>@v<N>`.
    pub identifier: String,
    /// Cables in the version (lines of its cable index).
    pub cables: u64,
    /// Captures of those cables, over all releases and sources.
    pub captures: u64,
    /// Cables by the year they were sent (`YYYY`, from `created`); `(none)` when undated.
    pub by_year: BTreeMap<String, u64>,
    /// Cables by sending post, as written; `(none)` when unknown.
    pub by_origin: BTreeMap<String, u64>,
    /// Cables by classification, the whole marking as written (`SECRET//NOFORN`); `(none)` when the
    /// page gives none.
    pub by_classification: BTreeMap<String, u64>,
    /// Cables by tag: a cable counts once under each of its distinct tags, and a cable without tags
    /// under none.
    pub by_tag: BTreeMap<String, u64>,
    /// Cables by the redaction status of their current capture: `redacted` or `not-redacted`.
    pub by_redaction: BTreeMap<String, u64>,
    /// Cables whose current capture is a partial extract.
    pub partial_extracts: u64,
}

const NONE: &str = "(none)";

/// Distinct values counted apart in one facet; the cables of any further value are counted
/// under [`OTHER`]. Far more than a real corpus has (Cablegate: a few thousand tags), and a
/// bound on what a hostile index (millions of distinct made-up values) can make stats hold.
const MAX_KEYS: usize = 100_000;
const OTHER: &str = "(other values)";

/// Counts one more cable under `key`, or under [`OTHER`] when the facet is full.
fn count(map: &mut BTreeMap<String, u64>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else if map.len() < MAX_KEYS {
        map.insert(key.to_string(), 1);
    } else {
        *map.entry(OTHER.to_string()).or_default() += 1;
    }
}

/// Counts the cables of an archive's index, streamed line by line, so that memory does not
/// grow with the corpus.
pub fn of_archive(
    archive: &crate::bag::OpenArchive,
    collection: &str,
    identifier: &str,
) -> crate::error::Result<Stats> {
    let mut s = Stats {
        collection: collection.to_string(),
        identifier: identifier.to_string(),
        ..Stats::default()
    };
    crate::query::select::for_each_line(archive, |l| s.add(l))?;
    Ok(s)
}

/// Counts the cables of `collection`'s `version` (default: the latest).
pub fn of_version(
    store: &crate::store::Store,
    collection: &str,
    version: Option<crate::store::VersionNum>,
) -> crate::error::Result<Stats> {
    let version = store.resolve_version(collection, version.map(crate::store::VersionNum::get))?;
    let archive = store.open_zip(collection, version, crate::bag::Reading::Index)?;
    let identifier = crate::store::VersionId::new(collection, version).to_string();
    of_archive(&archive, collection, &identifier)
}

impl Stats {
    /// Counts one cable.
    pub fn add(&mut self, l: &IndexLine) {
        let key = |v: &Option<String>| -> String {
            v.as_deref()
                .filter(|x| !x.trim().is_empty())
                .unwrap_or(NONE)
                .to_string()
        };
        self.cables += 1;
        self.captures += l.captures.len() as u64;
        let year = l
            .created
            .as_deref()
            .and_then(|c| c.get(..4))
            .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(NONE);
        count(&mut self.by_year, year);
        count(&mut self.by_origin, &key(&l.origin));
        count(&mut self.by_classification, &key(&l.classification));
        let mut tags: Vec<&String> = l.tags.iter().collect();
        tags.sort();
        tags.dedup();
        for t in tags {
            count(&mut self.by_tag, t);
        }
        count(&mut self.by_redaction, &l.redaction.status);
        if l.redaction.partial_extract {
            self.partial_extracts += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_facet_holds_a_bounded_number_of_values_and_counts_the_rest_together() {
        let mut map = BTreeMap::new();
        for n in 0..MAX_KEYS + 10 {
            count(&mut map, &format!("value {n}"));
        }
        count(&mut map, "value 0");
        assert_eq!(map.len(), MAX_KEYS + 1);
        assert_eq!(map["value 0"], 2);
        assert_eq!(map[OTHER], 10);
    }
}
