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

use super::text::{self, PARTIAL_EXTRACT};
use super::{Format, ParseOutcome, dates, fields, id};
use crate::cable::provenance::{Source, SourceHints};
use crate::finding::{Code, Finding, Severity};
use std::io::{self, BufRead};

/// The longest row kept whole (64 MiB; the longest real cable is far shorter).
pub const MAX_ROW_BYTES: usize = 64 << 20;
/// The release the table comes from.
pub const RELEASE_BUILD: &str = "cablegate-201108300212";
/// When the full release was published.
pub const RELEASE_DATE: &str = "2011-09-01";
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

/// Framing state of the row splitter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a backslash inside a quoted field.
    Escape,
    /// Just after a quote inside a quoted field: the end of the field or a doubled quote.
    AfterQuote,
}

/// Splits a table into rows without reading them: calls `each(number, raw, problems)` for
/// every row, where `problems` are framing problems (unterminated quote, overlong row).
/// Holds at most one row in memory.
///
/// An overlong row's `raw` holds only its first [`MAX_ROW_BYTES`] bytes: for byte ranges of
/// the file use [`split_rows_with_offsets`].
pub fn split_rows<R: BufRead>(
    reader: R,
    mut each: impl FnMut(u64, Vec<u8>, Vec<String>),
) -> io::Result<()> {
    split_rows_limited(reader, MAX_ROW_BYTES, |n, raw, p, _| each(n, raw, p))
}

/// One row of a table as [`split_rows_with_offsets`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRow {
    /// The row's position in the file, from 1.
    pub number: u64,
    /// Where the row starts in the file, in bytes.
    pub offset: u64,
    /// The row's length in the file, line terminator included. The rows' ranges
    /// `offset..offset + len` cover the file exactly, in order, with no gap.
    pub len: u64,
    /// The row's bytes: all `len` of them, except for a row longer than [`MAX_ROW_BYTES`],
    /// whose first bytes only are kept (a problem says so).
    pub raw: Vec<u8>,
    /// Framing problems: unterminated quote, overlong row.
    pub problems: Vec<String>,
}

/// [`split_rows`] with each row's byte range in the file, so that a caller can keep rows as
/// ranges of the file and read them again when needed.
pub fn split_rows_with_offsets<R: BufRead>(
    reader: R,
    mut each: impl FnMut(SplitRow),
) -> io::Result<()> {
    let mut offset = 0u64;
    split_rows_limited(reader, MAX_ROW_BYTES, |number, raw, problems, len| {
        each(SplitRow {
            number,
            offset,
            len,
            raw,
            problems,
        });
        offset += len;
    })
}

