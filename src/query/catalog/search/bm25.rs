//! bm25 exactly as FTS5 computes it, and what it takes from the whole index ([`Corpus`]).

use rusqlite::{Connection, OptionalExtension, params};

/// bm25's constants in FTS5 (fts5Bm25Function).
const K1: f64 = 1.2;

const B: f64 = 0.75;

/// The IDF FTS5 gives a phrase found in `hits` of `documents` rows (fts5Bm25GetData).
pub(super) fn bm25_idf(documents: i64, hits: i64) -> f64 {
    let idf = (((documents - hits) as f64 + 0.5) / (hits as f64 + 0.5)).ln();
    if idf <= 0.0 { 1e-6 } else { idf }
}

/// FTS5's bm25() of a row from each phrase's IDF and frequency in the row, and the row's length
/// in tokens (fts5Bm25Function): the same operations in the same order, so the same double.
pub(super) fn bm25(phrases: impl IntoIterator<Item = (f64, f64)>, length: f64, avgdl: f64) -> f64 {
    bm25_normed(phrases, length_norm(length, avgdl))
}

/// The part of bm25's denominator that depends on the row's length only. FTS5 computes it again
/// for each phrase, the same way, so computing it once per row gives the same double.
pub(super) fn length_norm(length: f64, avgdl: f64) -> f64 {
    K1 * (1.0 - B + B * length / avgdl)
}

/// [`bm25`] from the row's [`length_norm`].
pub(super) fn bm25_normed(phrases: impl IntoIterator<Item = (f64, f64)>, norm: f64) -> f64 {
    let mut score = 0.0;
    for (idf, freq) in phrases {
        score += idf * ((freq * (K1 + 1.0)) / (freq + norm));
    }
    // FTS5 multiplies by -1.0, which is negation.
    -score
}

/// The frequency of a term in a row of this length that gives the row `score` as a query of
/// that term alone: bm25 solved for it, then checked by computing bm25 again.
pub(super) fn frequency_of(score: f64, idf: f64, length: f64, avgdl: f64) -> Option<u32> {
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
pub(super) struct Corpus {
    pub(super) documents: i64,
    pub(super) tokens: i64,
    pub(super) first_row: i64,
    pub(super) lengths: Vec<u8>,
}

impl Corpus {
    /// Reads the row lengths FTS5 keeps (`cables_fts_docsize`: a varint per column).
    pub(super) fn of_index(conn: &Connection) -> rusqlite::Result<Corpus> {
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

    pub(super) fn save(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO ranking_corpus VALUES (?1, ?2, ?3, ?4)",
            params![self.documents, self.tokens, self.first_row, self.lengths],
        )?;
        Ok(())
    }

    pub(super) fn load(conn: &Connection) -> rusqlite::Result<Option<Corpus>> {
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
    pub(super) fn rows(&self) -> (i64, i64) {
        let n = i64::try_from(self.lengths.len() / 4).unwrap_or(i64::MAX);
        (self.first_row, self.first_row.saturating_add(n - 1))
    }

    /// The average row length, as FTS5 computes it.
    pub(super) fn avgdl(&self) -> f64 {
        self.tokens as f64 / self.documents as f64
    }

    pub(super) fn length(&self, row: i64) -> Option<f64> {
        let at = usize::try_from(row.checked_sub(self.first_row)?).ok()?;
        let bytes = self.lengths.get(at.checked_mul(4)?..)?.first_chunk::<4>()?;
        let length = u32::from_le_bytes(*bytes);
        (length != u32::MAX).then_some(f64::from(length))
    }
}

/// The values of a `cables_fts_docsize` record: SQLite varints (big-endian groups of 7 bits,
/// the high bit set on all but the last; a ninth byte gives 8 bits).
pub(super) fn column_sizes(mut bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
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
