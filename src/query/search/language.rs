//! The query language: words, "phrases", prefixes (`negotiat*`), `AND`, `OR`, `NOT`,
//! parentheses and field filters (`origin:madrid`, `tag:PREL`, `created:2009..2010`), parsed
//! into an [`Expr`] with an error that says what is wrong and where. README.md documents it.

use crate::error::{Error, Result};

/// The longest full-text query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;

/// The most words a full-text query may hold (`AND`, `OR` and `NOT` not counted): each word is
/// looked up in the index, and snippets mark every one.
pub const MAX_QUERY_WORDS: usize = 64;

/// Refuses a full-text query that is malformed (with an error that says what is wrong and
/// where), longer than [`MAX_QUERY_BYTES`] or with more words than [`MAX_QUERY_WORDS`].
pub fn check_query(query: &str) -> Result<()> {
    parse(query).map(drop)
}

/// Refuses a full-text query longer than [`MAX_QUERY_BYTES`] (before it is read at all).
fn check_length(query: &str) -> Result<()> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(Error::Invalid(format!(
            "the query is {} bytes long: at most {MAX_QUERY_BYTES} are accepted",
            query.len()
        )));
    }
    Ok(())
}

/// Refuses a parsed query with more words than [`MAX_QUERY_WORDS`]: the words searched, as the
/// index's analyzer splits them (`the.the.the` is three), and one for each field filter.
fn check_words(expr: &Expr) -> Result<()> {
    let words = count_words(expr);
    if words > MAX_QUERY_WORDS {
        return Err(Error::Invalid(format!(
            "the query has {words} words: at most {MAX_QUERY_WORDS} are accepted"
        )));
    }
    Ok(())
}

fn count_words(expr: &Expr) -> usize {
    match expr {
        Expr::Text { text, .. } => text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .count(),
        Expr::Filter(_) => 1,
        Expr::And(parts) | Expr::Or(parts) => parts.iter().map(count_words).sum(),
        Expr::Not(inner) => count_words(inner),
    }
}

/// How deep parentheses and `NOT`s may nest: each level is a level of the engine's query, built
/// and run recursively.
const MAX_DEPTH: usize = 16;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// Words searched in a text field: a bareword (its terms in a row, as a phrase, when it has
    /// several, as in `U.S.-Libya`), a quoted phrase, or a prefix.
    Text {
        field: TextField,
        text: String,
        prefix: bool,
    },
    /// A criterion on a cable's metadata: it selects, it does not rank.
    Filter(FieldFilter),
    /// Every part must match.
    And(Vec<Expr>),
    /// At least one part must match.
    Or(Vec<Expr>),
    /// The part must not match.
    Not(Box<Expr>),
}

impl Expr {
    /// The words a snippet marks: those searched for in the subject or text, not those a `NOT`
    /// keeps out nor the filters; None when there are none.
    pub(super) fn marked_words(&self) -> Option<Expr> {
        let kept =
            |parts: &[Expr]| -> Vec<Expr> { parts.iter().filter_map(Expr::marked_words).collect() };
        match self {
            Expr::Not(_) | Expr::Filter(_) => None,
            Expr::Text {
                field: TextField::Origin,
                ..
            } => None,
            Expr::Text { text, prefix, .. } => Some(Expr::Text {
                field: TextField::Body,
                text: text.clone(),
                prefix: *prefix,
            }),
            Expr::And(parts) => Some(kept(parts)).filter(|k| !k.is_empty()).map(Expr::And),
            Expr::Or(parts) => Some(kept(parts)).filter(|k| !k.is_empty()).map(Expr::Or),
        }
    }
}

/// The text a word is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextField {
    /// Subject and text (a word without a field).
    Body,
    /// `subject:`
    Subject,
    /// `origin:`: the words of the sending post (a filter: it does not rank).
    Origin,
}

/// A criterion on a cable's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FieldFilter {
    /// `tag:PREL`
    Tag(String),
    /// `classification:secret`: the whole marking or its level.
    Classification(String),
    /// `id:09BERN351`
    Id(String),
    /// `created:2009..2010`
    Created(DayRange),
    /// `released:2011-08`
    Released(DayRange),
}

/// Days as numbers `YYYYMMDD`, inclusive; None: open on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DayRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// The field names the language knows, as the README lists them.
const FIELDS: &str = "subject, origin, tag, classification, id, created, released";

