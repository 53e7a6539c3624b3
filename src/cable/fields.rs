//! Fields read from a cable's body text, shared by the readers: SUBJECT, TAGS, REF, handling
//! caveats, the signature, the classification statement (`Classified By: … Reasons 1.4 (b)`),
//! the E.O. 12958 DECL date, numbered paragraphs and the summary.
//!
//! The `pub` functions read one field from a text fragment; the expectations test feeds them
//! cablemap's test fragments.

use super::id;
use super::text::collapse_ws;
use regex::Regex;
use std::sync::LazyLock;

/// What the body text says of itself.
#[derive(Debug, Default)]
pub(super) struct BodyFields {
    /// SUBJECT, joined across continuation lines, whitespace collapsed.
    pub subject: Option<String>,
    /// True when the body has a TAGS line.
    pub has_tags_line: bool,
    /// TAGS, in order.
    pub tags: Vec<String>,
    /// Referenced cables (canonical ids) and non-cable references (text).
    pub references: Vec<String>,
    /// Handling caveats found in the header lines (SIPDIS, NODIS, …).
    pub caveats: Vec<String>,
    /// The non-cable references among `references`.
    pub references_text: Vec<String>,
    /// The signature.
    pub signers: Vec<String>,
    /// The classification statement after `Classified By:`.
    pub classified_by_text: Option<String>,
    /// The names in the classification statement.
    pub classified_by: Vec<String>,
    /// Classification reasons, e.g. `1.4 (b)`.
    pub reasons: Vec<String>,
    /// The E.O. 12958 DECL date, normalized, and as written.
    pub declassify: Option<String>,
    pub declassify_original: Option<String>,
    /// Numbered paragraphs.
    pub paragraphs: Vec<Paragraph>,
    /// The summary.
    pub summary: Option<String>,
}

/// How far into the body the header fields (TAGS, SUBJECT, REF) are looked for, in lines.
const HEADER_LINES: usize = 120;

static SUBJECT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:SUBJECT|SUBJ)\b(?:\s*[:.])*\s*(.*)$").expect("valid regex")
});
static TAGS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*TAGS?\b\s*[:.]?\s*(.*)$").expect("valid regex"));
static REF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:REFS?|REFTELS?|REFERENCES?|REFERENCE TELEGRAMS?)\b\s*[:.]?\s*(.*)$")
        .expect("valid regex")
});
/// Lines that end a SUBJECT or REF block.
static FIELD_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(?:
            (?:SUBJECT|SUBJ|TAGS?|REFS?|REFTELS?|REFERENCES?)\b
          | CLASSIFIED\s+BY | CLASSIFIED\s*: | DERIVED\s+FROM
          | E\.?\s?O\.?\s+1\d{4} | EO\s+1\d{4}
          | \d{1,2}\s*[.)]\s | \d{1,2}\.$ | \(\w{1,5}\)\s
          | SUMMARY\b | BEGIN\s+SUMMARY | INFO\b | ACTION\b | PAGE\s+\d
          | SIPDIS\b | SENSITIVE\b | NOFORN\b
        )",
    )
    .expect("valid regex")
});
/// A lone classification banner line (page breaks in older cables).
static BANNER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:UNCLAS(?:SIFIED)?|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE|C O N F I D E N T I A L|S E C R E T|U N C L A S S I F I E D)\s*$")
        .expect("valid regex")
});
static CABLE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(\d{4}|\d{2})\s+)?([A-Z][A-Z]+(?:[ -][A-Z]+){0,2})\s+(\d{1,7})\b")
        .expect("valid regex")
});
static REF_BULLET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s|;)\(?[A-Z]\s?[.)]\s|;").expect("valid regex"));
static TAG_ONLY_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[A-Z0-9_]{2,8}[,;]?\s*)+$").expect("valid regex"));
static SIGNER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Z][A-Za-z.'\-]*(?:[ /][A-Z][A-Za-z.'\-]*){0,2}$").expect("valid regex")
});

const CAVEATS: &[&str] = &[
    "NOFORN",
    "SIPDIS",
    "NODIS",
    "EXDIS",
    "LIMDIS",
    "STADIS",
    "ROGER",
    "CHEROKEE",
    "ORCON",
    "NOCONTRACT",
    "PROPIN",
];

