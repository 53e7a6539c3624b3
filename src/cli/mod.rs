//! The command line: the only place that knows clap. Data goes to stdout, progress and notes to
//! stderr. Exit codes: 0 ok, 1 findings, 2 could not run.
//!
//! This file holds the command line's definition and the dispatch; [`args`] the argument groups
//! several commands share; one file per command reads its arguments, calls the library and hands
//! what it got to [`render`], which prints it.

mod add;
mod args;
mod bundle;
mod commit;
mod demo;
mod diff;
mod export;
mod generate;
mod links;
mod log;
mod parse;
mod progress;
mod rebuild;
mod render;
mod replica;
mod seal;
mod serve;
mod show;
mod site;
mod status;
mod verify;

use anyhow::Result;
use cablekeep::finding::{Finding, terminal_safe};
use cablekeep::fsutil::StoreLock;
use cablekeep::store::{LockWait, Store};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit code: everything checked out.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings (integrity problems, unreadable pages).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: could not run (usage, I/O, missing store or version).
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "cablekeep", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store: a folder holding archives/ and manifests/, or (for the commands that only
    /// read) `s3://bucket/prefix` holding them in object storage.
    #[arg(long, global = true, env = "CABLEKEEP_STORE", default_value = ".")]
    store: PathBuf,
    /// Wait for another writer to finish instead of failing at once.
    #[arg(long, global = true)]
    wait: bool,
    /// Never draw progress bars.
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bundle the sample cables built into cablekeep into the collection `examples`, then verify
    /// every version of it: the built-in default job.
    Demo,
    /// Ingest pages (files, folders, zips) and write the collection's next version in one step.
    Bundle(bundle::BundleArgs),
    /// Stage pages for the collection's next version (see `status` and `commit`).
    Add(add::AddArgs),
    /// Show what is staged.
    Status(status::StatusArgs),
    /// Write the staged pages as the collection's next version.
    Commit(commit::CommitArgs),
    /// List versions with message, time, counts and digests.
    Log(log::LogArgs),
    /// Show a cable as archived.
    Show(show::ShowArgs),
    /// What changed between two versions.
    Diff(diff::DiffArgs),
    /// Check archives byte for byte against their manifests (exit 1 on any finding).
    Verify(verify::VerifyArgs),
    /// Write a lost sidecar manifest again from its intact zip (a zip without a manifest blocks
    /// the collection's next version; exit 1 when the zip has errors and nothing is written).
    RebuildManifest(rebuild::RebuildArgs),
    /// Read pages and print their records without storing anything.
    Parse(parse::ParseArgs),
    /// Seal versions: write each one's checkpoint (the root of a Merkle tree over its manifest),
    /// sign it with an SSH key and/or timestamp it with an RFC 3161 time-stamping authority.
    Seal(seal::SealArgs),
    /// Write the proof that a cable's files are in a sealed version (JSON, checked offline).
    Prove(seal::ProveArgs),
    /// Check a proof offline against an allowed_signers file, and files against it (exit 0 it
    /// holds, 1 it does not, 2 it could not be checked).
    CheckProof(seal::CheckProofArgs),
    /// Export a selection of cables for researchers: CSV, JSON Lines, SQLite, BagIt bag or zip,
    /// with README, CITATION.cff, datapackage.json and citations.
    Export(export::ExportArgs),
    /// Write the web edition of a version: a static site (a page per cable, lists, search) that
    /// works from any host or from `file://`, and checks itself (SHA256SUMS, seal, proofs).
    Site(site::SiteArgs),
    /// Serve the web edition of a version live from the store (the static edition's pages,
    /// search answered on the server, a read-only JSON API); loopback only unless --public.
    Serve(serve::ServeArgs),
    /// Full-text search over the latest versions (ranked by BM25, with snippets); without a
    /// query, bring the search index up to date.
    Search(export::SearchArgs),
    /// Count cables by year, origin, classification, tag and redaction status.
    Stats(export::StatsArgs),
    /// Link rot: check that the source pages still hold the archived cables (`links check`),
    /// report the link log (`links report`) and a cable's link history (`links history`).
    Links(links::LinksArgs),
    /// Copy to a replica (`s3://bucket/prefix` or a folder) the versions it lacks: write-once,
    /// each file read back and checked before it takes its name, the sidecar last.
    Replicate(replica::ReplicateArgs),
    /// Compare two or more replicas; a majority decides which copy of each file is good (exit 1
    /// when any replica is not whole).
    Audit(replica::AuditArgs),
    /// Give a replica the files an audit finds missing or damaged on it, from the good copies
    /// of the `--from` replicas; refused when no majority agrees.
    Repair(replica::RepairArgs),
    /// Print a shell completion script to stdout (bash, zsh, fish, elvish, powershell).
    Completions(generate::CompletionsArgs),
    /// Print cablekeep's man page (roff) to stdout, or write one page per command with `--out`.
    Man(generate::ManArgs),
}

