//! Reader for the bulk table of the 2011 full release, `cables.csv`
//! (`cablegate-201108300212.7z`, released 2011-09-01).
//!
//! The table has no header row. Each row has eight fields: row number, date `M/D/YYYY H:MM`,
//! reference id, origin, classification, referenced ids separated by `|`, routing header and
//! body. Fields are quoted with `"`; a quote inside a field is written `\"` (a backslash is
//! written `\\`; a backslash before any other byte stands for itself, and `""` is also read as
//! a quote). Quoted fields may hold newlines. The file is about 1.7 GB for 251,287 cables, so
//! it is **streamed**: [`read_rows`] reads one row at a time from any [`BufRead`] and hands
//! it to a callback; at most one row is held in memory (and never more than
//! [`MAX_ROW_BYTES`]).
//!
//! Each [`BulkRow`] carries the row's exact bytes as they are in the file, line terminator
//! included, so that the rows' `raw` bytes concatenated give back the file byte for byte (except
//! for bytes skipped after a row longer than [`MAX_ROW_BYTES`], which a finding reports).
//!
//! A malformed row (wrong number of fields, an unterminated quote, an unreadable id) becomes
//! findings naming the file and the row (`entry` = `row N`), and reading goes on with the next
//! row. An unterminated quote would otherwise swallow the rest of the file: a row ends early
//! at a newline followed by the start of the next row (`"N+1","`).
//!
//! Field rules: `created` is the routing header's date-time group when there is one (and it is
//! within 40 days of the table's date), else the table's date and time (real times, in UTC).
//! `references` are the table's referenced ids (canonicalized), then the body's non-cable
//! references; without referenced ids in the table, the body's REF lines. Provenance:
//! publisher `WikiLeaks`, released `2011-09-01`, site build `cablegate-201108300212`, format
//! `cables-csv`, unless the hints say otherwise.

use super::reading::{self, Reading};
use super::text::{self, PARTIAL_EXTRACT};
use super::{CableRecord, Format, ParseOutcome, dates, fields, id};
use crate::cable::provenance::{Source, SourceHints};
use crate::finding::{Code, Finding};
use std::io::{self, BufRead};

mod split;

#[cfg(test)]
use split::split_rows_limited;
pub use split::{RowError, SplitRow, row_fields, split_rows, split_rows_with_offsets};

/// The longest row kept whole (64 MiB; the longest real cable is far shorter).
pub const MAX_ROW_BYTES: usize = 64 << 20;
/// The release the table comes from.
pub const RELEASE_BUILD: &str = "cablegate-201108300212";
/// When the full release was published.
pub const RELEASE_DATE: &str = "2011-09-01";
/// The number of fields of a row.
const FIELDS: usize = 8;

/// One row of the table.
#[derive(Debug, Clone)]
pub struct BulkRow {
    /// The row's position in the file, from 1 (not the table's own row-number column).
    pub number: u64,
    /// Where the row starts in the file, in bytes.
    pub offset: u64,
    /// The row's length in the file, line terminator included (`raw.len()`, except for a row
    /// longer than [`MAX_ROW_BYTES`]).
    pub len: u64,
    /// The row's exact bytes as they are in the file, line terminator included.
    pub raw: Vec<u8>,
    /// The row read as a cable; its findings name the file and carry `entry` = `row N`.
    pub outcome: ParseOutcome,
}

/// What a pass over a table found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkSummary {
    /// Rows handed to the callback.
    pub rows: u64,
    /// Rows that gave no record.
    pub without_record: u64,
    /// Bytes read.
    pub bytes: u64,
    /// The longest row, in bytes.
    pub longest_row: usize,
}

