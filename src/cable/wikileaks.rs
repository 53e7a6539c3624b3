//! Reader for the WikiLeaks "Cable Viewer" page of 2010-2011.
//!
//! The page is scanned with plain string search (no DOM): the release counter in the sidebar,
//! the `<h3>Viewing cable ID, SUBJECT</h3>` heading, the `<table class='cable'>` cells
//! (Reference ID, Created, Released, Classification, Origin) and the two `<pre>` blocks
//! (routing header and body).
//!
//! Field rules:
//! * `created` is the header's date-time group (`R 131429Z JAN 10` → `2010-01-13T14:29:00Z`),
//!   because the page's Created time has wrong minutes on every page. A DTG more than 40 days
//!   away from the page's date is not trusted (P005) and the page's date is used. Without a DTG,
//!   `created` is the page's date alone, `YYYY-MM-DD`.
//! * `classification` is the link text (the link's `title` is off by one on these pages).
//! * `subject` is the body's SUBJECT line, joined across lines; when the body has none, the h3
//!   heading's subject, as WikiLeaks' own index does.

use super::text::{self, PARTIAL_EXTRACT};
use super::{Format, ParseOutcome, dates, fields, id};
use crate::cable::provenance::Source;
use crate::finding::{Code, Finding};

/// True when the bytes look like a WikiLeaks cable page.
pub(super) fn looks_like(bytes: &[u8]) -> bool {
    let head = text::trim_start_bytes(bytes);
    let head = &head[..head.len().min(4096)];
    text::contains_ignore_case(head, b"<title>cable viewer</title>")
}

/// A `<td>` cell of the cable table.
struct Cell {
    href: Option<String>,
    text: String,
}

fn table_cells(table: &str) -> Vec<Cell> {
    let mut cells = Vec::new();
    let mut rest = table;
    while let Some(i) = find_ci(rest, "<td") {
        rest = &rest[i + 3..];
        let Some(gt) = rest.find('>') else { break };
        rest = &rest[gt + 1..];
        let end = find_ci(rest, "</td>").unwrap_or(rest.len());
        let inner = &rest[..end];
        let href = attr(inner, "href");
        cells.push(Cell {
            href,
            text: text::inline_text(inner),
        });
        rest = &rest[end..];
    }
    cells
}

/// ASCII case-insensitive find (needle must be ASCII lower case).
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    if let Some(i) = hay.find(needle) {
        return Some(i);
    }
    let upper = needle.to_ascii_uppercase();
    hay.find(&upper)
}

/// The value of the first `name='…'` / `name="…"` attribute in `html`.
fn attr(html: &str, name: &str) -> Option<String> {
    let mut rest = html;
    while let Some(i) = rest.find(name) {
        let after = &rest[i + name.len()..];
        let after = after.trim_start();
        if let Some(after) = after.strip_prefix('=') {
            let after = after.trim_start();
            let q = after.chars().next()?;
            if q == '\'' || q == '"' {
                let v = &after[1..];
                let end = v.find(q)?;
                return Some(text::unescape(&v[..end]).into_owned());
            }
        }
        rest = &rest[i + name.len()..];
    }
    None
}

