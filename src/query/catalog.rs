//! The catalog: a SQLite database (with an FTS5 full-text index) of the cables of archive
//! versions, for search and stats, and the writer of SQLite exports. The only module that uses
//! rusqlite.
//!
//! The store's catalog (`.cablekeep/catalog.sqlite`) indexes the latest version of every
//! collection. It is never the source of truth: it is rebuilt from the archives whenever the
//! sidecar manifest digests it was built from are not those of the latest versions, and deleting
//! it loses nothing. It is built in a temporary file and renamed into place.
//!
//! Tables (the same in SQLite exports): `meta`, `versions`, `cables`, `captures`, `sources`,
//! `tags`, `references`, `link_check_events` and the FTS5 table `cables_fts` over the subject
//! and text of `cables` (external content, so Datasette finds it). The store's catalog also has
//! what search ranks and filters from without touching those (`ranking_corpus`,
//! `ranking_terms`, `ranking_rows`; see "Ranking common words from stored postings" below),
//! laid out as `meta`'s `ranking` value says: a catalog laid out otherwise is rebuilt.

use crate::bag::OpenArchive;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::progress::Progress;
use crate::query::select::{self, Facts, Filter, Keep, Need, Selected, VersionRef};
use crate::store::Store;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params, types::Type};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The schema name kept in `meta`; a catalog with another one is rebuilt.
pub const CATALOG_SCHEMA: &str = "cablekeep-catalog/1";

const SCHEMA: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions (
    collection TEXT PRIMARY KEY, version INTEGER NOT NULL, identifier TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL, archive_sha256 TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE cables (
    pk INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL, published_id TEXT NOT NULL,
    created TEXT, released TEXT, classification TEXT, caveats TEXT, origin TEXT, subject TEXT,
    signers TEXT, redaction_status TEXT NOT NULL, redaction_runs INTEGER NOT NULL,
    partial_extract INTEGER NOT NULL, captures INTEGER NOT NULL, current_capture TEXT NOT NULL,
    publisher TEXT, source_url TEXT, upstream_url TEXT, text TEXT NOT NULL,
    UNIQUE (collection, id));
CREATE TABLE captures (
    collection TEXT NOT NULL, cable TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
    raw TEXT NOT NULL, record TEXT NOT NULL, input TEXT NOT NULL, bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL, sha512 TEXT NOT NULL, text_sha256 TEXT NOT NULL, format TEXT NOT NULL,
    released TEXT, site_build TEXT, retrieved TEXT, redaction_status TEXT NOT NULL,
    redaction_runs INTEGER NOT NULL, partial_extract INTEGER NOT NULL, is_current INTEGER NOT NULL,
    PRIMARY KEY (collection, cable, name));
CREATE TABLE sources (
    collection TEXT NOT NULL, cable TEXT NOT NULL, capture TEXT NOT NULL, publisher TEXT,
    url TEXT, released TEXT, released_original TEXT, upstream_url TEXT, site_build TEXT,
    retrieved TEXT, encoding TEXT, format TEXT, PRIMARY KEY (collection, cable, capture));
CREATE TABLE tags (
    collection TEXT NOT NULL, cable TEXT NOT NULL, position INTEGER NOT NULL, tag TEXT NOT NULL,
    PRIMARY KEY (collection, cable, position));
CREATE TABLE "references" (
    collection TEXT NOT NULL, cable TEXT NOT NULL, position INTEGER NOT NULL,
    reference TEXT NOT NULL, PRIMARY KEY (collection, cable, position));
CREATE TABLE link_check_events (
    cable TEXT NOT NULL, url TEXT NOT NULL, checked_at TEXT NOT NULL, state TEXT NOT NULL,
    http_status INTEGER, final_url TEXT, body_sha256 TEXT, memento TEXT);
CREATE INDEX tags_by_tag ON tags (tag);
CREATE INDEX cables_by_origin ON cables (origin);
CREATE INDEX references_by_reference ON "references" (reference);
CREATE VIRTUAL TABLE cables_fts USING fts5 (
    subject, text, content = 'cables', content_rowid = 'pk', tokenize = 'porter unicode61');
"#;

fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("SQLite: {e}"),
    }
}

/// Writes a new database (a catalog or a SQLite export) a batch of cables at a time, inside one
/// transaction, so that memory is bounded by the batch whatever the corpus. The statements and
/// their order are those of one pass over all cables, so the file is the same byte for byte.
pub struct DbWriter {
    conn: Connection,
    path: PathBuf,
}

impl DbWriter {
    /// Creates the tables in a new database at `path`.
    pub fn create(path: &Path) -> Result<DbWriter> {
        let err = |e| db_error(path, e);
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 4096;",
        )
        .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        // A larger page cache than the 2 MB default: far fewer pages spilled and read back
        // while the FTS index and the tables grow; the file's bytes do not depend on it.
        conn.execute_batch("PRAGMA cache_size = -32768; BEGIN")
            .map_err(err)?;
        Ok(DbWriter {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn insert_meta(&self, meta: &[(String, String)]) -> rusqlite::Result<()> {
        let mut m = self
            .conn
            .prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2)")?;
        m.execute(params!["schema", CATALOG_SCHEMA])?;
        for (k, v) in meta {
            m.execute(params![k, v])?;
        }
        Ok(())
    }

    /// Adds a version; its cables follow with [`DbWriter::add_cables`].
    pub fn add_version(&self, v: &VersionRef) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO versions VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    v.collection,
                    v.version,
                    v.identifier,
                    v.manifest_sha256,
                    v.archive_sha256,
                    v.created
                ],
            )
            .map_err(|e| db_error(&self.path, e))?;
        Ok(())
    }

    /// Adds cables of a collection (read with [`Need::sources`]).
    pub fn add_cables(&mut self, collection: &str, cables: &[Selected]) -> Result<()> {
        insert_cables(&self.conn, collection, cables).map_err(|e| db_error(&self.path, e))
    }

    /// Adds the `meta` rows (they may count the cables, so they come last; their row ids are
    /// those of rows added first, and VACUUM lays tables out whatever the order of writing),
    /// commits, optimizes the full-text index and compacts the file. The file is complete when
    /// this returns (no journal is left beside it).
    pub fn finish(self, meta: &[(String, String)]) -> Result<()> {
        self.finish_with(meta, false)
    }

    /// [`DbWriter::finish`] for a store's catalog: also writes what search ranks common words
    /// from (see [`write_ranking_data`]), recorded in `meta` as [`RANKING_LAYOUT`].
    fn finish_catalog(self, meta: &[(String, String)]) -> Result<()> {
        let mut meta = meta.to_vec();
        meta.push((RANKING_KEY.into(), RANKING_LAYOUT.into()));
        self.finish_with(&meta, true)
    }

    fn finish_with(self, meta: &[(String, String)], ranking_data: bool) -> Result<()> {
        let err = |e| db_error(&self.path, e);
        self.insert_meta(meta).map_err(err)?;
        self.conn.execute_batch("COMMIT").map_err(err)?;
        self.conn
            .execute_batch("INSERT INTO cables_fts (cables_fts) VALUES ('optimize')")
            .map_err(err)?;
        if ranking_data {
            let sizes = RankingSizes {
                min_rows: RANKED_TERM_MIN_ROWS,
                best_rows: BEST_ROWS_PER_TERM,
            };
            write_ranking_data(&self.conn, &self.path, sizes).map_err(err)?;
        }
        // VACUUM copies the file page by page in order: it gains nothing from the large
        // cache the build used, which it would otherwise take again for the copy, at the
        // build's peak.
        self.conn
            .execute_batch("PRAGMA cache_size = -2048; VACUUM")
            .map_err(err)?;
        self.conn.close().map_err(|(_, e)| err(e))
    }
}

/// Streams the cables of a version that `keep` selects into a database.
pub fn add_archive(
    db: &mut DbWriter,
    version: &VersionRef,
    archive: &OpenArchive,
    keep: Keep<'_>,
    progress: &dyn Progress,
) -> Result<usize> {
    db.add_version(version)?;
    let need = Need {
        bytes: false,
        sources: true,
    };
    progress.start("indexing", version.cables);
    let n = select::stream(archive, keep, need, progress, |batch| {
        db.add_cables(&version.collection, &batch)
    });
    progress.finish();
    n
}

fn insert_cables(conn: &Connection, c: &str, batch: &[Selected]) -> rusqlite::Result<()> {
    let mut cables = conn.prepare_cached(
        "INSERT INTO cables (collection, id, published_id, created, released, classification,
         caveats, origin, subject, signers, redaction_status, redaction_runs, partial_extract,
         captures, current_capture, publisher, source_url, upstream_url, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
         ?19)",
    )?;
    let mut fts =
        conn.prepare_cached("INSERT INTO cables_fts (rowid, subject, text) VALUES (?1, ?2, ?3)")?;
    let mut captures = conn.prepare_cached(
        "INSERT INTO captures VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
         ?15, ?16, ?17, ?18, ?19)",
    )?;
    let mut sources = conn.prepare_cached(
        "INSERT INTO sources VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut tags = conn.prepare_cached("INSERT INTO tags VALUES (?1, ?2, ?3, ?4)")?;
    let mut refs = conn.prepare_cached("INSERT INTO \"references\" VALUES (?1, ?2, ?3, ?4)")?;
    for cable in batch {
        let line = &cable.line;
        let r = &cable.record;
        cables.execute(params![
            c,
            line.id,
            cable.published_id(),
            r.created,
            r.released,
            r.classification,
            r.caveats.join("; "),
            r.origin,
            r.subject,
            r.signers.join("; "),
            r.redaction.status,
            r.redaction.runs as i64,
            r.redaction.partial_extract,
            line.captures.len() as i64,
            r.capture.name,
            r.source.publisher,
            r.source.url,
            r.source.upstream_url,
            r.text,
        ])?;
        let pk = conn.last_insert_rowid();
        fts.execute(params![pk, r.subject, r.text])?;
        for (i, t) in r.tags.iter().enumerate() {
            tags.execute(params![c, line.id, i as i64, t])?;
        }
        for (i, x) in r.references.iter().enumerate() {
            refs.execute(params![c, line.id, i as i64, x])?;
        }
        let n = line.captures.len();
        for (i, (cap, s)) in line.captures.iter().zip(&cable.sources).enumerate() {
            captures.execute(params![
                c,
                line.id,
                i as i64,
                cap.name,
                cap.raw,
                cap.record,
                cap.input,
                cap.bytes as i64,
                cap.sha256,
                cap.sha512,
                cap.text_sha256,
                cap.format,
                cap.released,
                cap.site_build,
                cap.retrieved,
                cap.redaction.status,
                cap.redaction.runs as i64,
                cap.redaction.partial_extract,
                i + 1 == n,
            ])?;
            sources.execute(params![
                c,
                line.id,
                cap.name,
                s.publisher,
                s.url,
                s.released,
                s.released_original,
                s.upstream_url,
                s.site_build,
                s.retrieved,
                s.encoding,
                s.format.map(|f| f.as_str()),
            ])?;
        }
    }
    Ok(())
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub collection: String,
    pub id: String,
    /// FTS5's bm25 rank: lower is better.
    pub score: f64,
    pub subject: Option<String>,
    pub created: Option<String>,
    pub origin: Option<String>,
    pub classification: Option<String>,
    /// The best matching passage, matches in `[` `]`.
    pub snippet: String,
}