/// Parses a query, within the bounds of [`MAX_QUERY_BYTES`] and [`MAX_QUERY_WORDS`].
pub(super) fn parse(query: &str) -> Result<Expr> {
    check_length(query)?;
    let tokens = lex(query).map_err(|p| p.into_error(query))?;
    if tokens.is_empty() {
        return Err(Problem::at(0, "the query is empty".into()).into_error(query));
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    let expr = parser.or().map_err(|p| p.into_error(query))?;
    if let Some(t) = parser.tokens.get(parser.next) {
        return Err(Problem::at(t.at, "this `)` closes no `(`".into()).into_error(query));
    }
    check_words(&expr)?;
    Ok(expr)
}

/// What is wrong with a query, and where (a character position, from 1 when shown).
#[derive(Debug)]
struct Problem {
    at: usize,
    what: String,
}

impl Problem {
    fn at(at: usize, what: String) -> Problem {
        Problem { at, what }
    }

    fn into_error(self, query: &str) -> Error {
        Error::Invalid(format!(
            "search query {query:?}: at character {}: {} (see README.md, \"Search\"; put \
             words in double quotes to search them as they are)",
            self.at + 1,
            self.what
        ))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Open,
    Close,
    And,
    Or,
    Not,
    /// A word, phrase or field filter.
    Operand(Expr),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Where it starts, in characters.
    at: usize,
}

/// Splits a query into tokens.
fn lex(query: &str) -> std::result::Result<Vec<Token>, Problem> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => {
                i += 1;
                Kind::Open
            }
            ')' => {
                i += 1;
                Kind::Close
            }
            '"' => {
                let (text, end) = quoted(&chars, i)?;
                // `"prime min"*`: a phrase whose last word is a prefix.
                let prefix = chars.get(end) == Some(&'*');
                i = end + usize::from(prefix);
                Kind::Operand(Expr::Text {
                    field: TextField::Body,
                    text,
                    prefix,
                })
            }
            _ => {
                let (kind, end) = bareword(&chars, i)?;
                i = end;
                kind
            }
        };
        tokens.push(Token { kind, at });
    }
    Ok(tokens)
}

/// The phrase of the quote opening at `start`, and where it ends.
fn quoted(chars: &[char], start: usize) -> std::result::Result<(String, usize), Problem> {
    let close = chars[start + 1..]
        .iter()
        .position(|&c| c == '"')
        .ok_or_else(|| Problem::at(start, "this `\"` is never closed".into()))?;
    let end = start + 1 + close;
    Ok((chars[start + 1..end].iter().collect(), end + 1))
}

/// A bareword, operator or field filter starting at `start`, and where it ends.
fn bareword(chars: &[char], start: usize) -> std::result::Result<(Kind, usize), Problem> {
    let stop = |c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"');
    let mut end = start;
    while end < chars.len() && !stop(chars[end]) {
        if chars[end] == ':' && is_field_name(&chars[start..end]) {
            let name: String = chars[start..end].iter().collect();
            return field(chars, start, &name, end + 1);
        }
        end += 1;
    }
    let word: String = chars[start..end].iter().collect();
    if word == "NEAR" && chars.get(end) == Some(&'(') {
        return Err(Problem::at(
            start,
            "`NEAR(...)` is SQLite FTS5's, not cablekeep's: search the words in a row as \
             \"a phrase\", or together as words"
                .into(),
        ));
    }
    let kind = match word.as_str() {
        "AND" => Kind::And,
        "OR" => Kind::Or,
        "NOT" => Kind::Not,
        _ => Kind::Operand(text(TextField::Body, &word, start)?),
    };
    Ok((kind, end))
}

/// Lower-case ASCII letters only: `re:` is taken for a field name (and refused when it is not
/// one), `10:30` and `U.S.:` are words.
fn is_field_name(name: &[char]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_lowercase())
}

/// A word, or a prefix when it ends in `*`.
fn text(field: TextField, word: &str, at: usize) -> std::result::Result<Expr, Problem> {
    let (text, prefix) = match word.strip_suffix('*') {
        Some(stem) => (stem.trim_end_matches('*'), true),
        None => (word, false),
    };
    if prefix && !text.chars().any(char::is_alphanumeric) {
        return Err(Problem::at(
            at,
            format!("`{word}`: a `*` must follow at least one letter or digit"),
        ));
    }
    Ok(Expr::Text {
        field,
        text: text.to_string(),
        prefix,
    })
}

