//! `completions` and `man`: shell completion scripts and man pages generated from the clap
//! definitions, so they always list the commands and options the binary accepts.

use anyhow::{Context, Result};
use cablekeep::finding::terminal_safe;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The name the generated scripts and pages complete and describe.
const BIN_NAME: &str = "cablekeep";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into this folder (cablekeep.1, cablekeep-bundle.1, ...,
    /// cablekeep-links-check.1) instead of printing cablekeep.1 to stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Prints the completion script for the shell to stdout.
pub fn completions(args: CompletionsArgs) -> Result<u8> {
    let mut cmd = super::Cli::command();
    // Generated in memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN_NAME, &mut script);
    write_stdout(&script)?;
    Ok(super::EXIT_OK)
}

/// Prints cablekeep's man page to stdout, or with `--out` writes one page per command.
pub fn man(args: ManArgs) -> Result<u8> {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    match args.out {
        None => write_stdout(&render(&cmd)?)?,
        Some(dir) => {
            let mut written = Vec::new();
            write_pages(&cmd, &dir, &mut written)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
            let mut out = std::io::stdout().lock();
            for path in written {
                writeln!(out, "{}", terminal_safe(&path.display().to_string()))?;
            }
        }
    }
    Ok(super::EXIT_OK)
}

/// The man page of one (built) command, naming cablekeep's version also on a subcommand's page
/// (clap_mangen takes the version from the command, and subcommands have none). The date is
/// `\&`, roff's empty text: clap_mangen writes an empty date as nothing, which moved the source
/// into the date's place in `.TH` (a page carries no date, so that builds are reproducible).
fn page(cmd: &clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd.clone())
        .date("\\&")
        .source(format!("{BIN_NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands")
}

/// The roff text of one (built) command's page.
fn render(cmd: &clap::Command) -> Result<Vec<u8>> {
    let mut page_text = Vec::new();
    page(cmd)
        .render(&mut page_text)
        .with_context(|| format!("rendering the man page of {}", cmd.get_name()))?;
    Ok(page_text)
}

/// Writes the page of `cmd` and of each visible subcommand, recursively, each atomically.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let dest = dir.join(page(cmd).get_filename());
    cablekeep::fsutil::atomic_write(&dest, &render(cmd)?)?;
    written.push(dest);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}
