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

use super::text::{self, PARTIAL_EXTRACT};
use super::{Format, ParseOutcome, dates, fields, id};
use crate::cable::provenance::Source;
use crate::finding::{Code, Finding};

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

pub(super) fn parse(bytes: &[u8], name: &str) -> ParseOutcome {
    let mut findings = Vec::new();
    let decoded = text::decode(bytes);
    findings.extend(decoded.findings(name, "page"));
    let page: String = decoded.text.replace("\r\n", "\n");
    let page = page.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    let lines: Vec<&str> = page.split('\n').collect();

    // Title.
    let title_id = lines.first().and_then(|l| {
        let l = l.trim();
        (l.len() >= TITLE.len()
            && l.is_char_boundary(TITLE.len())
            && l[..TITLE.len()].eq_ignore_ascii_case(TITLE))
        .then(|| l[TITLE.len()..].trim().to_string())
    });

    // Header fields: the first occurrence of each, in the first 60 lines.
    let mut values: [Option<String>; 7] = Default::default();
    let mut first_field_line = None;
    let mut last_field_line = None;
    for (i, line) in lines.iter().enumerate().take(60) {
        for (k, f) in FIELDS.iter().enumerate() {
            if values[k].is_none()
                && let Some(v) = line.trim_start().strip_prefix(f)
            {
                values[k] = Some(v.trim().to_string());
                first_field_line.get_or_insert(i);
                last_field_line = Some(i);
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

    // Footer.
    let footer_line = lines
        .iter()
        .rposition(|l| l.trim_start().starts_with(FOOTER));
    let (publisher, released_original) = match footer_line {
        Some(i) => {
            let v = lines[i].trim_start()[FOOTER.len()..].trim();
            match v.rfind(", released ") {
                Some(c) => (
                    Some(v[..c].trim().to_string()),
                    Some(v[c + ", released ".len()..].trim().to_string()),
                ),
                None => (Some(v.trim_end_matches(',').to_string()), None),
            }
        }
        None => {
            findings.push(Finding::new(
                Code::MissingField,
                name,
                "no footer (\"Latest source of this page is …, released …\"); the page may be truncated",
            ));
            (None, None)
        }
    };

    // Id.
    let raw_id = identifier.clone().filter(|s| !s.is_empty()).or(title_id);
    let Some(mut rec) = super::start_record(raw_id.as_deref(), name, &mut findings) else {
        return ParseOutcome {
            record: None,
            findings,
        };
    };
    for (k, v) in [
        ("Identifier", &identifier),
        ("Origin", &origin),
        ("Created", &created),
        ("Classification", &classification),
    ] {
        if v.as_deref().is_none_or(str::is_empty) {
            findings.push(Finding::new(
                Code::MissingField,
                name,
                format!("no {k} field"),
            ));
        }
    }

    // Subject line: the last non-blank line before the header fields.
    let page_subject = first_field_line.and_then(|f| {
        lines[..f]
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
            .filter(|l| !l.starts_with("Disclaimer:") && !l.starts_with("US embassy cable"))
            .map(text::collapse_ws)
    });

    // Body: after the header block (and the partial-extract notice) up to the footer.
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
        findings.push(Finding::new(Code::MissingField, name, "no cable text"));
    }

    // Created.
    let cut = (0..=body.len().min(3000))
        .rev()
        .find(|&i| body.is_char_boundary(i))
        .unwrap_or(0);
    let dtg = dates::find_dtg(&body[..cut]);
    rec.created = match created.as_deref().and_then(dates::page_datetime) {
        Some(c) => Some(c),
        None => {
            if let Some(c) = &created {
                findings.push(Finding::new(
                    Code::MalformedField,
                    name,
                    format!("Created value {c:?} cannot be read"),
                ));
            }
            dtg.map(|d| d.rfc3339()).or_else(|| {
                created
                    .as_deref()
                    .and_then(dates::page_date)
                    .map(dates::ymd)
            })
        }
    };
    let created_date = created
        .as_deref()
        .and_then(dates::page_date)
        .or(dtg.map(|d| d.date));
    rec.created_original = created.clone();

    // Released.
    let released = released_original
        .as_deref()
        .and_then(dates::page_date)
        .map(dates::ymd);
    if let (Some(r), None) = (&released_original, &released) {
        findings.push(Finding::new(
            Code::MalformedField,
            name,
            format!("release date {r:?} cannot be read"),
        ));
    }
    rec.released = released.clone();

    rec.classification = classification.filter(|s| !s.is_empty());
    rec.origin = origin.filter(|s| !s.is_empty());

    let year = created_date
        .map(dates::year)
        .or_else(|| id::year_of(&rec.id));
    let mut bf = fields::read(&body, year);
    super::caveats_from_classification(&mut rec);
    rec.tags = if bf.has_tags_line && !bf.tags.is_empty() {
        std::mem::take(&mut bf.tags)
    } else {
        tags.as_deref()
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    rec.subject = bf.subject.take().or(page_subject);
    super::apply_body_fields(&mut rec, bf);
    // A mirror page's text may start with the routing header (full texts of cables.csv).
    let (header_end, _) = super::header::split(&body);
    super::apply_header(&mut rec, &body[..header_end]);

    // Redaction.
    let statement = redacted.filter(|s| !s.is_empty());
    let says_redacted = statement.as_deref().is_some_and(|s| {
        let l = s.to_ascii_lowercase();
        l.contains("redacted") && !l.contains("not redacted") && !l.contains("not been redacted")
    });
    partial |= text::contains(&body, PARTIAL_EXTRACT);
    rec.redaction = super::redaction_of(&body, says_redacted, partial, statement);

    // Source.
    let upstream_url = wikileaks.as_ref().and(created_date).map(|d| {
        let ym = d.format("%Y/%m");
        let page_id = rec.id_original.as_deref().unwrap_or(&rec.id);
        format!("https://wikileaks.org/cable/{ym}/{page_id}.html")
    });
    rec.text = body;
    rec.source = Source {
        publisher,
        url: None,
        released,
        released_original,
        upstream_url,
        site_build: None,
        retrieved: None,
        encoding: Some(decoded.encoding.to_string()),
        format: Some(Format::MirrorText.as_str().to_string()),
    };
    ParseOutcome {
        record: Some(rec),
        findings,
    }
}
