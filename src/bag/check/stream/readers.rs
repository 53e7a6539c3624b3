//! The readers of the payload manifests, the index and the unparsed inputs' list, each turning
//! its file into a sorted stream of paths for the merge.

use super::channel::Outgoing;
use crate::bag::check::rules::{self, IndexLines, Problem};
use crate::bag::check::tags::LineReader;
use crate::finding::CappedFindings;
use crate::hash::Sha256Bytes;
use std::sync::Arc;

/// Reads a payload manifest line by line into a sorted stream of paths and digests.
pub(super) struct ManifestStream<const N: usize> {
    pub(super) name: &'static str,
    pub(super) label: String,
    /// The last path sent (empty before the first).
    pub(super) previous: String,
    pub(super) out: Outgoing<[u8; N]>,
    pub(super) findings: CappedFindings,
}

impl<const N: usize> ManifestStream<N> {
    pub(super) fn new(name: &'static str, label: &str) -> Self {
        ManifestStream {
            name,
            label: label.to_string(),
            previous: String::new(),
            out: Outgoing::new(),
            findings: CappedFindings::new(),
        }
    }
}

impl<const N: usize> LineReader for ManifestStream<N> {
    fn line(&mut self, raw: &[u8], number: usize) {
        let (name, label) = (self.name, self.label.as_str());
        let (previous, out, findings) = (&mut self.previous, &mut self.out, &mut self.findings);
        let read = rules::with_manifest_line::<N>(raw, number, |path, digest| {
            match path.cmp(previous) {
                std::cmp::Ordering::Less => return out.unsorted(),
                std::cmp::Ordering::Equal => {
                    return findings.push(rules::listed_twice(label, name, path));
                }
                std::cmp::Ordering::Greater => {}
            }
            previous.clear();
            previous.push_str(path);
            out.push(path, digest);
        });
        if let Err(problem) = read {
            let finding = rules::manifest_malformed(label, name, problem);
            self.findings.push(finding);
        }
    }

    fn end(&mut self) {
        self.out.finish();
    }
}

/// What the index says of one file: the SHA-256 of a raw capture, or nothing (a record).
pub(super) enum IndexDigest {
    None,
    Given(Sha256Bytes),
    /// The digest is not hex: the finding's message, reported when the file is in the archive.
    NotHex(Problem),
}

/// What the index says of a file it names, and which cable names it.
pub(super) struct IndexItem {
    pub(super) cable: Arc<str>,
    pub(super) sha256: IndexDigest,
}

/// Reads `cablekeep/index.jsonl` line by line into a sorted stream of the files it names.
pub(super) struct IndexStream {
    pub(super) label: String,
    pub(super) lines: IndexLines,
    pub(super) previous: String,
    pub(super) out: Outgoing<IndexItem>,
    pub(super) findings: CappedFindings,
}

impl IndexStream {
    pub(super) fn new(label: &str) -> Self {
        IndexStream {
            label: label.to_string(),
            lines: IndexLines::default(),
            previous: String::new(),
            out: Outgoing::new(),
            findings: CappedFindings::new(),
        }
    }
}

impl LineReader for IndexStream {
    fn end(&mut self) {
        self.out.finish();
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let mut problems = Vec::new();
        let line = self.lines.read(raw, number, &mut problems);
        for p in problems {
            self.findings.push(rules::index_mismatch(&self.label, p));
        }
        let Some(line) = line else {
            return;
        };
        let cable: Arc<str> = Arc::from(&*line.id);
        let mut named: Vec<(&str, IndexDigest)> = Vec::with_capacity(2 * line.captures.len());
        for c in &line.captures {
            let sha256 = match rules::capture_sha256(&line.id, c) {
                Ok(d) => IndexDigest::Given(d),
                Err(why) => IndexDigest::NotHex(why),
            };
            named.push((&c.raw, sha256));
            named.push((&c.record, IndexDigest::None));
        }
        // Stable: of two captures naming one raw file, the later's digest is the one kept.
        named.sort_by(|a, b| a.0.cmp(b.0));
        if named
            .first()
            .is_some_and(|(p, _)| *p < self.previous.as_str())
        {
            return self.out.unsorted();
        }
        if let Some((last, _)) = named.last() {
            self.previous.clear();
            self.previous.push_str(last);
        }
        for (path, sha256) in named {
            let cable = Arc::clone(&cable);
            self.out.push(path, IndexItem { cable, sha256 });
        }
    }
}

/// Reads `cablekeep/unparsed.jsonl` line by line into a sorted stream of the files it names.
pub(super) struct UnparsedStream {
    pub(super) label: String,
    pub(super) previous: String,
    pub(super) count: u64,
    pub(super) out: Outgoing<()>,
    pub(super) findings: CappedFindings,
}

impl UnparsedStream {
    pub(super) fn new(label: &str) -> Self {
        UnparsedStream {
            label: label.to_string(),
            previous: String::new(),
            count: 0,
            out: Outgoing::new(),
            findings: CappedFindings::new(),
        }
    }
}

impl LineReader for UnparsedStream {
    fn end(&mut self) {
        self.out.finish();
    }

    fn line(&mut self, raw: &[u8], number: usize) {
        let Some(line) = rules::take_unparsed_line(raw, number, &self.label, &mut self.findings)
        else {
            return;
        };
        self.count += 1;
        if line.raw < self.previous {
            return self.out.unsorted();
        }
        self.previous.clone_from(&line.raw);
        self.out.push(&line.raw, ());
    }
}
