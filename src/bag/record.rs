//! Stored records in both archive formats: format 1 writes each capture's record
//! (`cablekeep-record/1`) pretty-printed with the cable's text; format 2 writes it compact
//! (`cablekeep-record/2`) and, where the text can be taken back out of the raw capture, leaves
//! the text out and says where it lies (`capture.text_at`, FORMAT.md section 3.2). Reading a
//! record of either format gives the same [`StoredRecord`]: the record/1 of that capture.

use super::capture::StoredRecord;
use crate::cable::{Format, RECORD_SCHEMA};
use crate::hash;
use serde::{Deserialize, Serialize};

/// The schema name of a format 2 record.
pub const RECORD_SCHEMA_2: &str = "cablekeep-record/2";

/// The archive formats cablekeep writes (FORMAT.md section 8).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ArchiveFormat {
    /// Format 1: records pretty-printed, each repeating the cable's text.
    V1,
    /// Format 2: compact records that leave out a text the raw capture holds.
    #[default]
    V2,
}

impl ArchiveFormat {
    /// The value of `Cablekeep-Format` in `bag-info.txt`.
    pub fn bag_info_value(self) -> &'static str {
        match self {
            ArchiveFormat::V1 => "cablekeep archive format 1",
            ArchiveFormat::V2 => "cablekeep archive format 2",
        }
    }

    /// The format a `Cablekeep-Format` value names; None for a format this release does not
    /// know.
    pub fn from_bag_info(value: &str) -> Option<ArchiveFormat> {
        [ArchiveFormat::V1, ArchiveFormat::V2]
            .into_iter()
            .find(|f| f.bag_info_value() == value.trim())
    }

    /// How the format deflates payload entries (FORMAT.md section 2.1).
    pub fn payload_deflate(self) -> super::EntryDeflate {
        match self {
            ArchiveFormat::V1 => super::EntryDeflate::ZlibRs,
            ArchiveFormat::V2 => super::EntryDeflate::Libdeflate,
        }
    }

    /// The format's number: 1 or 2.
    pub fn number(self) -> u32 {
        match self {
            ArchiveFormat::V1 => 1,
            ArchiveFormat::V2 => 2,
        }
    }
}

/// How the bytes of a [`TextPart::Range`] become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextDecoding {
    /// The bytes are UTF-8 and taken as they are.
    #[serde(rename = "utf-8")]
    Utf8,
    /// The bytes are UTF-8 inside a quoted field of a `cables.csv` row: `\"` and `""` stand for
    /// `"`, `\\` for `\`, and CR LF line ends become LF.
    #[serde(rename = "cables-csv")]
    CablesCsv,
}

/// A piece of a record's text: a byte range of the raw capture, or text given as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TextPart {
    /// `[offset, length]` in bytes, into the raw capture.
    Range([u64; 2]),
    /// Text that is not in the raw bytes as such (the blank line between a row's header and body).
    Literal(String),
}

/// Where a format 2 record's text lies in its raw capture: the text is the parts, in order,
/// each range decoded as `decoding` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextAt {
    /// How the ranges' bytes are decoded.
    pub decoding: TextDecoding,
    /// The pieces of the text, in order.
    pub parts: Vec<TextPart>,
}

impl TextAt {
    /// The text these parts make of `raw`, or why they make none (a range outside the raw bytes,
    /// bytes that are not UTF-8).
    pub fn rebuild(&self, raw: &[u8]) -> Result<String, RecordProblem> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                TextPart::Literal(s) => text.push_str(s),
                TextPart::Range([offset, len]) => {
                    let bytes = range_of(raw, *offset, *len)?;
                    let piece = std::str::from_utf8(bytes).map_err(|_| {
                        RecordProblem::Text(format!("text range [{offset}, {len}] is not UTF-8"))
                    })?;
                    match self.decoding {
                        TextDecoding::Utf8 => text.push_str(piece),
                        TextDecoding::CablesCsv => push_csv_field(&mut text, piece),
                    }
                }
            }
        }
        Ok(text)
    }

    /// Where `text` lies in `raw`, as a reader of `format` took it from there; None when it
    /// cannot be said exactly (the record then keeps its text). Every answer is checked: the
    /// parts rebuild `text` exactly.
    pub fn locate(raw: &[u8], text: &str, format: Option<Format>) -> Option<TextAt> {
        let rebuilds = |at: &TextAt| at.rebuild(raw).is_ok_and(|rebuilt| rebuilt == text);
        let csv = (format == Some(Format::CablesCsv))
            .then(|| csv_text_at(raw))
            .flatten();
        csv.filter(rebuilds)
            .or_else(|| verbatim_text_at(raw, text).filter(rebuilds))
    }
}

