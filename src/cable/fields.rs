//! Fields read from a cable's body text, shared by the readers: SUBJECT, TAGS, REF, handling
//! caveats, the signature, the classification statement (`Classified By: … Reasons 1.4 (b)`),
//! the E.O. 12958 DECL date, numbered paragraphs and the summary.
//!
//! The `pub` functions read one field from a text fragment; the expectations test feeds them
//! cablemap's test fragments.

use super::id;
use super::tag_vocab;
use super::text::{self, collapse_ws};
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
    Regex::new(r"^\s*(?:(?:SUBJECT|SUBJ)(?-u:\b)(?:\s*[:.])*|(?i:subject|subj|ubject)\s*:)\s*(.*)$")
        .expect("valid regex")
});
static TAGS_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:TAGS?(?-u:\b)\s*[:.]?|(?:TAS|TABS|TGS|TAGES|AGS)\s*:)\s*(.*)$")
        .expect("valid regex")
});
static REF_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:(?:REFS?|REFTELS?|REFERENCES?|REFERENCE TELEGRAMS?)(?-u:\b)\s*[:.]?|(?i:refs?|ref\(s\)|reftels?)\s*:)\s*(.*)$")
        .expect("valid regex")
});
/// A field that starts inside a line of a flattened header (`SUBJECT: X REF: A. MOSCOW 816
/// Classified By: …`): the line is read as if the field started a new line.
static INLINE_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i:\s(?:SUBJECT\s*:|SUBJ\s*:|REFS?\s*:|REF\(S\)\s*:|REFTELS?\s*:|T?AGS\s*:|CLASSIFIED\s+BY(?-u:\b)|SENSITIVE\s+BUT\s+UNCLASSIFIED(?-u:\b)))|REFS?:|REF\(S\):|Classified\s+By(?-u:\b)|CLASSIFIED\s+BY(?-u:\b)|Sensitive\s+but(?-u:\b)")
        .expect("valid regex")
});
/// A page break marker inside a text: `PAGE 02 ROME 01196 01 OF 02 082030Z`,
/// `PRETORIA 00000954 001.2 OF 004`.
static PAGE_MARK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"PAGE\s+\d{2,3}\s+[A-Z][A-Z ]*?\s+\d{3,8}(?:\s+\d{2,3}\s+OF\s+\d{2,3})?\s+\d{6}Z|(?-u:\b)[A-Z]{3,}\s+\d{8}\s+\d{3}\.\d\s+OF\s+\d{3}(?-u:\b)|\s{5,}(?:UNCLASSIFIED|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE)(?-u:\b)")
        .expect("valid regex")
});
/// Lines that end a SUBJECT or REF block.
static FIELD_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(?:
            (?:SUBJECT|SUBJ|TAGS?|REFS?|REFTELS?|REFERENCES?)(?-u:\b)
          | CLASSIFIED\s+BY | CLASSIFIED\s*: | DERIVED\s+FROM
          | E\.?\s?O\.?\s+1\d{4} | EO\s+1\d{4}
          | \d{1,2}\s*[.)]\s | \d{1,2}\s*[.)]\s*\(\w{1,5}\) | \d{1,2}\.$ | \(\w{1,5}\)\s
          | SUMMARY(?-u:\b) | BEGIN\s+SUMMARY | INFO(?-u:\b) | ACTION(?-u:\b) | PAGE\s+\d
          | SIPDIS(?-u:\b) | SENSITIVE(?-u:\b) | NOFORN(?-u:\b)
        )",
    )
    .expect("valid regex")
});
/// A lone classification banner line (page breaks in older cables).
static BANNER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:UNCLAS(?:SIFIED)?|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE|C O N F I D E N T I A L|S E C R E T|U N C L A S S I F I E D)\s*$")
        .expect("valid regex")
});
/// A line that starts with a classification banner and goes on (`C O N F I D E N T I A L
/// MOSCOW 001704`).
static BANNER_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?:UNCLAS(?:SIFIED)?|CONFIDENTIAL|SECRET|C O N F I D E N T I A L|S E C R E T)(?-u:\b)",
    )
    .expect("valid regex")
});
static YEAR_AFTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\((\d{2})\)").expect("valid regex"));
/// A REF text that ends with a bullet's year and nothing after it: `… D. 03 `.
static DANGLING_YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)\(?[A-Z][.)]\s*\d{2}\s*$").expect("valid regex"));
/// A year typed with a letter O: `(B)O4 CHENNAI 0944`.
static LETTER_O_YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[\s()])O(\d)(\s+[A-Z])").expect("valid regex"));
/// A station joined to its serial by a colon or hyphen: `STATE: 73097`, `10-OTTAWA-57`.
static JOINED_SERIAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)([A-Z]{4,})(?::\s*|-)(\d)").expect("valid regex"));
static MORE_SERIALS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:AND|&)\s*(\d{2,7})(?-u:\b)").expect("valid regex"));
static CABLE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?:\(?(\d{4}|\d{2})\)?[\s-]*)?([A-Z][A-Z]+(?:[ -][A-Z]+){0,2})\s*(\d{1,7})(?-u:\b)")
        .expect("valid regex")
});
static REF_BULLET_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*¶?\s*\(?[A-Z][.)]").expect("valid regex"));
/// A line that goes on with a serial number: `00723  (C) Brasilia 01392`.
static REF_SERIAL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\d{2,7}\s").expect("valid regex"));
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
    "IIR",
    "WE",
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

