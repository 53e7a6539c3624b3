//! The filter of a selection: its criteria, their check, and how they are described.

use super::locate::ids_to_look_up;
use crate::bag::capture::IndexLine;
use crate::error::{Error, Result};
use serde::Serialize;

/// What cables to select. Every criterion given must hold; an empty filter selects every cable.
/// Text comparisons ignore ASCII case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// Only these reference ids: canonical or, once [`Filter::validated`] has added the
    /// canonical form, as published (`10EFTOLONDON16` finds `10LONDON16`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Sent from one of these origins (e.g. `Embassy Madrid`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Carries any of these tags (all of them with `all_tags`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// True: a cable must carry every tag of `tags`; false: any one of them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all_tags: bool,
    /// One of these classifications: the whole marking (`SECRET//NOFORN`) or its level (`SECRET`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classifications: Vec<String>,
    /// Created on or after this day (`YYYY-MM-DD`, inclusive); a cable with no date fails it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_from: Option<String>,
    /// Created on or before this day (`YYYY-MM-DD`, inclusive); a cable with no date fails it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_to: Option<String>,
    /// Released (its current capture) on or after this day (`YYYY-MM-DD`, inclusive); an undated one fails it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_from: Option<String>,
    /// Released (its current capture) on or before this day (`YYYY-MM-DD`, inclusive); an undated one fails it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_to: Option<String>,
    /// `redacted` or `not-redacted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction: Option<String>,
    /// Some(true): only partial extracts; Some(false): only whole cables; None: either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_extract: Option<bool>,
    /// A full-text query over subject and text (README.md, "Search"), answered by the search index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The facts of a cable that a filter looks at.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The cable's canonical reference id.
    pub id: &'a str,
    /// When it was sent (`YYYY-MM-DD...`, UTC); None when undated.
    pub created: Option<&'a str>,
    /// When its current capture was released (`YYYY-MM-DD`); None when undated.
    pub released: Option<&'a str>,
    /// Its classification as written; None when the page gives none.
    pub classification: Option<&'a str>,
    /// The sending post; None when unknown.
    pub origin: Option<&'a str>,
    /// Its TAGS, in page order.
    pub tags: &'a [String],
    /// `redacted` or `not-redacted`.
    pub redaction: &'a str,
    /// True when its text is only a partial extract.
    pub partial_extract: bool,
}

