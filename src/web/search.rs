//! The edition's search page, which needs no server: `search.html` and the index it loads with
//! `<script>` elements (so it works from `file://`), made from the store's search index.
//!
//! Every file under `search/` is a script that hands its rows to `ckSearch` (defined by
//! `search/search.js`):
//! - `meta.js`: the format, the figures, the first key of every shard of each table, and the
//!   origins and classifications the document table numbers;
//! - `t/NNNN.js`: terms in byte order, each with its document frequency and its best
//!   [`MAX_POSTINGS`] postings (document number and quantized BM25 impact), as the store's
//!   search index holds them (`query::search` walks its terms);
//! - `w/NNNN.js`: the words of the edition whose term is not the word itself (English stems),
//!   so that the page analyzes a query exactly as `cablekeep search` does without a stemmer;
//! - `d/NNNN.js`: the document table, [`DOCS_PER_SHARD`] cables a shard in the edition's order
//!   (the index's): page, id, subject, date, origin, classification and the lead of the text
//!   (the snippet).
//!
//! Files are found by binary search over the first keys in `meta.js`; every table is sorted
//! and every number fixed by the edition's own cables, so the same version gives the same bytes.

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::query::search::{SearchIndex, TermPostings, stemmed_words, words_of};
use crate::query::select::Selected;
use crate::store::Store;
use crate::web::edition::Edition;
use crate::web::html;
use crate::web::write::SiteFiles;
use base64ct::Encoding;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The script of the search page.
const SEARCH_JS: &str = include_str!("assets/search.js");

/// The version of the index's format, checked by the page.
const FORMAT: u32 = 1;
/// The most postings kept per term: its best by score. A word in more cables finds the
/// [`MAX_POSTINGS`] where it weighs most; its other cables are found by `cablekeep search`.
pub(crate) const MAX_POSTINGS: usize = 200;
/// A posting's impact is `ln(1 + score)` times this, rounded (at most 255: scores to 53; BM25
/// gives at most about 27 at full scale): a step of 1.6 % of the score at every score, where a
/// fixed step would tie most of the scores of common words.
const IMPACT_SCALE: f32 = 64.0;
/// A shard of the term and word tables is closed once it holds this many bytes.
const SHARD_BYTES: usize = 48 * 1024;
/// Cables per shard of the document table (about 25 KB): the 50 hits a page shows first may
/// lie in 50 shards, which the browser must all load and parse.
const DOCS_PER_SHARD: usize = 64;
/// A lead (the snippet) holds up to this many characters of the text.
const LEAD_CHARS: usize = 240;

/// Writes `search.html` and `search/...` for the edition's cables, with the document table
/// gathered as the cable pages were written.
pub(crate) fn write_search(
    store: &Store,
    ed: &Edition,
    files: &SiteFiles,
    docs: DocTable,
    progress: &dyn Progress,
) -> Result<()> {
    files.put("search.html", &search_page(ed))?;
    files.put("search/search.js", SEARCH_JS.as_bytes())?;
    let (doc_shards, words) = docs.finish(files)?;
    let mut word_shards = Shards::new("w", "words");
    for (word, stem) in words.iter().filter_map(|e| e.split_once(WORD_END)) {
        word_shards.add(files, word, &format!("[{},{}]", js_str(word), js_str(stem)))?;
    }
    let word_firsts = word_shards.finish(files)?;
    drop(words);
    let (term_firsts, stats) = write_terms(store, ed, files, progress)?;
    let meta = Meta {
        format: FORMAT,
        docs: stats.docs,
        mean_length: stats.mean_length,
        max_postings: MAX_POSTINGS,
        impact_scale: IMPACT_SCALE,
        docs_per_shard: DOCS_PER_SHARD,
        doc_shards,
        terms: term_firsts,
        words: word_firsts,
        origins: ed.values.origins.iter().map(|v| v.name.clone()).collect(),
        classifications: ed
            .values
            .classifications
            .iter()
            .map(|v| v.name.clone())
            .collect(),
    };
    let json = serde_json::to_string(&meta).map_err(|e| Error::Invalid(e.to_string()))?;
    files.put(
        "search/meta.js",
        format!("ckSearch.meta({});\n", ascii_json(&json)).as_bytes(),
    )
}

/// What `meta.js` holds.
#[derive(serde::Serialize)]
struct Meta {
    format: u32,
    docs: u64,
    mean_length: f32,
    max_postings: usize,
    impact_scale: f32,
    docs_per_shard: usize,
    doc_shards: usize,
    /// The first term of each term shard.
    terms: Vec<String>,
    /// The first word of each word shard.
    words: Vec<String>,
    origins: Vec<String>,
    classifications: Vec<String>,
}

