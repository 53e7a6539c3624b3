//! Which queries stored postings rank (a plain-word query whose words are each one term with
//! stored postings), and their ranking from the stored best rows or postings.

use super::bm25::Corpus;
use super::build::decode_best;
use super::language::{Join, WordQuery, fts5_string, terms_of_texts, word_query};
use super::postings::{Postings, rank_postings_in_halves};
use super::rank::Ranked;
use crate::query::catalog::Catalog;
use rusqlite::OptionalExtension;

/// A [`WordQuery`] with each word replaced by the one term of the index it searches for, which
/// has stored postings.
#[derive(Debug)]
pub(super) struct StoredQuery {
    pub(super) terms: Vec<String>,
    pub(super) join: Join,
}

impl StoredQuery {
    /// The query in FTS5 syntax, each word written as its term (`develop*` as `"develop"` when
    /// that is the only term it starts): the same matches, scores and snippets, but a prefix
    /// query's snippets cost far more (every term with the prefix is looked up first) than a
    /// term's.
    pub(super) fn as_fts5(&self) -> String {
        let words: Vec<String> = self.terms.iter().map(|t| fts5_string(t)).collect();
        words.join(match self.join {
            Join::Any => " OR ",
            Join::All => " ",
        })
    }
}

/// What a word of a [`WordQuery`] searches for in the index.
#[derive(Debug, PartialEq)]
enum WordTerm {
    /// No term: the word matches no row.
    None,
    /// One term, and whether its postings are stored.
    One { term: String, stored: bool },
    /// A prefix that several terms start.
    Several,
}

/// How a query is ranked (see [`Catalog::word_plan`]).
#[derive(Debug)]
pub(super) enum WordPlan {
    Stored(StoredQuery),
    NoMatch,
    Fts,
}
impl Catalog {
    /// The query as a [`StoredQuery`], when it is a [`WordQuery`] each of whose words is one
    /// term with stored postings (a prefix: that of exactly one term of the index).
    #[cfg(test)]
    pub(super) fn stored_query(&self, query: &str) -> rusqlite::Result<Option<StoredQuery>> {
        match self.word_plan(query)? {
            WordPlan::Stored(q) => Ok(Some(q)),
            WordPlan::NoMatch | WordPlan::Fts => Ok(None),
        }
    }

    /// How a query is ranked: from stored postings ([`StoredQuery`]), not at all when it is a
    /// [`WordQuery`] that the index's vocabulary (all of it is in `ranking_terms`) shows to match
    /// nothing (all its words required and one of them no term, or every word no term), else by
    /// FTS5. A query that can match nothing is not handed to FTS5, which would rank it on two
    /// threads all the same.
    pub(super) fn word_plan(&self, query: &str) -> rusqlite::Result<WordPlan> {
        let Some(q) = word_query(query) else {
            return Ok(WordPlan::Fts);
        };
        if !self.has_ranking_data()? {
            return Ok(WordPlan::Fts);
        }
        let Some(found) = self.terms_of(&q)? else {
            return Ok(WordPlan::Fts);
        };
        let missing = found.iter().filter(|t| matches!(t, WordTerm::None)).count();
        if missing == found.len() || (missing > 0 && q.join == Join::All) {
            return Ok(WordPlan::NoMatch);
        }
        let mut terms = Vec::with_capacity(found.len());
        for t in found {
            match t {
                WordTerm::One { term, stored: true } => terms.push(term),
                _ => return Ok(WordPlan::Fts),
            }
        }
        Ok(WordPlan::Stored(StoredQuery {
            terms,
            join: q.join,
        }))
    }

    /// The matches among `rows` ranked from stored postings, exactly as [`Catalog::rank_fts`]
    /// ranks them (`None` if the postings or row lengths are missing or damaged).
    pub(super) fn rank_stored(
        &self,
        q: &StoredQuery,
        rows: (i64, i64),
        limit: Option<usize>,
    ) -> rusqlite::Result<Option<Vec<Ranked>>> {
        if let ([term], Some(limit)) = (&q.terms[..], limit)
            && let Some(best) = self.best_rows(term, rows, limit)?
        {
            return Ok(Some(best));
        }
        let mut stored = Vec::with_capacity(q.terms.len());
        for term in &q.terms {
            match self.postings(term)? {
                Some(p) => stored.push(p),
                None => return Ok(None),
            }
        }
        let Some(corpus) = Corpus::load(&self.conn)? else {
            return Ok(None);
        };
        let lists = stored
            .iter()
            .map(|(bytes, len)| Postings::new(bytes, *len))
            .collect();
        Ok(rank_postings_in_halves(&corpus, lists, q.join, rows, limit))
    }