/// Reads a `cables.csv` table from `reader`, one row at a time, calling `each` with every row
/// in file order. `name` names the file in findings; `hints` are applied over each record's
/// provenance. Only an I/O error stops the reading; a malformed row is reported in its
/// [`BulkRow::outcome`] and the next row is read. Never panics, whatever the bytes.
pub fn read_rows<R: BufRead>(
    reader: R,
    name: &str,
    hints: &SourceHints,
    mut each: impl FnMut(BulkRow),
) -> io::Result<BulkSummary> {
    let mut summary = BulkSummary::default();
    split_rows_with_offsets(reader, |row| {
        let SplitRow {
            number,
            offset,
            len,
            raw,
            problems,
        } = row;
        let mut outcome = parse_row(&raw, name);
        for p in problems {
            outcome
                .findings
                .insert(0, Finding::new(Code::BrokenMarkup, name, p));
        }
        for f in &mut outcome.findings {
            f.entry = Some(format!("row {number}"));
        }
        if let Some(r) = outcome.record.as_mut() {
            hints.apply(&mut r.source);
        }
        summary.rows += 1;
        summary.bytes += len;
        summary.longest_row = summary.longest_row.max(raw.len());
        if outcome.record.is_none() {
            summary.without_record += 1;
        }
        each(BulkRow {
            number,
            offset,
            len,
            raw,
            outcome,
        });
    })?;
    Ok(summary)
}

/// `text` with CRLF line ends made LF, reusing it when it has none (most rows: copying every
/// header and body would be a cost of its own in `bundle`).
fn lf_line_ends(text: String) -> String {
    match memchr::memmem::find(text.as_bytes(), b"\r\n") {
        Some(_) => text.replace("\r\n", "\n"),
        None => text,
    }
}

/// Reads the table's date `M/D/YYYY H:MM` as `(YYYY-MM-DD HH:MM, ok)`.
fn table_date(s: &str) -> Option<String> {
    let s = s.trim();
    let (date, time) = s.split_once(' ').unwrap_or((s, "0:00"));
    let mut d = date.split('/');
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let y: u32 = d.next()?.parse().ok()?;
    if d.next().is_some() || y < 1000 {
        return None;
    }
    let (h, min) = time.trim().split_once(':')?;
    let h: u32 = h.parse().ok()?;
    let min: u32 = min.parse().ok()?;
    Some(format!("{y:04}-{m:02}-{day:02} {h:02}:{min:02}"))
}

/// The eight fields of a row, decoded.
struct RowTexts {
    row_no: String,
    date: String,
    id: String,
    origin: String,
    classification: String,
    refs: String,
    header: String,
    body: String,
}

/// Reads one row of the table (its raw bytes, as [`BulkRow::raw`]) as a cable. Findings name
/// `name` only; [`read_rows`] adds the row number. Never panics.
pub fn parse_row(raw: &[u8], name: &str) -> ParseOutcome {
    let mut reading = Reading::new(name);
    let Some(row) = row_texts(raw, &mut reading) else {
        return reading.no_record();
    };
    if row.row_no.trim().parse::<u64>().is_err() {
        reading.malformed(format!("row number {:?} is not a number", row.row_no));
    }
    let Some(mut rec) = reading.start_record(Some(&row.id)) else {
        return reading.no_record();
    };
    let header = lf_line_ends(row.header);
    let body = lf_line_ends(row.body);
    let year = read_created(&mut rec, &row.date, &header, &mut reading);
    rec.classification = Some(row.classification.trim().to_string()).filter(|s| !s.is_empty());
    if rec.classification.is_none() {
        reading.missing("no classification");
    }
    rec.origin = Some(row.origin.trim().to_string()).filter(|s| !s.is_empty());
    if rec.origin.is_none() {
        reading.missing("no origin");
    }
    if body.trim().is_empty() {
        reading.missing("no cable text");
    }
    read_body_fields(&mut rec, &body, year, &row.refs, &mut reading);
    reading::apply_header(&mut rec, &header);

    let full = reading::join_header_and_body(&header, &[' ', '\t', '\n'], &body);
    let partial = text::contains(&full, PARTIAL_EXTRACT);
    rec.redaction = reading::redaction_of(&full, None, partial, None);
    rec.text = full;
    rec.released = Some(RELEASE_DATE.to_string());
    rec.source = Source {
        publisher: Some("WikiLeaks".to_string()),
        released: Some(RELEASE_DATE.to_string()),
        site_build: Some(RELEASE_BUILD.to_string()),
        ..reading.source(Format::CablesCsv)
    };
    reading.finish(rec)
}

