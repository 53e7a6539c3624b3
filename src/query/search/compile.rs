//! A parsed query and a filter made into the index's queries: words are analyzed as the index
//! analyzed the texts, prefixes expanded to the index's terms, filters made to select without
//! ranking.

use super::fields::{Fields, PREFIX_WORDS, WORDS, fold};
use super::language::{DayRange, Expr, FieldFilter, TextField};
use crate::error::{Error, Result};
use crate::query::select::Filter;
use std::ops::Bound;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query,
    RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Searcher, Term};

/// The most index terms a prefix is ranked by (each with BM25, as a word would be); a prefix
/// of more (`a*`) still finds every cable, but ranks none by it.
pub(super) const MAX_PREFIX_TERMS: usize = 512;

/// Endings a prefix is completed with to find the stems that cut into it (see
/// [`Compiler::expand`]).
const STEM_ENDINGS: [&str; 13] = [
    "", "e", "s", "es", "ed", "ing", "ion", "ions", "y", "ies", "al", "ate", "ation",
];

/// Makes queries for one searcher (a prefix's terms are those of its segments).
pub(super) struct Compiler<'s> {
    searcher: &'s Searcher,
    fields: Fields,
    words: TextAnalyzer,
    prefix_words: TextAnalyzer,
}

type Compiled = Option<Box<dyn Query>>;

impl<'s> Compiler<'s> {
    pub(super) fn new(searcher: &'s Searcher, fields: Fields) -> Result<Self> {
        let analyzer = |name: &str| {
            searcher.index().tokenizers().get(name).ok_or_else(|| {
                Error::Invalid(format!("the search index lacks its {name} analyzer"))
            })
        };
        Ok(Compiler {
            searcher,
            fields,
            words: analyzer(WORDS)?,
            prefix_words: analyzer(PREFIX_WORDS)?,
        })
    }

    /// The query of an expression; None when it holds no word the index could hold (only
    /// punctuation, say), which then neither selects nor ranks.
    pub(super) fn expr(&mut self, e: &Expr) -> Result<Compiled> {
        Ok(match e {
            Expr::Text {
                field,
                text,
                prefix,
            } => {
                let f = self.text_field(*field);
                let q = match prefix {
                    true => self.prefix(f, text)?,
                    false => self.words(f, text),
                };
                // An origin selects; it does not rank.
                match field {
                    TextField::Origin => q.map(unranked),
                    _ => q,
                }
            }
            Expr::Filter(filter) => Some(unranked(self.field_filter(filter))),
            Expr::And(parts) => {
                let mut clauses = Vec::new();
                for p in parts {
                    match p {
                        Expr::Not(inner) => {
                            clauses.extend(self.expr(inner)?.map(|q| (Occur::MustNot, q)))
                        }
                        p => clauses.extend(self.expr(p)?.map(|q| (Occur::Must, q))),
                    }
                }
                all_of(clauses)
            }
            Expr::Or(parts) => {
                let mut clauses = Vec::new();
                for p in parts {
                    clauses.extend(self.expr(p)?.map(|q| (Occur::Should, q)));
                }
                (!clauses.is_empty())
                    .then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
            }
            Expr::Not(inner) => all_of(
                self.expr(inner)?
                    .map(|q| (Occur::MustNot, q))
                    .into_iter()
                    .collect(),
            ),
        })
    }

    fn text_field(&self, field: TextField) -> Field {
        match field {
            TextField::Body => self.fields.body,
            TextField::Subject => self.fields.subject,
            TextField::Origin => self.fields.origin_words,
        }
    }

    /// A word or phrase: its terms in a row (one term: that term).
    fn words(&mut self, field: Field, text: &str) -> Compiled {
        let terms = terms(&mut self.words, field, text);
        match terms.len() {
            0 => None,
            1 => Some(term_query(terms.into_iter().next().expect("one term"))),
            _ => Some(Box::new(PhraseQuery::new(terms))),
        }
    }

