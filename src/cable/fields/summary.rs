//! Numbered paragraphs with their classification markings, and the summary.

use super::RULE_LINE;
use super::statement::CLASSIFIED_BY;
use crate::cable::text::{self, collapse_ws};
use regex::Regex;
use std::sync::LazyLock;

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
pub(crate) fn paragraphs(body: &str) -> Vec<Paragraph> {
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
