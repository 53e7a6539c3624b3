//! The command line: the only place that knows clap. Data goes to stdout, progress and notes to
//! stderr. Exit codes: 0 ok, 1 findings, 2 could not run.

mod export;
mod generate;
mod links;
mod progress;
mod seal;

use anyhow::{Context, Result, anyhow, bail};
use cablekeep::cable::Format;
use cablekeep::capture::StoredRecord;
use cablekeep::diff::VersionDiff;
use cablekeep::finding::{Finding, terminal_safe};
use cablekeep::ingest::{self, InputItem};
use cablekeep::provenance::SourceHints;
use cablekeep::store::{Store, WriteOutcome, WriteRequest};
use cablekeep::verify::{self, Report, Selection};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Exit code: everything checked out.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings (integrity problems, unreadable pages).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: could not run (usage, I/O, missing store or version).
pub const EXIT_ERROR: u8 = 2;

/// Keeps diplomatic cables safe for the long run: versioned BagIt-in-zip archives with hash
/// manifests, verified byte for byte.
#[derive(Debug, Parser)]
#[command(name = "cablekeep", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store: a folder holding archives/ and manifests/.
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
    Bundle(BundleArgs),
    /// Stage pages for the collection's next version (see `status` and `commit`).
    Add(AddArgs),
    /// Show what is staged.
    Status(StatusArgs),
    /// Write the staged pages as the collection's next version.
    Commit(CommitArgs),
    /// List versions with message, time, counts and digests.
    Log(LogArgs),
    /// Show a cable as archived.
    Show(ShowArgs),
    /// What changed between two versions.
    Diff(DiffArgs),
    /// Check archives byte for byte against their manifests (exit 1 on any finding).
    Verify(VerifyArgs),
    /// Write a lost sidecar manifest again from its intact zip (a zip without a manifest blocks
    /// the collection's next version; exit 1 when the zip has errors and nothing is written).
    RebuildManifest(RebuildArgs),
    /// Read pages and print their records without storing anything.
    Parse(ParseArgs),
    /// Seal versions: write each one's checkpoint (the root of a Merkle tree over its manifest)
    /// and sign it with an SSH key.
    Seal(seal::SealArgs),
    /// Write the proof that a cable's files are in a sealed version (JSON, checked offline).
    Prove(seal::ProveArgs),
    /// Check a proof offline against an allowed_signers file, and files against it (exit 0 it
    /// holds, 1 it does not, 2 it could not be checked).
    CheckProof(seal::CheckProofArgs),
    /// Export a selection of cables for researchers: CSV, JSON Lines, SQLite, BagIt bag or zip,
    /// with README, CITATION.cff, datapackage.json and citations.
    Export(export::ExportArgs),
    /// Full-text search over the latest versions (ranked by bm25, with snippets).
    Search(export::SearchArgs),
    /// Count cables by year, origin, classification, tag and redaction status.
    Stats(export::StatsArgs),
    /// Link rot: check that the source pages still hold the archived cables (`links check`),
    /// report the link log (`links report`) and a cable's link history (`links history`).
    Links(links::LinksArgs),
    /// Print a shell completion script to stdout (bash, zsh, fish, elvish, powershell).
    Completions(generate::CompletionsArgs),
    /// Print cablekeep's man page (roff) to stdout, or write one page per command with `--out`.
    Man(generate::ManArgs),
}

#[derive(Debug, Args)]
struct CollectionArg {
    /// The collection (default: the store's only collection).
    #[arg(long, short = 'c')]
    collection: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
struct ProvenanceArgs {
    /// Who published the pages (overrides what the pages say; no control characters).
    #[arg(long, value_parser = publisher_text)]
    publisher: Option<String>,
    /// The URL the pages were captured from (an absolute http, https or ftp URL).
    #[arg(long, value_parser = source_url)]
    source_url: Option<String>,
    /// The release date at the source (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    released: Option<String>,
    /// When the pages were retrieved (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    retrieved: Option<String>,
}

/// `--publisher`: a text without control characters.
fn publisher_text(s: &str) -> Result<String, cablekeep::error::Error> {
    cablekeep::provenance::check_text("--publisher", s).map(|()| s.to_string())
}

/// `--message`: lines of text (`log` indents them), without other control characters (a
/// carriage return or an escape sequence would forge `log`'s output).
fn message_text(s: &str) -> Result<String, cablekeep::error::Error> {
    match s
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        Some(c) => Err(cablekeep::error::Error::Invalid(format!(
            "--message: the character {c:?} is not accepted"
        ))),
        None => Ok(s.to_string()),
    }
}