    /// A prefix: every term of the index that words starting with it became (or, after words,
    /// the phrases that end with such a term).
    fn prefix(&mut self, field: Field, text: &str) -> Result<Compiled> {
        let tokens = tokens_with_offsets(&mut self.prefix_words, text);
        let Some((last, last_at)) = tokens.last().cloned() else {
            return Ok(None);
        };
        let expanded = self.expand(field, &last)?;
        let broad = expanded.len() > MAX_PREFIX_TERMS;
        // The words before the last are searched as the index holds them: stemmed.
        let leading = match tokens.len() {
            1 => Vec::new(),
            _ => terms(&mut self.words, field, &text[..last_at]),
        };
        if !leading.is_empty() {
            if broad {
                let mut terms = leading;
                terms.push(Term::from_field_text(field, &last));
                let mut q = PhrasePrefixQuery::new(terms);
                q.set_max_expansions(MAX_PREFIX_TERMS as u32);
                return Ok(Some(Box::new(q)));
            }
            let phrases = expanded
                .iter()
                .map(|t| {
                    let mut terms = leading.clone();
                    terms.push(Term::from_field_text(field, t));
                    (
                        Occur::Should,
                        Box::new(PhraseQuery::new(terms)) as Box<dyn Query>,
                    )
                })
                .collect();
            return Ok(Some(match expanded.is_empty() {
                true => term_query(Term::from_field_text(field, &last)),
                false => Box::new(BooleanQuery::new(phrases)),
            }));
        }
        if broad {
            let pattern = format!("{}.*", regex_escape(&last));
            let q = RegexQuery::from_pattern(&pattern, field).map_err(engine)?;
            return Ok(Some(unranked(Box::new(q))));
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = expanded
            .into_iter()
            .map(|t| (Occur::Should, term_query(Term::from_field_text(field, &t))))
            .collect();
        Ok(Some(match clauses.is_empty() {
            // No term has the prefix: a term that matches nothing says so.
            true => term_query(Term::from_field_text(field, &last)),
            false => Box::new(BooleanQuery::new(clauses)),
        }))
    }

    /// The index's terms that words starting with `prefix` became, up to one more than
    /// [`MAX_PREFIX_TERMS`]: those that start with the prefix, and those that start with the
    /// stem of the prefix with a common ending (`negotiat*`: `negotiation` is indexed as
    /// `negoti`; `secretar*`: `secretary` as `secretari`), as an English stem may cut into the
    /// prefix or change its last letter.
    fn expand(&mut self, field: Field, prefix: &str) -> Result<Vec<String>> {
        let mut starts = std::collections::BTreeSet::from([prefix.to_string()]);
        for ending in STEM_ENDINGS {
            let word = format!("{prefix}{ending}");
            if let Some(stem) = terms(&mut self.words, field, &word).pop() {
                starts.extend(stem.value().as_str().map(str::to_string));
            }
        }
        let mut found = std::collections::BTreeSet::new();
        for start in &starts {
            for segment in self.searcher.segment_readers() {
                let inverted = segment.inverted_index(field).map_err(engine)?;
                let mut stream = inverted
                    .terms()
                    .range()
                    .ge(start.as_bytes())
                    .into_stream()
                    .map_err(|e| engine(e.into()))?;
                while stream.advance() {
                    let key = stream.key();
                    if !key.starts_with(start.as_bytes()) || found.len() > MAX_PREFIX_TERMS {
                        break;
                    }
                    found.insert(String::from_utf8_lossy(key).into_owned());
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    fn field_filter(&self, filter: &FieldFilter) -> Box<dyn Query> {
        let f = &self.fields;
        match filter {
            FieldFilter::Tag(t) => exact(f.tag, &fold(t)),
            FieldFilter::Classification(c) => exact(f.classification, &fold(c)),
            FieldFilter::Id(id) => any_of(
                crate::query::select::ids_to_look_up(id)
                    .into_iter()
                    .map(|i| exact(f.id, &i.to_ascii_uppercase()))
                    .collect(),
            ),
            FieldFilter::Created(r) => day_range(f.created, *r),
            FieldFilter::Released(r) => day_range(f.released, *r),
        }
    }
}

/// The queries that make `filter` (every criterion but its full-text query) and, when given,
/// the collection: each selects, none ranks.
pub(super) fn filter_clauses(
    fields: &Fields,
    filter: &Filter,
    collection: Option<&str>,
) -> Vec<Box<dyn Query>> {
    let mut musts: Vec<Box<dyn Query>> = Vec::new();
    let any = |field: Field, values: &[String], map: &dyn Fn(&str) -> String| {
        any_of(values.iter().map(|v| exact(field, &map(v))).collect())
    };
    if let Some(c) = collection {
        musts.push(exact(fields.collection, c));
    }
    if !filter.ids.is_empty() {
        musts.push(any(fields.id, &filter.ids, &|v| {
            v.trim().to_ascii_uppercase()
        }));
    }
    if !filter.origins.is_empty() {
        musts.push(any(fields.origin, &filter.origins, &fold));
    }
    if !filter.tags.is_empty() {
        match filter.all_tags {
            true => musts.extend(filter.tags.iter().map(|t| exact(fields.tag, &fold(t)))),
            false => musts.push(any(fields.tag, &filter.tags, &fold)),
        }
    }
    if !filter.classifications.is_empty() {
        musts.push(any(fields.classification, &filter.classifications, &fold));
    }
    let day = |d: &Option<String>| d.as_deref().and_then(super::fields::day_number);
    for (field, from, to) in [
        (fields.created, &filter.created_from, &filter.created_to),
        (fields.released, &filter.released_from, &filter.released_to),
    ] {
        if from.is_some() || to.is_some() {
            let range = DayRange {
                from: day(from),
                to: day(to),
            };
            musts.push(day_range(field, range));
        }
    }
    if let Some(r) = &filter.redaction {
        musts.push(exact(fields.redaction, r));
    }
    if let Some(p) = filter.partial_extract {
        musts.push(exact(
            fields.partial_extract,
            if p { "true" } else { "false" },
        ));
    }
    musts.into_iter().map(unranked).collect()
}

/// The terms the analyzer makes of `text`, in order, with where each starts in it.
fn tokens_with_offsets(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(String, usize)> {
    let mut tokens = Vec::new();
    let mut stream = analyzer.token_stream(text);
    stream.process(&mut |t| tokens.push((t.text.clone(), t.offset_from)));
    tokens
}

/// The terms the analyzer makes of `text`, in order.
fn terms(analyzer: &mut TextAnalyzer, field: Field, text: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut stream = analyzer.token_stream(text);
    stream.process(&mut |t| terms.push(Term::from_field_text(field, &t.text)));
    terms
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

/// A term of an untokenized field, matched exactly.
fn exact(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

/// Days of `field` within `range` (a range open on both sides is every cable with a day).
fn day_range(field: Field, range: DayRange) -> Box<dyn Query> {
    let bound =
        |d: Option<i64>, min: i64| Bound::Included(Term::from_field_i64(field, d.unwrap_or(min)));
    Box::new(RangeQuery::new(
        bound(range.from, i64::MIN),
        bound(range.to, i64::MAX),
    ))
}

/// A query that selects without ranking: it adds nothing to a hit's score.
fn unranked(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

/// Clauses joined by AND; a join of NOTs only is every cable but those.
fn all_of(mut clauses: Vec<(Occur, Box<dyn Query>)>) -> Compiled {
    if clauses.is_empty() {
        return None;
    }
    if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
        clauses.push((Occur::Must, unranked(Box::new(AllQuery))));
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// Escapes what a regular expression would read as syntax (a prefix is letters and digits as
/// analyzed, but an analyzer change must not make it a pattern).
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c.is_alphanumeric() {
            true => vec![c],
            false => vec!['\\', c],
        })
        .collect()
}

/// An error of the engine while making a query (a damaged index).
pub(super) fn engine(e: tantivy::TantivyError) -> Error {
    Error::Invalid(format!(
        "the search index could not be read ({e}); run `cablekeep search --rebuild`"
    ))
}
