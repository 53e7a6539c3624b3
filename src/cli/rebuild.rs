//! `rebuild-manifest`: write a lost sidecar manifest again from its intact zip.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_FINDINGS, EXIT_OK, render};
use anyhow::Result;
use cablekeep::store::{VersionId, VersionNum};
use clap::{ArgAction, Args};

#[derive(Debug, Args)]
pub(super) struct RebuildArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version whose manifest was lost, e.g. v3 or 3.
    #[arg(long)]
    version: VersionNum,
    /// One JSON object: the manifest written (or null) and the zip's findings.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: RebuildArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    let version = a.version.get();
    let lock = ctx.lock()?;
    let outcome = cablekeep::store::rebuild::rebuild_manifest(
        &ctx.store,
        &lock,
        &collection,
        version,
        &ctx.bar,
    )?;
    drop(lock);
    let at = VersionId::new(&collection, version);
    render::rebuilt(&ctx.store, at, &outcome, a.output)?;
    Ok(if outcome.manifest.is_some() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}
