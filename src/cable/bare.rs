//! Reader for a bare cable text: the routing header and the body only, with no page around
//! them (a cable copied out of a page, a `.txt` from another archive).
//!
//! Detection (only when neither page format matches): within the first lines, a transmission
//! id line (`VZCZC…`), or a classification line (`C O N F I D E N T I A L MADRID 000025`,
//! `UNCLAS SECTION 01 OF 03 MEXICO 003108`) together with a `SUBJECT:`, `TAGS` or
//! `E.O. 12958` line, or `SUBJECT:` and `TAGS` lines together, or a `FM`/`TO` routing block.
//!
//! Field rules:
//! * the id comes from the classification line's station and serial (`MADRID 000025`) and the
//!   year of the header's date-time group (`10MADRID25`); without a date-time group, the year is
//!   the DECL date's year less ten (the usual ten-year rule), with a P005 warning; without
//!   either, there is no id and no record (P002).
//! * `created` is the date-time group; `classification` the classification line's level
//!   (`C O N F I D E N T I A L` → `CONFIDENTIAL`, `UNCLAS` → `UNCLASSIFIED`); `origin` is read
//!   from the `FM` line for embassies, consulates and the Department (`AMEMBASSY MADRID` →
//!   `Embassy Madrid`).
//! * provenance (publisher, URL, release) comes from the hints only.

use super::text::{self, PARTIAL_EXTRACT};
use super::{CableRecord, Format, ParseOutcome, RECORD_SCHEMA, dates, fields, header, id};
use crate::cable::provenance::Source;
use crate::finding::{Code, Finding, Severity};
use regex::Regex;
use std::sync::LazyLock;

static CLASS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^\s*(C\ O\ N\ F\ I\ D\ E\ N\ T\ I\ A\ L|S\ E\ C\ R\ E\ T|U\ N\ C\ L\ A\ S\ S\ I\ F\ I\ E\ D
            |UNCLASSIFIED|UNCLAS|CONFIDENTIAL|SECRET|LIMITED\ OFFICIAL\ USE)(?-u:\b)
          ((?:\s+(?:SENSITIVE|E\ F\ T\ O|EFTO|FOUO|NOFORN|SIPDIS|NODIS|EXDIS|LIMDIS|FOR\ OFFICIAL\ USE\ ONLY|//\S*))*)
          (?:\s+SECTION\s+\d+\s+OF\s+\d+)?
          (?:\s+([A-Z][A-Z.'\-]*(?:\ [A-Z][A-Z.'\-]*){0,3})\s+(\d{1,7}))?\s*$",
    )
    .expect("valid regex")
});
static FIELD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:SUBJECT\s*:|SUBJ\s*:|TAGS?(?-u:\b)|E\.?\s?O\.?\s*12958)")
        .expect("valid regex")
});
static SUBJECT_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*SUBJ(?:ECT)?\s*:").expect("valid regex"));
static TAGS_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*TAGS?\s*:?\s+\S").expect("valid regex"));
static ROUTING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*FM\s+[A-Z].*\n\s*TO\s+[A-Z]").expect("valid regex"));

/// The first lines of the bytes, as text.
fn head(bytes: &[u8]) -> String {
    let b = text::trim_start_bytes(bytes);
    let b = &b[..b.len().min(6000)];
    String::from_utf8_lossy(b).replace("\r\n", "\n")
}

/// True when the bytes look like a bare cable text.
pub(super) fn looks_like(bytes: &[u8]) -> bool {
    let h = head(bytes);
    let first = h.lines().next().unwrap_or("");
    if first.trim_start().starts_with("VZCZC") {
        return true;
    }
    let lines: Vec<&str> = h.lines().take(60).collect();
    let window = lines.join("\n");
    let class_line = lines.iter().take(30).any(|l| CLASS_LINE.is_match(l));
    (class_line && FIELD_LINE.is_match(&window))
        || (SUBJECT_LINE.is_match(&window) && TAGS_LINE.is_match(&window))
        || ROUTING.is_match(&window)
}

fn finding(code: Code, name: &str, msg: impl Into<String>) -> Finding {
    Finding::new(code, name, msg)
}

