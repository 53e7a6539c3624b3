//! `commit`: write the staged pages as the collection's next version.

use super::args::{CollectionArg, OutputFormat, json_flag, message_text};
use super::{Ctx, exit_for, render, seal};
use anyhow::Result;
use clap::{ArgAction, Args};

#[derive(Debug, Args)]
pub(super) struct CommitArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long, short = 'm', default_value = "", value_parser = message_text)]
    message: String,
    #[command(flatten)]
    sign: seal::SignArgs,
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: CommitArgs) -> Result<u8> {
    let collection = ctx.store.collection_to_commit(a.collection.given())?;
    let key = a.sign.key()?;
    let lock = ctx.lock()?;
    let outcome = ctx
        .store
        .commit_stage(&lock, &collection, &a.message, &ctx.bar)?;
    let format = a.output;
    render::write_outcome(&ctx.store, &collection, &outcome, format)?;
    seal::seal_written(ctx, &lock, &collection, &outcome, key.as_ref(), &a.sign)?;
    Ok(exit_for(&outcome.findings))
}
