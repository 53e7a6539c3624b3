//! `show`: a cable as archived, for people, as its stored JSON record, or its raw bytes.

use super::args::{CollectionArg, OutputFormat, json_flag};
use super::{Ctx, EXIT_OK, render};
use anyhow::Result;
use cablekeep::store::VersionNum;
use cablekeep::store::show::{ShowRequest, show_cable};
use clap::{ArgAction, Args};
use std::io::Write;

#[derive(Debug, Args)]
pub(super) struct ShowArgs {
    /// The cable's reference id, e.g. 05ALMATY4285.
    id: String,
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    pub(super) version: Option<VersionNum>,
    /// Which capture (default: the latest); see the capture names in the default output.
    #[arg(long)]
    capture: Option<String>,
    /// Print the capture's raw bytes exactly as archived.
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print the record as JSON: `cablekeep-record/1` (pretty-printed, text included),
    /// whichever archive format stored it.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(ctx: &Ctx, a: ShowArgs) -> Result<u8> {
    let shown = show_cable(
        &ctx.store,
        &ShowRequest {
            id: &a.id,
            collection: a.collection.given(),
            version: a.version,
            capture: a.capture.as_deref(),
        },
    )?;
    if a.raw {
        render::out().write_all(&shown.raw_bytes()?)?;
    } else if a.output == OutputFormat::Json {
        render::out().write_all(&shown.record_json()?)?;
    } else {
        render::record(&shown.record()?, &shown.line, shown.version_id())?;
    }
    Ok(EXIT_OK)
}
