//! Provenance: where a capture came from, when it was released, and how it is redacted.

use crate::cable::Format;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Where one capture of a cable came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Who published the page, e.g. `WikiLeaks` or `cablebrowser-2`.
    pub publisher: Option<String>,
    /// The URL of the page this capture is a copy of.
    pub url: Option<String>,
    /// The release date of the cable at this source (RFC 3339 date or date-time, UTC).
    pub released: Option<String>,
    /// The release date exactly as the page wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_original: Option<String>,
    /// The URL of the upstream original this page points to (e.g. the WikiLeaks page a mirror cites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_url: Option<String>,
    /// The site build the page came from (for WikiLeaks pages, the release counter N in "N / 251,287").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_build: Option<String>,
    /// When the capture was retrieved (RFC 3339, UTC), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieved: Option<String>,
    /// The character encoding found in the raw bytes, e.g. `utf-8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The reader that understood the page, written by its name (`wikileaks-page`,
    /// `mirror-text`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
}

/// Provenance supplied on the command line, which fills or overrides what a page says of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHints {
    /// `--publisher`: who published the pages, e.g. `WikiLeaks`; replaces what a page says.
    pub publisher: Option<String>,
    /// `--source-url`: the page's URL (http, https or ftp); replaces what a page says.
    pub url: Option<String>,
    /// `--released`: the release date at the source, `YYYY-MM-DD` or an RFC 3339 date-time in UTC
    /// (see [`crate::time::normalize`]); replaces what a page says.
    pub released: Option<String>,
    /// `--retrieved`: when the pages were retrieved, in the same form.
    pub retrieved: Option<String>,
}

impl SourceHints {
    /// True when no flag was given.
    pub fn is_empty(&self) -> bool {
        self == &SourceHints::default()
    }

    /// Applies the hints over what the page said: a flag always wins, since the user knows
    /// where the bytes came from better than the bytes do.
    pub fn apply(&self, source: &mut Source) {
        if let Some(p) = &self.publisher {
            source.publisher = Some(p.clone());
        }
        if let Some(u) = &self.url {
            source.url = Some(u.clone());
        }
        if let Some(r) = &self.released {
            source.released = Some(r.clone());
        }
        if let Some(r) = &self.retrieved {
            source.retrieved = Some(r.clone());
        }
    }
}

/// The schemes a source URL may have.
pub const SOURCE_URL_SCHEMES: &[&str] = &["http", "https", "ftp"];

/// Checks that `url` is an absolute URL with one of `schemes` (lower case) and a host, with no
/// whitespace or control character (a newline in a URL would forge lines in text output).
pub fn check_url(url: &str, schemes: &[&str]) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::Invalid(format!(
            "{url:?} is not a usable URL: {why} (expected an absolute {} URL)",
            schemes.join(", ")
        )))
    };
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return refuse(&format!("it holds the character {c:?}"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse("it has no scheme://");
    };
    if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
        return refuse(&format!("the scheme {scheme:?} is not accepted"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return refuse("it names no host");
    }
    Ok(())
}

/// Checks that a free text given on the command line (a publisher's name) holds no control
/// character: a newline or an escape sequence would forge lines in text output.
pub fn check_text(name: &str, text: &str) -> Result<()> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(Error::Invalid(format!(
            "{name} {text:?}: the character {c:?} is not accepted"
        ))),
        None => Ok(()),
    }
}

/// How a capture is redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redaction {
    /// Whether the capture is redacted.
    pub status: RedactionStatus,
    /// The number of redaction runs (runs of 5 or more `X` standing alone) in the text.
    pub runs: usize,
    /// Where each run is: character offset into the record's `text` and its length.
    #[serde(default)]
    pub positions: Vec<RedactionRun>,
    /// Whether the page says the text is only a partial extract of the cable.
    pub partial_extract: bool,
    /// The publisher's own redaction statement, when the page has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

/// Whether a capture is redacted, written `redacted`, `not-redacted` or `unknown`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedactionStatus {
    /// The text has redaction runs, or the publisher says it is redacted.
    Redacted,
    /// No run was found and the publisher does not say it is redacted.
    NotRedacted,
    /// Nothing is known.
    #[default]
    Unknown,
}