    /// The best `limit` matches of a term among `rows`, from its stored best rows, when they
    /// hold that many (rows of the term that are not among them rank after all that are) or all
    /// of the term's rows.
    pub(super) fn best_rows(
        &self,
        term: &str,
        rows: (i64, i64),
        limit: usize,
    ) -> rusqlite::Result<Option<Vec<Ranked>>> {
        let found: Option<(Option<Vec<u8>>, i64)> = self
            .conn
            .prepare_cached("SELECT best, documents FROM ranking_terms WHERE term = ?1")?
            .query_row([term], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((Some(bytes), documents)) = found else {
            return Ok(None);
        };
        let stored = decode_best(&bytes);
        let complete = usize::try_from(documents).is_ok_and(|n| n <= stored.len());
        let mut best: Vec<Ranked> = stored
            .into_iter()
            .filter(|m| (rows.0..=rows.1).contains(&m.pk))
            .collect();
        if best.len() >= limit {
            best.truncate(limit);
            return Ok(Some(best));
        }
        Ok(complete.then_some(best))
    }

    fn has_ranking_data(&self) -> rusqlite::Result<bool> {
        self.has_table("ranking_terms")
    }

    pub(super) fn has_table(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT count(*) FROM sqlite_master WHERE name = ?1")?
            .query_row([name], |r| r.get::<_, i64>(0))
            .map(|n| n > 0)
    }

    /// The index terms each word of the query searches for, when each word is one token.
    fn terms_of(&self, q: &WordQuery<'_>) -> rusqlite::Result<Option<Vec<WordTerm>>> {
        let texts: Vec<&str> = q.words.iter().map(|w| w.text).collect();
        let tokens = terms_of_texts(&texts)?;
        let mut terms = Vec::with_capacity(tokens.len());
        for (word, mut tokens) in q.words.iter().zip(tokens) {
            let (Some(token), None) = (tokens.pop(), tokens.pop()) else {
                return Ok(None);
            };
            terms.push(match word.prefix {
                true => self.terms_with_prefix(&token)?,
                false => self.term(token)?,
            });
        }
        Ok(Some(terms))
    }

    /// The token as a term of the index.
    fn term(&self, token: String) -> rusqlite::Result<WordTerm> {
        let stored: Option<bool> = self
            .conn
            .prepare_cached("SELECT postings IS NOT NULL FROM ranking_terms WHERE term = ?1")?
            .query_row([&token], |r| r.get(0))
            .optional()?;
        Ok(match stored {
            Some(stored) => WordTerm::One {
                term: token,
                stored,
            },
            None => WordTerm::None,
        })
    }

    /// The terms of the index that `prefix` starts.
    fn terms_with_prefix(&self, prefix: &str) -> rusqlite::Result<WordTerm> {
        let first_two: Vec<(String, bool)> = self
            .conn
            .prepare_cached(
                "SELECT term, postings IS NOT NULL FROM ranking_terms
                 WHERE term >= ?1 ORDER BY term LIMIT 2",
            )?
            .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut with_prefix = first_two.into_iter().filter(|(t, _)| t.starts_with(prefix));
        Ok(match (with_prefix.next(), with_prefix.next()) {
            (None, _) => WordTerm::None,
            (Some((term, stored)), None) => WordTerm::One { term, stored },
            (Some(_), Some(_)) => WordTerm::Several,
        })
    }

    /// A term's stored postings and the number of rows they hold (`None` when it has none).
    pub(super) fn postings(&self, term: &str) -> rusqlite::Result<Option<(Vec<u8>, usize)>> {
        let found: Option<(Option<Vec<u8>>, i64)> = self
            .conn
            .prepare_cached("SELECT postings, documents FROM ranking_terms WHERE term = ?1")?
            .query_row([term], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(found.and_then(|(bytes, documents)| Some((bytes?, usize::try_from(documents).ok()?))))
    }
}
