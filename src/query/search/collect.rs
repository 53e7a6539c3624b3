//! Collectors: the best hits in a fixed order (score, then collection and id), and the keys of
//! every match.
//!
//! Tantivy's own top-k collector breaks ties between equal scores by document number, which
//! depends on how the documents fell into segments (indexing threads, merges, later updates):
//! the same index content could list tied hits in another order, and a search limited to 5
//! would not be the head of one limited to 1,000. Here ties go by key (`<collection>\n<id>`):
//! within a segment its fast field's term ordinals are in key order, so the best `k` of each
//! segment are found with ordinals only, and the keys are read for those alone.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::columnar::TermOrdHit;
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// A ranked match.
#[derive(Debug, Clone)]
pub(super) struct Ranked {
    pub score: Score,
    pub key: String,
    pub doc: DocAddress,
}

/// The best `k` matches by score, then key; of one collection's cables when given. The
/// collection is told by the key's ordinal, in the collector: as a clause of the query it would
/// make every match an intersection to score, with no block skipped.
pub(super) struct TopByKey {
    pub k: usize,
    pub collection: Option<String>,
}

/// The key column of a segment (every document has one).
pub(super) fn keys(reader: &SegmentReader) -> tantivy::Result<StrColumn> {
    reader.fast_fields().str("key")?.ok_or_else(|| {
        tantivy::TantivyError::SchemaError("the search index has no key column".into())
    })
}

/// The keys of these ordinals of a segment's key column, sorted as the ordinals must be.
pub(super) fn keys_of(column: &StrColumn, sorted_ords: &[u64]) -> tantivy::Result<Vec<String>> {
    let mut keys = Vec::with_capacity(sorted_ords.len());
    column
        .dictionary()
        .sorted_ords_to_term_cb(sorted_ords, |bytes| {
            keys.push(String::from_utf8_lossy(bytes).into_owned())
        })?;
    Ok(keys)
}

/// The ordinals of a segment's keys of `collection`'s cables: those from `<collection>\n` up
/// to `<collection>` followed by the next character after a newline.
fn ord_range(keys: &StrColumn, collection: &str) -> tantivy::Result<std::ops::Range<u64>> {
    let ord = |key: String| -> tantivy::Result<u64> {
        Ok(match keys.dictionary().term_ord_or_next(key)? {
            TermOrdHit::Exact(o) | TermOrdHit::Next(o) => o,
        })
    };
    Ok(ord(format!("{collection}\n"))?..ord(format!("{collection}\u{b}"))?)
}

/// A kept match; greater is worse, so the heap's top is the worst kept.
#[derive(Debug, Clone, Copy)]
struct Kept {
    score: Score,
    ord: u64,
    doc: DocId,
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.ord.cmp(&other.ord))
    }
}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept {}

pub(super) struct TopSegment {
    k: usize,
    segment: SegmentOrdinal,
    keys: StrColumn,
    /// The key ordinals of the collection searched, when one is.
    allowed: Option<std::ops::Range<u64>>,
    heap: BinaryHeap<Kept>,
}

impl TopSegment {
    /// Offers a match; returns the score a match must beat from now on to be offered (a tie
    /// with the worst kept may still win on its key, so just under that score).
    fn offer(&mut self, doc: DocId, score: Score) -> Score {
        let ord = self.keys.term_ords(doc).next().unwrap_or(u64::MAX);
        if self.allowed.as_ref().is_none_or(|r| r.contains(&ord)) {
            let kept = Kept { score, ord, doc };
            if self.heap.len() < self.k {
                self.heap.push(kept);
            } else if self.heap.peek().is_some_and(|worst| kept < *worst) {
                self.heap.pop();
                self.heap.push(kept);
            }
        }
        match self.heap.len() < self.k {
            true => Score::MIN,
            false => self
                .heap
                .peek()
                .map_or(Score::MIN, |worst| worst.score.next_down()),
        }
    }
}

impl SegmentCollector for TopSegment {
    type Fruit = tantivy::Result<Vec<Ranked>>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.offer(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        let mut kept = self.heap.into_vec();
        kept.sort_by_key(|k| k.ord);
        let ords: Vec<u64> = kept.iter().map(|k| k.ord).collect();
        let keys = keys_of(&self.keys, &ords)?;
        Ok(kept
            .into_iter()
            .zip(keys)
            .map(|(k, key)| Ranked {
                score: k.score,
                key,
                doc: DocAddress::new(self.segment, k.doc),
            })
            .collect())
    }
}

impl Collector for TopByKey {
    type Fruit = Vec<Ranked>;
    type Child = TopSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TopSegment> {
        let keys = keys(reader)?;
        let allowed = match &self.collection {
            Some(c) => Some(ord_range(&keys, c)?),
            None => None,
        };
        Ok(TopSegment {
            k: self.k,
            segment,
            keys,
            allowed,
            heap: BinaryHeap::with_capacity(self.k.min(4096) + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<tantivy::Result<Vec<Ranked>>>,
    ) -> tantivy::Result<Vec<Ranked>> {
        let mut all = Vec::new();
        for f in fruits {
            all.extend(f?);
        }
        all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.key.cmp(&b.key)));
        all.truncate(self.k);
        Ok(all)
    }

    /// Offers only the matches that can still enter the best `k`, so that block-max WAND skips
    /// the blocks of postings that cannot (a common word's hundreds of thousands of matches).
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<tantivy::Result<Vec<Ranked>>> {
        let mut top = self.for_segment(segment, reader)?;
        if self.k == 0 {
            return Ok(Ok(Vec::new()));
        }
        let alive = reader.alive_bitset();
        let mut threshold = Score::MIN;
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_some_and(|a| a.is_deleted(doc)) {
                return threshold;
            }
            threshold = top.offer(doc, score);
            threshold
        })?;
        Ok(top.harvest())
    }
}

/// The keys of every match.
pub(super) struct AllKeys;

pub(super) struct AllKeysSegment {
    keys: StrColumn,
    ords: Vec<u64>,
}

impl SegmentCollector for AllKeysSegment {
    type Fruit = tantivy::Result<Vec<String>>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.ords.extend(self.keys.term_ords(doc).next());
    }

    fn harvest(mut self) -> Self::Fruit {
        self.ords.sort_unstable();
        self.ords.dedup();
        keys_of(&self.keys, &self.ords)
    }
}

impl Collector for AllKeys {
    type Fruit = Vec<String>;
    type Child = AllKeysSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<AllKeysSegment> {
        Ok(AllKeysSegment {
            keys: keys(reader)?,
            ords: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<tantivy::Result<Vec<String>>>,
    ) -> tantivy::Result<Vec<String>> {
        let mut all = Vec::new();
        for f in fruits {
            all.extend(f?);
        }
        Ok(all)
    }
}
