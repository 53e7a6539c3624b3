//! Drift: how the cable a link holds now differs from the archived capture, when the bytes
//! differ but the page still holds the same cable.

use super::checker::Target;
use super::state::{State, Verdict};
use crate::bag::OpenArchive;
use crate::cable::CableRecord;
use crate::cable::provenance::RedactionChange;
use serde::{Deserialize, Serialize};

/// Lines of changed text kept as a sample.
const SAMPLE_LINES: usize = 5;

/// What changed in a drifted cable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// `added`, `removed`, `moved` or `same`.
    pub redactions: String,
    /// Redaction runs in the archived capture's text.
    pub redaction_runs_archived: usize,
    /// Redaction runs in the text of the page as fetched now.
    pub redaction_runs_live: usize,
    /// True when the live text differs from the archived one at all.
    pub text_changed: bool,
    /// Lines of the live text the archived one lacks.
    pub lines_added: usize,
    /// Lines of the archived text the live one lacks.
    pub lines_removed: usize,
    /// A few changed lines, `+ ` or `- ` first.
    pub sample: Vec<String>,
    /// Metadata fields that differ.
    pub fields: Vec<String>,
}

impl Drift {
    /// One line for people, e.g. `redactions added (0 -> 7 runs); text changed (+7 -8 lines)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.redactions != "same" {
            parts.push(format!(
                "redactions {} ({} -> {} runs)",
                self.redactions, self.redaction_runs_archived, self.redaction_runs_live
            ));
        }
        if self.text_changed {
            parts.push(format!(
                "text changed (+{} -{} lines)",
                self.lines_added, self.lines_removed
            ));
        }
        if !self.fields.is_empty() {
            parts.push(format!("fields changed: {}", self.fields.join(", ")));
        }
        parts.join("; ")
    }
}

/// Compares the cable read from a live page with the archived record of `target`'s capture:
/// `equivalent` when text, redactions and metadata agree, else `drifted` with what changed.
pub(super) fn compare(archive: &OpenArchive, target: &Target, live: &CableRecord) -> Verdict {
    let archived = match crate::store::diff::load_record(archive, &target.capture) {
        Ok(r) => r.record,
        Err(e) => {
            return Verdict::failed(
                State::Unreachable,
                format!("the archived record cannot be read: {e}"),
            );
        }
    };
    let change = crate::store::diff::compare_records(&target.capture.name, &archived, "live", live);
    if !change.text_changed && change.fields.is_empty() && change.redaction == RedactionChange::Same
    {
        return Verdict::plain(State::Equivalent);
    }
    // The log says what the live page did to the redactions, not what the archive gained.
    let redactions = match change.redaction {
        RedactionChange::Gained => "added",
        RedactionChange::Lost => "removed",
        other => other.as_str(),
    };
    let drift = Drift {
        redactions: redactions.to_string(),
        redaction_runs_archived: change.redaction_runs_from,
        redaction_runs_live: change.redaction_runs_to,
        text_changed: change.text_changed,
        lines_added: change.lines_added,
        lines_removed: change.lines_removed,
        sample: crate::store::diff::changed_lines_sample(&archived.text, &live.text, SAMPLE_LINES),
        fields: change.fields.iter().map(|f| f.field.clone()).collect(),
    };
    Verdict {
        state: State::Drifted,
        drift: Some(drift),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_only_what_changed() {
        let drift = Drift {
            redactions: "added".to_string(),
            redaction_runs_archived: 0,
            redaction_runs_live: 7,
            text_changed: true,
            lines_added: 7,
            lines_removed: 8,
            sample: Vec::new(),
            fields: Vec::new(),
        };
        assert_eq!(
            drift.summary(),
            "redactions added (0 -> 7 runs); text changed (+7 -8 lines)"
        );
        let fields_only = Drift {
            redactions: "same".to_string(),
            text_changed: false,
            fields: vec!["subject".to_string(), "tags".to_string()],
            ..drift
        };
        assert_eq!(fields_only.summary(), "fields changed: subject, tags");
    }
}
