//! Upkeep of the store's search index: where it lies, whether it holds the latest versions,
//! its update (only the cables that changed) and its full build (in a locked temporary folder,
//! renamed into place: a killed build leaves the old index as it was), and the index of a
//! version that is not the latest, made for one run.

use super::build::engine_write;
use super::build::{Builder, Changes, Contents, delta};
use super::fields::{Fields, create_index, register_analyzers};
use super::{SearchIndex, Upkeep, caught};
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{LockWait, StoreLock};
use crate::progress::Progress;
use crate::query::select::{Keep, VersionRef};
use crate::scratch::{self, ScratchDir};
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tantivy::Index;

/// Where an index is kept: its folder, and the lock file beside it that its writers take.
#[derive(Debug, Clone)]
pub(super) struct Place {
    pub(super) dir: PathBuf,
    lock: PathBuf,
}

impl Place {
    fn in_folder(folder: PathBuf) -> Place {
        Place {
            dir: folder.join("search"),
            lock: folder.join("search.lock"),
        }
    }

    /// The place of an index at `dir` (the cache's), its lock beside it.
    pub(super) fn in_cache(dir: PathBuf) -> Place {
        Place {
            lock: dir.with_extension("lock"),
            dir,
        }
    }

    fn parent(&self) -> &Path {
        self.dir.parent().expect("an index folder has a parent")
    }
}

/// How the index is to be brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// Update it when it does not hold the latest versions.
    Current,
    /// Build it anew whatever it holds.
    Rebuilt,
}

impl SearchIndex {
    /// The folder of a store's search index: in its `.cablekeep/`, or for a remote store in
    /// the user's cache folder ([`Store::remote_cache_dir`]; a remote store without one gets an
    /// index for each run, and this names no folder of it).
    pub fn path_in(store: &Store) -> PathBuf {
        match store.remote_cache_dir() {
            Some(cache) if store.is_remote() => Place::in_folder(cache).dir,
            _ => Place::in_folder(store.root().join(".cablekeep")).dir,
        }
    }

    /// Where the index of a store that cannot be written is kept: under `$XDG_CACHE_HOME`
    /// (or `~/.cache`), in a folder named by a digest of the store's full path. None without
    /// either: a shared temporary folder is not trusted with an index that later runs reuse.
    pub fn cache_path(store: &Store) -> Option<PathBuf> {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        let root = std::fs::canonicalize(store.root()).ok()?;
        let key = crate::hash::sha256_hex(root.as_os_str().as_encoded_bytes());
        Some(
            cache
                .join("cablekeep")
                .join("search")
                .join(&key[..32])
                .join("search"),
        )
    }

    /// Opens the store's index of the latest version of every collection, bringing it up to
    /// date first: the cables of versions it does not hold are indexed, and only those that
    /// changed (by their index lines); an index that cannot be read, or of another layout, is
    /// built anew. A store that cannot be written keeps its index in the user's cache folder
    /// ([`SearchIndex::cache_path`]), or else one is made for this run.
    pub fn open(store: &Store, progress: &dyn Progress) -> Result<(SearchIndex, Upkeep)> {
        Self::open_wanting(store, Want::Current, progress)
    }

    /// [`SearchIndex::open`], building the index anew whatever it holds.
    pub fn rebuild(store: &Store, progress: &dyn Progress) -> Result<(SearchIndex, Upkeep)> {
        Self::open_wanting(store, Want::Rebuilt, progress)
    }

    pub(super) fn open_wanting(
        store: &Store,
        want: Want,
        progress: &dyn Progress,
    ) -> Result<(SearchIndex, Upkeep)> {
        let places: Vec<Place> = if store.is_remote() {
            // A remote store keeps its index in the user's cache folder, named by its address.
            store
                .remote_cache_dir()
                .map(Place::in_folder)
                .into_iter()
                .collect()
        } else {
            let in_store = Place::in_folder(store.root().join(".cablekeep"));
            let cached = Self::cache_path(store).map(Place::in_cache);
            std::iter::once(in_store).chain(cached).collect()
        };
        Self::open_at(store, &places, want, progress)
    }

