//! `status`: what is staged.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_OK, render};
use anyhow::Result;
use clap::{ArgAction, Args};
use std::io::Write;

#[derive(Debug, Args)]
pub(super) struct StatusArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: StatusArgs) -> Result<u8> {
    let collections = match a.collection.given() {
        Some(c) => vec![c.to_string()],
        None => ctx.store.staged_collections()?,
    };
    let format = a.output;
    if collections.is_empty() && format == OutputFormat::Text {
        writeln!(render::out(), "nothing staged")?;
    }
    for c in collections {
        let stage = ctx.store.stage(&c)?;
        let latest = ctx.store.latest(&c)?;
        render::stage(&c, latest, &stage, format)?;
    }
    Ok(EXIT_OK)
}
