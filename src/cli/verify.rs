//! `verify`: check archives byte for byte against their manifests, and with `--links` their
//! source links.

use super::args::{OutputFormat, json_flag};
use super::render::{self, Depth};
use super::{Ctx, EXIT_FINDINGS, EXIT_OK, links, seal};
use anyhow::{Result, bail};
use cablekeep::store::verify::{self, Report, Selection};
use cablekeep::store::{CollectionName, Store, VersionNum};
use clap::{ArgAction, Args};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// A zip to check on its own (for example one downloaded), instead of the store.
    file: Option<PathBuf>,
    /// The sidecar manifest of FILE (default: found beside it, if there).
    #[arg(long, requires = "file")]
    manifest: Option<PathBuf>,
    /// The collection to check (default: every collection in the store).
    #[arg(long, short = 'c', conflicts_with = "file")]
    collection: Option<CollectionName>,
    /// Check this version only.
    #[arg(long, conflicts_with_all = ["all", "file"])]
    version: Option<VersionNum>,
    /// Check every version (the default checks the latest, plus the whole chain's links).
    #[arg(long, conflicts_with = "file")]
    all: bool,
    /// Check structure, listings, sizes, Payload-Oxum and the tag files (SHA-256 only) without
    /// re-hashing the payload.
    #[arg(long)]
    fast: bool,
    /// Hold tables of every entry instead of checking an archive in cablekeep's layout a chunk at
    /// a time (what other archives always get; the findings are the same). For comparing the two.
    #[arg(long, hide = true)]
    whole: bool,
    /// Print findings as JSON Lines.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
    /// Also check every source link (as `links check`): exit 1 when any link is not intact or
    /// equivalent.
    #[arg(long, conflicts_with = "file")]
    links: bool,
    #[command(flatten)]
    link: links::LinkOptions,
    #[command(flatten)]
    seal: seal::SealCheckArgs,
}

/// The collections and versions a store-wide verify checked (their seals are checked next).
struct Checked {
    collections: Vec<String>,
    selection: Selection,
}

pub(super) fn run(ctx: &Ctx, a: VerifyArgs) -> Result<u8> {
    let options = verify::Options {
        fast: a.fast,
        whole: a.whole,
    };
    let (reports, checked) = match &a.file {
        Some(file) => (
            vec![verify::verify_file(
                file,
                a.manifest.as_deref(),
                options,
                &ctx.bar,
            )?],
            None,
        ),
        None => {
            let tsa_trust = a.seal.tsa_trust(ctx)?;
            let (reports, checked) = verify_store(ctx, &a, options)?;
            (reports, Some((checked, tsa_trust)))
        }
    };
    let format = a.output;
    let depth = if a.fast { Depth::Fast } else { Depth::Full };
    let mut code = show_reports(&reports, format, depth)?;
    if let Some((checked, tsa_trust)) = checked {
        let sealed = seal::verify_seals(
            ctx,
            &a.seal,
            tsa_trust,
            &checked.collections,
            checked.selection,
            format,
        )?;
        code = code.max(sealed);
    }
    if a.links {
        code = code.max(check_links(ctx, &a, format)?);
    }
    Ok(code)
}

/// Prints `verify`'s reports; the exit code says whether every archive is clean.
pub(super) fn show_reports(reports: &[Report], format: OutputFormat, depth: Depth) -> Result<u8> {
    render::reports(reports, format, depth)?;
    Ok(if reports.iter().all(Report::is_clean) {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// Verifies the versions `a` selects of the collection given, or of every collection.
fn verify_store(
    ctx: &Ctx,
    a: &VerifyArgs,
    options: verify::Options,
) -> Result<(Vec<Report>, Checked)> {
    let selection = match (a.version, a.all) {
        (Some(v), _) => Selection::One(v.get()),
        (None, true) => Selection::All,
        (None, false) => Selection::Latest,
    };
    let collections = match &a.collection {
        Some(c) => vec![c.to_string()],
        None => ctx.store.collections()?,
    };
    if collections.is_empty() {
        bail!(
            "no collections in the store {} (use --store, or give a zip file)",
            ctx.store.root().display()
        );
    }
    let mut reports = Vec::new();
    for c in &collections {
        reports.extend(verify::verify_collection(
            &ctx.store, c, selection, options, &ctx.bar,
        )?);
    }
    Ok((
        reports,
        Checked {
            collections,
            selection,
        },
    ))
}

/// `--links`: checks the links of the collection given, or of every collection with versions.
fn check_links(ctx: &Ctx, a: &VerifyArgs, format: OutputFormat) -> Result<u8> {
    let collections = match &a.collection {
        Some(c) => vec![c.to_string()],
        // A collection without versions has no links (verify reported it: M009).
        None => collections_with_versions(&ctx.store)?,
    };
    let mut code = EXIT_OK;
    for c in collections {
        code = code.max(links::check_links(ctx, &c, a.version, &a.link, format)?);
    }
    Ok(code)
}

fn collections_with_versions(store: &Store) -> Result<Vec<String>> {
    let mut with_versions = store.collections()?;
    with_versions.retain(|c| store.latest(c).is_ok_and(|v| v.is_some()));
    Ok(with_versions)
}
