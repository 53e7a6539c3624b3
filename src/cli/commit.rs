//! `commit`: write the staged pages as the collection's next version.

use super::args::{CollectionArg, OutputFormat, message_text};
use super::{Ctx, exit_for, render};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub(super) struct CommitArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long, short = 'm', default_value = "", value_parser = message_text)]
    message: String,
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Ctx, a: CommitArgs) -> Result<u8> {
    let collection = ctx.store.collection_to_commit(a.collection.given())?;
    let lock = ctx.lock()?;
    let outcome = ctx
        .store
        .commit_stage(&lock, &collection, &a.message, &ctx.bar)?;
    let format = OutputFormat::text_or_json(a.json);
    render::write_outcome(&ctx.store, &collection, &outcome, format)?;
    Ok(exit_for(&outcome.findings))
}
