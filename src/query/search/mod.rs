//! Full-text search: the store's search index (tantivy) of the latest version of every
//! collection, and searches of it. The only module that uses tantivy.
//!
//! The index is a cache, never the source of truth: it holds each cable's terms, the facts
//! filters look at, what a hit shows, and where the cable's text lies in its archive (snippets
//! read the text from there); not the texts. It lies in `.cablekeep/search/` and records, with
//! each commit, the versions it holds (by their sidecar manifest digests): a search first
//! brings it to the latest versions, re-indexing only the cables whose index line changed
//! (`upkeep`). Deleting it loses nothing; `verify` never reads it.
//!
//! The query language (`language`) is cablekeep's own, documented in README.md: words,
//! "phrases", prefixes, `AND`/`OR`/`NOT`, parentheses and field filters; a malformed query is
//! an error that says where. Hits are ranked by BM25 over subject and text, ties by collection
//! and id (`collect`).

mod build;
mod collect;
mod compile;
mod fields;
mod language;
mod postings;
mod snippet;
mod stems;
#[cfg(test)]
mod tests;
mod upkeep;

pub use build::Changes;
pub use language::{MAX_QUERY_BYTES, MAX_QUERY_WORDS, check_query};
#[doc(hidden)]
pub use postings::words_and_terms;
pub(crate) use postings::{BodyStats, TermPostings, stemmed_words, words_of};

use crate::error::{Error, Result};
use crate::query::select::Filter;
use crate::store::Store;
use compile::{Compiler, engine, filter_clauses};
use fields::{Fields, Stored};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tantivy::query::{BooleanQuery, EmptyQuery, Occur, Query};
use tantivy::schema::Value;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument};

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The collection holding the cable (the index holds one version of each collection).
    pub collection: String,
    /// The cable's canonical reference id.
    pub id: String,
    /// Its BM25 score over subject and text: higher is better.
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

/// What opening the index took.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "upkeep", rename_all = "snake_case")]
pub enum Upkeep {
    /// It held the latest versions already.
    Current,
    /// It was brought to the latest versions.
    Updated {
        /// The cables indexed and removed.
        changes: Changes,
        /// Seconds the update took.
        secs: f64,
    },
    /// It was built anew.
    Built {
        /// The cables it holds.
        cables: usize,
        /// Seconds the build took.
        secs: f64,
    },
}

/// An open search index.
pub struct SearchIndex {
    reader: IndexReader,
    fields: Fields,
    path: PathBuf,
    /// The store whose archives hold the hits' texts.
    store: Option<Store>,
    /// The temporary folder of an index made for one run, removed when it is dropped.
    _tmp: Option<tempfile::TempDir>,
}

impl SearchIndex {
    fn from_index(index: Index, path: &Path, store: Option<Store>) -> Result<SearchIndex> {
        let fields = Fields::of(&index.schema()).map_err(engine)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(engine)?;
        Ok(SearchIndex {
            reader,
            fields,
            path: path.to_path_buf(),
            store,
            _tmp: None,
        })
    }

