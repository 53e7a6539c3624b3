//! Captures: one set of raw bytes as ingested, where it lives in a bag, the normalized record
//! stored beside it, and the cable index (`cablekeep/index.jsonl`) that lists them.

use super::record::{ArchiveFormat, record_bytes};
use crate::cable::provenance::SourceHints;
use crate::cable::{self, CableRecord};
use crate::finding::Finding;
use crate::hash::{self, Digests};
use serde::{Deserialize, Serialize};

/// How many hex digits of the raw bytes' SHA-256 name a capture.
const NAME_DIGITS: usize = 12;

/// A capture as the index lists it: enough to find, check and compare it without reading the
/// payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRef {
    /// `<released date or "undated">_<first 12 hex digits of the raw SHA-256>`.
    pub name: String,
    /// Path of the raw bytes in the bag.
    pub raw: String,
    /// Path of the normalized record in the bag.
    pub record: String,
    /// The input's name as given at ingest.
    pub input: String,
    /// Size of the raw bytes, in bytes.
    pub bytes: u64,
    /// SHA-256 of the raw bytes, lower-case hex; the digest the payload manifest lists for `raw`,
    /// and the source of the capture's name.
    pub sha256: String,
    /// SHA-512 of the raw bytes, lower-case hex.
    pub sha512: String,
    /// SHA-256 of the record's extracted `text`.
    pub text_sha256: String,
    /// The reader that understood the page: `wikileaks-page`, `mirror-text`, `cables-csv` or
    /// `bare-text` (`source.format` in FORMAT.md section 3); empty when the reader named none.
    pub format: String,
    /// Release date at the capture's source, `YYYY-MM-DD`; None when the page gives none (the
    /// capture's name then starts with `undated`).
    pub released: Option<String>,
    /// The site build the page came from (WikiLeaks' release counter), when known.
    #[serde(default)]
    pub site_build: Option<String>,
    /// When the capture was retrieved, when known.
    #[serde(default)]
    pub retrieved: Option<String>,
    /// The redaction facts of this capture's record; captures of one cable may differ here.
    pub redaction: RedactionSummary,
}

impl CaptureRef {
    /// Captures of a cable are ordered by release date, then site build (a later build of the
    /// same release is newer), then retrieval time, then name.
    fn order_key(&self) -> (Option<&str>, Option<u64>, Option<&str>, &str) {
        (
            self.released.as_deref(),
            self.site_build.as_deref().and_then(|b| b.parse().ok()),
            self.retrieved.as_deref(),
            &self.name,
        )
    }
}

/// The redaction facts the index keeps for each capture and cable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionSummary {
    /// `redacted` or `not-redacted` (`redaction.status` in FORMAT.md section 3).
    pub status: String,
    /// Number of redaction runs in the text: 5 or more capital `X` in a row.
    pub runs: usize,
    /// True when the page says its text is only a partial extract of the cable.
    pub partial_extract: bool,
}

/// One line of `cablekeep/index.jsonl`: a cable, its current metadata (from its latest capture)
/// and all its captures, oldest first (see `CaptureRef::order_key`). `borrowed::IndexLine`
/// mirrors it (and `CaptureRef`, `RedactionSummary`) field for field: change both together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexLine {
    /// The cable's canonical reference id (FORMAT.md section 3.1), e.g. `08MANAMA492`; the index is
    /// sorted by it.
    pub id: String,
    /// When the cable was sent, UTC: `YYYY-MM-DDTHH:MM:00Z`, or a bare date `YYYY-MM-DD` for
    /// partial extracts; None when the current capture gives no date.
    pub created: Option<String>,
    /// Release date of the current capture, `YYYY-MM-DD`; None when it is undated.
    pub released: Option<String>,
    /// Classification as written, e.g. `CONFIDENTIAL//NOFORN`; None when the page gives none.
    pub classification: Option<String>,
    /// The sending post, e.g. `Embassy Manama`; None when the page does not say.
    pub origin: Option<String>,
    /// The SUBJECT line, joined across lines with white space collapsed; None when the cable has
    /// none.
    pub subject: Option<String>,
    /// The TAGS, in page order; empty when the cable lists none.
    pub tags: Vec<String>,
    /// The redaction facts of the current capture.
    pub redaction: RedactionSummary,
    /// Every capture of the cable, oldest first; a line written by cablekeep has at least one.
    pub captures: Vec<CaptureRef>,
}

