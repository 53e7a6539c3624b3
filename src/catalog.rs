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
//! and text of `cables` (external content, so Datasette finds it).

use crate::archive::OpenArchive;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::select::{self, Facts, Filter, Keep, Need, Selected, VersionRef};
use crate::store::{Progress, Store};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
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
    pk INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL,
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
        let err = |e| db_error(&self.path, e);
        self.insert_meta(meta).map_err(err)?;
        self.conn.execute_batch("COMMIT").map_err(err)?;
        self.conn
            .execute_batch("INSERT INTO cables_fts (cables_fts) VALUES ('optimize'); VACUUM;")
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
        "INSERT INTO cables (collection, id, created, released, classification, caveats, origin,
         subject, signers, redaction_status, redaction_runs, partial_extract, captures,
         current_capture, publisher, source_url, upstream_url, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
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
                s.format,
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
}

impl Catalog {
    /// Where a store keeps its catalog.
    pub fn path_in(store: &Store) -> PathBuf {
        store.root().join(".cablekeep").join("catalog.sqlite")
    }

    /// Opens the store's catalog, rebuilding it first when it does not index exactly the latest
    /// version of every collection (by their sidecar manifest digests). Returns the catalog and
    /// whether it was rebuilt.
    pub fn open(store: &Store, progress: &dyn Progress) -> Result<(Catalog, bool)> {
        let mut wanted = Vec::new();
        for c in store.collections()? {
            if let Some(v) = store.latest(&c)? {
                wanted.push(VersionRef::read(store, &c, v)?);
            }
        }
        let path = Self::path_in(store);
        if path.exists()
            && let Ok(catalog) = Catalog::open_file(&path)
            && catalog.indexes(&wanted).unwrap_or(false)
        {
            return Ok((catalog, false));
        }
        let dir = path.parent().expect("catalog path has a folder");
        let tmp = fsutil::temp_file_in(dir)?;
        let mut db = DbWriter::create(tmp.path())?;
        for v in &wanted {
            let archive = OpenArchive::open(&store.zip_path(&v.collection, v.version))?;
            add_archive(&mut db, v, &archive, &|_| true, progress)?;
        }
        let meta = row_ranges(&db, &wanted)?;
        db.finish(&meta)?;
        fsutil::persist(tmp, &path, false)?;
        Ok((Catalog::open_file(&path)?, true))
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
        // A catalog made before the row ranges were recorded is rebuilt: without them every
        // search of a collection counted its rows first (30 ms at 250,000 cables).
        let ranges_known = wanted
            .iter()
            .map(|v| self.recorded_rows(&v.collection))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?
            .iter()
            .all(Option::is_some);
        Ok(have == want && ranges_known)
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
/// and thread cost about a millisecond).
const ROWS_PER_WORKER: i64 = 20_000;

/// How many of the best matches are first checked against a filter, per hit wanted, and at
/// least: a filter that lets one match in 64 through finds its hits there.
const FILTERED_CANDIDATES_PER_HIT: usize = 64;
const MIN_FILTERED_CANDIDATES: usize = 4096;

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
    /// Matches first checked against a filter (default: see [`FILTERED_CANDIDATES_PER_HIT`]).
    first_candidates: Option<usize>,
}

/// The cable row of a ranked match, with what the filter looks at.
struct Candidate {
    pk: i64,
    hit: Hit,
    released: Option<String>,
    redaction: String,
    partial_extract: bool,
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
    ///
    /// FTS5 computes bm25 for every match before it can sort, about 0.8 microseconds each, so a
    /// word found in most of 250,000 cables took 200 ms on one core. The rows are cut into
    /// slices ranked side by side, each on its own connection. A match's score does not depend
    /// on the slice (bm25 takes the corpus statistics from the whole index), so the best
    /// `limit` of the merged slices are the best `limit` of the whole, in the same order.
    fn rank(
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
                    s.spawn(move || {
                        let conn = Connection::open_with_flags(
                            path,
                            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        rank_rows(&conn, query, slice, limit)
                    })
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

    /// The cable row of a ranked match (`None` if it has none, which a catalog never has).
    fn candidate(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        self.conn
            .prepare_cached(
                "SELECT collection, id, subject, created, origin, classification, released,
                        redaction_status, partial_extract
                 FROM cables WHERE pk = ?1",
            )?
            .query_row([m.pk], |row| {
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
                })
            })
            .optional()
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
        let tags = if filter.tags.is_empty() {
            Vec::new()
        } else {
            self.tags_of(&c.hit.collection, &c.hit.id)?
        };
        let facts = Facts {
            id: &c.hit.id,
            created: c.hit.created.as_deref(),
            released: c.released.as_deref(),
            classification: c.hit.classification.as_deref(),
            origin: c.hit.origin.as_deref(),
            tags: &tags,
            redaction: &c.redaction,
            partial_extract: c.partial_extract,
        };
        Ok(filter.matches(&facts))
    }

