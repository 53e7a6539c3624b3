//! Fields read from a cable's body text, shared by the readers: SUBJECT, TAGS, REF, handling
//! caveats, the signature, the classification statement (`Classified By: … Reasons 1.4 (b)`),
//! the E.O. 12958 DECL date, numbered paragraphs and the summary. This file gathers them into
//! `BodyFields`; each field is read in its own file.
//!
//! The `pub` functions read one field from a text fragment; the expectations test feeds them
//! cablemap's test fragments.

mod head;
mod refs;
mod signers;
mod statement;
mod summary;
mod tags;
#[cfg(test)]
mod tests;

use regex::Regex;
use std::sync::LazyLock;

#[cfg(test)]
pub(crate) use refs::references;
pub use signers::signers;
pub use statement::{classified_by, nondisclosure_deadline};
pub(crate) use statement::{classified_by_statement, declassify};
pub use summary::Paragraph;
pub(crate) use summary::paragraphs;
pub use summary::summary;
pub use tags::canonical_tags;
#[cfg(test)]
pub(crate) use tags::split_tags;

/// What the body text says of itself.
#[derive(Debug, Default)]
pub(in crate::cable) struct BodyFields {
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

/// The handling caveats a body may name before its first paragraph.
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

/// A lone classification banner line (page breaks in older cables).
static BANNER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:UNCLAS(?:SIFIED)?|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE|C O N F I D E N T I A L|S E C R E T|U N C L A S S I F I E D)\s*$")
        .expect("valid regex")
});
static RULE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\s\-=_‐*]*$").expect("valid regex"));

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
pub(in crate::cable) fn read(body: &str, year: Option<i32>) -> BodyFields {
    let mut f = BodyFields::default();
    let lines = head::header_lines(body);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    head::read_head(&lines, year, &mut f);
    f.signers = signers(body);
    // The statement, DECL and summary are near the top: a long body is not searched whole.
    let top = crate::cable::reading::head(body, 20_000);
    f.classified_by_text = classified_by_statement(top);
    if let Some(st) = &f.classified_by_text {
        f.classified_by = statement::statement_names(st);
        f.reasons = statement::reasons_of_statement(st);
    }
    (f.declassify, f.declassify_original) = declassify(top);
    f.paragraphs = paragraphs(body);
    f.summary = summary(top);
    f
}