impl IndexLine {
    /// The capture whose metadata the line shows: the latest release.
    pub fn current(&self) -> Option<&CaptureRef> {
        self.captures.last()
    }
}

/// The index read without copying: `verify` reads every line of the index this way (for the
/// whole corpus ~6 million strings that would each be allocated, copied and freed).
pub(crate) mod borrowed {
    use serde::Deserialize;

    /// An index line read without copying its strings: [`super::IndexLine`]'s fields with its
    /// types, each string borrowed from the line unless it holds an escape. A line parses as one
    /// exactly when it parses as the other, with the same error (a unit test holds them to it, and
    /// the types carry the same names because errors name them).
    // Every field is parsed, unread ones too, so that a line parses here exactly when it
    // parses as the owned type; verify reads only some of them.
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    pub(crate) struct IndexLine<'a> {
        #[serde(borrow)]
        pub(crate) id: Text<'a>,
        #[serde(borrow)]
        pub(crate) created: Option<Text<'a>>,
        #[serde(borrow)]
        pub(crate) released: Option<Text<'a>>,
        #[serde(borrow)]
        pub(crate) classification: Option<Text<'a>>,
        #[serde(borrow)]
        pub(crate) origin: Option<Text<'a>>,
        #[serde(borrow)]
        pub(crate) subject: Option<Text<'a>>,
        #[serde(borrow)]
        pub(crate) tags: Vec<Text<'a>>,
        #[serde(borrow)]
        pub(crate) redaction: RedactionSummary<'a>,
        #[serde(borrow)]
        pub(crate) captures: Vec<CaptureRef<'a>>,
    }

    /// [`super::CaptureRef`] as [`IndexLine`] reads it.
    // Every field is parsed, unread ones too, so that a line parses here exactly when it
    // parses as the owned type; verify reads only some of them.
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    pub(crate) struct CaptureRef<'a> {
        #[serde(borrow)]
        pub(crate) name: Text<'a>,
        #[serde(borrow)]
        pub(crate) raw: Text<'a>,
        #[serde(borrow)]
        pub(crate) record: Text<'a>,
        #[serde(borrow)]
        pub(crate) input: Text<'a>,
        pub(crate) bytes: u64,
        #[serde(borrow)]
        pub(crate) sha256: Text<'a>,
        #[serde(borrow)]
        pub(crate) sha512: Text<'a>,
        #[serde(borrow)]
        pub(crate) text_sha256: Text<'a>,
        #[serde(borrow)]
        pub(crate) format: Text<'a>,
        #[serde(borrow)]
        pub(crate) released: Option<Text<'a>>,
        #[serde(default, borrow)]
        pub(crate) site_build: Option<Text<'a>>,
        #[serde(default, borrow)]
        pub(crate) retrieved: Option<Text<'a>>,
        #[serde(borrow)]
        pub(crate) redaction: RedactionSummary<'a>,
    }

    /// [`super::RedactionSummary`] as [`IndexLine`] reads it.
    // Every field is parsed, unread ones too, so that a line parses here exactly when it
    // parses as the owned type; verify reads only some of them.
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    pub(crate) struct RedactionSummary<'a> {
        #[serde(borrow)]
        pub(crate) status: Text<'a>,
        pub(crate) runs: usize,
        pub(crate) partial_extract: bool,
    }

    /// A JSON string borrowed from the text parsed, or owned when it had to be unescaped. It
    /// accepts what `String` accepts and expects "a string" in its errors, as `String` does.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Text<'a>(pub std::borrow::Cow<'a, str>);

    impl std::ops::Deref for Text<'_> {
        type Target = str;
        fn deref(&self) -> &str {
            &self.0
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_string(TextVisitor)
        }
    }

    struct TextVisitor;

    impl<'de> serde::de::Visitor<'de> for TextVisitor {
        type Value = Text<'de>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }

        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Text(std::borrow::Cow::Borrowed(v)))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Text(std::borrow::Cow::Owned(v.to_string())))
        }

        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Text(std::borrow::Cow::Owned(v)))
        }
    }
}

/// One line of `cablekeep/unparsed.jsonl`: bytes no reader understood, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnparsedLine {
    /// Path of the kept bytes in the bag: `data/unparsed/<sha256[0:12]>.<ext>` (FORMAT.md section
    /// 2.5).
    pub raw: String,
    /// The input's name as given at ingest (a zip member as `pages.zip/a/b.html`).
    pub input: String,
    /// Size of the bytes, in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// SHA-512 of the bytes, lower-case hex.
    pub sha512: String,
    /// Why no reader understood the bytes: the findings of reading them (`docs/FINDINGS.md`).
    pub findings: Vec<Finding>,
}