fn range_of(raw: &[u8], offset: u64, len: u64) -> Result<&[u8], RecordProblem> {
    let outside = || {
        RecordProblem::Text(format!(
            "text range [{offset}, {len}] lies outside the raw capture ({} bytes)",
            raw.len()
        ))
    };
    let start = usize::try_from(offset).map_err(|_| outside())?;
    let end = offset
        .checked_add(len)
        .and_then(|e| usize::try_from(e).ok())
        .ok_or_else(outside)?;
    raw.get(start..end).ok_or_else(outside)
}

/// Appends a `cables.csv` field's quoted content, unescaped, with CR LF made LF (as the
/// table's reader reads it).
fn push_csv_field(text: &mut String, field: &str) {
    let start = text.len();
    let mut rest = field;
    while let Some(i) = memchr::memchr2(b'\\', b'"', rest.as_bytes()) {
        text.push_str(&rest[..i]);
        let next = rest.as_bytes().get(i + 1).copied();
        match (rest.as_bytes()[i], next) {
            (b'\\', Some(c @ (b'"' | b'\\'))) | (b'"', Some(c @ b'"')) => {
                text.push(c as char);
                rest = &rest[i + 2..];
            }
            (c, _) => {
                text.push(c as char);
                rest = &rest[i + 1..];
            }
        }
    }
    text.push_str(rest);
    if memchr::memmem::find(&text.as_bytes()[start..], b"\r\n").is_some() {
        let lf = text[start..].replace("\r\n", "\n");
        text.truncate(start);
        text.push_str(&lf);
    }
}

/// The text of a `cables.csv` row: its header field (trailing white space trimmed), a blank
/// line, its body field.
fn csv_text_at(raw: &[u8]) -> Option<TextAt> {
    let fields = quoted_field_spans(raw)?;
    let (header, body) = (fields.get(6)?, fields.get(7)?);
    let mut header_end = header.1;
    while header_end > header.0 && matches!(raw[header_end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        header_end -= 1;
    }
    let mut parts = Vec::new();
    if header_end > header.0 {
        parts.push(range_part(header.0, header_end));
    }
    if body.1 > body.0 {
        if !parts.is_empty() {
            parts.push(TextPart::Literal("\n\n".to_string()));
        }
        parts.push(range_part(body.0, body.1));
    }
    Some(TextAt {
        decoding: TextDecoding::CablesCsv,
        parts,
    })
}

fn range_part(start: usize, end: usize) -> TextPart {
    TextPart::Range([start as u64, (end - start) as u64])
}

/// The byte spans of a row's fields' contents (inside their quotes); None when a field is not
/// quoted or the row does not end where its last field does.
fn quoted_field_spans(raw: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut spans = Vec::with_capacity(8);
    let mut i = 0;
    loop {
        if raw.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        let mut j = start;
        let end = loop {
            match raw.get(j)? {
                b'\\' => j += 2,
                b'"' if raw.get(j + 1) == Some(&b'"') => j += 2,
                b'"' => break j,
                _ => j += 1,
            }
        };
        spans.push((start, end));
        match &raw[end + 1..] {
            [b',', ..] => i = end + 2,
            [] | [b'\n'] | [b'\r', b'\n'] => return Some(spans),
            _ => return None,
        }
    }
}

/// The text as one run of the raw bytes, where it is one (a bare cable text, say).
fn verbatim_text_at(raw: &[u8], text: &str) -> Option<TextAt> {
    // Looked for by its first bytes, then compared whole: a searcher for the whole text (KBs)
    // would cost more to build than the search.
    const HEAD: usize = 64;
    let text_bytes = text.as_bytes();
    let head = &text_bytes[..text_bytes.len().min(HEAD)];
    if head.is_empty() {
        return None;
    }
    let at = memchr::memmem::find_iter(raw, head).find(|&at| raw[at..].starts_with(text_bytes))?;
    Some(TextAt {
        decoding: TextDecoding::Utf8,
        parts: vec![range_part(at, at + text.len())],
    })
}

/// The bytes of `stored` as `format` writes the record of a capture whose raw bytes are `raw`.
pub fn record_bytes(mut stored: StoredRecord, raw: &[u8], format: ArchiveFormat) -> Vec<u8> {
    let mut bytes = match format {
        ArchiveFormat::V1 => serde_json::to_vec_pretty(&stored),
        ArchiveFormat::V2 => {
            let source_format = stored.record.source.format;
            if let Some(at) = TextAt::locate(raw, &stored.record.text, source_format) {
                stored.record.text.clear();
                stored.capture.text_at = Some(at);
            }
            stored.record.schema = RECORD_SCHEMA_2.to_string();
            serde_json::to_vec(&stored)
        }
    }
    .expect("a record serializes");
    bytes.push(b'\n');
    bytes
}

/// True for a record that is not stored as the record/1 it stands for: a `cablekeep-record/2`,
/// or any record that leaves its text to `capture.text_at`; false for a record/1 and for bytes
/// that are not a record. Read by its fields wherever they stand: JSON does not order an
/// object's fields, so a record rewritten by a tool that sorts them is still what it says.
pub fn is_compact_record(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        schema: String,
        capture: CaptureProbe,
    }
    #[derive(Deserialize)]
    struct CaptureProbe {
        #[serde(default)]
        text_at: Option<serde::de::IgnoredAny>,
    }
    crate::jsonl::parse_json::<Probe>(bytes)
        .is_ok_and(|p| p.schema == RECORD_SCHEMA_2 || p.capture.text_at.is_some())
}

