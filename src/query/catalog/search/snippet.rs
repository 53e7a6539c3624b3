//! Snippets: the best matching passage of each hit, matches in `[` `]`, made for the hits
//! only and with a query that names each phrase once.

use super::language::{fts5_string, query_phrases, terms_of_texts};
use crate::query::catalog::{Catalog, open_read_only};
use rusqlite::{Connection, OptionalExtension, params};

/// Below this many hits, their snippets are made on one thread.
const MIN_SNIPPETS_TO_SHARE: usize = 8;

/// The best matching passage of one cable, matches in `[` `]`.
pub(super) fn snippet(conn: &Connection, query: &str, pk: i64) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare_cached(
        "SELECT snippet(cables_fts, -1, '[', ']', '...', 16) FROM cables_fts
         WHERE cables_fts MATCH ?1 AND rowid = ?2",
    )?;
    let s: Option<Option<String>> = stmt
        .query_row(params![query, pk], |r| r.get(0))
        .optional()?;
    Ok(s.flatten().unwrap_or_default())
}
impl Catalog {
    /// The best matching passage of each of these cables, matches in `[` `]`.
    ///
    /// Each statement with a prefix query (`develop*`) first merges the entries of every
    /// indexed word with that prefix, whatever rows it then reads, so that cost would be paid
    /// once per snippet. A prefix query's snippets are therefore made by one statement over the
    /// hits' rows, others one by one (each a direct lookup, where one statement over the rows
    /// would read every match between them); the figures are in docs/PERFORMANCE.md. A snippet
    /// depends only on its row and the query, so both give the same.
    pub(super) fn snippets(
        &self,
        query: &str,
        pks: &[i64],
    ) -> rusqlite::Result<std::collections::HashMap<i64, String>> {
        let (Some(&first), Some(&last)) = (pks.iter().min(), pks.iter().max()) else {
            return Ok(Default::default());
        };
        if !query.contains('*') {
            return self.snippets_apart(query, pks);
        }
        let rows = format!(
            "[{}]",
            pks.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        self.conn
            .prepare_cached(
                "SELECT rowid, snippet(cables_fts, -1, '[', ']', '...', 16) FROM cables_fts
                 WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3
                 AND +rowid IN (SELECT value FROM json_each(?4))",
            )?
            .query_map(params![query, first, last, rows], |r| {
                let snippet: Option<String> = r.get(1)?;
                Ok((r.get(0)?, snippet.unwrap_or_default()))
            })?
            .collect()
    }

    /// Snippets made one by one: the second half of them on a second connection and thread,
    /// when there are enough to pay for it (opening a connection costs about as much as three
    /// snippets of a common word).
    fn snippets_apart(
        &self,
        query: &str,
        pks: &[i64],
    ) -> rusqlite::Result<std::collections::HashMap<i64, String>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (mine, theirs) = match cores > 1 && pks.len() >= MIN_SNIPPETS_TO_SHARE {
            true => pks.split_at(pks.len() / 2),
            false => (pks, &[][..]),
        };
        let one_by_one = |conn: &Connection, pks: &[i64]| {
            pks.iter()
                .map(|&pk| Ok((pk, snippet(conn, query, pk)?)))
                .collect::<rusqlite::Result<Vec<_>>>()
        };
        let path = self.path.as_path();
        std::thread::scope(|s| {
            let other = (!theirs.is_empty())
                .then(|| s.spawn(move || one_by_one(&open_read_only(path)?, theirs)));
            let mut all: std::collections::HashMap<i64, String> =
                one_by_one(&self.conn, mine)?.into_iter().collect();
            if let Some(h) = other {
                all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?);
            }
            Ok(all)
        })
    }

    /// The best matching passage of one cable, matches in `[` `]`.
    #[cfg(test)]
    pub(super) fn snippet(&self, query: &str, pk: i64) -> rusqlite::Result<String> {
        snippet(&self.conn, query, pk)
    }
}

/// Queries of at most this many phrases make their snippets as given.
const SNIPPET_PHRASES_AS_GIVEN: usize = 4;

/// The query snippets are made with: the query itself, unless it names a phrase more than once
/// (also as other words that make the same terms, such as `The` and `thé` for `the`); then its
/// distinct phrases joined by OR. FTS5 scores each passage against every match of every phrase,
/// so a phrase given 200 times makes each snippet cost 40,000 times that of the phrase alone. A
/// query of a few phrases is taken as it is: repeats cost little there, and telling the terms
/// of its words costs an in-memory index.
pub(super) fn snippet_query(query: &str) -> rusqlite::Result<std::borrow::Cow<'_, str>> {
    let phrases = query_phrases(query);
    if phrases.len() <= SNIPPET_PHRASES_AS_GIVEN {
        return Ok(query.into());
    }
    let texts: Vec<&str> = phrases.iter().map(|p| p.text.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<String> = phrases
        .iter()
        .zip(terms_of_texts(&texts)?)
        .filter(|(p, terms)| !terms.is_empty() && seen.insert((terms.clone(), p.prefix)))
        .map(|(p, _)| fts5_string(&p.text) + if p.prefix { "*" } else { "" })
        .collect();
    if distinct.len() == phrases.len() {
        return Ok(query.into());
    }
    Ok(distinct.join(" OR ").into())
}
