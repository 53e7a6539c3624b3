//! The sidecar manifest of a version: read without trusting it, checked against the name it
//! is stored under, the hash chain, and the archive it describes.

use super::small_files::read_small;
use crate::bag::OpenArchive;
use crate::bag::check::BagSeen;
use crate::bag::manifest;
use crate::finding::{Code, Finding};
use crate::hash;
use crate::store::sidecar::VersionManifest;
use crate::store::{Store, VersionId};
use std::path::Path;

/// The bag's External-Identifier must be the identifier it is stored or described as.
pub(super) fn check_bag_identity(
    archive: &OpenArchive,
    seen: &BagSeen,
    identifier: &str,
    findings: &mut Vec<Finding>,
) {
    if let Some(found) = manifest::bag_info_value(&seen.bag_info, "External-Identifier")
        && found != identifier
    {
        findings.push(
            Finding::new(
                Code::IdentityMismatch,
                &archive.label,
                format!(
                    "the bag says it is {found:?}, but it is stored or described as {identifier}"
                ),
            )
            .at_entry("bag-info.txt"),
        );
    }
}

pub(super) fn read_sidecar(
    store: &Store,
    path: &Path,
) -> std::result::Result<(VersionManifest, Vec<u8>), Finding> {
    let label = path.display().to_string();
    let bytes = read_small(store, path, MAX_SIDECAR)
        .map_err(|why| Finding::new(Code::SidecarUnreadable, &label, why.to_string()))?;
    let manifest: VersionManifest = serde_json::from_slice(&bytes).map_err(|e| {
        Finding::new(
            Code::SidecarUnreadable,
            &label,
            format!("not a cablekeep manifest: {e}"),
        )
    })?;
    if manifest.format != crate::store::sidecar::SIDECAR_FORMAT {
        return Err(Finding::new(
            Code::SidecarUnreadable,
            &label,
            format!("unknown manifest format {:?}", manifest.format),
        ));
    }
    Ok((manifest, bytes))
}

pub(super) fn check_sidecar_identity(
    m: &VersionManifest,
    collection: &str,
    version: u32,
    path: &Path,
    findings: &mut Vec<Finding>,
) {
    let expected = VersionId::new(collection, version).to_string();
    if m.collection != collection
        || m.version != version
        || m.identifier != expected
        || m.archive.file != Store::zip_name(collection, version)
    {
        findings.push(Finding::new(
            Code::IdentityMismatch,
            path.display().to_string(),
            format!(
                "the manifest describes {:?} ({}), but it is stored as {expected}",
                m.identifier, m.archive.file
            ),
        ));
    }
}

/// The hash chain: each manifest names the SHA-256 of the previous manifest and archive.
pub(super) fn check_chain(
    store: &Store,
    collection: &str,
    version: u32,
    m: &VersionManifest,
    path: &Path,
    findings: &mut Vec<Finding>,
) {
    let label = path.display().to_string();
    match (&m.previous, version) {
        (None, 1) => {}
        (None, _) => findings.push(Finding::new(
            Code::ChainBroken,
            &label,
            format!("v{version} names no previous version"),
        )),
        (Some(_), 1) => findings.push(Finding::new(
            Code::ChainBroken,
            &label,
            "v1 names a previous version",
        )),
        (Some(link), _) => {
            if link.version != version - 1 {
                findings.push(Finding::new(
                    Code::ChainBroken,
                    &label,
                    format!(
                        "names v{} as previous, expected v{}",
                        link.version,
                        version - 1
                    ),
                ));
            }
            match read_sidecar(store, &store.manifest_path(collection, version - 1)) {
                Ok((prev, prev_bytes)) => {
                    let actual = hash::sha256_hex(&prev_bytes);
                    if actual != link.manifest_sha256 {
                        findings.push(Finding::new(Code::ChainBroken, &label, format!("previous manifest's SHA-256 is {actual}, this manifest recorded {}", link.manifest_sha256)));
                    }
                    if prev.archive.sha256 != link.archive_sha256 {
                        findings.push(Finding::new(
                            Code::ChainBroken,
                            &label,
                            "the previous archive's SHA-256 differs from the one recorded here",
                        ));
                    }
                }
                Err(_) => findings.push(Finding::new(
                    Code::ChainBroken,
                    &label,
                    format!(
                        "the previous version's manifest (v{}) cannot be read",
                        version - 1
                    ),
                )),
            }
        }
    }
}