/// What stops a stored record from being read.
#[derive(Debug)]
pub enum RecordProblem {
    /// The bytes are not a record of either schema.
    NotARecord(String),
    /// The record's text cannot be rebuilt from its raw capture, or not with its digest.
    Text(String),
    /// The raw capture could not be read.
    Raw(crate::error::Error),
}

impl RecordProblem {
    /// The "could not run" error of a reader that needed the record at `record` (a path in the
    /// bag) of the archive at `archive`.
    pub fn into_error(self, archive: &std::path::Path, record: &str) -> crate::error::Error {
        match self {
            RecordProblem::Raw(e) => e,
            other => crate::error::Error::Corrupt {
                path: archive.to_path_buf(),
                message: format!("{record}: {other}; run `cablekeep verify`"),
            },
        }
    }
}

impl std::fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordProblem::NotARecord(e) => write!(f, "not a cablekeep record: {e}"),
            RecordProblem::Text(e) => write!(f, "its text cannot be rebuilt: {e}"),
            RecordProblem::Raw(e) => write!(f, "its raw capture cannot be read: {e}"),
        }
    }
}

/// Reads a stored record of either format as the record/1 it stands for: a format 2 record's
/// text is rebuilt from the raw capture (`raw` reads it, only when needed) and checked against
/// the record's `text_sha256`.
pub fn read_record(
    bytes: &[u8],
    raw: impl FnOnce() -> crate::error::Result<Vec<u8>>,
) -> Result<StoredRecord, RecordProblem> {
    read_record_with(bytes, |stored, at| {
        let raw = raw().map_err(RecordProblem::Raw)?;
        rebuilt_text(at, &raw, &stored.capture.text_sha256)
    })
}

/// [`read_record`] with the text of a record that leaves it out given by `text` (from the record
/// and its `text_at`), for a reader that rebuilt it already.
pub fn read_record_with(
    bytes: &[u8],
    text: impl FnOnce(&StoredRecord, &TextAt) -> Result<String, RecordProblem>,
) -> Result<StoredRecord, RecordProblem> {
    let mut stored: StoredRecord =
        crate::jsonl::parse_json(bytes).map_err(|e| RecordProblem::NotARecord(e.to_string()))?;
    if let Some(at) = stored.capture.text_at.take() {
        stored.record.text = text(&stored, &at)?;
    }
    if stored.record.schema == RECORD_SCHEMA_2 {
        stored.record.schema = RECORD_SCHEMA.to_string();
    }
    Ok(stored)
}

