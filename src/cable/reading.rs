//! The opening and closing every reader shares: decoding the capture's bytes, collecting the
//! findings about it (P00x), starting the record from the page's id and finishing the outcome.

use super::provenance::{Redaction, RedactionStatus, Source};
use super::{CableRecord, Format, ParseOutcome, RECORD_SCHEMA, fields, header, id, text};
use crate::finding::{Code, Finding, Severity};
use std::borrow::Cow;

/// One capture being read: its name (for findings), the encoding its bytes were read as, and
/// the findings so far, in the order they were found.
pub(super) struct Reading<'n> {
    name: &'n str,
    encoding: &'static str,
    /// True once a decoded part reported on its encoding (see [`Reading::decode_part`]).
    encoding_reported: bool,
    findings: Vec<Finding>,
}

impl<'n> Reading<'n> {
    /// Starts reading the capture `name`, read as UTF-8 until a decode step says otherwise.
    pub(super) fn new(name: &'n str) -> Self {
        Reading {
            name,
            encoding: "utf-8",
            encoding_reported: false,
            findings: Vec::new(),
        }
    }

    /// Decodes the whole capture (`what` names it in findings: `page`, `text`): its encoding
    /// is the capture's, and the findings about the decoding come first.
    pub(super) fn decode_whole<'b>(&mut self, bytes: &'b [u8], what: &str) -> Cow<'b, str> {
        let decoded = text::decode(bytes);
        self.encoding = decoded.encoding;
        self.findings.extend(decoded.findings(self.name, what));
        decoded.text
    }

    /// Decodes one part of a capture (a field of a table row). The first part whose decoding
    /// has findings names the capture's encoding and gives its findings; later parts add none,
    /// so that one damaged row is reported once.
    pub(super) fn decode_part<'b>(&mut self, bytes: &'b [u8], what: &str) -> Cow<'b, str> {
        let decoded = text::decode(bytes);
        if !self.encoding_reported {
            let found = decoded.findings(self.name, what);
            if !found.is_empty() {
                self.encoding_reported = true;
                self.encoding = decoded.encoding;
                self.findings.extend(found);
            }
        }
        decoded.text
    }

    /// Notes a finding with its code's own severity.
    pub(super) fn note(&mut self, code: Code, message: impl Into<String>) {
        self.findings.push(Finding::new(code, self.name, message));
    }

    /// Notes a field the page lacks (P002).
    pub(super) fn missing(&mut self, message: impl Into<String>) {
        self.note(Code::MissingField, message);
    }

    /// Notes a field that cannot be read (P005).
    pub(super) fn malformed(&mut self, message: impl Into<String>) {
        self.note(Code::MalformedField, message);
    }

    /// Notes broken page markup (P004).
    pub(super) fn broken(&mut self, message: impl Into<String>) {
        self.note(Code::BrokenMarkup, message);
    }

    /// Notes a finding that stops the reading: there is no record.
    pub(super) fn error(&mut self, code: Code, message: impl Into<String>) {
        let mut finding = Finding::new(code, self.name, message);
        finding.severity = Severity::Error;
        self.findings.push(finding);
    }

    /// The outcome of a capture that gave no record: the findings say why.
    pub(super) fn no_record(self) -> ParseOutcome {
        ParseOutcome {
            record: None,
            findings: self.findings,
        }
    }

    /// The outcome of a capture read into `record`.
    pub(super) fn finish(self, record: CableRecord) -> ParseOutcome {
        ParseOutcome {
            record: Some(record),
            findings: self.findings,
        }
    }

    /// The provenance every reader knows: the capture's encoding and the reader's format.
    pub(super) fn source(&self, format: Format) -> Source {
        Source {
            encoding: Some(self.encoding.to_string()),
            format: Some(format),
            ..Source::default()
        }
    }

    /// Starts the record of the cable a page names: its id canonicalized, the original kept
    /// (with a P006 warning) when it was malformed. Without a usable id there is no record: an
    /// error finding says why (P002 no id, P006 an id that cannot be read), and the caller keeps
    /// the page unparsed.
    pub(super) fn start_record(&mut self, raw_id: Option<&str>) -> Option<CableRecord> {
        let Some(raw_id) = raw_id.map(str::trim).filter(|s| !s.is_empty()) else {
            self.error(Code::MissingField, "no reference id on the page; no record");
            return None;
        };
        let Some(canon) = id::canonicalize(raw_id) else {
            let message = format!("reference id {raw_id:?} cannot be read as an id; no record");
            self.error(Code::MalformedId, message);
            return None;
        };
        let mut record = new_record(canon.id.clone());
        if canon.malformed {
            let message = format!("reference id {raw_id} is malformed; read as {}", canon.id);
            self.note(Code::MalformedId, message);
            record.id_original = Some(raw_id.to_string());
        }
        Some(record)
    }
}

