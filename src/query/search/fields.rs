//! The index's fields, the analyzers that make terms of texts, and the document of a cable.

use crate::bag::Entry;
use crate::query::select::Selected;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, BoxTokenStream, LowerCaser, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, TextAnalyzer, Tokenizer,
};
use tantivy::{Index, TantivyDocument};

/// The analyzer of the searched texts: runs of letters and digits, lower case, accents folded
/// (as SQLite FTS5's `unicode61`, which cablekeep used before), English stems (Porter 2), words
/// of more than 40 bytes left out (no one searches them; they are mostly base64 and rules).
pub(super) const WORDS: &str = "cablekeep_words";
/// The same without stems: what a prefix (`negotiat*`) is matched against the index's terms with.
pub(super) const PREFIX_WORDS: &str = "cablekeep_prefix";
/// The raw analyzer of the key field, counting the documents the indexing threads take.
const COUNTED_KEY: &str = "cablekeep_counted_key";

/// The analyzer of [`WORDS`] for finding `terms` in a text: it makes the same terms of the
/// words that can be one of them, and skips stemming the others (see `StemsOfTerms`).
pub(super) fn words_finder<'t>(terms: impl IntoIterator<Item = &'t str>) -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(super::stems::StemsOfTerms::new(terms))
        .build()
}

/// The analyzer of [`WORDS`], or of [`PREFIX_WORDS`] without stems.
pub(super) fn words_analyzer(stems: bool) -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter);
    match stems {
        true => builder.filter(super::stems::RememberedStems).build(),
        false => builder.build(),
    }
}

/// A tokenizer that counts the texts it is given: on the key field, which every document has
/// once, it counts the documents the indexing threads have taken from the writer's queue, so
/// that the reader of the archive can keep that queue short (the writer queues up to 10,000
/// documents, whose texts would then sit in memory: 70 MB of them at full scale).
#[derive(Clone)]
struct Counting {
    seen: Arc<AtomicUsize>,
    inner: RawTokenizer,
}

impl Tokenizer for Counting {
    type TokenStream<'a> = BoxTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> BoxTokenStream<'a> {
        self.seen.fetch_add(1, Ordering::Relaxed);
        BoxTokenStream::new(self.inner.token_stream(text))
    }
}

/// Registers the analyzers an index of this schema needs on `index`; returns the counter of
/// documents taken by its indexing threads.
pub(super) fn register_analyzers(index: &Index) -> Arc<AtomicUsize> {
    let seen = Arc::new(AtomicUsize::new(0));
    let tokenizers = index.tokenizers();
    tokenizers.register(WORDS, words_analyzer(true));
    tokenizers.register(PREFIX_WORDS, words_analyzer(false));
    tokenizers.register(
        COUNTED_KEY,
        Counting {
            seen: seen.clone(),
            inner: RawTokenizer::default(),
        },
    );
    seen
}

/// A new, empty index of this schema in `dir` (stored documents compressed with lz4, tantivy's
/// default).
pub(super) fn create_index(dir: &std::path::Path) -> tantivy::Result<Index> {
    Index::create_in_dir(dir, Fields::schema())
}

/// The index's fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    /// `<collection>\n<id>`: one document per cable of a collection; its order is the order of
    /// hits that score the same (a newline sorts before every character of a name or id).
    pub key: Field,
    /// The collection, for a search of one and for dropping one.
    pub collection: Field,
    /// A digest of the cable's index line: a cable whose line is the same in a new version is
    /// the same document, and is not indexed again.
    pub line: Field,
    /// The canonical id, upper case (`--id`, `id:`).
    pub id: Field,
    /// Subject and text: what words, phrases and prefixes are searched in.
    pub body: Field,
    /// The subject alone (`subject:`).
    pub subject: Field,
    /// The origin's words (`origin:madrid`).
    pub origin_words: Field,
    /// The whole origin, trimmed and in lower case (`--origin`).
    pub origin: Field,
    /// Each tag, trimmed and in lower case (`--tag`, `tag:`).
    pub tag: Field,
    /// The whole classification and its level, trimmed and in lower case.
    pub classification: Field,
    /// When sent and when released, as the day number `YYYYMMDD`.
    pub created: Field,
    pub released: Field,
    /// `redacted` or `not-redacted`.
    pub redaction: Field,
    /// `true` or `false`.
    pub partial_extract: Field,
    /// What a hit shows and where its text lies: [`Stored`] as JSON.
    pub stored: Field,
}

