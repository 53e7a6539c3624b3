//! Every `body` term of the index with its scored postings, for the web edition's static search
//! index: made from the index the store keeps (no second indexer), so the page finds what
//! `cablekeep search` finds.
//!
//! Only the documents of one collection that the caller numbers are read (a deleted document,
//! another collection's and a cable left out of a subset are skipped), and the statistics BM25
//! weighs terms by (documents, documents per term, mean length) are counted over those alone:
//! the scores depend on the cables chosen, not on how the index happens to be cut in segments.

use super::SearchIndex;
use super::collect::keys;
use super::compile::engine;
use super::fields::key;
use crate::error::Result;
use tantivy::DocSet;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::Postings;
use tantivy::query::Bm25Weight;
use tantivy::schema::IndexRecordOption;
use tantivy::termdict::{TermMerger, TermStreamer};
use tantivy::tokenizer::{Language, RawTokenizer, Stemmer, TextAnalyzer};

/// A term's postings among the numbered documents.
pub(crate) struct TermPostings<'a> {
    /// The term (an English stem, or a word with digits), UTF-8.
    pub term: &'a str,
    /// Each document holding it (the caller's number) and the term's BM25 score in it, in
    /// document order.
    pub postings: &'a [(u32, f32)],
}

/// What the walk counted over the numbered documents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BodyStats {
    /// Documents numbered.
    pub docs: u64,
    /// Their mean `body` length in tokens (as the index's field norms record it).
    pub mean_length: f32,
}

impl SearchIndex {
    /// Calls `each` with every `body` term of `collection`'s documents that `number` gives a
    /// number (its cable's id → its number), in byte order of the terms; returns the statistics
    /// the scores were made with.
    pub(crate) fn for_each_body_term(
        &self,
        collection: &str,
        number: &dyn Fn(&str) -> Option<u32>,
        each: &mut dyn FnMut(TermPostings<'_>) -> Result<()>,
    ) -> Result<BodyStats> {
        let searcher = self.reader.searcher();
        let body = self.fields.body;
        let segments = searcher.segment_readers();
        let prefix = key(collection, "");
        // Per segment: the number of each of its documents (None: not read).
        let mut numbers: Vec<Vec<Option<u32>>> = Vec::with_capacity(segments.len());
        let mut norms: Vec<FieldNormReader> = Vec::with_capacity(segments.len());
        let mut docs = 0u64;
        let mut length = 0u64;
        for segment in segments {
            let column = keys(segment).map_err(engine)?;
            let fieldnorms = segment.get_fieldnorms_reader(body).map_err(engine)?;
            let mut of_segment = vec![None; segment.max_doc() as usize];
            let mut text = String::new();
            for doc in 0..segment.max_doc() {
                if segment.is_deleted(doc) {
                    continue;
                }
                let Some(ord) = column.term_ords(doc).next() else {
                    continue;
                };
                text.clear();
                if !column
                    .ord_to_str(ord, &mut text)
                    .map_err(|e| engine(e.into()))?
                {
                    continue;
                }
                let Some(n) = text.strip_prefix(&prefix).and_then(number) else {
                    continue;
                };
                of_segment[doc as usize] = Some(n);
                docs += 1;
                length += u64::from(fieldnorms.fieldnorm(doc));
            }
            numbers.push(of_segment);
            norms.push(fieldnorms);
        }
        let stats = BodyStats {
            docs,
            mean_length: match docs {
                0 => 1.0,
                n => (length as f64 / n as f64) as f32,
            },
        };
        let inverted = segments
            .iter()
            .map(|s| s.inverted_index(body))
            .collect::<tantivy::Result<Vec<_>>>()
            .map_err(engine)?;
        let streams = inverted
            .iter()
            .map(|i| i.terms().stream())
            .collect::<std::io::Result<Vec<TermStreamer<'_>>>>()
            .map_err(|e| engine(e.into()))?;
        let mut merger = TermMerger::new(streams);
        // (number, term frequency, field norm id) of the current term's documents.
        let mut found: Vec<(u32, u32, u8)> = Vec::new();
        let mut scored: Vec<(u32, f32)> = Vec::new();
        while merger.advance() {
            found.clear();
            for (s, info) in merger.current_segment_ords_and_term_infos() {
                let mut postings = inverted[s]
                    .read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)
                    .map_err(|e| engine(e.into()))?;
                let mut doc = postings.doc();
                while doc != tantivy::TERMINATED {
                    if let Some(Some(n)) = numbers[s].get(doc as usize) {
                        found.push((*n, postings.term_freq(), norms[s].fieldnorm_id(doc)));
                    }
                    doc = postings.advance();
                }
            }
            if found.is_empty() {
                continue;
            }
            // A term not in UTF-8 cannot come from the analyzer; it is no word to search.
            let Ok(term) = std::str::from_utf8(merger.key()) else {
                continue;
            };
            found.sort_unstable_by_key(|f| f.0);
            let weight = Bm25Weight::for_one_term_without_explain(
                found.len() as u64,
                stats.docs,
                stats.mean_length,
            );
            scored.clear();
            scored.extend(
                found
                    .iter()
                    .map(|&(n, tf, norm)| (n, weight.score(norm, tf))),
            );
            each(TermPostings {
                term,
                postings: &scored,
            })?;
        }
        Ok(stats)
    }
}

/// Adds to `words` the words `cablekeep search` makes of `text` before their stems (runs of
/// letters and digits of fewer than 40 bytes, in lower case, accents folded).
pub(crate) fn words_of(text: &str, words: &mut std::collections::BTreeSet<String>) {
    super::fields::words_analyzer(false)
        .token_stream(text)
        .process(&mut |t| {
            if !words.contains(&t.text) {
                words.insert(t.text.clone());
            }
        });
}

/// The words of [`words_of`] whose term is not the word itself, with that term (its English
/// stem; a word with digits is its own term), as the index's analyzer makes them.
pub(crate) fn stemmed_words<'w>(
    words: impl IntoIterator<Item = &'w String>,
) -> Vec<(String, String)> {
    let mut stemmer = TextAnalyzer::builder(RawTokenizer::default())
        .filter(Stemmer::new(Language::English))
        .build();
    let mut out = Vec::new();
    for word in words {
        if word.bytes().any(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut stem = None;
        stemmer
            .token_stream(word)
            .process(&mut |t| stem = Some(t.text.clone()));
        if let Some(stem) = stem.filter(|s| s != word) {
            out.push((word.clone(), stem));
        }
    }
    out
}

/// The terms `cablekeep search` makes of `text` (analyzed as the index analyzes texts) with
/// the words they were made from: what the web edition's page must make of the same words.
#[doc(hidden)]
pub fn words_and_terms(text: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    super::fields::words_analyzer(false)
        .token_stream(text)
        .process(&mut |t| words.push(t.text.clone()));
    let mut terms = Vec::new();
    super::fields::words_analyzer(true)
        .token_stream(text)
        .process(&mut |t| terms.push(t.text.clone()));
    words.into_iter().zip(terms).collect()
}
