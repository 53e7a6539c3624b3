//! The `site` command: the static web edition of a version.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_OK, render};
use anyhow::Result;
use cablekeep::query::select::Filter;
use cablekeep::store::VersionNum;
use cablekeep::web::{self, SiteOutcome};
use clap::{ArgAction, Args};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(super) struct SiteArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<VersionNum>,
    /// The folder to create; it must not exist yet (or be an empty folder).
    #[arg(long)]
    out: PathBuf,
    /// Leave out each cable's proof (a sealed version has one per cable, in its page's folder).
    #[arg(long)]
    no_proofs: bool,
    /// Print what was written as one JSON object.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

/// `site`: writes the web edition of a version.
pub(super) fn run(ctx: &Ctx, a: SiteArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    let filter = Filter::default();
    let started = std::time::Instant::now();
    let outcome = web::write_site(
        &ctx.store,
        web::SiteRequest {
            collection: &collection,
            version: a.version.map(VersionNum::get),
            filter: &filter,
            out: &a.out,
            proofs: !a.no_proofs,
            progress: &ctx.bar,
        },
    )?;
    report(&outcome, started.elapsed().as_secs_f64(), a.output)?;
    Ok(EXIT_OK)
}

/// Prints what an edition holds (also for `export --format site`).
pub(super) fn report(outcome: &SiteOutcome, secs: f64, format: OutputFormat) -> Result<()> {
    let mut out = render::out();
    if format == OutputFormat::Json {
        let json = serde_json::json!({
            "version": outcome.version.identifier,
            "archive_sha256": outcome.version.archive_sha256,
            "cables": outcome.cables,
            "files": outcome.files,
            "bytes": outcome.bytes,
            "search_bytes": outcome.search_bytes,
            "out": outcome.out,
        });
        writeln!(out, "{json}")?;
    } else {
        writeln!(
            out,
            "wrote the web edition of {} ({} cables) to {}: {} files, {} bytes (search index {} bytes); open {}",
            outcome.version.identifier,
            outcome.cables,
            outcome.out.display(),
            outcome.files,
            outcome.bytes,
            outcome.search_bytes,
            outcome.out.join("index.html").display()
        )?;
    }
    eprintln!(
        "cablekeep: {:.2} s, {:.0} cables/s",
        secs,
        outcome.cables as f64 / secs.max(1e-9)
    );
    Ok(())
}