    /// The folder the index was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many cables it holds.
    pub fn cables(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The best hits of `query` (README.md, "Search") among the cables that pass `filter`'s
    /// other criteria, in `collection` when given: best first by score, then collection and id;
    /// at most `limit` of them.
    pub fn search(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let expr = language::parse(query)?;
        self.guarded(|| self.search_expr(query, &expr, collection, filter, limit))
    }

    fn search_expr(
        &self,
        query: &str,
        expr: &language::Expr,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let text = Compiler::new(&searcher, self.fields)?
            .expr(expr)?
            .ok_or_else(|| no_words(query))?;
        // The collection is left to the collector (see `collect::TopByKey`).
        let filters = filter_clauses(&self.fields, filter, None);
        // Without filters the text query runs alone: wrapped in a boolean query of one clause
        // it would score every match, where alone a word or an OR of words skips the blocks
        // of postings that cannot reach the best `limit` (block-max WAND).
        let query: Box<dyn Query> = match filters.is_empty() {
            true => text,
            false => {
                let mut clauses = vec![(Occur::Must, text)];
                clauses.extend(filters.into_iter().map(|q| (Occur::Must, q)));
                Box::new(BooleanQuery::new(clauses))
            }
        };
        let ranked = searcher
            .search(
                &*query,
                &collect::TopByKey {
                    k: limit,
                    collection: collection.map(str::to_string),
                },
            )
            .map_err(engine)?;
        let store = self.store.as_ref().ok_or_else(|| {
            Error::Invalid("this search index has no store to read snippets from".into())
        })?;
        // Snippets mark the words searched for, not those a NOT keeps out.
        let marked: Box<dyn Query> = match expr.marked_words() {
            Some(e) => Compiler::new(&searcher, self.fields)?
                .expr(&e)?
                .unwrap_or_else(|| Box::new(EmptyQuery)),
            None => Box::new(EmptyQuery),
        };
        let stored = ranked
            .iter()
            .map(|r| {
                let doc: TantivyDocument = searcher.doc(r.doc).map_err(engine)?;
                self.stored(&doc)
            })
            .collect::<Result<Vec<Stored>>>()?;
        let snippets =
            snippet::Snippets::new(&searcher, &*marked, self.fields.body, store, &stored)?;
        // Each snippet reads its cable's text from the archive: on every core.
        let shown = stored
            .par_iter()
            .map(|s| snippets.of(s))
            .collect::<Result<Vec<snippet::Shown>>>()?;
        Ok(ranked
            .into_iter()
            .zip(stored)
            .zip(shown)
            .map(|((r, stored), shown)| Hit {
                collection: stored.collection,
                id: stored.id,
                score: f64::from(r.score),
                subject: shown.subject,
                created: shown.created,
                origin: shown.origin,
                classification: shown.classification,
                snippet: shown.snippet,
            })
            .collect())
    }

    /// The ids of the cables of `collection` that match `query` (neither ranked nor with
    /// snippets: only the set is wanted).
    pub fn matching_ids(&self, collection: &str, query: &str) -> Result<BTreeSet<String>> {
        let expr = language::parse(query)?;
        self.guarded(|| self.ids_of(query, &expr, collection))
    }

    fn ids_of(
        &self,
        query: &str,
        expr: &language::Expr,
        collection: &str,
    ) -> Result<BTreeSet<String>> {
        let searcher = self.reader.searcher();
        let text = Compiler::new(&searcher, self.fields)?
            .expr(expr)?
            .ok_or_else(|| no_words(query))?;
        let mut clauses = vec![(Occur::Must, text)];
        for q in filter_clauses(&self.fields, &Filter::default(), Some(collection)) {
            clauses.push((Occur::Must, q));
        }
        let keys = searcher
            .search(&BooleanQuery::new(clauses), &collect::AllKeys)
            .map_err(engine)?;
        let prefix = fields::key(collection, "");
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    fn stored(&self, doc: &TantivyDocument) -> Result<Stored> {
        let bytes = doc
            .get_first(self.fields.stored)
            .and_then(|v| v.as_bytes())
            .unwrap_or_default();
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            path: PathBuf::new(),
            message: format!("the search index holds a damaged document ({e})"),
        })
    }

    /// Runs a reading of the index, with what proves it damaged made an error naming it: an
    /// engine error, or a panic of the engine on bytes it cannot read (the index is a cache
    /// that a disk may damage; a search must end with an error, not a crash).
    fn guarded<T>(&self, read: impl FnOnce() -> Result<T>) -> Result<T> {
        let damaged = |message: String| Error::Corrupt {
            path: self.path.clone(),
            message: format!("{message}; run `cablekeep search --rebuild`"),
        };
        match caught(read) {
            Some(Err(Error::Corrupt { path, message })) if path.as_os_str().is_empty() => {
                Err(damaged(message))
            }
            Some(result) => result,
            None => Err(damaged("the search index could not be read".into())),
        }
    }

    /// Whether `e` says that this index is damaged.
    fn is_damaged(&self, e: &Error) -> bool {
        matches!(e, Error::Corrupt { path, .. } if path == &self.path)
    }

    /// Runs `read` on the store's search index (built anew first with `rebuild`); when the index
    /// proves damaged, builds it anew and runs `read` once more. Returns what `read` returned,
    /// the index and what was done to it.
    pub fn with_store_index<T>(
        store: &Store,
        rebuild: bool,
        progress: &dyn crate::progress::Progress,
        read: impl Fn(&SearchIndex) -> Result<T>,
    ) -> Result<(T, SearchIndex, Upkeep)> {
        let (index, upkeep) = match rebuild {
            true => Self::rebuild(store, progress)?,
            false => Self::open(store, progress)?,
        };
        match read(&index) {
            Err(e) if index.is_damaged(&e) => {
                drop(index);
                let (index, upkeep) = Self::rebuild(store, progress)?;
                Ok((read(&index)?, index, upkeep))
            }
            result => Ok((result?, index, upkeep)),
        }
    }
}

/// What `f` returns, or None when it panicked: the engine may panic on index files a disk
/// damaged, and the index is a cache, rebuilt then, never a reason for a crash. The panic's
/// default message (a source line of the engine) is not printed: the caller's error says more.
/// The process's panic hook is wrapped once (swapping it for each call would race between
/// threads searching at once, as `serve`'s do): the wrapper stays silent on a thread inside
/// `caught` and calls the previous hook elsewhere.
pub(super) fn caught<T>(f: impl FnOnce() -> T) -> Option<T> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    thread_local! {
        static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(|c| c.get()) == 0 {
                previous(info);
            }
        }));
    });
    CATCHING.with(|c| c.set(c.get() + 1));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    outcome.ok()
}

fn no_words(query: &str) -> Error {
    Error::Invalid(format!(
        "search query {query:?}: it holds no word to search (words are letters and digits)"
    ))
}
