//! The query language: FTS5 syntax, its bounds ([`check_query`]), its phrases and words as
//! the index's tokenizer makes terms of them, and the plain-word queries stored postings rank.

use crate::error::{Error, Result};
use rusqlite::{Connection, params};

/// The longest full-text query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;

/// The most words a full-text query may hold (FTS5's operators not counted): a snippet's cost
/// grows with the square of the query's phrases, so an unbounded query is unbounded time.
pub const MAX_QUERY_WORDS: usize = 64;

/// Refuses a full-text query longer than [`MAX_QUERY_BYTES`] or with more words than
/// [`MAX_QUERY_WORDS`].
pub fn check_query(query: &str) -> Result<()> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(Error::Invalid(format!(
            "the query is {} bytes long: at most {MAX_QUERY_BYTES} are accepted",
            query.len()
        )));
    }
    // Counted as the index's tokenizer (unicode61) sees them: runs of letters and digits, so
    // `the.the.the` is three words, as FTS5 searches it.
    let words = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "AND" | "OR" | "NOT" | "NEAR"))
        .count();
    if words > MAX_QUERY_WORDS {
        return Err(Error::Invalid(format!(
            "the query has {words} words: at most {MAX_QUERY_WORDS} are accepted"
        )));
    }
    Ok(())
}

/// One phrase of an FTS5 query as written: its text and whether it is a prefix (`text*`).
#[derive(Debug, PartialEq)]
pub(super) struct QueryPhrase {
    pub(super) text: String,
    pub(super) prefix: bool,
}

/// FTS5's bareword characters (sqlite3Fts5IsBareword).
fn is_bareword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '\x1a' || !c.is_ascii()
}

/// The phrases of an FTS5 query (barewords and strings), without its operators and column
/// names; only what a snippet highlights is wanted, not the query's structure.
pub(super) fn query_phrases(query: &str) -> Vec<QueryPhrase> {
    let mut phrases = Vec::new();
    let mut chars = query.chars().peekable();
    let mut in_columns = false;
    while let Some(c) = chars.next() {
        let text = if c == '"' {
            let mut text = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        text.push('"');
                    }
                    '"' => break,
                    c => text.push(c),
                }
            }
            text
        } else if is_bareword_char(c) {
            let mut text = String::from(c);
            while let Some(&c) = chars.peek().filter(|c| is_bareword_char(**c)) {
                text.push(c);
                chars.next();
            }
            text
        } else {
            match c {
                '{' => in_columns = true,
                '}' => in_columns = false,
                _ => {}
            }
            continue;
        };
        while chars.peek().is_some_and(|c| *c == ' ') {
            chars.next();
        }
        let prefix = chars.next_if_eq(&'*').is_some();
        let column = chars.peek() == Some(&':');
        let operator = matches!(text.as_str(), "AND" | "OR" | "NOT" | "NEAR");
        if !(in_columns || column || operator) {
            phrases.push(QueryPhrase { text, prefix });
        }
    }
    phrases
}

/// `a "b c` -> `"a" """b" "c"`: every word as an FTS5 string, so any text can be searched.
pub(super) fn quote_words(query: &str) -> String {
    query
        .split_whitespace()
        .map(fts5_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `b"c` -> `"b""c"`: a text as an FTS5 string (a phrase of its tokens).
pub(super) fn fts5_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The tokenizer of `cables_fts` (the one in [`super::super::schema::SCHEMA`]; a test checks).
pub(super) const TOKENIZER: &str = "porter unicode61";

/// The terms each text becomes in the index, in order, told by FTS5's tokenizer on an
/// in-memory table (the tokenizer makes the same terms of a text in a query).
pub(super) fn terms_of_texts<S: AsRef<str>>(texts: &[S]) -> rusqlite::Result<Vec<Vec<String>>> {
    let conn = Connection::open_in_memory()?;
    // Contentless, without row sizes: only the terms are wanted, and creating fewer shadow
    // tables takes a third of the time.
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE words USING fts5 (
             word, tokenize = '{TOKENIZER}', content = '', columnsize = 0);
         CREATE VIRTUAL TABLE words_terms USING fts5vocab (words, 'instance');"
    ))?;
    let mut insert = conn.prepare("INSERT INTO words (rowid, word) VALUES (?1, ?2)")?;
    for (i, text) in texts.iter().enumerate() {
        insert.execute(params![i as i64, text.as_ref()])?;
    }
    let mut terms = vec![Vec::new(); texts.len()];
    let mut stmt = conn.prepare("SELECT doc, term FROM words_terms ORDER BY doc, offset")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (doc, term): (i64, String) = (row.get(0)?, row.get(1)?);
        if let Some(t) = usize::try_from(doc).ok().and_then(|d| terms.get_mut(d)) {
            t.push(term);
        }
    }
    Ok(terms)
}

/// How the words of a query combine: each required (`a b`), or any of them (`a OR b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Join {
    All,
    Any,
}

/// A query that stored postings can rank: words, each maybe a prefix (`develop*`), all required
/// (`a b`) or joined by `OR` (`a OR b`). Only plain ASCII words: anything else, FTS5 ranks.
#[derive(Debug, PartialEq)]
pub(super) struct WordQuery<'q> {
    pub(super) words: Vec<Word<'q>>,
    pub(super) join: Join,
}

#[derive(Debug, PartialEq)]
pub(super) struct Word<'q> {
    pub(super) text: &'q str,
    pub(super) prefix: bool,
}

/// The query as a [`WordQuery`], when it is one.
pub(super) fn word_query(query: &str) -> Option<WordQuery<'_>> {
    // Split where FTS5's query parser does (fts5ExprIsspace): other spaces, such as U+00A0,
    // are part of a bareword, which is then a phrase of its tokens.
    let parts: Vec<&str> = query
        .split([' ', '\t', '\n', '\r'])
        .filter(|p| !p.is_empty())
        .collect();
    let joined_by_or = parts.len() >= 3
        && parts.len() % 2 == 1
        && parts.iter().skip(1).step_by(2).all(|&p| p == "OR");
    let words: Option<Vec<Word<'_>>> = if joined_by_or {
        parts.iter().step_by(2).map(|p| word(p)).collect()
    } else {
        parts.iter().map(|p| word(p)).collect()
    };
    let words = words.filter(|w| !w.is_empty())?;
    Some(WordQuery {
        words,
        join: match joined_by_or {
            true => Join::Any,
            false => Join::All,
        },
    })
}

/// One word of a [`WordQuery`]: ASCII letters and digits, maybe followed by `*`; not one of
/// FTS5's operators.
pub(super) fn word(part: &str) -> Option<Word<'_>> {
    let (text, prefix) = match part.strip_suffix('*') {
        Some(text) => (text, true),
        None => (part, false),
    };
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric());
    let operator = matches!(text, "AND" | "OR" | "NOT" | "NEAR");
    (plain && !operator).then_some(Word { text, prefix })
}