/// An open catalog (read only).
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
    /// The temporary folder of a catalog made for one run, removed when it is dropped.
    _tmp: Option<tempfile::TempDir>,
    /// Whether the catalog has `ranking_rows` (a store's catalog has; a temporary one or an
    /// export does not), asked once.
    has_ranking_rows: std::cell::OnceCell<bool>,
}

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
    fn open_in(
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
        let meta = row_ranges(&db, wanted)?;
        db.finish_catalog(&meta)?;
        fsutil::persist(tmp, path, false)?;
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

    /// The file the catalog was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a catalog or SQLite export file read only.
    pub fn open_file(path: &Path) -> Result<Catalog> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_error(path, e))?;
        Ok(Catalog {
            conn,
            path: path.to_path_buf(),
            _tmp: None,
            has_ranking_rows: std::cell::OnceCell::new(),
        })
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
        let meta = row_ranges(&db, std::slice::from_ref(version))?;
        db.finish(&meta)?;
        let mut catalog = Catalog::open_file(&path)?;
        catalog._tmp = Some(tmp);
        Ok(catalog)
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
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
        // A catalog without recorded row ranges is rebuilt: without them every search of a
        // collection would count its rows first (see docs/PERFORMANCE.md, "Search").
        let ranges_known = wanted
            .iter()
            .map(|v| self.recorded_rows(&v.collection))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?
            .iter()
            .all(Option::is_some);
        // A catalog without stored postings of common words is rebuilt: without them a common
        // word is ranked by FTS5's bm25() on every matching row.
        let ranking: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [RANKING_KEY],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(have == want && ranges_known && ranking.as_deref() == Some(RANKING_LAYOUT))
    }

    /// The versions the catalog indexes.
    pub fn versions(&self) -> Result<Vec<(String, u32, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT collection, version, identifier FROM versions ORDER BY collection")
            .map_err(|e| self.err(e))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Full-text search: hits best first (bm25, then collection and id), that pass `filter`'s
    /// other criteria, at most `limit` of them. The query is FTS5 syntax (`"a phrase"`, `a OR b`,
    /// `NEAR(a b)`, `prefix*`); a query that is not valid FTS5 is searched as plain words.
    pub fn search(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        check_query(query)?;
        match self.search_raw(query, collection, filter, limit) {
            Ok(hits) => Ok(hits),
            Err(first) => {
                let quoted = quote_words(query);
                if quoted.is_empty() || quoted == query {
                    return Err(self.query_error(query, first));
                }
                self.search_raw(&quoted, collection, filter, limit)
                    .map_err(|_| self.query_error(query, first))
            }
        }
    }

    /// The catalog rows of a collection as a range, when they are contiguous (they are as the
    /// catalog is built, one collection after the other), so the full-text index can be asked
    /// for that collection's best matches alone.
    fn contiguous_rows(&self, collection: &str) -> rusqlite::Result<Option<(i64, i64)>> {
        if let Some(range) = self.recorded_rows(collection)? {
            return Ok(Some(range));
        }
        count_contiguous_rows(&self.conn, collection)
    }

    /// The row range of a collection recorded in `meta` when the catalog was built.
    fn recorded_rows(&self, collection: &str) -> rusqlite::Result<Option<(i64, i64)>> {
        let value: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([rows_key(collection)], |r| r.get(0))
            .optional()?;
        Ok(value.and_then(|v| {
            let (first, last) = v.split_once(' ')?;
            Some((first.parse().ok()?, last.parse().ok()?))
        }))
    }
}

/// The `meta` key under which a collection's row range is recorded.
fn rows_key(collection: &str) -> String {
    format!("rows {collection}")
}

/// The `meta` rows recording each collection's row range (`first last`), when its rows are
/// contiguous (they are, as a catalog is written one collection after the other).
fn row_ranges(db: &DbWriter, versions: &[VersionRef]) -> Result<Vec<(String, String)>> {
    let mut meta = Vec::new();
    for v in versions {
        let range =
            count_contiguous_rows(&db.conn, &v.collection).map_err(|e| db_error(&db.path, e))?;
        if let Some((first, last)) = range {
            meta.push((rows_key(&v.collection), format!("{first} {last}")));
        }
    }
    Ok(meta)
}

/// The catalog rows of a collection as a range, when they are contiguous, found by counting
/// them (a scan of the collection's index entries).
fn count_contiguous_rows(
    conn: &Connection,
    collection: &str,
) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.prepare_cached("SELECT min(pk), max(pk), count(*) FROM cables WHERE collection = ?1")?
        .query_row([collection], |r| {
            let (first, last, n): (Option<i64>, Option<i64>, i64) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(match (first, last) {
                (Some(a), Some(b)) if b - a + 1 == n => Some((a, b)),
                _ => None,
            })
        })
}

/// A match of the full-text query: its catalog row and bm25 score (lower is better).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ranked {
    pk: i64,
    score: f64,
}

/// The ranking order of [`Catalog::rank`]: score, then catalog row. Scores compare as SQLite
/// compares them (bm25 is never NaN).
fn by_score_then_row(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    a.score
        .partial_cmp(&b.score)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.pk.cmp(&b.pk))
}

/// Below this many catalog rows per worker, ranking stays on one thread (a second connection
/// and thread cost more than they save).
const ROWS_PER_WORKER: i64 = 20_000;

/// How many of the best matches are first checked against a filter, per hit wanted, and at
/// least: a filter that lets one match in 64 through finds its hits there.
const FILTERED_CANDIDATES_PER_HIT: usize = 64;
const MIN_FILTERED_CANDIDATES: usize = 4096;

/// The same for matches ranked from stored postings, tried first: keeping the best 4096 of a
/// common word's matches in order takes twice as long as ranking them for 20 hits, and
/// filters such as a common tag (one cable in nine) find their hits among far fewer.
const STORED_CANDIDATES_PER_HIT: usize = 16;
const MIN_STORED_CANDIDATES: usize = 256;

/// How many of the best matches each try of [`Catalog::filtered`] ranks; the last try, all.
/// Most searches find their hits among the best few thousand matches: FTS5 then keeps only
/// those in a small heap instead of sorting every match (it computes every match's score
/// whatever the number kept, so it takes many at once); from stored postings a few hundred are
/// tried first.
fn candidate_tries(limit: usize, first: Option<usize>, stored: bool) -> Vec<Option<usize>> {
    let per_hit = |per, min| Some(limit.saturating_mul(per).max(min));
    match (first, stored) {
        (Some(first), _) => vec![Some(first), None],
        (None, false) => vec![
            per_hit(FILTERED_CANDIDATES_PER_HIT, MIN_FILTERED_CANDIDATES),
            None,
        ],
        (None, true) => vec![
            per_hit(STORED_CANDIDATES_PER_HIT, MIN_STORED_CANDIDATES),
            per_hit(FILTERED_CANDIDATES_PER_HIT, MIN_FILTERED_CANDIDATES),
            None,
        ],
    }
}

/// Below this many hits, their snippets are made on one thread.
const MIN_SNIPPETS_TO_SHARE: usize = 8;

/// The best matching passage of one cable, matches in `[` `]`.
fn snippet(conn: &Connection, query: &str, pk: i64) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare_cached(
        "SELECT snippet(cables_fts, -1, '[', ']', '...', 16) FROM cables_fts
         WHERE cables_fts MATCH ?1 AND rowid = ?2",
    )?;
    let s: Option<Option<String>> = stmt
        .query_row(params![query, pk], |r| r.get(0))
        .optional()?;
    Ok(s.flatten().unwrap_or_default())
}

/// A second connection to a catalog, for another thread.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// The ranking of one slice of the catalog's rows.
const RANK_SQL: &str = "SELECT rowid, bm25(cables_fts) AS score FROM cables_fts
     WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3
     ORDER BY score, rowid LIMIT ?4";

/// Ranks the matches among rows `first..=last` on `conn`: all of them, or the best `limit`.
fn rank_rows(
    conn: &Connection,
    query: &str,
    (first, last): (i64, i64),
    limit: Option<usize>,
) -> rusqlite::Result<Vec<Ranked>> {
    let sql_limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    conn.prepare_cached(RANK_SQL)?
        .query_map(params![query, first, last, sql_limit], |r| {
            Ok(Ranked {
                pk: r.get(0)?,
                score: r.get(1)?,
            })
        })?
        .collect()
}

/// `first..=last` cut into `parts` contiguous slices (fewer when it is shorter).
fn split_rows((first, last): (i64, i64), parts: usize) -> Vec<(i64, i64)> {
    let len = i128::from(last) - i128::from(first) + 1;
    let parts = i128::try_from(parts.max(1)).unwrap_or(1).min(len.max(1));
    (0..parts)
        .map(|i| {
            let start = i128::from(first) + len * i / parts;
            let end = i128::from(first) + len * (i + 1) / parts - 1;
            // Both lie within first..=last, so they fit.
            (
                i64::try_from(start).unwrap_or(first),
                i64::try_from(end).unwrap_or(last),
            )
        })
        .collect()
}

/// How a search is run, where the defaults are not wanted (tests).
#[derive(Debug, Clone, Copy, Default)]
struct Tuning {
    /// Threads that rank (default: one per core, see [`Catalog::workers_for`]).
    workers: Option<usize>,
    /// Matches first checked against a filter (default: see [`candidate_tries`]).
    first_candidates: Option<usize>,
    /// Rank every match with FTS5's bm25(), never from stored postings (see
    /// [`Catalog::rank_stored`]).
    fts_only: bool,
}

/// How the matches are ranked: from stored postings when the query allows it, else by FTS5 on
/// this many threads.
#[derive(Debug, Clone, Copy)]
struct Ranker<'q> {
    stored: Option<&'q StoredQuery>,
    workers: usize,
}

/// The cable row of a ranked match, with what the filter looks at.
struct Candidate {
    pk: i64,
    hit: Hit,
    released: Option<String>,
    redaction: String,
    partial_extract: bool,
    /// Its tags, when read with the row (from `ranking_rows`).
    tags: Option<Vec<String>>,
}

impl Catalog {
    fn query_error(&self, query: &str, e: rusqlite::Error) -> Error {
        Error::Invalid(format!("search query {query:?}: {e}"))
    }

