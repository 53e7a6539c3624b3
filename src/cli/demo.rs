//! `demo`: bundle the sample cables into the collection `examples`, then verify every version
//! of it.

use super::args::OutputFormat;
use super::render::{self, Depth};
use super::{Ctx, exit_for, verify};
use anyhow::Result;
use cablekeep::store::demo::{DEMO_COLLECTION, SAMPLES, write_samples};
use cablekeep::store::verify::{Selection, verify_collection};

pub(super) fn run(ctx: &Ctx) -> Result<u8> {
    eprintln!(
        "cablekeep demo: bundling {} sample cables into {}",
        SAMPLES.len(),
        ctx.store.root().display()
    );
    let lock = ctx.lock()?;
    let outcome = write_samples(&ctx.store, &lock, &ctx.bar)?;
    drop(lock);
    render::write_outcome(&ctx.store, DEMO_COLLECTION, &outcome, OutputFormat::Text)?;
    let written = exit_for(&outcome.findings);
    let reports = verify_collection(
        &ctx.store,
        DEMO_COLLECTION,
        Selection::All,
        Default::default(),
        &ctx.bar,
    )?;
    let verified = verify::show_reports(&reports, OutputFormat::Text, Depth::Full)?;
    Ok(written.max(verified))
}
