//! A cable's page: what the seed page shows (subject, identifier, origin, dates,
//! classification, tags, the redaction and partial-extract statements, the text with its line
//! breaks) and what no mirror showed: the canonical id beside the published one, facts linked to
//! their lists, references linked to the cables the edition holds, every capture with its
//! provenance, the cable's history across versions with the text difference between captures,
//! how to cite it, and its proof. Alias pages lead from the other ids it was published under.
//!
//! Written with `write!` into one pre-sized `String`: a page is a pure function of the cable and
//! the edition, and costs a few tens of microseconds.

use crate::bag::capture::IndexLine;
use crate::error::Result;
use crate::query::select::{RecordView, Selected};
use crate::seal::SealedVersion;
use crate::store::diff::{DiffLine, text_hunks};
use crate::web::edition::{CableFacts, Edition, Value};
use crate::web::history::{CableHistory, Change};
use crate::web::html::{Page, esc, esc_into, layout};
use crate::web::paths::{self, Facet};
use std::fmt::Write;

/// Unchanged lines shown around each change of a text difference.
const DIFF_CONTEXT: usize = 2;

/// Lines of a text difference shown at most (changes, context and gaps); the rest is counted.
const DIFF_SHOWN_LINES: usize = 400;

/// The page of cable number `index` (linking its proof when `proof` is true) and a page at
/// each of its aliases, as (path, bytes).
pub fn page_files(
    ed: &Edition,
    index: usize,
    cable: &Selected,
    proof: bool,
) -> Vec<(String, Vec<u8>)> {
    let facts = &ed.cables[index];
    let proof_path = proof.then(|| paths::cable_proof(facts.created.as_deref(), &facts.id));
    let mut files = Vec::with_capacity(1 + facts.aliases.len());
    files.push((
        facts.page.to_string(),
        cable_page(ed, index, cable, proof_path.as_deref()),
    ));
    for alias in &facts.aliases {
        files.push((alias.clone(), alias_page(ed, facts, alias)));
    }
    files
}

/// The proof of the cable of index line `line`: (path, bytes).
pub fn proof_file(sealed: &SealedVersion, line: &IndexLine) -> Result<(String, Vec<u8>)> {
    let proof = sealed.proof(&line.id, &crate::seal::cable_files(line))?;
    let path = paths::cable_proof(line.created.as_deref(), &line.id);
    Ok((path, proof.to_bytes()))
}

/// The page of cable number `index`; `proof` is the path of its proof when one is written.
pub fn cable_page(ed: &Edition, index: usize, cable: &Selected, proof: Option<&str>) -> Vec<u8> {
    let facts = &ed.cables[index];
    let r = &cable.record;
    let title = match r.subject.as_deref() {
        Some(s) if !s.trim().is_empty() => s.to_string(),
        _ => format!("Cable {}", cable.line.id),
    };
    let older_text: usize = cable.older.iter().map(|o| o.text.len()).sum();
    let mut out = String::with_capacity(8192 + r.text.len() * 5 / 4 + older_text / 2);
    let w = &mut Writer {
        out: &mut out,
        from: &facts.page,
    };
    w.raw("<h1>");
    w.text(&title);
    w.raw("</h1>\n");
    facts_list(w, ed, facts, cable);
    statements(w, ed, cable);
    w.raw("<h2 id=\"text\">Text</h2>\n<pre class=\"text\">");
    w.text(&r.text);
    w.raw("</pre>\n");
    references(w, ed, r);
    captures(w, ed, index, cable);
    history(w, ed, index, cable);
    citation(w, ed, cable);
    let footer = match proof {
        Some(p) => {
            let mut f = String::with_capacity(256);
            let _ = writeln!(
                f,
                "<p class=\"proof\">This cable&#39;s files are in the sealed version: \
                 <a href=\"{}\">its proof</a> (check it with <code>cablekeep check-proof</code>).</p>",
                esc(&paths::relative(&facts.page, p))
            );
            f
        }
        None => String::new(),
    };
    layout(
        ed,
        &Page {
            path: &facts.page,
            title: &title,
            main: &out,
            footer_extra: &footer,
        },
    )
}

/// Writes HTML for the page at `from` (links are made relative to it).
struct Writer<'a> {
    out: &'a mut String,
    from: &'a str,
}