/// `--source-url`: an absolute http, https or ftp URL.
fn source_url(s: &str) -> Result<String, cablekeep::error::Error> {
    use cablekeep::provenance::{SOURCE_URL_SCHEMES, check_url};
    check_url(s, SOURCE_URL_SCHEMES).map(|()| s.to_string())
}

impl ProvenanceArgs {
    fn hints(&self) -> Result<SourceHints> {
        let date = |name: &str, v: &Option<String>| -> Result<Option<String>> {
            v.as_deref()
                .map(|s| {
                    cablekeep::time::normalize(s).ok_or_else(|| {
                        anyhow!("--{name} {s:?}: expected YYYY-MM-DD or an RFC 3339 date-time")
                    })
                })
                .transpose()
        };
        Ok(SourceHints {
            publisher: self.publisher.clone(),
            url: self.source_url.clone(),
            released: date("released", &self.released)?,
            retrieved: date("retrieved", &self.retrieved)?,
        })
    }
}

/// The readers, for `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// The WikiLeaks cable page of 2010-2011.
    WikileaksPage,
    /// The later mirror text page.
    MirrorText,
    /// A bare cable text (header and body only); give its provenance with the flags.
    BareText,
    /// The bulk table of the 2011 full release (also chosen for any file given by name that ends .csv).
    CablesCsv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::WikileaksPage => Format::WikileaksPage,
            FormatArg::MirrorText => Format::MirrorText,
            FormatArg::BareText => Format::BareText,
            FormatArg::CablesCsv => Format::CablesCsv,
        }
    }
}

/// The largest `--max-input-bytes`: an input is held in memory whole.
const MAX_INPUT_BYTES_LIMIT: u64 = 1024 * 1024 * 1024;

/// How inputs are read.
#[derive(Debug, Args, Clone)]
struct ReadArgs {
    /// Read every input with this reader instead of detecting the format.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Refuse input files larger than this many bytes (1 to 1073741824, 1 GiB).
    #[arg(long, default_value_t = ingest::DEFAULT_MAX_INPUT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=MAX_INPUT_BYTES_LIMIT))]
    max_input_bytes: u64,
    /// Read at most this many members of each input zip (1 to 100,000,000).
    #[arg(long, default_value_t = ingest::DEFAULT_MAX_ZIP_MEMBERS,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_zip_members: u64,
    /// Read the members of each input zip until they hold this many bytes in all (1 to 2^50).
    #[arg(long, default_value_t = ingest::DEFAULT_MAX_ZIP_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=1u64 << 50))]
    max_zip_bytes: u64,
}

impl ReadArgs {
    fn options(&self) -> ingest::Options {
        ingest::Options {
            max_bytes: self.max_input_bytes,
            format: self.format.map(Format::from),
            max_zip_members: self.max_zip_members,
            max_zip_bytes: self.max_zip_bytes,
        }
    }
}