    /// How many threads rank a slice of `rows` each: one per core, each with at least
    /// [`ROWS_PER_WORKER`] rows.
    fn workers_for((first, last): (i64, i64)) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let rows = (i128::from(last) - i128::from(first) + 1).max(0);
        let by_rows = usize::try_from(rows / i128::from(ROWS_PER_WORKER)).unwrap_or(usize::MAX);
        cores.min(by_rows).clamp(1, 8)
    }

    /// The matches among `rows` in ranking order (score, then row): all, or the best `limit`.
    /// From stored postings when the query's words allow it ([`Catalog::rank_stored`]), else by
    /// FTS5 ([`Catalog::rank_fts`]); both give the same matches and scores, in the same order.
    fn rank(
        &self,
        query: &str,
        rows: (i64, i64),
        limit: Option<usize>,
        ranker: Ranker<'_>,
    ) -> rusqlite::Result<Vec<Ranked>> {
        if let Some(q) = ranker.stored
            && let Some(ranked) = self.rank_stored(q, rows, limit)?
        {
            return Ok(ranked);
        }
        self.rank_fts(query, rows, limit, ranker.workers)
    }

    /// The matches among `rows` in ranking order, ranked by FTS5.
    ///
    /// FTS5 computes bm25 for every match before it can sort, so a word found in most cables
    /// costs a score per cable (docs/PERFORMANCE.md, "Search"). The rows are cut into
    /// slices ranked side by side, each on its own connection. A match's score does not depend
    /// on the slice (bm25 takes the corpus statistics from the whole index), so the best
    /// `limit` of the merged slices are the best `limit` of the whole, in the same order.
    fn rank_fts(
        &self,
        query: &str,
        rows: (i64, i64),
        limit: Option<usize>,
        workers: usize,
    ) -> rusqlite::Result<Vec<Ranked>> {
        let slices = split_rows(rows, workers);
        let Some((mine, others)) = slices.split_first() else {
            return Ok(Vec::new());
        };
        let path = self.path.as_path();
        let mut ranked = std::thread::scope(|s| {
            let handles: Vec<_> = others
                .iter()
                .map(|&slice| {
                    s.spawn(move || rank_rows(&open_read_only(path)?, query, slice, limit))
                })
                .collect();
            let mut all = rank_rows(&self.conn, query, *mine, limit)?;
            for h in handles {
                let part = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                all.extend(part);
            }
            Ok::<_, rusqlite::Error>(all)
        })?;
        ranked.sort_by(by_score_then_row);
        if let Some(limit) = limit {
            ranked.truncate(limit);
        }
        Ok(ranked)
    }

    /// The cable row of a ranked match (`None` if it has none, which a catalog never has):
    /// from `ranking_rows` with its tags where the catalog has it, else from `cables`.
    fn candidate(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        match self.has_ranking_rows()? {
            true => self.ranking_row(m),
            false => self.cable_row(m),
        }
    }

    /// [`Catalog::candidate`] from `cables`, without its tags.
    fn cable_row(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        self.candidate_from(
            "SELECT collection, id, subject, created, origin, classification, released,
                    redaction_status, partial_extract
             FROM cables WHERE pk = ?1",
            m,
            false,
        )
    }

    /// [`Catalog::candidate`] from `ranking_rows`, with its tags.
    fn ranking_row(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        self.candidate_from(
            "SELECT collection, id, subject, created, origin, classification, released,
                    redaction_status, partial_extract, tags
             FROM ranking_rows WHERE pk = ?1",
            m,
            true,
        )
    }

    /// The candidate that `sql` reads for row `m.pk`: nine columns as [`Catalog::cable_row`]
    /// names them, then, `with_tags`, the tags as a JSON array.
    fn candidate_from(
        &self,
        sql: &str,
        m: Ranked,
        with_tags: bool,
    ) -> rusqlite::Result<Option<Candidate>> {
        self.conn
            .prepare_cached(sql)?
            .query_row([m.pk], |row| {
                let tags = match with_tags {
                    false => None,
                    true => {
                        let json: String = row.get(9)?;
                        Some(serde_json::from_str(&json).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(9, Type::Text, Box::new(e))
                        })?)
                    }
                };
                Ok(Candidate {
                    pk: m.pk,
                    hit: Hit {
                        collection: row.get(0)?,
                        id: row.get(1)?,
                        score: m.score,
                        subject: row.get(2)?,
                        created: row.get(3)?,
                        origin: row.get(4)?,
                        classification: row.get(5)?,
                        snippet: String::new(),
                    },
                    released: row.get(6)?,
                    redaction: row.get(7)?,
                    partial_extract: row.get(8)?,
                    tags,
                })
            })
            .optional()
    }

    fn has_ranking_rows(&self) -> rusqlite::Result<bool> {
        if let Some(&known) = self.has_ranking_rows.get() {
            return Ok(known);
        }
        let known = self.has_table("ranking_rows")?;
        Ok(*self.has_ranking_rows.get_or_init(|| known))
    }

    /// Whether a candidate is in the collection searched and passes the filter's criteria.
    fn passes(
        &self,
        c: &Candidate,
        collection: Option<&str>,
        filter: &Filter,
    ) -> rusqlite::Result<bool> {
        if collection.is_some_and(|want| want != c.hit.collection) {
            return Ok(false);
        }
        let fetched;
        let tags: &[String] = match &c.tags {
            _ if filter.tags.is_empty() => &[],
            Some(tags) => tags,
            None => {
                fetched = self.tags_of(&c.hit.collection, &c.hit.id)?;
                &fetched
            }
        };
        let facts = Facts {
            id: &c.hit.id,
            created: c.hit.created.as_deref(),
            released: c.released.as_deref(),
            classification: c.hit.classification.as_deref(),
            origin: c.hit.origin.as_deref(),
            tags,
            redaction: &c.redaction,
            partial_extract: c.partial_extract,
        };
        Ok(filter.matches(&facts))
    }

    /// Ranks the matches without their snippets, then makes snippets for the hits only: a
    /// snippet re-reads its cable's text, so making one for every match (thousands for a common
    /// word) before sorting would be most of a search's time.
    ///
    /// Hits come best first by score, then collection and id. When every match of the searched
    /// rows is a candidate, only the best `limit` by score and row are ranked (rows tied on the
    /// score at the cut are taken in catalog order). Otherwise the matches are read in ranking
    /// order and checked one by one, until `limit` pass and the next one scores worse: that
    /// gives the head of the ordering of all the matches that pass, without reading the cable
    /// row of every match.
    fn search_raw(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> rusqlite::Result<Vec<Hit>> {
        self.search_with(query, collection, filter, limit, Tuning::default())
    }

    /// [`Catalog::search_raw`] with the number of ranking threads and of candidates first
    /// checked against a filter chosen (tests).
    fn search_with(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
        tuning: Tuning,
    ) -> rusqlite::Result<Vec<Hit>> {
        // One read transaction for the whole search: otherwise each statement takes and
        // releases the file's shared lock and checks that the file has not changed (a read and
        // an fstat), a third of the cost of checking a match against a filter.
        let _read = self.conn.unchecked_transaction()?;
        let filter = Filter {
            query: None,
            ..filter.clone()
        };
        let (rows, all_rows_wanted) = match collection {
            Some(c) => match self.contiguous_rows(c)? {
                Some(range) => (range, filter.is_empty()),
                None => (self.all_rows()?, false),
            },
            None => (self.all_rows()?, filter.is_empty()),
        };
        let stored = match tuning.fts_only {
            true => None,
            false => match self.word_plan(query)? {
                WordPlan::NoMatch => return Ok(Vec::new()),
                WordPlan::Stored(q) => Some(q),
                WordPlan::Fts => None,
            },
        };
        let ranker = Ranker {
            stored: stored.as_ref(),
            workers: tuning.workers.unwrap_or_else(|| Self::workers_for(rows)),
        };
        let mut hits: Vec<Candidate> = Vec::new();
        if all_rows_wanted {
            for m in self.rank(query, rows, Some(limit), ranker)? {
                hits.extend(self.candidate(m)?);
            }
        } else {
            let tries = candidate_tries(limit, tuning.first_candidates, stored.is_some());
            hits = self.filtered(query, rows, collection, &filter, limit, &tries, ranker)?;
        }
        hits.sort_by(|a, b| {
            a.hit
                .score
                .partial_cmp(&b.hit.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.hit.collection.cmp(&b.hit.collection))
                .then_with(|| a.hit.id.cmp(&b.hit.id))
        });
        hits.truncate(limit);
        let pks: Vec<i64> = hits.iter().map(|c| c.pk).collect();
        let stored_query = stored.as_ref().map(StoredQuery::as_fts5);
        let snippet_query = snippet_query(stored_query.as_deref().unwrap_or(query))?;
        let mut snippets = self.snippets(&snippet_query, &pks)?;
        Ok(hits
            .into_iter()
            .map(|c| Hit {
                snippet: snippets.remove(&c.pk).unwrap_or_default(),
                ..c.hit
            })
            .collect())
    }

    /// The matches that are in the collection and pass the filter, read in ranking order until
    /// `limit` pass and the next match scores worse than the last of them. The best
    /// `candidates` matches of each try are ranked (the last try ranks all) until that happens;
    /// a try goes on from where the one before stopped, as the best `n` matches begin with the
    /// best `m < n`.
    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &self,
        query: &str,
        rows: (i64, i64),
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
        tries: &[Option<usize>],
        ranker: Ranker<'_>,
    ) -> rusqlite::Result<Vec<Candidate>> {
        let mut hits = Vec::new();
        let mut checked = 0;
        let mut cut: Option<f64> = None;
        for &candidates in tries {
            let ranked = self.rank(query, rows, candidates, ranker)?;
            let all_seen = candidates.is_none_or(|n| ranked.len() < n);
            for m in ranked.into_iter().skip(checked) {
                checked += 1;
                if cut.is_some_and(|worst| m.score > worst) {
                    return Ok(hits);
                }
                let Some(c) = self.candidate(m)? else {
                    continue;
                };
                if self.passes(&c, collection, filter)? {
                    hits.push(c);
                    if hits.len() == limit {
                        cut = Some(m.score);
                    }
                }
            }
            if all_seen || limit == 0 {
                break;
            }
        }
        Ok(hits)
    }

    /// The first and last row of the whole catalog (any collection).
    fn all_rows(&self) -> rusqlite::Result<(i64, i64)> {
        self.conn
            .prepare_cached("SELECT min(pk), max(pk) FROM cables")?
            .query_row([], |r| {
                let (first, last): (Option<i64>, Option<i64>) = (r.get(0)?, r.get(1)?);
                Ok((first.unwrap_or(1), last.unwrap_or(0)))
            })
    }

    /// The best matching passage of each of these cables, matches in `[` `]`.
    ///
    /// Each statement with a prefix query (`develop*`) first merges the entries of every
    /// indexed word with that prefix, whatever rows it then reads, so that cost would be paid
    /// once per snippet. A prefix query's snippets are therefore made by one statement over the
    /// hits' rows, others one by one (each a direct lookup, where one statement over the rows
    /// would read every match between them); the figures are in docs/PERFORMANCE.md. A snippet
    /// depends only on its row and the query, so both give the same.
    fn snippets(
        &self,
        query: &str,
        pks: &[i64],
    ) -> rusqlite::Result<std::collections::HashMap<i64, String>> {
        let (Some(&first), Some(&last)) = (pks.iter().min(), pks.iter().max()) else {
            return Ok(Default::default());
        };
        if !query.contains('*') {
            return self.snippets_apart(query, pks);
        }
        let rows = format!(
            "[{}]",
            pks.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        self.conn
            .prepare_cached(
                "SELECT rowid, snippet(cables_fts, -1, '[', ']', '...', 16) FROM cables_fts
                 WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?2 AND ?3
                 AND +rowid IN (SELECT value FROM json_each(?4))",
            )?
            .query_map(params![query, first, last, rows], |r| {
                let snippet: Option<String> = r.get(1)?;
                Ok((r.get(0)?, snippet.unwrap_or_default()))
            })?
            .collect()
    }

    /// Snippets made one by one: the second half of them on a second connection and thread,
    /// when there are enough to pay for it (opening a connection costs about as much as three
    /// snippets of a common word).
    fn snippets_apart(
        &self,
        query: &str,
        pks: &[i64],
    ) -> rusqlite::Result<std::collections::HashMap<i64, String>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (mine, theirs) = match cores > 1 && pks.len() >= MIN_SNIPPETS_TO_SHARE {
            true => pks.split_at(pks.len() / 2),
            false => (pks, &[][..]),
        };
        let one_by_one = |conn: &Connection, pks: &[i64]| {
            pks.iter()
                .map(|&pk| Ok((pk, snippet(conn, query, pk)?)))
                .collect::<rusqlite::Result<Vec<_>>>()
        };
        let path = self.path.as_path();
        std::thread::scope(|s| {
            let other = (!theirs.is_empty())
                .then(|| s.spawn(move || one_by_one(&open_read_only(path)?, theirs)));
            let mut all: std::collections::HashMap<i64, String> =
                one_by_one(&self.conn, mine)?.into_iter().collect();
            if let Some(h) = other {
                all.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?);
            }
            Ok(all)
        })
    }

    /// The best matching passage of one cable, matches in `[` `]`.
    #[cfg(test)]
    fn snippet(&self, query: &str, pk: i64) -> rusqlite::Result<String> {
        snippet(&self.conn, query, pk)
    }

    fn tags_of(&self, collection: &str, id: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tag FROM tags WHERE collection = ?1 AND cable = ?2 ORDER BY position",
        )?;
        stmt.query_map(params![collection, id], |r| r.get(0))?
            .collect()
    }

    /// The ids of the cables of `collection` whose subject or text matches `query` (neither
    /// ranked nor with snippets: only the set is wanted).
    pub fn matching_ids(&self, collection: &str, query: &str) -> Result<BTreeSet<String>> {
        check_query(query)?;
        match self.ids_raw(collection, query) {
            Ok(ids) => Ok(ids),
            Err(first) => {
                let quoted = quote_words(query);
                if quoted.is_empty() || quoted == query {
                    return Err(self.query_error(query, first));
                }
                self.ids_raw(collection, &quoted)
                    .map_err(|_| self.query_error(query, first))
            }
        }
    }

    fn ids_raw(&self, collection: &str, query: &str) -> rusqlite::Result<BTreeSet<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id FROM cables_fts JOIN cables c ON c.pk = cables_fts.rowid
             WHERE cables_fts MATCH ?1 AND c.collection = ?2",
        )?;
        stmt.query_map(params![query, collection], |r| r.get(0))?
            .collect()
    }
}

