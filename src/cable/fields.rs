//! Fields read from a cable's body text, shared by both page readers: SUBJECT, TAGS, REF,
//! handling caveats and the signature.

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
    /// The signature.
    pub signers: Vec<String>,
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
            for r in references(&collapse_ws(&s), year) {
                if !f.references.contains(&r) {
                    f.references.push(r);
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    f.signers = signers(body);
    f
}

/// Splits a TAGS value: on commas (or semicolons) when there are any, else on whitespace.
pub(super) fn split_tags(s: &str) -> Vec<String> {
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
pub(super) fn references(text: &str, year: Option<i32>) -> Vec<String> {
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
                out.push(t.to_string());
            }
        } else {
            out.extend(ids);
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
pub(super) fn signers(body: &str) -> Vec<String> {
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
