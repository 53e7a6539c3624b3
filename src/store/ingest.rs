//! Reading the inputs of a write: in parallel, a batch at a time, each capture's files
//! compressed into the spill once, then handed on in input order.

use super::snapshot::{PathKey, path_key};
use crate::bag::capture::{self, Ingested};
use crate::bag::{ArchiveFormat, Spill, SpillRef};
use crate::cable::provenance::SourceHints;
use crate::error::Result;
use crate::finding::Finding;
use crate::hash::{self, DigestBytes};
use crate::input::{Input, InputItem};
use crate::progress::Progress;
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;

/// An input read and its files spilled: the capture, and where its raw bytes (then its record)
/// are in the spill (None when the previous version holds its bytes and nothing was spilled).
pub(super) struct Spilled {
    pub(super) ingested: Ingested,
    pub(super) raw: Option<SpillRef>,
}

/// How many inputs are read in parallel before their captures are added to the snapshot, in
/// input order (so the result does not depend on which thread finished first).
const INGEST_BATCH: usize = 2048;

/// Reads every input in parallel, a batch at a time: digests, parse, and its files compressed
/// into the spill (unless the previous version holds its bytes already); then hands each
/// capture to `add` in input order, with its input. Findings are collected; a page that cannot
/// be read at all stops the write (nothing is stored yet, so nothing is lost).
pub(super) fn ingest_all(
    inputs: Vec<(Input, Arc<SourceHints>)>,
    progress: &dyn Progress,
    (spill, format): (&Spill, ArchiveFormat),
    known: Option<&HashSet<PathKey>>,
    findings: &mut Vec<Finding>,
    mut add: impl FnMut(&InputItem, Spilled) -> Result<()>,
) -> Result<()> {
    let count: usize = inputs.iter().map(|(input, _)| input.count()).sum();
    progress.start("reading", count as u64);
    let mut queue = InputQueue::new(inputs);
    while let Some(batch) = queue.next_batch(INGEST_BATCH) {
        let results: Vec<Result<(Spilled, Vec<Finding>)>> = batch
            .par_iter()
            .map(|(item, hints)| {
                let bytes = item.load()?;
                let (ingested, found) =
                    capture::ingest(&item.name, item.format, &bytes, hints, format);
                let spilled = spill_capture(spill, known, bytes, ingested)?;
                progress.inc(1);
                Ok((spilled, found))
            })
            .collect();
        for ((item, _), r) in batch.iter().zip(results) {
            let (spilled, mut found) = r?;
            findings.append(&mut found);
            add(item, spilled)?;
        }
    }
    progress.finish();
    Ok(())
}

/// The inputs not yet read, handed out a batch of pages at a time in input order. What was
/// handed out is freed as reading goes on (the snapshot is at its largest when the last inputs
/// are read); a table's rows become pages only when their batch is handed out.
struct InputQueue {
    /// In reverse order, so that the next is taken off the end.
    rest: Vec<(Input, Arc<SourceHints>)>,
    /// How many rows of the table at the end of `rest` were handed out.
    rows_taken: usize,
}

impl InputQueue {
    fn new(mut inputs: Vec<(Input, Arc<SourceHints>)>) -> Self {
        inputs.reverse();
        InputQueue {
            rest: inputs,
            rows_taken: 0,
        }
    }

    fn next_batch(&mut self, size: usize) -> Option<Vec<(InputItem, Arc<SourceHints>)>> {
        let mut batch = Vec::new();
        while batch.len() < size {
            let Some((input, hints)) = self.rest.last() else {
                break;
            };
            match input {
                Input::Rows(table) => {
                    let end = table.len().min(self.rows_taken + size - batch.len());
                    batch.extend((self.rows_taken..end).map(|i| (table.item(i), hints.clone())));
                    self.rows_taken = end;
                    if end == table.len() {
                        self.rest.pop();
                        self.rows_taken = 0;
                    }
                }
                Input::One(_) => {
                    let Some((Input::One(item), hints)) = self.rest.pop() else {
                        unreachable!("the last input is a page");
                    };
                    batch.push((item, hints));
                }
            }
        }
        // Halving the allocation whenever half of it is unused copies each input at most
        // once more in all.
        if self.rest.len() < self.rest.capacity() / 2 {
            self.rest.shrink_to_fit();
        }
        (!batch.is_empty()).then_some(batch)
    }
}

