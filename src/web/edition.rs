//! An edition: what every page of a web edition shows beside its own cable. The version and
//! its digests, the seal when there is one, the figures of the cables it holds, and a small
//! table of those cables (ids, paths, dates, subjects, facets) that lists, links and the search
//! page read. Built once per `site` or `serve`, from the index and one light pass over the
//! records (the published ids); nothing of a cable's text is held.

use super::history::History;
use super::paths;
use crate::bag::OpenArchive;
use crate::bag::capture::IndexLine;
use crate::error::Result;
use crate::progress::Progress;
use crate::query::select::{self, Keep, Need, Selected, VersionRef};
use crate::query::stats::Stats;
use crate::seal::SealedVersion;
use crate::store::Store;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A subject is cut to this many characters in lists and the search page's table.
pub(crate) const LIST_SUBJECT_CHARS: usize = 160;

/// A web edition of a collection version: the facts every page needs.
pub struct Edition {
    /// The version the edition shows.
    pub version: VersionRef,
    /// Its seal, when the version is sealed: the checkpoint, signatures and tree (for proofs).
    pub seal: Option<SealFacts>,
    /// The figures of the cables the edition holds.
    pub stats: Stats,
    /// The cables the edition holds, in index (id) order.
    pub cables: Vec<CableFacts>,
    /// The values cables are listed by (origins, classifications, tags), with their slugs.
    pub values: Values,
    /// Each cable's history across the collection's versions.
    pub history: History,
    /// The filter an export of a subset chose, described (`export --format site`); None for a
    /// whole version.
    pub subset: Option<String>,
    /// Index into `cables` by canonical id.
    by_id: HashMap<String, u32>,
}

/// What pages say about a version's seal.
pub struct SealFacts {
    /// The Merkle root over the version's payload manifest, lower-case hex.
    pub root: String,
    /// The seal files an edition carries (`seal/<collection>-v<N>.checkpoint`, its `.sig`s and
    /// `.tsr`), as the edition's paths and bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// The sealed version, for each cable's proof.
    pub sealed: SealedVersion,
}

/// One cable of an edition, as lists, links and the search page show it.
#[derive(Debug, Clone)]
pub struct CableFacts {
    /// The canonical id.
    pub id: String,
    /// The id the cable was published under (its page's file name when it is plain).
    pub published_id: String,
    /// The cable's page, relative to the edition's root ([`paths::cable_page`]).
    pub page: String,
    /// Pages that lead to `page` under the other ids the cable was published under (another
    /// capture's page gave another id) and its canonical id, so that every old link maps.
    pub aliases: Vec<String>,
    /// When the cable was sent (`YYYY-MM-DD...`), as the index gives it.
    pub created: Option<String>,
    /// Release date of the current capture.
    pub released: Option<String>,
    /// The subject, cut to [`LIST_SUBJECT_CHARS`] characters.
    pub subject: Option<String>,
    /// Index into [`Values::origins`].
    pub origin: Option<u32>,
    /// Index into [`Values::classifications`].
    pub classification: Option<u32>,
    /// Indexes into [`Values::tags`], distinct.
    pub tags: Vec<u32>,
    /// True when the current capture carries redaction runs.
    pub redacted: bool,
    /// True when the current capture is a partial extract.
    pub partial_extract: bool,
}

/// The values cables are listed by, sorted, each with its slug (unique within its facet).
#[derive(Debug, Default)]
pub struct Values {
    /// Sending posts.
    pub origins: Vec<Value>,
    /// Classifications, the whole marking as written.
    pub classifications: Vec<Value>,
    /// Tags.
    pub tags: Vec<Value>,
}

/// A value and its slug in list paths.
#[derive(Debug, Clone)]
pub struct Value {
    /// The value as written.
    pub name: String,
    /// Its slug ([`paths::slug`], made unique with `-2`, `-3`...).
    pub slug: String,
}

impl Edition {
    /// The edition of `version` holding the cables `keep` selects. `subset` describes the
    /// filter for the pages (None for a whole version).
    pub fn build(
        store: &Store,
        version: VersionRef,
        keep: Keep<'_>,
        subset: Option<String>,
        progress: &dyn Progress,
    ) -> Result<Edition> {
        let archive =
            OpenArchive::open_index(&store.zip_path(&version.collection, version.version))?;
        let mut stats = Stats {
            collection: version.collection.clone(),
            identifier: version.identifier.clone(),
            ..Stats::default()
        };
        let mut rows: Vec<(CableFacts, Raw)> = Vec::new();
        let need = Need {
            skip_text: true,
            sources: true,
            ..Need::default()
        };
        let facts_of = |cables: Vec<Selected>| -> Result<Vec<(CableFacts, Raw, IndexLine)>> {
            Ok(cables.into_iter().map(raw_facts).collect())
        };
        select::stream_mapped(&archive, keep, need, progress, &facts_of, |chunks| {
            for (facts, raw, line) in chunks.into_iter().flatten() {
                stats.add(&line);
                rows.push((facts, raw));
            }
            Ok(())
        })?;
        let values = Values::of(&rows);
        let cables = assign(rows, &values);
        let by_id = cables
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i as u32))
            .collect();
        let history = History::build(store, &version, &cables, progress)?;
        let seal = seal_facts(store, &version)?;
        Ok(Edition {
            version,
            seal,
            stats,
            cables,
            values,
            history,
            subset,
            by_id,
        })
    }

    /// The cable with this canonical id, when the edition holds it.
    pub fn cable(&self, id: &str) -> Option<(usize, &CableFacts)> {
        let i = *self.by_id.get(id)? as usize;
        Some((i, &self.cables[i]))
    }
}

