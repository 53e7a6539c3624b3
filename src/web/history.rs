//! Each cable's history across its collection's versions: the version it entered, the versions
//! where its captures changed (redactions gained or lost), and where it was absent.

use super::edition::CableFacts;
use crate::error::Result;
use crate::progress::Progress;
use crate::query::select::VersionRef;
use crate::store::Store;

/// The histories of an edition's cables, in the edition's order.
#[derive(Debug, Default)]
pub struct History {}

impl History {
    /// Reads the indexes of the collection's versions up to `version` for the `cables`.
    pub fn build(
        _store: &Store,
        _version: &VersionRef,
        _cables: &[CableFacts],
        _progress: &dyn Progress,
    ) -> Result<History> {
        Ok(History::default())
    }
}