    /// The index at the first of `places` that holds it or can be written, brought up to date;
    /// when none can, one made for this run.
    pub(super) fn open_at(
        store: &Store,
        places: &[Place],
        want: Want,
        progress: &dyn Progress,
    ) -> Result<(SearchIndex, Upkeep)> {
        for place in places {
            if let Some(opened) = try_place(store, place, want, progress)? {
                return Ok(opened);
            }
        }
        // Neither the store nor a cache can be written: an index for this run only.
        let tmp = tempfile::Builder::new()
            .prefix(crate::fsutil::TEMP_PREFIX)
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let started = Instant::now();
        let index = create_index(tmp.path()).map_err(engine_write)?;
        let cables = fill(&index, store, &latest_versions(store)?, progress)?;
        let mut opened = SearchIndex::from_index(index, tmp.path(), Some(store.clone()))?;
        opened._tmp = Some(tmp);
        let secs = started.elapsed().as_secs_f64();
        Ok((opened, Upkeep::Built { cables, secs }))
    }

    /// A temporary index of the cables of a version that `keep` selects (for a version that is
    /// not the latest), removed when it is dropped.
    pub fn temporary(
        store: &Store,
        version: &VersionRef,
        keep: Keep<'_>,
        progress: &dyn Progress,
    ) -> Result<SearchIndex> {
        let tmp = tempfile::Builder::new()
            .prefix(crate::fsutil::TEMP_PREFIX)
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let index = create_index(tmp.path()).map_err(engine_write)?;
        let mut builder = Builder::new(&index, true)?;
        builder.add_version(store, version, keep, progress)?;
        builder.commit(&Contents::of(std::slice::from_ref(version)))?;
        let mut opened = SearchIndex::from_index(index, tmp.path(), Some(store.clone()))?;
        opened._tmp = Some(tmp);
        Ok(opened)
    }
}

/// The index at `place`, brought up to date; None when the place cannot be written (nor
/// already holds the index wanted).
fn try_place(
    store: &Store,
    place: &Place,
    want: Want,
    progress: &dyn Progress,
) -> Result<Option<(SearchIndex, Upkeep)>> {
    // Each reading of an index that may be damaged is `caught`: a panic of the engine is a
    // failure like any other, and the index is then built anew.
    let open = |index| {
        caught(|| SearchIndex::from_index(index, &place.dir, Some(store.clone())))
            .and_then(Result::ok)
    };
    if want == Want::Current
        && let Some(index) = caught(|| open_holding(&place.dir, &Contents::of(&latest_versions(store).ok()?))).flatten()
        // Opening may fail when another run's rebuild swaps the folder at that moment: then
        // again, under the lock.
        && let Some(opened) = open(index)
    {
        return Ok(Some((opened, Upkeep::Current)));
    }
    // One writer at a time: another run may be updating it now; this one then waits, and
    // finds it current.
    let Ok(_lock) = StoreLock::acquire(&place.lock, LockWait::Wait) else {
        return Ok(None);
    };
    // The latest versions as they are now that no other run is writing (one may have added a
    // version while this one waited).
    let wanted = latest_versions(store)?;
    let started = Instant::now();
    if want == Want::Current {
        if let Some(index) = caught(|| open_holding(&place.dir, &Contents::of(&wanted))).flatten()
            && let Some(opened) = open(index)
        {
            return Ok(Some((opened, Upkeep::Current)));
        }
        // An index that cannot be updated (damaged segments) is built anew below.
        if let Some(index) = caught(|| open_index(&place.dir)).flatten()
            && let Some(Ok(changes)) = caught(|| update(&index, store, &wanted, progress))
            && let Some(opened) = open(index)
        {
            let secs = started.elapsed().as_secs_f64();
            return Ok(Some((opened, Upkeep::Updated { changes, secs })));
        }
    }
    let cables = match build_in_place(store, place, &wanted, progress) {
        Err(_cannot_write_here) => return Ok(None),
        Ok(built) => built?,
    };
    remove_old_catalog(place.parent());
    let index = open_index(&place.dir).ok_or_else(|| {
        Error::Invalid(format!(
            "the search index just built at {} cannot be opened",
            place.dir.display()
        ))
    })?;
    let opened = SearchIndex::from_index(index, &place.dir, Some(store.clone()))?;
    let secs = started.elapsed().as_secs_f64();
    Ok(Some((opened, Upkeep::Built { cables, secs })))
}

