//! The `export`, `search` and `stats` commands.

use super::{CollectionArg, Ctx, EXIT_OK, json_line, out, parse_version};
use anyhow::{Context, Result, anyhow};
use cablekeep::catalog::Catalog;
use cablekeep::export::{self, Format};
use cablekeep::finding::terminal_safe;
use cablekeep::select::Filter;
use clap::{Args, ValueEnum};
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
    version: Option<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// Only cables whose subject or text matches this full-text query (SQLite FTS5 syntax; at
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
    /// The query: words, "a phrase", a OR b, NEAR(a b), prefix* (SQLite FTS5 syntax; at most
    /// 2048 bytes and 64 words).
    #[arg(value_parser = full_text_query)]
    query: String,
    /// Search this collection only (default: every collection, latest versions).
    #[arg(long, short = 'c')]
    collection: Option<String>,
    #[command(flatten)]
    filter: FilterArgs,
    /// At most this many hits (1 to 10000).
    #[arg(long, default_value_t = 20,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_HITS))]
    limit: usize,
    /// One JSON hit per line, best first.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(super) struct StatsArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<String>,
    /// Print the counts as one JSON object.
    #[arg(long)]
    json: bool,
}

/// A full-text query within the bounds of [`cablekeep::catalog::check_query`].
fn full_text_query(s: &str) -> Result<String, cablekeep::error::Error> {
    cablekeep::catalog::check_query(s).map(|()| s.to_string())
}

impl Ctx {
    pub(super) fn export(&self, a: ExportArgs) -> Result<u8> {
        let collection = self.collection(&a.collection)?;
        let version = a.version.as_deref().map(parse_version).transpose()?;
        let filter = a.filter.filter(a.query.clone())?;
        let format = Format::parse(a.format.to_possible_value().expect("a value").get_name())
            .expect("every format is known");
        let started = std::time::Instant::now();
        let outcome = export::export(
            &self.store,
            export::Request {
                collection: &collection,
                version,
                filter: &filter,
                format,
                out: &a.out,
                excel_safe: a.excel_safe,
                proofs: a.proofs,
                progress: &self.bar,
            },
        )?;
        let secs = started.elapsed().as_secs_f64();
        writeln!(
            out(),
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

    pub(super) fn search(&self, a: SearchArgs) -> Result<u8> {
        let filter = a.filter.filter(None)?;
        if let Some(c) = &a.collection {
            self.store.resolve_version(c, None)?;
        }
        let (catalog, rebuilt) = Catalog::open(&self.store, &self.bar)?;
        if rebuilt {
            eprintln!("cablekeep: catalog rebuilt ({})", catalog.path().display());
        }
        let hits = catalog.search(&a.query, a.collection.as_deref(), &filter, a.limit)?;
        if a.json {
            for h in &hits {
                json_line(h)?;
            }
            return Ok(EXIT_OK);
        }
        let mut o = out();
        for h in &hits {
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
        eprintln!("cablekeep: {} hits", hits.len());
        Ok(EXIT_OK)
    }

    pub(super) fn stats(&self, a: StatsArgs) -> Result<u8> {
        let collection = self.collection(&a.collection)?;
        let version = self.store.resolve_version(
            &collection,
            a.version.as_deref().map(parse_version).transpose()?,
        )?;
        let archive = cablekeep::archive::OpenArchive::open_index(
            &self.store.zip_path(&collection, version),
        )?;
        let s = cablekeep::stats::of_archive(
            &archive,
            &collection,
            &format!("{collection}@v{version}"),
        )?;
        if a.json {
            json_line(&s)?;
            return Ok(EXIT_OK);
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
        Ok(EXIT_OK)
    }
}
