//! Snippets: the best matching passage of a hit, its matches in `[` `]`, made from the text
//! read again from the archive at the place the index kept (the index holds no texts).

use super::compile::engine;
use super::fields::{Stored, TextPlace};
use crate::bag::OpenArchive;
use crate::bag::record::read_record;
use crate::error::Result;
use crate::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use tantivy::Searcher;
use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::snippet::SnippetGenerator;

/// Characters of text a snippet shows at most (before its matches are marked).
const SNIPPET_CHARS: usize = 160;

/// Makes the snippets of one search's hits.
pub(super) struct Snippets<'s> {
    generator: SnippetGenerator,
    store: &'s Store,
    /// The archives read so far, by collection and version.
    archives: HashMap<(String, u32), OpenArchive>,
}

impl<'s> Snippets<'s> {
    pub(super) fn new(
        searcher: &Searcher,
        query: &dyn Query,
        body: Field,
        store: &'s Store,
    ) -> Result<Self> {
        let mut generator = SnippetGenerator::create(searcher, query, body).map_err(engine)?;
        generator.set_max_num_chars(SNIPPET_CHARS);
        Ok(Snippets {
            generator,
            store,
            archives: HashMap::new(),
        })
    }

    /// The snippet of a hit: from its subject and text, matches in `[` `]`, white space
    /// collapsed, `...` where the passage is cut.
    pub(super) fn of(&mut self, hit: &Stored) -> Result<String> {
        let Some(place) = &hit.text else {
            return Ok(String::new());
        };
        let text = self.text(&hit.collection, hit.version, place)?;
        let searched = match &hit.subject {
            Some(s) => format!("{s}\n{text}"),
            None => text,
        };
        let snippet = self.generator.snippet(&searched);
        let range = snippet.fragment_range();
        if range.is_empty() {
            // No word of the query is in the text (a cable found by a filter alone): its start.
            let end = searched
                .char_indices()
                .nth(SNIPPET_CHARS)
                .map_or(searched.len(), |(i, _)| i);
            return Ok(marked(&searched, 0..end, &[]));
        }
        Ok(marked(&searched, range, snippet.highlighted()))
    }

    /// The text of a cable's record, read at the places the index kept.
    fn text(&mut self, collection: &str, version: u32, place: &TextPlace) -> Result<String> {
        let key = (collection.to_string(), version);
        if !self.archives.contains_key(&key) {
            let zip: PathBuf = self.store.zip_path(collection, version);
            self.archives
                .insert(key.clone(), OpenArchive::open_unlisted(&zip)?);
        }
        let archive = &self.archives[&key];
        let read = |p: &super::fields::Place| {
            archive.with_entry_required(&p.path, Some(&p.entry()), <[u8]>::to_vec)
        };
        let record = read(&place.record)?;
        let stored = read_record(&record, || read(&place.raw))
            .map_err(|e| e.into_error(&archive.path, &place.record.path))?;
        Ok(stored.record.text)
    }
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