/// The bag also records the previous archive's digest, so the chain survives in the zip alone.
pub(super) fn check_previous_in_bag(
    m: &VersionManifest,
    seen: &BagSeen,
    archive: &OpenArchive,
    findings: &mut Vec<Finding>,
) {
    let in_bag = manifest::bag_info_value(&seen.bag_info, "Cablekeep-Previous-Archive-SHA256");
    let in_sidecar = m.previous.as_ref().map(|p| p.archive_sha256.as_str());
    if seen.folder.is_some() && in_bag != in_sidecar {
        findings.push(
            Finding::new(
                Code::ChainBroken,
                &archive.label,
                "bag-info.txt and the sidecar manifest name different previous archives",
            )
            .at_entry("bag-info.txt"),
        );
    }
}

/// The zip file against the sidecar: its digests (when computed: full mode) and size, and the
/// facts about the bag.
pub(super) fn compare_sidecar(
    archive: &OpenArchive,
    m: &VersionManifest,
    seen: &BagSeen,
    zip_digests: Option<&hash::Digests>,
    findings: &mut Vec<Finding>,
) {
    compare_zip_facts(archive, m, zip_digests, findings);
    for d in bag_differences(m, seen) {
        findings.push(Finding::new(Code::SidecarMismatch, &archive.label, d));
    }
}

/// The zip's size and (when computed) digests against the sidecar's record of them.
fn compare_zip_facts(
    archive: &OpenArchive,
    m: &VersionManifest,
    zip_digests: Option<&hash::Digests>,
    findings: &mut Vec<Finding>,
) {
    let label = &archive.label;
    if archive.index.file_len != m.archive.bytes {
        findings.push(Finding::new(
            Code::ArchiveDigestMismatch,
            label,
            format!(
                "the zip is {} bytes, the manifest says {}",
                archive.index.file_len, m.archive.bytes
            ),
        ));
    } else if let Some(digests) = zip_digests {
        if digests.sha256 != m.archive.sha256 {
            findings.push(Finding::new(
                Code::ArchiveDigestMismatch,
                label,
                format!(
                    "the zip's SHA-256 is {}, the manifest says {}",
                    digests.sha256, m.archive.sha256
                ),
            ));
        }
        if digests.sha512 != m.archive.sha512 {
            findings.push(Finding::new(
                Code::ArchiveDigestMismatch,
                label,
                "the zip's SHA-512 differs from the manifest",
            ));
        }
    }
}

/// How the bag differs from the sidecar's facts about it (folder, Payload-Oxum, tag files,
/// counts), one message each.
fn bag_differences(m: &VersionManifest, seen: &BagSeen) -> Vec<String> {
    let mut differences = Vec::new();
    if seen.folder.as_deref() != Some(m.bag.folder.as_str()) {
        differences.push(format!(
            "bag folder: {} in the archive, {:?} in the manifest",
            quoted_or_none(seen.folder.as_deref()),
            m.bag.folder
        ));
    }
    if seen.payload_oxum.as_deref() != Some(m.bag.payload_oxum.as_str()) {
        differences.push(format!(
            "Payload-Oxum: {} in the archive, {:?} in the manifest",
            quoted_or_none(seen.payload_oxum.as_deref()),
            m.bag.payload_oxum
        ));
    }
    for (name, digests) in &m.bag.tag_files {
        match seen.tag_digests.get(name) {
            Some(d) if d.agree_with(digests) => {}
            Some(_) => differences.push(format!("tag file {name} has other digests")),
            None => differences.push(format!("tag file {name} is missing")),
        }
    }
    for name in seen.tag_digests.keys() {
        if !m.bag.tag_files.contains_key(name) {
            differences.push(format!("tag file {name} is not in the manifest"));
        }
    }
    let counts = [
        ("cables", seen.cables, m.counts.cables),
        ("captures", seen.captures, m.counts.captures),
        ("unparsed", seen.unparsed, m.counts.unparsed),
        ("payload files", seen.payload_files, m.counts.payload_files),
        ("payload bytes", seen.payload_bytes, m.counts.payload_bytes),
        ("zip entries", seen.zip_entries, m.counts.zip_entries),
    ];
    for (what, actual, recorded) in counts {
        if actual != recorded {
            differences.push(format!(
                "{what}: {actual} in the archive, {recorded} in the manifest"
            ));
        }
    }
    differences
}

/// A value the archive may lack, for a message: quoted (and escaped) when there, else `none`.
fn quoted_or_none(value: Option<&str>) -> String {
    value.map_or_else(|| "none".to_string(), |v| format!("{v:?}"))
}

/// A sidecar manifest is a few KB (it names the tag files, not the payload).
const MAX_SIDECAR: u64 = 16 << 20;