impl Fields {
    pub(super) fn schema() -> Schema {
        let mut b = Schema::builder();
        let counted = TextFieldIndexing::default()
            .set_tokenizer(COUNTED_KEY)
            .set_index_option(IndexRecordOption::Basic);
        b.add_text_field(
            "key",
            TextOptions::default()
                .set_indexing_options(counted)
                .set_fast("raw"),
        );
        b.add_text_field("collection", STRING);
        b.add_u64_field("line", FAST);
        b.add_text_field("id", STRING);
        let words = TextFieldIndexing::default()
            .set_tokenizer(WORDS)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        for name in ["body", "subject", "origin_words"] {
            b.add_text_field(
                name,
                TextOptions::default().set_indexing_options(words.clone()),
            );
        }
        for name in [
            "origin",
            "tag",
            "classification",
            "redaction",
            "partial_extract",
        ] {
            b.add_text_field(name, STRING);
        }
        b.add_i64_field("created", INDEXED);
        b.add_i64_field("released", INDEXED);
        b.add_bytes_field("stored", STORED);
        b.build()
    }

    pub(super) fn of(schema: &Schema) -> tantivy::Result<Fields> {
        let f = |n: &str| schema.get_field(n);
        Ok(Fields {
            key: f("key")?,
            collection: f("collection")?,
            line: f("line")?,
            id: f("id")?,
            body: f("body")?,
            subject: f("subject")?,
            origin_words: f("origin_words")?,
            origin: f("origin")?,
            tag: f("tag")?,
            classification: f("classification")?,
            created: f("created")?,
            released: f("released")?,
            redaction: f("redaction")?,
            partial_extract: f("partial_extract")?,
            stored: f("stored")?,
        })
    }

    /// The document of a selected cable of `collection`'s version `version`.
    pub(super) fn document(
        &self,
        collection: &str,
        version: u32,
        cable: &Selected,
    ) -> TantivyDocument {
        let line = &cable.line;
        let mut d = TantivyDocument::default();
        d.add_text(self.key, key(collection, &line.id));
        d.add_text(self.collection, collection);
        d.add_u64(self.line, line_digest(line));
        d.add_text(self.id, line.id.to_ascii_uppercase());
        if let Some(s) = &line.subject {
            d.add_text(self.body, s);
            d.add_text(self.subject, s);
        }
        d.add_text(self.body, &cable.record.text);
        if let Some(o) = &line.origin {
            d.add_text(self.origin_words, o);
            d.add_text(self.origin, fold(o));
        }
        for t in &line.tags {
            d.add_text(self.tag, fold(t));
        }
        if let Some(c) = &line.classification {
            d.add_text(self.classification, fold(c));
            let level = c.split("//").next().unwrap_or(c);
            if level != c {
                d.add_text(self.classification, fold(level));
            }
        }
        if let Some(day) = line.created.as_deref().and_then(day_number) {
            d.add_i64(self.created, day);
        }
        if let Some(day) = line.released.as_deref().and_then(day_number) {
            d.add_i64(self.released, day);
        }
        d.add_text(self.redaction, &line.redaction.status);
        d.add_text(
            self.partial_extract,
            if line.redaction.partial_extract {
                "true"
            } else {
                "false"
            },
        );
        let stored = Stored {
            collection: collection.to_string(),
            id: line.id.clone(),
            version,
            text: cable
                .entries
                .as_ref()
                .zip(line.current())
                .and_then(|((record, raw), c)| TextPlace::of(record, &c.record, raw, &c.raw)),
        };
        d.add_bytes(
            self.stored,
            &serde_json::to_vec(&stored).expect("stored facts serialize"),
        );
        d
    }
}

