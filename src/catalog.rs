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
        db.finish(&[])?;
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
        db.finish(&[])?;
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
        Ok(have == want)
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
        self.conn
            .prepare_cached("SELECT min(pk), max(pk), count(*) FROM cables WHERE collection = ?1")?
            .query_row([collection], |r| {
                let (first, last, n): (Option<i64>, Option<i64>, i64) =
                    (r.get(0)?, r.get(1)?, r.get(2)?);
                Ok(match (first, last) {
                    (Some(a), Some(b)) if b - a + 1 == n => Some((a, b)),
                    _ => None,
                })
            })
    }

    fn query_error(&self, query: &str, e: rusqlite::Error) -> Error {
        Error::Invalid(format!("search query {query:?}: {e}"))
    }

    /// Ranks the matches without their snippets, then makes snippets for the hits only: a
    /// snippet re-reads its cable's text, so making one for every match (thousands for a common
    /// word) before sorting was most of a search's time. Without other criteria the LIMIT is
    /// given to SQLite, which then keeps only the best rows while it ranks.
    fn search_raw(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> rusqlite::Result<Vec<Hit>> {
        let only_query = Filter {
            query: None,
            ..filter.clone()
        }
        .is_empty();
        let sql_limit = if only_query {
            i64::try_from(limit).unwrap_or(i64::MAX)
        } else {
            -1
        };
        // When every match of the collection is a candidate, the best `limit` are picked inside
        // the full-text index, before any join: a common word matches most of the corpus, and
        // joining every match with its cable row cost most of a search's time at full scale.
        // Rows tied on the score at the cut are taken in catalog order.
        let rows_of_collection = match collection {
            Some(c) => self.contiguous_rows(c)?,
            None => Some((i64::MIN, i64::MAX)),
        };
        let (fts_limit, (first_row, last_row)) = match rows_of_collection {
            Some(range) if only_query => (sql_limit, range),
            _ => (-1, (i64::MIN, i64::MAX)),
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.pk, c.collection, c.id, f.score, c.subject, c.created, c.origin,
                    c.classification, c.released, c.redaction_status, c.partial_extract
             FROM (SELECT rowid AS pk, bm25(cables_fts) AS score FROM cables_fts
                   WHERE cables_fts MATCH ?1 AND rowid BETWEEN ?5 AND ?6
                   ORDER BY score, rowid LIMIT ?4) f
             JOIN cables c ON c.pk = f.pk
             WHERE (?2 IS NULL OR c.collection = ?2)
             ORDER BY f.score, c.collection, c.id
             LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![
            query, collection, sql_limit, fts_limit, first_row, last_row
        ])?;
        let mut hits = Vec::new();
        while hits.len() < limit
            && let Some(row) = rows.next()?
        {
            let pk: i64 = row.get(0)?;
            let hit = Hit {
                collection: row.get(1)?,
                id: row.get(2)?,
                score: row.get(3)?,
                subject: row.get(4)?,
                created: row.get(5)?,
                origin: row.get(6)?,
                classification: row.get(7)?,
                snippet: String::new(),
            };
            if only_query {
                hits.push((pk, hit));
                continue;
            }
            let released: Option<String> = row.get(8)?;
            let redaction: String = row.get(9)?;
            let partial: bool = row.get(10)?;
            let tags = if filter.tags.is_empty() {
                Vec::new()
            } else {
                self.tags_of(&hit.collection, &hit.id)?
            };
            let facts = Facts {
                id: &hit.id,
                created: hit.created.as_deref(),
                released: released.as_deref(),
                classification: hit.classification.as_deref(),
                origin: hit.origin.as_deref(),
                tags: &tags,
                redaction: &redaction,
                partial_extract: partial,
            };
            if filter.matches(&facts) {
                hits.push((pk, hit));
            }
        }
        drop(rows);
        hits.into_iter()
            .map(|(pk, mut hit)| {
                hit.snippet = self.snippet(query, pk)?;
                Ok(hit)
            })
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
