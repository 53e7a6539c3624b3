//! Full-text search of the catalog: the face of search to the rest of the catalog, and the
//! search itself (rank, check the filter in ranking order, make the snippets of the hits).
//!
//! All of search lies in this folder: the query language ([`language`]), ranking by FTS5 or
//! from stored postings ([`rank`], [`stored`], [`postings`], [`bm25`]), the rows a search reads
//! ([`candidate`], [`rows`]), snippets ([`snippet`]) and the data a store's catalog keeps for
//! ranking ([`build`]). The rest of the catalog knows only [`Hit`], [`check_query`],
//! [`Catalog::search`], [`Catalog::matching_ids`], [`Known`] and the functions below that
//! write and check the search data of a catalog.

mod bm25;
mod build;
mod candidate;
mod language;
mod postings;
mod rank;
mod rows;
mod snippet;
mod stored;
#[cfg(test)]
mod tests;

pub use language::{MAX_QUERY_BYTES, MAX_QUERY_WORDS, check_query};
pub(super) use rows::row_ranges;

use super::Catalog;
use super::writer::DbWriter;
use crate::error::{Error, Result};
use crate::query::select::{Filter, VersionRef};
use language::quote_words;
use rusqlite::params;
use serde::Serialize;
use snippet::snippet_query;
use std::collections::BTreeSet;
use stored::{StoredQuery, WordPlan};

/// What search learns of an open catalog once and keeps (a field of [`Catalog`]).
#[derive(Debug, Default)]
pub(super) struct Known {
    /// Whether the catalog has `ranking_rows` (a store's catalog has; a temporary one or an
    /// export does not).
    has_ranking_rows: std::cell::OnceCell<bool>,
}

/// The `meta` rows of a store's catalog for search: each collection's row range, then the
/// layout of the ranking data that [`write_search_data`] writes.
pub(super) fn store_catalog_meta(
    db: &DbWriter,
    versions: &[VersionRef],
) -> Result<Vec<(String, String)>> {
    let mut meta = row_ranges(db, versions)?;
    meta.push(build::ranking_layout_meta());
    Ok(meta)
}

/// Writes what a store's catalog keeps beside the full-text index for ranking.
pub(super) fn write_search_data(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
) -> rusqlite::Result<()> {
    build::write_ranking_data(conn, path, build::RankingSizes::STORE)
}

/// Whether the catalog holds the search data of these versions as this build writes it.
pub(super) fn search_data_current(
    catalog: &Catalog,
    wanted: &[VersionRef],
) -> rusqlite::Result<bool> {
    // A catalog without recorded row ranges is rebuilt: without them every search of a
    // collection would count its rows first (see docs/PERFORMANCE.md, "Search").
    for v in wanted {
        if catalog.recorded_rows(&v.collection)?.is_none() {
            return Ok(false);
        }
    }
    // A catalog without stored postings of common words is rebuilt: without them a common
    // word is ranked by FTS5's bm25() on every matching row.
    build::ranking_layout_current(catalog)
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The collection holding the cable (a catalog indexes one version of each collection).
    pub collection: String,
    /// The cable's canonical reference id.
    pub id: String,
    /// FTS5's bm25 rank: lower is better.
    pub score: f64,
    /// The cable's SUBJECT line; None when it has none.
    pub subject: Option<String>,
    /// When the cable was sent (UTC, `YYYY-MM-DDTHH:MM:00Z` or a bare date); None when undated.
    pub created: Option<String>,
    /// The sending post, e.g. `Embassy Madrid`; None when unknown.
    pub origin: Option<String>,
    /// The classification as written; None when the page gives none.
    pub classification: Option<String>,
    /// The best matching passage, matches in `[` `]`.
    pub snippet: String,
}

impl Catalog {
    /// Full-text search: hits best first (bm25, then collection and id), that pass `filter`'s
    /// other criteria, at most `limit` of them. The query is FTS5 syntax (`"a phrase"`, `a OR b`,
    /// `NEAR(a b)`, `prefix*`); a query that is not valid FTS5 is searched as plain words.
    pub fn search(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        check_query(query)?;
        match self.search_raw(query, collection, filter, limit) {
            Ok(hits) => Ok(hits),
            Err(first) => {
                let quoted = quote_words(query);
                if quoted.is_empty() || quoted == query {
                    return Err(self.query_error(query, first));
                }
                self.search_raw(&quoted, collection, filter, limit)
                    .map_err(|_| self.query_error(query, first))
            }
        }
    }
}

