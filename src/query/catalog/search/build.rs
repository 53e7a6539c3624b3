//! The ranking data a store's catalog keeps beside the full-text index, written at its build:
//! common words are ranked from stored postings.
//!
//! FTS5's bm25() costs time for every matching row, and before it ranks a single row it counts
//! every row of each phrase (its IDF): a word found in most cables is slow to rank even for one
//! row (docs/PERFORMANCE.md, "Search"). The catalog therefore stores, for each term found in
//! many rows, its postings (every row it is in, with its frequency there) and each row's length,
//! and search ranks queries made only of such terms from them, computing bm25 exactly as FTS5
//! does. The build checks, for every stored posting, that this gives FTS5's own score to the
//! bit; a term that fails is not stored and its queries are ranked by FTS5.

use super::bm25::{Corpus, bm25_idf, frequency_of};
use super::language::{fts5_string, terms_of_texts};
use super::postings::{Best, PostingsWriter};
use super::rank::Ranked;
use crate::query::catalog::{Catalog, open_read_only};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// The `meta` key recording the layout of the ranking data: a catalog without it, or with
/// another layout, is rebuilt.
const RANKING_KEY: &str = "ranking";

/// `postings/3`: `ranking_terms` is a rowid table with its terms in their own index. In a
/// `WITHOUT ROWID` table the rows are the keys of its b-tree, and SQLite reads a key that does
/// not fit its page whole to compare with it, so every lookup of a term would read the postings
/// of the terms on its way down: most of a search's fixed cost. `best` comes before `postings`,
/// so that reading it does not walk the postings' pages. An older layout is rebuilt.
const RANKING_LAYOUT: &str = "postings/3";

/// Terms found in at least this many rows have their postings stored; FTS5 ranks a rarer term's
/// matches in a few milliseconds.
const RANKED_TERM_MIN_ROWS: i64 = 4096;

/// How many of a term's best rows are stored in ranking order, with their scores: a query of
/// that term alone (the commonest kind) needs neither its postings nor the row lengths, and a
/// filter letting one match in 50 through finds 20 hits among them.
const BEST_ROWS_PER_TERM: usize = 1024;

/// Terms whose postings are computed between two writes: bounds the memory of the build.
const POSTINGS_PER_WRITE: usize = 16;

const RANKING_SCHEMA: &str = "
CREATE TABLE ranking_corpus (
    documents INTEGER NOT NULL, tokens INTEGER NOT NULL, first_row INTEGER NOT NULL,
    lengths BLOB NOT NULL);
CREATE TABLE ranking_terms (
    term TEXT NOT NULL UNIQUE, documents INTEGER NOT NULL, best BLOB, postings BLOB);
CREATE TABLE ranking_rows (
    pk INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL, subject TEXT,
    created TEXT, origin TEXT, classification TEXT, released TEXT,
    redaction_status TEXT NOT NULL, partial_extract INTEGER NOT NULL, tags TEXT NOT NULL);
";

/// Fills `ranking_rows`: what a search shows of a hit and what its filter looks at, one short
/// row per cable. Read from `cables` and `tags`, checking a ranked match would cost two
/// lookups in large tables, each in a page no earlier lookup read (a cable's row holds its
/// text): too slow for a filter that lets few matches through.
const RANKING_ROWS_SQL: &str = "
INSERT INTO ranking_rows
SELECT c.pk, c.collection, c.id, c.subject, c.created, c.origin, c.classification, c.released,
       c.redaction_status, c.partial_extract,
       (SELECT json_group_array(t.tag ORDER BY t.position) FROM tags t
        WHERE t.collection = c.collection AND t.cable = c.id)
FROM cables c ORDER BY c.pk;
";

/// Which terms [`write_ranking_data`] stores postings of (those in at least `min_rows` rows),
/// and how many of their best rows in ranking order.
#[derive(Debug, Clone, Copy)]
pub(super) struct RankingSizes {
    pub(super) min_rows: i64,
    pub(super) best_rows: usize,
}

