//! Writing the index: a version's cables streamed from its archive into tantivy's writer, and
//! the index brought from the versions it holds to the latest ones with work that follows what
//! changed, not the corpus.

use super::compile::engine;

/// An error of the engine while writing the index (a full disk, a folder that cannot be
/// written).
pub(super) fn engine_write(e: tantivy::TantivyError) -> Error {
    Error::Invalid(format!("the search index could not be written: {e}"))
}
use super::fields::{Fields, key, line_digest, register_analyzers};
use crate::bag::capture::IndexLine;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::query::select::{self, Need, VersionRef};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tantivy::index::{SegmentId, SegmentMeta};
use tantivy::indexer::{IndexWriterOptions, MergeCandidate, MergePolicy, NoMergePolicy};
use tantivy::{Index, IndexWriter, Term};

/// The name of the index's layout, kept in each commit: an index with another is rebuilt.
pub(super) const INDEX_SCHEMA: &str = "cablekeep-search/1";

/// What an index holds, kept with each commit (tantivy's commit payload), so that the versions
/// and the documents change together or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Contents {
    pub schema: String,
    /// The version of each collection indexed, sorted by collection.
    pub versions: Vec<Indexed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Indexed {
    pub collection: String,
    pub version: u32,
    /// SHA-256 of the version's sidecar manifest: a version rewritten in place is not the one
    /// indexed.
    pub manifest_sha256: String,
}

impl Contents {
    pub(super) fn of(versions: &[VersionRef]) -> Contents {
        let mut versions: Vec<Indexed> = versions
            .iter()
            .map(|v| Indexed {
                collection: v.collection.clone(),
                version: v.version,
                manifest_sha256: v.manifest_sha256.clone(),
            })
            .collect();
        versions.sort_by(|a, b| a.collection.cmp(&b.collection));
        Contents {
            schema: INDEX_SCHEMA.to_string(),
            versions,
        }
    }

    /// The contents an index's last commit recorded; None for an index of another layout.
    pub(super) fn recorded(index: &Index) -> Option<Contents> {
        let payload = index.load_metas().ok()?.payload?;
        let contents: Contents = serde_json::from_str(&payload).ok()?;
        (contents.schema == INDEX_SCHEMA).then_some(contents)
    }
}

/// How many cables an update added (new or changed) and removed (gone or changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Cables indexed: new ones, and those whose index line changed.
    pub indexed: usize,
    /// Cables removed because the collection no longer holds them.
    pub removed: usize,
}

/// Memory the indexing threads share for the segments they build, in bytes: a segment is
/// written when its thread's share is full.
const WRITER_MEMORY: usize = 96 << 20;

/// Documents read from the archive that the indexing threads have not taken yet, at most.
const MAX_QUEUED: usize = 1024;

/// How long the indexing threads may take no document before the build is given up.
const STALLED: Duration = Duration::from_secs(300);

/// A writer whose threads share [`WRITER_MEMORY`]. A full build never merges segments while it
/// runs: merging reads every segment through memory maps, which then count as the process's
/// memory (some 400 MB at full scale, against 220 without); updates merge small segments only
/// ([`SmallSegments`]).
fn writer(index: &Index, full_build: bool) -> Result<IndexWriter> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 4);
    let options = IndexWriterOptions::builder()
        .num_worker_threads(threads)
        .memory_budget_per_thread(WRITER_MEMORY / threads)
        .num_merge_threads(1)
        .build();
    let writer: IndexWriter = index.writer_with_options(options).map_err(engine_write)?;
    match full_build {
        true => writer.set_merge_policy(Box::new(NoMergePolicy)),
        false => writer.set_merge_policy(Box::new(SmallSegments)),
    }
    Ok(writer)
}

/// Segments of fewer documents than this (deleted ones counted) are small: what updates write (a full build's hold
/// about 12,000 cables each at full scale).
const SMALL_SEGMENT_DOCS: u32 = 8_192;
/// Small segments are merged once there are this many, at most this many documents at a time
/// (what a merge maps into memory follows the documents merged).
const SMALL_SEGMENTS_TO_MERGE: usize = 8;
const MAX_DOCS_MERGED: u32 = 65_536;