const NOT_STATIONS: &[&str] = &[
    "PARA",
    "PARAS",
    "PARAGRAPH",
    "PARAGRAPHS",
    "PAGE",
    "PAGES",
    "SECTION",
    "NUMBER",
    "NO",
    "TELCON",
    "TELECON",
    "EMAIL",
    "FAX",
    "RES",
    "RESOLUTION",
    "UNSCR",
    "ARTICLE",
    "LAW",
    "CHAPTER",
    "ITEM",
    "TABLE",
    "ANNEX",
    "ROOM",
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
    "SEPT",
    "NOTAL",
    "AND",
    "OF",
    "FOR",
    "IIR",
    "DTG",
    "DATED",
    "CIRCULAR",
];

const NOT_SIGNERS: &[&str] = &[
    "END",
    "END TEXT",
    "END COMMENT",
    "END SUMMARY",
    "END NOTE",
    "UNCLASSIFIED",
    "UNCLAS",
    "CONFIDENTIAL",
    "SECRET",
    "NNNN",
    "BT",
    "SIPDIS",
    "NOFORN",
    "COMMENT",
    "SUMMARY",
    "LIMITED OFFICIAL USE",
    "SENSITIVE",
    "CORRECTED COPY",
];

/// A line that starts with a classification word, e.g. `UNCLAS SECTION 01 OF 03 MEXICO 003108`.
fn is_classification_line(line: &str) -> bool {
    let t = line.trim_start();
    [
        "UNCLAS",
        "CONFIDENTIAL",
        "SECRET",
        "LIMITED OFFICIAL",
        "C O N F",
        "S E C R",
        "PAGE ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
        || t.contains(" SECTION ")
}

fn is_banner(line: &str) -> bool {
    BANNER.is_match(line)
}

/// SUBJECT of a body text (see [`read`]).
pub fn subject(body: &str) -> Option<String> {
    read(body, None).subject
}

/// TAGS of a body text, in order.
pub fn tags(body: &str) -> Vec<String> {
    read(body, None).tags
}

/// The canonical ids of the cables the REF lines of a body text name.
pub fn body_reference_ids(body: &str, year: Option<i32>) -> Vec<String> {
    let f = read(body, year);
    f.references
        .into_iter()
        .filter(|r| !f.references_text.contains(r))
        .collect()
}

/// Reads the body fields. `year` is the cable's own year, used for references without one.
pub(super) fn read(body: &str, year: Option<i32>) -> BodyFields {
    let lines: Vec<&str> = body.lines().take(HEADER_LINES).collect();
    let mut f = BodyFields::default();
    let mut i = 0;
    // The first paragraph ("1. ..." or a SUMMARY heading) ends the caveat zone.
    let mut in_caveat_zone = true;
    while i < lines.len() {
        let line = lines[i];
        if in_caveat_zone {
            let t = line.trim();
            if t.starts_with("1.") || t.starts_with("Summary") || t.starts_with("SUMMARY") {
                in_caveat_zone = false;
            } else if !TAGS_RE.is_match(line) && !SUBJECT_RE.is_match(line) {
                for tok in t.split(|c: char| !c.is_ascii_alphanumeric()) {
                    if CAVEATS.contains(&tok) && !f.caveats.iter().any(|c| c == tok) {
                        f.caveats.push(tok.to_string());
                    }
                }
            }
        }
        if f.subject.is_none()
            && let Some(c) = SUBJECT_RE.captures(line)
        {
            let mut s = c[1].to_string();
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j];
                if l.trim().is_empty() || FIELD_START.is_match(l) || is_banner(l) {
                    break;
                }
                s.push(' ');
                s.push_str(l);
                j += 1;
            }
            let s = collapse_ws(&s);
            if !s.is_empty() {
                f.subject = Some(s);
            }
            i = j;
            continue;
        }
        if !f.has_tags_line
            && let Some(c) = TAGS_RE.captures(line)
        {
            f.has_tags_line = true;
            let mut s = c[1].trim().to_string();
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j];
                let cont = !l.trim().is_empty()
                    && !FIELD_START.is_match(l)
                    && !is_banner(l)
                    && !is_classification_line(l)
                    && (s.ends_with(',') || TAG_ONLY_LINE.is_match(l))
                    && !l.split_whitespace().any(|w| CAVEATS.contains(&w));
                if !cont {
                    break;
                }
                s.push(' ');
                s.push_str(l.trim());
                j += 1;
            }
            f.tags = split_tags(&s);
            i = j;
            continue;
        }
        if let Some(c) = REF_RE.captures(line) {
            let mut s = c[1].to_string();
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j];
                if l.trim().is_empty() || FIELD_START.is_match(l) || is_banner(l) {
                    break;
                }
                s.push(' ');
                s.push_str(l);
                j += 1;
            }
            for (r, is_id) in reference_items(&collapse_ws(&s), year) {
                if !f.references.contains(&r) {
                    if !is_id {
                        f.references_text.push(r.clone());
                    }
                    f.references.push(r);
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    f.signers = signers(body);
    let head = {
        let mut cut = body.len().min(20_000);
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        &body[..cut]
    };
    f.classified_by_text = classified_by_statement(head);
    if let Some(st) = &f.classified_by_text {
        f.classified_by = statement_names(st);
        f.reasons = reasons_of_statement(st);
    }
    (f.declassify, f.declassify_original) = declassify(head);
    f.paragraphs = paragraphs(body);
    f.summary = summary(head);
    f
}

/// Splits a TAGS value: on commas (or semicolons) when there are any, else on whitespace.
pub fn split_tags(s: &str) -> Vec<String> {
    let s = s.trim();
    let parts: Vec<&str> = if s.contains(',') || s.contains(';') {
        s.split([',', ';']).collect()
    } else {
        s.split_whitespace().collect()
    };
    parts
        .into_iter()
        .map(|p| collapse_ws(p.trim_matches(|c: char| c.is_whitespace() || c == '.')))
        .filter(|p| !p.is_empty())
        .collect()
}

/// Reads references from a REF block's text. Each bullet (`A.`, `(B)`, `C)`, `;`) that names
/// cables (`[YY ]STATION SERIAL`, e.g. `STATE 12345`, `08 MADRID 25`, `BUENOS AIRES 000123`) gives
/// their canonical ids; a bullet naming none is kept as text.
pub fn references(text: &str, year: Option<i32>) -> Vec<String> {
    reference_items(text, year)
        .into_iter()
        .map(|(r, _)| r)
        .collect()
}

/// The canonical ids of the cables a REF block names (cablemap's `references` of kind cable).
pub fn reference_ids(text: &str, year: Option<i32>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (r, is_id) in reference_items(text, year) {
        if is_id && !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// The references of a REF block, each with `true` when it is a cable id.
fn reference_items(text: &str, year: Option<i32>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut items: Vec<&str> = Vec::new();
    let mut prev = 0;
    for m in REF_BULLET.find_iter(text) {
        items.push(&text[prev..m.start()]);
        prev = m.end();
    }
    items.push(&text[prev..]);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let ids = cable_ids(&item.to_uppercase(), year);
        if ids.is_empty() {
            let t = item.trim_matches(|c: char| c == ';' || c == ',' || c.is_whitespace());
            let bare = t.trim_start_matches(['(', ')']).trim();
            if !t.is_empty()
                && !matches!(
                    bare.to_ascii_uppercase().as_str(),
                    "NOTAL" | "NOTAL)" | "AND" | "NONE" | "A" | "B"
                )
            {
                out.push((t.to_string(), false));
            }
        } else {
            out.extend(ids.into_iter().map(|i| (i, true)));
        }
    }
    out
}

fn cable_ids(item: &str, year: Option<i32>) -> Vec<String> {
    let mut ids = Vec::new();
    for c in CABLE_REF.captures_iter(item) {
        let whole = c.get(0).expect("match");
        let after = &item[whole.end()..];
        if after.starts_with(['/', '-'])
            || (after.starts_with([':', '.', ','])
                && after[1..].starts_with(|ch: char| ch.is_ascii_digit()))
        {
            continue;
        }
        // Drop leading words that are not part of a station ("SEE STATE 123", "AND ROME 4").
        let mut words: Vec<&str> = c[2].split(' ').collect();
        while words.len() > 1
            && matches!(
                words[0],
                "AND" | "OF" | "FOR" | "SEE" | "ALSO" | "IN" | "TO" | "THE"
            )
            && !(words[0] == "THE" && words[1] == "HAGUE")
        {
            words.remove(0);
        }
        let first = words[0].split('-').next().unwrap_or("");
        if NOT_STATIONS.contains(&first) {
            continue;
        }
        let station_joined: String = words.concat();
        let letters = station_joined.chars().filter(|ch| *ch != '-').count();
        let aliased = id::canonical_station(&station_joined.replace('-', ""));
        if (letters < 4 && aliased == station_joined) || letters > 20 {
            continue;
        }
        let y = match c.get(1) {
            Some(y) => {
                let v: i32 = y.as_str().parse().unwrap_or(0);
                if y.as_str().len() == 4 {
                    Some(v)
                } else if v >= 66 {
                    Some(1900 + v)
                } else {
                    Some(2000 + v)
                }
            }
            None => year,
        };
        let Some(y) = y else { continue };
        if let Some(id) = id::from_parts(y, &station_joined, &c[3])
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

static TRAILING_SIGNER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:[.!?"')\]*]|\s{2}|\bcfm)\s+([A-Z][A-Z'\-]{2,}(?: [A-Z][A-Z'\-]{2,})?)\s*$"#)
        .expect("valid regex")
});
static SKIP_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:NNNN|BT|#.*|[^A-Za-z0-9]+|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}[A-Z]+\d+ - Classification:.*)$")
        .expect("valid regex")
});

/// Drops redaction marks from a signature and collapses a doubled name.
fn clean_name(s: &str) -> String {
    let mut words: Vec<&str> = s
        .split_whitespace()
        .filter(|w| !(w.len() >= 5 && w.chars().all(|ch| ch == 'X')))
        .collect();
    words.dedup();
    words.join(" ")
}

/// The signature: the last line of the body that is one to three capitalised words (e.g.
/// `LUNSTEAD`, `RICE`, `McCaw`), skipping trailing blank lines, classification banners and end
/// markers; or, in flattened texts, an all-capitals name ending the last line after a sentence
/// end or a wide gap (`... in Parliament.   BLAKEMAN`).
pub fn signers(body: &str) -> Vec<String> {
    for line in body.lines().rev().take(12) {
        let t = line.trim();
        if t.is_empty() || SKIP_TAIL.is_match(t) || is_banner(t) {
            continue;
        }
        let t = t.trim_end_matches(['.', ',']);
        let upper_letters = t.chars().filter(|c| c.is_ascii_uppercase()).count();
        let letters = t.chars().filter(|c| c.is_alphabetic()).count();
        let words = t.split_whitespace().count();
        let up = t.to_ascii_uppercase();
        let sentence_word = t
            .split_whitespace()
            .any(|w| w.len() > 2 && w.ends_with('.'));
        if SIGNER_RE.is_match(t)
            && !sentence_word
            && (upper_letters * 2 > letters || words == 1)
            && letters >= 3
            && !NOT_SIGNERS.contains(&up.as_str())
            && !up.starts_with("END ")
        {
            let name = clean_name(t);
            if !name.is_empty() {
                return vec![name];
            }
        }
        if let Some(c) = TRAILING_SIGNER.captures(line.trim_end()) {
            let name = clean_name(&c[1]);
            if !name.is_empty() && !NOT_SIGNERS.contains(&name.as_str()) && !name.starts_with("END")
            {
                return vec![name];
            }
        }
        return Vec::new();
    }
    Vec::new()
}

// --- Classification statement, declassification, paragraphs, summary -----------------------

static CLASSIFIED_BY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bclass?i?fi?ed\s*by\b\s*[:.;]?").expect("valid regex"));
/// Where the "who" part of a classification statement ends: the reasons, the executive order.
static WHO_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \bE\.?\s?O\.?\s*\d{5} | \bEO\b | \bre\s?a?\s?s0?o?n | \brasons? | \bse\s?ction\b
      | \b1\s?\.\s?[45]\b | \breas0n | \bderived\b | \bper\s+1\.",
    )
    .expect("valid regex")
});
/// A trailing connector left before the reasons: `for`, `under`, a broken `f or`.
static WHO_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:[\s,;:.]|\b(?:for|fo|f|or|under|based\s+on|per|and|in|accordance|with|\(u\)))+$",
    )
    .expect("valid regex")
});
static SECTION_14: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"1\s?\.\s?([45])").expect("valid regex"));
static REASON_LETTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^A-Za-z])([a-h])(?:$|[^A-Za-z])").expect("valid regex")
});
static DECL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bE\.?\s?O\.?\s*12958\b\s*[:.,]?\s*(?:DECL(?:ASSIFY)?\b\s*[:.]?\s*)?([^\n]*)")
        .expect("valid regex")
});
static DATE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(\d{1,4})\s?[/.\-]\s?(\d{1,2})\s?[/.\-]\s?(\d{2,4})\b").expect("valid regex")
});
static PARAGRAPH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^[ \t]*¶?[ \t]*(\d{1,3})[ \t]*[.)]([ \t]*\(([A-Z]{1,4}(?:/{1,2}[A-Z]{1,6}){0,3})\))?",
    )
    .expect("valid regex")
});
static SUMMARY_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bEND\s+(?:OF\s+)?SUMMARY\b").expect("valid regex"));
static SUMMARY_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:BEGIN\s+)?SUMMARY\b(?:\s*(?:AND|/|&)\s*(?:COMMENTS?|ACTION\s+REQUESTS?|INTRODUCTION|TABLE\s+OF\s+CONTENTS|RECOMMENDATIONS?))?(?:\s*[:.=\-‐]+)*",
    )
    .expect("valid regex")
});
static SUMMARY_LINE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*¶?\s*(?:\d{1,3}\s?[.)]\s*)?(?:\([A-Z]{1,4}(?:/{1,2}[A-Z]{1,6}){0,3}\)\s*)?")
        .expect("valid regex")
});
static RULE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\s\-=_‐*]*$").expect("valid regex"));