impl RankingSizes {
    /// The sizes of a store's catalog.
    pub(super) const STORE: RankingSizes = RankingSizes {
        min_rows: RANKED_TERM_MIN_ROWS,
        best_rows: BEST_ROWS_PER_TERM,
    };
}

/// The `meta` row recording the layout of the ranking data.
pub(super) fn ranking_layout_meta() -> (String, String) {
    (RANKING_KEY.into(), RANKING_LAYOUT.into())
}

/// Whether the catalog's ranking data is laid out as this build writes it.
pub(super) fn ranking_layout_current(catalog: &Catalog) -> rusqlite::Result<bool> {
    let ranking: Option<String> = catalog
        .conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [RANKING_KEY],
            |r| r.get(0),
        )
        .optional()?;
    Ok(ranking.as_deref() == Some(RANKING_LAYOUT))
}

/// Writes a catalog's ranking data: each row's length, every term of the full-text index with
/// the number of rows it is in, and for the terms in many rows ([`RankingSizes`]) their
/// postings and best rows, when the postings give every row exactly FTS5's score
/// ([`ranking_of_term`]). The catalog's other connections are free, so the terms are ranked on
/// every core.
pub(super) fn write_ranking_data(
    conn: &Connection,
    path: &Path,
    sizes: RankingSizes,
) -> rusqlite::Result<()> {
    conn.execute_batch(RANKING_SCHEMA)?;
    conn.execute_batch(&format!("BEGIN; {RANKING_ROWS_SQL} COMMIT;"))?;
    let corpus = Corpus::of_index(conn)?;
    let common = write_terms(conn, &corpus, sizes.min_rows)?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    // `documents` becomes the number of rows the term's query found, from which FTS5 computed
    // the IDF of the scores the postings were checked against (the vocabulary's count is the same).
    let mut update = conn.prepare(
        "UPDATE ranking_terms SET documents = ?2, postings = ?3, best = ?4 WHERE term = ?1",
    )?;
    for group in common.chunks(POSTINGS_PER_WRITE) {
        let ranked = on_connections(path, group, workers, |c, (term, rows)| {
            ranking_of_term(c, &corpus, term, *rows, sizes.best_rows)
        })?;
        conn.execute_batch("BEGIN")?;
        for ((term, _), r) in group.iter().zip(ranked) {
            if let Some(r) = r {
                update.execute(params![term, r.rows, r.postings, r.best])?;
            }
        }
        conn.execute_batch("COMMIT")?;
    }
    Ok(())
}

/// Writes the row lengths and every term of the full-text index with the number of rows it is
/// in, and returns the terms in at least `min_rows` rows that can be ranked from postings
/// ([`self_quoting`]). The whole vocabulary (310,000 terms at full scale) is dropped before the
/// terms are ranked.
fn write_terms(
    conn: &Connection,
    corpus: &Corpus,
    min_rows: i64,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let terms = vocabulary(conn)?;
    let common = self_quoting(terms.iter().filter(|t| t.1 >= min_rows))?;
    conn.execute_batch("BEGIN")?;
    corpus.save(conn)?;
    let mut insert = conn.prepare("INSERT INTO ranking_terms (term, documents) VALUES (?1, ?2)")?;
    for (term, documents) in &terms {
        insert.execute(params![term, documents])?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(common)
}

/// Every term of the full-text index and the number of rows it is in.
pub(super) fn vocabulary(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.execute_batch(
        "CREATE VIRTUAL TABLE temp.ranking_vocab USING fts5vocab (main, cables_fts, 'row')",
    )?;
    let terms = conn
        .prepare("SELECT term, doc FROM temp.ranking_vocab")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect();
    conn.execute_batch("DROP TABLE temp.ranking_vocab")?;
    terms
}

/// The terms (with their number of rows) that a query of the term as an FTS5 string
/// (`"term"`) searches for exactly: postings are computed with that query, and looked up by the
/// terms of the user's query.
fn self_quoting<'t>(
    terms: impl Iterator<Item = &'t (String, i64)>,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let terms: Vec<&(String, i64)> = terms.collect();
    let texts: Vec<&String> = terms.iter().map(|(term, _)| term).collect();
    let tokens = terms_of_texts(&texts)?;
    Ok(terms
        .into_iter()
        .zip(tokens)
        .filter(|((term, _), tokens)| tokens.len() == 1 && &tokens[0] == term)
        .map(|(term, _)| term.clone())
        .collect())
}