/// The longest full-text query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 2048;
/// The most words a full-text query may hold (FTS5's operators not counted): a snippet's cost
/// grows with the square of the query's phrases, so an unbounded query is unbounded time.
pub const MAX_QUERY_WORDS: usize = 64;

/// Refuses a full-text query longer than [`MAX_QUERY_BYTES`] or with more words than
/// [`MAX_QUERY_WORDS`].
pub fn check_query(query: &str) -> Result<()> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(Error::Invalid(format!(
            "the query is {} bytes long: at most {MAX_QUERY_BYTES} are accepted",
            query.len()
        )));
    }
    // Counted as the index's tokenizer (unicode61) sees them: runs of letters and digits, so
    // `the.the.the` is three words, as FTS5 searches it.
    let words = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "AND" | "OR" | "NOT" | "NEAR"))
        .count();
    if words > MAX_QUERY_WORDS {
        return Err(Error::Invalid(format!(
            "the query has {words} words: at most {MAX_QUERY_WORDS} are accepted"
        )));
    }
    Ok(())
}

/// One phrase of an FTS5 query as written: its text and whether it is a prefix (`text*`).
#[derive(Debug, PartialEq)]
struct QueryPhrase {
    text: String,
    prefix: bool,
}

/// FTS5's bareword characters (sqlite3Fts5IsBareword).
fn is_bareword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '\x1a' || !c.is_ascii()
}

/// The phrases of an FTS5 query (barewords and strings), without its operators and column
/// names; only what a snippet highlights is wanted, not the query's structure.
fn query_phrases(query: &str) -> Vec<QueryPhrase> {
    let mut phrases = Vec::new();
    let mut chars = query.chars().peekable();
    let mut in_columns = false;
    while let Some(c) = chars.next() {
        let text = if c == '"' {
            let mut text = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        text.push('"');
                    }
                    '"' => break,
                    c => text.push(c),
                }
            }
            text
        } else if is_bareword_char(c) {
            let mut text = String::from(c);
            while let Some(&c) = chars.peek().filter(|c| is_bareword_char(**c)) {
                text.push(c);
                chars.next();
            }
            text
        } else {
            match c {
                '{' => in_columns = true,
                '}' => in_columns = false,
                _ => {}
            }
            continue;
        };
        while chars.peek().is_some_and(|c| *c == ' ') {
            chars.next();
        }
        let prefix = chars.next_if_eq(&'*').is_some();
        let column = chars.peek() == Some(&':');
        let operator = matches!(text.as_str(), "AND" | "OR" | "NOT" | "NEAR");
        if !(in_columns || column || operator) {
            phrases.push(QueryPhrase { text, prefix });
        }
    }
    phrases
}

/// Queries of at most this many phrases make their snippets as given.
const SNIPPET_PHRASES_AS_GIVEN: usize = 4;

/// The query snippets are made with: the query itself, unless it names a phrase more than once
/// (also as other words that make the same terms, such as `The` and `thé` for `the`); then its
/// distinct phrases joined by OR. FTS5 scores each passage against every match of every phrase,
/// so a phrase given 200 times makes each snippet cost 40,000 times that of the phrase alone. A
/// query of a few phrases is taken as it is: repeats cost little there, and telling the terms
/// of its words costs an in-memory index.
fn snippet_query(query: &str) -> rusqlite::Result<std::borrow::Cow<'_, str>> {
    let phrases = query_phrases(query);
    if phrases.len() <= SNIPPET_PHRASES_AS_GIVEN {
        return Ok(query.into());
    }
    let texts: Vec<&str> = phrases.iter().map(|p| p.text.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    let distinct: Vec<String> = phrases
        .iter()
        .zip(terms_of_texts(&texts)?)
        .filter(|(p, terms)| !terms.is_empty() && seen.insert((terms.clone(), p.prefix)))
        .map(|(p, _)| fts5_string(&p.text) + if p.prefix { "*" } else { "" })
        .collect();
    if distinct.len() == phrases.len() {
        return Ok(query.into());
    }
    Ok(distinct.join(" OR ").into())
}

