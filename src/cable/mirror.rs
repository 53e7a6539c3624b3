//! Reader for the later mirror text page.
//!
//! Layout: a title line `US embassy cable - ID`, a disclaimer paragraph, the subject line, the
//! header fields (`Identifier:`, `Wikileaks: View ID at Wikileaks.org`, `Origin:`, `Created:`,
//! `Classification:`, `Tags:`, `Redacted:`), an optional partial-extract notice, the cable
//! body, and the footer `Latest source of this page is <publisher>, released <YYYY-MM-DD>`.
//!
//! Field rules:
//! * `created` is the page's Created value as a UTC date-time (`2005-12-02 10:59:00` →
//!   `2005-12-02T10:59:00Z`): unlike the WikiLeaks pages, these times are real (they come from
//!   cables.csv). When it cannot be read, the body's date-time group is used, if any.
//! * `subject` and `tags` come from the body's SUBJECT and TAGS lines when present, else from
//!   the page's subject line and `Tags:` field (split on spaces).
//! * `released` and the publisher come from the footer; `upstream_url` is the WikiLeaks page
//!   URL derived from the id and the created month.

use super::reading::{self, Reading};
use super::text::{self, PARTIAL_EXTRACT};
use super::{CableRecord, Format, ParseOutcome, dates, fields, id};
use crate::cable::provenance::{RedactionStatus, Source};
use chrono::NaiveDate;

const TITLE: &str = "US embassy cable - ";
const FOOTER: &str = "Latest source of this page is ";

/// True when the bytes look like a mirror text page.
pub(super) fn looks_like(bytes: &[u8]) -> bool {
    let head = text::trim_start_bytes(bytes);
    head.len() >= TITLE.len() && head[..TITLE.len()].eq_ignore_ascii_case(TITLE.as_bytes())
}

const FIELDS: &[&str] = &[
    "Identifier:",
    "Wikileaks:",
    "Origin:",
    "Created:",
    "Classification:",
    "Tags:",
    "Redacted:",
];

/// The header fields of a mirror page, each the first occurrence in the first 60 lines, and
/// where the header block starts and ends.
#[derive(Default)]
struct HeaderFields {
    identifier: Option<String>,
    wikileaks: Option<String>,
    origin: Option<String>,
    created: Option<String>,
    classification: Option<String>,
    tags: Option<String>,
    redacted: Option<String>,
    first_line: Option<usize>,
    last_line: Option<usize>,
}

/// Reads one mirror text page. Never panics.
pub(super) fn parse(bytes: &[u8], name: &str) -> ParseOutcome {
    let mut reading = Reading::new(name);
    let page = reading.decode_whole(bytes, "page").replace("\r\n", "\n");
    let page = page.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    let lines: Vec<&str> = page.split('\n').collect();
    let head = header_fields(&lines);
    let footer_line = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with(FOOTER));
    let (publisher, released_original) = footer(&lines, footer_line, &mut reading);
    let raw_id = head
        .identifier
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| title_id(&lines));
    let Some(mut rec) = reading.start_record(raw_id.as_deref()) else {
        return reading.no_record();
    };
    report_missing_fields(&head, &mut reading);
    let page_subject = page_subject(&lines, head.first_line);
    let (body, mut partial) = body_text(&lines, head.last_line, footer_line, &mut reading);
    let created_date = read_created(&mut rec, head.created.as_deref(), &body, &mut reading);
    let released = read_released(released_original.as_deref(), &mut reading);
    rec.released = released.clone();
    rec.classification = head.classification.filter(|s| !s.is_empty());
    rec.origin = head.origin.filter(|s| !s.is_empty());
    read_body_fields(
        &mut rec,
        &body,
        created_date,
        head.tags.as_deref(),
        page_subject,
    );

    let statement = head.redacted.filter(|s| !s.is_empty());
    partial |= text::contains(&body, PARTIAL_EXTRACT);
    let says = publisher_says(statement.as_deref());
    rec.redaction = reading::redaction_of(&body, says, partial, statement);
    let upstream_url = head.wikileaks.as_ref().and(created_date).map(|d| {
        let ym = d.format("%Y/%m");
        format!(
            "https://wikileaks.org/cable/{ym}/{}.html",
            rec.published_id()
        )
    });
    rec.text = body;
    rec.source = Source {
        publisher,
        released,
        released_original,
        upstream_url,
        ..reading.source(Format::MirrorText)
    };
    reading.finish(rec)
}

/// The id of the title line `US embassy cable - ID`.
fn title_id(lines: &[&str]) -> Option<String> {
    lines.first().and_then(|l| {
        let l = l.trim();
        (l.len() >= TITLE.len()
            && l.is_char_boundary(TITLE.len())
            && l[..TITLE.len()].eq_ignore_ascii_case(TITLE))
        .then(|| l[TITLE.len()..].trim().to_string())
    })
}

/// The header fields: the first occurrence of each, in the first 60 lines.
fn header_fields(lines: &[&str]) -> HeaderFields {
    let mut values: [Option<String>; 7] = Default::default();
    let mut first_line = None;
    let mut last_line = None;
    for (i, line) in lines.iter().enumerate().take(60) {
        for (k, f) in FIELDS.iter().enumerate() {
            if values[k].is_none()
                && let Some(v) = line.trim_start().strip_prefix(f)
            {
                values[k] = Some(v.trim().to_string());
                first_line.get_or_insert(i);
                last_line = Some(i);
            }
        }
    }
    let [
        identifier,
        wikileaks,
        origin,
        created,
        classification,
        tags,
        redacted,
    ] = values;
    HeaderFields {
        identifier,
        wikileaks,
        origin,
        created,
        classification,
        tags,
        redacted,
        first_line,
        last_line,
    }
}