impl Writer<'_> {
    /// Markup, as it is.
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Text, escaped.
    fn text(&mut self, s: &str) {
        esc_into(self.out, s);
    }

    /// A link to a file of the edition (a path relative to its root), with `label` as text.
    fn link(&mut self, to: &str, label: &str) {
        self.out.push_str("<a href=\"");
        esc_into(self.out, &paths::relative(self.from, to));
        self.out.push_str("\">");
        esc_into(self.out, label);
        self.out.push_str("</a>");
    }

    /// A link to an outside URL when it is `http(s)`; any other URL as text only (a
    /// `javascript:` URL from a page must not become a link).
    fn url(&mut self, url: &str) {
        if is_web_url(url) {
            self.out.push_str("<a href=\"");
            esc_into(self.out, url);
            self.out.push_str("\" rel=\"nofollow noreferrer\">");
            esc_into(self.out, url);
            self.out.push_str("</a>");
        } else {
            esc_into(self.out, url);
        }
    }

    /// Opens a fact of the `<dl>`.
    fn fact(&mut self, name: &str) {
        self.out.push_str("<dt>");
        self.out.push_str(name);
        self.out.push_str("</dt>\n<dd>");
    }
}

/// True for an absolute `http:` or `https:` URL.
fn is_web_url(url: &str) -> bool {
    let lower = |n: usize| url.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// The list page of a value of a facet, when the edition lists it.
fn value_list(values: &[Value], at: Option<u32>, facet: Facet) -> Option<(String, &str)> {
    let v = values.get(at? as usize)?;
    Some((paths::list_page(facet, &v.slug, 0), &v.name))
}

/// The value named `name` among sorted `values`.
fn value_named<'a>(values: &'a [Value], name: &str) -> Option<&'a Value> {
    values
        .binary_search_by(|v| v.name.as_str().cmp(name))
        .ok()
        .map(|i| &values[i])
}

/// `YYYY-MM-DD` of a date or date-time, when it starts with one.
fn day_of(s: &str) -> Option<&str> {
    let d = s.get(..10)?;
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)).then_some(d)
}

/// A stored date-time for reading: `2006-01-12T17:06:00Z` as `2006-01-12 17:06 UTC`; other
/// values as they are.
fn readable_time(s: &str) -> std::borrow::Cow<'_, str> {
    match (day_of(s), s.get(10..11), s.get(11..16), s.ends_with('Z')) {
        (Some(d), Some("T"), Some(hm), true) => format!("{d} {hm} UTC").into(),
        _ => s.into(),
    }
}

/// The facts: identifier (and canonical id), source, origin, dates, classification, caveats,
/// tags and signers, each linked to its list where the edition has one.
fn facts_list(w: &mut Writer<'_>, ed: &Edition, facts: &CableFacts, cable: &Selected) {
    let r = &cable.record;
    let line = &cable.line;
    w.raw("<dl class=\"facts\">\n");
    w.fact("Identifier");
    w.raw("<span class=\"id\">");
    w.text(cable.published_id());
    w.raw("</span>");
    if cable.published_id() != line.id {
        w.raw(" (canonical id <span class=\"id\">");
        w.text(&line.id);
        w.raw("</span>)");
    }
    w.raw("</dd>\n");
    if let Some(url) = r.source.upstream_url.as_deref().or(r.source.url.as_deref()) {
        w.fact("Source");
        w.url(url);
        w.raw("</dd>\n");
    }
    w.fact("Origin");
    match value_list(&ed.values.origins, facts.origin, Facet::Origin) {
        Some((page, name)) => w.link(&page, name),
        None => w.text(line.origin.as_deref().unwrap_or("not given")),
    }
    w.raw("</dd>\n");
    w.fact("Created");
    match r.created.as_deref().or(line.created.as_deref()) {
        Some(created) => {
            w.raw("<time datetime=\"");
            w.text(created);
            w.raw("\">");
            w.text(&readable_time(created));
            w.raw("</time>");
            if let Some((y, m)) = paths::year_month(Some(created)) {
                w.raw(" (");
                w.link(
                    &paths::list_page(Facet::Date, &format!("{y}-{m}"), 0),
                    &format!("cables of {y}-{m}"),
                );
                w.raw(")");
            }
        }
        None => w.raw("not given"),
    }
    w.raw("</dd>\n");
    w.fact("Released");
    match line.released.as_deref() {
        Some(released) => match day_of(released) {
            Some(day) => w.link(&paths::list_page(Facet::Released, day, 0), released),
            None => w.text(released),
        },
        None => w.raw("not given"),
    }
    w.raw("</dd>\n");
    w.fact("Classification");
    match value_list(
        &ed.values.classifications,
        facts.classification,
        Facet::Classification,
    ) {
        Some((page, name)) => w.link(&page, name),
        None => w.text(line.classification.as_deref().unwrap_or("not given")),
    }
    w.raw("</dd>\n");
    if !r.caveats.is_empty() {
        w.fact("Caveats");
        w.text(&r.caveats.join(", "));
        w.raw("</dd>\n");
    }
    w.fact("Tags");
    if line.tags.is_empty() {
        w.raw("none");
    }
    for (i, tag) in line.tags.iter().enumerate() {
        if i > 0 {
            w.raw(" ");
        }
        match value_named(&ed.values.tags, tag) {
            Some(v) => w.link(&paths::list_page(Facet::Tag, &v.slug, 0), tag),
            None => w.text(tag),
        }
    }
    w.raw("</dd>\n");
    if !r.signers.is_empty() {
        w.fact("Signed");
        w.text(&r.signers.join(", "));
        w.raw("</dd>\n");
    }
    w.raw("</dl>\n");
}

