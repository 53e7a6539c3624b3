//! The renderer: everything the commands print on stdout, as text, JSON, Markdown or CSV.
//! Untrusted text (from pages, archives, logs) is printed through `terminal_safe`.

use super::args::OutputFormat;
use anyhow::Result;
use cablekeep::bag::capture::{IndexLine, StoredRecord};
use cablekeep::cable::CableRecord;
use cablekeep::cable::provenance::RedactionChange;
use cablekeep::finding::{Finding, terminal_safe};
use cablekeep::linkcheck::{self, LinkResult, State};
use cablekeep::query::search::{Hit, SearchIndex, Upkeep};
use cablekeep::query::stats::Stats;
use cablekeep::store::diff::{CableChange, VersionDiff};
use cablekeep::store::rebuild::Outcome as RebuildOutcome;
use cablekeep::store::sidecar::VersionManifest;
use cablekeep::store::verify::Report;
use cablekeep::store::{Stage, Store, VersionId, WriteOutcome};
use std::io::Write;

pub(super) fn out() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

/// One value as one line of JSON.
pub(super) fn json_line(value: &impl serde::Serialize) -> Result<()> {
    let mut o = out();
    serde_json::to_writer(&mut o, value)?;
    writeln!(o)?;
    Ok(())
}

/// Findings, one per line.
pub(super) fn findings<'f>(list: impl IntoIterator<Item = &'f Finding>) -> Result<()> {
    let mut o = out();
    for f in list {
        writeln!(o, "{f}")?;
    }
    Ok(())
}

/// What a write (`bundle`, `commit`, `demo`) did.
pub(super) fn write_outcome(
    store: &Store,
    collection: &str,
    outcome: &WriteOutcome,
    format: OutputFormat,
) -> Result<()> {
    if format == OutputFormat::Json {
        return json_line(&serde_json::json!({
            "collection": collection,
            "written": outcome.manifest.is_some(),
            "manifest": outcome.manifest,
            "previous": outcome.previous,
            "new_captures": outcome.new_captures,
            "duplicate_captures": outcome.duplicate_captures,
            "removed_cables": outcome.removed_cables,
            "findings": outcome.findings,
        }));
    }
    findings(&outcome.findings)?;
    let mut o = out();
    match &outcome.manifest {
        Some(m) => written(&mut o, store, collection, outcome, m)?,
        None if outcome.new_captures + outcome.duplicate_captures == 0 => {
            let why = if outcome.findings.is_empty() {
                "no pages were given"
            } else {
                "no input could be read (see the findings above)"
            };
            writeln!(o, "nothing written: {why}")?
        }
        None => match outcome.previous {
            Some(v) => writeln!(
                o,
                "nothing new: {} already holds every input that was read ({} duplicates)",
                VersionId::new(collection, v),
                outcome.duplicate_captures
            )?,
            None => writeln!(o, "nothing written: no pages")?,
        },
    }
    Ok(())
}

/// The lines about a version written.
fn written(
    o: &mut impl Write,
    store: &Store,
    collection: &str,
    outcome: &WriteOutcome,
    m: &VersionManifest,
) -> Result<()> {
    writeln!(
        o,
        "wrote {} ({} cables, {} captures, {} unparsed; {} new captures, {} duplicates skipped{})",
        m.identifier,
        m.counts.cables,
        m.counts.captures,
        m.counts.unparsed,
        outcome.new_captures,
        outcome.duplicate_captures,
        if outcome.removed_cables > 0 {
            format!(", {} cables removed", outcome.removed_cables)
        } else {
            String::new()
        }
    )?;
    writeln!(
        o,
        "  archive  {}",
        store.zip_path(collection, m.version).display()
    )?;
    writeln!(o, "  sha256   {}", m.archive.sha256)?;
    Ok(())
}

/// A collection's stage (`status`).
pub(super) fn stage(
    collection: &str,
    latest: Option<u32>,
    stage: &Stage,
    format: OutputFormat,
) -> Result<()> {
    if format == OutputFormat::Json {
        return json_line(
            &serde_json::json!({"collection": collection, "latest": latest, "stage": stage}),
        );
    }
    let mut o = out();
    let next = latest.map_or(1, |v| v + 1);
    writeln!(o, "{collection}: {} staged for v{next}", stage.items.len())?;
    for item in &stage.items {
        writeln!(
            o,
            "  {:<20} {}  {}",
            terminal_safe(item.cable.as_deref().unwrap_or("(unparsed)")),
            item.sha256.get(..12).unwrap_or(&item.sha256),
            terminal_safe(&item.input)
        )?;
    }
    Ok(())
}