#[derive(Debug, Args)]
struct BundleArgs {
    /// Page files, folders (searched recursively for .html, .htm, .txt and .zip) and zip files.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The collection to write.
    #[arg(long, short = 'c')]
    collection: String,
    /// A message recorded with the version (lines and tabs, no other control characters).
    #[arg(long, short = 'm', default_value = "", value_parser = message_text)]
    message: String,
    /// The new version holds exactly these inputs: cables not among them are left out.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    read: ReadArgs,
    #[command(flatten)]
    sign: seal::SignArgs,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct AddArgs {
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[arg(long, short = 'c')]
    collection: String,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    read: ReadArgs,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct CommitArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long, short = 'm', default_value = "", value_parser = message_text)]
    message: String,
    #[command(flatten)]
    sign: seal::SignArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LogArgs {
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RebuildArgs {
    #[command(flatten)]
    collection: CollectionArg,
    /// The version whose manifest was lost, e.g. v3 or 3.
    #[arg(long)]
    version: String,
    /// One JSON object: the manifest written (or null) and the zip's findings.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The cable's reference id, e.g. 05ALMATY4285.
    id: String,
    #[command(flatten)]
    collection: CollectionArg,
    /// The version (default: the latest).
    #[arg(long)]
    version: Option<String>,
    /// Which capture (default: the latest); see the capture names in the default output.
    #[arg(long)]
    capture: Option<String>,
    /// Print the capture's raw bytes exactly as archived.
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print the stored record as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The older version, e.g. v1.
    from: String,
    /// The newer version (default: the latest).
    to: Option<String>,
    #[command(flatten)]
    collection: CollectionArg,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// A zip to check on its own (for example one downloaded), instead of the store.
    file: Option<PathBuf>,
    /// The sidecar manifest of FILE (default: found beside it, if there).
    #[arg(long, requires = "file")]
    manifest: Option<PathBuf>,
    /// The collection to check (default: every collection in the store).
    #[arg(long, short = 'c', conflicts_with = "file")]
    collection: Option<String>,
    /// Check this version only.
    #[arg(long, conflicts_with_all = ["all", "file"])]
    version: Option<String>,
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
    #[arg(long)]
    json: bool,
    /// Also check every source link (as `links check`): exit 1 when any link is not intact or
    /// equivalent.
    #[arg(long, conflicts_with = "file")]
    links: bool,
    #[command(flatten)]
    link: links::LinkOptions,
    #[command(flatten)]
    seal: seal::SealCheckArgs,
}

#[derive(Debug, Args)]
struct ParseArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    provenance: ProvenanceArgs,
    #[command(flatten)]
    read: ReadArgs,
    /// One JSON record per cable per line.
    #[arg(long)]
    json: bool,
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

fn run(cli: Cli) -> Result<u8> {
    let store = Store::new(&cli.store);
    let bar = progress::Bar::new(!cli.no_progress);
    let ctx = Ctx {
        store,
        wait: cli.wait,
        bar,
    };
    match cli.command {
        Command::Demo => ctx.demo(),
        Command::Bundle(a) => ctx.bundle(a),
        Command::Add(a) => ctx.add(a),
        Command::Status(a) => ctx.status(a),
        Command::Commit(a) => ctx.commit(a),
        Command::Log(a) => ctx.log(a),
        Command::Show(a) => ctx.show(a),
        Command::Diff(a) => ctx.diff(a),
        Command::Verify(a) => ctx.verify(a),
        Command::RebuildManifest(a) => ctx.rebuild_manifest(a),
        Command::Parse(a) => parse(a),
        Command::Seal(a) => ctx.seal(a),
        Command::Prove(a) => ctx.prove(a),
        Command::CheckProof(a) => ctx.check_proof(a),
        Command::Export(a) => ctx.export(a),
        Command::Search(a) => ctx.search(a),
        Command::Stats(a) => ctx.stats(a),
        Command::Links(a) => ctx.links(a),
        Command::Completions(a) => generate::completions(a),
        Command::Man(a) => generate::man(a),
    }
}

struct Ctx {
    store: Store,
    wait: bool,
    bar: progress::Bar,
}

/// The sample cables compiled into the binary, for `demo`.
const SAMPLES: &[(&str, &[u8])] = &[
    (
        "examples/09EXAMPLE101.html",
        include_bytes!("../../examples/09EXAMPLE101.html"),
    ),
    (
        "examples/10EXAMPLE202.html",
        include_bytes!("../../examples/10EXAMPLE202.html"),
    ),
    (
        "examples/06EXAMPLE303.txt",
        include_bytes!("../../examples/06EXAMPLE303.txt"),
    ),
];

/// Parses `v3` or `3`.
fn parse_version(s: &str) -> Result<u32> {
    s.strip_prefix('v')
        .unwrap_or(s)
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| anyhow!("{s:?} is not a version (expected v1, v2, ...)"))
}

fn out() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn json_line(value: &impl serde::Serialize) -> Result<()> {
    let mut o = out();
    serde_json::to_writer(&mut o, value)?;
    writeln!(o)?;
    Ok(())
}

impl Ctx {
    fn collection(&self, given: &CollectionArg) -> Result<String> {
        if let Some(c) = &given.collection {
            return Ok(c.clone());
        }
        let all = self.store.collections()?;
        // A folder without versions (left by a first write that failed) is not chosen.
        let mut with_versions = Vec::new();
        for c in &all {
            if self.store.latest(c)?.is_some() {
                with_versions.push(c.clone());
            }
        }
        let choices = if with_versions.is_empty() {
            all
        } else {
            with_versions
        };
        match choices.as_slice() {
            [one] => Ok(one.clone()),
            [] => bail!(
                "no collections in the store {} (use --store, or bundle something first)",
                self.store.root().display()
            ),
            many => bail!(
                "the store has {} collections ({}); choose one with --collection",
                many.len(),
                many.join(", ")
            ),
        }
    }