/// The seed page's statements: whether the publisher redacted the cable, and whether the
/// record is only a partial extract.
fn statements(w: &mut Writer<'_>, _ed: &Edition, cable: &Selected) {
    let r = &cable.record;
    let by = r
        .source
        .publisher
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or("its publisher");
    w.raw("<p class=\"statement redaction\">");
    if r.redaction.runs > 0 || r.redaction.status == "redacted" {
        w.raw("Redacted: this cable was redacted by ");
        w.text(by);
        let _ = write!(
            w.out,
            " ({} {} of X in its text). ",
            r.redaction.runs,
            runs(r.redaction.runs)
        );
        w.link(
            &paths::list_page(Facet::Redaction, "redacted", 0),
            "Redacted cables",
        );
    } else {
        w.raw("Redacted: this cable was not redacted by ");
        w.text(by);
        w.raw(". ");
        w.link(
            &paths::list_page(Facet::Redaction, "not-redacted", 0),
            "Cables not redacted",
        );
    }
    w.raw("</p>\n");
    if r.redaction.partial_extract {
        w.raw(
            "<p class=\"statement partial\">This record is a partial extract of the original \
             cable. The full text of the original cable is not available. ",
        );
        w.link(
            &paths::list_page(Facet::Redaction, "partial-extract", 0),
            "Partial extracts",
        );
        w.raw("</p>\n");
    }
}

/// The references of the cable, each linked to its page when the edition holds the cable.
fn references(w: &mut Writer<'_>, ed: &Edition, r: &RecordView) {
    if r.references.is_empty() {
        return;
    }
    w.raw("<h2 id=\"references\">References</h2>\n<ul class=\"refs\">\n");
    for reference in &r.references {
        w.raw("<li>");
        match ed.cable(reference) {
            Some((_, c)) => {
                w.link(&c.page, reference);
                if let Some(s) = &c.subject {
                    w.raw(": ");
                    w.text(s);
                }
            }
            None => w.text(reference),
        }
        w.raw("</li>\n");
    }
    w.raw("</ul>\n");
}

