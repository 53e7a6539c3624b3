//! `parse`: read pages and print their records without storing anything.

use super::args::{OutputFormat, ProvenanceArgs, ReadArgs, json_flag};
use super::{EXIT_FINDINGS, EXIT_OK, render};
use anyhow::Result;
use cablekeep::finding::Finding;
use cablekeep::input;
use clap::{ArgAction, Args};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub(super) struct ParseArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    read: ReadArgs,
    /// One JSON record per cable per line.
    #[arg(long = "json", id = "json", action = ArgAction::SetTrue, value_parser = json_flag())]
    output: OutputFormat,
}

pub(super) fn run(a: ParseArgs) -> Result<u8> {
    let hints = a.provenance.hints()?;
    let format = a.output;
    let found = input::collect(&a.files, &a.read.options())?;
    let mut errors = found.findings.iter().any(Finding::is_error);
    render::findings(&found.findings)?;
    let mut o = render::out();
    for item in found.pages() {
        let bytes = item.load()?;
        let outcome = cablekeep::cable::parse_as(&bytes, &item.name, &hints, item.format);
        errors |= outcome.findings.iter().any(Finding::is_error);
        for f in &outcome.findings {
            // With JSON on stdout, findings go to stderr: stdout stays one record per line.
            if format == OutputFormat::Json {
                eprintln!("{f}");
            } else {
                writeln!(o, "{f}")?;
            }
        }
        if let Some(r) = outcome.record {
            render::parsed(&mut o, &r, format)?;
        }
    }
    Ok(if errors { EXIT_FINDINGS } else { EXIT_OK })
}
