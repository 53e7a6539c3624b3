//! The writer of SQLite exports (`export --format sqlite`), a batch of cables at a time.

use super::db_error;
use super::schema::{CATALOG_SCHEMA, SCHEMA};
use crate::bag::OpenArchive;
use crate::error::Result;
use crate::progress::Progress;
use crate::query::select::{self, Keep, Need, Selected, VersionRef};
use rusqlite::{CachedStatement, Connection, params};
use std::path::{Path, PathBuf};

/// Writes a new database (a catalog or a SQLite export) a batch of cables at a time, inside one
/// transaction, so that memory is bounded by the batch whatever the corpus. The statements and
/// their order are those of one pass over all cables, so the file is the same byte for byte.
pub struct DbWriter {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
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
            .execute_batch("INSERT INTO cables_fts (cables_fts) VALUES ('optimize')")
            .map_err(err)?;
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
        skip_text: false,
        older: false,
    };
    progress.start("indexing", version.cables);
    let n = select::stream(archive, keep, need, progress, |batch| {
        db.add_cables(&version.collection, &batch)
    });
    progress.finish();
    n
}

/// Writes a batch of cables: each cable's row and full-text entry, tags and references, then
/// its captures and their sources, in that order (the order fixes the row ids, so the bytes).
fn insert_cables(conn: &Connection, c: &str, batch: &[Selected]) -> rusqlite::Result<()> {
    let mut inserts = Inserts::prepare(conn)?;
    for cable in batch {
        inserts.cable(conn, c, cable)?;
        inserts.captures(c, cable)?;
    }
    Ok(())
}

/// The prepared statements that write a cable's rows.
struct Inserts<'c> {
    cables: CachedStatement<'c>,
    fts: CachedStatement<'c>,
    captures: CachedStatement<'c>,
    sources: CachedStatement<'c>,
    tags: CachedStatement<'c>,
    refs: CachedStatement<'c>,
}

impl<'c> Inserts<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Inserts<'c>> {
        Ok(Inserts {
            cables: conn.prepare_cached(
                "INSERT INTO cables (collection, id, published_id, created, released, classification,
         caveats, origin, subject, signers, redaction_status, redaction_runs, partial_extract,
         captures, current_capture, publisher, source_url, upstream_url, text)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
         ?19)",
            )?,
            fts: conn
                .prepare_cached("INSERT INTO cables_fts (rowid, subject, text) VALUES (?1, ?2, ?3)")?,
            captures: conn.prepare_cached(
                "INSERT INTO captures VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
         ?15, ?16, ?17, ?18, ?19)",
            )?,
            sources: conn.prepare_cached(
                "INSERT INTO sources VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?,
            tags: conn.prepare_cached("INSERT INTO tags VALUES (?1, ?2, ?3, ?4)")?,
            refs: conn.prepare_cached("INSERT INTO \"references\" VALUES (?1, ?2, ?3, ?4)")?,
        })
    }

    /// The cable's row, its full-text entry, its tags and its references.
    fn cable(&mut self, conn: &Connection, c: &str, cable: &Selected) -> rusqlite::Result<()> {
        let line = &cable.line;
        let r = &cable.record;
        self.cables.execute(params![
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
        self.fts.execute(params![pk, r.subject, r.text])?;
        for (i, t) in r.tags.iter().enumerate() {
            self.tags.execute(params![c, line.id, i as i64, t])?;
        }
        for (i, x) in r.references.iter().enumerate() {
            self.refs.execute(params![c, line.id, i as i64, x])?;
        }
        Ok(())
    }

    /// The cable's captures, the last one marked current, and the source of each.
    fn captures(&mut self, c: &str, cable: &Selected) -> rusqlite::Result<()> {
        let line = &cable.line;
        let n = line.captures.len();
        for (i, (cap, s)) in line.captures.iter().zip(&cable.sources).enumerate() {
            self.captures.execute(params![
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
            self.sources.execute(params![
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
        Ok(())
    }
}
