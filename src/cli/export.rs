//! The `export`, `search` and `stats` commands: the questions asked of a version's cables.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_OK, render};
use anyhow::{Context, Result, anyhow};
use cablekeep::export::{self, Format};
use cablekeep::query::search::{SearchIndex, Upkeep};
use cablekeep::query::select::Filter;
use cablekeep::store::{CollectionName, VersionNum};
use clap::{ArgAction, Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum FormatArg {
    /// One row per cable, flat columns.
    Csv,
    /// The stored record of each cable, one per line.
    Jsonl,
    /// A SQLite database with an FTS5 index (for sqlite3 and Datasette).
    Sqlite,
    /// A BagIt bag folder with the raw captures and records.
    Bag,
    /// The same bag as one zip file.
    Zip,
    /// A static web edition of the selected cables (as `site` writes it).
    Site,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum RedactionArg {
    Redacted,
    NotRedacted,
}

/// Which cables: every criterion given must hold.
#[derive(Debug, Args, Clone, Default)]
pub(super) struct FilterArgs {
    /// Only this cable (repeatable).
    #[arg(long = "id", value_name = "ID")]
    ids: Vec<String>,
    /// Only the cables listed in FILE, one id per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    ids_from: Option<PathBuf>,
    /// Sent from this origin, e.g. "Embassy Madrid" (repeatable: any of them).
    #[arg(long = "origin", value_name = "ORIGIN")]
    origins: Vec<String>,
    /// Carrying this tag (repeatable: any of them; all of them with --all-tags).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Cables must carry every --tag given.
    #[arg(long, requires = "tags")]
    all_tags: bool,
    /// With this classification: the whole marking or its level, e.g. SECRET (repeatable).
    #[arg(long = "classification", value_name = "CLASSIFICATION")]
    classifications: Vec<String>,
    /// Created on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    created_from: Option<String>,
    /// Created on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    created_to: Option<String>,
    /// Released on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    released_from: Option<String>,
    /// Released on or before this day (YYYY-MM-DD).
    #[arg(long, value_name = "DAY")]
    released_to: Option<String>,
    /// Redaction status of the current capture.
    #[arg(long, value_enum)]
    redaction: Option<RedactionArg>,
    /// Whether the text is a partial extract.
    #[arg(long, value_name = "BOOL")]
    partial_extract: Option<bool>,
}

/// An `--ids-from` file longer than this is refused: the ids of every cable of the corpus
/// (251,287) take about 5 MB.
const MAX_IDS_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads an `--ids-from` file, never more than [`MAX_IDS_FILE_BYTES`] (a pipe such as
/// `<(grep ...)` is read too, through the same bound; `/dev/zero` is refused at the bound).
fn read_ids_file(file: &std::path::Path) -> Result<String> {
    let context = || format!("--ids-from {}", file.display());
    let opened = std::fs::File::open(file).with_context(context)?;
    let bytes = cablekeep::fsutil::read_at_most(opened, MAX_IDS_FILE_BYTES, 0)
        .with_context(context)?
        .ok_or_else(|| {
            anyhow!(
                "--ids-from {}: longer than the limit of {MAX_IDS_FILE_BYTES} bytes",
                file.display()
            )
        })?;
    String::from_utf8(bytes).with_context(context)
}

impl FilterArgs {
    fn filter(&self, query: Option<String>) -> Result<Filter> {
        let mut ids = self.ids.clone();
        if let Some(file) = &self.ids_from {
            let text = read_ids_file(file)?;
            ids.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim())
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
            if ids.is_empty() {
                return Err(anyhow!("--ids-from {}: no ids in the file", file.display()));
            }
        }
        let filter = Filter {
            ids,
            origins: self.origins.clone(),
            tags: self.tags.clone(),
            all_tags: self.all_tags,
            classifications: self.classifications.clone(),
            created_from: self.created_from.clone(),
            created_to: self.created_to.clone(),
            released_from: self.released_from.clone(),
            released_to: self.released_to.clone(),
            redaction: self.redaction.map(|r| {
                match r {
                    RedactionArg::Redacted => "redacted",
                    RedactionArg::NotRedacted => "not-redacted",
                }
                .to_string()
            }),
            partial_extract: self.partial_extract,
            query,
        };
        Ok(filter.validated()?)
    }
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<VersionNum>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Only cables whose subject or text matches this full-text query (as `search` takes it; at
    /// most 2048 bytes and 64 words).
    #[arg(long, value_name = "TEXT", value_parser = full_text_query)]
    query: Option<String>,
    /// The export format.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// The folder to create (for zip, the file); it must not exist yet (or be an empty folder).
    #[arg(long)]
    out: PathBuf,
    /// CSV: prefix cells starting with = + - @ tab or CR with ' so spreadsheets show them as text.
    #[arg(long)]
    excel_safe: bool,
    /// bag, zip: also one proof per cable (`seal/proofs/<ID>.json`; the version must be sealed).
    /// A sealed version's checkpoint and signatures are always included (`seal/`).
    #[arg(long)]
    proofs: bool,
}

/// The most hits `search --limit` asks for: each hit's snippet re-reads its cable.
const MAX_HITS: u64 = 10_000;

#[derive(Debug, Args)]
pub(super) struct SearchArgs {
    /// The query: words, "a phrase", prefix*, AND, OR, NOT, (...), and field filters such as
    /// origin:madrid, tag:PREL, classification:secret, created:2009..2010 (README.md, "Search";
    /// at most 2048 bytes and 64 words). Without one, the index is only brought up to date.
    #[arg(value_parser = full_text_query)]
    query: Option<String>,
    /// Build the search index anew first, whatever it holds (it is otherwise kept up to date by
    /// every search, re-indexing only the cables that changed).
    #[arg(long)]
    rebuild: bool,
    /// Search this collection only (default: every collection, latest versions).
    #[arg(long, short = 'c')]
    collection: Option<CollectionName>,
    #[command(flatten)]
    filter: FilterArgs,
    /// At most this many hits (1 to 10000).
    #[arg(long, default_value_t = 20,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_HITS))]
    limit: usize,
    /// One JSON hit per line, best first.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub(super) struct StatsArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<VersionNum>,
    /// Print the counts as one JSON object.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

/// A well-formed full-text query (see [`cablekeep::query::search::check_query`]).
fn full_text_query(s: &str) -> Result<String, cablekeep::error::Error> {
    cablekeep::query::search::check_query(s).map(|()| s.to_string())
}

/// `export`: writes the cables selected in the format asked for.
pub(super) fn export(ctx: &Ctx, a: ExportArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    let filter = a.filter.filter(a.query.clone())?;
    let started = std::time::Instant::now();
    if let FormatArg::Site = a.format {
        return export_site(ctx, &a, &collection, &filter, started);
    }
    let format = Format::parse(a.format.to_possible_value().expect("a value").get_name())
        .expect("every format but site is a library format");
    let outcome = export::export(
        &ctx.store,
        export::Request {
            collection: &collection,
            version: a.version.map(VersionNum::get),
            filter: &filter,
            format,
            out: &a.out,
            excel_safe: a.excel_safe,
            proofs: a.proofs,
            progress: &ctx.bar,
        },
    )?;
    let secs = started.elapsed().as_secs_f64();
    writeln!(
        render::out(),
        "exported {} cables ({} captures) of {} as {} to {} ({} files, {} bytes)",
        outcome.cables,
        outcome.captures,
        outcome.version.identifier,
        format.as_str(),
        outcome.out.display(),
        outcome.files,
        outcome.bytes
    )?;
    eprintln!(
        "cablekeep: {:.2} s, {:.0} cables/s",
        secs,
        outcome.cables as f64 / secs.max(1e-9)
    );
    Ok(EXIT_OK)
}

/// `export --format site`: the web edition of the selected cables.
fn export_site(
    ctx: &Ctx,
    a: &ExportArgs,
    collection: &str,
    filter: &Filter,
    started: std::time::Instant,
) -> Result<u8> {
    if a.excel_safe {
        return Err(anyhow!("--excel-safe goes with --format csv"));
    }
    let outcome = cablekeep::web::write_site(
        &ctx.store,
        cablekeep::web::SiteRequest {
            collection,
            version: a.version.map(VersionNum::get),
            filter,
            out: &a.out,
            proofs: true,
            progress: &ctx.bar,
        },
    )?;
    super::site::report(
        &outcome,
        started.elapsed().as_secs_f64(),
        OutputFormat::Text,
    )?;
    Ok(EXIT_OK)
}

/// `search`: the best hits of a full-text query over the latest versions; without a query, the
/// index brought up to date (or, with `--rebuild`, built anew).
pub(super) fn search(ctx: &Ctx, a: SearchArgs) -> Result<u8> {
    let filter = a.filter.filter(None)?;
    if let Some(c) = &a.collection {
        ctx.store.resolve_version(c, None)?;
    }
    let search = |index: &SearchIndex| match &a.query {
        Some(query) => index
            .search(query, a.collection.as_deref(), &filter, a.limit)
            .map(Some),
        None => Ok(None),
    };
    let (hits, index, upkeep) =
        SearchIndex::with_store_index(&ctx.store, a.rebuild, &ctx.bar, search)?;
    let Some(hits) = hits else {
        render::search_index(&index, upkeep, a.output)?;
        return Ok(EXIT_OK);
    };
    if upkeep != Upkeep::Current {
        eprintln!("cablekeep: {}", render::upkeep_text(&index, upkeep));
    }
    let format = a.output;
    render::hits(&hits, format)?;
    if format == OutputFormat::Text {
        eprintln!("cablekeep: {} hits", hits.len());
    }
    Ok(EXIT_OK)
}

/// `stats`: counts of a version's cables by facet.
pub(super) fn stats(ctx: &Ctx, a: StatsArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    let s = cablekeep::query::stats::of_version(&ctx.store, &collection, a.version)?;
    render::stats(&s, a.output)?;
    Ok(EXIT_OK)
}
