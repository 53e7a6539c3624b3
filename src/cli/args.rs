//! Argument groups shared by several commands, the value parsers that check names, versions
//! and texts once where they enter, and the output format.

use anyhow::{Result, anyhow, bail};
use cablekeep::bag::ArchiveFormat;
use cablekeep::cable::Format;
use cablekeep::cable::provenance::SourceHints;
use cablekeep::input;
use cablekeep::store::{CollectionName, Store};
use clap::builder::{BoolishValueParser, TypedValueParser};
use clap::{Args, ValueEnum};

/// `--collection`, where the store's only collection is the default.
#[derive(Debug, Args)]
pub(super) struct CollectionArg {
    /// The collection (default: the store's only collection).
    #[arg(long, short = 'c')]
    pub(super) collection: Option<CollectionName>,
}

impl CollectionArg {
    /// The collection given, or the store's only collection (with versions, when some have).
    pub(super) fn resolve(&self, store: &Store) -> Result<String> {
        if let Some(c) = &self.collection {
            return Ok(c.to_string());
        }
        let all = store.collections()?;
        // A folder without versions (left by a first write that failed) is not chosen.
        let mut with_versions = Vec::new();
        for c in &all {
            if store.latest(c)?.is_some() {
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
                store.root().display()
            ),
            many => bail!(
                "the store has {} collections ({}); choose one with --collection",
                many.len(),
                many.join(", ")
            ),
        }
    }

    /// The collection given, if one was.
    pub(super) fn given(&self) -> Option<&str> {
        self.collection.as_deref()
    }
}

/// How a command prints what it found: lines for people, JSON, a Markdown table, or CSV. (The
/// values carry no doc comments: the flag's own help says what each prints for its command,
/// and clap lists undocumented values on one line.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OutputFormat {
    Text,
    Json,
    Markdown,
    Csv,
}

impl OutputFormat {
    /// `--format`, else the one of the alias flags (`--json`, `--markdown`, `--csv`) given,
    /// else text (clap lets at most one of them through).
    pub(super) fn chosen(
        format: Option<OutputFormat>,
        aliases: &[(bool, OutputFormat)],
    ) -> OutputFormat {
        format
            .or_else(|| aliases.iter().find(|(set, _)| *set).map(|(_, f)| *f))
            .unwrap_or(OutputFormat::Text)
    }
}

/// `--json`, the flag of a command that prints text or JSON, read as the output format: given,
/// JSON; left out, text.
pub(super) fn json_flag() -> impl TypedValueParser<Value = OutputFormat> {
    BoolishValueParser::new().map(|json| {
        if json {
            OutputFormat::Json
        } else {
            OutputFormat::Text
        }
    })
}

#[derive(Debug, Args, Clone, Default)]
pub(super) struct ProvenanceArgs {
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
    cablekeep::cable::provenance::check_text("--publisher", s).map(|()| s.to_string())
}

/// `--message`: lines of text (`log` indents them), without other control characters (a
/// carriage return or an escape sequence would forge `log`'s output).
pub(super) fn message_text(s: &str) -> Result<String, cablekeep::error::Error> {
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
    use cablekeep::cable::provenance::{SOURCE_URL_SCHEMES, check_url};
    check_url(s, SOURCE_URL_SCHEMES).map(|()| s.to_string())
}

impl ProvenanceArgs {
    pub(super) fn hints(&self) -> Result<SourceHints> {
        Ok(SourceHints {
            publisher: self.publisher.clone(),
            url: self.source_url.clone(),
            released: date("released", &self.released)?,
            retrieved: date("retrieved", &self.retrieved)?,
        })
    }
}

/// A date flag normalized to RFC 3339.
fn date(name: &str, given: &Option<String>) -> Result<Option<String>> {
    given
        .as_deref()
        .map(|s| {
            cablekeep::time::normalize(s).ok_or_else(|| {
                anyhow!("--{name} {s:?}: expected YYYY-MM-DD or an RFC 3339 date-time")
            })
        })
        .transpose()
}

/// The readers, for `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum FormatArg {
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
pub(super) struct ReadArgs {
    /// Read every input with this reader instead of detecting the format.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Refuse input files larger than this many bytes (1 to 1073741824, 1 GiB).
    #[arg(long, default_value_t = input::DEFAULT_MAX_INPUT_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=MAX_INPUT_BYTES_LIMIT))]
    max_input_bytes: u64,
    /// Read at most this many members of each input zip (1 to 100,000,000).
    #[arg(long, default_value_t = input::DEFAULT_MAX_ZIP_MEMBERS,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_zip_members: u64,
    /// Read the members of each input zip until they hold this many bytes in all (1 to 2^50).
    #[arg(long, default_value_t = input::DEFAULT_MAX_ZIP_BYTES,
          value_parser = clap::value_parser!(u64).range(1..=1u64 << 50))]
    max_zip_bytes: u64,
}

impl ReadArgs {
    pub(super) fn options(&self) -> input::Options {
        input::Options {
            max_bytes: self.max_input_bytes,
            format: self.format.map(Format::from),
            max_zip_members: self.max_zip_members,
            max_zip_bytes: self.max_zip_bytes,
        }
    }
}

/// What inputs were found in: the paths as given, for messages.
pub(super) fn show_paths(paths: &[std::path::PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Says on stderr which files were passed over because their ending is not a page's.
pub(super) fn note_skipped(skipped: &[String]) {
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

/// Parses `--archive-format`: 1 or 2.
pub(super) fn archive_format(s: &str) -> std::result::Result<ArchiveFormat, String> {
    match s.trim() {
        "1" => Ok(ArchiveFormat::V1),
        "2" => Ok(ArchiveFormat::V2),
        other => Err(format!("{other:?} is not an archive format: 1 or 2")),
    }
}