/// SUBJECT of a body text, joined across lines (HTML character references decoded).
pub fn subject(body: &str) -> Option<String> {
    read(&super::text::unescape(body), None).subject
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
    let mut split_lines: Vec<String> = Vec::new();
    let mut in_header = true;
    for line in body.lines().take(HEADER_LINES) {
        let t = line.trim_start().trim_start_matches('¶');
        if t.starts_with("1.") || t.starts_with("1 .") {
            in_header = false;
        }
        if !in_header {
            split_lines.push(line.to_string());
            continue;
        }
        // Cheap checks first: most lines hold neither a page mark nor an inline field.
        let line = if line.contains("PAGE ") || line.contains(" OF ") || line.contains("     ") {
            PAGE_MARK.replace_all(line, "")
        } else {
            std::borrow::Cow::Borrowed(line)
        };
        let mut rest: &str = &line;
        let may_inline = rest.contains(':')
            || rest.contains("lassified")
            || rest.contains("LASSIFIED")
            || rest.contains("ensitive")
            || rest.contains("ENSITIVE");
        while let Some(m) = INLINE_FIELD.find(rest).filter(|_| may_inline) {
            if m.start() == 0 || rest[..m.start()].trim().is_empty() {
                // At the start of the line: look for the next one after it.
                match INLINE_FIELD.find_at(rest, m.end()) {
                    Some(m2) => {
                        split_lines.push(rest[..m2.start()].to_string());
                        rest = &rest[m2.start()..];
                    }
                    None => break,
                }
            } else {
                split_lines.push(rest[..m.start()].to_string());
                rest = &rest[m.start()..];
            }
        }
        split_lines.push(rest.to_string());
    }
    let lines: Vec<&str> = split_lines.iter().map(String::as_str).collect();
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
            let mut s = c[1].trim_end().trim_end_matches('\\').to_string();
            let mut j = i + 1;
            if s.trim().is_empty() {
                // "SUBJECT:" alone, the subject on a later line.
                while j < lines.len() && j < i + 3 && lines[j].trim().is_empty() {
                    j += 1;
                }
                if let Some(l) = lines.get(j)
                    && !FIELD_START.is_match(l)
                {
                    s = l.to_string();
                    j += 1;
                }
            }
            while j < lines.len() {
                let l = lines[j];
                if l.trim().is_empty()
                    || l.trim() == "\\"
                    || FIELD_START.is_match(l)
                    || is_banner(l)
                    || BANNER_START.is_match(l)
                    || RULE_LINE.is_match(l)
                {
                    break;
                }
                // A sentence after an all-capital subject: "This is an action request."
                if !s.chars().any(|c| c.is_lowercase())
                    && s.chars().filter(|c| c.is_alphabetic()).count() > 10
                    && l.chars().filter(|c| c.is_lowercase()).count() > 5
                {
                    break;
                }
                s.push(' ');
                s.push_str(l.trim_end().trim_end_matches('\\'));
                j += 1;
            }
            let s = s.trim_end_matches(|c: char| c == '-' || c.is_whitespace());
            let s = collapse_ws(s);
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
            let mut tag_lines = vec![s.clone()];
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
                tag_lines.push(l.trim().to_string());
                j += 1;
            }
            f.tags = split_tag_lines(&tag_lines);
            i = j;
            continue;
        }
        if let Some(c) = REF_RE.captures(line) {
            let mut s = c[1].to_string();
            let mut j = i + 1;
            while j < lines.len() {
                let l = lines[j];
                let bullet = |n: &str| {
                    (REF_BULLET_LINE.is_match(n) && n.bytes().any(|b| b.is_ascii_digit()))
                        || REF_SERIAL_LINE.is_match(n)
                };
                // A blank line inside the block: go on when a bullet follows, or when the text
                // so far ends with a year whose station and serial come after the blank
                // (`D. 03` / `` / `HANOI 2323`).
                if l.trim().is_empty()
                    && lines.get(j + 1).is_some_and(|n| {
                        bullet(n) || (DANGLING_YEAR.is_match(&s) && !n.trim().is_empty())
                    })
                {
                    j += 1;
                    continue;
                }
                if l.trim().is_empty() || (FIELD_START.is_match(l) && !bullet(l)) || is_banner(l) {
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

/// Splits the lines of a TAGS field: a line is split on commas (or semicolons) when it has any
/// or when the line before ended with one, else on whitespace. A parenthesised group is one tag
/// (`OVIP (STEINBERG, JAMES B.)` → `OVIP`, `STEINBERG, JAMES B.`). Repeated tags are dropped.
pub fn split_tag_lines(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut prev_comma = false;
    for line in lines {
        let l = line.trim();
        let comma_mode = l.contains([',', ';']) || prev_comma;
        prev_comma = l.ends_with([',', ';']);
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut depth = 0usize;
        for ch in l.chars() {
            match ch {
                '(' => {
                    if depth == 0 && !cur.trim().is_empty() {
                        parts.push(std::mem::take(&mut cur));
                    }
                    depth += 1;
                    cur.push(ch);
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    cur.push(ch);
                }
                ',' | ';' if depth == 0 => parts.push(std::mem::take(&mut cur)),
                c if c.is_whitespace() && depth == 0 && !comma_mode => {
                    parts.push(std::mem::take(&mut cur))
                }
                c => cur.push(c),
            }
        }
        parts.push(cur);
        // In a comma list, a part that is a run of tag codes (`PTER MARR`) is several tags.
        let parts: Vec<String> = parts
            .into_iter()
            .flat_map(|p| {
                let toks: Vec<&str> = p.split_whitespace().collect();
                let codes = toks
                    .iter()
                    .filter(|t| t.len() <= 4 && t.chars().all(|c| c.is_ascii_uppercase()))
                    .count();
                let all_caps = toks.iter().all(|t| {
                    t.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                });
                if comma_mode
                    && all_caps
                    && toks.len() >= 2
                    && (codes == toks.len() || (toks.len() >= 3 && codes * 2 >= toks.len()))
                {
                    toks.into_iter().map(str::to_string).collect::<Vec<_>>()
                } else {
                    vec![p]
                }
            })
            .collect();
        // Whitespace-separated lines are read as one run, so that a tag broken over two lines
        // (`COUNTRY` / `CLEARANCE`) stays one tag.
        if !comma_mode {
            pending.extend(parts);
            continue;
        }
        push_tags(&mut out, whitespace_tags(std::mem::take(&mut pending)));
        push_tags(&mut out, parts);
    }
    push_tags(&mut out, whitespace_tags(pending));
    out
}

/// Adds tags to `out`: classification banners and caveats dropped, a parenthesised tag
/// unwrapped, whitespace collapsed, repeats dropped.
fn push_tags(out: &mut Vec<String>, parts: Vec<String>) {
    {
        for p in parts {
            let p = p.trim_matches(|c: char| c.is_whitespace() || c == '.');
            let p = ["UNCLASSIFIED ", "CONFIDENTIAL ", "SECRET "]
                .iter()
                .fold(p, |p, b| p.strip_prefix(b).unwrap_or(p));
            if CAVEATS.contains(&p) {
                continue;
            }
            let p = match p.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
                Some(inner) => inner.trim(),
                None => p,
            };
            let p = collapse_ws(p);
            if !p.is_empty() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
}

/// Reads a run of whitespace-separated tags: known multi-word tags first (`GOI EXTERNAL`,
/// `GAZA DISENGAGEMENT`, see [`tag_vocab`]), then a visitor's name after `OVIP` (`OVIP CLINTON
/// HILLARY` → `CLINTON, HILLARY`, the form tags give names in), then runs of plain words
/// ([`join_word_runs`]).
fn whitespace_tags(parts: Vec<String>) -> Vec<String> {
    let toks: Vec<String> = parts
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if let Some(n) = tag_vocab::phrase_len(&toks[i..]) {
            out.extend(join_word_runs(std::mem::take(&mut run)));
            out.push(toks[i..i + n].join(" "));
            i += n;
        } else if toks[i] == "OVIP"
            && let Some(name) = visitor_name(&toks[i + 1..])
        {
            run.push(toks[i].clone());
            out.extend(join_word_runs(std::mem::take(&mut run)));
            out.push(name);
            i += 3;
        } else {
            run.push(toks[i].clone());
            i += 1;
        }
    }
    out.extend(join_word_runs(run));
    out
}

/// The visitor an `OVIP` tag is followed by, as `SURNAME, GIVEN NAME`: a surname of three
/// letters or more and a given name of five or more, neither a known tag code (codes have two
/// or four letters, so a five-letter given name is never a code).
fn visitor_name(toks: &[String]) -> Option<String> {
    let [surname, given, ..] = toks else {
        return None;
    };
    let plain = |t: &str, min: usize| {
        t.len() >= min
            && t.bytes().all(|b| b.is_ascii_uppercase())
            && !TAG_CODES.contains(&t)
            && !tag_vocab::is_known_tag(t)
    };
    (plain(surname, 3) && plain(given, 5)).then(|| format!("{surname}, {given}"))
}

/// Common TAGS subject codes (the State Department's Traffic Analysis by Geography and Subject),
/// used only to take apart codes glued together by a lost separator (`PHUMBA`, `ETRDEINVECIN`).
const TAG_CODES: &[&str] = &[
    "AADP", "ABLD", "ABUD", "ADPM", "AEMR", "AFIN", "AGAO", "AINF", "AINR", "AINT", "AMED", "AMGT",
    "AODE", "APCS", "APER", "ASCH", "ASEC", "ASIG", "AVERY", "BEXP", "BTIO", "CASC", "CDB", "CJAN",
    "CMGT", "CPAS", "CVIS", "EAGR", "EAID", "EAIR", "ECIN", "ECON", "ECPS", "EFIN", "EFIS", "EIND",
    "EINT", "EINV", "ELAB", "ELTN", "EMIN", "ENRG", "ENVR", "EPET", "ETRD", "ETTC", "EUN", "EWWT",
    "IIP", "KAWC", "KBIO", "KCOR", "KCRM", "KDEM", "KFLO", "KFLU", "KFRD", "KGHG", "KHIV", "KIRF",
    "KISL", "KJUS", "KMDR", "KNNP", "KOCI", "KPAL", "KPAO", "KPKO", "KSCA", "KSEP", "KSTH", "KTIA",
    "KTIP", "KWBG", "KWMN", "MARR", "MASS", "MCAP", "MNUC", "MOPS", "OEXC", "OIIP", "OPDC", "OPRC",
    "OREP", "OTRA", "OVIP", "PARM", "PBTS", "PGOV", "PHSA", "PHUM", "PINR", "PINS", "PMIL", "PREF",
    "PREL", "PROP", "PTER", "SCUL", "SENV", "SMIG", "SNAR", "SOCI", "SPCE", "TBIO", "TINT", "TPHY",
    "TRGY", "TSPA", "TSPL",
];

/// cablemap's canonical form of a tag list: upper case, codes glued together by a lost
/// separator taken apart (`PHUMBA` → `PHUM`, `BA`), typos and spelling variants mapped
/// ([`tag_vocab::canonical`]: `MOPPS` → `MOPS`, `COUNTER TERRORISM` → `COUNTERTERRORISM`),
/// repeats dropped. Records keep the tags as
/// written; this is for comparing with cablemap.
pub fn canonical_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        for p in split_glued_codes(&t.to_uppercase()) {
            let p = tag_vocab::canonical(&p, TAG_CODES);
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Joins runs of plain words among whitespace-separated tags: a word is five letters or more
/// and no known code; `AND`, `OF`, `IN` between two words joins them too.
fn join_word_runs(parts: Vec<String>) -> Vec<String> {
    let is_word = |t: &str| {
        t.len() >= 5
            && t.chars().all(|c| c.is_alphabetic())
            && !TAG_CODES.contains(&t)
            && split_glued_codes(t).len() == 1
    };
    let toks: Vec<String> = parts.into_iter().filter(|p| !p.trim().is_empty()).collect();
    let mut out: Vec<String> = Vec::new();
    let mut prev_word = false;
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i].trim();
        if is_word(t) && prev_word {
            let last = out.last_mut().expect("a previous word");
            last.push(' ');
            last.push_str(t);
        } else if prev_word
            && matches!(t, "AND" | "OF" | "IN")
            && toks.get(i + 1).is_some_and(|n| is_word(n.trim()))
        {
            let last = out.last_mut().expect("a previous word");
            last.push(' ');
            last.push_str(t);
            i += 1;
            continue;
        } else {
            out.push(t.to_string());
        }
        prev_word = is_word(t);
        i += 1;
    }
    out
}

/// Takes apart a token of glued tag codes: 4-letter subject codes and 2-letter country codes,
/// when every 4-letter piece is a known code (`PHUMBA` → `PHUM`, `BA`; `VEPREL` → `VE`, `PREL`).
fn split_glued_codes(tok: &str) -> Vec<String> {
    let t = tok.trim();
    let whole = || vec![tok.to_string()];
    if t.len() < 6 || !t.bytes().all(|b| b.is_ascii_uppercase()) || TAG_CODES.contains(&t) {
        return whole();
    }
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if rest.len() >= 4 && TAG_CODES.contains(&&rest[..4]) {
            out.push(rest[..4].to_string());
            rest = &rest[4..];
        } else if rest.len() == 2 || (rest.len() >= 6 && TAG_CODES.contains(&&rest[2..6])) {
            out.push(rest[..2].to_string());
            rest = &rest[2..];
        } else {
            return whole();
        }
    }
    out
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
        let ids = cable_ids(
            &repair_ref_item(&item.to_uppercase().replace(['\'', '’'], "")),
            year,
        );
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

/// Repairs typing slips in a REF item that hide a cable id, each only where it gives a known
/// station: `0TTAWA`/`SANTIAG0` (digits for the letters O and I), `O4 CHENNAI` (a letter O in
/// the year), `STATE: 73097` and `10-OTTAWA-57` (a colon or hyphen before the serial).
fn repair_ref_item(item: &str) -> String {
    let words: Vec<String> = item
        .split(' ')
        .map(|w| {
            let has_letter = w.bytes().any(|b| b.is_ascii_uppercase());
            let digit_slip = w.bytes().any(|b| b == b'0' || b == b'1');
            match id::station_of(w) {
                Some(st) if has_letter && digit_slip => st,
                _ => w.to_string(),
            }
        })
        .collect();
    let item = words.join(" ");
    let item = LETTER_O_YEAR.replace_all(&item, "${1}0${2}${3}");
    JOINED_SERIAL
        .replace_all(&item, |c: &regex::Captures| {
            if id::is_known_station(&id::canonical_station(&c[1])) {
                format!("{} {}", &c[1], &c[2])
            } else {
                c[0].to_string()
            }
        })
        .into_owned()
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
            && (words[0].len() == 1
                || matches!(
                    words[0],
                    "AND"
                        | "OF"
                        | "FOR"
                        | "SEE"
                        | "ALSO"
                        | "IN"
                        | "TO"
                        | "THE"
                        | "REF"
                        | "REFTEL"
                        | "EMBASSY"
                        | "AMEMBASSY"
                ))
            && !(words[0] == "THE" && words[1] == "HAGUE")
        {
            words.remove(0);
        }
        let first = words[0].split('-').next().unwrap_or("");
        if NOT_STATIONS.contains(&first)
            || words[1..]
                .iter()
                .any(|w| NOT_STATIONS.contains(w) || matches!(*w, "POINTS" | "EMAIL" | "E-MAIL"))
        {
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
        // A year after the reference: "ASUNCION 701 (08)".
        let y = match YEAR_AFTER.captures(after) {
            Some(ya) if c.get(1).is_none() => {
                let v: i32 = ya[1].parse().unwrap_or(0);
                Some(if v >= 66 { 1900 + v } else { 2000 + v })
            }
            _ => y,
        };
        let Some(y) = y else { continue };
        if let Some(id) = id::from_parts(y, &station_joined, &c[3])
            && !ids.contains(&id)
        {
            ids.push(id);
        }
        // More serials of the same station: "STATE 41252 AND 44603", "BRASILIA 2799, 2764".
        let mut rest = after;
        while let Some(m) = MORE_SERIALS.captures(rest) {
            if let Some(id) = id::from_parts(y, &station_joined, &m[1])
                && !ids.contains(&id)
            {
                ids.push(id);
            }
            rest = &rest[m.get(0).expect("match").end()..];
        }
    }
    ids
}

static TRAILING_SIGNER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:[.!?"')\]*]|\s{2}|\bcfm)\s+([A-Z][A-Z'\-]{2,}(?: [A-Z][A-Z'\-]{2,})?)\s*$"#)
        .expect("valid regex")
});
static SKIP_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:NNNN|BT|#.*|[^A-Za-z0-9]+|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}[A-Z]+\d+ - .*|Declassified/Released.*|Review \d.*|NOTE(?-u:\b).*|PAGE \d.*|CORRECTION.*|\(Drafted.*|SIPDIS|HEADING AS RECEIVED.*)$")
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
    for line in body.lines().rev().take(24) {
        let t = line.trim().trim_end_matches('#').trim_end();
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

static CLASSIFIED_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)class?i?fi?ed\s*by(?-u:\b)\s*[:.;]?").expect("valid regex")
});
/// Where the "who" part of a classification statement ends: the reasons, the executive order.
static WHO_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        (?-u:\b)E\.?\s?O\.?\s*\d{5} | (?-u:\b)EO(?-u:\b) | (?-u:\b)re\s?a?\s?s0?o?n | (?-u:\b)reas(?-u:\b) | (?-u:\b)reaons | (?-u:\b)rasons?
      | (?-u:\b)se\s?ction\s+1 | (?-u:\b)1\s?[.,]\s?\d(?-u:\b) | (?-u:\b)reas0n | (?-u:\b)derived(?-u:\b) | (?-u:\b)per\s+1\. | (?-u:\b)12958(?-u:\b)
      | (?-u:\b)for\s+re",
    )
    .expect("valid regex")
});
/// A trailing connector left before the reasons: `for`, `under`, a broken `f or`.
static WHO_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:[\s,;:.\-]|(?-u:\b)(?:f[o0]r|fo|fr|f|or|r|under|based\s+(?:up)?[o0]n|due\s+to|per|and|in|accordance|with|\(u\)))+$")
        .expect("valid regex")
});
/// A word broken across two lines of a fixed-width text: `Hoyt Y` / `ee for reasons`.
static BROKEN_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)([A-Za-z]{1,4})[ \t]*\n[ \t]*([a-z]{1,6})(?-u:\b)").expect("valid regex")
});
static D_AFFAIRES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)d\s?,\s?aff").expect("valid regex"));
static PARENS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\([^)]{0,20}\)").expect("valid regex"));
static SECTION_14: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"1\s?\.\s?([45])").expect("valid regex"));
static REASON_LETTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^A-Za-z])([a-h])(?:$|[^A-Za-z])").expect("valid regex")
});
static DECL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)E\.?\s?O\.?\s*12958(?-u:\b)\s*[:.,]?\s*(?:DECL(?:ASSIFY)?(?-u:\b)\s*[:.]?\s*)?([^\n]*)")
        .expect("valid regex")
});
static DATE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(\d{1,4})\s?[/.\-]\s?(\d{1,2})\s?[/.\-]\s?(\d{2,4})(?-u:\b)")
        .expect("valid regex")
});
static PARAGRAPH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,3})[ \t]*[.)]([ \t]*\(([A-Z]{1,4}(?:/{1,2}[A-Z]{1,6}){0,3})\))?")
        .expect("valid regex")
});
static SUMMARY_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?-u:\b)END\s+(?:OF\s+)?SUMMARY(?-u:\b)").expect("valid regex")
});
static SUMMARY_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?-u:\b)(?:BEGIN\s+)?SUMMARY(?-u:\b)(?:\s*(?:AND|/|&)\s*(?:COMMENTS?|ACTION\s+REQUESTS?|INTRODUCTION|TABLE\s+OF\s+CONTENTS|RECOMMENDATIONS?))?(?:\s*[:.=\-‐]+)*",
    )
    .expect("valid regex")
});
static SUMMARY_LINE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*¶?\s*(?:\d{1,3}\s?[.)]\s*)?(?:\([A-Z]{1,4}(?:/{1,2}[A-Z]{1,6}){0,3}\)\s*)?")
        .expect("valid regex")
});
static FIRST_PARAGRAPH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^[ \t]*¶?1[ \t]*[.)]").expect("valid regex"));
static RULE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\s\-=_‐*]*$").expect("valid regex"));