/// [`split_rows`] with a given longest row.
fn split_rows_limited<R: BufRead>(
    mut reader: R,
    max_row: usize,
    mut each: impl FnMut(u64, Vec<u8>, Vec<String>, u64),
) -> io::Result<()> {
    let mut row: Vec<u8> = Vec::new();
    let mut state = State::FieldStart;
    let mut number: u64 = 0;
    // The table's own number of the previous row, to recognise the start of the next one.
    let mut last_col1: Option<u64> = None;
    let mut field_index = 0usize;
    let mut col1: Vec<u8> = Vec::new();
    // Start of a candidate next row inside a quoted field (after a newline), and its prefix.
    let mut candidate: Option<usize> = None;
    let mut prefix: Vec<u8> = Vec::new();
    // After an overlong row: skipping to the next row start.
    let mut skipping = false;
    let mut skipped: u64 = 0;
    let mut pending: Option<(u64, Vec<u8>, Vec<String>)> = None;
    let mut at_line_start = false;
    let mut problems: Vec<String> = Vec::new();
    // `prefix` is worked out once per row: it depends only on the previous row's number and
    // this row's first field, which is complete once the second field starts. (Working it out
    // at every newline of the body would be a large part of the time spent splitting the table.)
    let mut prefix_is_this_rows = false;

    let expected_prefix = |last: Option<u64>, col1: &[u8]| -> Vec<u8> {
        let this = std::str::from_utf8(col1)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .or(last.map(|l| l + 1));
        match this {
            Some(n) => format!("\"{}\",\"", n + 1).into_bytes(),
            None => Vec::new(),
        }
    };

    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        let mut i = 0;
        while i < len {
            let b = buf[i];
            i += 1;
            if skipping {
                // Look only for a line that starts like the next row.
                if row.is_empty() && !at_line_start {
                    skipped += 1;
                    at_line_start = b == b'\n';
                    continue;
                }
                row.push(b);
                if !prefix.starts_with(&row) {
                    skipped += row.len() as u64;
                    row.clear();
                    at_line_start = b == b'\n';
                    continue;
                }
                if row.len() == prefix.len() {
                    skipping = false;
                    if let Some((n, raw, mut p)) = pending.take() {
                        p.push(format!(
                            "{skipped} bytes of the row after its first {} were skipped",
                            raw.len()
                        ));
                        let total = raw.len() as u64 + skipped;
                        each(n, raw, p, total);
                    }
                    skipped = 0;
                    let start = std::mem::take(&mut row);
                    state = State::FieldStart;
                    field_index = 0;
                    col1.clear();
                    prefix_is_this_rows = false;
                    candidate = None;
                    for &c in &start {
                        row.push(c);
                        step(&mut state, c, &mut field_index, &mut col1);
                    }
                }
                continue;
            }
            // Fast path: the run of ordinary bytes inside a quoted field (most of the file),
            // copied at once; never past MAX_ROW_BYTES (the byte path reports that).
            if state == State::Quoted && field_index > 0 && candidate.is_none() {
                let from = i - 1;
                let run = memchr::memchr3(b'"', b'\\', b'\n', &buf[from..])
                    .unwrap_or(len - from)
                    .min(max_row.saturating_sub(row.len()));
                if run > 0 {
                    row.extend_from_slice(&buf[from..from + run]);
                    i = from + run;
                    continue;
                }
            }
            row.push(b);
            let prev_state = state;
            let end = step(&mut state, b, &mut field_index, &mut col1);
            if end {
                number += 1;
                last_col1 = col1_number(&col1).or(last_col1.map(|l| l + 1));
                let r = std::mem::take(&mut row);
                // Rows are of a size: starting the next one at this one's spares most regrowth.
                row.reserve(r.len().min(1 << 20));
                let l = r.len() as u64;
                each(number, r, std::mem::take(&mut problems), l);
                state = State::FieldStart;
                field_index = 0;
                col1.clear();
                prefix_is_this_rows = false;
                candidate = None;
                continue;
            }
            // Inside a quoted field: a newline followed by the next row's start ends the row.
            if let Some(c) = candidate {
                let k = row.len() - c;
                if k > prefix.len() || row[c + k - 1] != prefix[k - 1] {
                    candidate = None;
                } else if k == prefix.len() {
                    let next_start = row.split_off(c);
                    number += 1;
                    let mut p = std::mem::take(&mut problems);
                    p.push(
                        "unterminated quoted field: the row ends before the next row's start"
                            .to_string(),
                    );
                    last_col1 = col1_number(&col1).or(last_col1.map(|l| l + 1));
                    let r = std::mem::take(&mut row);
                    let l = r.len() as u64;
                    each(number, r, p, l);
                    state = State::FieldStart;
                    field_index = 0;
                    col1.clear();
                    prefix_is_this_rows = false;
                    candidate = None;
                    for &c in &next_start {
                        row.push(c);
                        step(&mut state, c, &mut field_index, &mut col1);
                    }
                    continue;
                }
            }
            if b == b'\n' && matches!(prev_state, State::Quoted | State::Escape) {
                if !prefix_is_this_rows {
                    prefix = expected_prefix(last_col1, &col1);
                    prefix_is_this_rows = field_index > 0;
                }
                // A candidate is followed byte by byte until it fails; when the buffer already
                // shows it cannot be the next row's start (nearly every newline of a body),
                // there is none to follow.
                let ahead = &buf[i..];
                let surely_not = ahead.len() >= prefix.len() && !ahead.starts_with(&prefix);
                if !prefix.is_empty() && !surely_not {
                    candidate = Some(row.len());
                }
            }
            if row.len() > max_row {
                number += 1;
                let mut p = std::mem::take(&mut problems);
                p.push(format!(
                    "row is longer than {max_row} bytes: only its first bytes are kept and the rest up to the next row is skipped"
                ));
                prefix = expected_prefix(last_col1, &col1);
                last_col1 = col1_number(&col1).or(last_col1.map(|l| l + 1));
                // Handed over once its end is found, with its true length.
                pending = Some((number, std::mem::take(&mut row), p));
                state = State::FieldStart;
                field_index = 0;
                col1.clear();
                prefix_is_this_rows = false;
                candidate = None;
                skipping = true;
                at_line_start = b == b'\n';
            }
        }
        reader.consume(len);
    }
    if skipping {
        skipped += row.len() as u64;
        row.clear();
        if let Some((n, raw, mut p)) = pending.take() {
            p.push(format!(
                "{skipped} bytes of the row after its first {} were skipped, up to the end of the file",
                raw.len()
            ));
            let total = raw.len() as u64 + skipped;
            each(n, raw, p, total);
        }
    } else if !row.is_empty() {
        number += 1;
        if matches!(state, State::Quoted | State::Escape) {
            problems.push("unterminated quoted field at the end of the file".to_string());
        }
        let l = row.len() as u64;
        each(number, row, problems, l);
    }
    Ok(())
}

