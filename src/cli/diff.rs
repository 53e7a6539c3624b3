//! `diff`: what changed between two versions of a collection.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_OK, render};
use anyhow::Result;
use cablekeep::store::VersionNum;
use clap::{ArgAction, Args};

#[derive(Debug, Args)]
pub(super) struct DiffArgs {
    /// The older version, e.g. v1.
    from: VersionNum,
    /// The newer version (default: the latest).
    to: Option<VersionNum>,
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: DiffArgs) -> Result<u8> {
    let collection = a.collection.resolve(&ctx.store)?;
    let from = ctx.store.resolve_version(&collection, Some(a.from.get()))?;
    let to = ctx
        .store
        .resolve_version(&collection, a.to.map(VersionNum::get))?;
    let d = cablekeep::store::diff::diff(&ctx.store, &collection, from, to)?;
    render::diff(&d, a.output)?;
    Ok(EXIT_OK)
}