/// The text `at` makes of `raw`, when its SHA-256 is `text_sha256`.
pub fn rebuilt_text(at: &TextAt, raw: &[u8], text_sha256: &str) -> Result<String, RecordProblem> {
    let text = at.rebuild(raw)?;
    let digest = hash::sha256_hex(text.as_bytes());
    if digest != text_sha256 {
        return Err(RecordProblem::Text(format!(
            "the text rebuilt from the raw capture has SHA-256 {digest}, the record says {text_sha256}"
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_text(raw: &[u8]) -> Option<String> {
        csv_text_at(raw).map(|at| at.rebuild(raw).unwrap())
    }

    #[test]
    fn a_rows_text_is_its_header_a_blank_line_and_its_body_unescaped() {
        let raw = b"\"1\",\"1/2/2009 3:04\",\"09X1\",\"E\",\"U\",\"\",\"HDR \\\"q\\\"\r\n \",\"body \"\"x\"\" \\\\ y\r\nz\"\r\n";
        assert_eq!(csv_text(raw).unwrap(), "HDR \"q\"\n\nbody \"x\" \\ y\nz");
    }

    #[test]
    fn a_row_with_an_empty_header_or_body_has_no_blank_line() {
        let raw = b"\"1\",\"d\",\"i\",\"o\",\"c\",\"r\",\"\",\"body\"\n";
        assert_eq!(csv_text(raw).unwrap(), "body");
        let raw = b"\"1\",\"d\",\"i\",\"o\",\"c\",\"r\",\"head\",\"\"\n";
        assert_eq!(csv_text(raw).unwrap(), "head");
    }

    #[test]
    fn rows_that_are_not_eight_quoted_fields_give_no_ranges() {
        for raw in [
            &b"1,\"d\""[..],
            b"\"1\",\"d\"x",
            b"\"unterminated",
            b"\"a\"\"",
            b"",
        ] {
            assert!(
                csv_text_at(raw).is_none_or(|at| at.parts.len() < 3),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn ranges_outside_the_raw_bytes_or_not_utf8_are_refused() {
        let at = |offset, len| TextAt {
            decoding: TextDecoding::Utf8,
            parts: vec![TextPart::Range([offset, len])],
        };
        assert!(at(0, 4).rebuild(b"abc").is_err());
        assert!(at(u64::MAX, 2).rebuild(b"abc").is_err());
        assert!(at(1, u64::MAX).rebuild(b"abc").is_err());
        assert!(at(0, 2).rebuild(b"a\xff").is_err());
        assert_eq!(at(1, 2).rebuild(b"abc").unwrap(), "bc");
    }

    #[test]
    fn a_text_is_located_only_when_its_parts_rebuild_it_exactly() {
        assert!(TextAt::locate(b"xx hello yy", "hello", None).is_some());
        assert!(TextAt::locate(b"xx hel&amp;lo yy", "hel&lo", None).is_none());
        let raw = b"\"1\",\"d\",\"i\",\"o\",\"c\",\"r\",\"h\",\"b\"\n";
        let at = TextAt::locate(raw, "h\n\nb", Some(Format::CablesCsv)).unwrap();
        assert_eq!(at.decoding, TextDecoding::CablesCsv);
        assert!(TextAt::locate(raw, "h\n\nB", Some(Format::CablesCsv)).is_none());
    }

    #[test]
    fn parts_are_written_as_ranges_and_strings() {
        let at = TextAt {
            decoding: TextDecoding::CablesCsv,
            parts: vec![
                TextPart::Range([3, 4]),
                TextPart::Literal("\n\n".into()),
                TextPart::Range([9, 1]),
            ],
        };
        let json = serde_json::to_string(&at).unwrap();
        assert_eq!(
            json,
            r#"{"decoding":"cables-csv","parts":[[3,4],"\n\n",[9,1]]}"#
        );
        assert_eq!(serde_json::from_str::<TextAt>(&json).unwrap(), at);
    }
}