/// One version of `log`.
pub(super) fn log_entry(m: &VersionManifest, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        return json_line(m);
    }
    let mut o = out();
    writeln!(o, "{}  {}  {}", m.identifier, m.created, m.tool)?;
    writeln!(
        o,
        "  {} cables, {} captures, {} unparsed, {} payload bytes, zip {} bytes",
        m.counts.cables,
        m.counts.captures,
        m.counts.unparsed,
        m.counts.payload_bytes,
        m.archive.bytes
    )?;
    writeln!(o, "  sha256 {}", m.archive.sha256)?;
    if !m.message.is_empty() {
        // A message of an older release may hold any character: escaped.
        for line in m.message.split('\n') {
            writeln!(o, "  {}", terminal_safe(line))?;
        }
    }
    Ok(())
}

/// How deeply `verify` checked, for its verdict lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Depth {
    Full,
    Fast,
}

/// Said of a zip verified on its own with nothing to compare the whole file with.
const NO_ZIP_DIGEST: &str = "no sidecar manifest or .sha256 file was found, so the zip's own \
     digest was not checked (only its entries against the bag's manifests); give the sidecar \
     with --manifest";

/// `verify`'s reports: JSON Lines of findings, or findings and a verdict per archive.
pub(super) fn reports(reports: &[Report], format: OutputFormat, depth: Depth) -> Result<()> {
    for r in reports {
        if format == OutputFormat::Json {
            report_json(r)?;
        } else {
            report_text(r, depth)?;
        }
    }
    Ok(())
}

fn report_json(r: &Report) -> Result<()> {
    let archive = r.archive.display().to_string();
    for f in &r.findings {
        let mut value = serde_json::to_value(f)?;
        value["archive"] = serde_json::json!(archive);
        json_line(&value)?;
    }
    if r.zip_digest_unchecked {
        json_line(&serde_json::json!({
            "archive": archive,
            "zip_digest_checked": false,
            "notice": NO_ZIP_DIGEST,
        }))?;
    }
    Ok(())
}

fn report_text(r: &Report, depth: Depth) -> Result<()> {
    let errors = r.findings.iter().filter(|f| f.is_error()).count();
    let warnings = r.findings.len() - errors;
    findings(&r.findings)?;
    let what = r
        .identifier
        .clone()
        .unwrap_or_else(|| r.archive.display().to_string());
    let mode = match depth {
        Depth::Fast => "fast",
        Depth::Full => "full",
    };
    let verdict = if errors == 0 { "ok" } else { "FAILED" };
    let mut o = out();
    writeln!(
        o,
        "{verdict}: {what} ({mode}: {} entries, {} bytes hashed; {errors} errors, {warnings} warnings)",
        r.entries, r.bytes_hashed
    )?;
    if r.zip_digest_unchecked {
        writeln!(o, "note: {NO_ZIP_DIGEST}")?;
    }
    Ok(())
}

/// What `rebuild-manifest` did.
pub(super) fn rebuilt(
    store: &Store,
    at: VersionId,
    outcome: &RebuildOutcome,
    format: OutputFormat,
) -> Result<()> {
    if format == OutputFormat::Json {
        return json_line(&serde_json::json!({
            "collection": at.collection,
            "version": at.version,
            "written": outcome.manifest.is_some(),
            "manifest": outcome.manifest,
            "next_link_broken": outcome.next_link_broken,
            "findings": outcome.report.findings,
        }));
    }
    findings(&outcome.report.findings)?;
    let mut o = out();
    let Some(m) = &outcome.manifest else {
        writeln!(
            o,
            "not rebuilt: {at}'s zip has errors; its manifest is written again only from an intact zip"
        )?;
        return Ok(());
    };
    writeln!(
        o,
        "rebuilt {} ({} cables, {} captures; zip sha256 {})",
        m.identifier, m.counts.cables, m.counts.captures, m.archive.sha256
    )?;
    writeln!(
        o,
        "  manifest {}",
        store.manifest_path(at.collection, at.version).display()
    )?;
    if let Some(next) = outcome.next_link_broken {
        writeln!(
            o,
            "  note: {} names the lost manifest's SHA-256, which no rebuilt manifest can have: verify reports that link (M005)",
            VersionId::new(at.collection, next)
        )?;
    }
    Ok(())
}

