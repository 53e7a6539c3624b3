//! English stems, remembered: the same few thousand words make most of any text, and working
//! a word's stem out (the Snowball English algorithm) took nearly half of a full build's time.

use std::collections::HashMap;
use tantivy::tokenizer::{
    Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// The most stems one analyzer remembers (a few MB); words past that are stemmed each time.
const MAX_REMEMBERED: usize = 50_000;

/// A token filter that gives each token its English stem, as tantivy's [`Stemmer`] does,
/// remembering the stems it worked out.
#[derive(Clone, Copy, Default)]
pub(super) struct RememberedStems;

impl TokenFilter for RememberedStems {
    type Tokenizer<T: Tokenizer> = RememberedStemsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> RememberedStemsFilter<T> {
        RememberedStemsFilter {
            inner: tokenizer,
            stems: Stems::default(),
        }
    }
}

/// A token filter that stems only the words that may stem to one of a few terms (those that
/// start as one of them does): a snippet looks for a query's terms in a whole text, and most of
/// its words cannot be one of them. The others are left as they are, which is no term.
#[derive(Clone)]
pub(super) struct StemsOfTerms {
    /// The first three letters (or fewer, the whole) of each term.
    starts: std::sync::Arc<Vec<String>>,
}

impl StemsOfTerms {
    pub(super) fn new<'t>(terms: impl IntoIterator<Item = &'t str>) -> Self {
        let mut starts: Vec<String> = terms
            .into_iter()
            .map(|t| t.chars().take(3).collect())
            .collect();
        starts.sort();
        starts.dedup();
        StemsOfTerms {
            starts: std::sync::Arc::new(starts),
        }
    }
}

impl TokenFilter for StemsOfTerms {
    type Tokenizer<T: Tokenizer> = RememberedStemsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> RememberedStemsFilter<T> {
        RememberedStemsFilter {
            inner: tokenizer,
            stems: Stems {
                only_starting: Some(self.starts),
                ..Stems::default()
            },
        }
    }
}

/// The stems one analyzer worked out, and the stemmer of the words it has not seen.
#[derive(Clone)]
pub(super) struct Stems {
    known: HashMap<String, String>,
    stemmer: TextAnalyzer,
    /// When set, only words that start with one of these are stemmed.
    only_starting: Option<std::sync::Arc<Vec<String>>>,
}

impl Default for Stems {
    fn default() -> Self {
        Stems {
            known: HashMap::new(),
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(Language::English))
                .build(),
            only_starting: None,
        }
    }
}

impl Stems {
    /// Replaces `word` by its stem. A word with digits is left as it is: numbers, dates and
    /// references have no stems, and there are so many of them that they would crowd the
    /// words out of what is remembered.
    fn stem(&mut self, word: &mut String) {
        if word.bytes().any(|b| b.is_ascii_digit()) {
            return;
        }
        if let Some(starts) = &self.only_starting
            && !starts.iter().any(|s| word.starts_with(s.as_str()))
        {
            return;
        }
        if let Some(stem) = self.known.get(word.as_str()) {
            word.clear();
            word.push_str(stem);
            return;
        }
        let mut stem = None;
        self.stemmer
            .token_stream(word)
            .process(&mut |t| stem = Some(t.text.clone()));
        let Some(stem) = stem else { return };
        if self.known.len() < MAX_REMEMBERED {
            self.known.insert(word.clone(), stem.clone());
        }
        *word = stem;
    }
}

#[derive(Clone)]
pub(super) struct RememberedStemsFilter<T> {
    inner: T,
    stems: Stems,
}

impl<T: Tokenizer> Tokenizer for RememberedStemsFilter<T> {
    type TokenStream<'a> = RememberedStemsStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        RememberedStemsStream {
            tail: self.inner.token_stream(text),
            stems: &mut self.stems,
        }
    }
}

pub(super) struct RememberedStemsStream<'a, T> {
    tail: T,
    stems: &'a mut Stems,
}

impl<T: TokenStream> TokenStream for RememberedStemsStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        self.stems.stem(&mut self.tail.token_mut().text);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::{LowerCaser, SimpleTokenizer};

    fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        analyzer
            .token_stream(text)
            .process(&mut |t| out.push(t.text.clone()));
        out
    }

    #[test]
    fn remembered_stems_are_tantivys_stems() {
        let text = "Merz apologizes to Libya; apologizing, apologized. Negotiations negotiated \
                    the negotiations again";
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        let mut remembered = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(RememberedStems)
            .build();
        let want = terms(&mut plain, text);
        assert!(want.contains(&"apolog".to_string()), "{want:?}");
        // Twice: the second time from what it remembers.
        assert_eq!(terms(&mut remembered, text), want);
        assert_eq!(terms(&mut remembered, text), want);
    }

    #[test]
    fn stems_of_terms_are_the_stems_of_the_words_that_can_be_those_terms() {
        let text = "Negotiations negotiated; the secretary's policies, apologizes";
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        let mut finder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(StemsOfTerms::new(["negoti", "secretari"]))
            .build();
        let want = terms(&mut plain, text);
        let got = terms(&mut finder, text);
        assert_eq!(want.len(), got.len());
        for (w, g) in want.iter().zip(&got) {
            match w.starts_with("neg") || w.starts_with("sec") {
                true => assert_eq!(g, w),
                false => assert!(!g.starts_with("neg") && !g.starts_with("sec")),
            }
        }
        assert!(got.contains(&"secretari".to_string()), "{got:?}");
        assert!(
            got.contains(&"apologizes".to_string()),
            "not stemmed: {got:?}"
        );
    }
}