/// Titles and ranks that may stand before a one-word name (`Ambassador Pearce`).
const TITLES: &[&str] = &[
    "AMBASSADOR",
    "AMB",
    "ABASSADOR",
    "AMBASSADRO",
    "CDA",
    "DCM",
    "CHARGE",
    "AFFAIRES",
    "AFFAIRS",
    "POLOFF",
    "ECONOFF",
    "POLCOUNS",
    "ECONCOUNS",
    "COUNSELOR",
    "COUNSELLOR",
    "DIRECTOR",
    "CONSUL",
    "GENERAL",
    "SECRETARY",
    "OFFICER",
    "CHIEF",
    "MINISTER",
    "ATTACHE",
    "CG",
    "PO",
    "DAS",
    "PDAS",
    "COM",
    "DEPUTY",
    "ACTING",
    "POLITICAL",
    "ECONOMIC",
    "MISSION",
    "OF",
    "BY",
    "THE",
    "AND",
    "PRINCIPAL",
    "OFFICER",
    "CONOFF",
    "MGMT",
    "LEGATT",
    "DATT",
    "USDEL",
    "HEAD",
];

fn is_title(tok: &str) -> bool {
    let t: String = tok
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_uppercase()
        .replace('0', "O");
    TITLES.contains(&t.as_str()) || tok.contains('/') || tok.starts_with('(')
}

