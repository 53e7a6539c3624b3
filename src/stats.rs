//! Stats: how the cables of a collection version are distributed by year (of `created`),
//! origin, classification, tag and redaction status. Read from the cable index alone.

use crate::capture::IndexLine;
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts of cables by facet; keys sorted, `(none)` for a missing value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub collection: String,
    pub identifier: String,
    pub cables: u64,
    pub captures: u64,
    pub by_year: BTreeMap<String, u64>,
    pub by_origin: BTreeMap<String, u64>,
    pub by_classification: BTreeMap<String, u64>,
    pub by_tag: BTreeMap<String, u64>,
    pub by_redaction: BTreeMap<String, u64>,
    /// Cables whose current capture is a partial extract.
    pub partial_extracts: u64,
}

const NONE: &str = "(none)";

/// Counts the cables of an index.
pub fn compute(collection: &str, identifier: &str, lines: &[IndexLine]) -> Stats {
    let mut s = Stats {
        collection: collection.to_string(),
        identifier: identifier.to_string(),
        ..Stats::default()
    };
    for l in lines {
        s.add(l);
    }
    s
}

/// Counts the cables of an archive's index, streamed line by line, so that memory does not
/// grow with the corpus.
pub fn of_archive(
    archive: &crate::archive::OpenArchive,
    collection: &str,
    identifier: &str,
) -> crate::error::Result<Stats> {
    let mut s = Stats {
        collection: collection.to_string(),
        identifier: identifier.to_string(),
        ..Stats::default()
    };
    crate::select::for_each_line(archive, |l| s.add(l))?;
    Ok(s)
}

impl Stats {
    /// Counts one cable.
    pub fn add(&mut self, l: &IndexLine) {
        let s = self;
        let key = |v: &Option<String>| {
            v.as_deref()
                .filter(|x| !x.trim().is_empty())
                .unwrap_or(NONE)
                .to_string()
        };
        {
            s.cables += 1;
            s.captures += l.captures.len() as u64;
            let year = l
                .created
                .as_deref()
                .and_then(|c| c.get(..4))
                .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or(NONE);
            *s.by_year.entry(year.to_string()).or_default() += 1;
            *s.by_origin.entry(key(&l.origin)).or_default() += 1;
            *s.by_classification
                .entry(key(&l.classification))
                .or_default() += 1;
            let mut tags: Vec<&String> = l.tags.iter().collect();
            tags.sort();
            tags.dedup();
            for t in tags {
                *s.by_tag.entry(t.clone()).or_default() += 1;
            }
            *s.by_redaction
                .entry(l.redaction.status.clone())
                .or_default() += 1;
            if l.redaction.partial_extract {
                s.partial_extracts += 1;
            }
        }
    }
}
