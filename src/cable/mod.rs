//! Cables: reading cable pages into normalized records.
//!
//! A *capture* is one set of raw bytes as ingested (one page file). Reading a capture gives a
//! [`CableRecord`] (the cable's metadata, text and provenance as that capture shows them) and any
//! findings about the page. The raw bytes are always kept by the caller, whatever the reader says.

use crate::finding::Finding;
use crate::provenance::{Redaction, Source, SourceHints};
use serde::{Deserialize, Serialize};

use crate::time::dtg as dates;
mod fields;
pub mod id;
mod mirror;
pub mod text;
mod wikileaks;

/// The schema name written into every record.
pub const RECORD_SCHEMA: &str = "cablekeep-record/1";

/// The formats cablekeep reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The WikiLeaks "Cable Viewer" page of 2010-2011.
    WikileaksPage,
    /// The later mirror plain-text page ("Identifier: ... Latest source of this page is ...").
    MirrorText,
}

impl Format {
    /// The name used in records and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::WikileaksPage => "wikileaks-page",
            Format::MirrorText => "mirror-text",
        }
    }
}

/// One cable as one capture shows it. This is the schema of `cablekeep parse --json` and of the
/// normalized records inside archives (documented in `docs/FORMAT.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CableRecord {
    /// Always [`RECORD_SCHEMA`].
    pub schema: String,
    /// The canonical reference id, e.g. `05ALMATY4285`.
    pub id: String,
    /// The id exactly as the page gave it, when it differs from `id` (malformed ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_original: Option<String>,
    /// When the cable was sent: RFC 3339 date-time in UTC (from the header's date-time group when
    /// there is one), or a date.
    pub created: Option<String>,
    /// The created value exactly as the page wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_original: Option<String>,
    /// When the cable was released at this source (RFC 3339 date or date-time).
    pub released: Option<String>,
    /// E.g. `CONFIDENTIAL//NOFORN`, as written on the page.
    pub classification: Option<String>,
    /// Handling caveats such as `NOFORN`, `SIPDIS`.
    #[serde(default)]
    pub caveats: Vec<String>,
    /// E.g. `Embassy Madrid`.
    pub origin: Option<String>,
    /// TAGS, in page order.
    #[serde(default)]
    pub tags: Vec<String>,
    /// SUBJECT, joined across lines.
    pub subject: Option<String>,
    /// Canonical ids of referenced cables, plus non-cable references as text.
    #[serde(default)]
    pub references: Vec<String>,
    /// Who signed the cable.
    #[serde(default)]
    pub signers: Vec<String>,
    /// Redaction status of this capture.
    pub redaction: Redaction,
    /// Where this capture came from.
    pub source: Source,
    /// The cable's text (header and body) as extracted from the page, with markup removed.
    pub text: String,
}

/// The result of reading one capture.
#[derive(Debug, Clone, Default)]
pub struct ParseOutcome {
    /// The record, when the page was understood well enough to name a cable.
    pub record: Option<CableRecord>,
    /// Problems found in the page, all of them.
    pub findings: Vec<Finding>,
}

/// Reads one capture. `name` names the file in findings; `hints` are provenance flags given by
/// the user, applied over what the page says. Never panics, whatever the bytes.
pub fn parse(bytes: &[u8], name: &str, hints: &SourceHints) -> ParseOutcome {
    let mut outcome = match detect(bytes) {
        Some(Format::WikileaksPage) => wikileaks::parse(bytes, name),
        Some(Format::MirrorText) => mirror::parse(bytes, name),
        None => ParseOutcome {
            record: None,
            findings: vec![Finding::new(
                crate::Code::UnknownFormat,
                name,
                "not a WikiLeaks cable page or a mirror text page",
            )],
        },
    };
    if let Some(record) = outcome.record.as_mut() {
        hints.apply(&mut record.source);
    }
    outcome
}

/// Detects the format from the first bytes of a page. A UTF-8 byte order mark and leading
/// whitespace are skipped, and the markers are matched without regard to ASCII case.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if wikileaks::looks_like(bytes) {
        Some(Format::WikileaksPage)
    } else if mirror::looks_like(bytes) {
        Some(Format::MirrorText)
    } else {
        None
    }
}