fn is_initial(tok: &str) -> bool {
    let letters = tok.chars().filter(|c| c.is_alphanumeric()).count();
    tok.ends_with('.') && letters <= 2 || (tok.contains('.') && letters <= 3 && tok.len() <= 5)
}

fn is_suffix(tok: &str) -> bool {
    matches!(
        tok.trim_end_matches(['.', ','])
            .to_ascii_uppercase()
            .as_str(),
        "JR" | "SR" | "II" | "III" | "IV"
    )
}

/// The classification statement: what follows `Classified By:` up to the end of its paragraph,
/// white space collapsed. `None` when the text has none.
pub fn classified_by_statement(text: &str) -> Option<String> {
    let m = CLASSIFIED_BY.find(text)?;
    let mut rest = &text[m.end()..];
    // "Classified By: Classified by AIT DIR …": the repeated opening.
    while let Some(m2) = CLASSIFIED_BY.find(rest) {
        let before = rest[..m2.start()].trim();
        if before.is_empty() || before.eq_ignore_ascii_case("(U)") {
            rest = &rest[m2.end()..];
        } else {
            break;
        }
    }
    let end = rest
        .find("\n\n")
        .into_iter()
        .chain(rest.find("\n \n"))
        .chain(rest.find("\n\t\n"))
        .min()
        .unwrap_or(rest.len());
    let mut cut = end.min(600);
    while !rest.is_char_boundary(cut) {
        cut -= 1;
    }
    let s = collapse_ws(&rest[..cut]);
    (!s.is_empty()).then_some(s)
}