/// A segment that has lost this share of its documents (deleted: changed or gone cables) is
/// rewritten without them.
const DELETED_SHARE_TO_COMPACT: f64 = 0.3;

/// The merge policy of updates: each update adds a segment or two, which are merged once there
/// are enough of them, so that searches do not slow down version after version; a full
/// build's large segments are left as they are, but for one that has lost a good share of its
/// documents, which is rewritten alone (what a merge maps is what it reads: one segment, not
/// the index), so that deleted documents neither pile up nor keep weighing on the scores.
#[derive(Debug)]
struct SmallSegments;

impl MergePolicy for SmallSegments {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let mut candidates: Vec<MergeCandidate> = segments
            .iter()
            .filter(|s| s.max_doc() >= SMALL_SEGMENT_DOCS)
            .filter(|s| {
                f64::from(s.num_deleted_docs()) >= DELETED_SHARE_TO_COMPACT * f64::from(s.max_doc())
            })
            .map(|s| MergeCandidate(vec![s.id()]))
            .collect();
        let mut small: Vec<(u32, SegmentId)> = segments
            .iter()
            .filter(|s| s.max_doc() < SMALL_SEGMENT_DOCS)
            .map(|s| (s.max_doc(), s.id()))
            .collect();
        if small.len() < SMALL_SEGMENTS_TO_MERGE {
            return candidates;
        }
        small.sort();
        let mut docs = 0;
        let merged: Vec<SegmentId> = small
            .into_iter()
            .take_while(|(n, _)| {
                docs += n;
                docs <= MAX_DOCS_MERGED
            })
            .map(|(_, id)| id)
            .collect();
        if merged.len() > 1 {
            candidates.push(MergeCandidate(merged));
        }
        candidates
    }
}

/// Writes an index's documents and commits them with what it holds.
pub(super) struct Builder<'a> {
    index: &'a Index,
    fields: Fields,
    writer: IndexWriter,
    taken: std::sync::Arc<AtomicUsize>,
    queued: usize,
}

impl<'a> Builder<'a> {
    pub(super) fn new(index: &'a Index, full_build: bool) -> Result<Builder<'a>> {
        let taken = register_analyzers(index);
        Ok(Builder {
            index,
            fields: Fields::of(&index.schema()).map_err(engine)?,
            writer: writer(index, full_build)?,
            taken,
            queued: 0,
        })
    }

    /// Adds the cables of a version that `keep` selects; returns how many.
    pub(super) fn add_version(
        &mut self,
        store: &Store,
        version: &VersionRef,
        keep: select::Keep<'_>,
        progress: &dyn Progress,
    ) -> Result<usize> {
        let archive = store.open_zip(
            &version.collection,
            version.version,
            crate::bag::Reading::Index,
        )?;
        let need = Need::default();
        progress.start(&format!("indexing {}", version.identifier), version.cables);
        let Builder {
            fields,
            writer,
            taken,
            queued,
            ..
        } = self;
        let n = select::stream(&archive, keep, need, progress, |batch| {
            for cable in &batch {
                let doc = fields.document(&version.collection, version.version, cable);
                writer.add_document(doc).map_err(engine_write)?;
                *queued += 1;
                wait_for_room(*queued, taken)?;
            }
            Ok(())
        })?;
        progress.finish();
        Ok(n)
    }

    /// Removes every document of a collection.
    pub(super) fn remove_collection(&mut self, collection: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.collection, collection));
    }

    /// Removes a cable's document.
    pub(super) fn remove_cable(&mut self, collection: &str, id: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.key, &key(collection, id)));
    }

    /// Commits what was added and removed as one change, recording `contents`; a build killed
    /// before this leaves the index as its last commit left it.
    pub(super) fn commit(mut self, contents: &Contents) -> Result<()> {
        let payload = serde_json::to_string(contents).expect("contents serialize");
        let mut prepared = self.writer.prepare_commit().map_err(engine_write)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(engine_write)?;
        self.writer.wait_merging_threads().map_err(engine_write)?;
        let _ = self.index;
        Ok(())
    }
}

