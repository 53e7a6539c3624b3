//! Cables: reading cable pages into normalized records.
//!
//! A *capture* is one set of raw bytes as ingested (one page file). Reading a capture gives a
//! [`CableRecord`] (the cable's metadata, text and provenance as that capture shows them) and any
//! findings about the page. The raw bytes are always kept by the caller, whatever the reader says.

use crate::cable::provenance::{Redaction, Source, SourceHints};
use crate::finding::Finding;
use serde::{Deserialize, Serialize};

use crate::time::dtg as dates;
mod bare;
pub mod bulk;
pub mod fields;
pub mod header;
pub mod id;
mod mirror;
pub mod provenance;
mod reading;
mod stations;
mod tag_vocab;
pub(crate) mod text;
mod wikileaks;

pub use fields::Paragraph;

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
    /// A row of the 2011 full release's bulk table `cables.csv` (read through [`bulk`]).
    CablesCsv,
    /// A bare cable text: routing header and body only, no page around it.
    BareText,
}

impl Format {
    /// The name used in records and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::WikileaksPage => "wikileaks-page",
            Format::MirrorText => "mirror-text",
            Format::CablesCsv => "cables-csv",
            Format::BareText => "bare-text",
        }
    }

    /// The format named on the command line (`--format`): `wikileaks-page`, `mirror-text`,
    /// `bare-text` or `cables-csv` (ASCII case ignored). `None` for any other name.
    pub fn from_name(name: &str) -> Option<Format> {
        let n = name.trim().to_ascii_lowercase();
        [
            Format::WikileaksPage,
            Format::MirrorText,
            Format::BareText,
            Format::CablesCsv,
        ]
        .into_iter()
        .find(|f| f.as_str() == n)
    }
}

/// One addressee of a cable's routing header (TO or INFO), as cablemap reads it:
/// `RUEHC/SECSTATE WASHDC IMMEDIATE 4696` → route `RUEHC`, name `SECSTATE WASHDC`, precedence
/// `IMMEDIATE`, message number `4696`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The routing indicator, e.g. `RUEHC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The addressee, e.g. `SECSTATE WASHDC`, `AMEMBASSY BAGHDAD`.
    pub name: String,
    /// `IMMEDIATE`, `PRIORITY`, `ROUTINE`, `FLASH`, `NIACT IMMEDIATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<String>,
    /// The message channel number given to this addressee, e.g. `4696`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcn: Option<String>,
    /// Addressees excluded from a collective (`XMT` lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
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
    /// The non-cable references of `references` (e.g. `LEE-GOLDSTEIN EMAIL 05/11/07`), so that
    /// the cable ids are `references` without these. Added in cablekeep 0.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references_text: Vec<String>,
    /// The transmission id of the routing header, e.g. `VZCZCXRO5008`. Added in 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmission_id: Option<String>,
    /// TO addressees of the routing header, in order. Added in 0.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
    /// INFO addressees of the routing header, in order. Added in 0.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info_recipients: Vec<Recipient>,
    /// Who classified the cable: the name(s) in the `Classified By:` statement, without titles
    /// (`Ambassador David D. Pearce` → `David D. Pearce`). Added in 0.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classified_by: Vec<String>,
    /// The whole `Classified By:` statement, white space collapsed. Added in 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classified_by_text: Option<String>,
    /// Classification reasons of the statement, e.g. `["1.4 (b)", "1.4 (d)"]`. Added in 0.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The E.O. 12958 DECL date as `YYYY-MM-DD`, when it is a valid date. Added in 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declassify: Option<String>,
    /// The DECL value as written, e.g. `01/05/2020`, `N/A`. Added in 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declassify_original: Option<String>,
    /// Numbered paragraphs and their classification markings. Added in 0.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paragraphs: Vec<Paragraph>,
    /// The text between SUMMARY and END SUMMARY, when the cable has one. Added in 0.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Redaction status of this capture.
    pub redaction: Redaction,
    /// Where this capture came from.
    pub source: Source,
    /// The cable's text (header and body) as extracted from the page, with markup removed.
    pub text: String,
}

impl CableRecord {
    /// The id the cable was published under and is cited by: the page's own id where a reader
    /// repaired or mapped it (`10EFTOLONDON16`, `06TAIPEI2921`), else the canonical id.
    pub fn published_id(&self) -> &str {
        self.id_original.as_deref().unwrap_or(&self.id)
    }
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
    parse_as(bytes, name, hints, None)
}

/// Reads one capture as the given format, or as the detected one when `format` is `None`.
/// A `cables.csv` capture (`Format::CablesCsv`) is read as one table row, e.g. a row kept from
/// [`bulk::read_rows`]. Never panics, whatever the bytes.
pub fn parse_as(
    bytes: &[u8],
    name: &str,
    hints: &SourceHints,
    format: Option<Format>,
) -> ParseOutcome {
    // UTF-16 is decoded first: the formats are told by ASCII markers in the bytes.
    if format != Some(Format::CablesCsv)
        && let Some(wide) = text::decode_utf16(bytes)
    {
        // Read once as it decodes to: UTF-8 text is never taken for UTF-16 again.
        let mut outcome = parse_bytes_as(wide.text.as_bytes(), name, hints, format);
        if let Some(record) = outcome.record.as_mut() {
            record.source.encoding = Some(wide.encoding.to_string());
        }
        outcome.findings.extend(wide.findings(name, "page"));
        return outcome;
    }
    parse_bytes_as(bytes, name, hints, format)
}

/// [`parse_as`] for bytes in an encoding the readers decode themselves (not UTF-16).
fn parse_bytes_as(
    bytes: &[u8],
    name: &str,
    hints: &SourceHints,
    format: Option<Format>,
) -> ParseOutcome {
    let mut outcome = match format.or_else(|| detect(bytes)) {
        Some(Format::WikileaksPage) => wikileaks::parse(bytes, name),
        Some(Format::MirrorText) => mirror::parse(bytes, name),
        Some(Format::BareText) => bare::parse(bytes, name),
        Some(Format::CablesCsv) => bulk::parse_row(bytes, name),
        None => ParseOutcome {
            record: None,
            findings: vec![Finding::new(
                crate::Code::UnknownFormat,
                name,
                "not a WikiLeaks cable page, a mirror text page or a bare cable text",
            )],
        },
    };
    if let Some(record) = outcome.record.as_mut() {
        hints.apply(&mut record.source);
    }
    outcome
}

/// Detects the format from the first bytes of a page. A UTF-8 byte order mark and leading
/// whitespace are skipped, and the markers are matched without regard to ASCII case. A bare
/// cable text is recognised by its header patterns only when neither page format matches.
/// `cables.csv` is never detected here: it is read through [`bulk`].
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if wikileaks::looks_like(bytes) {
        Some(Format::WikileaksPage)
    } else if mirror::looks_like(bytes) {
        Some(Format::MirrorText)
    } else if bare::looks_like(bytes) {
        Some(Format::BareText)
    } else {
        None
    }
}
