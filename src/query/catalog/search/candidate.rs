//! The catalog row of a ranked match and the filter's check of it.

use super::rank::Ranked;
use super::{Candidate, Hit};
use crate::query::catalog::Catalog;
use crate::query::select::{Facts, Filter};
use rusqlite::{OptionalExtension, params, types::Type};

/// Whether the row a candidate is read from holds its tags (`ranking_rows` does, as a JSON
/// array in a tenth column; `cables` does not, so they are read from `tags` when a filter
/// needs them).
#[derive(Debug, Clone, Copy)]
enum TagsColumn {
    With,
    Without,
}

impl Catalog {
    /// The cable row of a ranked match (`None` if it has none, which a catalog never has):
    /// from `ranking_rows` with its tags where the catalog has it, else from `cables`.
    pub(super) fn candidate(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        match self.has_ranking_rows()? {
            true => self.ranking_row(m),
            false => self.cable_row(m),
        }
    }

    /// [`Catalog::candidate`] from `cables`, without its tags.
    pub(super) fn cable_row(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        self.candidate_from(
            "SELECT collection, id, subject, created, origin, classification, released,
                    redaction_status, partial_extract
             FROM cables WHERE pk = ?1",
            m,
            TagsColumn::Without,
        )
    }

    /// [`Catalog::candidate`] from `ranking_rows`, with its tags.
    pub(super) fn ranking_row(&self, m: Ranked) -> rusqlite::Result<Option<Candidate>> {
        self.candidate_from(
            "SELECT collection, id, subject, created, origin, classification, released,
                    redaction_status, partial_extract, tags
             FROM ranking_rows WHERE pk = ?1",
            m,
            TagsColumn::With,
        )
    }

    /// The candidate that `sql` reads for row `m.pk`: nine columns as [`Catalog::cable_row`]
    /// names them, then, [`TagsColumn::With`], the tags as a JSON array.
    fn candidate_from(
        &self,
        sql: &str,
        m: Ranked,
        tags_column: TagsColumn,
    ) -> rusqlite::Result<Option<Candidate>> {
        self.conn
            .prepare_cached(sql)?
            .query_row([m.pk], |row| {
                let tags = match tags_column {
                    TagsColumn::Without => None,
                    TagsColumn::With => {
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

    pub(super) fn has_ranking_rows(&self) -> rusqlite::Result<bool> {
        if let Some(&known) = self.search.has_ranking_rows.get() {
            return Ok(known);
        }
        let known = self.has_table("ranking_rows")?;
        Ok(*self.search.has_ranking_rows.get_or_init(|| known))
    }

    /// Whether a candidate is in the collection searched and passes the filter's criteria.
    pub(super) fn passes(
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

    pub(super) fn tags_of(&self, collection: &str, id: &str) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tag FROM tags WHERE collection = ?1 AND cable = ?2 ORDER BY position",
        )?;
        stmt.query_map(params![collection, id], |r| r.get(0))?
            .collect()
    }
}
