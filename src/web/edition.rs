//! An edition: what every page of a web edition shows beside its own cable. The version and
//! its digests, the seal when there is one, the figures of the cables it holds, and a small
//! table of those cables (ids, paths, dates, subjects, facets) that lists, links and the search
//! page read. Built once per `site` or `serve`, from the index and one light pass over the
//! records (the published ids); nothing of a cable's text is held.

use super::history::History;
use super::paths;
use crate::error::Result;
use crate::progress::Progress;
use crate::query::select::{self, Keep, Need, Selected, VersionRef};
use crate::query::stats::Stats;
use crate::store::Store;
use std::collections::{HashMap, HashSet};

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
    /// Numbers of `cables` in order of their ids (the index is sorted by id, but a subset or a
    /// damaged index need not be).
    by_id: Vec<u32>,
}

/// What pages say about a version's seal.
pub struct SealFacts {
    /// The Merkle root over the version's payload manifest, lower-case hex.
    pub root: String,
    /// The seal files an edition carries (`seal/<collection>-v<N>.checkpoint`, its `.sig`s and
    /// `.tsr`), as the edition's paths and bytes.
    pub files: Vec<(String, Vec<u8>)>,
}

/// One cable of an edition, as lists, links and the search page show it. Held for every cable
/// of the edition (251,287 at full scale), so its strings are boxed (no spare capacity) and
/// its values are numbers.
#[derive(Debug, Clone)]
pub struct CableFacts {
    /// The canonical id.
    pub id: Box<str>,
    /// The id the cable was published under (its current capture's page gave it).
    pub published_id: Box<str>,
    /// The cable's page, relative to the edition's root ([`paths::cable_page`]).
    pub page: Box<str>,
    /// Pages that lead to `page` under the other ids the cable was published under (another
    /// capture's page gave another id) and its canonical id, so that every old link maps.
    pub aliases: Vec<String>,
    /// When the cable was sent (`YYYY-MM-DD...`), as the index gives it.
    pub created: Option<Box<str>>,
    /// Release date of the current capture.
    pub released: Option<Box<str>>,
    /// The subject, cut to 160 characters (with `…` when cut).
    pub subject: Option<Box<str>>,
    /// Index into [`Values::origins`].
    pub origin: Option<u32>,
    /// Index into [`Values::classifications`].
    pub classification: Option<u32>,
    /// Indexes into [`Values::tags`], distinct, ascending.
    pub tags: Box<[u32]>,
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
        let archive = store.open_zip(
            &version.collection,
            version.version,
            crate::bag::Reading::Index,
        )?;
        let mut stats = Stats {
            collection: version.collection.clone(),
            identifier: version.identifier.clone(),
            ..Stats::default()
        };
        let mut table = Table::with_capacity(if subset.is_none() {
            version.cables as usize
        } else {
            0
        });
        let need = Need {
            skip_text: true,
            sources: true,
            ..Need::default()
        };
        // Records are read (for the published ids) on the workers; facts are kept in order.
        let read = |cables: Vec<Selected>| -> Result<Vec<Selected>> { Ok(cables) };
        select::stream_mapped(&archive, keep, need, progress, &read, |chunks| {
            for cable in chunks.into_iter().flatten() {
                stats.add(&cable.line);
                table.add(cable);
            }
            Ok(())
        })?;
        let (cables, values) = table.finish();
        let mut by_id: Vec<u32> = (0..cables.len() as u32).collect();
        by_id.sort_unstable_by(|a, b| cables[*a as usize].id.cmp(&cables[*b as usize].id));
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
        let at = self
            .by_id
            .binary_search_by(|i| (*self.cables[*i as usize].id).cmp(id))
            .ok()?;
        let i = self.by_id[at] as usize;
        Some((i, &self.cables[i]))
    }
}

/// The values of one facet as they are met, each numbered once.
#[derive(Default)]
struct Interner {
    numbers: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(n) = self.numbers.get(name) {
            return *n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), n);
        n
    }

    /// The values sorted, with slugs, and each first number's place among them.
    fn finish(self) -> (Vec<Value>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut place = vec![0u32; order.len()];
        for (sorted, first) in order.iter().enumerate() {
            place[*first as usize] = sorted as u32;
        }
        let values = with_slugs(order.iter().map(|i| &*self.names[*i as usize]));
        (values, place)
    }
}

