//! The catalog's tables, the same in the store's catalog and in SQLite exports.

/// The schema name kept in `meta`; a catalog with another one is rebuilt.
pub const CATALOG_SCHEMA: &str = "cablekeep-catalog/1";

pub(super) const SCHEMA: &str = r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions (
    collection TEXT PRIMARY KEY, version INTEGER NOT NULL, identifier TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL, archive_sha256 TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE cables (
    pk INTEGER PRIMARY KEY, collection TEXT NOT NULL, id TEXT NOT NULL, published_id TEXT NOT NULL,
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