/// The key of a cable of a collection (see [`Fields::key`]).
pub(super) fn key(collection: &str, id: &str) -> String {
    format!("{collection}\n{id}")
}

/// A value as the filter compares it: trimmed, ASCII letters in lower case.
pub(super) fn fold(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

/// The first 8 bytes of the SHA-256 of a cable's index line, as a number.
pub(super) fn line_digest(line: &crate::bag::capture::IndexLine) -> u64 {
    let bytes = serde_json::to_vec(line).expect("an index line serializes");
    let digest = crate::hash::sha256_hex(&bytes);
    u64::from_str_radix(&digest[..16], 16).expect("hex digits")
}

/// `YYYY-MM-DD…` as the number `YYYYMMDD`; None when it does not start with a day.
pub(super) fn day_number(date: &str) -> Option<i64> {
    let day = date.get(..10)?;
    let b = day.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
        return None;
    }
    day.replace('-', "").parse().ok()
}

/// What the index keeps of a cable besides its terms: which cable it is, and where its record
/// lies in the archive. A hit's subject, date, origin and classification are read from that
/// record with its text (for the snippet): kept here too, they made the index's stored
/// documents three times as large, and each hit's read of them slower than the record's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Stored {
    pub collection: String,
    pub id: String,
    /// The version whose archive holds the entries of `text` (an earlier one than the latest
    /// when the cable has not changed since).
    pub version: u32,
    pub text: Option<TextPlace>,
}

/// The zip entries of a cable's current record and raw bytes. Kept for every cable, so in
/// short names: the index's stored documents are a tenth of its size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TextPlace {
    /// The bag's folder in the zip (`<collection>-v<N>`): an entry's name is the folder, `/`
    /// and its path in the bag.
    #[serde(rename = "f")]
    pub folder: String,
    #[serde(rename = "t")]
    pub record: Place,
    #[serde(rename = "r")]
    pub raw: Place,
}

impl TextPlace {
    /// The places of a record and raw entry found at these paths in the bag; None when an
    /// entry's name is not its path under the bag's folder.
    fn of(record: &Entry, record_path: &str, raw: &Entry, raw_path: &str) -> Option<TextPlace> {
        let folder = record.name.strip_suffix(record_path)?.strip_suffix('/')?;
        raw.name
            .strip_suffix(raw_path)?
            .strip_suffix('/')
            .filter(|f| *f == folder)?;
        Some(TextPlace {
            folder: folder.to_string(),
            record: Place::of(record_path, record),
            raw: Place::of(raw_path, raw),
        })
    }
}

/// A zip entry as the index keeps it: its path in the bag, and the fields its local header and
/// data are checked against when it is read again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Place {
    #[serde(rename = "p")]
    pub path: String,
    #[serde(rename = "m")]
    pub method: u16,
    #[serde(rename = "g")]
    pub flags: u16,
    #[serde(rename = "c")]
    pub crc32: u32,
    #[serde(rename = "z")]
    pub compressed: u64,
    #[serde(rename = "s")]
    pub size: u64,
    #[serde(rename = "o")]
    pub offset: u64,
}

impl Place {
    fn of(path: &str, e: &Entry) -> Place {
        Place {
            path: path.to_string(),
            method: e.method,
            flags: e.flags,
            crc32: e.crc32,
            compressed: e.compressed_size,
            size: e.uncompressed_size,
            offset: e.local_header_offset,
        }
    }

    /// The entry in the bag folder `folder`, to be read with its local header (see
    /// `OpenArchive::open_unlisted`).
    pub(super) fn entry(&self, folder: &str) -> Entry {
        Entry {
            name: format!("{folder}/{}", self.path),
            method: self.method,
            flags: self.flags,
            crc32: self.crc32,
            compressed_size: self.compressed,
            uncompressed_size: self.size,
            local_header_offset: self.offset,
            data_offset: None,
        }
    }
}