/// The search page: the form, the help, the results list and the script.
fn search_page(ed: &Edition) -> Vec<u8> {
    let mut main = String::new();
    let _ = write!(
        main,
        "<h1>Search the cables</h1>\n\
         <form id=\"search\" class=\"search\" action=\"search.html\" method=\"get\" role=\"search\">\n\
         <label for=\"q\">Words to search for</label>\n\
         <input id=\"q\" name=\"q\" type=\"search\" autocomplete=\"off\" spellcheck=\"false\">\n\
         <button type=\"submit\">Search</button>\n</form>\n\
         <details class=\"help\">\n<summary>How to search</summary>\n\
         <p>Cables holding every word are listed first, best match first (BM25, as \
         <code>cablekeep search</code> ranks them); words are matched in their English forms \
         (<kbd>embassies</kbd> finds <em>embassy</em>). <kbd>\"a phrase\"</kbd> finds the cables \
         holding all its words; <kbd>negotiat*</kbd> finds words that start so. \
         Cables holding only some of the words follow.</p>\n\
         <p>This page searches without a server, from an index of the {} cables of this \
         edition that keeps, for each word, the {} cables where it weighs most. Operators \
         (<code>OR</code>, <code>NOT</code>, parentheses), exact phrases and field filters \
         (<code>tag:</code>, <code>origin:</code>, dates) need <code>cablekeep search</code> or \
         <code>cablekeep serve</code>.</p>\n</details>\n\
         <p id=\"status\" role=\"status\">Type words to search for and press Enter. This page \
         needs JavaScript; without it, use <code>cablekeep search</code>.</p>\n\
         <ol id=\"results\" class=\"results\" aria-live=\"polite\"></ol>\n\
         <section id=\"partial\" class=\"partial\" hidden>\n\
         <h2>Cables holding some of the words</h2>\n<ol id=\"more\" class=\"results\"></ol>\n\
         </section>\n\
         <script src=\"search/search.js\"></script>\n",
        ed.cables.len(),
        MAX_POSTINGS,
    );
    html::layout(
        ed,
        &html::Page {
            path: "search.html",
            title: "Search",
            main: &main,
            footer_extra: "",
        },
    )
}

/// Shards of a table sorted by key: rows are added in key order; a shard is written once it
/// holds [`SHARD_BYTES`], and the first key of each is kept for `meta.js`.
struct Shards {
    folder: &'static str,
    call: &'static str,
    rows: String,
    first: Option<String>,
    firsts: Vec<String>,
}

impl Shards {
    fn new(folder: &'static str, call: &'static str) -> Shards {
        Shards {
            folder,
            call,
            rows: String::new(),
            first: None,
            firsts: Vec::new(),
        }
    }

    fn add(&mut self, files: &SiteFiles, key: &str, row: &str) -> Result<()> {
        if self.first.is_none() {
            self.first = Some(key.to_string());
        } else {
            self.rows.push(',');
        }
        self.rows.push_str(row);
        if self.rows.len() >= SHARD_BYTES {
            self.flush(files)?;
        }
        Ok(())
    }

    fn flush(&mut self, files: &SiteFiles) -> Result<()> {
        let Some(first) = self.first.take() else {
            return Ok(());
        };
        let n = self.firsts.len();
        let text = format!("ckSearch.{}({n},[{}]);\n", self.call, self.rows);
        files.put(&shard_path(self.folder, n), text.as_bytes())?;
        self.rows.clear();
        self.firsts.push(first);
        Ok(())
    }

    fn finish(mut self, files: &SiteFiles) -> Result<Vec<String>> {
        self.flush(files)?;
        Ok(self.firsts)
    }
}

fn shard_path(folder: &str, n: usize) -> String {
    format!("search/{folder}/{n:04}.js")
}

/// A chunk of cables' rows of the document table (with each cable's number), and the words
/// of their subjects and texts whose terms differ from them: each distinct word of a chunk is
/// stemmed once.
pub(crate) struct DocRows {
    rows: Vec<(usize, String)>,
    stems: Vec<(String, String)>,
}

/// The document table and the table of stems as the cable pages are written: both come from
/// the records `site` reads once for every page ([`DocTable::rows_of`] on the workers, then
/// [`DocTable::add`] in the edition's order).
pub(crate) struct DocTable {
    rows: String,
    in_shard: usize,
    shards: usize,
    next: usize,
    /// Each word whose term differs from it, as `<word>\u{1}<term>`: one string an entry (the
    /// table holds every such word of the corpus while the pages are written), in the words'
    /// order, since `\u{1}` sorts before any letter or digit.
    words: BTreeSet<Box<str>>,
}

