//! The sidecar version manifest `manifests/<collection>/<collection>-v<N>.json` (FORMAT.md
//! section 5): what a version holds, and the hash chain that links the versions of a collection.

use crate::hash::Digests;
use serde::{Deserialize, Serialize};

/// The `format` value of every sidecar manifest written by this release.
pub const SIDECAR_FORMAT: &str = "cablekeep-manifest/1";

/// The sidecar manifest `manifests/<collection>/<collection>-v<N>.json`: what a version holds,
/// the zip's digests, and the digest of the previous version's sidecar (the hash chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionManifest {
    /// Always [`SIDECAR_FORMAT`] for this release.
    pub format: String,
    /// The collection's name (1-64 characters of `a-z 0-9 . _ -`, FORMAT.md section 1).
    pub collection: String,
    /// The version's number, from 1 without gaps.
    pub version: u32,
    /// `<collection>@v<N>`, the bag's External-Identifier.
    pub identifier: String,
    /// When the version was written (RFC 3339, UTC).
    pub created: String,
    /// `cablekeep <version>`.
    pub tool: String,
    /// The message given when the version was written (the bag's `External-Description`); empty
    /// when none was given.
    pub message: String,
    /// The zip file: its name, size and digests.
    pub archive: ArchiveFacts,
    /// The bag inside the zip: its folder, Payload-Oxum and the digests of its tag files.
    pub bag: BagFacts,
    /// How many cables, captures, unparsed inputs, payload files, payload bytes and zip entries the
    /// version holds.
    pub counts: Counts,
    /// The previous version, or None for v1.
    pub previous: Option<PreviousLink>,
    /// Set when this manifest was written again from its zip after the original was lost
    /// (`cablekeep rebuild-manifest`); absent in a manifest written with its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilt: Option<Rebuilt>,
}

/// How a lost sidecar manifest was written again from its zip. The zip's digests, the bag's
/// facts and the link to the previous version are what the zip and the previous manifest say;
/// `created` is the zip file's modification time, and the original manifest's own digest (named
/// by the next version's link, if there is one) cannot be recovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rebuilt {
    /// When the manifest was rebuilt (RFC 3339, UTC).
    pub at: String,
    /// `cablekeep <version>` that rebuilt it.
    pub tool: String,
}

/// The zip file itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveFacts {
    /// File name of the zip, e.g. `dev-v1.zip` (it lives in `archives/<collection>/`).
    pub file: String,
    /// Size of the zip, in bytes.
    pub bytes: u64,
    /// SHA-256 of the whole zip, lower-case hex; the `.sha256` file beside the zip repeats it.
    pub sha256: String,
    /// SHA-512 of the whole zip, lower-case hex.
    pub sha512: String,
}

/// Facts about the bag inside the zip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BagFacts {
    /// The bag's top-level folder inside the zip, e.g. `dev-v1`.
    pub folder: String,
    /// The bag's Payload-Oxum, `<payload bytes>.<payload files>` (FORMAT.md section 2.3).
    pub payload_oxum: String,
    /// Digests of each tag file, keyed by path in the bag (sorted).
    pub tag_files: std::collections::BTreeMap<String, Digests>,
}

/// How much a version holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Cables in the version (lines of the cable index).
    pub cables: u64,
    /// Captures of those cables; at least the number of cables, more when a cable was met in
    /// several releases or sources.
    pub captures: u64,
    /// Inputs no reader understood, kept under `data/unparsed/`.
    pub unparsed: u64,
    /// Files in the bag's payload (`data/`): two per capture (raw bytes and record) plus one per
    /// unparsed input.
    pub payload_files: u64,
    /// Total size of the payload files, in bytes (the first number of Payload-Oxum).
    pub payload_bytes: u64,
    /// Entries of the zip: the payload files plus the tag files.
    pub zip_entries: u64,
}

/// The link to the previous version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousLink {
    /// The previous version's number (this version's number minus one).
    pub version: u32,
    /// SHA-256 of the previous sidecar manifest file, byte for byte.
    pub manifest_sha256: String,
    /// SHA-256 of the previous zip.
    pub archive_sha256: String,
}

impl VersionManifest {
    /// The canonical bytes of the sidecar: pretty JSON with a final newline. Field order is the
    /// struct's, so the same manifest always gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("manifest serializes");
        out.push(b'\n');
        out
    }
}