/// The `<pre>` blocks: (inner html, closed properly).
fn pre_blocks(html: &str) -> Vec<(&str, bool)> {
    let mut blocks = Vec::new();
    let mut rest = html;
    while let Some(i) = find_ci(rest, "<pre") {
        let after = &rest[i + 4..];
        // `<pre>` or `<pre class=…>`, not `<prefix>`.
        if !after.starts_with(['>', ' ', '\t', '\n']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let inner_start = &after[gt + 1..];
        match find_ci(inner_start, "</pre>") {
            Some(end) => {
                let next_open = find_ci(&inner_start[..end], "<pre>");
                if let Some(n) = next_open {
                    blocks.push((&inner_start[..n], false));
                    rest = &inner_start[n..];
                } else {
                    blocks.push((&inner_start[..end], true));
                    rest = &inner_start[end + 6..];
                }
            }
            None => {
                // Unclosed: up to the next <pre>, the end of the pane, or the end of the page.
                let stop = [
                    find_ci(inner_start, "<pre>"),
                    find_ci(inner_start, "</code>"),
                    find_ci(inner_start, "</div>"),
                ]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(inner_start.len());
                blocks.push((&inner_start[..stop], false));
                rest = &inner_start[stop..];
            }
        }
    }
    blocks
}

fn finding(code: Code, name: &str, msg: impl Into<String>) -> Finding {
    Finding::new(code, name, msg)
}

/// Reads one WikiLeaks cable page. Never panics.
pub(super) fn parse(bytes: &[u8], name: &str) -> ParseOutcome {
    let mut findings = Vec::new();
    let decoded = text::decode(bytes);
    findings.extend(decoded.findings(name, "page"));
    let html: &str = &decoded.text;

    // Release counter: "Currently released so far... 6693 / 251,287".
    let site_build = html.find("Currently released so far").and_then(|i| {
        let rest = &html[i..html.len().min(i + 120)];
        let rest = rest.trim_start_matches(|c: char| !c.is_ascii_digit());
        let n: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(|c| c.is_ascii_digit())
            .collect();
        (!n.is_empty()).then_some(n)
    });
    if site_build.is_none() {
        findings.push(finding(
            Code::MissingField,
            name,
            "no release counter (\"Currently released so far... N / 251,287\")",
        ));
    }

    // Heading: <h3>Viewing cable ID, SUBJECT</h3>.
    let (h3_id, h3_subject) = match html.find("Viewing cable ") {
        Some(i) => {
            let rest = &html[i + "Viewing cable ".len()..];
            let end = rest.find("</h3>").unwrap_or(rest.len().min(2000));
            let inner = &rest[..end];
            let (idp, subj) = match inner.find(',') {
                Some(c) => (&inner[..c], &inner[c + 1..]),
                None => (inner, ""),
            };
            let subj = text::inline_text(subj);
            let subj = subj.trim_end_matches('\\').trim().to_string();
            (
                Some(text::inline_text(idp)),
                (!subj.is_empty()).then_some(subj),
            )
        }
        None => (None, None),
    };

    // Table.
    let table = html
        .find("<table class='cable'>")
        .or_else(|| html.find("<table class=\"cable\">"));
    let cells = match table {
        Some(t) => {
            let rest = &html[t..];
            let end = find_ci(rest, "</table>").unwrap_or_else(|| {
                findings.push(finding(
                    Code::BrokenMarkup,
                    name,
                    "cable table is not closed",
                ));
                // Cut at a character boundary: an unclosed table may hold multi-byte text.
                let mut cut = rest.len().min(8000);
                while !rest.is_char_boundary(cut) {
                    cut -= 1;
                }
                cut
            });
            table_cells(&rest[..end])
        }
        None => {
            findings.push(finding(
                Code::MissingField,
                name,
                "no cable table (Reference ID, Created, Released, Classification, Origin)",
            ));
            Vec::new()
        }
    };
    if table.is_some() && cells.len() < 5 {
        findings.push(finding(
            Code::BrokenMarkup,
            name,
            format!("cable table has {} cells, expected 5", cells.len()),
        ));
    }
    let cell = |i: usize| cells.get(i).filter(|c| !c.text.is_empty());

    // Id.
    let raw_id = cell(0)
        .map(|c| c.text.clone())
        .or_else(|| h3_id.clone().filter(|s| !s.is_empty()));
    let Some(mut rec) = super::start_record(raw_id.as_deref(), name, &mut findings) else {
        return ParseOutcome {
            record: None,
            findings,
        };
    };

    // Source.
    let url = cell(0)
        .and_then(|c| c.href.clone())
        .filter(|h| h.starts_with("/cable/") || h.starts_with("http"))
        .map(|h| {
            if h.starts_with('/') {
                format!("https://wikileaks.org{h}")
            } else {
                h
            }
        });
    if url.is_none() {
        findings.push(finding(
            Code::MissingField,
            name,
            "no link to the cable page in the table",
        ));
    }

    // Pre blocks.
    let search_from = table.unwrap_or(0);
    let blocks = pre_blocks(&html[search_from..]);
    if blocks.iter().any(|(_, closed)| !closed) {
        findings.push(finding(
            Code::BrokenMarkup,
            name,
            "a <pre> block is not closed",
        ));
    }
    let (header_html, body_html) = match blocks.len() {
        0 => {
            findings.push(finding(
                Code::MissingField,
                name,
                "no cable text (<pre> blocks)",
            ));
            ("", "")
        }
        1 => {
            findings.push(finding(
                Code::BrokenMarkup,
                name,
                "only one <pre> block; read as the body",
            ));
            ("", blocks[0].0)
        }
        n => {
            if n > 2 {
                findings.push(finding(
                    Code::BrokenMarkup,
                    name,
                    format!("{n} <pre> blocks, expected 2; the first two are read"),
                ));
            }
            (blocks[0].0, blocks[1].0)
        }
    };
    let header = text::pre_to_text(header_html);
    let body = text::pre_to_text(body_html);

    // Created.
    let created_original = cell(1).map(|c| c.text.clone());
    let page_date = created_original.as_deref().and_then(dates::page_date);
    if created_original.is_none() {
        findings.push(finding(Code::MissingField, name, "no Created date"));
    } else if page_date.is_none() {
        findings.push(finding(
            Code::MalformedField,
            name,
            format!(
                "Created date {:?} cannot be read",
                created_original.as_deref().unwrap_or("")
            ),
        ));
    }
    let dtg = dates::find_dtg(&header);
    rec.created = match (dtg, page_date) {
        (Some(d), Some(p)) if dates::days_apart(d.date, p) > 40 => {
            findings.push(finding(
                Code::MalformedField,
                name,
                format!(
                    "header date-time group {} is far from the page's Created date {}; the page's date is used",
                    d.rfc3339(),
                    dates::ymd(p)
                ),
            ));
            Some(dates::ymd(p))
        }
        (Some(d), _) => Some(d.rfc3339()),
        (None, Some(p)) => Some(dates::ymd(p)),
        (None, None) => None,
    };
    rec.created_original = created_original;
    let cable_year = page_date
        .map(dates::year)
        .or_else(|| dtg.map(|d| dates::year(d.date)))
        .or_else(|| id::year_of(&rec.id));

    // Released.
    let released_original = cell(2).map(|c| c.text.clone());
    let released = released_original
        .as_deref()
        .and_then(dates::page_date)
        .map(dates::ymd);
    match (&released_original, &released) {
        (None, _) => findings.push(finding(Code::MissingField, name, "no Released date")),
        (Some(r), None) => findings.push(finding(
            Code::MalformedField,
            name,
            format!("Released date {r:?} cannot be read"),
        )),
        _ => {}
    }
    rec.released = released.clone();

    // Classification and origin.
    rec.classification = cell(3).map(|c| c.text.clone());
    if rec.classification.is_none() {
        findings.push(finding(Code::MissingField, name, "no Classification"));
    }
    rec.origin = cell(4).map(|c| c.text.clone());
    if rec.origin.is_none() {
        findings.push(finding(Code::MissingField, name, "no Origin"));
    }

    // Body fields.
    let mut bf = fields::read(&body, cable_year);
    super::caveats_from_classification(&mut rec);
    rec.tags = std::mem::take(&mut bf.tags);
    rec.subject = bf.subject.take().or(h3_subject);
    super::apply_body_fields(&mut rec, bf);
    super::apply_header(&mut rec, &header);

    // Text.
    let mut full = String::with_capacity(header.len() + body.len() + 2);
    full.push_str(header.trim_end_matches([' ', '\t']));
    if !header.is_empty() && !body.is_empty() {
        full.push_str("\n\n");
    }
    full.push_str(&body);
    let partial =
        text::contains(&header, PARTIAL_EXTRACT) || text::contains(&body, PARTIAL_EXTRACT);
    rec.redaction = super::redaction_of(&full, false, partial, None);
    rec.text = full;
    rec.source = Source {
        publisher: Some("WikiLeaks".to_string()),
        url,
        released,
        released_original,
        upstream_url: None,
        site_build,
        retrieved: None,
        encoding: Some(decoded.encoding.to_string()),
        format: Some(Format::WikileaksPage.as_str().to_string()),
    };
    ParseOutcome {
        record: Some(rec),
        findings,
    }
}