    fn demo(&self) -> Result<u8> {
        let inputs = SAMPLES
            .iter()
            .map(|(name, bytes)| {
                (
                    InputItem::bytes(*name, bytes.to_vec()).into(),
                    Default::default(),
                )
            })
            .collect();
        eprintln!(
            "cablekeep demo: bundling {} sample cables into {}",
            SAMPLES.len(),
            self.store.root().display()
        );
        let lock = self.store.lock(self.wait)?;
        let outcome = self.store.write_version(
            &lock,
            WriteRequest {
                collection: "examples",
                inputs,
                replace: false,
                message: "Sample cables shipped with cablekeep",
                progress: &self.bar,
            },
        )?;
        drop(lock);
        let code = self.print_write("examples", &outcome, false)?;
        let verified = self.verify(VerifyArgs {
            file: None,
            manifest: None,
            collection: Some("examples".into()),
            version: None,
            all: true,
            fast: false,
            whole: false,
            json: false,
            links: false,
            link: links::LinkOptions::default(),
            seal: Default::default(),
        })?;
        Ok(code.max(verified))
    }

    fn bundle(&self, a: BundleArgs) -> Result<u8> {
        cablekeep::store::validate_collection_name(&a.collection)?;
        let hints = a.provenance.hints()?;
        let found = ingest::collect(&a.inputs, &a.read.options())?;
        note_skipped(&found.skipped);
        if found.items.is_empty() && found.findings.is_empty() {
            bail!("no pages found in {}", show_paths(&a.inputs));
        }
        let hints = std::sync::Arc::new(hints);
        let inputs = found
            .items
            .into_iter()
            .map(|i| (i, hints.clone()))
            .collect();
        let key = a.sign.key()?;
        let lock = self.store.lock(self.wait)?;
        let mut outcome = self.store.write_version(
            &lock,
            WriteRequest {
                collection: &a.collection,
                inputs,
                replace: a.replace,
                message: &a.message,
                progress: &self.bar,
            },
        )?;
        outcome.findings.splice(0..0, found.findings);
        let code = self.print_write(&a.collection, &outcome, a.json)?;
        self.seal_written(&lock, &a.collection, &outcome, key.as_ref(), &a.sign)?;
        Ok(code)
    }

    fn print_write(&self, collection: &str, outcome: &WriteOutcome, json: bool) -> Result<u8> {
        let code = if outcome.findings.iter().any(Finding::is_error) {
            EXIT_FINDINGS
        } else {
            EXIT_OK
        };
        if json {
            json_line(&serde_json::json!({
                "collection": collection,
                "written": outcome.manifest.is_some(),
                "manifest": outcome.manifest,
                "previous": outcome.previous,
                "new_captures": outcome.new_captures,
                "duplicate_captures": outcome.duplicate_captures,
                "removed_cables": outcome.removed_cables,
                "findings": outcome.findings,
            }))?;
            return Ok(code);
        }
        let mut o = out();
        for f in &outcome.findings {
            writeln!(o, "{f}")?;
        }
        match &outcome.manifest {
            Some(m) => {
                writeln!(
                    o,
                    "wrote {} ({} cables, {} captures, {} unparsed; {} new captures, {} duplicates skipped{})",
                    m.identifier,
                    m.counts.cables,
                    m.counts.captures,
                    m.counts.unparsed,
                    outcome.new_captures,
                    outcome.duplicate_captures,
                    if outcome.removed_cables > 0 {
                        format!(", {} cables removed", outcome.removed_cables)
                    } else {
                        String::new()
                    }
                )?;
                writeln!(
                    o,
                    "  archive  {}",
                    self.store.zip_path(collection, m.version).display()
                )?;
                writeln!(o, "  sha256   {}", m.archive.sha256)?;
            }
            None if outcome.new_captures + outcome.duplicate_captures == 0 => {
                let why = if outcome.findings.is_empty() {
                    "no pages were given"
                } else {
                    "no input could be read (see the findings above)"
                };
                writeln!(o, "nothing written: {why}")?
            }
            None => match outcome.previous {
                Some(v) => writeln!(
                    o,
                    "nothing new: {collection}@v{v} already holds every input that was read ({} duplicates)",
                    outcome.duplicate_captures
                )?,
                None => writeln!(o, "nothing written: no pages")?,
            },
        }
        Ok(code)
    }