/// The latest version of every collection of the store.
fn latest_versions(store: &Store) -> Result<Vec<VersionRef>> {
    let mut wanted = Vec::new();
    for c in store.collections()? {
        if let Some(v) = store.latest(&c)? {
            wanted.push(VersionRef::read(store, &c, v)?);
        }
    }
    Ok(wanted)
}

/// Builds the index of `wanted` in a locked temporary folder beside `place` and renames it into
/// place. The outer error is "this place cannot be written" (the caller tries another place);
/// the inner one, a build that failed.
fn build_in_place(
    store: &Store,
    place: &Place,
    wanted: &[VersionRef],
    progress: &dyn Progress,
) -> std::result::Result<Result<usize>, Error> {
    let parent = place.parent();
    std::fs::create_dir_all(parent).at(parent)?;
    // What killed builds left (their lock went with them) is removed here.
    scratch::remove_abandoned(parent)?;
    let scratch = ScratchDir::create_in(parent)?;
    Ok((|| {
        let index = create_index(scratch.path()).map_err(engine_write)?;
        let cables = fill(&index, store, wanted, progress)?;
        drop(index);
        replace_folder(scratch, &place.dir)?;
        Ok(cables)
    })())
}

/// Puts the completed folder `built` at `dir`, moving the old one out of the way first (under a
/// scratch name, so that if this run dies before it is removed, the next build removes it).
fn replace_folder(built: ScratchDir, dir: &Path) -> Result<()> {
    let parent = dir.parent().expect("an index folder has a parent");
    let old = parent.join(format!("{}old-{}", scratch::PREFIX, std::process::id()));
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(dir, &old).at(dir)?;
    }
    built.publish(dir)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Indexes every cable of `wanted` into an empty index and commits.
fn fill(
    index: &Index,
    store: &Store,
    wanted: &[VersionRef],
    progress: &dyn Progress,
) -> Result<usize> {
    let mut builder = Builder::new(index, true)?;
    let mut cables = 0;
    for v in wanted {
        cables += builder.add_version(store, v, &|_| true, progress)?;
    }
    builder.commit(&Contents::of(wanted))?;
    Ok(cables)
}

/// Brings an index to `wanted`: collections gone are removed, and of each version it does not
/// hold, the cables it does not hold as they are are indexed again.
fn update(
    index: &Index,
    store: &Store,
    wanted: &[VersionRef],
    progress: &dyn Progress,
) -> Result<Changes> {
    let held = Contents::recorded(index)
        .map(|c| c.versions)
        .unwrap_or_default();
    let mut builder = Builder::new(index, false)?;
    let mut changes = Changes::default();
    for h in &held {
        if !wanted.iter().any(|w| w.collection == h.collection) {
            builder.remove_collection(&h.collection);
        }
    }
    for v in wanted {
        let same = held.iter().any(|h| {
            h.collection == v.collection
                && h.version == v.version
                && h.manifest_sha256 == v.manifest_sha256
        });
        if same {
            continue;
        }
        let d = delta(index, store, v)?;
        for id in d.gone.iter().chain(&d.changed) {
            builder.remove_cable(&v.collection, id);
        }
        changes.removed += d.gone.len();
        let keep = |l: &crate::bag::capture::IndexLine| d.changed.contains(&l.id);
        changes.indexed += builder.add_version(store, v, &keep, progress)?;
    }
    builder.commit(&Contents::of(wanted))?;
    Ok(changes)
}

/// The index at `dir`, when it can be opened and is of this layout.
fn open_index(dir: &Path) -> Option<Index> {
    if !dir.join("meta.json").is_file() {
        return None;
    }
    let index = Index::open_in_dir(dir).ok()?;
    Fields::of(&index.schema()).ok()?;
    Contents::recorded(&index)?;
    register_analyzers(&index);
    Some(index)
}

/// The index at `dir` when it holds exactly `expected`.
fn open_holding(dir: &Path, expected: &Contents) -> Option<Index> {
    let index = open_index(dir)?;
    (Contents::recorded(&index).as_ref() == Some(expected)).then_some(index)
}

/// Removes the SQLite catalog that releases before the search index kept in its place (a
/// cache of gigabytes at full scale that nothing reads any more).
fn remove_old_catalog(folder: &Path) {
    let _ = std::fs::remove_file(folder.join("catalog.sqlite"));
}
