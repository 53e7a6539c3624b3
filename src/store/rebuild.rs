//! Writing a lost sidecar manifest again from its zip.
//!
//! A version exists when its sidecar manifest exists; a zip whose manifest was lost is kept (it
//! may hold the only copy of cables) and blocks the collection's next version. When the zip is
//! intact, everything its manifest recorded can be read from it again: the zip's digests and
//! size, the bag's facts, the counts, the message, and the link to the previous version (from the
//! previous manifest, which must exist, and the bag's own record of the previous zip). What
//! cannot be recovered is the original manifest's exact bytes: its creation time becomes the
//! zip file's modification time, and the manifest says it was rebuilt. A later version's link
//! named the lost manifest's SHA-256, so that link stays broken (`verify` reports `M005`).

use crate::bag::manifest::{self};
use crate::error::{Error, Result};
use crate::fsutil::StoreLock;
use crate::hash;
use crate::progress::Progress;
use crate::store::sidecar::{PreviousLink, Rebuilt, VersionManifest};
use crate::store::verify::{self, Report};
use crate::store::{Store, VersionId, validate_collection_name};

/// What [`rebuild_manifest`] did.
#[derive(Debug)]
pub struct Outcome {
    /// The full check of the zip: a manifest is written only when it found no error.
    pub report: Report,
    /// The manifest written; None when the zip has errors.
    pub manifest: Option<VersionManifest>,
    /// The next version, when its link to this one names the lost manifest's digest, which the
    /// rebuilt manifest cannot have.
    pub next_link_broken: Option<u32>,
}

/// Checks the zip of `collection` v`version` in full and, when it is intact, is the version it
/// is stored as and continues the previous version, writes its sidecar manifest again.
pub fn rebuild_manifest(
    store: &Store,
    lock: &StoreLock,
    collection: &str,
    version: u32,
    progress: &dyn Progress,
) -> Result<Outcome> {
    store.require_local("rebuild a manifest in it")?;
    validate_collection_name(collection)?;
    let id = VersionId::new(collection, version);
    let zip = store.zip_path(collection, version);
    let manifest_path = store.manifest_path(collection, version);
    if std::fs::symlink_metadata(&manifest_path).is_ok() {
        return Err(Error::Invalid(format!(
            "{}: {id} has its sidecar manifest; there is nothing to rebuild",
            manifest_path.display()
        )));
    }
    if !std::fs::symlink_metadata(&zip).is_ok_and(|m| m.is_file()) {
        return Err(Error::NotFound(format!(
            "{}: no zip of {id} to rebuild a manifest from",
            zip.display()
        )));
    }
    let observed = verify::observe_archive(&zip, progress)?;
    let bag = match (&observed.bag, observed.report.is_clean()) {
        (Some(bag), true) => bag.clone(),
        _ => {
            return Ok(Outcome {
                report: observed.report,
                manifest: None,
                next_link_broken: None,
            });
        }
    };
    check_identity(&observed.bag_info, collection, version, &zip)?;
    let previous = previous_link(store, collection, version, &observed.bag_info)?;
    let info = |label: &str| manifest::bag_info_value(&observed.bag_info, label);
    let created = std::fs::metadata(&zip)
        .and_then(|m| m.modified())
        .map(crate::time::rfc3339_of)
        .map_err(|e| Error::io(&zip, e))?;
    let manifest = VersionManifest {
        format: crate::store::sidecar::SIDECAR_FORMAT.to_string(),
        collection: collection.to_string(),
        version,
        identifier: id.to_string(),
        created,
        tool: tool_of(info("Bag-Software-Agent")),
        message: info("External-Description").unwrap_or_default().to_string(),
        archive: crate::store::sidecar::ArchiveFacts {
            file: Store::zip_name(collection, version),
            bytes: observed.zip_bytes,
            sha256: observed.zip.sha256.clone(),
            sha512: observed.zip.sha512.clone(),
        },
        bag,
        counts: observed.counts.clone(),
        previous,
        rebuilt: Some(Rebuilt {
            at: crate::time::rfc3339(crate::time::now()),
            tool: format!("cablekeep {}", crate::TOOL_VERSION),
        }),
    };
    store.commit_rebuilt_manifest(lock, &manifest)?;
    let next_link_broken = next_link_broken(store, &manifest)?;
    Ok(Outcome {
        report: observed.report,
        manifest: Some(manifest),
        next_link_broken,
    })
}

/// The bag must say it is the version it is stored as.
fn check_identity(
    bag_info: &[(String, String)],
    collection: &str,
    version: u32,
    zip: &std::path::Path,
) -> Result<()> {
    let expected = VersionId::new(collection, version).to_string();
    let found = manifest::bag_info_value(bag_info, "External-Identifier");
    if found != Some(expected.as_str()) {
        return Err(Error::Invalid(format!(
            "{}: the bag says it is {}, not {expected}; its manifest is not rebuilt under this name",
            zip.display(),
            found.unwrap_or("nothing (no External-Identifier)")
        )));
    }
    Ok(())
}

/// The link to the previous version: its manifest must exist and name the zip that the bag
/// records as the previous archive.
fn previous_link(
    store: &Store,
    collection: &str,
    version: u32,
    bag_info: &[(String, String)],
) -> Result<Option<PreviousLink>> {
    let recorded = manifest::bag_info_value(bag_info, "Cablekeep-Previous-Archive-SHA256");
    if version == 1 {
        return match recorded {
            None => Ok(None),
            Some(_) => Err(Error::Invalid(format!(
                "{}: the bag names a previous archive, which a first version has not",
                VersionId::new(collection, 1)
            ))),
        };
    }
    let before = version - 1;
    let id = VersionId::new(collection, version);
    let (previous, bytes) = store.read_manifest(collection, before).map_err(|e| {
        Error::Invalid(format!(
            "{id} links to v{before}, whose manifest cannot be read ({e}); \
             rebuild that one first"
        ))
    })?;
    if recorded != Some(previous.archive.sha256.as_str()) {
        return Err(Error::Invalid(format!(
            "{id}: the bag records the previous archive as {}, but v{before}'s \
             manifest names {}; the chain cannot be rebuilt",
            recorded.unwrap_or("nothing"),
            previous.archive.sha256
        )));
    }
    Ok(Some(PreviousLink {
        version: before,
        manifest_sha256: hash::sha256_hex(&bytes),
        archive_sha256: previous.archive.sha256,
    }))
}

/// `cablekeep X` from the bag's `Bag-Software-Agent: cablekeep X (url)`.
fn tool_of(agent: Option<&str>) -> String {
    match agent {
        Some(a) => a.split(" (").next().unwrap_or(a).trim().to_string(),
        None => "unknown".to_string(),
    }
}

/// The next version, when it exists and its link names another manifest digest than the
/// rebuilt manifest's (always so, unless the rebuilt bytes happen to equal the lost ones).
fn next_link_broken(store: &Store, rebuilt: &VersionManifest) -> Result<Option<u32>> {
    let next = rebuilt.version + 1;
    let Ok((m, _)) = store.read_manifest(&rebuilt.collection, next) else {
        return Ok(None);
    };
    let digest = hash::sha256_hex(&rebuilt.to_bytes());
    Ok(m.previous
        .filter(|link| link.manifest_sha256 != digest)
        .map(|_| next))
}