/// A stored record for people (`show`): its fields, its captures, and its text.
pub(super) fn record(s: &StoredRecord, line: &IndexLine, at: VersionId) -> Result<()> {
    let r = &s.record;
    let mut o = out();
    // Every field comes from a page someone else wrote: printed escaped (see terminal_safe).
    let opt = |v: &Option<String>| terminal_safe(v.as_deref().unwrap_or("-")).into_owned();
    writeln!(o, "{}  ({at}, capture {})", r.id, s.capture.name)?;
    if let Some(orig) = &r.id_original {
        writeln!(o, "  original id     {}", terminal_safe(orig))?;
    }
    writeln!(o, "  subject         {}", opt(&r.subject))?;
    writeln!(o, "  created         {}", opt(&r.created))?;
    writeln!(o, "  released        {}", opt(&r.released))?;
    writeln!(o, "  classification  {}", opt(&r.classification))?;
    writeln!(o, "  origin          {}", opt(&r.origin))?;
    writeln!(o, "  tags            {}", terminal_safe(&r.tags.join(" ")))?;
    writeln!(
        o,
        "  redaction       {} ({} runs{})",
        r.redaction.status,
        r.redaction.runs,
        if r.redaction.partial_extract {
            ", partial extract"
        } else {
            ""
        }
    )?;
    writeln!(
        o,
        "  source          {} {}",
        opt(&r.source.publisher),
        opt(&r.source.url)
    )?;
    writeln!(
        o,
        "  raw             {} ({} bytes, sha256 {})",
        s.capture.raw, s.capture.bytes, s.capture.sha256
    )?;
    record_captures_and_text(&mut o, r, line)
}

fn record_captures_and_text(o: &mut impl Write, r: &CableRecord, line: &IndexLine) -> Result<()> {
    writeln!(o, "  captures:")?;
    for c in &line.captures {
        writeln!(
            o,
            "    {}  {} runs  {}",
            c.name,
            c.redaction.runs,
            terminal_safe(&c.input)
        )?;
    }
    writeln!(o)?;
    // The text keeps its line breaks and tabs; any other control character is escaped.
    for line in r.text.split('\n') {
        let parts: Vec<_> = line.split('\t').map(terminal_safe).collect();
        writeln!(o, "{}", parts.join("\t"))?;
    }
    Ok(())
}

/// A record read by `parse`: JSON, or one tab-separated line.
pub(super) fn parsed(o: &mut impl Write, r: &CableRecord, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        serde_json::to_writer(&mut *o, r)?;
        writeln!(o)?;
        return Ok(());
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    writeln!(
        o,
        "{}\t{}\t{}\t{}\t{}\t{}",
        r.id,
        opt(&r.created),
        opt(&r.classification),
        opt(&r.origin),
        r.redaction.status,
        opt(&r.subject)
    )?;
    Ok(())
}

/// What changed between two versions (`diff`).
pub(super) fn diff(d: &VersionDiff, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        return json_line(d);
    }
    let mut o = out();
    writeln!(
        o,
        "{}: v{} -> v{}: {} added, {} removed, {} changed, {} unchanged",
        d.collection,
        d.from,
        d.to,
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    )?;
    for id in &d.removed {
        writeln!(o, "- {id}")?;
    }
    for (sign, changes) in [(Sign::Added, &d.added), (Sign::Changed, &d.changed)] {
        for c in changes {
            let parts = change_parts(c, sign);
            let detail = if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join("; "))
            };
            writeln!(o, "{} {}{detail}", sign.mark(), c.id)?;
        }
    }
    Ok(())
}

/// Whether a cable of a diff is new or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    Added,
    Changed,
}

impl Sign {
    fn mark(self) -> &'static str {
        match self {
            Sign::Added => "+",
            Sign::Changed => "~",
        }
    }
}

/// The redaction runs of a change's comparisons, as `a -> b -> c`.
fn runs(c: &CableChange) -> String {
    let mut runs: Vec<String> = vec![];
    for cmp in &c.comparisons {
        if runs.is_empty() {
            runs.push(cmp.redaction_runs_from.to_string());
        }
        runs.push(cmp.redaction_runs_to.to_string());
    }
    runs.join(" -> ")
}