/// What ends a word in [`DocTable`]'s entries: no word holds it.
const WORD_END: char = '\u{1}';

impl DocTable {
    pub(crate) fn new() -> DocTable {
        DocTable {
            rows: String::new(),
            in_shard: 0,
            shards: 0,
            next: 0,
            words: BTreeSet::new(),
        }
    }

    /// A chunk of cables' rows and the words of their texts whose terms differ from them
    /// (each distinct word of the chunk stemmed once).
    pub(crate) fn rows_of(ed: &Edition, cables: &[Selected]) -> Result<DocRows> {
        let mut words = BTreeSet::new();
        let mut rows = Vec::with_capacity(cables.len());
        for cable in cables {
            rows.push(doc_row(ed, cable)?);
            words_of(cable.line.subject.as_deref().unwrap_or(""), &mut words);
            words_of(&cable.record.text, &mut words);
        }
        Ok(DocRows {
            rows,
            stems: stemmed_words(&words),
        })
    }

    /// Adds a chunk's rows, which must follow the previous chunk's in the edition's order,
    /// writing each document shard as it fills.
    pub(crate) fn add(&mut self, files: &SiteFiles, chunk: DocRows) -> Result<()> {
        for (word, stem) in chunk.stems {
            // The same word always has the same term: the first entry is every entry.
            self.words
                .insert(format!("{word}{WORD_END}{stem}").into_boxed_str());
        }
        for (index, row) in chunk.rows {
            if index != self.next {
                return Err(Error::Invalid(format!(
                    "the search table's cable number {index} came out of order"
                )));
            }
            self.next += 1;
            if self.in_shard > 0 {
                self.rows.push(',');
            }
            self.rows.push_str(&row);
            self.in_shard += 1;
            if self.in_shard == DOCS_PER_SHARD {
                write_doc_shard(files, self.shards, &self.rows)?;
                self.shards += 1;
                self.rows.clear();
                self.in_shard = 0;
            }
        }
        Ok(())
    }

    /// Writes the last document shard; the number of shards and the table of stems.
    fn finish(mut self, files: &SiteFiles) -> Result<(usize, BTreeSet<Box<str>>)> {
        if self.in_shard > 0 {
            write_doc_shard(files, self.shards, &self.rows)?;
            self.shards += 1;
        }
        Ok((self.shards, self.words))
    }
}

fn write_doc_shard(files: &SiteFiles, n: usize, rows: &str) -> Result<()> {
    files.put(
        &shard_path("d", n),
        format!("ckSearch.docs({n},[{rows}]);\n").as_bytes(),
    )
}

/// `[page, id, subject, created, origin, classification, lead]`, origin and classification
/// numbered as in `meta.js` (-1 when none).
fn doc_row(ed: &Edition, cable: &Selected) -> Result<(usize, String)> {
    let (index, facts) = ed
        .cable(&cable.line.id)
        .ok_or_else(|| Error::Invalid(format!("cable {} is not in the edition", cable.line.id)))?;
    let number = |n: Option<u32>| n.map_or(-1, i64::from);
    let row = format!(
        "[{},{},{},{},{},{},{}]",
        js_str(&facts.page),
        js_str(&facts.id),
        js_str(facts.subject.as_deref().unwrap_or("")),
        js_str(
            facts
                .created
                .as_deref()
                .map_or("", |c| c.get(..10).unwrap_or(c))
        ),
        number(facts.origin),
        number(facts.classification),
        js_str(&lead(&cable.record.text)),
    );
    Ok((index, row))
}

/// The opening of a cable's text, from its first numbered paragraph when one starts early
/// (before it come the routing lines, the subject and the references), its white space made
/// single spaces, cut at a word after [`LEAD_CHARS`] characters.
fn lead(text: &str) -> String {
    let head = text.get(..text.len().min(4000)).unwrap_or(text);
    let start = ["\n1. ", "\n1.  ", "\nSUMMARY", "\nSummary"]
        .iter()
        .filter_map(|m| head.find(m))
        .min()
        .map_or(0, |i| i + 1);
    let mut out = String::with_capacity(LEAD_CHARS + 8);
    let mut chars = 0;
    for word in text[start..].split_whitespace() {
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        let n = word.chars().count();
        if chars + n > LEAD_CHARS {
            out.extend(word.chars().take(LEAD_CHARS.saturating_sub(chars)));
            out.push('…');
            break;
        }
        out.push_str(word);
        chars += n;
    }
    out
}