/// The publisher and release date of the footer `Latest source of this page is <publisher>,
/// released <date>`.
fn footer(
    lines: &[&str],
    footer_line: Option<usize>,
    reading: &mut Reading,
) -> (Option<String>, Option<String>) {
    let Some(i) = footer_line else {
        reading.missing(
            "no footer (\"Latest source of this page is …, released …\"); the page may be truncated",
        );
        return (None, None);
    };
    let v = lines[i].trim_start()[FOOTER.len()..].trim();
    match v.rfind(", released ") {
        Some(c) => (
            Some(v[..c].trim().to_string()),
            Some(v[c + ", released ".len()..].trim().to_string()),
        ),
        None => (Some(v.trim_end_matches(',').to_string()), None),
    }
}

/// Reports the header fields every mirror page has, when missing or empty.
fn report_missing_fields(head: &HeaderFields, reading: &mut Reading) {
    for (k, v) in [
        ("Identifier", &head.identifier),
        ("Origin", &head.origin),
        ("Created", &head.created),
        ("Classification", &head.classification),
    ] {
        if v.as_deref().is_none_or(str::is_empty) {
            reading.missing(format!("no {k} field"));
        }
    }
}

/// The subject line: the last non-blank line before the header fields.
fn page_subject(lines: &[&str], first_field_line: Option<usize>) -> Option<String> {
    first_field_line.and_then(|f| {
        lines[..f]
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .filter(|l| !l.starts_with("Disclaimer:") && !l.starts_with("US embassy cable"))
            .map(text::collapse_ws)
    })
}

/// The body: after the header block (and the partial-extract notice) up to the footer; and
/// whether the notice was there.
fn body_text(
    lines: &[&str],
    last_field_line: Option<usize>,
    footer_line: Option<usize>,
    reading: &mut Reading,
) -> (String, bool) {
    let mut body_start = last_field_line.map_or(1, |l| l + 1);
    let mut partial = false;
    while body_start < lines.len() {
        let l = lines[body_start].trim();
        if l.starts_with(PARTIAL_EXTRACT) {
            partial = true;
            body_start += 1;
        } else if l.is_empty() {
            body_start += 1;
        } else {
            break;
        }
    }
    let body_end = footer_line.unwrap_or(lines.len()).max(body_start);
    let body_start = body_start.min(body_end);
    let body = lines[body_start..body_end].join("\n");
    let body = body.trim_end().to_string();
    if body.is_empty() {
        reading.missing("no cable text");
    }
    (body, partial)
}

/// Sets `created` from the page's Created value, else the body's date-time group (see the
/// module documentation). Returns the cable's date.
fn read_created(
    rec: &mut CableRecord,
    created: Option<&str>,
    body: &str,
    reading: &mut Reading,
) -> Option<NaiveDate> {
    let dtg = dates::find_dtg(reading::head(body, 3000));
    rec.created = match created.and_then(dates::page_datetime) {
        Some(c) => Some(c),
        None => {
            if let Some(c) = created {
                reading.malformed(format!("Created value {c:?} cannot be read"));
            }
            dtg.map(|d| d.rfc3339())
                .or_else(|| created.and_then(dates::page_date).map(dates::ymd))
        }
    };
    rec.created_original = created.map(str::to_string);
    created.and_then(dates::page_date).or(dtg.map(|d| d.date))
}

/// The footer's release date as `YYYY-MM-DD`.
fn read_released(released_original: Option<&str>, reading: &mut Reading) -> Option<String> {
    let released = released_original.and_then(dates::page_date).map(dates::ymd);
    if let (Some(r), None) = (released_original, &released) {
        reading.malformed(format!("release date {r:?} cannot be read"));
    }
    released
}

/// The body's fields; TAGS and SUBJECT from the body when it has them, else from the page.
fn read_body_fields(
    rec: &mut CableRecord,
    body: &str,
    created_date: Option<NaiveDate>,
    page_tags: Option<&str>,
    page_subject: Option<String>,
) {
    let year = created_date
        .map(dates::year)
        .or_else(|| id::year_of(&rec.id));
    let mut bf = fields::read(body, year);
    reading::caveats_from_classification(rec);
    rec.tags = if bf.has_tags_line && !bf.tags.is_empty() {
        std::mem::take(&mut bf.tags)
    } else {
        page_tags
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    rec.subject = bf.subject.take().or(page_subject);
    reading::apply_body_fields(rec, bf);
    // A mirror page's text may start with the routing header (full texts of cables.csv).
    let (header_end, _) = super::header::split(body);
    reading::apply_header(rec, &body[..header_end]);
}

/// What the page's `Redacted:` statement says, when it says the text is redacted.
fn publisher_says(statement: Option<&str>) -> Option<RedactionStatus> {
    statement
        .is_some_and(|s| {
            let l = s.to_ascii_lowercase();
            l.contains("redacted")
                && !l.contains("not redacted")
                && !l.contains("not been redacted")
        })
        .then_some(RedactionStatus::Redacted)
}