/// An empty record of the cable `id`.
pub(super) fn new_record(id: String) -> CableRecord {
    CableRecord {
        schema: RECORD_SCHEMA.to_string(),
        id,
        ..CableRecord::default()
    }
}

/// Adds the handling caveats the classification carries after `//` (e.g. `NOFORN`).
pub(super) fn caveats_from_classification(rec: &mut CableRecord) {
    let Some(class) = &rec.classification else {
        return;
    };
    for part in class.split("//").skip(1) {
        let p = part.trim().to_string();
        if !p.is_empty() && !rec.caveats.contains(&p) {
            rec.caveats.push(p);
        }
    }
}

/// The redaction facts of a cable text: its runs of X, and whether it is redacted (runs found,
/// or the publisher says so).
pub(super) fn redaction_of(
    text: &str,
    publisher_says: Option<RedactionStatus>,
    partial_extract: bool,
    statement: Option<String>,
) -> Redaction {
    let positions = text::redaction_runs(text);
    let redacted = !positions.is_empty() || publisher_says == Some(RedactionStatus::Redacted);
    Redaction {
        status: if redacted {
            RedactionStatus::Redacted
        } else {
            RedactionStatus::NotRedacted
        },
        runs: positions.len(),
        positions,
        partial_extract,
        statement,
    }
}

/// Copies what the body says of itself into the record (all readers).
pub(super) fn apply_body_fields(rec: &mut CableRecord, bf: fields::BodyFields) {
    for c in bf.caveats {
        if !rec.caveats.contains(&c) {
            rec.caveats.push(c);
        }
    }
    // A cable does not reference itself (a page-break line can look like a reference).
    let own = rec.id.clone();
    rec.references = bf.references.into_iter().filter(|r| *r != own).collect();
    rec.references_text = bf.references_text;
    rec.signers = bf.signers;
    rec.classified_by = bf.classified_by;
    rec.classified_by_text = bf.classified_by_text;
    rec.reasons = bf.reasons;
    rec.declassify = bf.declassify;
    rec.declassify_original = bf.declassify_original;
    rec.paragraphs = bf.paragraphs;
    rec.summary = bf.summary;
}

/// Copies the routing header's transmission id and addressees into the record.
pub(super) fn apply_header(rec: &mut CableRecord, routing: &str) {
    rec.transmission_id = header::transmission_id(routing);
    rec.recipients = header::recipients(routing);
    rec.info_recipients = header::info_recipients(routing);
}

/// The cable's text from its routing header and body: the header (trailing `trim` characters
/// cut), a blank line when both are there, and the body.
pub(super) fn join_header_and_body(routing: &str, trim: &[char], body: &str) -> String {
    let mut full = String::with_capacity(routing.len() + body.len() + 2);
    full.push_str(routing.trim_end_matches(trim));
    if !full.is_empty() && !body.is_empty() {
        full.push_str("\n\n");
    }
    full.push_str(body);
    full
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
pub(super) fn head(s: &str, max: usize) -> &str {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}