impl RedactionStatus {
    /// The name written in records and indexes.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactionStatus::Redacted => "redacted",
            RedactionStatus::NotRedacted => "not-redacted",
            RedactionStatus::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for RedactionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// How the redactions of one capture differ from those of an earlier one, written `same`,
/// `gained`, `lost`, `gained-and-lost` or `moved`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedactionChange {
    /// As many runs, in the same places.
    #[default]
    Same,
    /// More redaction runs.
    Gained,
    /// Fewer redaction runs.
    Lost,
    /// Over several comparisons: runs gained in some and lost in others.
    GainedAndLost,
    /// As many runs, elsewhere.
    Moved,
}

impl RedactionChange {
    /// The change from the redactions `before` to those `after`, by their runs.
    pub fn between(before: &Redaction, after: &Redaction) -> Self {
        match after.runs.cmp(&before.runs) {
            std::cmp::Ordering::Greater => RedactionChange::Gained,
            std::cmp::Ordering::Less => RedactionChange::Lost,
            std::cmp::Ordering::Equal if before.positions != after.positions => {
                RedactionChange::Moved
            }
            std::cmp::Ordering::Equal => RedactionChange::Same,
        }
    }

    /// The change over several comparisons in order: `gained-and-lost` when both happened.
    pub fn overall(changes: impl IntoIterator<Item = RedactionChange>) -> Self {
        let (mut gained, mut lost, mut moved) = (false, false, false);
        for change in changes {
            gained |= change == RedactionChange::Gained;
            lost |= change == RedactionChange::Lost;
            moved |= change == RedactionChange::Moved;
        }
        match (gained, lost) {
            (true, true) => RedactionChange::GainedAndLost,
            (true, false) => RedactionChange::Gained,
            (false, true) => RedactionChange::Lost,
            _ if moved => RedactionChange::Moved,
            _ => RedactionChange::Same,
        }
    }

    /// The name written in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactionChange::Same => "same",
            RedactionChange::Gained => "gained",
            RedactionChange::Lost => "lost",
            RedactionChange::GainedAndLost => "gained-and-lost",
            RedactionChange::Moved => "moved",
        }
    }
}

impl std::fmt::Display for RedactionChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One run of redaction marks in a cable's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionRun {
    /// Offset in characters (Unicode scalar values) from the start of the text.
    pub offset: usize,
    /// Length in characters.
    pub len: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_urls_are_absolute_with_a_host_and_nothing_hidden() {
        for ok in [
            "https://wikileaks.org/cable/2009/05/09X.html",
            "HTTP://h:8080/x?y#z",
            "ftp://user@[::1]:21/f",
        ] {
            assert!(check_url(ok, SOURCE_URL_SCHEMES).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "https://x/a\nverify: ok",
            "https://x/a b",
            "file:///etc/passwd",
            "not a url",
            "https:///path",
            "https://user@/p",
            "",
        ] {
            assert!(check_url(bad, SOURCE_URL_SCHEMES).is_err(), "{bad:?}");
        }
    }

    fn json(v: impl Serialize) -> String {
        serde_json::to_string(&v).expect("serializes")
    }

    #[test]
    fn redaction_names_are_the_written_strings() {
        use RedactionChange::*;
        assert_eq!(json(RedactionStatus::NotRedacted), "\"not-redacted\"");
        assert_eq!(json(RedactionStatus::Redacted), "\"redacted\"");
        assert_eq!(json(RedactionStatus::Unknown), "\"unknown\"");
        for change in [Same, Gained, Lost, GainedAndLost, Moved] {
            assert_eq!(json(change), format!("\"{}\"", change.as_str()));
        }
        assert_eq!(json(GainedAndLost), "\"gained-and-lost\"");
        assert_eq!(
            RedactionChange::overall([Same, Gained, Moved, Lost]),
            GainedAndLost
        );
        assert_eq!(RedactionChange::overall([Same, Moved]), Moved);
        assert_eq!(RedactionChange::overall([]), Same);
        assert_eq!(
            format!("{:<14}|", RedactionStatus::Redacted),
            "redacted      |"
        );
    }

    #[test]
    fn free_texts_refuse_control_characters() {
        assert!(check_text("--publisher", "Cablegate Ärchive").is_ok());
        for bad in ["a\nb", "a\rb", "\u{1b}[31mred", "tab\there"] {
            assert!(check_text("--publisher", bad).is_err(), "{bad:?}");
        }
    }
}