/// Facts about the raw capture stored inside its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureFacts {
    /// The capture's name, `<released>_<sha256[0:12]>` (FORMAT.md section 2.5).
    pub name: String,
    /// Path of the raw bytes in the bag, `data/cables/<ID>/<capture>.<ext>`.
    pub raw: String,
    /// The input's name as given at ingest, relative to the argument (`cables.csv#000000017` for
    /// row 17 of a bulk table).
    pub input: String,
    /// Size of the raw bytes, in bytes.
    pub bytes: u64,
    /// SHA-256 of the raw bytes, lower-case hex.
    pub sha256: String,
    /// SHA-512 of the raw bytes, lower-case hex.
    pub sha512: String,
    /// SHA-256 of the record's `text` (UTF-8), lower-case hex: two captures with the same digest
    /// carry the same text.
    pub text_sha256: String,
    /// What the reader found wrong with the page (warnings: errors leave no record).
    pub findings: Vec<Finding>,
    /// Format 2: where the text lies in the raw bytes, when the record leaves it out (FORMAT.md
    /// section 3.2). Never present in a record read with [`super::record::read_record`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_at: Option<super::record::TextAt>,
}

/// The normalized record stored in the bag: the parse schema plus the capture's digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// The cable as its reader read it (FORMAT.md section 3); its fields are written at the top
    /// level of the record's JSON, not under a key.
    #[serde(flatten)]
    pub record: CableRecord,
    /// The record's `capture` object: where the raw bytes lie in the bag and their digests.
    pub capture: CaptureFacts,
}

/// A capture read from an input during ingest.
#[derive(Debug, Clone)]
pub enum Ingested {
    /// A page that a reader understood.
    Cable {
        /// The cable's index line, holding this one capture.
        line: IndexLine,
        /// The record as it is written into the bag (`<capture>.json`): pretty-printed JSON with a
        /// final newline.
        record_bytes: Vec<u8>,
    },
    /// A page that no reader understood.
    Unparsed(UnparsedLine),
}

/// Reads one input: digests, parse, and where it goes in the bag. Returns the capture and every
/// finding about it. The record bytes are returned so that callers may keep or drop them.
pub fn ingest(
    name: &str,
    format: Option<cable::Format>,
    bytes: &[u8],
    hints: &SourceHints,
    archive_format: ArchiveFormat,
) -> (Ingested, Vec<Finding>) {
    let digests = hash::digests(bytes);
    let len = bytes.len() as u64;
    let outcome = cable::parse_as(bytes, name, hints, format);
    let mut findings = outcome.findings;
    match outcome.record {
        Some(record) if safe_id(&record.id) => {
            let raw = RawCapture {
                input: name,
                bytes,
                digests,
            };
            let (line, record_bytes) = cable_capture(raw, record, findings.clone(), archive_format);
            (Ingested::Cable { line, record_bytes }, findings)
        }
        other => {
            if let Some(record) = other {
                // No cable can be filed under this id, so the page is as good as unread.
                let mut finding = Finding::new(
                    crate::Code::MalformedId,
                    name,
                    format!(
                        "reference id {:?} cannot name a folder; kept as unparsed",
                        record.id
                    ),
                );
                finding.severity = crate::Severity::Error;
                findings.push(finding);
            }
            let line = unparsed(name, len, digests, findings.clone());
            (Ingested::Unparsed(line), findings)
        }
    }
}

/// Ids become folder names, so only letters and digits (at most 64) are accepted.
fn safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An input's bytes as ingested, with its name and digests.
struct RawCapture<'a> {
    input: &'a str,
    bytes: &'a [u8],
    digests: Digests,
}