fn col1_number(col1: &[u8]) -> Option<u64> {
    std::str::from_utf8(col1).ok()?.trim().parse().ok()
}

/// Advances the framing state by one byte; true at the end of a row. Collects the first
/// field's bytes in `col1`.
fn step(state: &mut State, b: u8, field_index: &mut usize, col1: &mut Vec<u8>) -> bool {
    let mut content = true;
    match *state {
        State::FieldStart | State::Unquoted => match b {
            b'"' if *state == State::FieldStart => {
                *state = State::Quoted;
                content = false;
            }
            b',' => {
                *field_index += 1;
                *state = State::FieldStart;
                content = false;
            }
            b'\n' => return true,
            _ => *state = State::Unquoted,
        },
        State::Quoted => match b {
            b'\\' => *state = State::Escape,
            b'"' => {
                *state = State::AfterQuote;
                content = false;
            }
            _ => {}
        },
        State::Escape => *state = State::Quoted,
        State::AfterQuote => match b {
            b'"' => *state = State::Quoted,
            b',' => {
                *field_index += 1;
                *state = State::FieldStart;
                content = false;
            }
            b'\n' => return true,
            b'\r' => content = false,
            _ => *state = State::Quoted,
        },
    }
    if content && *field_index == 0 && col1.len() < 24 {
        col1.push(b);
    }
    false
}

/// `text` with CRLF line ends made LF, reusing it when it has none (most rows: copying every
/// header and body would be a cost of its own in `bundle`).
fn lf_line_ends(text: String) -> String {
    match memchr::memmem::find(text.as_bytes(), b"\r\n") {
        Some(_) => text.replace("\r\n", "\n"),
        None => text,
    }
}

/// Splits one row's bytes into its fields, undoing the quoting. `Err` names what is wrong.
pub fn row_fields(raw: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let mut fields: Vec<Vec<u8>> = Vec::with_capacity(FIELDS);
    let mut field: Vec<u8> = Vec::new();
    let mut state = State::FieldStart;
    let mut stray = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        match state {
            State::FieldStart | State::Unquoted => match b {
                b'"' if state == State::FieldStart => state = State::Quoted,
                b',' => {
                    fields.push(std::mem::take(&mut field));
                    state = State::FieldStart;
                }
                _ => {
                    field.push(b);
                    state = State::Unquoted;
                }
            },
            State::Quoted => match b {
                b'\\' => state = State::Escape,
                b'"' => state = State::AfterQuote,
                _ => {
                    // Copy the run up to the next special byte at once.
                    let run = raw[i - 1..]
                        .iter()
                        .position(|&c| c == b'\\' || c == b'"')
                        .unwrap_or(raw.len() - (i - 1));
                    field.extend_from_slice(&raw[i - 1..i - 1 + run]);
                    i += run - 1;
                }
            },
            State::Escape => {
                if b != b'"' && b != b'\\' {
                    field.push(b'\\');
                }
                field.push(b);
                state = State::Quoted;
            }
            State::AfterQuote => match b {
                b'"' => {
                    field.push(b'"');
                    state = State::Quoted;
                }
                b',' => {
                    fields.push(std::mem::take(&mut field));
                    state = State::FieldStart;
                }
                b'\r' => {}
                _ => {
                    stray = true;
                    field.push(b'"');
                    field.push(b);
                    state = State::Quoted;
                }
            },
        }
    }
    match state {
        State::Quoted | State::Escape => return Err("unterminated quoted field".to_string()),
        _ => fields.push(field),
    }
    if stray {
        return Err("a quote inside a quoted field is not escaped".to_string());
    }
    if fields.len() != FIELDS {
        return Err(format!("{} fields, expected {FIELDS}", fields.len()));
    }
    Ok(fields)
}

fn finding(code: Code, name: &str, msg: impl Into<String>) -> Finding {
    Finding::new(code, name, msg)
}

