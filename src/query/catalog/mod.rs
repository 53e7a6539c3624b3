//! The catalog: the SQLite database of `export --format sqlite`, with an FTS5 full-text index
//! (researchers open it in `sqlite3` and Datasette). The only module that uses rusqlite.
//!
//! Tables (`schema`, written by `writer`): `meta`, `versions`, `cables`, `captures`, `sources`,
//! `tags`, `references`, `link_check_events` and the FTS5 table `cables_fts` over the subject
//! and text of `cables` (external content, so Datasette finds it). The store's own search index
//! is not SQLite: see [`crate::query::search`].

mod schema;
mod writer;

pub use schema::CATALOG_SCHEMA;
pub use writer::{DbWriter, add_archive};

use crate::error::Error;
use std::path::Path;

/// A SQLite error on the database at `path`, reported as a damaged file.
fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        message: format!("SQLite: {e}"),
    }
}
