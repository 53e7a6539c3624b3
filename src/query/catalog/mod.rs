//! The catalog: a SQLite database (with an FTS5 full-text index) of the cables of archive
//! versions, for search and stats, and the writer of SQLite exports. The only module that uses
//! rusqlite. This file is its face: the open [`Catalog`] and what other modules use.
//!
//! The store's catalog (`.cablekeep/catalog.sqlite`) indexes the latest version of every
//! collection. It is never the source of truth: it is rebuilt from the archives whenever the
//! sidecar manifest digests it was built from are not those of the latest versions, and deleting
//! it loses nothing. It is built in a temporary file and renamed into place (`upkeep`).
//!
//! Tables (the same in SQLite exports, `schema`, written by `writer`): `meta`, `versions`,
//! `cables`, `captures`, `sources`, `tags`, `references`, `link_check_events` and the FTS5 table
//! `cables_fts` over the subject and text of `cables` (external content, so Datasette finds it).
//! The store's catalog also has what search ranks and filters from without touching those
//! (`ranking_corpus`, `ranking_terms`, `ranking_rows`), laid out as `meta`'s `ranking` value
//! says: a catalog laid out otherwise is rebuilt. All of search (the query language, ranking,
//! snippets and the data they keep in the catalog) lies in `search`: the rest of the catalog
//! knows it only by the few functions of its face.

mod schema;
mod search;
#[cfg(test)]
mod tests;
mod upkeep;
mod writer;

pub use schema::CATALOG_SCHEMA;
pub use search::{Hit, MAX_QUERY_BYTES, MAX_QUERY_WORDS, check_query};
pub use writer::{DbWriter, add_archive};

use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// A SQLite error on the database at `path`, reported as a damaged file.
fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("SQLite: {e}"),
    }
}

/// An open catalog (read only).
pub struct Catalog {
    conn: Connection,
    path: PathBuf,
    /// The temporary folder of a catalog made for one run, removed when it is dropped.
    _tmp: Option<tempfile::TempDir>,
    /// What search learns of the catalog once and keeps.
    search: search::Known,
}

impl Catalog {
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
            search: search::Known::default(),
        })
    }

    /// A SQLite error on this catalog.
    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
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
}

/// A second connection to a catalog, for another thread.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}