fn error(code: Code, name: &str, msg: impl Into<String>) -> Finding {
    let mut f = Finding::new(code, name, msg);
    f.severity = Severity::Error;
    f
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

/// Reads one row of the table (its raw bytes, as [`BulkRow::raw`]) as a cable. Findings name
/// `name` only; [`read_rows`] adds the row number. Never panics.
pub fn parse_row(raw: &[u8], name: &str) -> ParseOutcome {
    let mut findings = Vec::new();
    if raw.iter().all(u8::is_ascii_whitespace) {
        findings.push(error(Code::MalformedRow, name, "empty row; no record"));
        return ParseOutcome {
            record: None,
            findings,
        };
    }
    let fields = match row_fields(raw) {
        Ok(f) => f,
        Err(e) => {
            findings.push(error(
                Code::MalformedRow,
                name,
                format!("malformed cables.csv row ({e}); no record"),
            ));
            return ParseOutcome {
                record: None,
                findings,
            };
        }
    };
    let mut encoding = "utf-8";
    let mut encoding_findings = Vec::new();
    let texts: Vec<String> = fields
        .iter()
        .map(|f| {
            let d = text::decode(f);
            if encoding_findings.is_empty() {
                encoding_findings = d.findings(name, "row");
                if !encoding_findings.is_empty() {
                    encoding = d.encoding;
                }
            }
            d.text.into_owned()
        })
        .collect();
    findings.append(&mut encoding_findings);
    let [
        row_no,
        date,
        raw_id,
        origin,
        classification,
        refs,
        header,
        body,
    ]: [String; FIELDS] = match texts.try_into() {
        Ok(a) => a,
        Err(_) => unreachable!("row_fields checks the field count"),
    };
    if row_no.trim().parse::<u64>().is_err() {
        findings.push(finding(
            Code::MalformedField,
            name,
            format!("row number {row_no:?} is not a number"),
        ));
    }

    // Id.
    let Some(mut rec) = super::start_record(Some(&raw_id), name, &mut findings) else {
        return ParseOutcome {
            record: None,
            findings,
        };
    };

    let header = lf_line_ends(header);
    let body = lf_line_ends(body);

    // Created.
    let table = table_date(&date);
    let table_day = table.as_deref().and_then(dates::page_date);
    if date.trim().is_empty() {
        findings.push(finding(Code::MissingField, name, "no date"));
    } else if table_day.is_none() {
        findings.push(finding(
            Code::MalformedField,
            name,
            format!("date {:?} cannot be read", date.trim()),
        ));
    }
    let dtg = dates::find_dtg(&header);
    let table_time = table.as_deref().and_then(dates::page_datetime);
    rec.created = match (dtg, table_day) {
        (Some(d), Some(p)) if dates::days_apart(d.date, p) > 40 => {
            findings.push(finding(
                Code::MalformedField,
                name,
                format!(
                    "header date-time group {} is far from the table's date {}; the table's date is used",
                    d.rfc3339(),
                    dates::ymd(p)
                ),
            ));
            table_time.clone()
        }
        (Some(d), _) => Some(d.rfc3339()),
        (None, _) => table_time.clone(),
    };
    if !date.trim().is_empty() {
        rec.created_original = Some(date.trim().to_string());
    }
    let year = table_day
        .map(dates::year)
        .or_else(|| dtg.map(|d| dates::year(d.date)))
        .or_else(|| id::year_of(&rec.id));

    rec.classification = Some(classification.trim().to_string()).filter(|s| !s.is_empty());
    if rec.classification.is_none() {
        findings.push(finding(Code::MissingField, name, "no classification"));
    }
    rec.origin = Some(origin.trim().to_string()).filter(|s| !s.is_empty());
    if rec.origin.is_none() {
        findings.push(finding(Code::MissingField, name, "no origin"));
    }
    if body.trim().is_empty() {
        findings.push(finding(Code::MissingField, name, "no cable text"));
    }

    let mut bf = fields::read(&body, year);
    super::caveats_from_classification(&mut rec);
    rec.tags = std::mem::take(&mut bf.tags);
    rec.subject = bf.subject.take();
    let mut table_refs: Vec<String> = Vec::new();
    for r in refs.split('|').map(str::trim).filter(|r| !r.is_empty()) {
        match id::canonicalize(r) {
            Some(c) if !table_refs.contains(&c.id) => table_refs.push(c.id),
            Some(_) => {}
            None => findings.push(finding(
                Code::MalformedId,
                name,
                format!("referenced id {r:?} cannot be read as an id"),
            )),
        }
    }
    let text_refs = bf.references_text.clone();
    super::apply_body_fields(&mut rec, bf);
    if !table_refs.is_empty() {
        table_refs.extend(text_refs);
        rec.references = table_refs;
    }
    super::apply_header(&mut rec, &header);

    let mut full = String::with_capacity(header.len() + body.len() + 2);
    full.push_str(header.trim_end_matches([' ', '\t', '\n']));
    if !full.is_empty() && !body.is_empty() {
        full.push_str("\n\n");
    }
    full.push_str(&body);
    rec.redaction = super::redaction_of(&full, false, text::contains(&full, PARTIAL_EXTRACT), None);
    rec.text = full;
    rec.released = Some(RELEASE_DATE.to_string());
    rec.source = Source {
        publisher: Some("WikiLeaks".to_string()),
        url: None,
        released: Some(RELEASE_DATE.to_string()),
        released_original: None,
        upstream_url: None,
        site_build: Some(RELEASE_BUILD.to_string()),
        retrieved: None,
        encoding: Some(encoding.to_string()),
        format: Some(Format::CablesCsv.as_str().to_string()),
    };
    ParseOutcome {
        record: Some(rec),
        findings,
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