/// Parses arguments, runs, prints errors; returns the exit code.
pub fn main() -> u8 {
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return EXIT_OK;
            }
            // Errors name paths and ids as given, or as found in files: escaped.
            eprintln!("cablekeep: error: {}", terminal_safe(&error_text(&e)));
            EXIT_ERROR
        }
    }
}

/// Parses the command line; help and usage errors are plain text when `NO_COLOR` is set to a
/// non-empty value (no-color.org), whatever the terminal or `CLICOLOR_FORCE` say.
fn parse_args() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mut cmd = Cli::command();
    if no_color {
        cmd = cmd.color(clap::ColorChoice::Never);
    }
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// The error and its causes joined with `: `, each cause once: an error that already ends with
/// its cause's text (as `path: reason` does) does not repeat it.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Runs the command given.
fn run(cli: Cli) -> Result<u8> {
    let drawing = if cli.no_progress {
        progress::Drawing::Never
    } else {
        progress::Drawing::OnTerminal
    };
    let wait = if cli.wait {
        LockWait::Wait
    } else {
        LockWait::FailAtOnce
    };
    let ctx = Ctx {
        store: cablekeep::replica::open_store(&cli.store)?,
        wait,
        bar: progress::Bar::new(drawing),
    };
    match cli.command {
        Command::Demo => demo::run(&ctx),
        Command::Bundle(a) => bundle::run(&ctx, a),
        Command::Add(a) => add::run(&ctx, a),
        Command::Status(a) => status::run(&ctx, a),
        Command::Commit(a) => commit::run(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Show(a) => show::run(&ctx, a),
        Command::Diff(a) => diff::run(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::RebuildManifest(a) => rebuild::run(&ctx, a),
        Command::Parse(a) => parse::run(a),
        Command::Seal(a) => seal::seal(&ctx, a),
        Command::Prove(a) => seal::prove(&ctx, a),
        Command::CheckProof(a) => seal::check_proof(&ctx, a),
        Command::Export(a) => export::export(&ctx, a),
        Command::Site(a) => site::run(&ctx, a),
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Search(a) => export::search(&ctx, a),
        Command::Stats(a) => export::stats(&ctx, a),
        Command::Links(a) => links::run(&ctx, a),
        Command::Replicate(a) => replica::replicate(&ctx, a),
        Command::Audit(a) => replica::audit(&ctx, a),
        Command::Repair(a) => replica::repair(&ctx, a),
        Command::Completions(a) => generate::completions(a),
        Command::Man(a) => generate::man(a),
    }
}

/// What every command runs with: the store, how to take its lock, the progress bar.
struct Ctx {
    store: Store,
    wait: LockWait,
    bar: progress::Bar,
}

impl Ctx {
    /// Takes the store's writers' lock (waiting for it with `--wait`).
    fn lock(&self) -> Result<StoreLock> {
        Ok(self.store.lock(self.wait)?)
    }
}

/// The exit code of findings: 1 when any is an error.
fn exit_for<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> u8 {
    if findings.into_iter().any(Finding::is_error) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn collections_and_versions_are_checked_where_they_enter() {
        let parse = |args: &[&str]| Cli::try_parse_from(args);
        let ok = parse(&["cablekeep", "show", "X", "-c", "dev", "--version", "v3"]).unwrap();
        let Command::Show(a) = ok.command else {
            panic!("show")
        };
        assert_eq!(a.version.map(|v| v.get()), Some(3));
        assert!(parse(&["cablekeep", "show", "X", "--version", "v0"]).is_err());
        assert!(parse(&["cablekeep", "show", "X", "--version", "latest"]).is_err());
        assert!(parse(&["cablekeep", "log", "-c", "Dev"]).is_err());
        assert!(parse(&["cablekeep", "diff", "1", "x"]).is_err());
    }

    #[test]
    fn output_flags_are_aliases_of_format() {
        use args::OutputFormat;
        let report = |extra: &[&str]| {
            let mut argv = vec!["cablekeep", "links", "report"];
            argv.extend(extra);
            Cli::try_parse_from(argv)
        };
        for (flag, format) in [
            ("--json", OutputFormat::Json),
            ("--markdown", OutputFormat::Markdown),
            ("--csv", OutputFormat::Csv),
        ] {
            assert_eq!(links::report_format(report(&[flag]).unwrap()), Some(format));
        }
        let given = report(&["--format", "csv"]).unwrap();
        assert_eq!(links::report_format(given), Some(OutputFormat::Csv));
        assert!(report(&["--format", "csv", "--json"]).is_err());
        assert!(report(&["--json", "--csv"]).is_err());
    }
}
