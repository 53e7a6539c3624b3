//! Stored postings: their encoding, a cursor over them, and the ranker that scores their rows
//! with [`super::bm25`], best first.

use super::bm25::{Corpus, bm25_idf, bm25_normed, length_norm};
use super::language::Join;
use super::rank::{Ranked, by_score_then_row, split_rows};

/// Postings as bytes, written a row at a time: for each row in order, its distance from the
/// previous one and the term's frequency in it, each a LEB128 varint.
#[derive(Default)]
pub(super) struct PostingsWriter {
    pub(super) out: Vec<u8>,
    pub(super) previous: i64,
}

impl PostingsWriter {
    pub(super) fn push(&mut self, row: i64, frequency: u32) {
        push_leb128(&mut self.out, row.abs_diff(self.previous));
        push_leb128(&mut self.out, u64::from(frequency));
        self.previous = row;
    }
}

fn push_leb128(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over postings as [`PostingsWriter`] wrote them, read as it moves (a common term's
/// postings can hold a row for nearly every cable: decoding them into a vector first would
/// cost more than ranking them).
#[derive(Clone)]
pub(super) struct Postings<'b> {
    pub(super) bytes: &'b [u8],
    /// The row and frequency it is at (`None` at the end, or when the bytes are not postings).
    pub(super) at: Option<(i64, u32)>,
    /// Rows in the postings (the term's IDF counts them).
    pub(super) len: usize,
}

impl<'b> Postings<'b> {
    pub(super) fn new(bytes: &'b [u8], len: usize) -> Postings<'b> {
        let mut p = Postings {
            bytes,
            at: None,
            len,
        };
        p.at = p.read(0);
        p
    }

    /// The next posting after row `previous` (the bytes are left as they are if it is damaged).
    pub(super) fn read(&mut self, previous: i64) -> Option<(i64, u32)> {
        let mut bytes = self.bytes;
        let row = previous.checked_add_unsigned(next_leb128(&mut bytes)?)?;
        let freq = u32::try_from(next_leb128(&mut bytes)?).ok()?;
        self.bytes = bytes;
        Some((row, freq))
    }

    fn advance(&mut self) {
        self.at = self.at.and_then(|(row, _)| self.read(row));
    }

    /// Moves to the first row at or after `row`.
    fn skip_to(&mut self, row: i64) {
        while self.at.is_some_and(|(r, _)| r < row) {
            self.advance();
        }
    }
}

/// The postings [`PostingsWriter`] wrote, whole (`None` if the bytes are not such postings).
#[cfg(test)]
pub(super) fn decode_postings(bytes: &[u8]) -> Option<Vec<(i64, u32)>> {
    let mut p = Postings::new(bytes, 0);
    let mut all = Vec::new();
    while let Some(posting) = p.at {
        all.push(posting);
        p.advance();
    }
    p.bytes.is_empty().then_some(all)
}

fn next_leb128(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The matches of `rows` that `lists` (each phrase's postings, in the query's order) give: rows
/// in any list ([`Join::Any`]) or in all of them, scored by [`super::bm25::bm25`], in ranking order (score, then
/// row): all, or the best `limit`. `None` if a row has no recorded length (never in a catalog)
/// or the postings are damaged.
pub(super) fn rank_postings(
    corpus: &Corpus,
    mut lists: Vec<Postings<'_>>,
    join: Join,
    (first, last): (i64, i64),
    limit: Option<usize>,
) -> Option<Vec<Ranked>> {
    let idfs: Vec<f64> = lists
        .iter()
        .map(|l| bm25_idf(corpus.documents, l.len as i64))
        .collect();
    let avgdl = corpus.avgdl();
    lists.iter_mut().for_each(|l| l.skip_to(first));
    let mut best = Best::new(limit);
    if let [list] = &mut lists[..] {
        // One word: every row of its postings matches (half the time of the loop below).
        while let Some((row, freq)) = list.at.filter(|&(row, _)| row <= last) {
            let norm = length_norm(corpus.length(row)?, avgdl);
            let score = bm25_normed([(idfs[0], f64::from(freq))], norm);
            best.offer(Ranked { pk: row, score });
            list.advance();
        }
        return (list.bytes.is_empty() || list.at.is_some()).then(|| best.into_sorted());
    }
    let mut freqs = vec![0.0; lists.len()];
    loop {
        let next = lists.iter().fold(None, |next: Option<i64>, l| match l.at {
            Some((row, _)) => Some(next.map_or(row, |n| n.min(row))),
            None => next,
        });
        let Some(row) = next.filter(|&row| row <= last) else {
            break;
        };
        let mut found = 0;
        for (list, freq) in lists.iter_mut().zip(freqs.iter_mut()) {
            *freq = match list.at {
                Some((r, f)) if r == row => {
                    list.advance();
                    found += 1;
                    f64::from(f)
                }
                _ => 0.0,
            };
        }
        if join == Join::Any || found == lists.len() {
            let phrases = idfs.iter().copied().zip(freqs.iter().copied());
            let norm = length_norm(corpus.length(row)?, avgdl);
            best.offer(Ranked {
                pk: row,
                score: bm25_normed(phrases, norm),
            });
        }
    }
    // Postings that stop before their end are damaged.
    lists
        .iter()
        .all(|l| l.bytes.is_empty() || l.at.is_some())
        .then(|| best.into_sorted())
}

/// Below this many postings in all, [`rank_postings_in_halves`] stays on one thread.
const MIN_POSTINGS_TO_SHARE: usize = 50_000;

/// [`rank_postings`], the two halves of the rows side by side when there are two cores and
/// enough postings. The second thread reads the first half's postings without scoring them to
/// find where its half starts (varints are read in order), which costs a third of scoring them:
/// a query of two common words is ranked in about two thirds of the time.
pub(super) fn rank_postings_in_halves(
    corpus: &Corpus,
    lists: Vec<Postings<'_>>,
    join: Join,
    rows: (i64, i64),
    limit: Option<usize>,
) -> Option<Vec<Ranked>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let postings: usize = lists.iter().map(|l| l.len).sum();
    if cores > 1 && postings >= MIN_POSTINGS_TO_SHARE {
        rank_halves(corpus, lists, join, rows, limit)
    } else {
        rank_postings(corpus, lists, join, rows, limit)
    }
}

/// [`rank_postings`] of each half of the rows, on two threads.
pub(super) fn rank_halves(
    corpus: &Corpus,
    lists: Vec<Postings<'_>>,
    join: Join,
    rows: (i64, i64),
    limit: Option<usize>,
) -> Option<Vec<Ranked>> {
    let indexed = corpus.rows();
    let halves = split_rows((rows.0.max(indexed.0), rows.1.min(indexed.1)), 2);
    let &[mine, theirs] = &halves[..] else {
        return rank_postings(corpus, lists, join, rows, limit);
    };
    let their_lists = lists.clone();
    let (mine, theirs) = std::thread::scope(|s| {
        let other = s.spawn(move || rank_postings(corpus, their_lists, join, theirs, limit));
        let mine = rank_postings(corpus, lists, join, mine, limit);
        (
            mine,
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    let mut all = mine?;
    all.extend(theirs?);
    Some(best_first(all, limit))
}

/// The matches in ranking order: all, or the best `limit`.
fn best_first(mut ranked: Vec<Ranked>, limit: Option<usize>) -> Vec<Ranked> {
    if let Some(limit) = limit
        && ranked.len() > limit
    {
        ranked.select_nth_unstable_by(limit.saturating_sub(1), by_score_then_row);
        ranked.truncate(limit);
    }
    ranked.sort_by(by_score_then_row);
    ranked
}

/// The best matches offered, in ranking order: all, or the best `limit` (kept in a heap whose
/// top is the worst of them, so that a common word's 250,000 matches are never all kept).
pub(super) struct Best {
    pub(super) limit: Option<usize>,
    pub(super) heap: std::collections::BinaryHeap<InRankingOrder>,
}

/// A match ordered as [`by_score_then_row`] orders them.
pub(super) struct InRankingOrder(Ranked);

impl PartialEq for InRankingOrder {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for InRankingOrder {}

impl PartialOrd for InRankingOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InRankingOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        by_score_then_row(&self.0, &other.0)
    }
}

impl Best {
    pub(super) fn new(limit: Option<usize>) -> Best {
        Best {
            limit,
            heap: std::collections::BinaryHeap::new(),
        }
    }

    pub(super) fn offer(&mut self, m: Ranked) {
        let m = InRankingOrder(m);
        match self.limit {
            Some(limit) if self.heap.len() >= limit => {
                if self.heap.peek().is_some_and(|worst| m < *worst) {
                    self.heap.pop();
                    self.heap.push(m);
                }
            }
            _ => self.heap.push(m),
        }
    }

    pub(super) fn into_sorted(self) -> Vec<Ranked> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|m| m.0)
            .collect()
    }
}