/// The names of who classified the cable (cablemap's `classified_by`): the person named in the
/// classification statement, without titles (`Acting Deputy Chief of Mission Marc Wall` → `Marc
/// Wall`), with a suffix such as `Jr.` or `III` kept.
pub fn classified_by(text: &str) -> Vec<String> {
    match classified_by_statement(text) {
        Some(s) => statement_names(&s),
        None => Vec::new(),
    }
}

fn statement_names(statement: &str) -> Vec<String> {
    let s = statement.trim_start_matches(|c: char| c.is_whitespace() || c == ':');
    let s = s
        .strip_prefix("(U)")
        .or_else(|| s.strip_prefix("(u)"))
        .unwrap_or(s);
    let who = match WHO_END.find(s) {
        Some(m) => &s[..m.start()],
        None => s,
    };
    let who = WHO_TAIL.replace(who, "");
    // Cut at the first ";" and at the first comma not followed by a suffix.
    let who = who.split(';').next().unwrap_or("");
    let mut parts = who.split(',');
    let mut name = parts.next().unwrap_or("").trim().to_string();
    let mut suffix = None;
    if let Some(next) = parts.next() {
        let n = next.trim();
        if is_suffix(n) {
            let n = if n.to_ascii_uppercase().starts_with('J')
                || n.to_ascii_uppercase().starts_with('S')
            {
                n.to_string()
            } else {
                n.trim_end_matches('.').to_string()
            };
            suffix = Some(format!(", {n}"));
        }
    }
    name = name.trim_end_matches([' ', '.']).to_string();
    if name.ends_with(|c: char| c.is_ascii_uppercase()) && statement.contains(&format!("{name}.")) {
        // A middle initial at the end would be odd; keep the text as it is.
    }
    let toks: Vec<&str> = name.split_whitespace().collect();
    let mut end = toks.len();
    let mut trailing_suffix = String::new();
    while end > 1 && is_suffix(toks[end - 1]) {
        trailing_suffix = format!(" {}{trailing_suffix}", toks[end - 1]);
        end -= 1;
    }
    if end == 0 {
        return Vec::new();
    }
    let mut start = end - 1;
    let mut have_first = false;
    while start > 0 {
        let tok = toks[start - 1];
        if is_title(tok) {
            break;
        }
        if is_initial(tok) {
            start -= 1;
            continue;
        }
        if have_first {
            break;
        }
        have_first = true;
        start -= 1;
    }
    let mut out = toks[start..end].join(" ");
    out.push_str(&trailing_suffix);
    if let Some(sfx) = suffix {
        out.push_str(&sfx);
    }
    let out = out.trim().to_string();
    if out.is_empty() || is_title(&out) {
        Vec::new()
    } else {
        vec![out]
    }
}

