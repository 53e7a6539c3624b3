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

use crate::error::{Error, Result};
use crate::fsutil;
use crate::select::{Facts, Filter, LoadedCable, VersionRef};
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

/// One version and its loaded cables, to be written into a database.
pub struct Part<'a> {
    pub version: &'a VersionRef,
    pub cables: &'a [LoadedCable],
}

/// Creates the tables in a new database at `path` and fills them. `meta` rows are added to the
/// `meta` table. The file is complete when this returns (no journal is left beside it).
pub fn write_database(
    path: &Path,
    meta: &[(String, String)],
    parts: &[Part<'_>],
    progress: &dyn Progress,
) -> Result<()> {
    let err = |e| db_error(path, e);
    let mut conn = Connection::open(path).map_err(err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 4096;",
    )
    .map_err(err)?;
    conn.execute_batch(SCHEMA).map_err(err)?;
    let tx = conn.transaction().map_err(err)?;
    {
        let mut m = tx
            .prepare("INSERT INTO meta (key, value) VALUES (?1, ?2)")
            .map_err(err)?;
        m.execute(params!["schema", CATALOG_SCHEMA]).map_err(err)?;
        for (k, v) in meta {
            m.execute(params![k, v]).map_err(err)?;
        }
        let total = parts.iter().map(|p| p.cables.len() as u64).sum();
        progress.start("indexing", total);
        for part in parts {
            insert_part(&tx, part).map_err(err)?;
            progress.inc(part.cables.len() as u64);
        }
        progress.finish();
    }
    tx.commit().map_err(err)?;
    conn.execute_batch("INSERT INTO cables_fts (cables_fts) VALUES ('optimize'); VACUUM;")
        .map_err(err)?;
    conn.close().map_err(|(_, e)| err(e))
}

fn insert_part(tx: &rusqlite::Transaction<'_>, part: &Part<'_>) -> rusqlite::Result<()> {
    let v = part.version;
    let c = &v.collection;
    tx.execute(
        "INSERT INTO versions VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            c,
            v.version,
            v.identifier,
            v.manifest_sha256,
            v.archive_sha256,
            v.created
        ],
    )?;
    let mut cables = tx.prepare(
        "INSERT INTO cables (collection, id, created, released, classification, caveats, origin,
         subject, signers, redaction_status, redaction_runs, partial_extract, captures,
         current_capture, publisher, source_url, upstream_url, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    let mut fts =
        tx.prepare("INSERT INTO cables_fts (rowid, subject, text) VALUES (?1, ?2, ?3)")?;
    let mut captures = tx.prepare(
        "INSERT INTO captures VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
         ?15, ?16, ?17, ?18, ?19)",
    )?;
    let mut sources = tx.prepare(
        "INSERT INTO sources VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut tags = tx.prepare("INSERT INTO tags VALUES (?1, ?2, ?3, ?4)")?;
    let mut refs = tx.prepare("INSERT INTO \"references\" VALUES (?1, ?2, ?3, ?4)")?;
    for cable in part.cables {
        let line = &cable.line;
        let r = &cable.current().stored.record;
        let current = &cable.current().stored.capture;
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
            current.name,
            r.source.publisher,
            r.source.url,
            r.source.upstream_url,
            r.text,
        ])?;
        let pk = tx.last_insert_rowid();
        fts.execute(params![pk, r.subject, r.text])?;
        for (i, t) in r.tags.iter().enumerate() {
            tags.execute(params![c, line.id, i as i64, t])?;
        }
        for (i, x) in r.references.iter().enumerate() {
            refs.execute(params![c, line.id, i as i64, x])?;
        }
        let n = line.captures.len();
        for (i, (cap, rec)) in line.captures.iter().zip(&cable.records).enumerate() {
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
            let s = &rec.stored.record.source;
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
        let mut loaded = Vec::new();
        for v in &wanted {
            let archive =
                crate::archive::OpenArchive::open(&store.zip_path(&v.collection, v.version))?;
            let (lines, _) = crate::store::read_index(&archive)?;
            loaded.push(crate::select::load(&archive, lines, progress)?);
        }
        let parts: Vec<Part<'_>> = wanted
            .iter()
            .zip(&loaded)
            .map(|(version, cables)| Part { version, cables })
            .collect();
        let dir = path.parent().expect("catalog path has a folder");
        let tmp = fsutil::temp_file_in(dir)?;
        write_database(tmp.path(), &[], &parts, progress)?;
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

    /// A temporary catalog of one version's cables (for a version that is not the latest).
    pub fn in_memory(version: &VersionRef, cables: &[LoadedCable]) -> Result<Catalog> {
        let tmp = tempfile::Builder::new()
            .prefix(fsutil::TEMP_PREFIX)
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let path = tmp.path().join("catalog.sqlite");
        write_database(
            &path,
            &[],
            &[Part { version, cables }],
            &crate::store::NoProgress,
        )?;
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

    fn query_error(&self, query: &str, e: rusqlite::Error) -> Error {
        Error::Invalid(format!("search query {query:?}: {e}"))
    }

    fn search_raw(
        &self,
        query: &str,
        collection: Option<&str>,
        filter: &Filter,
        limit: usize,
    ) -> rusqlite::Result<Vec<Hit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.collection, c.id, bm25(cables_fts) AS score, c.subject, c.created, c.origin,
                    c.classification, snippet(cables_fts, -1, '[', ']', '...', 16),
                    c.released, c.redaction_status, c.partial_extract,
                    (SELECT group_concat(tag, char(10)) FROM tags t
                      WHERE t.collection = c.collection AND t.cable = c.id)
             FROM cables_fts JOIN cables c ON c.pk = cables_fts.rowid
             WHERE cables_fts MATCH ?1 AND (?2 IS NULL OR c.collection = ?2)
             ORDER BY score, c.collection, c.id",
        )?;
        let mut rows = stmt.query(params![query, collection])?;
        let mut hits = Vec::new();
        while let Some(row) = rows.next()? {
            let hit = Hit {
                collection: row.get(0)?,
                id: row.get(1)?,
                score: row.get(2)?,
                subject: row.get(3)?,
                created: row.get(4)?,
                origin: row.get(5)?,
                classification: row.get(6)?,
                snippet: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
            };
            let released: Option<String> = row.get(8)?;
            let redaction: String = row.get(9)?;
            let partial: bool = row.get(10)?;
            let tags: Vec<String> = row
                .get::<_, Option<String>>(11)?
                .map(|t| t.split('\n').map(str::to_string).collect())
                .unwrap_or_default();
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
                hits.push(hit);
                if hits.len() >= limit {
                    break;
                }
            }
        }
        Ok(hits)
    }

    /// The ids of the cables of `collection` whose subject or text matches `query`.
    pub fn matching_ids(&self, collection: &str, query: &str) -> Result<BTreeSet<String>> {
        let hits = self.search(query, Some(collection), &Filter::default(), usize::MAX)?;
        Ok(hits.into_iter().map(|h| h.id).collect())
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
