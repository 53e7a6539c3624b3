//! The bag inside an archive (RFC 8493 and cablekeep's additions): structure, `bagit.txt`,
//! `bag-info.txt`, both payload manifests, the tag manifests, Payload-Oxum, the cable index and,
//! in full mode, every payload digest: the checks of section 2 of `docs/FORMAT.md`.
//!
//! Two ways, with the same findings. An archive in cablekeep's layout is checked a chunk of
//! entries at a time, in memory that does not grow with it (the `stream` module: a merge join of
//! the directory with the manifests and the index). Any other archive is opened whole
//! ([`check_bag`], the `whole` module): memory then follows the number of entries, not the size
//! of the tag files. Either way the large tag files (the payload manifests and the index:
//! hundreds of MB for the whole Cablegate corpus) are inflated once, as a stream, while one
//! thread hashes them with SHA-256, another with SHA-512 and a third reads their lines
//! (`fan_out`, `lines`). In the whole-archive check what a payload manifest leaves behind is one
//! digest in bytes per payload file, in a table aligned with the bag's sorted file list; every
//! lookup is a binary search in that list, never a map of strings.
//!
//! The rules both ways share have one home: `rules` (which tag files a bag has, manifest and
//! index lines, the findings they give), `tags` (the tag files themselves: `bagit.txt`,
//! `bag-info.txt`, Payload-Oxum, the tag manifests, and streaming them all), `files` (the bag's
//! files by path) and `payload` (hashing a payload file).

use crate::finding::Finding;
use crate::hash;
use std::collections::BTreeMap;
use std::path::PathBuf;

mod fan_out;
mod files;
mod lines;
mod payload;
mod rules;
mod stream;
mod tags;
mod whole;

pub(crate) use stream::check_streamed;
pub(crate) use whole::check_bag;

/// How much of a bag is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Depth {
    /// Every payload file is inflated and hashed too.
    #[default]
    Full,
    /// The payload is not hashed (structure, listings, sizes and Payload-Oxum only), and tag
    /// files are hashed with SHA-256 only.
    Fast,
}

/// What checking a bag found.
#[derive(Debug, Clone, Default)]
pub(crate) struct BagChecked {
    /// The archive checked.
    pub archive: PathBuf,
    /// The zip's entries.
    pub entries: u64,
    /// Uncompressed bytes read and hashed (0 in fast mode).
    pub bytes_hashed: u64,
    pub findings: Vec<Finding>,
    /// True when the archive was checked a chunk at a time.
    pub streamed: bool,
}

/// What the bag says of itself, gathered while checking it, for the sidecar comparison.
#[derive(Debug, Default)]
pub(crate) struct BagSeen {
    pub folder: Option<String>,
    pub bag_info: Vec<(String, String)>,
    pub tag_digests: BTreeMap<String, TagDigests>,
    pub payload_oxum: Option<String>,
    pub cables: u64,
    pub captures: u64,
    pub unparsed: u64,
    pub payload_files: u64,
    pub payload_bytes: u64,
    /// The zip's entries, directories and all.
    pub zip_entries: u64,
}

/// A tag file's digests. Fast mode hashes tag files with SHA-256 only: a tag file whose SHA-256
/// and CRC-32 match is intact, and SHA-512 (no instructions for it on common CPUs) would take
/// most of fast mode's time on a large collection (its index and manifests are ~400 MB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagDigests {
    pub sha256: String,
    /// None in fast mode.
    pub sha512: Option<String>,
}

impl TagDigests {
    /// The digest for `alg`, when it was computed.
    fn get(&self, alg: &str) -> Option<&str> {
        match alg {
            "sha256" => Some(&self.sha256),
            _ => self.sha512.as_deref(),
        }
    }

    /// True when every digest computed equals the recorded one.
    pub(crate) fn agree_with(&self, recorded: &hash::Digests) -> bool {
        self.sha256 == recorded.sha256 && self.sha512.as_ref().is_none_or(|d| *d == recorded.sha512)
    }
}
