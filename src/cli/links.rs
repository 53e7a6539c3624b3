//! `links check|report|history` and the link half of `verify --links`.

use super::{CollectionArg, Ctx, EXIT_FINDINGS, EXIT_OK, out, parse_version};
use anyhow::{Result, bail};
use cablekeep::finding::terminal_safe;
use cablekeep::linkcheck::{self, LinkResult, State, limits};
use clap::builder::RangedU64ValueParser;
use clap::{Args, Subcommand, value_parser};
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct LinksArgs {
    #[command(subcommand)]
    command: LinksCommand,
}

#[derive(Debug, Subcommand)]
enum LinksCommand {
    /// Fetch every source URL of a version and tell whether it still holds the archived cable
    /// (exit 1 when any link is not intact or equivalent).
    Check(CheckArgs),
    /// The latest state of each URL from the link log, with counts per state.
    Report(ReportArgs),
    /// How one cable's links changed over time, from the link log.
    History(HistoryArgs),
}

/// How links are checked (shared by `links check` and `verify --links`).
#[derive(Debug, Args, Clone)]
pub struct LinkOptions {
    /// Rewrite URLs before fetching: 'PREFIX REPLACEMENT' (repeatable; the first match wins).
    #[arg(long, value_name = "'PREFIX REPLACEMENT'", value_parser = remap_rule)]
    remap: Vec<(String, String)>,
    /// Requests in flight at once, over all hosts (1 to 64).
    #[arg(long, default_value_t = limits::CONCURRENCY,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=limits::MAX_CONCURRENCY))]
    concurrency: usize,
    /// Requests in flight at once to one host (1 to 16).
    #[arg(long, default_value_t = limits::PER_HOST,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=limits::MAX_PER_HOST))]
    per_host: usize,
    /// Minimum milliseconds between the starts of two requests to one host (0 to 3600000, an
    /// hour).
    #[arg(long, default_value_t = limits::HOST_INTERVAL_MS,
          value_parser = value_parser!(u64).range(0..=limits::MAX_HOST_INTERVAL_MS))]
    host_interval_ms: u64,
    /// Retries after 429 or 5xx (with back-off, or as long as Retry-After says; 0 to 10).
    #[arg(long, default_value_t = limits::RETRIES,
          value_parser = RangedU64ValueParser::<u32>::new().range(0..=limits::MAX_RETRIES))]
    retries: u32,
    /// First back-off in milliseconds when the server gives no Retry-After (doubles each retry;
    /// 0 to 600000, ten minutes).
    #[arg(long, default_value_t = limits::BACKOFF_MS,
          value_parser = value_parser!(u64).range(0..=limits::MAX_BACKOFF_MS))]
    backoff_ms: u64,
    /// Seconds allowed for one request (connection, headers and body; 1 to 3600).
    #[arg(long, default_value_t = limits::TIMEOUT_SECS,
          value_parser = value_parser!(u64).range(1..=limits::MAX_TIMEOUT_SECS))]
    timeout: u64,
    /// Seconds allowed for the whole run (1 to 604800, seven days).
    #[arg(long, default_value_t = limits::RUN_TIME_SECS,
          value_parser = value_parser!(u64).range(1..=limits::MAX_RUN_TIME_SECS))]
    max_run_time: u64,
    /// Bytes of a body read at most (1 to 268435456, 256 MiB).
    #[arg(long, default_value_t = limits::MAX_BODY_BYTES,
          value_parser = value_parser!(u64).range(1..=limits::MAX_MAX_BODY_BYTES))]
    max_body_bytes: u64,
    /// Redirects followed at most (0 to 50).
    #[arg(long, default_value_t = limits::MAX_REDIRECTS,
          value_parser = RangedU64ValueParser::<usize>::new().range(0..=limits::MAX_MAX_REDIRECTS))]
    max_redirects: usize,
    /// Fetch even what robots.txt disallows.
    #[arg(long)]
    ignore_robots: bool,
    /// The Memento TimeGate asked for archived copies of links that are not intact (an http or
    /// https URL, the link appended to it).
    #[arg(long, default_value = linkcheck::DEFAULT_TIMEGATE, value_parser = timegate_url)]
    timegate: String,
    /// Do not look up archived copies.
    #[arg(long)]
    no_archive_lookup: bool,
}

/// `--remap`: a prefix and an http or https URL that replaces it.
fn remap_rule(s: &str) -> Result<(String, String), cablekeep::error::Error> {
    linkcheck::parse_remap(s)
}

/// `--timegate`: an http or https URL with a host.
fn timegate_url(s: &str) -> Result<String, cablekeep::error::Error> {
    cablekeep::cable::provenance::check_url(s, &["http", "https"]).map(|()| s.to_string())
}

impl Default for LinkOptions {
    /// The options as if no flag was given.
    fn default() -> Self {
        use clap::FromArgMatches;
        let cmd = <LinkOptions as Args>::augment_args(clap::Command::new("links"));
        LinkOptions::from_arg_matches(&cmd.get_matches_from(["links"])).expect("the defaults parse")
    }
}

