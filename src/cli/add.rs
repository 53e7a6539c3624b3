//! `add`: stage pages for the collection's next version.

use super::args::{ProvenanceArgs, ReadArgs, note_skipped};
use super::{Ctx, exit_for, render};
use anyhow::Result;
use cablekeep::input::{self, InputItem};
use cablekeep::store::CollectionName;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(super) struct AddArgs {
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[arg(long, short = 'c')]
    collection: CollectionName,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    read: ReadArgs,
}

pub(super) fn run(ctx: &Ctx, a: AddArgs) -> Result<u8> {
    let hints = a.provenance.hints()?;
    let found = input::collect(&a.inputs, &a.read.options())?;
    note_skipped(&found.skipped);
    // Staging copies each page into the store: a table's rows are made pages here.
    let pages: Vec<InputItem> = found.pages().collect();
    let lock = ctx.lock()?;
    let (stage, findings) = ctx.store.stage_add(&lock, &a.collection, &pages, &hints)?;
    render::findings(found.findings.iter().chain(&findings))?;
    writeln!(
        render::out(),
        "staged {} pages for {} ({} in the stage)",
        pages.len(),
        a.collection,
        stage.items.len()
    )?;
    Ok(exit_for(found.findings.iter().chain(&findings)))
}