/// The classification reasons of the statement, e.g. `["1.4 (b)", "1.4 (d)"]`.
pub fn reasons(text: &str) -> Vec<String> {
    let Some(s) = classified_by_statement(text) else {
        return Vec::new();
    };
    reasons_of_statement(&s)
}

fn reasons_of_statement(s: &str) -> Vec<String> {
    let Some(c) = SECTION_14.captures(s) else {
        return Vec::new();
    };
    let section = &c[1];
    let whole = c.get(0).expect("match");
    let mut rest = &s[whole.end()..];
    // The letters come right after the section number, within a few words.
    let stop = rest
        .find(['.', ';'])
        .filter(|&i| {
            let after = &rest[i + 1..];
            after.trim_start().is_empty()
                || after.starts_with(' ')
                    && !after.trim_start().starts_with([
                        '(', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'A', 'B', 'C', 'D', 'E', 'F',
                        'G', 'H',
                    ])
        })
        .unwrap_or(rest.len())
        .min(60);
    let mut stop = stop.min(rest.len());
    while !rest.is_char_boundary(stop) {
        stop -= 1;
    }
    rest = &rest[..stop];
    let mut out: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(m) = REASON_LETTER.captures_at(rest, at) {
        let g = m.get(1).expect("group");
        let r = format!("1.{section} ({})", g.as_str().to_ascii_lowercase());
        if !out.contains(&r) {
            out.push(r);
        }
        at = g.end();
    }
    out
}