/// Every capture with its provenance, oldest first.
fn captures(w: &mut Writer<'_>, ed: &Edition, index: usize, cable: &Selected) {
    let n = cable.line.captures.len();
    w.raw("<h2 id=\"captures\">Captures</h2>\n<div class=\"scroll\" role=\"region\" aria-labelledby=\"captures\" tabindex=\"0\">\n<table class=\"captures\">\n<caption>");
    let _ = write!(
        w.out,
        "{n} {} of this cable in ",
        if n == 1 { "capture" } else { "captures" }
    );
    w.text(&ed.version.identifier);
    w.raw(
        ", oldest first; the last one is the current text</caption>\n<thead>\n<tr>\
         <th scope=\"col\">Capture</th><th scope=\"col\">Publisher</th><th scope=\"col\">URL</th>\
         <th scope=\"col\">Released</th><th scope=\"col\">Site build</th>\
         <th scope=\"col\">Retrieved</th><th scope=\"col\">Added in</th>\
         <th scope=\"col\">SHA-256</th><th scope=\"col\">Bytes</th>\
         <th scope=\"col\">Format</th><th scope=\"col\">Redaction</th></tr>\n</thead>\n<tbody>\n",
    );
    for (i, c) in cable.line.captures.iter().enumerate() {
        let source = cable.sources.get(i);
        w.raw("<tr><th scope=\"row\">");
        w.text(&c.name);
        w.raw("</th><td>");
        w.text(
            source
                .and_then(|s| s.publisher.as_deref())
                .unwrap_or("not given"),
        );
        w.raw("</td><td class=\"url\">");
        match source.and_then(|s| s.url.as_deref()) {
            Some(u) => w.url(u),
            None => w.raw("not given"),
        }
        w.raw("</td><td>");
        let released = c
            .released
            .as_deref()
            .or(source.and_then(|s| s.released.as_deref()));
        w.text(released.unwrap_or("undated"));
        if let Some(orig) = source.and_then(|s| s.released_original.as_deref())
            && Some(orig) != released
        {
            w.raw(" (as written: ");
            w.text(orig);
            w.raw(")");
        }
        w.raw("</td><td>");
        w.text(c.site_build.as_deref().unwrap_or(""));
        w.raw("</td><td>");
        w.text(
            &c.retrieved
                .as_deref()
                .map(readable_time)
                .unwrap_or_default(),
        );
        w.raw("</td><td>");
        if let Some(v) = ed.history.capture_added_in(index, &c.name) {
            let _ = write!(w.out, "v{v}");
        }
        w.raw("</td><td><code class=\"digest\">");
        w.text(&c.sha256);
        let _ = write!(w.out, "</code></td><td>{}</td><td>", c.bytes);
        w.text(&c.format);
        w.raw("</td><td>");
        redaction_cell(w, &c.redaction);
        w.raw("</td></tr>\n");
    }
    w.raw("</tbody>\n</table>\n</div>\n");
}

/// `run` or `runs`, for a count of redaction runs.
fn runs(n: usize) -> &'static str {
    if n == 1 { "run" } else { "runs" }
}

/// A capture's redaction facts in its row of the captures table.
fn redaction_cell(w: &mut Writer<'_>, r: &crate::bag::capture::RedactionSummary) {
    w.text(&r.status);
    if r.runs > 0 {
        let _ = write!(w.out, " ({} {})", r.runs, runs(r.runs));
    }
    if r.partial_extract {
        w.raw(", partial extract");
    }
}

/// The cable's history: the version it entered and what happened to it since, then each
/// change between consecutive captures (redactions gained or lost, the text difference).
fn history(w: &mut Writer<'_>, ed: &Edition, index: usize, cable: &Selected) {
    let h = ed.history.of(index);
    w.raw("<h2 id=\"history\">History</h2>\n<ol class=\"history\">\n");
    version_events(w, ed, &h);
    w.raw("</ol>\n");
    let caps = &cable.line.captures;
    if caps.len() < 2 {
        return;
    }
    // The texts when the older records were read (else only their digests are compared).
    let texts: Option<Vec<&str>> = (cable.older.len() + 1 == caps.len()).then(|| {
        cable
            .older
            .iter()
            .map(|o| o.text.as_str())
            .chain([cable.record.text.as_str()])
            .collect()
    });
    for i in 1..caps.len() {
        let (a, b) = (&caps[i - 1], &caps[i]);
        let _ = write!(w.out, "<h3 id=\"change-{i}\">");
        w.text(&a.name);
        w.raw(" \u{2192} ");
        w.text(&b.name);
        w.raw("</h3>\n<p class=\"change\">");
        if let Some(v) = ed.history.capture_added_in(index, &b.name) {
            let _ = write!(w.out, "The later capture was added in ");
            w.text(&ed.version.collection);
            let _ = write!(w.out, "@v{v}. ");
        }
        let (x, y) = (a.redaction.runs, b.redaction.runs);
        let word = match x.cmp(&y) {
            std::cmp::Ordering::Less => "Redactions gained",
            std::cmp::Ordering::Greater => "Redactions lost",
            std::cmp::Ordering::Equal => "Redactions unchanged in number",
        };
        let _ = write!(w.out, "{word}: {x} {} before, {y} after. ", runs(x));
        if a.redaction.partial_extract != b.redaction.partial_extract {
            w.raw(if b.redaction.partial_extract {
                "The later capture is only a partial extract. "
            } else {
                "The later capture is no longer a partial extract. "
            });
        }
        if a.text_sha256 == b.text_sha256 {
            w.raw("The text is the same.</p>\n");
            continue;
        }
        match &texts {
            Some(t) => text_difference(w, t[i - 1], t[i]),
            None => w.raw("The text changed.</p>\n"),
        }
    }
}

