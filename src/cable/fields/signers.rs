//! The signature at the end of a body.

use super::is_banner;
use regex::Regex;
use std::sync::LazyLock;

static SIGNER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Z][A-Za-z.'\-]*(?:[ /][A-Z][A-Za-z.'\-]*){0,2}$").expect("valid regex")
});

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