/// `a "b c` -> `"a" """b" "c"`: every word as an FTS5 string, so any text can be searched.
fn quote_words(query: &str) -> String {
    query
        .split_whitespace()
        .map(fts5_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `b"c` -> `"b""c"`: a text as an FTS5 string (a phrase of its tokens).
fn fts5_string(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

// Ranking common words from stored postings.
//
// FTS5's bm25() costs time for every matching row, and before it ranks a single row it counts
// every row of each phrase (its IDF): a word found in most cables is slow to rank even for one
// row (docs/PERFORMANCE.md, "Search"). The catalog therefore stores, for each term found in
// many rows, its postings (every row it is in, with its frequency there) and each row's length,
// and search ranks queries made only of such terms from them, computing bm25 exactly as FTS5
// does. The build checks, for every stored posting, that this gives FTS5's own score to the
// bit; a term that fails is not stored and its queries are ranked by FTS5.

/// The `meta` key recording the layout of the ranking data: a catalog without it, or with
/// another layout, is rebuilt.
const RANKING_KEY: &str = "ranking";
/// `postings/3`: `ranking_terms` is a rowid table with its terms in their own index. In a
/// `WITHOUT ROWID` table the rows are the keys of its b-tree, and SQLite reads a key that does
/// not fit its page whole to compare with it, so every lookup of a term would read the postings
/// of the terms on its way down: most of a search's fixed cost. `best` comes before `postings`,
/// so that reading it does not walk the postings' pages. An older layout is rebuilt.
const RANKING_LAYOUT: &str = "postings/3";

/// The tokenizer of `cables_fts` (the one in [`SCHEMA`]; a test checks).
const TOKENIZER: &str = "porter unicode61";

/// Terms found in at least this many rows have their postings stored; FTS5 ranks a rarer term's
/// matches in a few milliseconds.
const RANKED_TERM_MIN_ROWS: i64 = 4096;

/// How many of a term's best rows are stored in ranking order, with their scores: a query of
/// that term alone (the commonest kind) needs neither its postings nor the row lengths, and a
/// filter letting one match in 50 through finds 20 hits among them.
const BEST_ROWS_PER_TERM: usize = 1024;

/// Terms whose postings are computed between two writes: bounds the memory of the build.
const POSTINGS_PER_WRITE: usize = 16;

const RANKING_SCHEMA: &str = "
CREATE TABLE ranking_corpus (
    documents INTEGER NOT NULL, tokens INTEGER NOT NULL, first_row INTEGER NOT NULL,
    lengths BLOB NOT NULL);
CREATE TABLE ranking_terms (
    term TEXT NOT NULL UNIQUE, documents INTEGER NOT NULL, best BLOB, postings BLOB);
CREATE TABLE ranking_rows (
    pk INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL, subject TEXT,
    created TEXT, origin TEXT, classification TEXT, released TEXT,
    redaction_status TEXT NOT NULL, partial_extract INTEGER NOT NULL, tags TEXT NOT NULL);
";

/// Fills `ranking_rows`: what a search shows of a hit and what its filter looks at, one short
/// row per cable. Read from `cables` and `tags`, checking a ranked match would cost two
/// lookups in large tables, each in a page no earlier lookup read (a cable's row holds its
/// text): too slow for a filter that lets few matches through.
const RANKING_ROWS_SQL: &str = "
INSERT INTO ranking_rows
SELECT c.pk, c.collection, c.id, c.subject, c.created, c.origin, c.classification, c.released,
       c.redaction_status, c.partial_extract,
       (SELECT json_group_array(t.tag ORDER BY t.position) FROM tags t
        WHERE t.collection = c.collection AND t.cable = c.id)
FROM cables c ORDER BY c.pk;
";

/// bm25's constants in FTS5 (fts5Bm25Function).
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The IDF FTS5 gives a phrase found in `hits` of `documents` rows (fts5Bm25GetData).
fn bm25_idf(documents: i64, hits: i64) -> f64 {
    let idf = (((documents - hits) as f64 + 0.5) / (hits as f64 + 0.5)).ln();
    if idf <= 0.0 { 1e-6 } else { idf }
}

/// FTS5's bm25() of a row from each phrase's IDF and frequency in the row, and the row's length
/// in tokens (fts5Bm25Function): the same operations in the same order, so the same double.
fn bm25(phrases: impl IntoIterator<Item = (f64, f64)>, length: f64, avgdl: f64) -> f64 {
    bm25_normed(phrases, length_norm(length, avgdl))
}

/// The part of bm25's denominator that depends on the row's length only. FTS5 computes it again
/// for each phrase, the same way, so computing it once per row gives the same double.
fn length_norm(length: f64, avgdl: f64) -> f64 {
    K1 * (1.0 - B + B * length / avgdl)
}

/// [`bm25`] from the row's [`length_norm`].
fn bm25_normed(phrases: impl IntoIterator<Item = (f64, f64)>, norm: f64) -> f64 {
    let mut score = 0.0;
    for (idf, freq) in phrases {
        score += idf * ((freq * (K1 + 1.0)) / (freq + norm));
    }
    // FTS5 multiplies by -1.0, which is negation.
    -score
}

/// The frequency of a term in a row of this length that gives the row `score` as a query of
/// that term alone: bm25 solved for it, then checked by computing bm25 again.
fn frequency_of(score: f64, idf: f64, length: f64, avgdl: f64) -> Option<u32> {
    let c = -score;
    let norm = length_norm(length, avgdl);
    let guess = (c * norm / (idf * (K1 + 1.0) - c)).round();
    if !(guess.is_finite() && guess >= 1.0 && guess < f64::from(u32::MAX)) {
        return None;
    }
    let guess = guess as u32;
    [guess, guess - 1, guess + 1]
        .into_iter()
        .filter(|&f| f >= 1)
        .find(|&f| bm25([(idf, f64::from(f))], length, avgdl).to_bits() == score.to_bits())
}

/// What bm25() takes from the whole index: the number of rows and of tokens (whose ratio is
/// the average length), and each row's length in tokens, all columns (by row from `first_row`,
/// 4 bytes little-endian each, as stored; `u32::MAX` for a row the index does not have).
struct Corpus {
    documents: i64,
    tokens: i64,
    first_row: i64,
    lengths: Vec<u8>,
}

impl Corpus {
    /// Reads the row lengths FTS5 keeps (`cables_fts_docsize`: a varint per column).
    fn of_index(conn: &Connection) -> rusqlite::Result<Corpus> {
        let mut stmt = conn.prepare("SELECT id, sz FROM cables_fts_docsize ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut corpus = Corpus {
            documents: 0,
            tokens: 0,
            first_row: 0,
            lengths: Vec::new(),
        };
        while let Some(row) = rows.next()? {
            let (id, sizes): (i64, Vec<u8>) = (row.get(0)?, row.get(1)?);
            let tokens = column_sizes(&sizes).sum::<u64>();
            if corpus.documents == 0 {
                corpus.first_row = id;
            }
            let at = usize::try_from(id - corpus.first_row).unwrap_or(usize::MAX);
            let missing = at.saturating_sub(corpus.lengths.len() / 4);
            corpus
                .lengths
                .extend(std::iter::repeat_n(0xff, missing * 4));
            let length = u32::try_from(tokens).unwrap_or(u32::MAX);
            corpus.lengths.extend(length.to_le_bytes());
            corpus.documents += 1;
            corpus.tokens += i64::try_from(tokens).unwrap_or(i64::MAX);
        }
        Ok(corpus)
    }

    fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO ranking_corpus VALUES (?1, ?2, ?3, ?4)",
            params![self.documents, self.tokens, self.first_row, self.lengths],
        )?;
        Ok(())
    }

    fn load(conn: &Connection) -> rusqlite::Result<Option<Corpus>> {
        conn.prepare_cached("SELECT documents, tokens, first_row, lengths FROM ranking_corpus")?
            .query_row([], |r| {
                Ok(Corpus {
                    documents: r.get(0)?,
                    tokens: r.get(1)?,
                    first_row: r.get(2)?,
                    lengths: r.get(3)?,
                })
            })
            .optional()
    }

    /// The first and last row whose length is known.
    fn rows(&self) -> (i64, i64) {
        let n = i64::try_from(self.lengths.len() / 4).unwrap_or(i64::MAX);
        (self.first_row, self.first_row.saturating_add(n - 1))
    }

    /// The average row length, as FTS5 computes it.
    fn avgdl(&self) -> f64 {
        self.tokens as f64 / self.documents as f64
    }

    fn length(&self, row: i64) -> Option<f64> {
        let at = usize::try_from(row.checked_sub(self.first_row)?).ok()?;
        let bytes = self.lengths.get(at.checked_mul(4)?..)?.first_chunk::<4>()?;
        let length = u32::from_le_bytes(*bytes);
        (length != u32::MAX).then_some(f64::from(length))
    }
}

/// The values of a `cables_fts_docsize` record: SQLite varints (big-endian groups of 7 bits,
/// the high bit set on all but the last; a ninth byte gives 8 bits).
fn column_sizes(mut bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    std::iter::from_fn(move || {
        let mut value = 0u64;
        for i in 0..9 {
            let (&b, rest) = bytes.split_first()?;
            bytes = rest;
            if i == 8 {
                return Some(value << 8 | u64::from(b));
            }
            value = value << 7 | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    })
}

/// Postings as bytes, written a row at a time: for each row in order, its distance from the
/// previous one and the term's frequency in it, each a LEB128 varint.
#[derive(Default)]
struct PostingsWriter {
    out: Vec<u8>,
    previous: i64,
}

impl PostingsWriter {
    fn push(&mut self, row: i64, frequency: u32) {
        push_leb128(&mut self.out, row.abs_diff(self.previous));
        push_leb128(&mut self.out, u64::from(frequency));
        self.previous = row;
    }
}

fn push_leb128(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over postings as [`PostingsWriter`] wrote them, read as it moves (a common term's
/// postings can hold a row for nearly every cable: decoding them into a vector first would
/// cost more than ranking them).
#[derive(Clone)]
struct Postings<'b> {
    bytes: &'b [u8],
    /// The row and frequency it is at (`None` at the end, or when the bytes are not postings).
    at: Option<(i64, u32)>,
    /// Rows in the postings (the term's IDF counts them).
    len: usize,
}

impl<'b> Postings<'b> {
    fn new(bytes: &'b [u8], len: usize) -> Postings<'b> {
        let mut p = Postings {
            bytes,
            at: None,
            len,
        };
        p.at = p.read(0);
        p
    }

    /// The next posting after row `previous` (the bytes are left as they are if it is damaged).
    fn read(&mut self, previous: i64) -> Option<(i64, u32)> {
        let mut bytes = self.bytes;
        let row = previous.checked_add_unsigned(next_leb128(&mut bytes)?)?;
        let freq = u32::try_from(next_leb128(&mut bytes)?).ok()?;
        self.bytes = bytes;
        Some((row, freq))
    }

    fn advance(&mut self) {
        self.at = self.at.and_then(|(row, _)| self.read(row));
    }

    /// Moves to the first row at or after `row`.
    fn skip_to(&mut self, row: i64) {
        while self.at.is_some_and(|(r, _)| r < row) {
            self.advance();
        }
    }
}

/// The postings [`PostingsWriter`] wrote, whole (`None` if the bytes are not such postings).
#[cfg(test)]
fn decode_postings(bytes: &[u8]) -> Option<Vec<(i64, u32)>> {
    let mut p = Postings::new(bytes, 0);
    let mut all = Vec::new();
    while let Some(posting) = p.at {
        all.push(posting);
        p.advance();
    }
    p.bytes.is_empty().then_some(all)
}

fn next_leb128(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The terms each text becomes in the index, in order, told by FTS5's tokenizer on an
/// in-memory table (the tokenizer makes the same terms of a text in a query).
fn terms_of_texts<S: AsRef<str>>(texts: &[S]) -> rusqlite::Result<Vec<Vec<String>>> {
    let conn = Connection::open_in_memory()?;
    // Contentless, without row sizes: only the terms are wanted, and creating fewer shadow
    // tables takes a third of the time.
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE words USING fts5 (
             word, tokenize = '{TOKENIZER}', content = '', columnsize = 0);
         CREATE VIRTUAL TABLE words_terms USING fts5vocab (words, 'instance');"
    ))?;
    let mut insert = conn.prepare("INSERT INTO words (rowid, word) VALUES (?1, ?2)")?;
    for (i, text) in texts.iter().enumerate() {
        insert.execute(params![i as i64, text.as_ref()])?;
    }
    let mut terms = vec![Vec::new(); texts.len()];
    let mut stmt = conn.prepare("SELECT doc, term FROM words_terms ORDER BY doc, offset")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (doc, term): (i64, String) = (row.get(0)?, row.get(1)?);
        if let Some(t) = usize::try_from(doc).ok().and_then(|d| terms.get_mut(d)) {
            t.push(term);
        }
    }
    Ok(terms)
}

/// Which terms [`write_ranking_data`] stores postings of (those in at least `min_rows` rows),
/// and how many of their best rows in ranking order.
#[derive(Debug, Clone, Copy)]
struct RankingSizes {
    min_rows: i64,
    best_rows: usize,
}

/// Writes a catalog's ranking data: each row's length, every term of the full-text index with
/// the number of rows it is in, and for the terms in many rows ([`RankingSizes`]) their
/// postings and best rows, when the postings give every row exactly FTS5's score
/// ([`ranking_of_term`]). The catalog's other connections are free, so the terms are ranked on
/// every core.
fn write_ranking_data(conn: &Connection, path: &Path, sizes: RankingSizes) -> rusqlite::Result<()> {
    conn.execute_batch(RANKING_SCHEMA)?;
    conn.execute_batch(&format!("BEGIN; {RANKING_ROWS_SQL} COMMIT;"))?;
    let corpus = Corpus::of_index(conn)?;
    let common = write_terms(conn, &corpus, sizes.min_rows)?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    // `documents` becomes the number of rows the term's query found, from which FTS5 computed
    // the IDF of the scores the postings were checked against (the vocabulary's count is the same).
    let mut update = conn.prepare(
        "UPDATE ranking_terms SET documents = ?2, postings = ?3, best = ?4 WHERE term = ?1",
    )?;
    for group in common.chunks(POSTINGS_PER_WRITE) {
        let ranked = on_connections(path, group, workers, |c, (term, rows)| {
            ranking_of_term(c, &corpus, term, *rows, sizes.best_rows)
        })?;
        conn.execute_batch("BEGIN")?;
        for ((term, _), r) in group.iter().zip(ranked) {
            if let Some(r) = r {
                update.execute(params![term, r.rows, r.postings, r.best])?;
            }
        }
        conn.execute_batch("COMMIT")?;
    }
    Ok(())
}

/// Writes the row lengths and every term of the full-text index with the number of rows it is
/// in, and returns the terms in at least `min_rows` rows that can be ranked from postings
/// ([`self_quoting`]). The whole vocabulary (310,000 terms at full scale) is dropped before the
/// terms are ranked.
fn write_terms(
    conn: &Connection,
    corpus: &Corpus,
    min_rows: i64,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let terms = vocabulary(conn)?;
    let common = self_quoting(terms.iter().filter(|t| t.1 >= min_rows))?;
    conn.execute_batch("BEGIN")?;
    corpus.save(conn)?;
    let mut insert = conn.prepare("INSERT INTO ranking_terms (term, documents) VALUES (?1, ?2)")?;
    for (term, documents) in &terms {
        insert.execute(params![term, documents])?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(common)
}

/// Every term of the full-text index and the number of rows it is in.
fn vocabulary(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    conn.execute_batch(
        "CREATE VIRTUAL TABLE temp.ranking_vocab USING fts5vocab (main, cables_fts, 'row')",
    )?;
    let terms = conn
        .prepare("SELECT term, doc FROM temp.ranking_vocab")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect();
    conn.execute_batch("DROP TABLE temp.ranking_vocab")?;
    terms
}

/// The terms (with their number of rows) that a query of the term as an FTS5 string
/// (`"term"`) searches for exactly: postings are computed with that query, and looked up by the
/// terms of the user's query.
fn self_quoting<'t>(
    terms: impl Iterator<Item = &'t (String, i64)>,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let terms: Vec<&(String, i64)> = terms.collect();
    let texts: Vec<&String> = terms.iter().map(|(term, _)| term).collect();
    let tokens = terms_of_texts(&texts)?;
    Ok(terms
        .into_iter()
        .zip(tokens)
        .filter(|((term, _), tokens)| tokens.len() == 1 && &tokens[0] == term)
        .map(|(term, _)| term.clone())
        .collect())
}

/// `f` of every item, on `workers` threads each with its own read-only connection to `path`.
fn on_connections<T: Sync, R: Send>(
    path: &Path,
    items: &[T],
    workers: usize,
    f: impl Fn(&Connection, &T) -> rusqlite::Result<R> + Sync,
) -> rusqlite::Result<Vec<R>> {
    let workers = workers.clamp(1, items.len().max(1));
    let f = &f;
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    let conn = open_read_only(path)?;
                    items
                        .iter()
                        .skip(w)
                        .step_by(workers)
                        .map(|item| f(&conn, item))
                        .collect::<rusqlite::Result<Vec<R>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<rusqlite::Result<Vec<Vec<R>>>>()
    })?;
    // Item i was done by thread i % workers, as its (i / workers)-th.
    let mut parts: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
    Ok((0..items.len())
        .filter_map(|i| parts[i % workers].next())
        .collect())
}

/// What is stored of a term for ranking: the number of rows it is in, its postings
/// ([`PostingsWriter`]) and its best rows in ranking order ([`encode_best`]).
struct TermRanking {
    rows: i64,
    postings: Vec<u8>,
    best: Vec<u8>,
}

/// A term's [`TermRanking`], when bm25 computed from its postings gives every row of the term
/// exactly the score FTS5 gives it for the query `"term"`; `None` otherwise (FTS5 ranks that
/// term). `rows` is the number of rows the vocabulary says the term is in, from which the IDF
/// is computed before the matches are read: so each match is encoded as it comes and only the
/// best `best_rows` are kept (a common term's matches held whole would grow with the corpus, in
/// every worker).
fn ranking_of_term(
    conn: &Connection,
    corpus: &Corpus,
    term: &str,
    rows: i64,
    best_rows: usize,
) -> rusqlite::Result<Option<TermRanking>> {
    let idf = bm25_idf(corpus.documents, rows);
    let avgdl = corpus.avgdl();
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, bm25(cables_fts) FROM cables_fts WHERE cables_fts MATCH ?1",
    )?;
    let mut matches = stmt.query([fts5_string(term)])?;
    let mut postings = PostingsWriter::default();
    let mut best = Best::new(Some(best_rows));
    let mut found = 0;
    while let Some(r) = matches.next()? {
        let m = Ranked {
            pk: r.get(0)?,
            score: r.get(1)?,
        };
        let frequency = corpus
            .length(m.pk)
            .and_then(|length| frequency_of(m.score, idf, length, avgdl));
        let Some(frequency) = frequency else {
            return Ok(None);
        };
        postings.push(m.pk, frequency);
        best.offer(m);
        found += 1;
    }
    // FTS5 scored with the number of rows its query found: the IDF above must be the same.
    if found != rows {
        return Ok(None);
    }
    Ok(Some(TermRanking {
        rows,
        postings: postings.out,
        best: encode_best(&best.into_sorted()),
    }))
}