/// The `<li>`s of a history: entered, then each later event.
fn version_events(w: &mut Writer<'_>, ed: &Edition, h: &CableHistory<'_>) {
    let collection = &ed.version.collection;
    let item = |w: &mut Writer<'_>, v: u32| {
        w.raw("<li><strong>");
        w.text(collection);
        let _ = write!(w.out, "@v{v}</strong>: ");
    };
    if let Some(v) = h.entered {
        item(w, v);
        w.raw("entered the collection.</li>\n");
    }
    for e in h.events {
        item(w, e.version);
        match &e.change {
            Change::Absent => w.raw("not in this version."),
            Change::Returned => w.raw("back in the collection."),
            Change::Captures { added, removed } => {
                names(w, "added", added);
                if !added.is_empty() && !removed.is_empty() {
                    w.raw("; ");
                }
                names(w, "removed", removed);
                w.raw(".");
            }
        }
        w.raw("</li>\n");
    }
}

/// `capture X added` / `captures X, Y removed`; nothing for none.
fn names(w: &mut Writer<'_>, what: &str, names: &[String]) {
    if names.is_empty() {
        return;
    }
    w.raw(if names.len() == 1 {
        "capture "
    } else {
        "captures "
    });
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            w.raw(", ");
        }
        w.raw("<span class=\"capture\">");
        w.text(n);
        w.raw("</span>");
    }
    w.raw(" ");
    w.raw(what);
}

/// The line counts of a text change (ending the `<p>` left open) and the difference in a
/// `<details>`, bounded.
fn text_difference(w: &mut Writer<'_>, before: &str, after: &str) {
    let d = text_hunks(before, after, DIFF_CONTEXT, DIFF_SHOWN_LINES);
    let _ = writeln!(
        w.out,
        "Text changed: {} {} added, {} removed.</p>",
        d.added,
        if d.added == 1 { "line" } else { "lines" },
        d.removed
    );
    if !d.by_line {
        w.raw(
            "<p class=\"change\">The texts are too long to compare line by line here; \
             compare them with <code>cablekeep diff</code>.</p>\n",
        );
        return;
    }
    w.raw("<details class=\"diff\">\n<summary>The difference, line by line</summary>\n<pre class=\"diff\">");
    for line in &d.lines {
        match line {
            DiffLine::Same(l) => {
                w.raw("  ");
                w.text(l);
            }
            DiffLine::Added(l) => {
                w.raw("<ins>+ ");
                w.text(l);
                w.raw("</ins>");
            }
            DiffLine::Removed(l) => {
                w.raw("<del>- ");
                w.text(l);
                w.raw("</del>");
            }
            DiffLine::Skipped(n) => {
                let _ = write!(
                    w.out,
                    "<span class=\"gap\">\u{2026} {n} unchanged {} \u{2026}</span>",
                    if *n == 1 { "line" } else { "lines" }
                );
            }
        }
        w.raw("\n");
    }
    w.raw("</pre>\n");
    if d.omitted > 0 {
        let _ = writeln!(
            w.out,
            "<p>{} more changed lines are not shown here.</p>",
            d.omitted
        );
    }
    w.raw("</details>\n");
}