fn cable_capture(
    raw_capture: RawCapture<'_>,
    record: CableRecord,
    findings: Vec<Finding>,
    archive_format: ArchiveFormat,
) -> (IndexLine, Vec<u8>) {
    let RawCapture {
        input,
        bytes,
        digests,
    } = raw_capture;
    let len = bytes.len() as u64;
    let released_key = record
        .released
        .as_deref()
        .and_then(|r| r.get(..10))
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        .unwrap_or("undated");
    let name = format!("{released_key}_{}", &digests.sha256[..NAME_DIGITS]);
    let ext = match record.source.format {
        Some(crate::cable::Format::WikileaksPage) => "html",
        Some(crate::cable::Format::CablesCsv) => "csv",
        _ => "txt",
    };
    let folder = format!("data/cables/{}", record.id);
    let raw = format!("{folder}/{name}.{ext}");
    let text_sha256 = hash::sha256_hex(record.text.as_bytes());
    let redaction = RedactionSummary {
        status: record.redaction.status.as_str().to_string(),
        runs: record.redaction.runs,
        partial_extract: record.redaction.partial_extract,
    };
    let capture = CaptureRef {
        name: name.clone(),
        raw: raw.clone(),
        record: format!("{folder}/{name}.json"),
        input: input.to_string(),
        bytes: len,
        sha256: digests.sha256.clone(),
        sha512: digests.sha512.clone(),
        text_sha256: text_sha256.clone(),
        format: record
            .source
            .format
            .map(|f| f.as_str().to_string())
            .unwrap_or_default(),
        released: record.released.clone(),
        site_build: record.source.site_build.clone(),
        retrieved: record.source.retrieved.clone(),
        redaction: redaction.clone(),
    };
    let line = IndexLine {
        id: record.id.clone(),
        created: record.created.clone(),
        released: record.released.clone(),
        classification: record.classification.clone(),
        origin: record.origin.clone(),
        subject: record.subject.clone(),
        tags: record.tags.clone(),
        redaction,
        captures: vec![capture],
    };
    let stored = StoredRecord {
        record,
        capture: CaptureFacts {
            name,
            raw,
            input: input.to_string(),
            bytes: len,
            sha256: digests.sha256,
            sha512: digests.sha512,
            text_sha256,
            findings,
            text_at: None,
        },
    };
    (line, record_bytes(stored, bytes, archive_format))
}

fn unparsed(name: &str, len: u64, digests: Digests, findings: Vec<Finding>) -> UnparsedLine {
    let ext = std::path::Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".to_string());
    UnparsedLine {
        raw: format!("data/unparsed/{}.{ext}", &digests.sha256[..NAME_DIGITS]),
        input: name.to_string(),
        bytes: len,
        sha256: digests.sha256,
        sha512: digests.sha512,
        findings,
    }
}