/// The facet values of a cable before they are numbered, and the ids it was published under.
struct Raw {
    ids: Vec<String>,
    origin: Option<String>,
    classification: Option<String>,
    tags: Vec<String>,
}

/// A selected cable's facts (its page not yet decided), its values, and its line for the stats.
fn raw_facts(c: Selected) -> (CableFacts, Raw, IndexLine) {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let mut tags = c.line.tags.clone();
    tags.sort();
    tags.dedup();
    let facts = CableFacts {
        id: c.line.id.clone(),
        published_id: c.published_id().to_string(),
        page: String::new(),
        aliases: Vec::new(),
        created: c.line.created.clone(),
        released: c.line.released.clone(),
        subject: c.line.subject.as_deref().map(cut_subject),
        origin: None,
        classification: None,
        tags: Vec::new(),
        redacted: c.line.redaction.runs > 0,
        partial_extract: c.line.redaction.partial_extract,
    };
    // The current capture's id first: its page is the cable's page when it can be.
    let mut ids = vec![c.published_id().to_string()];
    ids.extend(c.published_ids.iter().rev().cloned());
    ids.push(c.line.id.clone());
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let raw = Raw {
        ids,
        origin: nonempty(&c.line.origin),
        classification: nonempty(&c.line.classification),
        tags,
    };
    (facts, raw, c.line)
}

/// A subject cut to [`LIST_SUBJECT_CHARS`] characters, with `…` when cut.
fn cut_subject(s: &str) -> String {
    match s.char_indices().nth(LIST_SUBJECT_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

impl Values {
    fn of(rows: &[(CableFacts, Raw)]) -> Values {
        let mut origins = BTreeMap::new();
        let mut classifications = BTreeMap::new();
        let mut tags = BTreeMap::new();
        for (_, raw) in rows {
            if let Some(o) = &raw.origin {
                origins.insert(o.as_str(), ());
            }
            if let Some(c) = &raw.classification {
                classifications.insert(c.as_str(), ());
            }
            for t in &raw.tags {
                tags.insert(t.as_str(), ());
            }
        }
        Values {
            origins: with_slugs(origins.into_keys()),
            classifications: with_slugs(classifications.into_keys()),
            tags: with_slugs(tags.into_keys()),
        }
    }

    /// The index of `name` among `values` (sorted by name).
    fn position(values: &[Value], name: &str) -> Option<u32> {
        values
            .binary_search_by(|v| v.name.as_str().cmp(name))
            .ok()
            .map(|i| i as u32)
    }
}

/// Sorted values with unique slugs: a slug already taken gets `-2`, `-3`... in value order.
fn with_slugs<'a>(names: impl Iterator<Item = &'a str>) -> Vec<Value> {
    let mut taken: HashMap<String, u32> = HashMap::new();
    names
        .map(|name| {
            let base = paths::slug(name);
            let n = taken.entry(base.clone()).or_insert(0);
            *n += 1;
            let slug = if *n == 1 { base } else { format!("{base}-{n}") };
            Value {
                name: name.to_string(),
                slug,
            }
        })
        .collect()
}

/// Numbers each cable's values and decides its pages: the first of its ids (the current
/// capture's published id, the other captures', the canonical id) that is plain and that no
/// earlier cable (in id order) has taken names its page, the others its alias pages.
fn assign(rows: Vec<(CableFacts, Raw)>, values: &Values) -> Vec<CableFacts> {
    let mut pages: HashSet<String> = HashSet::new();
    rows.into_iter()
        .map(|(mut c, raw)| {
            c.origin = raw
                .origin
                .and_then(|o| Values::position(&values.origins, &o));
            c.classification = raw
                .classification
                .and_then(|o| Values::position(&values.classifications, &o));
            c.tags = raw
                .tags
                .iter()
                .filter_map(|t| Values::position(&values.tags, t))
                .collect();
            let mut free = raw
                .ids
                .iter()
                .filter(|id| paths::is_page_id(id))
                .filter_map(|id| {
                    let page = paths::cable_page(c.created.as_deref(), id);
                    pages.insert(page.clone()).then_some(page)
                });
            // Canonical ids are plain and unique, so a cable whose every id is taken shares
            // its canonical id with another cable's published id: it gets a page of its own.
            c.page = free.next().unwrap_or_else(|| {
                paths::cable_page(c.created.as_deref(), &format!("{}-cable", c.id))
            });
            c.aliases = free.collect();
            c
        })
        .collect()
}

/// The seal facts of a sealed version; None when it is not sealed.
fn seal_facts(store: &Store, version: &VersionRef) -> Result<Option<SealFacts>> {
    let Some(sealed) = crate::seal::for_export(store, &version.collection, version.version, false)?
    else {
        return Ok(None);
    };
    Ok(Some(SealFacts {
        root: sealed.root_hex(),
        files: sealed.export_files(),
        sealed,
    }))
}

#[cfg(test)]
impl Edition {
    /// An edition made of its parts, unsealed, for the pages' unit tests.
    pub(crate) fn of_parts(
        version: VersionRef,
        cables: Vec<CableFacts>,
        values: Values,
        history: History,
    ) -> Edition {
        let by_id = cables
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i as u32))
            .collect();
        Edition {
            version,
            seal: None,
            stats: Stats::default(),
            cables,
            values,
            history,
            subset: None,
            by_id,
        }
    }
}