impl<'a> Facts<'a> {
    /// The facts of a cable's index line (its current capture).
    pub fn of(line: &'a IndexLine) -> Facts<'a> {
        Facts {
            id: &line.id,
            created: line.created.as_deref(),
            released: line.released.as_deref(),
            classification: line.classification.as_deref(),
            origin: line.origin.as_deref(),
            tags: &line.tags,
            redaction: &line.redaction.status,
            partial_extract: line.redaction.partial_extract,
        }
    }
}

fn is_day(s: &str) -> bool {
    s.len() == 10 && crate::time::normalize(s).as_deref() == Some(s)
}

/// The day (`YYYY-MM-DD`) of an RFC 3339 date or date-time.
fn day(s: &str) -> &str {
    s.get(..10).unwrap_or(s)
}

fn in_range(value: Option<&str>, from: &Option<String>, to: &Option<String>) -> bool {
    if from.is_none() && to.is_none() {
        return true;
    }
    let Some(v) = value.map(day) else {
        return false;
    };
    from.as_deref().is_none_or(|f| v >= f) && to.as_deref().is_none_or(|t| v <= t)
}

fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Filter {
    /// Checks the filter's values (dates, redaction status), normalizing ids to upper case.
    pub fn validated(mut self) -> Result<Filter> {
        for (name, value) in [
            ("created-from", &self.created_from),
            ("created-to", &self.created_to),
            ("released-from", &self.released_from),
            ("released-to", &self.released_to),
        ] {
            if let Some(v) = value
                && !is_day(v)
            {
                return Err(Error::Invalid(format!(
                    "--{name} {v:?}: expected a day as YYYY-MM-DD"
                )));
            }
        }
        if let Some(r) = &self.redaction
            && r != "redacted"
            && r != "not-redacted"
        {
            return Err(Error::Invalid(format!(
                "--redaction {r:?}: expected redacted or not-redacted"
            )));
        }
        if self.query.as_deref().is_some_and(|q| q.trim().is_empty()) {
            self.query = None;
        }
        // A cable asked for by its published id is found under its canonical id too.
        self.ids = self.ids.iter().flat_map(|id| ids_to_look_up(id)).collect();
        self.ids.retain(|i| !i.is_empty());
        self.ids.sort();
        self.ids.dedup();
        Ok(self)
    }

    /// True when the filter selects every cable.
    pub fn is_empty(&self) -> bool {
        self == &Filter::default()
    }

    /// Whether a cable passes every criterion but the full-text query (which the search index answers).
    pub fn matches(&self, f: &Facts<'_>) -> bool {
        (self.ids.is_empty() || self.ids.iter().any(|i| eq(i, f.id)))
            && (self.origins.is_empty()
                || f.origin
                    .is_some_and(|o| self.origins.iter().any(|x| eq(x, o))))
            && (self.tags.is_empty() || {
                let has = |t: &String| f.tags.iter().any(|x| eq(x, t));
                if self.all_tags {
                    self.tags.iter().all(has)
                } else {
                    self.tags.iter().any(has)
                }
            })
            && (self.classifications.is_empty()
                || f.classification.is_some_and(|c| {
                    let level = c.split("//").next().unwrap_or(c);
                    self.classifications
                        .iter()
                        .any(|x| eq(x, c) || eq(x, level))
                }))
            && in_range(f.created, &self.created_from, &self.created_to)
            && in_range(f.released, &self.released_from, &self.released_to)
            && self.redaction.as_deref().is_none_or(|r| r == f.redaction)
            && self.partial_extract.is_none_or(|p| p == f.partial_extract)
    }

    /// The filter in words, for READMEs: `all cables` or `origin is "Embassy London"; ...`.
    pub fn describe(&self) -> String {
        let quoted = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let range = |what: &str, from: &Option<String>, to: &Option<String>| match (from, to) {
            (None, None) => None,
            (Some(f), None) => Some(format!("{what} on or after {f}")),
            (None, Some(t)) => Some(format!("{what} on or before {t}")),
            (Some(f), Some(t)) => Some(format!("{what} from {f} to {t} (inclusive)")),
        };
        let mut parts = Vec::new();
        if !self.ids.is_empty() {
            parts.push(format!("id is one of {}", quoted(&self.ids)));
        }
        if !self.origins.is_empty() {
            parts.push(format!("origin is one of {}", quoted(&self.origins)));
        }
        if !self.tags.is_empty() {
            let how = if self.all_tags { "all" } else { "any" };
            parts.push(format!("tags include {how} of {}", quoted(&self.tags)));
        }
        if !self.classifications.is_empty() {
            parts.push(format!(
                "classification is one of {}",
                quoted(&self.classifications)
            ));
        }
        parts.extend(range("created", &self.created_from, &self.created_to));
        parts.extend(range("released", &self.released_from, &self.released_to));
        if let Some(r) = &self.redaction {
            parts.push(format!("redaction status is {r}"));
        }
        if let Some(p) = self.partial_extract {
            parts.push(format!("partial extract is {p}"));
        }
        if let Some(q) = &self.query {
            parts.push(format!("full text matches {q:?} (cablekeep search)"));
        }
        if parts.is_empty() {
            "all cables".to_string()
        } else {
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(tags: &'a [String]) -> Facts<'a> {
        Facts {
            id: "08MADRID1",
            created: Some("2008-03-04T10:00:00Z"),
            released: Some("2011-01-02"),
            classification: Some("SECRET//NOFORN"),
            origin: Some("Embassy Madrid"),
            tags,
            redaction: "redacted",
            partial_extract: false,
        }
    }

    #[test]
    fn every_criterion_must_hold() {
        let tags = vec!["PREL".to_string(), "SP".to_string()];
        let f = facts(&tags);
        assert!(Filter::default().matches(&f));
        let base = Filter {
            origins: vec!["embassy madrid".into()],
            tags: vec!["PGOV".into(), "SP".into()],
            classifications: vec!["SECRET".into()],
            created_from: Some("2008-03-04".into()),
            created_to: Some("2008-03-04".into()),
            redaction: Some("redacted".into()),
            ..Filter::default()
        };
        assert!(base.matches(&f));
        let all = Filter {
            all_tags: true,
            ..base.clone()
        };
        assert!(!all.matches(&f));
        let late = Filter {
            created_from: Some("2008-03-05".into()),
            ..base.clone()
        };
        assert!(!late.matches(&f));
        let other = Filter {
            partial_extract: Some(true),
            ..base
        };
        assert!(!other.matches(&f));
    }

    #[test]
    fn bad_dates_and_statuses_are_refused() {
        let bad = Filter {
            created_from: Some("2008-3-4".into()),
            ..Filter::default()
        };
        assert!(bad.validated().is_err());
        let bad = Filter {
            redaction: Some("maybe".into()),
            ..Filter::default()
        };
        assert!(bad.validated().is_err());
        assert_eq!(Filter::default().describe(), "all cables");
    }
}