impl LinkOptions {
    pub fn options(&self) -> Result<linkcheck::Options> {
        Ok(linkcheck::Options {
            remap: self.remap.clone(),
            concurrency: self.concurrency,
            per_host: self.per_host,
            host_interval: Duration::from_millis(self.host_interval_ms),
            retries: self.retries,
            backoff: Duration::from_millis(self.backoff_ms),
            timeout: Duration::from_secs(self.timeout),
            run_timeout: Duration::from_secs(self.max_run_time),
            max_body: self.max_body_bytes,
            max_redirects: self.max_redirects,
            respect_robots: !self.ignore_robots,
            timegate: (!self.no_archive_lookup).then(|| self.timegate.clone()),
            ..linkcheck::Options::default()
        })
    }
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version whose links are checked (default: the latest).
    #[arg(long)]
    version: Option<String>,
    #[command(flatten)]
    link: LinkOptions,
    /// One JSON object per URL per line.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// A Markdown table.
    #[arg(long)]
    markdown: bool,
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// One JSON object: counts per state and the latest result of each URL.
    #[arg(long, conflicts_with_all = ["markdown", "csv"])]
    json: bool,
    /// A Markdown table.
    #[arg(long, conflicts_with = "csv")]
    markdown: bool,
    /// CSV, one row per URL.
    #[arg(long)]
    csv: bool,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// The cable's reference id.
    id: String,
    #[command(flatten)]
    collection: CollectionArg,
    /// One logged event per line, as JSON.
    #[arg(long)]
    json: bool,
}

/// Output form of link results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Text,
    Json,
    Markdown,
}

impl Ctx {
    pub fn links(&self, a: LinksArgs) -> Result<u8> {
        match a.command {
            LinksCommand::Check(c) => {
                let collection = self.collection(&c.collection)?;
                let version = c.version.as_deref().map(parse_version).transpose()?;
                let form = if c.json {
                    Form::Json
                } else if c.markdown {
                    Form::Markdown
                } else {
                    Form::Text
                };
                self.check_links(&collection, version, &c.link, form)
            }
            LinksCommand::Report(r) => {
                let collection = self.collection(&r.collection)?;
                // An unknown collection is an error, not an empty link log.
                self.store.resolve_version(&collection, None)?;
                let events = read_log(self, &collection)?;
                let latest = linkcheck::latest(&events);
                report(&collection, &latest, &r)?;
                Ok(EXIT_OK)
            }
            LinksCommand::History(h) => {
                let collection = self.collection(&h.collection)?;
                // An unknown collection is an error, not an empty link log.
                self.store.resolve_version(&collection, None)?;
                let events = read_log(self, &collection)?;
                history(&h.id, &events, h.json)
            }
        }
    }

    /// Checks and prints the links of a version; the exit code says whether all are fine.
    pub fn check_links(
        &self,
        collection: &str,
        version: Option<u32>,
        link: &LinkOptions,
        form: Form,
    ) -> Result<u8> {
        let options = link.options()?;
        let started = std::time::Instant::now();
        let results = linkcheck::check(&self.store, collection, version, &options, &self.bar)?;
        let seconds = started.elapsed().as_secs_f64();
        print_results(collection, &results, form)?;
        // Throughput goes to stderr with the other notes; stdout stays data only.
        eprintln!(
            "cablekeep: checked {} URLs in {seconds:.2} s ({:.1} URLs/s)",
            results.len(),
            results.len() as f64 / seconds.max(1e-9)
        );
        Ok(exit_for(&results))
    }
}

/// The events of a collection's link log, with a note of the lines that could not be read.
fn read_log(ctx: &Ctx, collection: &str) -> Result<Vec<linkcheck::log::Event>> {
    let read = linkcheck::log::read(&ctx.store, collection)?;
    if read.unreadable > 0 {
        eprintln!(
            "cablekeep: {} lines of the link log of {collection} could not be read and are left out (`cablekeep verify -c {collection}` reports them)",
            read.unreadable
        );
    }
    Ok(read.events)
}

fn exit_for(results: &[LinkResult]) -> u8 {
    if results.iter().all(|r| r.state.is_ok()) {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    }
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

pub fn print_results(collection: &str, results: &[LinkResult], form: Form) -> Result<()> {
    let mut o = out();
    match form {
        Form::Json => {
            for r in results {
                serde_json::to_writer(&mut o, r)?;
                writeln!(o)?;
            }
        }
        Form::Markdown => {
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
        }
        Form::Text => {
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
        }
    }
    Ok(())
}

fn report(collection: &str, latest: &[LinkResult], a: &ReportArgs) -> Result<()> {
    if a.json {
        let value = serde_json::json!({
            "collection": collection,
            "links": latest.len(),
            "counts": linkcheck::counts(latest),
            "latest": latest,
        });
        let mut o = out();
        serde_json::to_writer(&mut o, &value)?;
        writeln!(o)?;
        return Ok(());
    }
    if a.csv {
        let mut o = out();
        writeln!(
            o,
            "cable,url,state,target_state,http_status,final_url,memento_url,memento_datetime,time"
        )?;
        for r in latest {
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
        return Ok(());
    }
    let form = if a.markdown {
        Form::Markdown
    } else {
        Form::Text
    };
    print_results(collection, latest, form)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn history(id: &str, events: &[linkcheck::log::Event], json: bool) -> Result<u8> {
    // Asked for by the published id, a cable is logged under its canonical id.
    let ids = cablekeep::query::select::ids_to_look_up(id);
    let mine: Vec<&linkcheck::log::Event> = events
        .iter()
        .filter(|e| ids.contains(&e.result.cable))
        .collect();
    if mine.is_empty() {
        bail!("the link log has no check of {id}");
    }
    let mut o = out();
    let mut last: std::collections::HashMap<&str, State> = std::collections::HashMap::new();
    for e in mine {
        let r = &e.result;
        if json {
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
    Ok(EXIT_OK)
}
