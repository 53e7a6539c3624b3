//! Snippets: the best matching passage of a hit, its matches in `[` `]`, made from the text
//! read again from the archive at the place the index kept (the index holds no texts).

use super::compile::engine;
use super::fields::{Stored, TextPlace, words_finder};
use crate::bag::OpenArchive;
use crate::bag::record::{RecordProblem, TextAt, rebuilt_text};
use crate::error::Result;
use crate::store::Store;
use serde::Deserialize;
use std::collections::HashMap;
use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;

/// Characters of text a snippet shows at most (before its matches are marked).
const SNIPPET_CHARS: usize = 160;

/// Makes the snippets of one search's hits.
pub(super) struct Snippets {
    generator: SnippetGenerator,
    /// The archives holding the hits' texts, by collection and version.
    archives: HashMap<(String, u32), OpenArchive>,
}

impl Snippets {
    /// Ready to make the snippets of `hits`, marking the terms of `query` in `body`.
    pub(super) fn new(
        searcher: &Searcher,
        query: &dyn Query,
        body: Field,
        store: &Store,
        hits: &[Stored],
    ) -> Result<Self> {
        // As tantivy's `SnippetGenerator::create`, with an analyzer that stems only the words
        // that may be one of the query's terms: stemming every word of every hit's text was
        // most of a snippet's time.
        let mut terms = std::collections::BTreeSet::new();
        query.query_terms(&mut |term, _| {
            if term.field() == body
                && let Some(text) = term.value().as_str()
            {
                terms.insert((term.clone(), text.to_string()));
            }
        });
        let mut scores = std::collections::BTreeMap::new();
        for (term, text) in &terms {
            let docs = searcher.doc_freq(term).map_err(engine)?;
            if docs > 0 {
                scores.insert(text.clone(), 1.0 / (1.0 + docs as f32));
            }
        }
        let finder = words_finder(scores.keys().map(String::as_str));
        let generator = SnippetGenerator::new(scores, finder, body, SNIPPET_CHARS);
        let mut archives = HashMap::new();
        for h in hits {
            if let std::collections::hash_map::Entry::Vacant(e) =
                archives.entry((h.collection.clone(), h.version))
            {
                e.insert(store.open_zip(
                    &h.collection,
                    h.version,
                    crate::bag::Reading::Unlisted,
                )?);
            }
        }
        Ok(Snippets {
            generator,
            archives,
        })
    }

    /// What a hit shows, read from its record: its facts, and its snippet, from its subject and
    /// text, matches in `[` `]`, white space collapsed, `...` where the passage is cut.
    pub(super) fn of(&self, hit: &Stored) -> Result<Shown> {
        let Some(place) = &hit.text else {
            return Ok(Shown::default());
        };
        let (mut shown, text) = self.record(&hit.collection, hit.version, place)?;
        let searched = match &shown.subject {
            Some(s) => format!("{s}\n{text}"),
            None => text,
        };
        shown.snippet = self.snippet(&searched);
        Ok(shown)
    }

    fn snippet(&self, searched: &str) -> String {
        let snippet = self.generator.snippet(searched);
        let range = snippet.fragment_range();
        if range.is_empty() {
            // No word of the query is in the text (a cable found by a filter alone): its start.
            let end = searched
                .char_indices()
                .nth(SNIPPET_CHARS)
                .map_or(searched.len(), |(i, _)| i);
            return marked(searched, 0..end, &[]);
        }
        marked(searched, range, snippet.highlighted())
    }

    /// What a hit shows of a cable's record and its text, read at the places the index kept
    /// (the raw capture too when a format 2 record leaves its text out). Only those fields are
    /// parsed of the record.
    fn record(&self, collection: &str, version: u32, place: &TextPlace) -> Result<(Shown, String)> {
        let archive = &self.archives[&(collection.to_string(), version)];
        let read_with = |p: &super::fields::Place, use_bytes: &mut dyn FnMut(&[u8])| {
            archive.with_entry_required(&p.path, Some(&p.entry(&place.folder)), use_bytes)
        };
        let mut parsed = None;
        read_with(&place.record, &mut |bytes| {
            parsed = Some(crate::jsonl::parse_json::<TextOnly>(bytes))
        })?;
        let not_a_record =
            |e: String| RecordProblem::NotARecord(e).into_error(&archive.path, &place.record.path);
        let record = parsed
            .expect("read")
            .map_err(|e| not_a_record(e.to_string()))?;
        let shown = Shown {
            subject: record.subject,
            created: record.created,
            origin: record.origin,
            classification: record.classification,
            snippet: String::new(),
        };
        let Some(at) = record.capture.text_at else {
            return Ok((shown, record.text));
        };
        let mut rebuilt = None;
        read_with(&place.raw, &mut |raw| {
            rebuilt = Some(rebuilt_text(&at, raw, &record.capture.text_sha256))
        })?;
        let text = rebuilt
            .expect("read")
            .map_err(|e| e.into_error(&archive.path, &place.record.path))?;
        Ok((shown, text))
    }
}

/// What a hit shows besides its id and score.
#[derive(Debug, Default)]
pub(super) struct Shown {
    pub subject: Option<String>,
    pub created: Option<String>,
    pub origin: Option<String>,
    pub classification: Option<String>,
    pub snippet: String,
}

/// What a hit shows of a stored record, its text and where a format 2 record's text lies
/// (FORMAT.md sections 3 and 3.2).
#[derive(Deserialize)]
struct TextOnly {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    classification: Option<String>,
    #[serde(default)]
    text: String,
    capture: CaptureText,
}

#[derive(Deserialize)]
struct CaptureText {
    #[serde(default)]
    text_at: Option<TextAt>,
    #[serde(default)]
    text_sha256: String,
}

/// The passage `range` of `text` with the `highlighted` ranges (relative to the passage) in
/// `[` `]`, runs of white space made one space, and `...` where text is left out.
fn marked(
    text: &str,
    range: std::ops::Range<usize>,
    highlighted: &[std::ops::Range<usize>],
) -> String {
    let passage = &text[range.clone()];
    let mut out = String::with_capacity(passage.len() + 16);
    if range.start > 0 {
        out.push_str("...");
    }
    let mut in_space = false;
    let mut push = |out: &mut String, s: &str| {
        for c in s.chars() {
            if c.is_whitespace() {
                if !in_space {
                    out.push(' ');
                }
                in_space = true;
            } else {
                out.push(c);
                in_space = false;
            }
        }
    };
    let mut at = 0;
    for h in highlighted {
        if h.start < at || h.end > passage.len() {
            continue;
        }
        push(&mut out, &passage[at..h.start]);
        out.push('[');
        push(&mut out, &passage[h.clone()]);
        out.push(']');
        at = h.end;
    }
    push(&mut out, &passage[at..]);
    if range.end < text.len() {
        out.push_str("...");
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::marked;

    #[test]
    fn matches_are_marked_and_white_space_collapsed() {
        let text = "SUBJECT: SWISS\n\n1.  Merz  apologizes to Libya today";
        let start = text.find("Merz").unwrap();
        let range = start..text.len() - " today".len();
        let hit = "Merz  ".len().."Merz  apologizes".len();
        assert_eq!(
            marked(text, range, &[hit]),
            "...Merz [apologizes] to Libya..."
        );
        assert_eq!(marked("a  b", 0..4, &[]), "a b");
    }
}