/// Merges the capture of a freshly ingested line (which holds exactly one) into a cable's index
/// line, keeping captures in `CaptureRef::order_key` order, and the line's metadata from the latest.
/// Returns false when the line already held a capture with the same raw bytes.
pub fn merge_capture(line: &mut IndexLine, new: IndexLine) -> bool {
    let Some(capture) = new.captures.first().cloned() else {
        return false;
    };
    if line.captures.iter().any(|c| c.sha256 == capture.sha256) {
        return false;
    }
    line.captures.push(capture);
    line.captures
        .sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    if line.current().map(|c| &c.name) == new.captures.first().map(|c| &c.name) {
        let captures = std::mem::take(&mut line.captures);
        *line = IndexLine { captures, ..new };
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonl::parse_json;

    #[test]
    fn parse_json_gives_what_from_slice_gives() {
        let cases: [&[u8]; 7] = [
            br#"{"raw":"data/a","input":"x","bytes":3,"sha256":"s","sha512":"t","findings":[]}"#,
            b"{\"raw\":\"data/\\u00e9\\\"q\\\"\",\"input\":\"caf\xc3\xa9\",\"bytes\":1,\"sha256\":\"\",\"sha512\":\"\",\"findings\":[]}",
            br#"{"raw":"data/a","input":"x","bytes":"3","sha256":"s","sha512":"t","findings":[]}"#,
            br#"{"raw":"data/a","input":"x"}"#,
            b"{\"raw\":\"data/\xff\",\"input\":\"x\"}",
            b"{\"raw\":\"data/a\" \xc3",
            b"not json",
        ];
        for case in cases {
            let ours = parse_json::<UnparsedLine>(case).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<UnparsedLine>(case).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(case));
        }
    }

    /// The view as the owned line it reads, to compare the two.
    fn to_owned_line(v: &borrowed::IndexLine) -> IndexLine {
        let text = |t: &borrowed::Text| t.to_string();
        let opt = |t: &Option<borrowed::Text>| t.as_ref().map(text);
        let redaction = |r: &borrowed::RedactionSummary| RedactionSummary {
            status: text(&r.status),
            runs: r.runs,
            partial_extract: r.partial_extract,
        };
        IndexLine {
            id: text(&v.id),
            created: opt(&v.created),
            released: opt(&v.released),
            classification: opt(&v.classification),
            origin: opt(&v.origin),
            subject: opt(&v.subject),
            tags: v.tags.iter().map(text).collect(),
            redaction: redaction(&v.redaction),
            captures: v
                .captures
                .iter()
                .map(|c| CaptureRef {
                    name: text(&c.name),
                    raw: text(&c.raw),
                    record: text(&c.record),
                    input: text(&c.input),
                    bytes: c.bytes,
                    sha256: text(&c.sha256),
                    sha512: text(&c.sha512),
                    text_sha256: text(&c.text_sha256),
                    format: text(&c.format),
                    released: opt(&c.released),
                    site_build: opt(&c.site_build),
                    retrieved: opt(&c.retrieved),
                    redaction: redaction(&c.redaction),
                })
                .collect(),
        }
    }

    /// A line, and the same line with each field in turn left out or given a value of another
    /// kind.
    fn index_line_variants() -> Vec<String> {
        let line = r#"{"id":"00ABUJA22","created":"2000-02-26T05:03:00Z","released":"2011-09-01","classification":"SECRET","origin":"Embassy Abuja","subject":"\"QUOTED\" \u00e9 SUBJECT","tags":["ECON","NI"],"redaction":{"status":"redacted","runs":19,"partial_extract":false},"captures":[{"name":"2011-09-01_8b77b889b3a6","raw":"data/cables/00ABUJA22/2011-09-01_8b77b889b3a6.csv","record":"data/cables/00ABUJA22/2011-09-01_8b77b889b3a6.json","input":"cables.csv#000210718","bytes":8109,"sha256":"8b77","sha512":"30c2","text_sha256":"9541","format":"cables-csv","released":"2011-09-01","site_build":"cablegate-201108300212","retrieved":null,"redaction":{"status":"redacted","runs":19,"partial_extract":false}}]}"#;
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let others = [
            serde_json::json!(null),
            serde_json::json!(7),
            serde_json::json!(-1),
            serde_json::json!("text"),
            serde_json::json!(true),
            serde_json::json!([]),
            serde_json::json!(["a", 1]),
            serde_json::json!({}),
        ];
        let mut variants = vec![
            line.to_string(),
            format!("{line} x"),
            line.replace("{\"id\"", "{\"extra\":1,\"id\""),
        ];
        let mut change =
            |path: &[&str], f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
                let mut v = value.clone();
                let mut object = v.as_object_mut().unwrap();
                for step in path {
                    object = match step.parse::<usize>() {
                        Ok(i) => object.get_mut("captures").unwrap()[i]
                            .as_object_mut()
                            .unwrap(),
                        Err(_) => object.get_mut(*step).unwrap().as_object_mut().unwrap(),
                    };
                }
                f(object);
                variants.push(v.to_string());
            };
        for path in [&[][..], &["redaction"], &["0"], &["0", "redaction"]] {
            let object = path
                .iter()
                .fold(&value, |v, step| match step.parse::<usize>() {
                    Ok(i) => &v["captures"][i],
                    Err(_) => &v[*step],
                });
            for key in object.as_object().unwrap().keys() {
                change(path, &|o| {
                    o.remove(key);
                });
                for other in &others {
                    change(path, &|o| {
                        o.insert(key.clone(), other.clone());
                    });
                }
            }
        }
        variants
    }

    #[test]
    fn an_index_line_view_reads_what_an_index_line_reads() {
        let variants = index_line_variants();
        assert!(variants.len() > 250, "{}", variants.len());
        let (mut read, mut refused) = (0, 0);
        for line in &variants {
            let owned = parse_json::<IndexLine>(line.as_bytes());
            let view = parse_json::<borrowed::IndexLine>(line.as_bytes());
            match (owned, view) {
                (Ok(o), Ok(v)) => {
                    assert_eq!(to_owned_line(&v), o, "{line}");
                    read += 1;
                }
                (Err(o), Err(v)) => {
                    assert_eq!(v.to_string(), o.to_string(), "{line}");
                    refused += 1;
                }
                (o, v) => panic!("{line}: {:?} vs {:?}", o.map(|_| ()), v.map(|_| ())),
            }
        }
        // Both outcomes were put to the test.
        assert!(read > 10 && refused > 100, "{read} read, {refused} refused");
    }
}