/// How to cite the cable: plain text, BibTeX and CSL-JSON, each naming the archive's SHA-256.
fn citation(w: &mut Writer<'_>, ed: &Edition, cable: &Selected) {
    let cite = crate::export::citation::cable_citation(&ed.version, cable);
    w.raw("<h2 id=\"cite\">How to cite this cable</h2>\n<p>Each form names the archive this page shows, ");
    w.text(&ed.version.identifier);
    w.raw(", by its SHA-256 <code class=\"digest\">");
    w.text(&ed.version.archive_sha256);
    w.raw("</code>.</p>\n");
    for (id, name, text) in [
        ("cite-text", "Plain text", &cite.plain),
        ("cite-bibtex", "BibTeX", &cite.bibtex),
        ("cite-csl", "CSL-JSON", &cite.csl_json),
    ] {
        let _ = write!(w.out, "<h3 id=\"{id}\">{name}</h3>\n<pre class=\"cite\">");
        w.text(text.trim_end());
        w.raw("</pre>\n");
    }
}

/// A page at another id of the cable (`alias`, a path of the edition), leading to its page.
pub fn alias_page(ed: &Edition, facts: &CableFacts, alias: &str) -> Vec<u8> {
    let alias_id = alias
        .rsplit('/')
        .next()
        .unwrap_or(alias)
        .trim_end_matches(".html");
    let to = paths::relative(alias, &facts.page);
    let mut main = String::with_capacity(1024);
    let w = &mut Writer {
        out: &mut main,
        from: alias,
    };
    w.raw("<h1>");
    w.text(alias_id);
    w.raw("</h1>\n<p class=\"alias\">");
    if alias_id == &*facts.id {
        w.raw("This is the canonical id of the cable published as <span class=\"id\">");
        w.text(&facts.published_id);
        w.raw("</span>");
    } else {
        w.raw("The cable <span class=\"id\">");
        w.text(&facts.id);
        w.raw("</span> was also published as <span class=\"id\">");
        w.text(alias_id);
        w.raw("</span>");
    }
    w.raw("; this cable&#39;s page is ");
    w.link(
        &facts.page,
        facts.subject.as_deref().unwrap_or(&facts.published_id),
    );
    w.raw(".</p>\n");
    let title = format!("{alias_id} (see {})", facts.published_id);
    let page = layout(
        ed,
        &Page {
            path: alias,
            title: &title,
            main: &main,
            footer_extra: "",
        },
    );
    with_refresh(page, &to)
}