/// Waits while more than [`MAX_QUEUED`] of the `queued` documents wait in the writer's queue
/// (which holds up to 10,000 whole texts otherwise).
fn wait_for_room(queued: usize, taken: &AtomicUsize) -> Result<()> {
    let mut last = taken.load(Ordering::Relaxed);
    let mut since = Instant::now();
    while queued.saturating_sub(taken.load(Ordering::Relaxed)) > MAX_QUEUED {
        std::thread::sleep(Duration::from_micros(200));
        let now = taken.load(Ordering::Relaxed);
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > STALLED {
            return Err(Error::Invalid(
                "the search index's writer stopped taking documents".into(),
            ));
        }
    }
    Ok(())
}

/// The cables of `version` that the index does not hold as they are there (new, or their
/// index line changed), and the indexed ones that are not in it any more.
pub(super) struct Delta {
    pub changed: HashSet<String>,
    pub gone: Vec<String>,
}

/// Compares the documents of a collection in the index with the lines of a version of it.
pub(super) fn delta(index: &Index, store: &Store, version: &VersionRef) -> Result<Delta> {
    let mut indexed = indexed_lines(index, &version.collection)?;
    let archive = store.open_zip(
        &version.collection,
        version.version,
        crate::bag::Reading::Index,
    )?;
    let mut changed = HashSet::new();
    select::for_each_line(&archive, |line: &IndexLine| {
        if indexed.remove(&line.id) != Some(line_digest(line)) {
            changed.insert(line.id.clone());
        }
    })?;
    let mut gone: Vec<String> = indexed.into_keys().collect();
    gone.sort();
    Ok(Delta { changed, gone })
}

/// The id and line digest of every live document of a collection.
fn indexed_lines(index: &Index, collection: &str) -> Result<HashMap<String, u64>> {
    let reader = index.reader().map_err(engine)?;
    let searcher = reader.searcher();
    let prefix = key(collection, "");
    let mut lines = HashMap::new();
    for segment in searcher.segment_readers() {
        let keys = super::collect::keys(segment).map_err(engine)?;
        let digests = segment.fast_fields().u64("line").map_err(engine)?;
        let mut by_ord: Vec<(u64, u64)> = segment
            .doc_ids_alive()
            .filter_map(|doc| {
                let ord = keys.term_ords(doc).next()?;
                Some((ord, digests.first(doc).unwrap_or(0)))
            })
            .collect();
        by_ord.sort_unstable();
        let ords: Vec<u64> = by_ord.iter().map(|(o, _)| *o).collect();
        let names = super::collect::keys_of(&keys, &ords).map_err(engine)?;
        for (name, (_, digest)) in names.into_iter().zip(by_ord) {
            if let Some(id) = name.strip_prefix(&prefix) {
                lines.insert(id.to_string(), digest);
            }
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_merge_small_segments_together_and_compact_large_ones_that_lost_many() {
        let index = Index::create_in_ram(super::super::fields::Fields::schema());
        let meta = |docs: u32, deleted: u32| {
            let m = index.new_segment_meta(SegmentId::generate_random(), docs);
            match deleted {
                0 => m,
                n => m.with_delete_meta(n, 1),
            }
        };
        let ids = |c: &MergeCandidate| c.0.len();
        // A full build's segments, none with deletes, and fewer small ones than merge: nothing.
        let mut segments: Vec<SegmentMeta> = (0..20).map(|_| meta(12_000, 0)).collect();
        segments.extend((0..7).map(|_| meta(5_000, 0)));
        assert!(SmallSegments.compute_merge_candidates(&segments).is_empty());
        // An eighth small one: the small ones merge, up to MAX_DOCS_MERGED documents.
        segments.push(meta(5_000, 0));
        let c = SmallSegments.compute_merge_candidates(&segments);
        assert_eq!(c.iter().map(ids).collect::<Vec<_>>(), [8]);
        // A large segment that lost a third of its documents is rewritten alone.
        segments.truncate(20);
        segments.push(meta(12_000, 4_000));
        segments.push(meta(12_000, 1_000));
        let c = SmallSegments.compute_merge_candidates(&segments);
        assert_eq!(c.iter().map(ids).collect::<Vec<_>>(), [1]);
        assert_eq!(c[0].0, [segments[20].id()]);
    }
}
