//! TODO-module ingest
