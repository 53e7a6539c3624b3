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

use super::reading::{self, Reading};
use super::text::{self, PARTIAL_EXTRACT};
use super::{CableRecord, Format, ParseOutcome, dates, fields, id};
use crate::cable::provenance::Source;

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

/// Reads one WikiLeaks cable page. Never panics.
pub(super) fn parse(bytes: &[u8], name: &str) -> ParseOutcome {
    let mut reading = Reading::new(name);
    let html = reading.decode_whole(bytes, "page");
    let site_build = release_counter(&html, &mut reading);
    let (h3_id, h3_subject) = heading(&html);
    let table = html
        .find("<table class='cable'>")
        .or_else(|| html.find("<table class=\"cable\">"));
    let cells = cable_table(&html, table, &mut reading);
    let cell = |i: usize| cells.get(i).filter(|c| !c.text.is_empty());
    let raw_id = cell(0)
        .map(|c| c.text.clone())
        .or_else(|| h3_id.clone().filter(|s| !s.is_empty()));
    let Some(mut rec) = reading.start_record(raw_id.as_deref()) else {
        return reading.no_record();
    };
    let url = cable_url(cell(0), &mut reading);
    let (header, body) = cable_text(&html[table.unwrap_or(0)..], &mut reading);
    let cable_year = read_created(&mut rec, cell(1), &header, &mut reading);
    let released_original = cell(2).map(|c| c.text.clone());
    let released = read_released(released_original.as_deref(), &mut reading);
    rec.released = released.clone();
    read_classification_and_origin(&mut rec, cell(3), cell(4), &mut reading);

    let mut bf = fields::read(&body, cable_year);
    reading::caveats_from_classification(&mut rec);
    rec.tags = std::mem::take(&mut bf.tags);
    rec.subject = bf.subject.take().or(h3_subject);
    reading::apply_body_fields(&mut rec, bf);
    reading::apply_header(&mut rec, &header);

    let full = full_text(&header, &body);
    let partial =
        text::contains(&header, PARTIAL_EXTRACT) || text::contains(&body, PARTIAL_EXTRACT);
    rec.redaction = reading::redaction_of(&full, None, partial, None);
    rec.text = full;
    rec.source = Source {
        publisher: Some("WikiLeaks".to_string()),
        url,
        released,
        released_original,
        site_build,
        ..reading.source(Format::WikileaksPage)
    };
    reading.finish(rec)
}

/// The release counter of the sidebar: "Currently released so far... 6693 / 251,287" → `6693`.
fn release_counter(html: &str, reading: &mut Reading) -> Option<String> {
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
        reading.missing("no release counter (\"Currently released so far... N / 251,287\")");
    }
    site_build
}

/// The heading `<h3>Viewing cable ID, SUBJECT</h3>`: its id and its subject.
fn heading(html: &str) -> (Option<String>, Option<String>) {
    let Some(i) = html.find("Viewing cable ") else {
        return (None, None);
    };
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

/// The cells of the cable table starting at `table` (Reference ID, Created, Released,
/// Classification, Origin).
fn cable_table(html: &str, table: Option<usize>, reading: &mut Reading) -> Vec<Cell> {
    let Some(t) = table else {
        reading.missing("no cable table (Reference ID, Created, Released, Classification, Origin)");
        return Vec::new();
    };
    let rest = &html[t..];
    let end = find_ci(rest, "</table>").unwrap_or_else(|| {
        reading.broken("cable table is not closed");
        // Cut at a character boundary: an unclosed table may hold multi-byte text.
        reading::head(rest, 8000).len()
    });
    let cells = table_cells(&rest[..end]);
    if cells.len() < 5 {
        reading.broken(format!("cable table has {} cells, expected 5", cells.len()));
    }
    cells
}

/// The URL of the cable's page, from the link of the id cell.
fn cable_url(id_cell: Option<&Cell>, reading: &mut Reading) -> Option<String> {
    let url = id_cell
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
        reading.missing("no link to the cable page in the table");
    }
    url
}

/// The routing header and the body, from the `<pre>` blocks after the table.
fn cable_text(html: &str, reading: &mut Reading) -> (String, String) {
    let blocks = pre_blocks(html);
    if blocks.iter().any(|(_, closed)| !closed) {
        reading.broken("a <pre> block is not closed");
    }
    let (header_html, body_html) = match blocks.len() {
        0 => {
            reading.missing("no cable text (<pre> blocks)");
            ("", "")
        }
        1 => {
            reading.broken("only one <pre> block; read as the body");
            ("", blocks[0].0)
        }
        n => {
            if n > 2 {
                reading.broken(format!(
                    "{n} <pre> blocks, expected 2; the first two are read"
                ));
            }
            (blocks[0].0, blocks[1].0)
        }
    };
    (text::pre_to_text(header_html), text::pre_to_text(body_html))
}

/// Sets `created` from the header's date-time group, or the page's date when the group is
/// missing or far from it (see the module documentation). Returns the cable's year.
fn read_created(
    rec: &mut CableRecord,
    created_cell: Option<&Cell>,
    header: &str,
    reading: &mut Reading,
) -> Option<i32> {
    let created_original = created_cell.map(|c| c.text.clone());
    let page_date = created_original.as_deref().and_then(dates::page_date);
    match &created_original {
        None => reading.missing("no Created date"),
        Some(c) if page_date.is_none() => {
            reading.malformed(format!("Created date {c:?} cannot be read"));
        }
        Some(_) => {}
    }
    let dtg = dates::find_dtg(header);
    rec.created = match (dtg, page_date) {
        (Some(d), Some(p)) if dates::days_apart(d.date, p) > 40 => {
            reading.malformed(format!(
                "header date-time group {} is far from the page's Created date {}; the page's date is used",
                d.rfc3339(),
                dates::ymd(p)
            ));
            Some(dates::ymd(p))
        }
        (Some(d), _) => Some(d.rfc3339()),
        (None, Some(p)) => Some(dates::ymd(p)),
        (None, None) => None,
    };
    rec.created_original = created_original;
    page_date
        .map(dates::year)
        .or_else(|| dtg.map(|d| dates::year(d.date)))
        .or_else(|| id::year_of(&rec.id))
}

/// The Released date as `YYYY-MM-DD`.
fn read_released(released_original: Option<&str>, reading: &mut Reading) -> Option<String> {
    let released = released_original.and_then(dates::page_date).map(dates::ymd);
    match (released_original, &released) {
        (None, _) => reading.missing("no Released date"),
        (Some(r), None) => reading.malformed(format!("Released date {r:?} cannot be read")),
        _ => {}
    }
    released
}

/// Classification (the link text) and origin, from their cells.
fn read_classification_and_origin(
    rec: &mut CableRecord,
    classification: Option<&Cell>,
    origin: Option<&Cell>,
    reading: &mut Reading,
) {
    rec.classification = classification.map(|c| c.text.clone());
    if rec.classification.is_none() {
        reading.missing("no Classification");
    }
    rec.origin = origin.map(|c| c.text.clone());
    if rec.origin.is_none() {
        reading.missing("no Origin");
    }
}

/// The cable's text: the header (trailing blanks cut), a blank line, the body.
fn full_text(header: &str, body: &str) -> String {
    let mut full = String::with_capacity(header.len() + body.len() + 2);
    full.push_str(header.trim_end_matches([' ', '\t']));
    if !header.is_empty() && !body.is_empty() {
        full.push_str("\n\n");
    }
    full.push_str(body);
    full
}