/// Titles and ranks that may stand before a one-word name (`Ambassador Pearce`).
const TITLES: &[&str] = &[
    "A.I",
    "AI",
    "D'AFFAIRES",
    "D'AFFAIRS",
    "DE'AFFAIRS",
    "D'AFAIRS",
    "SECTION",
    "LEADER",
    "TEAM",
    "COORDINATOR",
    "INTERAGENCY",
    "PROVINCIAL",
    "GOVERNANCE",
    "POL",
    "ECON",
    "DIR",
    "COUNSEL",
    "COUNSLEOR",
    "COUNCILOR",
    "COUNSELLOR",
    "ECOPOL",
    "MC",
    "M-C",
    "CHARGE",
    "OFF",
    "OFFICE",
    "ASSISTANT",
    "UNDER",
    "SPECIAL",
    "ADVISOR",
    "ENVOY",
    "REPRESENTATIVE",
    "PERMANENT",
    "MINISTER-COUNSELOR",
    "MINISTER-COUNSELLOR",
    "POLITICAL-ECONOMIC",
    "CONSUL-GENERAL",
    "REGIONAL",
    "SECURITY",
    "DEFENSE",
    "ATTACHE",
    "LTC",
    "COL",
    "MAJ",
    "CAPT",
    "GEN",
    "ADM",
    "DR",
    "MR",
    "MS",
    "MRS",
    "AMBASSADOR-DESIGNATE",
    "EXECUTIVE",
    "AND",
    "U.S",
    "US",
    "USG",
    "PRT",
    "AIT",
    "USEU",
    "USUN",
    "USNATO",
    "IO",
    "EAP",
    "EUR",
    "AF",
    "NEA",
    "WHA",
    "SCA",
    "INR",
    "EMBASSY",
    "NATIONAL",
    "MISSION",
    "SENIOR",
    "RSO",
    "PAO",
    "LEGAL",
    "ECONCOUNS",
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
    "CIEF",
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
        .replace('0', "O")
        .replace('’', "'")
        .replace('\\', "");
    TITLES.contains(&t.as_str())
        || tok.contains('/')
        || tok.starts_with('(')
        || t.starts_with("AMBASS")
        || t.starts_with("ABASS")
        || t.contains("COUNS")
        || t.contains("COUSEL")
        || t == "COUN"
        || t.starts_with("DIREC")
        || (t.ends_with("MIN") && t.len() <= 7)
        || t.starts_with("D'AF")
}