/// Title-cases a station name: `BUENOS AIRES` → `Buenos Aires`.
fn title_case(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f
                    .to_uppercase()
                    .chain(c.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The origin from an `FM` line, for the common senders.
fn origin_of(header: &str) -> Option<String> {
    let fm = header
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("FM "))?;
    let fm = fm.trim();
    let fm = fm.split_once('/').map_or(fm, |(_, n)| n);
    if let Some(p) = fm.strip_prefix("AMEMBASSY ") {
        Some(format!("Embassy {}", title_case(p)))
    } else if let Some(p) = fm.strip_prefix("AMCONSUL ") {
        Some(format!("Consulate {}", title_case(p)))
    } else if fm.starts_with("SECSTATE") {
        Some("Secretary of State".to_string())
    } else {
        None
    }
}

/// Reads a bare cable text. Never panics.
pub(super) fn parse(bytes: &[u8], name: &str) -> ParseOutcome {
    let mut findings = Vec::new();
    let decoded = text::decode(bytes);
    findings.extend(decoded.findings(name, "text"));
    let full = decoded.text.replace("\r\n", "\n");
    let full = full
        .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
        .trim_end()
        .to_string();
    let (header_end, body_start) = header::split(&full);
    let header_text = &full[..header_end];
    let body = &full[body_start..];

    let mut cut = full.len().min(4000);
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    let dtg = dates::find_dtg(if header_text.is_empty() {
        &full[..cut]
    } else {
        header_text
    });
    let class = body
        .lines()
        .take(30)
        .chain(full.lines().take(30))
        .find_map(|l| CLASS_LINE.captures(l));
    let mut bf = fields::read(body, dtg.map(|d| dates::year(d.date)));

    // Id.
    let station_serial = class.as_ref().and_then(|c| {
        Some((
            c.get(3)?.as_str().to_string(),
            c.get(4)?.as_str().to_string(),
        ))
    });
    let year = match dtg {
        Some(d) => Some(dates::year(d.date)),
        None => {
            let decl_year = bf
                .declassify
                .as_deref()
                .and_then(|d| d.get(..4))
                .and_then(|y| y.parse::<i32>().ok());
            if let (Some(y), Some(_)) = (decl_year, &station_serial) {
                findings.push(finding(
                    Code::MalformedField,
                    name,
                    format!(
                        "no date-time group: the id's year is guessed as {} from the DECL date less ten years",
                        y - 10
                    ),
                ));
            }
            decl_year.map(|y| y - 10)
        }
    };
    let cable_id = match (&station_serial, year) {
        (Some((st, serial)), Some(y)) => id::from_parts(y, st, serial),
        _ => None,
    };
    let Some(cable_id) = cable_id else {
        let mut f = finding(
            Code::MissingField,
            name,
            "no reference id can be derived from the text (station and serial of the classification line, year of the date-time group); no record",
        );
        f.severity = Severity::Error;
        findings.push(f);
        return ParseOutcome {
            record: None,
            findings,
        };
    };
    let mut rec = CableRecord {
        schema: RECORD_SCHEMA.to_string(),
        id: cable_id,
        ..CableRecord::default()
    };
    if dtg.is_none() {
        findings.push(finding(
            Code::MissingField,
            name,
            "no date-time group in the header: no created date",
        ));
    }
    rec.created = dtg.map(|d| d.rfc3339());
    rec.classification = class.as_ref().map(|c| {
        let level: String = c[1].chars().filter(|ch| *ch != ' ').collect();
        match level.as_str() {
            "UNCLAS" => "UNCLASSIFIED".to_string(),
            "LIMITEDOFFICIALUSE" => "LIMITED OFFICIAL USE".to_string(),
            other => other.to_string(),
        }
    });
    rec.origin = origin_of(header_text);
    rec.tags = std::mem::take(&mut bf.tags);
    rec.subject = bf.subject.take();
    super::apply_body_fields(&mut rec, bf);
    super::apply_header(&mut rec, header_text);

    rec.redaction = super::redaction_of(&full, false, text::contains(&full, PARTIAL_EXTRACT), None);
    rec.text = full;
    rec.source = Source {
        encoding: Some(decoded.encoding.to_string()),
        format: Some(Format::BareText.as_str().to_string()),
        ..Source::default()
    };
    ParseOutcome {
        record: Some(rec),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_bare_cable() {
        let t = "VZCZCXYZ0001\nPP RUEHWEB\n\nDE RUEHMD #0025/01 0131429\nZNY CCCCC ZZH\nP 131429Z JAN 10\nFM AMEMBASSY MADRID\nTO RUEHC/SECSTATE WASHDC PRIORITY 1234\nINFO RUEHZL/EUROPEAN POLITICAL COLLECTIVE\nBT\nC O N F I D E N T I A L MADRID 000025 \n\nSIPDIS\n\nE.O. 12958: DECL: 01/13/2020\nTAGS: PREL, SP\nSUBJECT: AN INVENTED CABLE\n\nClassified By: Ambassador Jane Q. Public for reasons 1.4 (b) and (d).\n\n1. (C) Summary: Nothing happened.  End summary.\n\n2. (U) More.\n\nPUBLIC\n";
        assert!(looks_like(t.as_bytes()));
        let out = parse(t.as_bytes(), "x");
        let r = out.record.expect("record");
        assert_eq!(r.id, "10MADRID25");
        assert_eq!(r.created.as_deref(), Some("2010-01-13T14:29:00Z"));
        assert_eq!(r.classification.as_deref(), Some("CONFIDENTIAL"));
        assert_eq!(r.origin.as_deref(), Some("Embassy Madrid"));
        assert_eq!(r.tags, vec!["PREL", "SP"]);
        assert_eq!(r.classified_by, vec!["Jane Q. Public"]);
        assert_eq!(r.reasons, vec!["1.4 (b)", "1.4 (d)"]);
        assert_eq!(r.declassify.as_deref(), Some("2020-01-13"));
        assert_eq!(r.summary.as_deref(), Some("Nothing happened."));
        assert_eq!(r.paragraphs.len(), 2);
        assert_eq!(r.transmission_id.as_deref(), Some("VZCZCXYZ0001"));
        assert_eq!(r.recipients[0].name, "SECSTATE WASHDC");
        assert_eq!(r.signers, vec!["PUBLIC"]);
        assert!(!looks_like(b"hello world\nSUBJECT: x"));
    }
}