/// Walks the index's terms and writes the term table; returns the first term of each shard and
/// the statistics the scores were made with.
fn write_terms(
    store: &Store,
    ed: &Edition,
    files: &SiteFiles,
    progress: &dyn Progress,
) -> Result<(Vec<String>, crate::query::search::BodyStats)> {
    let collection = &ed.version.collection;
    let number = |id: &str| ed.cable(id).map(|(i, _)| i as u32);
    let mut shards = Shards::new("t", "terms");
    let mut write = |t: TermPostings<'_>| -> Result<()> {
        let row = format!(
            "[{},{},\"{}\"]",
            js_str(t.term),
            t.postings.len(),
            encode_postings(t.postings)
        );
        shards.add(files, t.term, &row)
    };
    let latest = store.latest(collection)? == Some(ed.version.version);
    let stats = if latest {
        let (_, index, _) =
            SearchIndex::with_store_index(store, false, progress, |i| Ok(i.cables()))?;
        index.for_each_body_term(collection, &number, &mut write)?
    } else {
        let keep = |l: &crate::bag::capture::IndexLine| ed.cable(&l.id).is_some();
        SearchIndex::temporary(store, &ed.version, &keep, progress)?
            .for_each_body_term(collection, &number, &mut write)?
    };
    Ok((shards.finish(files)?, stats))
}

/// A term's best [`MAX_POSTINGS`] postings (by score, ties to the lower number), in document
/// order, as base64 of: the gap from the previous document (LEB128) and the impact (a byte).
fn encode_postings(postings: &[(u32, f32)]) -> String {
    let mut best: Vec<(u32, f32)> = postings.to_vec();
    if best.len() > MAX_POSTINGS {
        best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        best.truncate(MAX_POSTINGS);
        best.sort_by_key(|p| p.0);
    }
    let mut bytes = Vec::with_capacity(best.len() * 4);
    let mut last = 0u32;
    for (i, &(doc, score)) in best.iter().enumerate() {
        let mut gap = if i == 0 { doc } else { doc - last };
        last = doc;
        loop {
            let low = (gap & 0x7f) as u8;
            gap >>= 7;
            if gap == 0 {
                bytes.push(low);
                break;
            }
            bytes.push(low | 0x80);
        }
        bytes.push(impact(score));
    }
    base64ct::Base64::encode_string(&bytes)
}

/// A score as a byte (see [`IMPACT_SCALE`]), at least 1: every posting counts.
fn impact(score: f32) -> u8 {
    (score.max(0.0).ln_1p() * IMPACT_SCALE)
        .round()
        .clamp(1.0, 255.0) as u8
}

/// A JavaScript string literal of `s`: JSON, with every character past ASCII escaped, so the
/// shard's bytes read the same whatever encoding a browser assumes for a script.
fn js_str(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    ascii_json(&json)
}

/// JSON text with every character past ASCII written as `\uXXXX` (valid only outside of
/// strings too, as JSON has no other non-ASCII text than in strings).
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postings_keep_the_best_in_document_order() {
        let postings: Vec<(u32, f32)> = (0..300).map(|d| (d * 3, (d % 7) as f32)).collect();
        let b64 = encode_postings(&postings);
        let bytes = base64ct::Base64::decode_vec(&b64).unwrap();
        let mut docs = Vec::new();
        let (mut i, mut doc) = (0, 0u32);
        while i < bytes.len() {
            let (mut gap, mut shift) = (0u32, 0);
            loop {
                let b = bytes[i];
                i += 1;
                gap |= u32::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            doc += gap;
            docs.push((doc, bytes[i]));
            i += 1;
        }
        assert_eq!(docs.len(), MAX_POSTINGS);
        assert!(docs.windows(2).all(|w| w[0].0 < w[1].0));
        // Scores 6, 5, 4 … kept first: 43 of each of 6..=3 would be 172; the rest are 2s.
        assert!(docs.iter().all(|d| d.1 >= impact(2.0)), "{docs:?}");
        assert_eq!(impact(2.0), 70);
    }

    #[test]
    fn strings_are_ascii_javascript() {
        assert_eq!(js_str("Ré\"s</"), "\"R\\u00e9\\\"s</\"");
        assert_eq!(js_str("𝄞"), "\"\\ud834\\udd1e\"");
    }

    #[test]
    fn a_lead_starts_at_the_first_paragraph() {
        let text = "UNCLAS ROME 123\nSUBJECT: X\n\n1. THE AMBASSADOR MET   THE\nMINISTER.";
        assert_eq!(lead(text), "1. THE AMBASSADOR MET THE MINISTER.");
        let long = "word ".repeat(100);
        let l = lead(&long);
        assert!(
            l.chars().count() <= LEAD_CHARS + 1 && l.ends_with('…'),
            "{l}"
        );
    }
}