fn is_initial(tok: &str) -> bool {
    if tok.len() == 1 && tok.chars().all(|c| c.is_ascii_uppercase()) {
        return true;
    }
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
    let first = statement_at(text, 0)?;
    // A first "statement" that names no one (`Classified By: ADANA 222 …`), or "CLASSIFIED BY
    // LINE ADDED" (a note about the classification line): try the next.
    let names_no_one = |st: &str| {
        st.split([',', ';']).next().is_some_and(|p| {
            p.split_whitespace()
                .any(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_digit()))
        }) || st.to_ascii_uppercase().starts_with("LINE")
    };
    if names_no_one(&first.0)
        && let Some(next) = statement_at(text, first.1)
    {
        return Some(next.0);
    }
    Some(first.0)
}

/// The statement of the first `Classified By` at or after `from`, and where it ends.
fn statement_at(text: &str, from: usize) -> Option<(String, usize)> {
    let m = CLASSIFIED_BY.find_at(text, from)?;
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
    // The statement is short: look for its end in the next 600 bytes only.
    let mut window = rest.len().min(600);
    while !rest.is_char_boundary(window) {
        window -= 1;
    }
    let near = &rest[..window];
    let end = near
        .find("\n\n")
        .into_iter()
        .chain(near.find("\n \n"))
        .chain(near.find("\n\t\n"))
        .min()
        .unwrap_or(near.len());
    let mut cut = end;
    while !rest.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut region = &rest[..cut];
    // A page break (banner line, PAGE line) ends the statement's first part.
    let mut off = 0;
    for line in region.split_inclusive('\n') {
        if off > 0 && (is_banner(line) || line.trim_start().starts_with("PAGE ")) {
            region = &region[..off];
            break;
        }
        off += line.len();
    }
    let joined = BROKEN_WORD.replace_all(region, |c: &regex::Captures| {
        let a = &c[1];
        if matches!(
            a.to_ascii_lowercase().as_str(),
            "for" | "and" | "or" | "the" | "of" | "by" | "a" | "to" | "in" | "on" | "as"
        ) {
            format!("{a} {}", &c[2])
        } else {
            format!("{a}{}", &c[2])
        }
    });
    let s = collapse_ws(&joined);
    let end_at = text.len() - rest.len() + cut;
    (!s.is_empty()).then_some((s, end_at.max(m.end())))
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
    let who = PARENS.replace_all(who, " ");
    let who = D_AFFAIRES.replace_all(&who, "d'Aff");
    // In a mixed-case statement, short all-capital words are offices (`DCM`, `EUR/PRA`).
    let mixed = who.chars().any(|c| c.is_lowercase());
    let title = |t: &str| {
        is_title(t)
            || (mixed && t.len() <= 4 && t.chars().all(|c| c.is_ascii_uppercase()) && t.len() > 1)
    };
    let who = WHO_TAIL.replace(&who, "");
    let who = who.split(';').next().unwrap_or("");
    // The comma-separated part that names someone (`Charge d'Affaires, a.i., Arnold A. Chacon`,
    // `ROBERT P. FINN, DEPUTY CHIEF OF MISSION`), and a suffix after it (`, Jr.`, `, III`).
    let parts: Vec<&str> = who.split(',').collect();
    let Some(k) = parts.iter().position(|p| {
        p.split(|c: char| c.is_whitespace() || c == '/' || c == ':')
            .any(|t| !t.is_empty() && !title(t) && t != "-")
    }) else {
        return Vec::new();
    };
    let mut suffix = String::new();
    if let Some(next) = parts.get(k + 1) {
        let n = next.trim();
        if is_suffix(n) {
            let up = n.to_ascii_uppercase();
            let n = if up.starts_with('J') || up.starts_with('S') {
                format!("{}.", n.trim_end_matches('.'))
            } else {
                n.trim_end_matches('.').to_string()
            };
            suffix = format!(", {n}");
        }
    }
    let name = parts[k];
    // After a dash, what comes before is an office (`AF/C - MARY BETH LEONARD`).
    let after_sep = name.contains(" - ") || name.contains(':');
    let name = name.rsplit(" - ").next().unwrap_or(name);
    let mut toks: Vec<&str> = Vec::new();
    for t in name.split(|c: char| c.is_whitespace() || c == ':') {
        let t = t.trim_end_matches('-');
        if t.is_empty() || t == "-" {
            continue;
        }
        // `DCM/Ted`: an office and a name.
        match t.rsplit_once('/') {
            Some((office, n))
                if n.len() > 1
                    && n.starts_with(|c: char| c.is_uppercase())
                    && n.chars().skip(1).all(|c| c.is_lowercase()) =>
            {
                toks.push(office);
                toks.push(n);
            }
            _ => toks.push(t),
        }
    }
    let mut end = toks.len();
    // Trailing lower-case abbreviations: `a.i.`, `a.y.`.
    while end > 1
        && toks[end - 1].contains('.')
        && toks[end - 1]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '.')
    {
        end -= 1;
    }
    let mut trailing_suffix = String::new();
    while end > 1 && is_suffix(toks[end - 1]) {
        trailing_suffix = format!(" {}{trailing_suffix}", toks[end - 1]);
        end -= 1;
    }
    if end == 0 {
        return Vec::new();
    }
    // Leading titles go; a short rest is the whole name (`Mary Grace McGeehan`).
    let mut first = 0;
    while first < end && title(toks[first]) {
        first += 1;
    }
    let start = if end - first <= 3 && (first > 0 || after_sep) {
        first
    } else {
        let mut start = end - 1;
        let mut have_first = false;
        while start > first {
            let tok = toks[start - 1];
            if title(tok) {
                break;
            }
            if is_initial(tok)
                && tok.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())
                && (!have_first || tok.contains('.'))
            {
                start -= 1;
                continue;
            }
            if have_first {
                break;
            }
            have_first = true;
            start -= 1;
        }
        start
    };
    if start >= end {
        return Vec::new();
    }
    let mut out = toks[start..end].join(" ");
    out.push_str(&trailing_suffix);
    out.push_str(&suffix);
    let out = out.trim().trim_end_matches(',').to_string();
    if out.is_empty() || title(&out) {
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
    for line in body.lines() {
        // Only lines that start with a number (after blanks and a ¶) can open a paragraph.
        let t = line.trim_start_matches([' ', '\t']);
        let t = t
            .strip_prefix('¶')
            .unwrap_or(t)
            .trim_start_matches([' ', '\t']);
        if !t.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let Some(c) = PARAGRAPH.captures(t) else {
            continue;
        };
        let whole = c.get(0).expect("match");
        let after = &t[whole.end()..];
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
            // No heading: from the first paragraph, or after the classification statement.
            let from = FIRST_PARAGRAPH
                .find(&body[..e.start()])
                .map(|m| m.start())
                .or_else(|| {
                    CLASSIFIED_BY.find(&body[..e.start()]).and_then(|m| {
                        text::find(&body[m.end()..e.start()], "\n\n").map(|i| m.end() + i)
                    })
                })
                .unwrap_or(0);
            (from, e.start())
        }
        (Some(s), None) => {
            if !body[s.start()..s.end()].contains([':', '.']) {
                return None;
            }
            let rest = &body[s.end()..];
            let stop = [
                text::find(rest, "\n\n"),
                text::find(rest, "\n \n"),
                text::find(rest, "-----"),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
            (s.end(), s.end() + stop)
        }
        (None, None) => return None,
    };
    let mut from = from;
    // "------- SUMMARY -------\n\n1. Summary: On March 21 …": the heading again.
    let lead = body[from..to].len() - body[from..to].trim_start().len();
    let after = &body[from + lead..to];
    let after_mark = SUMMARY_LINE_PREFIX.find(after).map_or(0, |m| m.end());
    if let Some(m) = SUMMARY_START.find(&after[after_mark..])
        && m.start() == 0
    {
        from += lead + after_mark + m.end();
    }
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
