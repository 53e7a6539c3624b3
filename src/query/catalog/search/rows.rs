//! The row ranges of collections: recorded in `meta` when a catalog is written, so that a
//! search of one collection ranks only its rows.

use super::super::db_error;
use super::super::writer::DbWriter;
use crate::error::Result;
use crate::query::catalog::Catalog;
use crate::query::select::VersionRef;
use rusqlite::{Connection, OptionalExtension};

impl Catalog {
    /// The catalog rows of a collection as a range, when they are contiguous (they are as the
    /// catalog is built, one collection after the other), so the full-text index can be asked
    /// for that collection's best matches alone.
    pub(super) fn contiguous_rows(&self, collection: &str) -> rusqlite::Result<Option<(i64, i64)>> {
        if let Some(range) = self.recorded_rows(collection)? {
            return Ok(Some(range));
        }
        count_contiguous_rows(&self.conn, collection)
    }

    /// The row range of a collection recorded in `meta` when the catalog was built.
    pub(super) fn recorded_rows(&self, collection: &str) -> rusqlite::Result<Option<(i64, i64)>> {
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
pub(super) fn rows_key(collection: &str) -> String {
    format!("rows {collection}")
}

/// The `meta` rows recording each collection's row range (`first last`), when its rows are
/// contiguous (they are, as a catalog is written one collection after the other).
pub(in crate::query::catalog) fn row_ranges(
    db: &DbWriter,
    versions: &[VersionRef],
) -> Result<Vec<(String, String)>> {
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
pub(super) fn count_contiguous_rows(
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
impl Catalog {
    /// The first and last row of the whole catalog (any collection).
    pub(super) fn all_rows(&self) -> rusqlite::Result<(i64, i64)> {
        self.conn
            .prepare_cached("SELECT min(pk), max(pk) FROM cables")?
            .query_row([], |r| {
                let (first, last): (Option<i64>, Option<i64>) = (r.get(0)?, r.get(1)?);
                Ok((first.unwrap_or(1), last.unwrap_or(0)))
            })
    }
}
