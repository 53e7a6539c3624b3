//! `log`: the versions of each collection, newest first.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_OK, render};
use anyhow::Result;
use clap::{ArgAction, Args};

#[derive(Debug, Args)]
pub(super) struct LogArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: LogArgs) -> Result<u8> {
    let collections = match a.collection.given() {
        Some(c) => {
            // An unknown collection is an error, not an empty log.
            ctx.store.resolve_version(c, None)?;
            vec![c.to_string()]
        }
        None => ctx.store.collections()?,
    };
    let format = a.output;
    for c in collections {
        for v in ctx.store.versions(&c)?.into_iter().rev() {
            let (m, _) = ctx.store.read_manifest(&c, v)?;
            render::log_entry(&m, format)?;
        }
    }
    Ok(EXIT_OK)
}