/// The best rows of a term as bytes: each row and its score, 8 bytes little-endian each.
fn encode_best(best: &[Ranked]) -> Vec<u8> {
    best.iter()
        .flat_map(|m| m.pk.to_le_bytes().into_iter().chain(m.score.to_le_bytes()))
        .collect()
}

fn decode_best(bytes: &[u8]) -> Vec<Ranked> {
    bytes
        .chunks_exact(16)
        .map(|b| {
            let (pk, score) = b.split_at(8);
            Ranked {
                pk: i64::from_le_bytes(pk.try_into().unwrap_or_default()),
                score: f64::from_le_bytes(score.try_into().unwrap_or_default()),
            }
        })
        .collect()
}

/// A query that stored postings can rank: words, each maybe a prefix (`develop*`), all required
/// (`a b`) or joined by `OR` (`a OR b`). Only plain ASCII words: anything else, FTS5 ranks.
#[derive(Debug, PartialEq)]
struct WordQuery<'q> {
    words: Vec<Word<'q>>,
    any: bool,
}

#[derive(Debug, PartialEq)]
struct Word<'q> {
    text: &'q str,
    prefix: bool,
}

/// A [`WordQuery`] with each word replaced by the one term of the index it searches for, which
/// has stored postings.
#[derive(Debug)]
struct StoredQuery {
    terms: Vec<String>,
    any: bool,
}

impl StoredQuery {
    /// The query in FTS5 syntax, each word written as its term (`develop*` as `"develop"` when
    /// that is the only term it starts): the same matches, scores and snippets, but a prefix
    /// query's snippets cost far more (every term with the prefix is looked up first) than a
    /// term's.
    fn as_fts5(&self) -> String {
        let words: Vec<String> = self.terms.iter().map(|t| fts5_string(t)).collect();
        words.join(if self.any { " OR " } else { " " })
    }
}

/// What a word of a [`WordQuery`] searches for in the index.
#[derive(Debug, PartialEq)]
enum WordTerm {
    /// No term: the word matches no row.
    None,
    /// One term, and whether its postings are stored.
    One { term: String, stored: bool },
    /// A prefix that several terms start.
    Several,
}

/// How a query is ranked (see [`Catalog::word_plan`]).
#[derive(Debug)]
enum WordPlan {
    Stored(StoredQuery),
    NoMatch,
    Fts,
}

/// The query as a [`WordQuery`], when it is one.
fn word_query(query: &str) -> Option<WordQuery<'_>> {
    // Split where FTS5's query parser does (fts5ExprIsspace): other spaces, such as U+00A0,
    // are part of a bareword, which is then a phrase of its tokens.
    let parts: Vec<&str> = query
        .split([' ', '\t', '\n', '\r'])
        .filter(|p| !p.is_empty())
        .collect();
    let joined_by_or = parts.len() >= 3
        && parts.len() % 2 == 1
        && parts.iter().skip(1).step_by(2).all(|&p| p == "OR");
    let words: Option<Vec<Word<'_>>> = if joined_by_or {
        parts.iter().step_by(2).map(|p| word(p)).collect()
    } else {
        parts.iter().map(|p| word(p)).collect()
    };
    let words = words.filter(|w| !w.is_empty())?;
    Some(WordQuery {
        words,
        any: joined_by_or,
    })
}

/// One word of a [`WordQuery`]: ASCII letters and digits, maybe followed by `*`; not one of
/// FTS5's operators.
fn word(part: &str) -> Option<Word<'_>> {
    let (text, prefix) = match part.strip_suffix('*') {
        Some(text) => (text, true),
        None => (part, false),
    };
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric());
    let operator = matches!(text, "AND" | "OR" | "NOT" | "NEAR");
    (plain && !operator).then_some(Word { text, prefix })
}

/// The matches of `rows` that `lists` (each phrase's postings, in the query's order) give: rows
/// in any list (`any`) or in all of them, scored by [`bm25`], in ranking order (score, then
/// row): all, or the best `limit`. `None` if a row has no recorded length (never in a catalog)
/// or the postings are damaged.
fn rank_postings(
    corpus: &Corpus,
    mut lists: Vec<Postings<'_>>,
    any: bool,
    (first, last): (i64, i64),
    limit: Option<usize>,
) -> Option<Vec<Ranked>> {
    let idfs: Vec<f64> = lists
        .iter()
        .map(|l| bm25_idf(corpus.documents, l.len as i64))
        .collect();
    let avgdl = corpus.avgdl();
    lists.iter_mut().for_each(|l| l.skip_to(first));
    let mut best = Best::new(limit);
    if let [list] = &mut lists[..] {
        // One word: every row of its postings matches (half the time of the loop below).
        while let Some((row, freq)) = list.at.filter(|&(row, _)| row <= last) {
            let norm = length_norm(corpus.length(row)?, avgdl);
            let score = bm25_normed([(idfs[0], f64::from(freq))], norm);
            best.offer(Ranked { pk: row, score });
            list.advance();
        }
        return (list.bytes.is_empty() || list.at.is_some()).then(|| best.into_sorted());
    }
    let mut freqs = vec![0.0; lists.len()];
    loop {
        let next = lists.iter().fold(None, |next: Option<i64>, l| match l.at {
            Some((row, _)) => Some(next.map_or(row, |n| n.min(row))),
            None => next,
        });
        let Some(row) = next.filter(|&row| row <= last) else {
            break;
        };
        let mut found = 0;
        for (list, freq) in lists.iter_mut().zip(freqs.iter_mut()) {
            *freq = match list.at {
                Some((r, f)) if r == row => {
                    list.advance();
                    found += 1;
                    f64::from(f)
                }
                _ => 0.0,
            };
        }
        if any || found == lists.len() {
            let phrases = idfs.iter().copied().zip(freqs.iter().copied());
            let norm = length_norm(corpus.length(row)?, avgdl);
            best.offer(Ranked {
                pk: row,
                score: bm25_normed(phrases, norm),
            });
        }
    }
    // Postings that stop before their end are damaged.
    lists
        .iter()
        .all(|l| l.bytes.is_empty() || l.at.is_some())
        .then(|| best.into_sorted())
}

/// Below this many postings in all, [`rank_postings_in_halves`] stays on one thread.
const MIN_POSTINGS_TO_SHARE: usize = 50_000;

/// [`rank_postings`], the two halves of the rows side by side when there are two cores and
/// enough postings. The second thread reads the first half's postings without scoring them to
/// find where its half starts (varints are read in order), which costs a third of scoring them:
/// a query of two common words is ranked in about two thirds of the time.
fn rank_postings_in_halves(
    corpus: &Corpus,
    lists: Vec<Postings<'_>>,
    any: bool,
    rows: (i64, i64),
    limit: Option<usize>,
) -> Option<Vec<Ranked>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let postings: usize = lists.iter().map(|l| l.len).sum();
    if cores > 1 && postings >= MIN_POSTINGS_TO_SHARE {
        rank_halves(corpus, lists, any, rows, limit)
    } else {
        rank_postings(corpus, lists, any, rows, limit)
    }
}

/// [`rank_postings`] of each half of the rows, on two threads.
fn rank_halves(
    corpus: &Corpus,
    lists: Vec<Postings<'_>>,
    any: bool,
    rows: (i64, i64),
    limit: Option<usize>,
) -> Option<Vec<Ranked>> {
    let indexed = corpus.rows();
    let halves = split_rows((rows.0.max(indexed.0), rows.1.min(indexed.1)), 2);
    let &[mine, theirs] = &halves[..] else {
        return rank_postings(corpus, lists, any, rows, limit);
    };
    let their_lists = lists.clone();
    let (mine, theirs) = std::thread::scope(|s| {
        let other = s.spawn(move || rank_postings(corpus, their_lists, any, theirs, limit));
        let mine = rank_postings(corpus, lists, any, mine, limit);
        (
            mine,
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    let mut all = mine?;
    all.extend(theirs?);
    Some(best_first(all, limit))
}

/// The matches in ranking order: all, or the best `limit`.
fn best_first(mut ranked: Vec<Ranked>, limit: Option<usize>) -> Vec<Ranked> {
    if let Some(limit) = limit
        && ranked.len() > limit
    {
        ranked.select_nth_unstable_by(limit.saturating_sub(1), by_score_then_row);
        ranked.truncate(limit);
    }
    ranked.sort_by(by_score_then_row);
    ranked
}

/// The best matches offered, in ranking order: all, or the best `limit` (kept in a heap whose
/// top is the worst of them, so that a common word's 250,000 matches are never all kept).
struct Best {
    limit: Option<usize>,
    heap: std::collections::BinaryHeap<InRankingOrder>,
}

/// A match ordered as [`by_score_then_row`] orders them.
struct InRankingOrder(Ranked);

impl PartialEq for InRankingOrder {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for InRankingOrder {}

impl PartialOrd for InRankingOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InRankingOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        by_score_then_row(&self.0, &other.0)
    }
}

impl Best {
    fn new(limit: Option<usize>) -> Best {
        Best {
            limit,
            heap: std::collections::BinaryHeap::new(),
        }
    }

    fn offer(&mut self, m: Ranked) {
        let m = InRankingOrder(m);
        match self.limit {
            Some(limit) if self.heap.len() >= limit => {
                if self.heap.peek().is_some_and(|worst| m < *worst) {
                    self.heap.pop();
                    self.heap.push(m);
                }
            }
            _ => self.heap.push(m),
        }
    }

    fn into_sorted(self) -> Vec<Ranked> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|m| m.0)
            .collect()
    }
}

impl Catalog {
    /// The query as a [`StoredQuery`], when it is a [`WordQuery`] each of whose words is one
    /// term with stored postings (a prefix: that of exactly one term of the index).
    #[cfg(test)]
    fn stored_query(&self, query: &str) -> rusqlite::Result<Option<StoredQuery>> {
        match self.word_plan(query)? {
            WordPlan::Stored(q) => Ok(Some(q)),
            WordPlan::NoMatch | WordPlan::Fts => Ok(None),
        }
    }

    /// How a query is ranked: from stored postings ([`StoredQuery`]), not at all when it is a
    /// [`WordQuery`] that the index's vocabulary (all of it is in `ranking_terms`) shows to match
    /// nothing (all its words required and one of them no term, or every word no term), else by
    /// FTS5. A query that can match nothing is not handed to FTS5, which would rank it on two
    /// threads all the same.
    fn word_plan(&self, query: &str) -> rusqlite::Result<WordPlan> {
        let Some(q) = word_query(query) else {
            return Ok(WordPlan::Fts);
        };
        if !self.has_ranking_data()? {
            return Ok(WordPlan::Fts);
        }
        let Some(found) = self.terms_of(&q)? else {
            return Ok(WordPlan::Fts);
        };
        let missing = found.iter().filter(|t| matches!(t, WordTerm::None)).count();
        if missing == found.len() || (missing > 0 && !q.any) {
            return Ok(WordPlan::NoMatch);
        }
        let mut terms = Vec::with_capacity(found.len());
        for t in found {
            match t {
                WordTerm::One { term, stored: true } => terms.push(term),
                _ => return Ok(WordPlan::Fts),
            }
        }
        Ok(WordPlan::Stored(StoredQuery { terms, any: q.any }))
    }

    /// The matches among `rows` ranked from stored postings, exactly as [`Catalog::rank_fts`]
    /// ranks them (`None` if the postings or row lengths are missing or damaged).
    fn rank_stored(
        &self,
        q: &StoredQuery,
        rows: (i64, i64),
        limit: Option<usize>,
    ) -> rusqlite::Result<Option<Vec<Ranked>>> {
        if let ([term], Some(limit)) = (&q.terms[..], limit)
            && let Some(best) = self.best_rows(term, rows, limit)?
        {
            return Ok(Some(best));
        }
        let mut stored = Vec::with_capacity(q.terms.len());
        for term in &q.terms {
            match self.postings(term)? {
                Some(p) => stored.push(p),
                None => return Ok(None),
            }
        }
        let Some(corpus) = Corpus::load(&self.conn)? else {
            return Ok(None);
        };
        let lists = stored
            .iter()
            .map(|(bytes, len)| Postings::new(bytes, *len))
            .collect();
        Ok(rank_postings_in_halves(&corpus, lists, q.any, rows, limit))
    }