/// The phrases that describe one cable's change.
fn change_parts(c: &CableChange, sign: Sign) -> Vec<String> {
    let mut parts = Vec::new();
    match c.redaction {
        RedactionChange::Gained => parts.push(format!("redactions added ({} runs)", runs(c))),
        RedactionChange::Lost => parts.push(format!("redactions removed ({} runs)", runs(c))),
        RedactionChange::GainedAndLost => {
            parts.push(format!("redactions added and removed ({} runs)", runs(c)))
        }
        RedactionChange::Moved => parts.push("redactions moved".to_string()),
        RedactionChange::Same => {}
    }
    if c.text_changed {
        let (added, removed) = c
            .comparisons
            .iter()
            .fold((0, 0), |(a, r), x| (a + x.lines_added, r + x.lines_removed));
        parts.push(format!("text changed (+{added} -{removed} lines)"));
    }
    let mut fields: Vec<&str> = c
        .comparisons
        .iter()
        .flat_map(|x| x.fields.iter().map(|f| f.field.as_str()))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    if !fields.is_empty() {
        parts.push(format!("fields: {}", fields.join(", ")));
    }
    if sign == Sign::Changed {
        parts.push(format!(
            "{} capture(s) added, {} removed",
            c.captures_added.len(),
            c.captures_removed.len()
        ));
    } else if c.captures_added.len() > 1 {
        parts.push(format!("{} captures", c.captures_added.len()));
    }
    parts
}

/// Counts by facet (`stats`).
pub(super) fn stats(s: &Stats, format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        return json_line(s);
    }
    let mut o = out();
    writeln!(
        o,
        "{}: {} cables, {} captures, {} partial extracts",
        s.identifier, s.cables, s.captures, s.partial_extracts
    )?;
    for (title, map) in [
        ("year", &s.by_year),
        ("origin", &s.by_origin),
        ("classification", &s.by_classification),
        ("tag", &s.by_tag),
        ("redaction", &s.by_redaction),
    ] {
        writeln!(o, "by {title}:")?;
        let mut rows: Vec<(&String, &u64)> = map.iter().collect();
        if title != "year" {
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        }
        for (k, n) in rows {
            writeln!(o, "  {n:>7}  {k}")?;
        }
    }
    Ok(())
}

/// Search hits, best first.
/// What bringing the search index up to date did, in words.
pub(super) fn upkeep_text(index: &SearchIndex, upkeep: Upkeep) -> String {
    let path = index.path().display();
    match upkeep {
        Upkeep::Current => format!(
            "search index up to date: {} cables ({path})",
            index.cables()
        ),
        Upkeep::Updated { changes, secs } => format!(
            "search index updated in {secs:.2} s: {} cables indexed, {} removed; {} cables ({path})",
            changes.indexed,
            changes.removed,
            index.cables()
        ),
        Upkeep::Built { cables, secs } => {
            format!("search index built in {secs:.2} s: {cables} cables ({path})")
        }
    }
}

/// `search` without a query: the index's state, as a line of text or a JSON object.
pub(super) fn search_index(
    index: &SearchIndex,
    upkeep: Upkeep,
    format: OutputFormat,
) -> Result<()> {
    if format == OutputFormat::Json {
        let mut v = serde_json::to_value(upkeep)?;
        v["cables"] = index.cables().into();
        v["path"] = index.path().display().to_string().into();
        return json_line(&v);
    }
    writeln!(out(), "{}", upkeep_text(index, upkeep))?;
    Ok(())
}

pub(super) fn hits(hits: &[Hit], format: OutputFormat) -> Result<()> {
    if format == OutputFormat::Json {
        for h in hits {
            json_line(h)?;
        }
        return Ok(());
    }
    let mut o = out();
    for h in hits {
        writeln!(
            o,
            "{}  {}  {}  {}",
            h.id,
            h.created
                .as_deref()
                .map(|c| c.get(..10).unwrap_or(c))
                .unwrap_or("-"),
            terminal_safe(h.origin.as_deref().unwrap_or("-")),
            terminal_safe(h.subject.as_deref().unwrap_or("-"))
        )?;
        writeln!(o, "    {}", terminal_safe(&h.snippet.replace('\n', " ")))?;
    }
    Ok(())
}

fn state_text(r: &LinkResult) -> String {
    match r.target_state {
        Some(t) => format!("{} ({t})", r.state),
        None => r.state.to_string(),
    }
}

fn detail(r: &LinkResult) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &r.drift {
        parts.push(d.summary());
    }
    if let Some(e) = &r.error {
        parts.push(e.clone());
    }
    if r.state == State::Moved
        && let Some(f) = &r.final_url
    {
        parts.push(format!("now at {f}"));
    }
    if let Some(m) = &r.memento {
        parts.push(format!(
            "memento {} ({})",
            m.url,
            m.datetime.as_deref().unwrap_or("date unknown")
        ));
    }
    parts.join("; ")
}

