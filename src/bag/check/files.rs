//! The bag's files by path inside the bag, and its folder.

use crate::bag::{Entry, OpenArchive};
use crate::finding::{CappedFindings, Code, Finding};
use std::ops::Range;

/// The bag folder: the one top-level folder holding `bagit.txt`. Entries outside it are findings.
pub(super) fn bag_folder(archive: &OpenArchive, findings: &mut CappedFindings) -> Option<String> {
    let candidates: Vec<&str> = archive
        .index
        .entries
        .iter()
        .filter_map(|e| e.name.strip_suffix("/bagit.txt"))
        .filter(|f| !f.contains('/'))
        .collect();
    let folder = match candidates.as_slice() {
        [one] => one.to_string(),
        [] => {
            findings.push(Finding::new(
                Code::BagitDeclaration,
                &archive.label,
                "no <folder>/bagit.txt: the zip holds no bag",
            ));
            return None;
        }
        many => {
            findings.push(Finding::new(
                Code::BagitDeclaration,
                &archive.label,
                format!("{} bag folders; an archive holds exactly one", many.len()),
            ));
            return None;
        }
    };
    let prefix = format!("{folder}/");
    for e in &archive.index.entries {
        if !e.name.starts_with(&prefix) {
            findings.push(
                Finding::new(
                    Code::UnsafeEntryName,
                    &archive.label,
                    format!("outside the bag folder {folder:?}"),
                )
                .at_entry(&e.name),
            );
        }
    }
    Some(folder)
}

/// The files of the bag by path inside the bag, sorted (directory entries left out; of two
/// entries with one name, the first). The payload, `data/...`, is one contiguous run of them.
pub(super) struct BagFiles<'a> {
    pub(super) all: Vec<(&'a str, &'a Entry)>,
    pub(super) payload: Range<usize>,
}

impl<'a> BagFiles<'a> {
    pub(super) fn new(archive: &'a OpenArchive, folder: &str) -> Self {
        let prefix = format!("{folder}/");
        let mut all: Vec<(&str, &Entry)> = archive
            .index
            .entries
            .iter()
            .filter_map(|e| {
                let path = e.name.strip_prefix(&prefix)?;
                (!path.is_empty() && !path.ends_with('/')).then_some((path, e))
            })
            .collect();
        // A stable sort keeps entries of one name in zip order, so dedup keeps the first.
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.dedup_by(|later, earlier| later.0 == earlier.0);
        let start = all.partition_point(|(p, _)| *p < "data/");
        let end = start + all[start..].partition_point(|(p, _)| p.starts_with("data/"));
        BagFiles {
            all,
            payload: start..end,
        }
    }

    pub(super) fn contains(&self, path: &str) -> bool {
        self.all.binary_search_by(|(p, _)| (*p).cmp(path)).is_ok()
    }

    pub(super) fn get(&self, path: &str) -> Option<&'a Entry> {
        let i = self.all.binary_search_by(|(p, _)| (*p).cmp(path)).ok()?;
        Some(self.all[i].1)
    }

    pub(super) fn payload(&self) -> &[(&'a str, &'a Entry)] {
        &self.all[self.payload.clone()]
    }

    /// Where a payload file stands in [`Self::payload`].
    pub(super) fn payload_position(&self, path: &str) -> Option<usize> {
        self.payload()
            .binary_search_by(|(p, _)| (*p).cmp(path))
            .ok()
    }

    /// The tag files: every file outside `data/`.
    pub(super) fn tag_paths(&self) -> Vec<&'a str> {
        let (before, rest) = self.all.split_at(self.payload.start);
        let after = &rest[self.payload.len()..];
        before.iter().chain(after).map(|(p, _)| *p).collect()
    }
}

/// Finds payload files by path when they are asked for mostly in sorted order (as cablekeep
/// writes manifests and the index): the next file is tried first, then a binary search.
#[derive(Default)]
pub(super) struct Cursor {
    pub(super) next: usize,
}

impl Cursor {
    pub(super) fn find(&mut self, files: &BagFiles<'_>, path: &str) -> Option<usize> {
        let payload = files.payload();
        let position = match payload.get(self.next) {
            Some((p, _)) if *p == path => self.next,
            _ => files.payload_position(path)?,
        };
        self.next = position + 1;
        Some(position)
    }
}
