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

use super::reading::{self, Reading};
use super::text::{self, PARTIAL_EXTRACT};
use super::{Format, ParseOutcome, dates, fields, header, id};
use crate::finding::Code;
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
    let mut reading = Reading::new(name);
    let full = reading.decode_whole(bytes, "text").replace("\r\n", "\n");
    let full = full
        .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
        .trim_end()
        .to_string();
    let (header_end, body_start) = header::split(&full);
    let header_text = &full[..header_end];
    let body = &full[body_start..];

    let dtg = dates::find_dtg(if header_text.is_empty() {
        reading::head(&full, 4000)
    } else {
        header_text
    });
    let class = body
        .lines()
        .take(30)
        .chain(full.lines().take(30))
        .find_map(|l| CLASS_LINE.captures(l));
    let mut bf = fields::read(body, dtg.map(|d| dates::year(d.date)));

    let station_serial = class.as_ref().and_then(|c| {
        Some((
            c.get(3)?.as_str().to_string(),
            c.get(4)?.as_str().to_string(),
        ))
    });
    let year = cable_year(dtg, &bf, station_serial.as_ref(), &mut reading);
    let cable_id = match (&station_serial, year) {
        (Some((st, serial)), Some(y)) => id::from_parts(y, st, serial),
        _ => None,
    };
    let Some(cable_id) = cable_id else {
        reading.error(
            Code::MissingField,
            "no reference id can be derived from the text (station and serial of the classification line, year of the date-time group); no record",
        );
        return reading.no_record();
    };
    let mut rec = reading::new_record(cable_id);
    if dtg.is_none() {
        reading.missing("no date-time group in the header: no created date");
    }
    rec.created = dtg.map(|d| d.rfc3339());
    rec.classification = class.as_ref().map(|c| classification_level(&c[1]));
    rec.origin = origin_of(header_text);
    rec.tags = std::mem::take(&mut bf.tags);
    rec.subject = bf.subject.take();
    reading::apply_body_fields(&mut rec, bf);
    reading::apply_header(&mut rec, header_text);

    let partial = text::contains(&full, PARTIAL_EXTRACT);
    rec.redaction = reading::redaction_of(&full, None, partial, None);
    rec.text = full;
    rec.source = reading.source(Format::BareText);
    reading.finish(rec)
}

/// The cable's year: the date-time group's, else the DECL date's less ten years (with a
/// warning, when the classification line gives a station and serial to make an id of).
fn cable_year(
    dtg: Option<dates::Dtg>,
    bf: &fields::BodyFields,
    station_serial: Option<&(String, String)>,
    reading: &mut Reading,
) -> Option<i32> {
    if let Some(d) = dtg {
        return Some(dates::year(d.date));
    }
    let decl_year = bf
        .declassify
        .as_deref()
        .and_then(|d| d.get(..4))
        .and_then(|y| y.parse::<i32>().ok());
    if let Some(y) = decl_year.filter(|_| station_serial.is_some()) {
        reading.malformed(format!(
            "no date-time group: the id's year is guessed as {} from the DECL date less ten years",
            y - 10
        ));
    }
    decl_year.map(|y| y - 10)
}

/// The classification level of the classification line, spelled out
/// (`C O N F I D E N T I A L` → `CONFIDENTIAL`, `UNCLAS` → `UNCLASSIFIED`).
fn classification_level(written: &str) -> String {
    let level: String = written.chars().filter(|ch| *ch != ' ').collect();
    match level.as_str() {
        "UNCLAS" => "UNCLASSIFIED".to_string(),
        "LIMITEDOFFICIALUSE" => "LIMITED OFFICIAL USE".to_string(),
        other => other.to_string(),
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
