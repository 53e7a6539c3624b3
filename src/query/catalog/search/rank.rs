//! Ranking the matches of a query among a range of rows, best first: from stored postings
//! when the query allows it ([`super::stored`]), else by FTS5's bm25() on slices of the rows
//! side by side.

use super::Ranker;
use crate::query::catalog::{Catalog, open_read_only};
use rusqlite::{Connection, params};

/// Below this many catalog rows per worker, ranking stays on one thread (a second connection
/// and thread cost more than they save).
const ROWS_PER_WORKER: i64 = 20_000;

/// A match of the full-text query: its catalog row and bm25 score (lower is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ranked {
    pub(super) pk: i64,
    pub(super) score: f64,
}

/// The ranking order of [`Catalog::rank`]: score, then catalog row. Scores compare as SQLite
/// compares them (bm25 is never NaN).
pub(super) fn by_score_then_row(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    a.score
        .partial_cmp(&b.score)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.pk.cmp(&b.pk))
}

/// The ranking of one slice of the catalog's rows.
const RANK_SQL: &str = "SELECT rowid, bm25(cables_fts) AS score FROM cables_fts
     WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3
     ORDER BY score, rowid LIMIT ?4";

/// Ranks the matches among rows `first..=last` on `conn`: all of them, or the best `limit`.
fn rank_rows(
    conn: &Connection,
    query: &str,
    (first, last): (i64, i64),
    limit: Option<usize>,
) -> rusqlite::Result<Vec<Ranked>> {
    let sql_limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    conn.prepare_cached(RANK_SQL)?
        .query_map(params![query, first, last, sql_limit], |r| {
            Ok(Ranked {
                pk: r.get(0)?,
                score: r.get(1)?,
            })
        })?
        .collect()
}

/// `first..=last` cut into `parts` contiguous slices (fewer when it is shorter).
pub(super) fn split_rows((first, last): (i64, i64), parts: usize) -> Vec<(i64, i64)> {
    let len = i128::from(last) - i128::from(first) + 1;
    let parts = i128::try_from(parts.max(1)).unwrap_or(1).min(len.max(1));
    (0..parts)
        .map(|i| {
            let start = i128::from(first) + len * i / parts;
            let end = i128::from(first) + len * (i + 1) / parts - 1;
            // Both lie within first..=last, so they fit.
            (
                i64::try_from(start).unwrap_or(first),
                i64::try_from(end).unwrap_or(last),
            )
        })
        .collect()
}
impl Catalog {
    /// How many threads rank a slice of `rows` each: one per core, each with at least
    /// [`ROWS_PER_WORKER`] rows.
    pub(super) fn workers_for((first, last): (i64, i64)) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let rows = (i128::from(last) - i128::from(first) + 1).max(0);
        let by_rows = usize::try_from(rows / i128::from(ROWS_PER_WORKER)).unwrap_or(usize::MAX);
        cores.min(by_rows).clamp(1, 8)
    }

    /// The matches among `rows` in ranking order (score, then row): all, or the best `limit`.
    /// From stored postings when the query's words allow it ([`Catalog::rank_stored`]), else by
    /// FTS5 ([`Catalog::rank_fts`]); both give the same matches and scores, in the same order.
    pub(super) fn rank(
        &self,
        query: &str,
        rows: (i64, i64),
        limit: Option<usize>,
        ranker: Ranker<'_>,
    ) -> rusqlite::Result<Vec<Ranked>> {
        if let Some(q) = ranker.stored
            && let Some(ranked) = self.rank_stored(q, rows, limit)?
        {
            return Ok(ranked);
        }
        self.rank_fts(query, rows, limit, ranker.workers)
    }

    /// The matches among `rows` in ranking order, ranked by FTS5.
    ///
    /// FTS5 computes bm25 for every match before it can sort, so a word found in most cables
    /// costs a score per cable (docs/PERFORMANCE.md, "Search"). The rows are cut into
    /// slices ranked side by side, each on its own connection. A match's score does not depend
    /// on the slice (bm25 takes the corpus statistics from the whole index), so the best
    /// `limit` of the merged slices are the best `limit` of the whole, in the same order.
    pub(super) fn rank_fts(
        &self,
        query: &str,
        rows: (i64, i64),
        limit: Option<usize>,
        workers: usize,
    ) -> rusqlite::Result<Vec<Ranked>> {
        let slices = split_rows(rows, workers);
        let Some((mine, others)) = slices.split_first() else {
            return Ok(Vec::new());
        };
        let path = self.path.as_path();
        let mut ranked = std::thread::scope(|s| {
            let handles: Vec<_> = others
                .iter()
                .map(|&slice| {
                    s.spawn(move || rank_rows(&open_read_only(path)?, query, slice, limit))
                })
                .collect();
            let mut all = rank_rows(&self.conn, query, *mine, limit)?;
            for h in handles {
                let part = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                all.extend(part);
            }
            Ok::<_, rusqlite::Error>(all)
        })?;
        ranked.sort_by(by_score_then_row);
        if let Some(limit) = limit {
            ranked.truncate(limit);
        }
        Ok(ranked)
    }
}
