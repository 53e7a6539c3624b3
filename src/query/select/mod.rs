//! Selections: which cables of a version an export, a search or the stats are about (a
//! [`Filter`], in `filter`), streaming the selected cables' stored records from an archive in
//! batches (`records`) and finding one cable by id (`locate`). This file is the face, with
//! the [`VersionRef`] a selection is taken from.

mod filter;
mod locate;
mod records;

pub use filter::{Facts, Filter};
pub(crate) use locate::locate_cable_opened;
pub use locate::{FoundCable, find_line, ids_to_look_up, locate_cable};
pub use records::{
    BATCH, CHUNK, CaptureView, Keep, Map, Need, RecordView, RedactionView, Selected, for_each_line,
    load_cable, stream, stream_mapped,
};

use crate::error::Result;
use serde::Serialize;

/// The archive version a selection is taken from, as exports and the catalog name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRef {
    /// The collection the version belongs to.
    pub collection: String,
    /// The version's number, from 1.
    pub version: u32,
    /// `<collection>@v<N>`.
    pub identifier: String,
    /// SHA-256 of the sidecar manifest file, byte for byte.
    pub manifest_sha256: String,
    /// SHA-256 of the archive zip, as the sidecar manifest gives it.
    pub archive_sha256: String,
    /// When the version was written (the sidecar's `created`).
    pub created: String,
    /// The version's message.
    pub message: String,
    /// How many cables the version holds (for progress).
    #[serde(skip)]
    pub cables: u64,
}

impl VersionRef {
    /// Reads a version's sidecar manifest.
    pub fn read(store: &crate::store::Store, collection: &str, version: u32) -> Result<VersionRef> {
        let (m, bytes) = store.read_manifest(collection, version)?;
        Ok(VersionRef {
            collection: collection.to_string(),
            version,
            identifier: m.identifier.clone(),
            manifest_sha256: crate::hash::sha256_hex(&bytes),
            archive_sha256: m.archive.sha256.clone(),
            created: m.created.clone(),
            message: m.message.clone(),
            cables: m.counts.cables,
        })
    }

    /// The sidecar manifest's file name, e.g. `dev-v1.json`.
    pub fn manifest_file(&self) -> String {
        format!("{}-v{}.json", self.collection, self.version)
    }
}
