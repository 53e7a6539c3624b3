//! `links check|report|history` and the link half of `verify --links`: their arguments and
//! the link log read; [`super::render`] prints the results.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_FINDINGS, EXIT_OK, render};
use anyhow::{Result, bail};
use cablekeep::linkcheck::{self, LinkResult, limits};
use cablekeep::store::VersionNum;
use clap::builder::RangedU64ValueParser;
use clap::{ArgAction, Args, Subcommand, value_parser};
use std::time::Duration;

#[derive(Debug, Args)]
pub(super) struct LinksArgs {
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
pub(super) struct LinkOptions {
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
    pub(super) fn options(&self) -> Result<linkcheck::Options> {
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
    version: Option<VersionNum>,
    #[command(flatten)]
    link: LinkOptions,
    /// The output: text, json (one object per URL per line), markdown (a table) or csv (one row
    /// per URL).
    #[arg(long, value_enum, conflicts_with_all = ["json", "markdown"])]
    format: Option<OutputFormat>,
    /// One JSON object per URL per line (as --format json).
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// A Markdown table (as --format markdown).
    #[arg(long)]
    markdown: bool,
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The output: text, json (one object: counts per state and the latest result of each
    /// URL), markdown (a table) or csv (one row per URL).
    #[arg(long, value_enum, conflicts_with_all = ["json", "markdown", "csv"])]
    format: Option<OutputFormat>,
    /// One JSON object: counts per state and the latest result of each URL (as --format json).
    #[arg(long, conflicts_with_all = ["markdown", "csv"])]
    json: bool,
    /// A Markdown table (as --format markdown).
    #[arg(long, conflicts_with = "csv")]
    markdown: bool,
    /// CSV, one row per URL (as --format csv).
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
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

impl CheckArgs {
    fn output(&self) -> OutputFormat {
        OutputFormat::chosen(
            self.format,
            &[
                (self.json, OutputFormat::Json),
                (self.markdown, OutputFormat::Markdown),
            ],
        )
    }
}

impl ReportArgs {
    fn output(&self) -> OutputFormat {
        OutputFormat::chosen(
            self.format,
            &[
                (self.json, OutputFormat::Json),
                (self.markdown, OutputFormat::Markdown),
                (self.csv, OutputFormat::Csv),
            ],
        )
    }
}

/// The output `links report` was asked for, if the command line is one.
#[cfg(test)]
pub(super) fn report_format(cli: super::Cli) -> Option<OutputFormat> {
    match cli.command {
        super::Command::Links(LinksArgs {
            command: LinksCommand::Report(r),
        }) => Some(r.output()),
        _ => None,
    }
}

pub(super) fn run(ctx: &Ctx, a: LinksArgs) -> Result<u8> {
    match a.command {
        LinksCommand::Check(c) => {
            let collection = c.collection.resolve(&ctx.store)?;
            check_links(ctx, &collection, c.version, &c.link, c.output())
        }
        LinksCommand::Report(r) => {
            let collection = logged_collection(ctx, &r.collection)?;
            let events = read_log(ctx, &collection)?;
            let latest = linkcheck::latest(&events);
            render::link_report(&collection, &latest, r.output())?;
            Ok(EXIT_OK)
        }
        LinksCommand::History(h) => {
            let collection = logged_collection(ctx, &h.collection)?;
            let events = read_log(ctx, &collection)?;
            history(&h.id, &events, h.output)
        }
    }
}

/// The collection whose link log is read: an unknown collection is an error, not an empty log.
fn logged_collection(ctx: &Ctx, given: &CollectionArg) -> Result<String> {
    let collection = given.resolve(&ctx.store)?;
    ctx.store.resolve_version(&collection, None)?;
    Ok(collection)
}

/// Checks and prints the links of a version; the exit code says whether all are fine.
pub(super) fn check_links(
    ctx: &Ctx,
    collection: &str,
    version: Option<VersionNum>,
    link: &LinkOptions,
    format: OutputFormat,
) -> Result<u8> {
    let options = link.options()?;
    let started = std::time::Instant::now();
    let version = version.map(VersionNum::get);
    let results = linkcheck::check(&ctx.store, collection, version, &options, &ctx.bar)?;
    let seconds = started.elapsed().as_secs_f64();
    render::link_results(collection, &results, format)?;
    // Throughput goes to stderr with the other notes; stdout stays data only.
    eprintln!(
        "cablekeep: checked {} URLs in {seconds:.2} s ({:.1} URLs/s)",
        results.len(),
        results.len() as f64 / seconds.max(1e-9)
    );
    Ok(exit_for(&results))
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

/// Prints the logged checks of one cable's links.
fn history(id: &str, events: &[linkcheck::log::Event], format: OutputFormat) -> Result<u8> {
    // Asked for by the published id, a cable is logged under its canonical id.
    let ids = cablekeep::query::select::ids_to_look_up(id);
    let mine: Vec<&linkcheck::log::Event> = events
        .iter()
        .filter(|e| ids.contains(&e.result.cable))
        .collect();
    if mine.is_empty() {
        bail!("the link log has no check of {id}");
    }
    render::link_history(&mine, format)?;
    Ok(EXIT_OK)
}