/// The row's fields, unquoted and decoded; `None` (with an error finding) for an empty or
/// malformed row.
fn row_texts(raw: &[u8], reading: &mut Reading) -> Option<RowTexts> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        reading.error(Code::MalformedRow, "empty row; no record");
        return None;
    }
    let fields = match row_fields(raw) {
        Ok(f) => f,
        Err(e) => {
            reading.error(
                Code::MalformedRow,
                format!("malformed cables.csv row ({e}); no record"),
            );
            return None;
        }
    };
    let mut texts = fields
        .iter()
        .map(|f| reading.decode_part(f, "row").into_owned());
    let mut next = || texts.next().unwrap_or_default();
    Some(RowTexts {
        row_no: next(),
        date: next(),
        id: next(),
        origin: next(),
        classification: next(),
        refs: next(),
        header: next(),
        body: next(),
    })
}

/// Sets `created` from the header's date-time group, or the table's date and time when the
/// group is missing or far from it. Returns the cable's year.
fn read_created(
    rec: &mut CableRecord,
    date: &str,
    header: &str,
    reading: &mut Reading,
) -> Option<i32> {
    let date = date.trim();
    let table = table_date(date);
    let table_day = table.as_deref().and_then(dates::page_date);
    if date.is_empty() {
        reading.missing("no date");
    } else if table_day.is_none() {
        reading.malformed(format!("date {date:?} cannot be read"));
    }
    let dtg = dates::find_dtg(header);
    let table_time = table.as_deref().and_then(dates::page_datetime);
    rec.created = match (dtg, table_day) {
        (Some(d), Some(p)) if dates::days_apart(d.date, p) > 40 => {
            reading.malformed(format!(
                "header date-time group {} is far from the table's date {}; the table's date is used",
                d.rfc3339(),
                dates::ymd(p)
            ));
            table_time
        }
        (Some(d), _) => Some(d.rfc3339()),
        (None, _) => table_time,
    };
    if !date.is_empty() {
        rec.created_original = Some(date.to_string());
    }
    table_day
        .map(dates::year)
        .or_else(|| dtg.map(|d| dates::year(d.date)))
        .or_else(|| id::year_of(&rec.id))
}