fn status_text(r: &LinkResult) -> String {
    r.http_status
        .map_or_else(|| "-".to_string(), |s| s.to_string())
}

fn summary(results: &[LinkResult]) -> String {
    let counts = linkcheck::counts(results);
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!(
        "{} links: {}",
        results.len(),
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    )
}

fn md_cell(s: &str) -> String {
    terminal_safe(&s.replace('|', "\\|").replace('\n', " ")).into_owned()
}

/// Link results (`links check`, `verify --links`, and `links report` but for its JSON).
pub(super) fn link_results(
    collection: &str,
    results: &[LinkResult],
    format: OutputFormat,
) -> Result<()> {
    match format {
        OutputFormat::Json => {
            for r in results {
                json_line(r)?;
            }
            Ok(())
        }
        OutputFormat::Markdown => links_markdown(collection, results),
        OutputFormat::Csv => links_csv(results),
        OutputFormat::Text => links_text(collection, results),
    }
}

fn links_markdown(collection: &str, results: &[LinkResult]) -> Result<()> {
    let mut o = out();
    writeln!(o, "# Links of {collection}\n")?;
    writeln!(o, "| cable | url | state | HTTP | detail |")?;
    writeln!(o, "|---|---|---|---|---|")?;
    for r in results {
        writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            md_cell(&r.cable),
            md_cell(&r.url),
            state_text(r),
            status_text(r),
            md_cell(&detail(r))
        )?;
    }
    writeln!(o, "\n{}", summary(results))?;
    Ok(())
}

fn links_text(collection: &str, results: &[LinkResult]) -> Result<()> {
    let mut o = out();
    for r in results {
        let d = detail(r);
        let line = format!(
            "{:<12} {} {} (HTTP {}){}{}",
            state_text(r),
            r.cable,
            r.url,
            status_text(r),
            if d.is_empty() { "" } else { ": " },
            d
        );
        writeln!(o, "{}", terminal_safe(&line))?;
        if let Some(drift) = &r.drift {
            for line in &drift.sample {
                writeln!(o, "    {}", terminal_safe(line))?;
            }
        }
    }
    writeln!(o, "{collection}: {}", summary(results))?;
    Ok(())
}

fn links_csv(results: &[LinkResult]) -> Result<()> {
    let mut o = out();
    writeln!(
        o,
        "cable,url,state,target_state,http_status,final_url,memento_url,memento_datetime,time"
    )?;
    for r in results {
        let fields = [
            r.cable.clone(),
            r.url.clone(),
            r.state.to_string(),
            r.target_state.map(|s| s.to_string()).unwrap_or_default(),
            r.http_status.map(|s| s.to_string()).unwrap_or_default(),
            r.final_url.clone().unwrap_or_default(),
            r.memento
                .as_ref()
                .map(|m| m.url.clone())
                .unwrap_or_default(),
            r.memento
                .as_ref()
                .and_then(|m| m.datetime.clone())
                .unwrap_or_default(),
            r.time.clone(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(o, "{}", row.join(","))?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The latest state of each URL from the link log (`links report`).
pub(super) fn link_report(
    collection: &str,
    latest: &[LinkResult],
    format: OutputFormat,
) -> Result<()> {
    if format != OutputFormat::Json {
        return link_results(collection, latest, format);
    }
    json_line(&serde_json::json!({
        "collection": collection,
        "links": latest.len(),
        "counts": linkcheck::counts(latest),
        "latest": latest,
    }))
}

/// A cable's logged link events, each with how its URL's state changed (`links history`).
pub(super) fn link_history(events: &[&linkcheck::log::Event], format: OutputFormat) -> Result<()> {
    let mut o = out();
    let mut last: std::collections::HashMap<&str, State> = std::collections::HashMap::new();
    for e in events {
        let r = &e.result;
        if format == OutputFormat::Json {
            serde_json::to_writer(&mut o, e)?;
            writeln!(o)?;
            continue;
        }
        let change = match last.insert(r.url.as_str(), r.state) {
            None => "first check".to_string(),
            Some(s) if s == r.state => "unchanged".to_string(),
            Some(s) => format!("was {s}"),
        };
        let d = detail(r);
        let line = format!(
            "{}  {:<12} {} (HTTP {}) [{change}]{}{}",
            r.time,
            state_text(r),
            r.url,
            status_text(r),
            if d.is_empty() { "" } else { ": " },
            d
        );
        writeln!(o, "{}", terminal_safe(&line))?;
    }
    Ok(())
}
