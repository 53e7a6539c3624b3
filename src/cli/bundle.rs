//! `bundle`: ingest pages and write the collection's next version in one step.

use super::args::{
    OutputFormat, ProvenanceArgs, ReadArgs, archive_format, json_flag, message_text, note_skipped,
    show_paths,
};
use super::{Ctx, exit_for, render, seal};
use anyhow::{Result, bail};
use cablekeep::bag::ArchiveFormat;
use cablekeep::input;
use cablekeep::store::{CollectionName, WriteRequest};
use clap::{ArgAction, Args};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub(super) struct BundleArgs {
    /// Page files, folders (searched recursively for .html, .htm, .txt and .zip) and zip files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The collection to write.
    #[arg(long, short = 'c')]
    collection: CollectionName,
    /// A message recorded with the version (lines and tabs, no other control characters).
    #[arg(long, short = 'm', default_value = "", value_parser = message_text)]
    message: String,
    /// The new version holds exactly these inputs: cables not among them are left out.
    #[arg(long)]
    replace: bool,
    /// The archive format to write: 2, or 1 for readers on cablekeep 0.1.0 and earlier
    /// (docs/FORMAT.md section 8); format 1 cannot follow a format 2 version.
    #[arg(long, value_name = "N", default_value = "2", value_parser = archive_format)]
    archive_format: ArchiveFormat,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    read: ReadArgs,
    /// Print the result as JSON.
    #[command(flatten)]
    sign: seal::SignArgs,
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: BundleArgs) -> Result<u8> {
    let hints = Arc::new(a.provenance.hints()?);
    let found = input::collect(&a.inputs, &a.read.options())?;
    note_skipped(&found.skipped);
    if found.items.is_empty() && found.findings.is_empty() {
        bail!("no pages found in {}", show_paths(&a.inputs));
    }
    let inputs = found
        .items
        .into_iter()
        .map(|i| (i, hints.clone()))
        .collect();
    let key = a.sign.key()?;
    let lock = ctx.lock()?;
    let mut outcome = ctx.store.write_version(
        &lock,
        WriteRequest {
            collection: &a.collection,
            inputs,
            replace: a.replace,
            message: &a.message,
            progress: &ctx.bar,
            archive_format: a.archive_format,
        },
    )?;
    outcome.findings.splice(0..0, found.findings);
    let format = a.output;
    render::write_outcome(&ctx.store, &a.collection, &outcome, format)?;
    seal::seal_written(ctx, &lock, &a.collection, &outcome, key.as_ref(), &a.sign)?;
    Ok(exit_for(&outcome.findings))
}