/// Compresses an ingested input's files into the spill and drops its record bytes, which are
/// not needed again.
fn spill_capture(
    spill: &Spill,
    known: Option<&HashSet<PathKey>>,
    bytes: Vec<u8>,
    ingested: Ingested,
) -> Result<Spilled> {
    let is_known = |raw: &str| known.is_some_and(|k| k.contains(&path_key(raw)));
    let digests_of = |sha256: &str, sha512: &str| {
        DigestBytes::from_hex(&hash::Digests {
            sha256: sha256.to_string(),
            sha512: sha512.to_string(),
        })
    };
    match ingested {
        Ingested::Cable { line, record_bytes } => {
            let c = &line.captures[0];
            let raw = if is_known(&c.raw) {
                None
            } else {
                let raw = (&bytes[..], digests_of(&c.sha256, &c.sha512));
                Some(spill.add_together(&[raw, (&record_bytes, None)])?)
            };
            Ok(Spilled {
                ingested: Ingested::Cable {
                    line,
                    record_bytes: Vec::new(),
                },
                raw,
            })
        }
        Ingested::Unparsed(u) => {
            let raw = if is_known(&u.raw) {
                None
            } else {
                Some(spill.add(&bytes, digests_of(&u.sha256, &u.sha512))?)
            };
            Ok(Spilled {
                ingested: Ingested::Unparsed(u),
                raw,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_come_in_order_a_batch_at_a_time_and_what_was_read_is_freed() {
        let inputs: Vec<_> = (0..10_000)
            .map(|i| {
                (
                    InputItem::bytes(format!("{i}.txt"), Vec::new()).into(),
                    Arc::default(),
                )
            })
            .collect();
        let mut queue = InputQueue::new(inputs);
        let mut names = Vec::new();
        while let Some(batch) = queue.next_batch(64) {
            assert!(queue.rest.capacity() <= 2 * queue.rest.len().max(64));
            names.extend(batch.into_iter().map(|(item, _)| item.name));
        }
        let expected: Vec<String> = (0..10_000).map(|i| format!("{i}.txt")).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn a_tables_rows_come_in_order_across_batches_between_pages() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("t.csv");
        let rows: String = (1..=150)
            .map(|i| {
                format!("\"{i}\",\"1/2/2008 10:00\",\"08MADRID{i}\",\"x\",\"\",\"\",\"\",\"t\"\n")
            })
            .collect();
        std::fs::write(&table, rows).unwrap();
        let found = crate::input::collect(&[table], &Default::default()).unwrap();
        assert_eq!(found.count(), 150);
        let mut inputs = vec![(InputItem::bytes("a.txt", Vec::new()).into(), Arc::default())];
        inputs.extend(found.items.into_iter().map(|t| (t, Arc::default())));
        inputs.push((InputItem::bytes("u.txt", Vec::new()).into(), Arc::default()));
        let mut queue = InputQueue::new(inputs);
        let mut sizes = Vec::new();
        let mut names = Vec::new();
        while let Some(batch) = queue.next_batch(64) {
            sizes.push(batch.len());
            names.extend(batch.into_iter().map(|(item, _)| item.name));
        }
        assert_eq!(sizes, [64, 64, 24]);
        let mut expected = vec!["a.txt".to_string()];
        expected.extend((1..=150).map(|i| format!("t.csv#{i:09}")));
        expected.push("u.txt".to_string());
        assert_eq!(names, expected);
    }
}
