//! Upkeep of the store's catalog: where it lies, whether it is current, and its build in a
//! scratch file renamed into place (or in the user's cache, or for one run, when the store
//! cannot be written); also the temporary catalog of a version that is not the latest.

use super::writer::{DbWriter, add_archive};
use super::{Catalog, schema::CATALOG_SCHEMA, search};
use crate::bag::OpenArchive;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::progress::Progress;
use crate::query::select::{Keep, VersionRef};
use crate::store::Store;
use rusqlite::OptionalExtension;
use std::path::{Path, PathBuf};

/// A temporary file for a catalog being built in `dir`, locked while the build runs (see
/// [`crate::scratch`]): no store lock covers a catalog build, so a writer's recovery must not
/// take it for a dead writer's leftover, and what a killed build left is removed here, by the
/// next build, instead of lying in the store (it grows to gigabytes at full scale).
fn scratch_file_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::scratch::remove_abandoned(dir)?;
    Ok(crate::scratch::ScratchFile::create_in(dir)?.into_temp())
}
impl Catalog {
    /// Where a store keeps its catalog.
    pub fn path_in(store: &Store) -> PathBuf {
        store.root().join(".cablekeep").join("catalog.sqlite")
    }

    /// Opens the store's catalog, rebuilding it first when it does not index exactly the latest
    /// version of every collection (by their sidecar manifest digests). Returns the catalog and
    /// whether it was rebuilt.
    ///
    /// A store that cannot be written (read-only media, another user's store) still gets a
    /// catalog: kept in the user's cache folder ([`Catalog::cache_path`]) when there is one,
    /// else made for this run in a private temporary folder.
    pub fn open(store: &Store, progress: &dyn Progress) -> Result<(Catalog, bool)> {
        Self::open_in(
            store,
            &Self::path_in(store),
            Self::cache_path(store),
            progress,
        )
    }

    /// [`Catalog::open`] with the catalog's place in the store and in the cache chosen (tests).
    pub(super) fn open_in(
        store: &Store,
        path: &Path,
        cache: Option<PathBuf>,
        progress: &dyn Progress,
    ) -> Result<(Catalog, bool)> {
        let mut wanted = Vec::new();
        for c in store.collections()? {
            if let Some(v) = store.latest(&c)? {
                wanted.push(VersionRef::read(store, &c, v)?);
            }
        }
        if let Some(catalog) = Self::current(path, &wanted) {
            return Ok((catalog, false));
        }
        let dir = path.parent().expect("catalog path has a folder");
        if let Ok(tmp) = scratch_file_in(dir) {
            return Ok((Self::build(store, &wanted, tmp, path, progress)?, true));
        }
        if let Some(cache) = cache {
            if let Some(catalog) = Self::current(&cache, &wanted) {
                return Ok((catalog, false));
            }
            let dir = cache.parent().expect("catalog path has a folder");
            if let Ok(tmp) = scratch_file_in(dir) {
                return Ok((Self::build(store, &wanted, tmp, &cache, progress)?, true));
            }
        }
        let tmp = tempfile::Builder::new()
            .prefix(fsutil::TEMP_PREFIX)
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let path = tmp.path().join("catalog.sqlite");
        let file = fsutil::temp_file_in(tmp.path())?;
        let mut catalog = Self::build(store, &wanted, file, &path, progress)?;
        catalog._tmp = Some(tmp);
        Ok((catalog, true))
    }

    /// The catalog at `path`, when it indexes exactly `wanted`.
    fn current(path: &Path, wanted: &[VersionRef]) -> Option<Catalog> {
        let catalog = Catalog::open_file(path).ok()?;
        catalog.indexes(wanted).unwrap_or(false).then_some(catalog)
    }

    /// Builds the catalog of `wanted` in `tmp` and renames it to `path`.
    fn build(
        store: &Store,
        wanted: &[VersionRef],
        tmp: tempfile::NamedTempFile,
        path: &Path,
        progress: &dyn Progress,
    ) -> Result<Catalog> {
        let mut db = DbWriter::create(tmp.path())?;
        for v in wanted {
            let archive = OpenArchive::open_index(&store.zip_path(&v.collection, v.version))?;
            add_archive(&mut db, v, &archive, &|_| true, progress)?;
        }
        let meta = search::store_catalog_meta(&db, wanted)?;
        db.finish_then(&meta, search::write_search_data)?;
        fsutil::persist(tmp, path, fsutil::Existing::Replace)?;
        Catalog::open_file(path)
    }

    /// Where the catalog of a store that cannot be written is kept: under `$XDG_CACHE_HOME`
    /// (or `~/.cache`), in a folder named by a digest of the store's full path. None without
    /// either: a shared temporary folder is not trusted with a catalog that later runs reuse.
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
                .join("catalogs")
                .join(&key[..32])
                .join("catalog.sqlite"),
        )
    }

    /// A temporary catalog of the cables of a version that `keep` selects (for a version that is
    /// not the latest), removed when it is dropped.
    pub fn temporary(
        version: &VersionRef,
        archive: &OpenArchive,
        keep: Keep<'_>,
        progress: &dyn Progress,
    ) -> Result<Catalog> {
        let tmp = tempfile::Builder::new()
            .prefix(fsutil::TEMP_PREFIX)
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let path = tmp.path().join("catalog.sqlite");
        let mut db = DbWriter::create(&path)?;
        add_archive(&mut db, version, archive, keep, progress)?;
        let meta = search::row_ranges(&db, std::slice::from_ref(version))?;
        db.finish(&meta)?;
        let mut catalog = Catalog::open_file(&path)?;
        catalog._tmp = Some(tmp);
        Ok(catalog)
    }

    /// True when the catalog indexes exactly these versions.
    fn indexes(&self, wanted: &[VersionRef]) -> Result<bool> {
        let schema: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        if schema.as_deref() != Some(CATALOG_SCHEMA) {
            return Ok(false);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT collection, manifest_sha256 FROM versions ORDER BY collection")
            .map_err(|e| self.err(e))?;
        let have: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        let mut want: Vec<(String, String)> = wanted
            .iter()
            .map(|v| (v.collection.clone(), v.manifest_sha256.clone()))
            .collect();
        want.sort();
        // A catalog without what search keeps beside the index is rebuilt.
        let search_data = search::search_data_current(self, wanted).map_err(|e| self.err(e))?;
        Ok(have == want && search_data)
    }
}