/// The edition's table as it is read: each cable's facts with its values numbered as met.
struct Table {
    cables: Vec<CableFacts>,
    origins: Interner,
    classifications: Interner,
    tags: Interner,
    /// The ids each cable was published under, the current capture's first, the canonical id
    /// last; only for the few cables with more than one.
    ids: HashMap<u32, Vec<String>>,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            cables: Vec::with_capacity(n),
            origins: Interner::default(),
            classifications: Interner::default(),
            tags: Interner::default(),
            ids: HashMap::new(),
        }
    }

    fn add(&mut self, c: Selected) {
        let value = |v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
        };
        let line = &c.line;
        let mut tags: Vec<u32> = line.tags.iter().map(|t| self.tags.number(t)).collect();
        tags.sort_unstable();
        tags.dedup();
        // The canonical id first when a capture was published under it (a page that garbled
        // the id is then the alias), else the current capture's id, then the others'.
        let mut ids = vec![c.published_id().to_string()];
        ids.extend(c.published_ids.iter().rev().cloned());
        if ids.contains(&line.id) {
            ids.insert(0, line.id.clone());
        } else {
            ids.push(line.id.clone());
        }
        let mut seen = HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        if ids.len() > 1 {
            self.ids.insert(self.cables.len() as u32, ids);
        }
        let origin = value(&line.origin).map(|o| self.origins.number(&o));
        let classification = value(&line.classification).map(|o| self.classifications.number(&o));
        self.cables.push(CableFacts {
            id: line.id.as_str().into(),
            published_id: c.published_id().into(),
            page: Box::from(""),
            aliases: Vec::new(),
            created: line.created.as_deref().map(Box::from),
            released: line.released.as_deref().map(Box::from),
            subject: line
                .subject
                .as_deref()
                .map(|s| cut_subject(s).into_boxed_str()),
            origin,
            classification,
            tags: tags.into_boxed_slice(),
            redacted: line.redaction.runs > 0,
            partial_extract: line.redaction.partial_extract,
        });
    }

    /// Numbers the values in sorted order and decides each cable's pages: the first of its
    /// ids (the canonical id when a capture was published under it, else the current capture's
    /// published id, then the other captures', the canonical id) that is plain and that no earlier cable (in index order) has taken names its page, the others
    /// its alias pages.
    fn finish(mut self) -> (Vec<CableFacts>, Values) {
        let (origins, origin_place) = self.origins.finish();
        let (classifications, class_place) = self.classifications.finish();
        let (tags, tag_place) = self.tags.finish();
        let mut pages: HashSet<String> = HashSet::new();
        for (i, c) in self.cables.iter_mut().enumerate() {
            c.origin = c.origin.map(|o| origin_place[o as usize]);
            c.classification = c.classification.map(|o| class_place[o as usize]);
            for t in c.tags.iter_mut() {
                *t = tag_place[*t as usize];
            }
            c.tags.sort_unstable();
            let ids = self
                .ids
                .remove(&(i as u32))
                .unwrap_or_else(|| vec![c.id.to_string()]);
            let created = c.created.as_deref();
            let mut free = ids
                .iter()
                .filter(|id| paths::is_page_id(id))
                .filter_map(|id| {
                    let page = paths::cable_page(created, id);
                    pages.insert(page.clone()).then_some(page)
                });
            // Canonical ids are plain and unique, so a cable whose every id is taken shares
            // its canonical id with another cable's published id: it gets a page of its own.
            let page = free
                .next()
                .unwrap_or_else(|| paths::cable_page(created, &format!("{}-cable", c.id)));
            c.aliases = free.collect();
            c.page = page.into_boxed_str();
        }
        let values = Values {
            origins,
            classifications,
            tags,
        };
        (self.cables, values)
    }
}

/// A subject cut to [`LIST_SUBJECT_CHARS`] characters, with `…` when cut.
fn cut_subject(s: &str) -> String {
    match s.char_indices().nth(LIST_SUBJECT_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
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

/// The seal facts of a sealed version; None when it is not sealed.
fn seal_facts(store: &Store, version: &VersionRef) -> Result<Option<SealFacts>> {
    let seal = crate::seal::seal_files(store, &version.collection, version.version)?;
    Ok(seal.map(|(root, files)| SealFacts { root, files }))
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
        let mut by_id: Vec<u32> = (0..cables.len() as u32).collect();
        by_id.sort_unstable_by(|a, b| cables[*a as usize].id.cmp(&cables[*b as usize].id));
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
