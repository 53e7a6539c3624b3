//! Reading what a store holds: its collections, their versions, and sidecar manifests.

use super::FileKind;
use super::Store;
use super::name::validate_collection_name;
use super::sidecar::VersionManifest;
use crate::error::{Error, Result};
use std::path::Path;

/// The most a sidecar manifest is read: a few kilobytes in practice (verify uses the same bound).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

impl Store {
    /// The collections in the store, sorted.
    pub fn collections(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for dir in [self.root.join("manifests"), self.root.join("archives")] {
            let Some(entries) = self.list_folder(&dir)? else {
                continue;
            };
            for entry in entries {
                if entry.kind == FileKind::Folder && validate_collection_name(&entry.name).is_ok() {
                    names.push(entry.name);
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The versions of a collection that have a sidecar manifest, ascending.
    pub fn versions(&self, collection: &str) -> Result<Vec<u32>> {
        let prefix = format!("{collection}-v");
        numbered_files(self, &self.manifest_dir(collection), &prefix, ".json")
    }

    /// Zips in `archives/<collection>/` by version number (committed or not).
    pub fn archive_versions(&self, collection: &str) -> Result<Vec<u32>> {
        let prefix = format!("{collection}-v");
        numbered_files(self, &self.archive_dir(collection), &prefix, ".zip")
    }

    /// The newest version, if any.
    pub fn latest(&self, collection: &str) -> Result<Option<u32>> {
        Ok(self.versions(collection)?.last().copied())
    }

    /// Resolves an optional version number to an existing one (default: the latest).
    pub fn resolve_version(&self, collection: &str, version: Option<u32>) -> Result<u32> {
        let versions = self.versions(collection)?;
        match version {
            Some(v) if versions.contains(&v) => Ok(v),
            Some(v) => Err(Error::NotFound(format!(
                "collection {collection:?} has no version v{v}"
            ))),
            None => versions.last().copied().ok_or_else(|| {
                Error::NotFound(format!(
                    "collection {collection:?} has no versions in {}",
                    self.root.display()
                ))
            }),
        }
    }

    /// Reads a sidecar manifest: the parsed manifest and its exact bytes.
    pub fn read_manifest(
        &self,
        collection: &str,
        version: u32,
    ) -> Result<(VersionManifest, Vec<u8>)> {
        let path = self.manifest_path(collection, version);
        let bytes = self.read_regular(&path, MAX_MANIFEST_BYTES)?;
        let manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.clone(),
            message: format!("not a cablekeep manifest: {e}"),
        })?;
        Ok((manifest, bytes))
    }
}

/// Numbers N of files named `<prefix>N<suffix>` in `dir`, ascending.
fn numbered_files(store: &Store, dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let Some(entries) = store.list_folder(dir)? else {
        return Ok(out);
    };
    for entry in entries {
        let name = entry.name;
        if let Some(n) = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(suffix))
            && let Ok(v) = n.parse::<u32>()
            && v > 0
            && n == v.to_string()
        {
            out.push(v);
        }
    }
    out.sort_unstable();
    Ok(out)
}
