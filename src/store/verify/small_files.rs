//! The small files beside an archive, read whole without trusting them: the `.sha256` file
//! checked against the zip's digest, and why such a file could not be read.

use crate::bag::OpenArchive;
use crate::bag::manifest;
use crate::error::Result;
use crate::finding::{Code, Finding};
use crate::store::sidecar::VersionManifest;
use crate::store::{FileKind, Store};
use std::path::Path;

/// What the `.sha256` file is compared with.
pub(super) enum ChecksumReference {
    /// The zip's SHA-256, computed in this run.
    Computed(String),
    /// The sidecar's record of it (fast mode: nothing is hashed).
    Recorded(String),
    /// Only the file's form is checked (fast mode, no sidecar).
    FormOnly,
}

impl ChecksumReference {
    /// `computed` is the zip's SHA-256 when this run hashed the zip (full mode).
    pub(super) fn choose(computed: Option<String>, sidecar: Option<&VersionManifest>) -> Self {
        match (computed, sidecar) {
            (Some(d), _) => ChecksumReference::Computed(d),
            (None, Some(m)) => ChecksumReference::Recorded(m.archive.sha256.clone()),
            (None, None) => ChecksumReference::FormOnly,
        }
    }
}

/// The `.sha256` file must exist (for stored versions), name the zip, and give its digest.
pub(super) fn check_checksum_file(
    store: &Store,
    archive: &OpenArchive,
    path: &Path,
    reference: ChecksumReference,
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let label = path.display().to_string();
    let text = match read_small_text(store, path, MAX_CHECKSUM_FILE) {
        Ok(t) => t,
        Err(why) => {
            findings.push(Finding::new(Code::ChecksumFile, &label, why.to_string()));
            return Ok(());
        }
    };
    let zip_name = archive
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (lines, bad) = manifest::parse_manifest(&text, 64);
    if !bad.is_empty() || lines.len() != 1 || lines[0].path.trim_start_matches('*') != zip_name {
        findings.push(Finding::new(
            Code::ChecksumFile,
            &label,
            format!("expected one line `<sha256>  {zip_name}`"),
        ));
        return Ok(());
    }
    let recorded = &lines[0].digest;
    let (actual, what) = match reference {
        ChecksumReference::Computed(d) => (d, "the zip's SHA-256 is"),
        ChecksumReference::Recorded(d) => (d, "the sidecar manifest records"),
        ChecksumReference::FormOnly => return Ok(()),
    };
    if *recorded != actual {
        findings.push(Finding::new(
            Code::ChecksumFile,
            &label,
            format!("says {recorded}, {what} {actual}"),
        ));
    }
    Ok(())
}

/// A `.sha256` file is one line.
pub(super) const MAX_CHECKSUM_FILE: u64 = 64 << 10;

/// `not a regular file but <what it is>`.
pub(super) fn not_regular_message(kind: FileKind) -> String {
    let what = match kind {
        FileKind::Folder => FOLDER,
        FileKind::Special(what) => what,
        FileKind::File(_) => "a regular file",
    };
    Unreadable::NotRegular(what).to_string()
}

const FOLDER: &str =
    "a folder (verify checks zip files; a bag folder can be zipped, or checked by a BagIt tool)";

/// What a path that is not a regular file is instead, for a message.
fn not_regular_kind(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        FOLDER
    } else {
        crate::fsutil::special_kind(meta.file_type()).unwrap_or("something else")
    }
}

/// Why a small file that verify reads whole (a sidecar manifest, a `.sha256` file) was not
/// read: the message of the finding that reports it.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unreadable {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A FIFO would block for ever, a device never end.
    #[error("not a regular file but {0}")]
    NotRegular(&'static str),
    /// Larger than such a file ever is: it is not what it should be.
    #[error("{size} bytes, larger than such a file ever is ({limit} bytes): not read")]
    TooLarge { size: u64, limit: u64 },
    #[error("grew past {limit} bytes while it was read: not read")]
    Grew { limit: u64 },
    #[error("not UTF-8 text")]
    NotUtf8,
    /// A remote store could not be read (unreachable, refused).
    #[error("could not be read: {0}")]
    Store(String),
}

/// Reads a small file whole, unless it cannot be read, is not a regular file or is larger than
/// `limit`.
pub(super) fn read_small(
    store: &Store,
    path: &Path,
    limit: u64,
) -> std::result::Result<Vec<u8>, Unreadable> {
    if store.is_remote() {
        return read_small_remote(store, path, limit);
    }
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(Unreadable::NotRegular(not_regular_kind(&meta)));
    }
    if meta.len() > limit {
        return Err(Unreadable::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let file = std::fs::File::open(path)?;
    crate::fsutil::read_at_most(file, limit, meta.len())?.ok_or(Unreadable::Grew { limit })
}

/// [`read_small`] of a remote store's file: every object is a regular file there.
fn read_small_remote(
    store: &Store,
    path: &Path,
    limit: u64,
) -> std::result::Result<Vec<u8>, Unreadable> {
    match store.file_kind(path) {
        Err(e) => Err(Unreadable::Store(e.to_string())),
        Ok(None) => Err(Unreadable::Io(std::io::ErrorKind::NotFound.into())),
        Ok(Some(FileKind::File(size))) if size > limit => Err(Unreadable::TooLarge { size, limit }),
        Ok(Some(FileKind::File(_))) => match store.read_small(path, limit) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(Unreadable::Grew { limit }),
            Err(e) => Err(Unreadable::Store(e.to_string())),
        },
        Ok(Some(FileKind::Folder)) => Err(Unreadable::NotRegular(FOLDER)),
        Ok(Some(FileKind::Special(kind))) => Err(Unreadable::NotRegular(kind)),
    }
}

pub(super) fn read_small_text(
    store: &Store,
    path: &Path,
    limit: u64,
) -> std::result::Result<String, Unreadable> {
    String::from_utf8(read_small(store, path, limit)?).map_err(|_| Unreadable::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_that_is_not_read_says_why_in_the_findings_words() {
        let dir = tempfile::tempdir().unwrap();
        let folder = read_small(&Store::new(""), dir.path(), 10)
            .unwrap_err()
            .to_string();
        assert!(
            folder.starts_with("not a regular file but a folder"),
            "{folder}"
        );
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert_eq!(
            read_small(&Store::new(""), &big, 10)
                .unwrap_err()
                .to_string(),
            "11 bytes, larger than such a file ever is (10 bytes): not read"
        );
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_small_text(&Store::new(""), &binary, 10)
                .unwrap_err()
                .to_string(),
            "not UTF-8 text"
        );
        assert!(matches!(
            read_small(&Store::new(""), &dir.path().join("absent"), 10),
            Err(Unreadable::Io(_))
        ));
        assert_eq!(
            read_small_text(&Store::new(""), &big, 11).unwrap(),
            "x".repeat(11)
        );
    }
}