    fn add(&self, a: AddArgs) -> Result<u8> {
        cablekeep::store::validate_collection_name(&a.collection)?;
        let hints = a.provenance.hints()?;
        let found = ingest::collect(&a.inputs, &a.read.options())?;
        note_skipped(&found.skipped);
        // Staging copies each page into the store: a table's rows are made pages here.
        let pages: Vec<InputItem> = found.pages().collect();
        let lock = self.store.lock(self.wait)?;
        let (stage, findings) = self.store.stage_add(&lock, &a.collection, &pages, &hints)?;
        let mut o = out();
        for f in found.findings.iter().chain(&findings) {
            writeln!(o, "{f}")?;
        }
        writeln!(
            o,
            "staged {} pages for {} ({} in the stage)",
            pages.len(),
            a.collection,
            stage.items.len()
        )?;
        let errors = found
            .findings
            .iter()
            .chain(&findings)
            .any(Finding::is_error);
        Ok(if errors { EXIT_FINDINGS } else { EXIT_OK })
    }

    fn status(&self, a: StatusArgs) -> Result<u8> {
        let collections = match &a.collection.collection {
            Some(c) => vec![c.clone()],
            None => self.store.staged_collections()?,
        };
        let mut o = out();
        if collections.is_empty() && !a.json {
            writeln!(o, "nothing staged")?;
        }
        for c in collections {
            let stage = self.store.stage(&c)?;
            let latest = self.store.latest(&c)?;
            if a.json {
                serde_json::to_writer(
                    &mut o,
                    &serde_json::json!({"collection": c, "latest": latest, "stage": stage}),
                )?;
                writeln!(o)?;
                continue;
            }
            let next = latest.map_or(1, |v| v + 1);
            writeln!(o, "{c}: {} staged for v{next}", stage.items.len())?;
            for item in &stage.items {
                writeln!(
                    o,
                    "  {:<20} {}  {}",
                    terminal_safe(item.cable.as_deref().unwrap_or("(unparsed)")),
                    item.sha256.get(..12).unwrap_or(&item.sha256),
                    terminal_safe(&item.input)
                )?;
            }
        }
        Ok(EXIT_OK)
    }

    fn commit(&self, a: CommitArgs) -> Result<u8> {
        let collection = match &a.collection.collection {
            Some(c) => c.clone(),
            None => match self.store.staged_collections()?.as_slice() {
                [one] => one.clone(),
                [] => bail!("nothing staged (use `cablekeep add`)"),
                many => bail!(
                    "several collections have staged pages ({}); choose one with --collection",
                    many.join(", ")
                ),
            },
        };
        let key = a.sign.key()?;
        let lock = self.store.lock(self.wait)?;
        let stage = self.store.stage(&collection)?;
        if stage.items.is_empty() {
            bail!("nothing staged for {collection} (use `cablekeep add`)");
        }
        let outcome = self.store.write_version(
            &lock,
            WriteRequest {
                collection: &collection,
                inputs: self.store.staged_inputs(&stage),
                replace: false,
                message: &a.message,
                progress: &self.bar,
            },
        )?;
        // The version is committed (or already held everything): only now is the stage emptied.
        self.store.stage_clear(&lock, &collection)?;
        let code = self.print_write(&collection, &outcome, a.json)?;
        self.seal_written(&lock, &collection, &outcome, key.as_ref(), &a.sign)?;
        Ok(code)
    }