/// The E.O. 12958 declassification field: `(normalized, original)`. `normalized` is
/// `YYYY-MM-DD` when the value holds a valid date (`01/05/2020`, `2020/02/23`, `6/30/08`);
/// `original` is the value as written (`01/05/2020`, `N/A`, `DECLASSIFIED BY NARA 09/02/2009`).
pub fn declassify(text: &str) -> (Option<String>, Option<String>) {
    let Some(c) = DECL.captures(text) else {
        return (None, None);
    };
    let raw = c[1].trim();
    // The field ends where the next field starts on a flattened line.
    let raw = ["TAGS", "Tags", "tags", "SUBJECT", "Subject"]
        .iter()
        .filter_map(|k| raw.find(k))
        .min()
        .map_or(raw, |i| raw[..i].trim());
    if raw.is_empty() {
        return (None, None);
    }
    (normalize_date(raw), Some(raw.to_string()))
}

/// Cablemap's `nondisclosure_deadline`: the normalized DECL date.
pub fn nondisclosure_deadline(text: &str) -> Option<String> {
    declassify(text).0
}

fn normalize_date(s: &str) -> Option<String> {
    let c = DATE_TOKEN.captures(s)?;
    let a: u32 = c[1].parse().ok()?;
    let b: u32 = c[2].parse().ok()?;
    let d: u32 = c[3].parse().ok()?;
    let (y, m, day) = if c[1].len() == 4 {
        (a, b, d)
    } else {
        let y = match c[3].len() {
            2 if d >= 66 => 1900 + d,
            2 => 2000 + d,
            4 => d,
            _ => return None,
        };
        (y, a, b)
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (day >= 1 && day <= days && (1900..=2200).contains(&y))
        .then(|| format!("{y:04}-{m:02}-{day:02}"))
}

/// One numbered paragraph of the body: `1. (S/NF) …` → number 1, marking `S/NF`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Paragraph {
    /// The paragraph number.
    pub number: u32,
    /// The classification marking, e.g. `C`, `S/NF`, `SBU`, when the paragraph has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marking: Option<String>,
}

/// The numbered paragraphs, in order. A number is taken only when it is larger than the one
/// before (so numbered lists inside a paragraph are not paragraphs).
pub fn paragraphs(body: &str) -> Vec<Paragraph> {
    let mut out: Vec<Paragraph> = Vec::new();
    for c in PARAGRAPH.captures_iter(body) {
        let whole = c.get(0).expect("match");
        let after = &body[whole.end()..];
        let marking = c.get(3).map(|m| m.as_str().to_string());
        if marking.is_none() && !(after.is_empty() || after.starts_with([' ', '\t', '\n', '('])) {
            continue;
        }
        let Ok(number) = c[1].parse::<u32>() else {
            continue;
        };
        if number == 0 || out.last().is_some_and(|p| number <= p.number) {
            continue;
        }
        if marking.is_none() && out.is_empty() && number != 1 {
            continue;
        }
        out.push(Paragraph { number, marking });
    }
    out
}

