//! The fields at the head of a body: the handling caveats before the first paragraph and the
//! SUBJECT, TAGS and REF blocks, read from the first lines with flattened headers split.

use super::refs::reference_items;
use super::tags::split_tag_lines;
use super::{BodyFields, CAVEATS, RULE_LINE, is_banner};
use crate::cable::text::collapse_ws;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

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
/// A line that starts with a classification banner and goes on (`C O N F I D E N T I A L
/// MOSCOW 001704`).
static BANNER_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?:UNCLAS(?:SIFIED)?|CONFIDENTIAL|SECRET|C O N F I D E N T I A L|S E C R E T)(?-u:\b)",
    )
    .expect("valid regex")
});
/// A REF text that ends with a bullet's year and nothing after it: `… D. 03 `.
static DANGLING_YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)\(?[A-Z][.)]\s*\d{2}\s*$").expect("valid regex"));
static REF_BULLET_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*¶?\s*\(?[A-Z][.)]").expect("valid regex"));
/// A line that goes on with a serial number: `00723  (C) Brasilia 01392`.
static REF_SERIAL_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\d{2,7}\s").expect("valid regex"));
static TAG_ONLY_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:[A-Z0-9_]{2,8}[,;]?\s*)+$").expect("valid regex"));

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

/// The first lines of the body, with a page mark removed and a flattened header (`SUBJECT: X
/// REF: A. MOSCOW 816 Classified By: …`) split so that each field starts a line.
pub(super) fn header_lines(body: &str) -> Vec<String> {
    let mut split_lines: Vec<String> = Vec::new();
    let mut in_header = true;
    for line in body.lines().take(HEADER_LINES) {
        let t = line.trim_start().trim_start_matches('¶');
        if t.starts_with("1.") || t.starts_with("1 .") {
            in_header = false;
        }
        if in_header {
            split_inline_fields(line, &mut split_lines);
        } else {
            split_lines.push(line.to_string());
        }
    }
    split_lines
}

/// Pushes `line` as lines that each start with one field.
fn split_inline_fields(line: &str, out: &mut Vec<String>) {
    // Cheap checks first: most lines hold neither a page mark nor an inline field.
    let line = if line.contains("PAGE ") || line.contains(" OF ") || line.contains("     ") {
        PAGE_MARK.replace_all(line, "")
    } else {
        Cow::Borrowed(line)
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
                    out.push(rest[..m2.start()].to_string());
                    rest = &rest[m2.start()..];
                }
                None => break,
            }
        } else {
            out.push(rest[..m.start()].to_string());
            rest = &rest[m.start()..];
        }
    }
    out.push(rest.to_string());
}

/// Reads the caveats and the SUBJECT, TAGS and REF blocks of the header lines into `f`.
pub(super) fn read_head(lines: &[&str], year: Option<i32>, f: &mut BodyFields) {
    let mut i = 0;
    // The first paragraph ("1. ..." or a SUMMARY heading) ends the caveat zone.
    let mut in_caveat_zone = true;
    while i < lines.len() {
        let line = lines[i];
        if in_caveat_zone {
            in_caveat_zone = note_caveats(line, &mut f.caveats);
        }
        if f.subject.is_none()
            && let Some(c) = SUBJECT_RE.captures(line)
        {
            let (subject, next) = subject_block(lines, i, &c[1]);
            if !subject.is_empty() {
                f.subject = Some(subject);
            }
            i = next;
        } else if !f.has_tags_line
            && let Some(c) = TAGS_RE.captures(line)
        {
            f.has_tags_line = true;
            let (tag_lines, next) = tags_block(lines, i, &c[1]);
            f.tags = split_tag_lines(&tag_lines);
            i = next;
        } else if let Some(c) = REF_RE.captures(line) {
            let (text, next) = ref_block(lines, i, &c[1]);
            add_references(f, &collapse_ws(&text), year);
            i = next;
        } else {
            i += 1;
        }
    }
}

/// Notes the handling caveats of a line before the first paragraph; false once the line is
/// the first paragraph (the caveat zone ends there).
fn note_caveats(line: &str, caveats: &mut Vec<String>) -> bool {
    let t = line.trim();
    if t.starts_with("1.") || t.starts_with("Summary") || t.starts_with("SUMMARY") {
        return false;
    }
    if !TAGS_RE.is_match(line) && !SUBJECT_RE.is_match(line) {
        for tok in t.split(|c: char| !c.is_ascii_alphanumeric()) {
            if CAVEATS.contains(&tok) && !caveats.iter().any(|c| c == tok) {
                caveats.push(tok.to_string());
            }
        }
    }
    true
}

/// The SUBJECT that starts at line `i` with `first` after the label, joined across its
/// continuation lines, and the line after it.
fn subject_block(lines: &[&str], i: usize, first: &str) -> (String, usize) {
    let mut s = first.trim_end().trim_end_matches('\\').to_string();
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
    (collapse_ws(s), j)
}

/// The lines of the TAGS field that starts at line `i` with `first` after the label, and the
/// line after them.
fn tags_block(lines: &[&str], i: usize, first: &str) -> (Vec<String>, usize) {
    let mut s = first.trim().to_string();
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
    (tag_lines, j)
}

/// The text of the REF block that starts at line `i` with `first` after the label, and the
/// line after it.
fn ref_block(lines: &[&str], i: usize, first: &str) -> (String, usize) {
    let mut s = first.to_string();
    let mut j = i + 1;
    let bullet = |n: &str| {
        (REF_BULLET_LINE.is_match(n) && n.bytes().any(|b| b.is_ascii_digit()))
            || REF_SERIAL_LINE.is_match(n)
    };
    while j < lines.len() {
        let l = lines[j];
        // A blank line inside the block: go on when a bullet follows, or when the text so far
        // ends with a year whose station and serial come after the blank (`D. 03` / `` /
        // `HANOI 2323`).
        if l.trim().is_empty()
            && lines
                .get(j + 1)
                .is_some_and(|n| bullet(n) || (DANGLING_YEAR.is_match(&s) && !n.trim().is_empty()))
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
    (s, j)
}

/// Adds the references of a REF block's text, each once; non-cable ones also as text.
fn add_references(f: &mut BodyFields, text: &str, year: Option<i32>) {
    for (r, is_id) in reference_items(text, year) {
        if !f.references.contains(&r) {
            if !is_id {
                f.references_text.push(r.clone());
            }
            f.references.push(r);
        }
    }
}