/// How many of the best matches are first checked against a filter, per hit wanted, and at
/// least: a filter that lets one match in 64 through finds its hits there.
const FILTERED_CANDIDATES_PER_HIT: usize = 64;
const MIN_FILTERED_CANDIDATES: usize = 4096;

/// The same for matches ranked from stored postings, tried first: keeping the best 4096 of a
/// common word's matches in order takes twice as long as ranking them for 20 hits, and
/// filters such as a common tag (one cable in nine) find their hits among far fewer.
const STORED_CANDIDATES_PER_HIT: usize = 16;
const MIN_STORED_CANDIDATES: usize = 256;

/// How many of the best matches each try of [`Catalog::filtered`] ranks; the last try, all.
/// Most searches find their hits among the best few thousand matches: FTS5 then keeps only
/// those in a small heap instead of sorting every match (it computes every match's score
/// whatever the number kept, so it takes many at once); from stored postings a few hundred are
/// tried first.
fn candidate_tries(limit: usize, first: Option<usize>, ranker: Ranker<'_>) -> Vec<Option<usize>> {
    let per_hit = |per, min| Some(limit.saturating_mul(per).max(min));
    match (first, ranker.stored.is_some()) {
        (Some(first), _) => vec![Some(first), None],
        (None, false) => vec![
            per_hit(FILTERED_CANDIDATES_PER_HIT, MIN_FILTERED_CANDIDATES),
            None,
        ],
        (None, true) => vec![
            per_hit(STORED_CANDIDATES_PER_HIT, MIN_STORED_CANDIDATES),
            per_hit(FILTERED_CANDIDATES_PER_HIT, MIN_FILTERED_CANDIDATES),
            None,
        ],
    }
}

/// How a search is run, where the defaults are not wanted (tests).
#[derive(Debug, Clone, Copy, Default)]
struct Tuning {
    /// Threads that rank (default: one per core, see [`Catalog::workers_for`]).
    workers: Option<usize>,
    /// Matches first checked against a filter (default: see [`candidate_tries`]).
    first_candidates: Option<usize>,
    /// Rank every match with FTS5's bm25(), never from stored postings (see
    /// [`Catalog::rank_stored`]).
    fts_only: bool,
}

/// How the matches are ranked: from stored postings when the query allows it, else by FTS5 on
/// this many threads.
#[derive(Debug, Clone, Copy)]
struct Ranker<'q> {
    stored: Option<&'q StoredQuery>,
    workers: usize,
}

/// The cable row of a ranked match, with what the filter looks at.
struct Candidate {
    pk: i64,
    hit: Hit,
    released: Option<String>,
    redaction: String,
    partial_extract: bool,
    /// Its tags, when read with the row (from `ranking_rows`).
    tags: Option<Vec<String>>,
}

impl Catalog {
    /// A query that FTS5 refused, as given.
    fn query_error(&self, query: &str, e: rusqlite::Error) -> Error {
        Error::Invalid(format!("search query {query:?}: {e}"))
    }