/// `page` with `<meta http-equiv="refresh">` to `to` (relative) at the end of its head.
fn with_refresh(mut page: Vec<u8>, to: &str) -> Vec<u8> {
    let meta = format!(
        "<meta http-equiv=\"refresh\" content=\"0; url={}\">\n",
        esc(to)
    );
    let end = b"</head>";
    match page.windows(end.len()).position(|w| w == end) {
        Some(at) => {
            page.splice(at..at, meta.into_bytes());
            page
        }
        None => page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample_cable;
    use crate::query::select::VersionRef;
    use crate::web::History;
    use crate::web::edition::Values;
    use serde_json::json;

    fn version() -> VersionRef {
        VersionRef {
            collection: "dev".into(),
            version: 2,
            identifier: "dev@v2".into(),
            manifest_sha256: "ab".repeat(32),
            archive_sha256: "cd".repeat(32),
            created: "2026-11-27T10:00:00Z".into(),
            message: "m".into(),
            cables: 2,
        }
    }

    fn facts(id: &str, created: Option<&str>, subject: Option<&str>) -> CableFacts {
        CableFacts {
            id: id.into(),
            published_id: id.into(),
            page: paths::cable_page(created, id).into(),
            aliases: vec![paths::cable_page(created, &format!("{id}X"))],
            created: created.map(Box::from),
            released: Some("2011-08-30".into()),
            subject: subject.map(Box::from),
            origin: Some(0),
            classification: None,
            tags: Box::new([]),
            redacted: false,
            partial_extract: false,
        }
    }

    fn edition(cables: Vec<CableFacts>) -> Edition {
        let values = Values {
            origins: vec![Value {
                name: "Embassy Madrid".into(),
                slug: "embassy-madrid".into(),
            }],
            ..Values::default()
        };
        Edition::of_parts(version(), cables, values, History::default())
    }

    fn html(ed: &Edition, index: usize, c: &Selected) -> String {
        String::from_utf8(cable_page(ed, index, c, None)).unwrap()
    }

    #[test]
    fn hostile_text_makes_no_markup() {
        let evil = "<script>alert(1)</script>\"'&";
        let mut c = sample_cable(
            "08MADRID1",
            json!({
                "subject": evil,
                "text": format!("</pre>{evil}\nline two"),
                "references": ["<b>x</b>", "08MADRID2"],
                "caveats": [evil], "signers": [evil], "origin": evil,
                "source": {"publisher": "<i>p</i>", "url": "javascript:alert(1)",
                           "released": "2011-08-30", "upstream_url": "JAVASCRIPT:x"}
            }),
        );
        c.line.tags = vec![evil.into()];
        c.line.released = Some(evil.into());
        c.line.captures[0].name = "<img src=x onerror=alert(1)>".into();
        c.line.captures[1].format = evil.into();
        let mut f = facts("08MADRID1", Some("2008-03-04"), Some(evil));
        f.aliases = vec!["cable/2008/03/08MADRID1X.html".into()];
        let ed = edition(vec![f, facts("08MADRID2", None, Some(evil))]);
        let page = html(&ed, 0, &c);
        for bad in [
            "<script",
            "<img",
            "<b>",
            "<i>",
            "href=\"javascript",
            "href=\"JAVASCRIPT",
        ] {
            assert!(!page.contains(bad), "{bad} in {page}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
        assert!(page.contains("&lt;/pre&gt;"));
        assert_eq!(page.matches("<h1>").count(), 1);
        assert_eq!(page.matches("<pre class=\"text\">").count(), 1);
        // The reference the edition holds is a link, the other is text.
        assert!(page.contains("<a href=\"../../../cable/undated/08MADRID2.html\">08MADRID2</a>"));
        assert!(page.contains("<li>&lt;b&gt;x&lt;/b&gt;</li>"));
        let alias =
            String::from_utf8(alias_page(&ed, &ed.cables[0], &ed.cables[0].aliases[0])).unwrap();
        assert!(!alias.contains("<script"), "{alias}");
        assert!(
            alias.contains("content=\"0; url=../../../cable/2008/03/08MADRID1.html\""),
            "{alias}"
        );
    }

    #[test]
    fn a_cable_without_date_or_subject_has_a_plain_page() {
        let c = sample_cable(
            "08X1",
            json!({"created": null, "subject": null, "released": null, "references": [],
                   "caveats": [], "signers": [], "origin": null}),
        );
        let ed = edition(vec![facts("08X1", None, None)]);
        let page = html(&ed, 0, &c);
        assert!(page.contains("<h1>Cable 08X1</h1>"), "{page}");
        assert!(page.contains("<title>Cable 08X1 · dev@v2</title>"));
        assert!(
            page.contains("<dt>Created</dt>\n<dd>not given</dd>"),
            "{page}"
        );
        assert!(
            !page.contains("cables of"),
            "no date list for an undated cable"
        );
        assert!(!page.contains("id=\"references\""));
        // Same input, same bytes.
        assert_eq!(page, html(&ed, 0, &c));
        // The two captures have one text digest: no difference is shown.
        assert!(page.contains("The text is the same."), "{page}");
        assert!(!page.contains("<details"));
    }

    #[test]
    fn consecutive_captures_show_their_difference_and_redactions() {
        let mut c = sample_cable("08X1", json!({"text": "a\nb XXXXX\nc\n"}));
        let mut older = c.record.clone();
        older.text = "a\nb secret\nc\n".into();
        c.older = vec![older];
        c.line.captures[1].text_sha256 = "02".into();
        c.line.captures[1].redaction.runs = 1;
        let ed = edition(vec![facts("08X1", Some("2008-03-04"), Some("S"))]);
        let page = html(&ed, 0, &c);
        assert!(
            page.contains("Redactions gained: 0 runs before, 1 after."),
            "{page}"
        );
        assert!(
            page.contains("Text changed: 1 line added, 1 removed."),
            "{page}"
        );
        assert!(
            page.contains("<del>- b secret</del>\n<ins>+ b XXXXX</ins>"),
            "{page}"
        );
    }
}