    fn rebuild_manifest(&self, a: RebuildArgs) -> Result<u8> {
        let collection = self.collection(&a.collection)?;
        let version = parse_version(&a.version)?;
        let lock = self.store.lock(self.wait)?;
        let outcome = cablekeep::rebuild::rebuild_manifest(
            &self.store,
            &lock,
            &collection,
            version,
            &self.bar,
        )?;
        drop(lock);
        let code = if outcome.manifest.is_some() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        };
        if a.json {
            json_line(&serde_json::json!({
                "collection": collection,
                "version": version,
                "written": outcome.manifest.is_some(),
                "manifest": outcome.manifest,
                "next_link_broken": outcome.next_link_broken,
                "findings": outcome.report.findings,
            }))?;
            return Ok(code);
        }
        let mut o = out();
        for f in &outcome.report.findings {
            writeln!(o, "{f}")?;
        }
        let Some(m) = &outcome.manifest else {
            writeln!(
                o,
                "not rebuilt: {collection}@v{version}'s zip has errors; its manifest is written again only from an intact zip"
            )?;
            return Ok(code);
        };
        writeln!(
            o,
            "rebuilt {} ({} cables, {} captures; zip sha256 {})",
            m.identifier, m.counts.cables, m.counts.captures, m.archive.sha256
        )?;
        writeln!(
            o,
            "  manifest {}",
            self.store.manifest_path(&collection, version).display()
        )?;
        if let Some(next) = outcome.next_link_broken {
            writeln!(
                o,
                "  note: {collection}@v{next} names the lost manifest's SHA-256, which no rebuilt manifest can have: verify reports that link (M005)"
            )?;
        }
        Ok(code)
    }

    fn log(&self, a: LogArgs) -> Result<u8> {
        let collections = match &a.collection.collection {
            Some(c) => {
                // An unknown collection is an error, not an empty log.
                self.store.resolve_version(c, None)?;
                vec![c.clone()]
            }
            None => self.store.collections()?,
        };
        let mut o = out();
        for c in collections {
            for v in self.store.versions(&c)?.into_iter().rev() {
                let (m, _) = self.store.read_manifest(&c, v)?;
                if a.json {
                    serde_json::to_writer(&mut o, &m)?;
                    writeln!(o)?;
                    continue;
                }
                writeln!(o, "{}  {}  {}", m.identifier, m.created, m.tool)?;
                writeln!(
                    o,
                    "  {} cables, {} captures, {} unparsed, {} payload bytes, zip {} bytes",
                    m.counts.cables,
                    m.counts.captures,
                    m.counts.unparsed,
                    m.counts.payload_bytes,
                    m.archive.bytes
                )?;
                writeln!(o, "  sha256 {}", m.archive.sha256)?;
                if !m.message.is_empty() {
                    // A message of an older release may hold any character: escaped.
                    for line in m.message.split('\n') {
                        writeln!(o, "  {}", terminal_safe(line))?;
                    }
                }
            }
        }
        Ok(EXIT_OK)
    }

    fn show(&self, a: ShowArgs) -> Result<u8> {
        let version = a.version.as_deref().map(parse_version).transpose()?;
        let found = cablekeep::select::locate_cable(
            &self.store,
            a.collection.collection.as_deref(),
            version,
            &a.id,
        )?;
        let (collection, version, line) = (found.collection, found.version, found.line);
        let zip = self.store.zip_path(&collection, version);
        let id = line.id.clone();
        let capture = match &a.capture {
            Some(name) => line
                .captures
                .iter()
                .find(|c| &c.name == name)
                .ok_or_else(|| anyhow!("cable {id} has no capture {name}"))?,
            None => line
                .current()
                .ok_or_else(|| anyhow!("cable {id} has no capture"))?,
        };
        let wanted = |path: &str| path == capture.raw || path == capture.record;
        let archive = cablekeep::archive::OpenArchive::open_selected(&zip, &wanted)?;
        if a.raw {
            out().write_all(&archive.read_required(&capture.raw)?)?;
            return Ok(EXIT_OK);
        }
        let bytes = archive.read_required(&capture.record)?;
        if a.json {
            out().write_all(&bytes)?;
            return Ok(EXIT_OK);
        }
        let stored: StoredRecord =
            serde_json::from_slice(&bytes).with_context(|| capture.record.clone())?;
        print_record(&stored, &line, &format!("{collection}@v{version}"))?;
        Ok(EXIT_OK)
    }

    fn diff(&self, a: DiffArgs) -> Result<u8> {
        let collection = self.collection(&a.collection)?;
        let from = self
            .store
            .resolve_version(&collection, Some(parse_version(&a.from)?))?;
        let to = self
            .store
            .resolve_version(&collection, a.to.as_deref().map(parse_version).transpose()?)?;
        let d = cablekeep::diff::diff(&self.store, &collection, from, to)?;
        if a.json {
            json_line(&d)?;
        } else {
            print_diff(&d)?;
        }
        Ok(EXIT_OK)
    }

    fn verify(&self, a: VerifyArgs) -> Result<u8> {
        let options = verify::Options {
            fast: a.fast,
            whole: a.whole,
        };
        let mut checked = None;
        let reports = match &a.file {
            Some(file) => vec![verify::verify_file(
                file,
                a.manifest.as_deref(),
                options,
                &self.bar,
            )?],
            None => {
                let selection = match (&a.version, a.all) {
                    (Some(v), _) => Selection::One(parse_version(v)?),
                    (None, true) => Selection::All,
                    (None, false) => Selection::Latest,
                };
                let collections = match &a.collection {
                    Some(c) => vec![c.clone()],
                    None => self.store.collections()?,
                };
                if collections.is_empty() {
                    bail!(
                        "no collections in the store {} (use --store, or give a zip file)",
                        self.store.root().display()
                    );
                }
                let mut reports = Vec::new();
                for c in &collections {
                    reports.extend(verify::verify_collection(
                        &self.store,
                        c,
                        selection,
                        options,
                        &self.bar,
                    )?);
                }
                checked = Some((collections, selection));
                reports
            }
        };
        print_reports(&reports, a.json, a.fast)?;
        let mut code = if reports.iter().all(Report::is_clean) {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        };
        if let Some((collections, selection)) = &checked {
            code = code.max(self.verify_seals(&a.seal, collections, *selection, a.json)?);
        }
        if a.links {
            let version = a.version.as_deref().map(parse_version).transpose()?;
            let collections = match &a.collection {
                Some(c) => vec![c.clone()],
                // A collection without versions has no links (verify reported it: M009).
                None => {
                    let mut with_versions = self.store.collections()?;
                    with_versions.retain(|c| self.store.latest(c).is_ok_and(|v| v.is_some()));
                    with_versions
                }
            };
            let form = if a.json {
                links::Form::Json
            } else {
                links::Form::Text
            };
            for c in collections {
                code = code.max(self.check_links(&c, version, &a.link, form)?);
            }
        }
        Ok(code)
    }
}