/// The summary: the text between a SUMMARY heading (or, without one, the first paragraph) and
/// END SUMMARY; without an END SUMMARY, the rest of the paragraph a `Summary:` heading opens.
/// Paragraph numbers, markings and rule lines are dropped, blank lines removed and spaces
/// collapsed within lines.
pub fn summary(body: &str) -> Option<String> {
    let end = SUMMARY_END.find(body);
    let limit = end.map_or(body.len(), |e| e.start());
    let start = SUMMARY_START.find_iter(&body[..limit]).find(|m| {
        let before = body[..m.start()].trim_end();
        !before.to_ascii_uppercase().ends_with("END")
    });
    let (from, to) = match (start, end) {
        (Some(s), Some(e)) => (s.end(), e.start()),
        (None, Some(e)) => {
            // No heading: from the first paragraph after the classification statement.
            let from = CLASSIFIED_BY
                .find(&body[..e.start()])
                .and_then(|m| body[m.end()..e.start()].find("\n\n").map(|i| m.end() + i))
                .unwrap_or(0);
            (from, e.start())
        }
        (Some(s), None) => {
            if !body[s.start()..s.end()].contains([':', '.']) {
                return None;
            }
            let rest = &body[s.end()..];
            let stop = [rest.find("\n\n"), rest.find("\n \n"), rest.find("-----")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            (s.end(), s.end() + stop)
        }
        (None, None) => return None,
    };
    let mut lines = Vec::new();
    for line in body[from..to].lines() {
        if RULE_LINE.is_match(line) {
            continue;
        }
        let line = SUMMARY_LINE_PREFIX.replace(line, "");
        let line = collapse_ws(&line);
        if !line.is_empty() {
            lines.push(line);
        }
    }
    let s = lines.join("\n");
    let s = s.trim_end_matches(['-', '=', ' ']).trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        assert_eq!(
            references(
                "A. TBILISI 1605 B. 06 TBILISI 2601 C. 06 STATE 80908",
                Some(2007)
            ),
            vec!["07TBILISI1605", "06TBILISI2601", "06STATE80908"]
        );
        assert_eq!(
            references("A) TALLINN 366 B) LEE-GOLDSTEIN EMAIL 05/11/07", Some(2007)),
            vec!["07TALLINN366", "LEE-GOLDSTEIN EMAIL 05/11/07"]
        );
        assert_eq!(references("LA PAZ 2974", Some(2007)), vec!["07LAPAZ2974"]);
        assert_eq!(
            references("2002 THE HAGUE 03525", Some(2003)),
            vec!["02THEHAGUE3525"]
        );
        assert_eq!(references("SEE STATE 5", Some(2003)), vec!["03STATE5"]);
        assert_eq!(references("MADRID 000025", Some(2010)), vec!["10MADRID25"]);
        assert_eq!(
            references(
                "STATE 106206 CIRCULAR; STATE CA-3400 NOV 2, 1966",
                Some(1966)
            ),
            vec!["66STATE106206", "STATE CA-3400 NOV 2, 1966"]
        );
        assert_eq!(
            references("ALGIERS 15 (NOTAL)", Some(2010)),
            vec!["10ALGIERS15"]
        );
    }

    #[test]
    fn tags() {
        assert_eq!(
            split_tags("PGOV, KZ, 2005 Election"),
            vec!["PGOV", "KZ", "2005 Election"]
        );
        assert_eq!(split_tags("EFIS PBTS AR "), vec!["EFIS", "PBTS", "AR"]);
    }

    #[test]
    fn body() {
        let body = "S E C R E T ALGIERS 000020 \n\nSIPDIS \nNOFORN \n\nEO 12958 DECL: 01/05/2020 \nTAGS PGOV, PREL, \nAG, US \nSUBJECT: ALGERIA STRONGLY PROTESTS \n TSA LISTING \n\nREF: ALGIERS 15 (NOTAL)\n\nClassified By: X\n\n1. (S/NF) text\n\nPEARCE\n";
        let f = read(body, Some(2010));
        assert_eq!(
            f.subject.as_deref(),
            Some("ALGERIA STRONGLY PROTESTS TSA LISTING")
        );
        assert_eq!(f.tags, vec!["PGOV", "PREL", "AG", "US"]);
        assert_eq!(f.references, vec!["10ALGIERS15"]);
        assert_eq!(f.caveats, vec!["SIPDIS", "NOFORN"]);
        assert_eq!(f.signers, vec!["PEARCE"]);
        assert_eq!(signers("in Parliament.   BLAKEMAN"), vec!["BLAKEMAN"]);
        assert_eq!(signers("x\nMCDONALD\n CONFIDENTIAL\n>"), vec!["MCDONALD"]);
        assert_eq!(signers("x\nBASSETT \n \n1/21/2009"), vec!["BASSETT"]);
        assert_eq!(
            signers("Website: http://x/index. cfm TUTTLE"),
            vec!["TUTTLE"]
        );
        assert_eq!(signers("in the CIS.\nMcCaw"), vec!["McCaw"]);
        assert!(signers("worth taking.").is_empty());
        assert!(signers("support and expertise. End Comment.").is_empty());
        assert!(signers("the UN").is_empty());
        assert_eq!(signers("Website. XXXXXXXXXXXX TUTTLE"), vec!["TUTTLE"]);
    }
}