/// `f` of every item, on `workers` threads each with its own read-only connection to `path`.
fn on_connections<T: Sync, R: Send>(
    path: &Path,
    items: &[T],
    workers: usize,
    f: impl Fn(&Connection, &T) -> rusqlite::Result<R> + Sync,
) -> rusqlite::Result<Vec<R>> {
    let workers = workers.clamp(1, items.len().max(1));
    let f = &f;
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    let conn = open_read_only(path)?;
                    items
                        .iter()
                        .skip(w)
                        .step_by(workers)
                        .map(|item| f(&conn, item))
                        .collect::<rusqlite::Result<Vec<R>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<rusqlite::Result<Vec<Vec<R>>>>()
    })?;
    // Item i was done by thread i % workers, as its (i / workers)-th.
    let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
    Ok((0..items.len())
        .filter_map(|i| parts[i % workers].next())
        .collect())
}

/// What is stored of a term for ranking: the number of rows it is in, its postings
/// ([`PostingsWriter`]) and its best rows in ranking order ([`encode_best`]).
struct TermRanking {
    pub(super) rows: i64,
    pub(super) postings: Vec<u8>,
    pub(super) best: Vec<u8>,
}

/// A term's [`TermRanking`], when bm25 computed from its postings gives every row of the term
/// exactly the score FTS5 gives it for the query `"term"`; `None` otherwise (FTS5 ranks that
/// term). `rows` is the number of rows the vocabulary says the term is in, from which the IDF
/// is computed before the matches are read: so each match is encoded as it comes and only the
/// best `best_rows` are kept (a common term's matches held whole would grow with the corpus, in
/// every worker).
fn ranking_of_term(
    conn: &Connection,
    corpus: &Corpus,
    term: &str,
    rows: i64,
    best_rows: usize,
) -> rusqlite::Result<Option<TermRanking>> {
    let idf = bm25_idf(corpus.documents, rows);
    let avgdl = corpus.avgdl();
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, bm25(cables_fts) FROM cables_fts WHERE cables_fts MATCH ?1",
    )?;
    let mut matches = stmt.query([fts5_string(term)])?;
    let mut postings = PostingsWriter::default();
    let mut best = Best::new(Some(best_rows));
    let mut found = 0;
    while let Some(r) = matches.next()? {
        let m = Ranked {
            pk: r.get(0)?,
            score: r.get(1)?,
        };
        let frequency = corpus
            .length(m.pk)
            .and_then(|length| frequency_of(m.score, idf, length, avgdl));
        let Some(frequency) = frequency else {
            return Ok(None);
        };
        postings.push(m.pk, frequency);
        best.offer(m);
        found += 1;
    }
    // FTS5 scored with the number of rows its query found: the IDF above must be the same.
    if found != rows {
        return Ok(None);
    }
    Ok(Some(TermRanking {
        rows,
        postings: postings.out,
        best: encode_best(&best.into_sorted()),
    }))
}

/// The best rows of a term as bytes: each row and its score, 8 bytes little-endian each.
fn encode_best(best: &[Ranked]) -> Vec<u8> {
    best.iter()
        .flat_map(|m| m.pk.to_le_bytes().into_iter().chain(m.score.to_le_bytes()))
        .collect()
}

pub(super) fn decode_best(bytes: &[u8]) -> Vec<Ranked> {
    bytes
        .chunks_exact(16)
        .map(|b| {
            let (pk, score) = b.split_at(8);
            Ranked {
                pk: i64::from_le_bytes(pk.try_into().unwrap_or_default()),
                score: f64::from_le_bytes(score.try_into().unwrap_or_default()),
            }
        })
        .collect()
}