fn note_skipped(skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    let shown: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
    let more = if skipped.len() > 5 {
        format!(" and {} more", skipped.len() - 5)
    } else {
        String::new()
    };
    eprintln!(
        "cablekeep: skipped {} files that are not pages by their ending: {}{more}",
        skipped.len(),
        shown.join(", ")
    );
}

fn show_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_reports(reports: &[Report], json: bool, fast: bool) -> Result<()> {
    let mut o = out();
    for r in reports {
        let errors = r.findings.iter().filter(|f| f.is_error()).count();
        let warnings = r.findings.len() - errors;
        if json {
            for f in &r.findings {
                let mut value = serde_json::to_value(f)?;
                value["archive"] = serde_json::json!(r.archive.display().to_string());
                serde_json::to_writer(&mut o, &value)?;
                writeln!(o)?;
            }
            if r.zip_digest_unchecked {
                let notice = serde_json::json!({
                    "archive": r.archive.display().to_string(),
                    "zip_digest_checked": false,
                    "notice": NO_ZIP_DIGEST,
                });
                serde_json::to_writer(&mut o, &notice)?;
                writeln!(o)?;
            }
            continue;
        }
        for f in &r.findings {
            writeln!(o, "{f}")?;
        }
        let what = r
            .identifier
            .clone()
            .unwrap_or_else(|| r.archive.display().to_string());
        let mode = if fast { "fast" } else { "full" };
        let verdict = if errors == 0 { "ok" } else { "FAILED" };
        writeln!(
            o,
            "{verdict}: {what} ({mode}: {} entries, {} bytes hashed; {errors} errors, {warnings} warnings)",
            r.entries, r.bytes_hashed
        )?;
        if r.zip_digest_unchecked {
            writeln!(o, "note: {NO_ZIP_DIGEST}")?;
        }
    }
    Ok(())
}

/// Said of a zip verified on its own with nothing to compare the whole file with.
const NO_ZIP_DIGEST: &str = "no sidecar manifest or .sha256 file was found, so the zip's own \
     digest was not checked (only its entries against the bag's manifests); give the sidecar \
     with --manifest";

fn print_record(s: &StoredRecord, line: &cablekeep::capture::IndexLine, at: &str) -> Result<()> {
    let r = &s.record;
    let mut o = out();
    // Every field comes from a page someone else wrote: printed escaped (see terminal_safe).
    let opt = |v: &Option<String>| terminal_safe(v.as_deref().unwrap_or("-")).into_owned();
    writeln!(o, "{}  ({at}, capture {})", r.id, s.capture.name)?;
    if let Some(orig) = &r.id_original {
        writeln!(o, "  original id     {}", terminal_safe(orig))?;
    }
    writeln!(o, "  subject         {}", opt(&r.subject))?;
    writeln!(o, "  created         {}", opt(&r.created))?;
    writeln!(o, "  released        {}", opt(&r.released))?;
    writeln!(o, "  classification  {}", opt(&r.classification))?;
    writeln!(o, "  origin          {}", opt(&r.origin))?;
    writeln!(o, "  tags            {}", terminal_safe(&r.tags.join(" ")))?;
    writeln!(
        o,
        "  redaction       {} ({} runs{})",
        r.redaction.status,
        r.redaction.runs,
        if r.redaction.partial_extract {
            ", partial extract"
        } else {
            ""
        }
    )?;
    writeln!(
        o,
        "  source          {} {}",
        opt(&r.source.publisher),
        opt(&r.source.url)
    )?;
    writeln!(
        o,
        "  raw             {} ({} bytes, sha256 {})",
        s.capture.raw, s.capture.bytes, s.capture.sha256
    )?;
    writeln!(o, "  captures:")?;
    for c in &line.captures {
        writeln!(
            o,
            "    {}  {} runs  {}",
            c.name,
            c.redaction.runs,
            terminal_safe(&c.input)
        )?;
    }
    writeln!(o)?;
    // The text keeps its line breaks and tabs; any other control character is escaped.
    for line in r.text.split('\n') {
        let parts: Vec<_> = line.split('\t').map(terminal_safe).collect();
        writeln!(o, "{}", parts.join("\t"))?;
    }
    Ok(())
}