    /// Ranks the matches without their snippets, then makes snippets for the hits only: a
    /// snippet re-reads its cable's text, so making one for every match (thousands for a common
    /// word) before sorting was most of a search's time.
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
        let workers = tuning.workers.unwrap_or_else(|| Self::workers_for(rows));
        let mut hits: Vec<Candidate> = Vec::new();
        if all_rows_wanted {
            for m in self.rank(query, rows, Some(limit), workers)? {
                hits.extend(self.candidate(m)?);
            }
        } else {
            // Most searches find their hits among the best few thousand matches: rank only
            // those (SQLite keeps them in a small heap instead of sorting every match), and
            // rank every match only when that was not enough.
            let first_try = tuning.first_candidates.unwrap_or_else(|| {
                limit
                    .saturating_mul(FILTERED_CANDIDATES_PER_HIT)
                    .max(MIN_FILTERED_CANDIDATES)
            });
            hits = match self.filtered(
                query,
                rows,
                collection,
                &filter,
                limit,
                Some(first_try),
                workers,
            )? {
                Some(found) => found,
                None => self
                    .filtered(query, rows, collection, &filter, limit, None, workers)?
                    .unwrap_or_default(),
            };
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
        let mut snippets = self.snippets(query, &pks)?;
        Ok(hits
            .into_iter()
            .map(|c| Hit {
                snippet: snippets.remove(&c.pk).unwrap_or_default(),
                ..c.hit
            })
            .collect())
    }

    /// The hits among the best `candidates` matches (all matches when `None`) that are in the
    /// collection and pass the filter: read in ranking order until `limit` pass and the next
    /// match scores worse than the last of them. `None` when the candidates ran out before that
    /// and there may be more matches.
    #[allow(clippy::too_many_arguments)]
    fn filtered(
        &self,
        query: &str,
        rows: (i64, i64),
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
        candidates: Option<usize>,
        workers: usize,
    ) -> rusqlite::Result<Option<Vec<Candidate>>> {
        let ranked = self.rank(query, rows, candidates, workers)?;
        let all_seen = candidates.is_none_or(|n| ranked.len() < n);
        let mut hits = Vec::new();
        let mut cut: Option<f64> = None;
        for m in ranked {
            if cut.is_some_and(|worst| m.score > worst) {
                return Ok(Some(hits));
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
        Ok((all_seen || limit == 0).then_some(hits))
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
    /// indexed word with that prefix, whatever rows it then reads: 9 ms at 250,000 cables for
    /// `develop*`, so 20 snippets made one by one took 190 ms. A prefix query's snippets are
    /// therefore made by one statement over the hits' rows (25 ms), others one by one (each a
    /// direct lookup, under 0.2 ms, where one statement over the rows would read every match
    /// between them). A snippet depends only on its row and the query, so both give the same.
    fn snippets(
        &self,
        query: &str,
        pks: &[i64],
    ) -> rusqlite::Result<std::collections::HashMap<i64, String>> {
        let (Some(&first), Some(&last)) = (pks.iter().min(), pks.iter().max()) else {
            return Ok(Default::default());
        };
        if !query.contains('*') {
            return pks
                .iter()
                .map(|&pk| Ok((pk, self.snippet(query, pk)?)))
                .collect();
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

    /// The best matching passage of one cable, matches in `[` `]`.
    fn snippet(&self, query: &str, pk: i64) -> rusqlite::Result<String> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT snippet(cables_fts, -1, '[', ']', '...', 16) FROM cables_fts
             WHERE cables_fts MATCH ?1 AND rowid = ?2",
        )?;
        let s: Option<Option<String>> = stmt
            .query_row(params![query, pk], |r| r.get(0))
            .optional()?;
        Ok(s.flatten().unwrap_or_default())
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

/// `a "b c` -> `"a" """b" "c"`: every word as an FTS5 string, so any text can be searched.
fn quote_words(query: &str) -> String {
    query
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDS: [&str; 8] = [
        "minister", "election", "oil", "gas", "border", "prime", "talks", "budget",
    ];

    /// A catalog of `n` made-up cables, the first half in collection `a`, the rest in `b` (only
    /// `a`'s row range recorded), with texts of repeated words so that scores vary and tie.
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
            let words: Vec<&str> = (0..3 + next(12))
                .map(|_| WORDS[next(WORDS.len())])
                .collect();
            let text = words.join(" ");
            let subject = WORDS[next(WORDS.len())];
            let origin = ["Embassy X", "Embassy Y"][next(2)];
            conn.execute(
                "INSERT INTO cables (pk, collection, id, origin, subject, redaction_status,
                 redaction_runs, partial_extract, captures, current_capture, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'not-redacted', 0, 0, 1, 'c', ?6)",
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
        drop(conn);
        let catalog = Catalog::open_file(&path).unwrap();
        (dir, catalog)
    }

    /// The search as it was before ranking was cut into slices and filters checked lazily:
    /// one statement, filters checked on every match in the final order.
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
        for query in [
            "minister",
            "oil OR gas",
            "\"prime minister\"",
            "b*",
            "talks",
        ] {
            for collection in [None, Some("a"), Some("b")] {
                for filter in &filters {
                    for limit in [1, 5, 1000] {
                        let before = search_before(&catalog, query, collection, filter, limit);
                        for (workers, first_candidates) in [(1, None), (3, None), (2, Some(3))] {
                            let tuning = Tuning {
                                workers: Some(workers),
                                first_candidates,
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
        assert_eq!(compared, 5 * 3 * 4 * 3 * 3);
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
    fn rows_are_cut_into_contiguous_slices_that_cover_them() {
        assert_eq!(split_rows((1, 10), 3), [(1, 3), (4, 6), (7, 10)]);
        assert_eq!(split_rows((5, 6), 4), [(5, 5), (6, 6)]);
        assert_eq!(split_rows((1, 0), 2), [(1, 0)]);
        let all = split_rows((i64::MIN, i64::MAX), 2);
        assert_eq!(all, [(i64::MIN, -1), (0, i64::MAX)]);
    }
}