/// The body's fields; the references are the table's referenced ids then the body's non-cable
/// references, or the body's REF lines when the table names none.
fn read_body_fields(
    rec: &mut CableRecord,
    body: &str,
    year: Option<i32>,
    refs: &str,
    reading: &mut Reading,
) {
    let mut bf = fields::read(body, year);
    reading::caveats_from_classification(rec);
    rec.tags = std::mem::take(&mut bf.tags);
    rec.subject = bf.subject.take();
    let mut table_refs: Vec<String> = Vec::new();
    for r in refs.split('|').map(str::trim).filter(|r| !r.is_empty()) {
        match id::canonicalize(r) {
            Some(c) if !table_refs.contains(&c.id) => table_refs.push(c.id),
            Some(_) => {}
            None => reading.note(
                Code::MalformedId,
                format!("referenced id {r:?} cannot be read as an id"),
            ),
        }
    }
    let text_refs = bf.references_text.clone();
    reading::apply_body_fields(rec, bf);
    if !table_refs.is_empty() {
        table_refs.extend(text_refs);
        rec.references = table_refs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[u8]) -> Vec<(u64, Vec<u8>, Vec<String>)> {
        let mut out = Vec::new();
        split_rows(data, |n, raw, p| out.push((n, raw, p))).unwrap();
        out
    }

    #[test]
    fn splits_and_unquotes() {
        let data = b"\"1\",\"1/2/2010 3:04\",\"10X1\",\"E\",\"C\",\"\",\"H\",\"a \\\"q\\\" \nb\"\n\"2\",\"1/2/2010 3:04\",\"10X2\",\"E\",\"C\",\"\",\"H\",\"B\"\n";
        let r = rows(data);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].1.iter().chain(&r[1].1).copied().collect::<Vec<u8>>(),
            data
        );
        let f = row_fields(&r[0].1).unwrap();
        assert_eq!(f[7], b"a \"q\" \nb");
        assert_eq!(
            table_date("12/28/1966 18:48").as_deref(),
            Some("1966-12-28 18:48")
        );
    }

    #[test]
    fn crlf_line_ends_in_header_and_body_read_as_lf() {
        let row = |nl: &str| {
            format!(
                "\"1\",\"1/2/2010 3:04\",\"10STATE1\",\"Secretary of State\",\"UNCLASSIFIED\",\"\",\
                 \"R 020304Z JAN 10{nl}FM SECSTATE WASHDC\",\"UNCLAS STATE 000001{nl}{nl}\
                 TAGS: PREL{nl}SUBJECT: LINE ENDS{nl}{nl}1. (U) Text.{nl}\"\n"
            )
        };
        let lf = parse_row(row("\n").as_bytes(), "t");
        let crlf = parse_row(row("\r\n").as_bytes(), "t");
        let (lf, crlf) = (lf.record.expect("a record"), crlf.record.expect("a record"));
        assert_eq!(crlf.text, lf.text);
        assert!(!crlf.text.contains('\r'));
        assert_eq!(lf.subject.as_deref(), Some("LINE ENDS"));
        assert_eq!(crlf.subject, lf.subject);
        assert_eq!(crlf.created, lf.created);
    }

    #[test]
    fn overlong_row_is_cut_and_skipped() {
        let data = b"\"1\",\"d\",\"10X1\",\"E\",\"C\",\"\",\"H\",\"a very long body indeed\nwith lines\nand more\"\n\"2\",\"d\",\"10X2\",\"E\",\"C\",\"\",\"H\",\"B\"\n";
        let mut out = Vec::new();
        split_rows_limited(&data[..], 40, |n, raw, p, len| out.push((n, raw, p, len))).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].1.len(), 41);
        assert!(out[0].2[0].contains("longer than 40"));
        assert!(out[0].2[1].contains("skipped"));
        assert!(out[1].1.starts_with(b"\"2\",\""));
        assert!(out[1].2.is_empty());
        // The lengths cover the file exactly.
        assert_eq!(out[0].3 + out[1].3, data.len() as u64);
        assert_eq!(out[1].3, out[1].1.len() as u64);
    }

    #[test]
    fn rows_are_the_same_whatever_the_read_buffer_size() {
        // Newlines inside bodies, a body line that starts like a row but is not the next one,
        // an unterminated quote resynced at the next row, escapes: each row's end is decided
        // by looking ahead in the buffer when it can and byte by byte when the buffer ends
        // first, so the buffer's size must not change the result.
        let data: &[u8] = b"\"1\",\"d\",\"10X1\",\"E\",\"C\",\"\",\"H\",\"a \\\"q\\\"\n\"3\",\"x\nb\"\n\
\"2\",\"d\",\"10X2\",\"E\",\"C\",\"\",\"H\",\"never closed\n\"2\",\"no\n\"3\",\"d\",\"10X3\",\"E\",\"C\",\"\",\"H\",\"B\"\n\
\"4\",\"d\",\"10X4\",\"E\",\"C\",\"\",\"H\",\"end\n\"5\"";
        let whole = rows(data);
        assert_eq!(whole.len(), 4, "{whole:?}");
        assert!(whole[1].2[0].contains("unterminated"), "{whole:?}");
        for capacity in 1..=24 {
            let mut pieces = Vec::new();
            let reader = io::BufReader::with_capacity(capacity, data);
            split_rows(reader, |n, raw, p| pieces.push((n, raw, p))).unwrap();
            assert_eq!(pieces, whole, "buffer of {capacity} bytes");
        }
    }

    #[test]
    fn unterminated_quote_resyncs() {
        let data = b"\"1\",\"d\",\"10X1\",\"E\",\"C\",\"\",\"H\",\"never closed\n\"2\",\"d\",\"10X2\",\"E\",\"C\",\"\",\"H\",\"B\"\n";
        let r = rows(data);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(!r[0].2.is_empty());
        assert!(r[1].1.starts_with(b"\"2\",\""));
        assert!(r[1].2.is_empty());
    }
}