    /// The best `limit` matches of a term among `rows`, from its stored best rows, when they
    /// hold that many (rows of the term that are not among them rank after all that are) or all
    /// of the term's rows.
    fn best_rows(
        &self,
        term: &str,
        rows: (i64, i64),
        limit: usize,
    ) -> rusqlite::Result<Option<Vec<Ranked>>> {
        let found: Option<(Option<Vec<u8>>, i64)> = self
            .conn
            .prepare_cached("SELECT best, documents FROM ranking_terms WHERE term = ?1")?
            .query_row([term], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((Some(bytes), documents)) = found else {
            return Ok(None);
        };
        let stored = decode_best(&bytes);
        let complete = usize::try_from(documents).is_ok_and(|n| n <= stored.len());
        let mut best: Vec<Ranked> = stored
            .into_iter()
            .filter(|m| (rows.0..=rows.1).contains(&m.pk))
            .collect();
        if best.len() >= limit {
            best.truncate(limit);
            return Ok(Some(best));
        }
        Ok(complete.then_some(best))
    }

    fn has_ranking_data(&self) -> rusqlite::Result<bool> {
        self.has_table("ranking_terms")
    }

    fn has_table(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT count(*) FROM sqlite_master WHERE name = ?1")?
            .query_row([name], |r| r.get::<_, i64>(0))
            .map(|n| n > 0)
    }

    /// The index terms each word of the query searches for, when each word is one token.
    fn terms_of(&self, q: &WordQuery<'_>) -> rusqlite::Result<Option<Vec<WordTerm>>> {
        let texts: Vec<&str> = q.words.iter().map(|w| w.text).collect();
        let tokens = terms_of_texts(&texts)?;
        let mut terms = Vec::with_capacity(tokens.len());
        for (word, mut tokens) in q.words.iter().zip(tokens) {
            let (Some(token), None) = (tokens.pop(), tokens.pop()) else {
                return Ok(None);
            };
            terms.push(match word.prefix {
                true => self.terms_with_prefix(&token)?,
                false => self.term(token)?,
            });
        }
        Ok(Some(terms))
    }

    /// The token as a term of the index.
    fn term(&self, token: String) -> rusqlite::Result<WordTerm> {
        let stored: Option<bool> = self
            .conn
            .prepare_cached("SELECT postings IS NOT NULL FROM ranking_terms WHERE term = ?1")?
            .query_row([&token], |r| r.get(0))
            .optional()?;
        Ok(match stored {
            Some(stored) => WordTerm::One {
                term: token,
                stored,
            },
            None => WordTerm::None,
        })
    }

    /// The terms of the index that `prefix` starts.
    fn terms_with_prefix(&self, prefix: &str) -> rusqlite::Result<WordTerm> {
        let first_two: Vec<(String, bool)> = self
            .conn
            .prepare_cached(
                "SELECT term, postings IS NOT NULL FROM ranking_terms
                 WHERE term >= ?1 ORDER BY term LIMIT 2",
            )?
            .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut with_prefix = first_two.into_iter().filter(|(t, _)| t.starts_with(prefix));
        Ok(match (with_prefix.next(), with_prefix.next()) {
            (None, _) => WordTerm::None,
            (Some((term, stored)), None) => WordTerm::One { term, stored },
            (Some(_), Some(_)) => WordTerm::Several,
        })
    }

    /// A term's stored postings and the number of rows they hold (`None` when it has none).
    fn postings(&self, term: &str) -> rusqlite::Result<Option<(Vec<u8>, usize)>> {
        let found: Option<(Option<Vec<u8>>, i64)> = self
            .conn
            .prepare_cached("SELECT postings, documents FROM ranking_terms WHERE term = ?1")?
            .query_row([term], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(found.and_then(|(bytes, documents)| Some((bytes?, usize::try_from(documents).ok()?))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: [&str; 8] = [
        "minister", "election", "oil", "gas", "border", "prime", "talks", "budget",
    ];

    /// Every match ranked by FTS5 itself: what the other ways of ranking must agree with.
    const FTS_ONLY: Tuning = Tuning {
        workers: None,
        first_candidates: None,
        fts_only: true,
    };

    /// A catalog of `n` made-up cables, the first half in collection `a`, the rest in `b` (only
    /// `a`'s row range recorded), with texts of repeated words so that scores vary and tie, and
    /// the postings of every term stored for ranking.
    fn made_up_catalog(n: usize) -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let mut seed: u64 = 7;
        let mut next = move |m: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % m
        };
        for pk in 1..=n {
            let collection = if pk <= n / 2 { "a" } else { "b" };
            let mut words: Vec<&str> = (0..3 + next(12))
                .map(|_| WORDS[next(WORDS.len())])
                .collect();
            // Rarer words, whose IDF (unlike that of words in most rows) is not clamped.
            for (word, one_in) in [("treaty", 8), ("embargo", 25)] {
                if next(one_in) == 0 {
                    words.insert(next(words.len()), word);
                }
            }
            let text = words.join(" ");
            let subject = WORDS[next(WORDS.len())];
            let origin = ["Embassy X", "Embassy Y"][next(2)];
            conn.execute(
                "INSERT INTO cables (pk, collection, id, published_id, origin, subject,
                 redaction_status, redaction_runs, partial_extract, captures, current_capture,
                 text)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, 'not-redacted', 0, 0, 1, 'c', ?6)",
                params![
                    pk as i64,
                    collection,
                    format!("10X{pk}"),
                    origin,
                    subject,
                    text
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO cables_fts (rowid, subject, text) VALUES (?1, ?2, ?3)",
                params![pk as i64, subject, text],
            )
            .unwrap();
            for (i, tag) in ["PREL", "ECON"].iter().enumerate() {
                if next(3) == 0 {
                    conn.execute(
                        "INSERT INTO tags VALUES (?1, ?2, ?3, ?4)",
                        params![collection, format!("10X{pk}"), i as i64, tag],
                    )
                    .unwrap();
                }
            }
        }
        conn.execute(
            "INSERT INTO meta VALUES (?1, ?2)",
            params![rows_key("a"), format!("1 {}", n / 2)],
        )
        .unwrap();
        // Few best rows per term, so that searches also go past them.
        let sizes = RankingSizes {
            min_rows: 1,
            best_rows: 40,
        };
        write_ranking_data(&conn, &path, sizes).unwrap();
        drop(conn);
        let catalog = Catalog::open_file(&path).unwrap();
        (dir, catalog)
    }

    /// A plain reference search, without slices or lazy filters: one statement, filters
    /// checked on every match in the final order.
    fn search_before(
        catalog: &Catalog,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> Vec<(String, String, f64)> {
        let only_query = filter.is_empty();
        let sql_limit = if only_query { limit as i64 } else { -1 };
        let rows = match collection {
            Some(c) => count_contiguous_rows(&catalog.conn, c).unwrap(),
            None => Some((i64::MIN, i64::MAX)),
        };
        let (fts_limit, (first, last)) = match rows {
            Some(range) if only_query => (sql_limit, range),
            _ => (-1, (i64::MIN, i64::MAX)),
        };
        let mut stmt = catalog
            .conn
            .prepare(
                "SELECT c.pk, c.collection, c.id, f.score, c.subject, c.created, c.origin,
                    c.classification, c.released, c.redaction_status, c.partial_extract
                 FROM (SELECT rowid AS pk, bm25(cables_fts) AS score FROM cables_fts
                       WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?5 AND ?6
                       ORDER BY score, rowid LIMIT ?4) f
                 JOIN cables c ON c.pk = f.pk
                 WHERE (?2 IS NULL OR c.collection = ?2)
                 ORDER BY f.score, c.collection, c.id
                 LIMIT ?3",
            )
            .unwrap();
        let mut rows = stmt
            .query(params![
                query, collection, sql_limit, fts_limit, first, last
            ])
            .unwrap();
        let mut hits = Vec::new();
        while hits.len() < limit
            && let Some(row) = rows.next().unwrap()
        {
            let (c, id, score): (String, String, f64) = (
                row.get(1).unwrap(),
                row.get(2).unwrap(),
                row.get(3).unwrap(),
            );
            let origin: Option<String> = row.get(6).unwrap();
            let tags = catalog.tags_of(&c, &id).unwrap();
            let facts = Facts {
                id: &id,
                created: None,
                released: None,
                classification: None,
                origin: origin.as_deref(),
                tags: &tags,
                redaction: "not-redacted",
                partial_extract: false,
            };
            if only_query || filter.matches(&facts) {
                hits.push((c, id, score));
            }
        }
        hits
    }

    #[test]
    fn slices_and_lazy_filters_give_the_hits_of_one_statement() {
        let (_dir, catalog) = made_up_catalog(600);
        let filters = [
            Filter::default(),
            Filter {
                origins: vec!["embassy x".into()],
                ..Filter::default()
            },
            Filter {
                tags: vec!["PREL".into()],
                ..Filter::default()
            },
            Filter {
                tags: vec!["PREL".into(), "econ".into()],
                all_tags: true,
                ..Filter::default()
            },
        ];
        let mut compared = 0;
        let tunings = [
            (1, None, true),
            (3, None, true),
            (2, Some(3), true),
            (1, None, false),
            (2, Some(3), false),
        ];
        // Ranked by FTS5 (phrases, prefixes of several terms) and from stored postings.
        let queries = [
            "minister",
            "oil OR gas",
            "\"prime minister\"",
            "b*",
            "talks",
            "treaty",
            "oil gas",
            "treaty OR oil OR embargo",
            "bud*",
            "embargo talks",
        ];
        for query in queries {
            for collection in [None, Some("a"), Some("b")] {
                for filter in &filters {
                    for limit in [1, 5, 1000] {
                        let before = search_before(&catalog, query, collection, filter, limit);
                        for (workers, first_candidates, fts_only) in tunings {
                            let tuning = Tuning {
                                workers: Some(workers),
                                first_candidates,
                                fts_only,
                            };
                            let now: Vec<(String, String, f64)> = catalog
                                .search_with(query, collection, filter, limit, tuning)
                                .unwrap()
                                .into_iter()
                                .map(|h| (h.collection, h.id, h.score))
                                .collect();
                            assert_eq!(
                                now, before,
                                "{query} in {collection:?}, {filter:?}, limit {limit}, {tuning:?}"
                            );
                            compared += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(compared, queries.len() * 3 * 4 * 3 * tunings.len());
    }

    #[test]
    fn stored_postings_rank_every_match_as_fts5_does() {
        let (_dir, catalog) = made_up_catalog(600);
        for query in [
            "minister",
            "Minister",
            "oil OR gas",
            "gas OR oil",
            "oil gas",
            "oil oil",
            "treaty",
            "treaty OR oil OR embargo",
            "embargo OR treaty OR gas OR prime",
            "embargo talks treaty",
            "bud*",
            "bord* OR embargo",
            "elect*",
        ] {
            for rows in [(i64::MIN, i64::MAX), (1, 300), (97, 412), (600, 600)] {
                for limit in [None, Some(1), Some(7)] {
                    let q = catalog
                        .stored_query(query)
                        .unwrap()
                        .expect("stored postings");
                    let stored = catalog.rank_stored(&q, rows, limit).unwrap();
                    let fts = catalog.rank_fts(query, rows, limit, 1).unwrap();
                    assert_eq!(stored, Some(fts), "{query}, rows {rows:?}, limit {limit:?}");
                }
            }
        }
        // The same ranking in two halves side by side (used for long postings only).
        let corpus = Corpus::load(&catalog.conn).unwrap().unwrap();
        for query in ["oil OR gas", "embargo talks treaty", "minister"] {
            let q = catalog.stored_query(query).unwrap().unwrap();
            let stored: Vec<(Vec<u8>, usize)> = q
                .terms
                .iter()
                .map(|t| catalog.postings(t).unwrap().unwrap())
                .collect();
            let lists = || stored.iter().map(|(b, n)| Postings::new(b, *n)).collect();
            for rows in [(i64::MIN, i64::MAX), (97, 412), (600, 600)] {
                for limit in [None, Some(7)] {
                    let whole = rank_postings(&corpus, lists(), q.any, rows, limit);
                    let halves = rank_halves(&corpus, lists(), q.any, rows, limit);
                    assert_eq!(halves, whole, "{query}, rows {rows:?}, limit {limit:?}");
                }
            }
        }
        for not_plain_words in [
            "\"prime minister\"",
            "b*",
            "oil NOT gas",
            "NEAR(oil gas)",
            "nothere",
        ] {
            let stored = catalog.stored_query(not_plain_words).unwrap();
            assert!(stored.is_none(), "{not_plain_words}");
        }
    }

    #[test]
    fn ranking_rows_hold_what_the_cable_rows_and_tags_hold() {
        let (_dir, catalog) = made_up_catalog(300);
        assert!(catalog.has_ranking_rows().unwrap());
        let mut tagged = 0;
        for pk in 1..=300 {
            let m = || Ranked { pk, score: -1.5 };
            let short = catalog.ranking_row(m()).unwrap().expect("a ranking row");
            let long = catalog.cable_row(m()).unwrap().expect("a cable row");
            assert_eq!(short.hit, long.hit);
            assert_eq!(
                (&short.released, &short.redaction, short.partial_extract),
                (&long.released, &long.redaction, long.partial_extract)
            );
            let tags = catalog.tags_of(&long.hit.collection, &long.hit.id).unwrap();
            tagged += usize::from(!tags.is_empty());
            assert_eq!(short.tags, Some(tags), "row {pk}");
        }
        assert!(tagged > 100, "{tagged} of 300 rows have tags");
        assert!(
            catalog
                .ranking_row(Ranked {
                    pk: 301,
                    score: 0.0
                })
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn search_from_stored_postings_gives_the_hits_and_snippets_of_fts5() {
        let (_dir, catalog) = made_up_catalog(300);
        for query in ["oil OR gas", "treaty", "bud*", "oil gas"] {
            for collection in [None, Some("a")] {
                let filter = Filter::default();
                let now = catalog.search_with(query, collection, &filter, 20, Tuning::default());
                let before = catalog.search_with(query, collection, &filter, 20, FTS_ONLY);
                assert_eq!(now.unwrap(), before.unwrap(), "{query} in {collection:?}");
            }
        }
    }

    #[test]
    fn words_that_are_no_term_match_nothing_without_fts5() {
        let (_dir, catalog) = made_up_catalog(300);
        let filter = Filter::default();
        let search = |query, tuning| {
            catalog
                .search_with(query, None, &filter, 20, tuning)
                .unwrap()
        };
        for nothing in [
            "nothere",
            "nothere oil",
            "oil nothere",
            "nothere OR absent",
            "zz*",
            "oil zz*",
            "zz* OR nothere",
        ] {
            let plan = catalog.word_plan(nothing).unwrap();
            assert!(matches!(plan, WordPlan::NoMatch), "{nothing}: {plan:?}");
            assert_eq!(search(nothing, FTS_ONLY), Vec::new(), "{nothing}");
        }
        // One word of several joined by OR that is no term: FTS5 ranks the others.
        for some in ["nothere OR oil", "oil OR zz*"] {
            let plan = catalog.word_plan(some).unwrap();
            assert!(matches!(plan, WordPlan::Fts), "{some}: {plan:?}");
            let hits = search(some, Tuning::default());
            assert!(!hits.is_empty(), "{some}");
            assert_eq!(hits, search(some, FTS_ONLY), "{some}");
        }
    }

    #[test]
    fn only_plain_words_make_a_word_query() {
        let w = |text, prefix| Word { text, prefix };
        assert_eq!(
            word_query("oil OR gas*"),
            Some(WordQuery {
                words: vec![w("oil", false), w("gas", true)],
                any: true
            })
        );
        assert_eq!(
            word_query(" oil \t gas\n"),
            Some(WordQuery {
                words: vec![w("oil", false), w("gas", false)],
                any: false
            })
        );
        for other in [
            "",
            "oil OR",
            "OR oil",
            "oil OR gas talks",
            "oil AND gas",
            "\"oil\"",
            "oil*gas",
            "gas**",
            "*",
            "pétrole",
            "oil NOT gas",
            "NEAR(oil gas)",
            "subject:oil",
            "-oil",
            "oil_gas",
            "oil\u{a0}gas",
            "oil\u{c}gas",
            "oil *",
        ] {
            assert_eq!(word_query(other), None, "{other}");
        }
    }

    #[test]
    fn the_tokenizer_is_that_of_the_index() {
        assert!(SCHEMA.contains(&format!("tokenize = '{TOKENIZER}'")));
        let terms = terms_of_texts(&["Ministers", "oil", "a-b"]).unwrap();
        assert_eq!(terms, [vec!["minist"], vec!["oil"], vec!["a", "b"]]);
    }

    fn encode_postings(postings: &[(i64, u32)]) -> Vec<u8> {
        let mut writer = PostingsWriter::default();
        for &(row, freq) in postings {
            writer.push(row, freq);
        }
        writer.out
    }

    #[test]
    fn frequencies_come_back_from_bm25_scores() {
        let avgdl = 640.0 / 3.0;
        for idf in [1e-6, bm25_idf(1000, 3), bm25_idf(1000, 400)] {
            for length in [1.0, 17.0, 213.0, 5000.0, 70000.0] {
                for freq in (1..3000).step_by(7) {
                    let score = bm25([(idf, f64::from(freq))], length, avgdl);
                    let back = frequency_of(score, idf, length, avgdl).expect("a frequency");
                    let again = bm25([(idf, f64::from(back))], length, avgdl);
                    assert_eq!(again.to_bits(), score.to_bits(), "{idf} {length} {freq}");
                }
            }
        }
    }

    #[test]
    fn postings_and_row_lengths_read_back() {
        let postings = [(1, 1), (2, 300), (130, 7), (1 << 40, u32::MAX)];
        let bytes = encode_postings(&postings);
        assert_eq!(decode_postings(&bytes).unwrap(), postings);
        assert_eq!(decode_postings(&[0x80]), None);
        let sizes: Vec<u64> = column_sizes(&[0x05, 0x81, 0x00, 0x7f]).collect();
        assert_eq!(sizes, [5, 128, 127]);
    }

    #[test]
    fn snippets_made_together_are_those_made_one_by_one() {
        let (_dir, catalog) = made_up_catalog(300);
        for query in ["b*", "minister OR p*", "oil"] {
            let hits = catalog
                .search_with(query, None, &Filter::default(), 20, Tuning::default())
                .unwrap();
            assert!(!hits.is_empty(), "{query}");
            for h in hits {
                let pk: i64 = h.id.trim_start_matches("10X").parse().unwrap();
                assert_eq!(h.snippet, catalog.snippet(query, pk).unwrap(), "{query}");
                assert!(h.snippet.contains('['), "{query}: {}", h.snippet);
            }
        }
    }

    #[test]
    fn a_phrase_given_many_times_is_highlighted_as_given_once() {
        let (_dir, catalog) = made_up_catalog(60);
        let once = catalog
            .search_with("oil", None, &Filter::default(), 5, Tuning::default())
            .unwrap();
        assert!(!once.is_empty());
        for repeated in [
            vec!["oil"; 60].join(" "),
            vec!["oil"; 60].join(" OR "),
            ["OIL", "oil", "\"oil\"", "Oïl"].join(" "),
        ] {
            let hits = catalog
                .search_with(&repeated, None, &Filter::default(), 5, FTS_ONLY)
                .unwrap();
            let snippets = |h: &[Hit]| h.iter().map(|h| h.snippet.clone()).collect::<Vec<_>>();
            assert_eq!(snippets(&hits), snippets(&once), "{repeated}");
        }
    }

    #[test]
    fn snippets_of_queries_without_repeats_use_the_query_itself() {
        for query in [
            "oil",
            "oil OR gas",
            "\"the oil\" \"the gas\"",
            "a* ab*",
            "NEAR(a b)",
            "a a a a",
            "a b c d e f g",
        ] {
            assert_eq!(snippet_query(query).unwrap(), query);
        }
        assert_eq!(
            snippet_query("a a* b A \"a\"").unwrap(),
            "\"a\" OR \"a\"* OR \"b\""
        );
        assert_eq!(
            snippet_query("subject:oil OR {subject text}: oil OR oil OR oil OR oil").unwrap(),
            "\"oil\""
        );
    }

    /// A store with one version of the sample cable 10EXAMPLE202.
    fn sample_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let lock = store.lock(false).unwrap();
        let page = include_bytes!("../../examples/10EXAMPLE202.html");
        let item = crate::input::InputItem::bytes("10EXAMPLE202.html", page.to_vec());
        store
            .write_version(
                &lock,
                crate::store::WriteRequest {
                    collection: "demo",
                    inputs: vec![(item.into(), Default::default())],
                    replace: false,
                    message: "",
                    progress: &crate::progress::NoProgress,
                },
            )
            .unwrap();
        (dir, store)
    }

    /// A catalog place that cannot be written even by root: its folder is a regular file.
    fn unwritable_place(dir: &Path) -> PathBuf {
        std::fs::write(dir.join("a-file"), b"").unwrap();
        dir.join("a-file").join("catalog.sqlite")
    }

    #[test]
    fn a_store_that_cannot_be_written_gets_its_catalog_in_the_cache() {
        let (dir, store) = sample_store();
        let blocked = unwritable_place(dir.path());
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = cache_dir.path().join("c").join("catalog.sqlite");
        let progress = &crate::progress::NoProgress;
        let open = || Catalog::open_in(&store, &blocked, Some(cache.clone()), progress).unwrap();
        let (catalog, rebuilt) = open();
        assert!(rebuilt);
        assert_eq!(catalog.path(), cache);
        let hits = catalog
            .search("redacted", None, &Filter::default(), 5)
            .unwrap();
        assert_eq!(hits.len(), 1);
        let (again, rebuilt) = open();
        assert!(!rebuilt, "the cached catalog is reused");
        assert_eq!(again.path(), cache);
    }

    #[test]
    fn without_a_cache_a_catalog_is_made_for_the_run() {
        let (dir, store) = sample_store();
        let blocked = unwritable_place(dir.path());
        let progress = &crate::progress::NoProgress;
        let (catalog, rebuilt) = Catalog::open_in(&store, &blocked, None, progress).unwrap();
        assert!(rebuilt);
        let path = catalog.path().to_path_buf();
        assert!(!path.starts_with(dir.path()));
        assert_eq!(
            catalog
                .search("redacted", None, &Filter::default(), 5)
                .unwrap()
                .len(),
            1
        );
        drop(catalog);
        assert!(!path.exists(), "the run's catalog is removed");
    }

    #[test]
    fn queries_are_bounded_in_bytes_and_words() {
        assert!(check_query(&vec!["a"; MAX_QUERY_WORDS].join(" OR ")).is_ok());
        let many = vec!["a"; MAX_QUERY_WORDS + 1].join(" ");
        assert!(
            check_query(&many)
                .unwrap_err()
                .to_string()
                .contains("words")
        );
        let long = "a".repeat(MAX_QUERY_BYTES + 1);
        assert!(
            check_query(&long)
                .unwrap_err()
                .to_string()
                .contains("bytes")
        );
    }

    #[test]
    fn rows_are_cut_into_contiguous_slices_that_cover_them() {
        assert_eq!(split_rows((1, 10), 3), [(1, 3), (4, 6), (7, 10)]);
        assert_eq!(split_rows((5, 6), 4), [(5, 5), (6, 6)]);
        assert_eq!(split_rows((1, 0), 2), [(1, 0)]);
        let all = split_rows((i64::MIN, i64::MAX), 2);
        assert_eq!(all, [(i64::MIN, -1), (0, i64::MAX)]);
    }
}