    /// Ranks the matches without their snippets, then makes snippets for the hits only: a
    /// snippet re-reads its cable's text, so making one for every match (thousands for a common
    /// word) before sorting would be most of a search's time.
    ///
    /// Hits come best first by score, then collection and id. When every match of the searched
    /// rows is a candidate, only the best `limit` by score and row are ranked (rows tied on the
    /// score at the cut are taken in catalog order). Otherwise the matches are read in ranking
    /// order and checked one by one, until `limit` pass and the next one scores worse: that
    /// gives the head of the ordering of all the matches that pass, without reading the cable
    /// row of every match.
    fn search_raw(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> rusqlite::Result<Vec<Hit>> {
        self.search_with(query, collection, filter, limit, Tuning::default())
    }

    /// [`Catalog::search_raw`] with the number of ranking threads and of candidates first
    /// checked against a filter chosen (tests).
    fn search_with(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
        tuning: Tuning,
    ) -> rusqlite::Result<Vec<Hit>> {
        // One read transaction for the whole search: otherwise each statement takes and
        // releases the file's shared lock and checks that the file has not changed (a read and
        // an fstat), a third of the cost of checking a match against a filter.
        let _read = self.conn.unchecked_transaction()?;
        let filter = Filter {
            query: None,
            ..filter.clone()
        };
        let (rows, all_rows_wanted) = match collection {
            Some(c) => match self.contiguous_rows(c)? {
                Some(range) => (range, filter.is_empty()),
                None => (self.all_rows()?, false),
            },
            None => (self.all_rows()?, filter.is_empty()),
        };
        let stored = match tuning.fts_only {
            true => None,
            false => match self.word_plan(query)? {
                WordPlan::NoMatch => return Ok(Vec::new()),
                WordPlan::Stored(q) => Some(q),
                WordPlan::Fts => None,
            },
        };
        let ranker = Ranker {
            stored: stored.as_ref(),
            workers: tuning.workers.unwrap_or_else(|| Self::workers_for(rows)),
        };
        let mut hits: Vec<Candidate> = Vec::new();
        if all_rows_wanted {
            for m in self.rank(query, rows, Some(limit), ranker)? {
                hits.extend(self.candidate(m)?);
            }
        } else {
            let tries = candidate_tries(limit, tuning.first_candidates, ranker);
            hits = self.filtered(query, rows, collection, &filter, limit, &tries, ranker)?;
        }
        hits.sort_by(|a, b| {
            a.hit
                .score
                .partial_cmp(&b.hit.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.hit.collection.cmp(&b.hit.collection))
                .then_with(|| a.hit.id.cmp(&b.hit.id))
        });
        hits.truncate(limit);
        let pks: Vec<i64> = hits.iter().map(|c| c.pk).collect();
        let stored_query = stored.as_ref().map(StoredQuery::as_fts5);
        let snippet_query = snippet_query(stored_query.as_deref().unwrap_or(query))?;
        let mut snippets = self.snippets(&snippet_query, &pks)?;
        Ok(hits
            .into_iter()
            .map(|c| Hit {
                snippet: snippets.remove(&c.pk).unwrap_or_default(),
                ..c.hit
            })
            .collect())
    }

    /// The matches that are in the collection and pass the filter, read in ranking order until
    /// `limit` pass and the next match scores worse than the last of them. The best
    /// `candidates` matches of each try are ranked (the last try ranks all) until that happens;
    /// a try goes on from where the one before stopped, as the best `n` matches begin with the
    /// best `m < n`.
    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &self,
        query: &str,
        rows: (i64, i64),
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
        tries: &[Option<usize>],
        ranker: Ranker<'_>,
    ) -> rusqlite::Result<Vec<Candidate>> {
        let mut hits = Vec::new();
        let mut checked = 0;
        let mut cut: Option<f64> = None;
        for &candidates in tries {
            let ranked = self.rank(query, rows, candidates, ranker)?;
            let all_seen = candidates.is_none_or(|n| ranked.len() < n);
            for m in ranked.into_iter().skip(checked) {
                checked += 1;
                if cut.is_some_and(|worst| m.score > worst) {
                    return Ok(hits);
                }
                let Some(c) = self.candidate(m)? else {
                    continue;
                };
                if self.passes(&c, collection, filter)? {
                    hits.push(c);
                    if hits.len() == limit {
                        cut = Some(m.score);
                    }
                }
            }
            if all_seen || limit == 0 {
                break;
            }
        }
        Ok(hits)
    }

    /// The ids of the cables of `collection` whose subject or text matches `query` (neither
    /// ranked nor with snippets: only the set is wanted).
    pub fn matching_ids(&self, collection: &str, query: &str) -> Result<BTreeSet<String>> {
        check_query(query)?;
        match self.ids_raw(collection, query) {
            Ok(ids) => Ok(ids),
            Err(first) => {
                let quoted = quote_words(query);
                if quoted.is_empty() || quoted == query {
                    return Err(self.query_error(query, first));
                }
                self.ids_raw(collection, &quoted)
                    .map_err(|_| self.query_error(query, first))
            }
        }
    }

    fn ids_raw(&self, collection: &str, query: &str) -> rusqlite::Result<BTreeSet<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id FROM cables_fts JOIN cables c ON c.pk = cables_fts.rowid
             WHERE cables_fts MATCH ?1 AND c.collection = ?2",
        )?;
        stmt.query_map(params![query, collection], |r| r.get(0))?
            .collect()
    }
}