/// The filter `name:value` whose value starts at `value_at`, and where it ends.
fn field(
    chars: &[char],
    start: usize,
    name: &str,
    value_at: usize,
) -> std::result::Result<(Kind, usize), Problem> {
    let (value, end, quoted_value) = match chars.get(value_at) {
        Some('"') => {
            let (v, end) = quoted(chars, value_at)?;
            (v, end, true)
        }
        _ => {
            let stop = |c: &char| c.is_whitespace() || matches!(c, '(' | ')' | '"');
            let len = chars[value_at..].iter().take_while(|c| !stop(c)).count();
            let v: String = chars[value_at..value_at + len].iter().collect();
            (v, value_at + len, false)
        }
    };
    if value.trim().is_empty() {
        return Err(Problem::at(start, format!("`{name}:` needs a value")));
    }
    let filter = |f| Ok((Kind::Operand(Expr::Filter(f)), end));
    let words = |field| -> std::result::Result<(Kind, usize), Problem> {
        let expr = match quoted_value {
            true => Expr::Text {
                field,
                text: value.clone(),
                prefix: false,
            },
            false => text(field, &value, start)?,
        };
        Ok((Kind::Operand(expr), end))
    };
    match name {
        "subject" => words(TextField::Subject),
        "origin" => words(TextField::Origin),
        "tag" => filter(FieldFilter::Tag(value)),
        "classification" => filter(FieldFilter::Classification(value)),
        "id" => filter(FieldFilter::Id(value)),
        "created" => filter(FieldFilter::Created(day_range(&value, start)?)),
        "released" => filter(FieldFilter::Released(day_range(&value, start)?)),
        _ => Err(Problem::at(
            start,
            format!("`{name}:` is not a field (the fields are {FIELDS})"),
        )),
    }
}

/// `2009`, `2009-03`, `2009-03-15`, or two of them joined by `..` (either may be left out).
fn day_range(value: &str, at: usize) -> std::result::Result<DayRange, Problem> {
    let bad = || {
        Problem::at(
            at,
            format!(
                "`{value}`: expected a year, month or day (2009, 2009-03, 2009-03-15) or a \
                 range of them (2009..2010, 2009-03.., ..2005)"
            ),
        )
    };
    let (from, to) = match value.split_once("..") {
        Some((a, b)) => (a, b),
        None => (value, value),
    };
    if from.is_empty() && to.is_empty() {
        return Err(bad());
    }
    let first = |s: &str| match s {
        "" => Ok(None),
        s => period(s).map(|(f, _)| Some(f)).ok_or_else(bad),
    };
    let last = |s: &str| match s {
        "" => Ok(None),
        s => period(s).map(|(_, l)| Some(l)).ok_or_else(bad),
    };
    let range = DayRange {
        from: first(from)?,
        to: last(to)?,
    };
    if let (Some(f), Some(t)) = (range.from, range.to)
        && f > t
    {
        return Err(Problem::at(
            at,
            format!("`{value}`: the range ends before it starts"),
        ));
    }
    Ok(range)
}

/// The first and last day of a year, month or day, as `YYYYMMDD` numbers (a month's last day
/// is taken as its 31st: only the order of the numbers matters).
fn period(s: &str) -> Option<(i64, i64)> {
    let number = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i64>().ok())
            .flatten()
    };
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [y] => {
            let y = number(y, 4)?;
            Some((y * 10000 + 101, y * 10000 + 1231))
        }
        [y, m] => {
            let (y, m) = (number(y, 4)?, number(m, 2)?);
            (1..=12).contains(&m).then_some(())?;
            Some((y * 10000 + m * 100 + 1, y * 10000 + m * 100 + 31))
        }
        [y, m, d] => {
            let (y, m, d) = (number(y, 4)?, number(m, 2)?, number(d, 2)?);
            ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some(())?;
            let day = y * 10000 + m * 100 + d;
            Some((day, day))
        }
        _ => None,
    }
}