fn print_diff(d: &VersionDiff) -> Result<()> {
    let mut o = out();
    writeln!(
        o,
        "{}: v{} -> v{}: {} added, {} removed, {} changed, {} unchanged",
        d.collection,
        d.from,
        d.to,
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    )?;
    for id in &d.removed {
        writeln!(o, "- {id}")?;
    }
    for (sign, changes) in [("+", &d.added), ("~", &d.changed)] {
        for c in changes {
            let mut parts = Vec::new();
            let runs = |c: &cablekeep::diff::CableChange| {
                let mut runs: Vec<String> = vec![];
                for cmp in &c.comparisons {
                    if runs.is_empty() {
                        runs.push(cmp.redaction_runs_from.to_string());
                    }
                    runs.push(cmp.redaction_runs_to.to_string());
                }
                runs.join(" -> ")
            };
            match c.redaction.as_str() {
                "gained" => parts.push(format!("redactions added ({} runs)", runs(c))),
                "lost" => parts.push(format!("redactions removed ({} runs)", runs(c))),
                "gained-and-lost" => {
                    parts.push(format!("redactions added and removed ({} runs)", runs(c)))
                }
                "moved" => parts.push("redactions moved".to_string()),
                _ => {}
            }
            if c.text_changed {
                let (added, removed) = c
                    .comparisons
                    .iter()
                    .fold((0, 0), |(a, r), x| (a + x.lines_added, r + x.lines_removed));
                parts.push(format!("text changed (+{added} -{removed} lines)"));
            }
            let mut fields: Vec<&str> = c
                .comparisons
                .iter()
                .flat_map(|x| x.fields.iter().map(|f| f.field.as_str()))
                .collect();
            fields.sort_unstable();
            fields.dedup();
            if !fields.is_empty() {
                parts.push(format!("fields: {}", fields.join(", ")));
            }
            if sign == "~" {
                parts.push(format!(
                    "{} capture(s) added, {} removed",
                    c.captures_added.len(),
                    c.captures_removed.len()
                ));
            } else if c.captures_added.len() > 1 {
                parts.push(format!("{} captures", c.captures_added.len()));
            }
            let detail = if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join("; "))
            };
            writeln!(o, "{sign} {}{detail}", c.id)?;
        }
    }
    Ok(())
}

fn parse(a: ParseArgs) -> Result<u8> {
    let hints = a.provenance.hints()?;
    let found = ingest::collect(&a.files, &a.read.options())?;
    let mut errors = found.findings.iter().any(Finding::is_error);
    let mut o = out();
    for f in &found.findings {
        writeln!(o, "{f}")?;
    }
    for item in found.pages() {
        let bytes = item.load()?;
        let outcome = cablekeep::cable::parse_as(&bytes, &item.name, &hints, item.format);
        errors |= outcome.findings.iter().any(Finding::is_error);
        for f in &outcome.findings {
            if a.json {
                eprintln!("{f}");
            } else {
                writeln!(o, "{f}")?;
            }
        }
        let Some(r) = outcome.record else { continue };
        if a.json {
            serde_json::to_writer(&mut o, &r)?;
            writeln!(o)?;
        } else {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            writeln!(
                o,
                "{}\t{}\t{}\t{}\t{}\t{}",
                r.id,
                opt(&r.created),
                opt(&r.classification),
                opt(&r.origin),
                r.redaction.status,
                opt(&r.subject)
            )?;
        }
    }
    Ok(if errors { EXIT_FINDINGS } else { EXIT_OK })
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
    fn versions_are_read_with_or_without_v() {
        assert_eq!(parse_version("v3").unwrap(), 3);
        assert_eq!(parse_version("12").unwrap(), 12);
        assert!(parse_version("v0").is_err());
        assert!(parse_version("latest").is_err());
    }
}