/// A recursive descent over the tokens: `OR` binds loosest, then `AND` (or words side by side),
/// then `NOT`.
struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Parentheses and `NOT`s open around the token read.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn or(&mut self) -> std::result::Result<Expr, Problem> {
        let mut parts = vec![self.and()?];
        while let Some(t) = self.peek().filter(|t| t.kind == Kind::Or) {
            let at = t.at;
            self.next += 1;
            parts.push(self.operand_after(at, "OR", Self::and)?);
        }
        Ok(one_or(parts, Expr::Or))
    }

    fn and(&mut self) -> std::result::Result<Expr, Problem> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek().map(|t| (t.kind.clone(), t.at)) {
                Some((Kind::And, at)) => {
                    self.next += 1;
                    parts.push(self.operand_after(at, "AND", Self::unary)?);
                }
                Some((Kind::Or | Kind::Close, _)) | None => break,
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(one_or(parts, Expr::And))
    }

    fn unary(&mut self) -> std::result::Result<Expr, Problem> {
        match self.peek().map(|t| (t.kind.clone(), t.at)) {
            Some((Kind::Not, at)) => {
                self.next += 1;
                self.enter(at)?;
                let inner = self.operand_after(at, "NOT", Self::unary)?;
                self.depth -= 1;
                Ok(match inner {
                    // NOT NOT a is a.
                    Expr::Not(a) => *a,
                    inner => Expr::Not(Box::new(inner)),
                })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> std::result::Result<Expr, Problem> {
        let Some(token) = self.peek().cloned() else {
            return Err(Problem::at(
                self.tokens.last().map_or(0, |t| t.at),
                "the query ends where a word was expected".into(),
            ));
        };
        self.next += 1;
        match token.kind {
            Kind::Operand(e) => Ok(e),
            Kind::Open => {
                if self.peek().is_some_and(|t| t.kind == Kind::Close) {
                    return Err(Problem::at(token.at, "`()` holds nothing".into()));
                }
                self.enter(token.at)?;
                let inner = self.or()?;
                self.depth -= 1;
                match self.peek() {
                    Some(t) if t.kind == Kind::Close => {
                        self.next += 1;
                        Ok(inner)
                    }
                    _ => Err(Problem::at(token.at, "this `(` is never closed".into())),
                }
            }
            Kind::Close => Err(Problem::at(token.at, "this `)` closes no `(`".into())),
            Kind::And | Kind::Or => Err(Problem::at(
                token.at,
                format!(
                    "`{}` needs a word before it",
                    if token.kind == Kind::And { "AND" } else { "OR" }
                ),
            )),
            Kind::Not => unreachable!("unary takes NOT"),
        }
    }

    /// One level deeper, at most [`MAX_DEPTH`].
    fn enter(&mut self, at: usize) -> std::result::Result<(), Problem> {
        self.depth += 1;
        match self.depth > MAX_DEPTH {
            true => Err(Problem::at(
                at,
                format!("parentheses and NOTs nest more than {MAX_DEPTH} deep here"),
            )),
            false => Ok(()),
        }
    }

    /// The operand after the operator `op` at `at`, with an error naming the operator when
    /// there is none.
    fn operand_after(
        &mut self,
        at: usize,
        op: &str,
        operand: fn(&mut Self) -> std::result::Result<Expr, Problem>,
    ) -> std::result::Result<Expr, Problem> {
        match self.peek().map(|t| &t.kind) {
            None | Some(Kind::Close | Kind::And | Kind::Or) => {
                Err(Problem::at(at, format!("`{op}` needs a word after it")))
            }
            _ => operand(self),
        }
    }
}

fn one_or(mut parts: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    match parts.len() {
        1 => parts.pop().expect("one part"),
        _ => join(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(t: &str) -> Expr {
        Expr::Text {
            field: TextField::Body,
            text: t.into(),
            prefix: false,
        }
    }

    #[test]
    fn words_phrases_prefixes_and_operators() {
        assert_eq!(parse("libya").unwrap(), word("libya"));
        assert_eq!(
            parse("\"apologizes to Libya\" oil").unwrap(),
            Expr::And(vec![word("apologizes to Libya"), word("oil")])
        );
        assert_eq!(
            parse("negotiat*").unwrap(),
            Expr::Text {
                field: TextField::Body,
                text: "negotiat".into(),
                prefix: true
            }
        );
        // OR binds looser than AND, NOT tighter.
        assert_eq!(
            parse("a b OR NOT c").unwrap(),
            Expr::Or(vec![
                Expr::And(vec![word("a"), word("b")]),
                Expr::Not(Box::new(word("c")))
            ])
        );
        assert_eq!(
            parse("(a OR b) AND c").unwrap(),
            Expr::And(vec![Expr::Or(vec![word("a"), word("b")]), word("c")])
        );
        // Lower-case operators and punctuation are words.
        assert_eq!(
            parse("and U.S.-Libya").unwrap(),
            Expr::And(vec![word("and"), word("U.S.-Libya")])
        );
        assert_eq!(parse("10:30").unwrap(), word("10:30"));
        assert_eq!(
            parse("\"prime min\"*").unwrap(),
            Expr::Text {
                field: TextField::Body,
                text: "prime min".into(),
                prefix: true
            }
        );
    }

    #[test]
    fn field_filters() {
        assert_eq!(
            parse("origin:\"Embassy Madrid\" tag:PREL").unwrap(),
            Expr::And(vec![
                Expr::Text {
                    field: TextField::Origin,
                    text: "Embassy Madrid".into(),
                    prefix: false
                },
                Expr::Filter(FieldFilter::Tag("PREL".into()))
            ])
        );
        assert_eq!(
            parse("created:2009..2010").unwrap(),
            Expr::Filter(FieldFilter::Created(DayRange {
                from: Some(20090101),
                to: Some(20101231)
            }))
        );
        assert_eq!(
            parse("released:2011-08").unwrap(),
            Expr::Filter(FieldFilter::Released(DayRange {
                from: Some(20110801),
                to: Some(20110831)
            }))
        );
        assert_eq!(
            parse("created:..2005-03-04").unwrap(),
            Expr::Filter(FieldFilter::Created(DayRange {
                from: None,
                to: Some(20050304)
            }))
        );
    }

    #[test]
    fn malformed_queries_say_what_and_where() {
        for (query, says) in [
            ("", "empty"),
            ("   ", "empty"),
            ("\"apologizes to", "character 1: this `\"` is never closed"),
            ("(a OR b", "character 1: this `(` is never closed"),
            ("a OR b)", "character 7: this `)` closes no `(`"),
            ("a OR", "character 3: `OR` needs a word after it"),
            ("OR a", "`OR` needs a word before it"),
            ("a AND AND b", "`AND` needs a word after it"),
            ("NOT", "`NOT` needs a word after it"),
            ("()", "`()` holds nothing"),
            ("*", "a `*` must follow"),
            ("orgin:madrid", "`orgin:` is not a field"),
            ("NEAR(a b)", "`NEAR(...)` is SQLite FTS5's"),
            ("origin:", "`origin:` needs a value"),
            ("created:2009..2008", "ends before it starts"),
            ("created:09", "expected a year"),
            ("created:2009-13", "expected a year"),
        ] {
            let e = parse(query).unwrap_err().to_string();
            assert!(e.contains(says), "{query:?}: {e}");
            assert!(e.contains("README"), "{query:?}: {e}");
        }
    }

    #[test]
    fn bounds_are_checked_first() {
        let long = "x".repeat(MAX_QUERY_BYTES + 1);
        assert!(parse(&long).unwrap_err().to_string().contains("at most"));
        for many in [
            vec!["w"; MAX_QUERY_WORDS + 1].join(" "),
            // Operators quoted or in fields are words searched, and count.
            format!("\"{}\"", vec!["AND"; MAX_QUERY_WORDS + 1].join(" ")),
            vec!["subject:OR"; MAX_QUERY_WORDS + 1].join(" "),
        ] {
            let e = parse(&many).unwrap_err().to_string();
            assert!(e.contains("at most 64 are accepted"), "{e}");
        }
        assert!(parse(&vec!["w"; MAX_QUERY_WORDS].join(" OR ")).is_ok());
        // Nesting is bounded; NOT NOT is undone.
        let deep = format!("{}a", "NOT ".repeat(500));
        let e = parse(&deep).unwrap_err().to_string();
        assert!(e.contains("nest more than 16 deep"), "{e}");
        let deep = format!("{}a{}", "(".repeat(17), ")".repeat(17));
        assert!(parse(&deep).is_err());
        assert_eq!(parse("NOT NOT a").unwrap(), parse("a").unwrap());
    }
}
