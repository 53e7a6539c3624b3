//! Which files a store holds, by name (FORMAT.md section 1): the parts of each version, the
//! collection's link log, and anything else (which no store writes).

/// What a store file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// `archives/<c>/<c>-v<N>.zip`
    Zip,
    /// `archives/<c>/<c>-v<N>.zip.sha256`
    Checksum,
    /// `manifests/<c>/<c>-v<N>.checkpoint`
    Checkpoint,
    /// `manifests/<c>/<c>-v<N>.checkpoint.<key>.sig`
    Signature,
    /// `manifests/<c>/<c>-v<N>.checkpoint.tsr`
    Timestamp,
    /// `manifests/<c>/<c>-v<N>.json`: the sidecar, whose presence makes the version exist, so
    /// it is written last.
    Sidecar,
    /// `manifests/<c>/links.jsonl`: the collection's link log, the one file that grows.
    LinkLog,
}

/// A file of a store, named by its store-relative path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreFile {
    /// The collection it belongs to.
    pub collection: String,
    /// The version it belongs to (none for the link log).
    pub version: Option<u32>,
    /// What it is.
    pub kind: FileKind,
}

/// What the store-relative path `rel` is, or None for a name no store writes.
pub(crate) fn classify(rel: &str) -> Option<StoreFile> {
    let mut parts = rel.split('/');
    let (top, collection, name) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || crate::store::validate_collection_name(collection).is_err() {
        return None;
    }
    let file = |version, kind| {
        Some(StoreFile {
            collection: collection.to_string(),
            version,
            kind,
        })
    };
    let rest = name
        .strip_prefix(collection)
        .and_then(|r| r.strip_prefix("-v"));
    match top {
        "archives" => {
            let (version, suffix) = split_version(rest?)?;
            match suffix {
                ".zip" => file(Some(version), FileKind::Zip),
                ".zip.sha256" => file(Some(version), FileKind::Checksum),
                _ => None,
            }
        }
        "manifests" if name == "links.jsonl" => file(None, FileKind::LinkLog),
        "manifests" => {
            let (version, suffix) = split_version(rest?)?;
            let kind = match suffix {
                ".json" => FileKind::Sidecar,
                ".checkpoint" => FileKind::Checkpoint,
                ".checkpoint.tsr" => FileKind::Timestamp,
                s if is_signature_suffix(s) => FileKind::Signature,
                _ => return None,
            };
            file(Some(version), kind)
        }
        _ => None,
    }
}

impl StoreFile {
    /// Whether cablekeep reads this file whole when it compares replicas (everything but zips,
    /// whose digests the sidecar records).
    pub fn is_small(&self) -> bool {
        self.kind != FileKind::Zip
    }
}

/// The store-relative path of a version's sidecar.
pub(crate) fn sidecar_rel(collection: &str, version: u32) -> String {
    format!("manifests/{collection}/{collection}-v{version}.json")
}

/// `12.json` → (12, ".json"): the version number (no leading zeros) and what follows it.
fn split_version(rest: &str) -> Option<(u32, &str)> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = rest.split_at(digits);
    if number.is_empty() || (number.len() > 1 && number.starts_with('0')) {
        return None;
    }
    let version: u32 = number.parse().ok()?;
    (version > 0).then_some((version, suffix))
}

/// `.checkpoint.<key id>.sig`, the key id in lower-case hex as `seal` names it.
fn is_signature_suffix(suffix: &str) -> bool {
    suffix
        .strip_prefix(".checkpoint.")
        .and_then(|s| s.strip_suffix(".sig"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_files_by_name() {
        let kind = |rel: &str| classify(rel).map(|f| (f.collection, f.version, f.kind));
        assert_eq!(
            kind("archives/dev/dev-v3.zip"),
            Some(("dev".into(), Some(3), FileKind::Zip))
        );
        assert_eq!(
            kind("archives/dev/dev-v3.zip.sha256").map(|k| k.2),
            Some(FileKind::Checksum)
        );
        assert_eq!(
            kind("manifests/dev/dev-v12.json").map(|k| k.1),
            Some(Some(12))
        );
        assert_eq!(
            kind("manifests/dev/dev-v1.checkpoint.81092054722e52da.sig").map(|k| k.2),
            Some(FileKind::Signature)
        );
        assert_eq!(
            kind("manifests/dev/dev-v1.checkpoint.tsr").map(|k| k.2),
            Some(FileKind::Timestamp)
        );
        assert_eq!(
            kind("manifests/dev/links.jsonl"),
            Some(("dev".into(), None, FileKind::LinkLog))
        );
        for other in [
            "archives/dev/dev-v0.zip",
            "archives/dev/dev-v01.zip",
            "archives/dev/other-v1.zip",
            "archives/dev/dev-v1.zip.bak",
            "manifests/dev/dev-v1.checkpoint.XYZ.sig",
            "manifests/dev/sub/dev-v1.json",
            "manifests/dev-v1.json",
            "notes/dev/dev-v1.json",
        ] {
            assert_eq!(classify(other), None, "{other}");
        }
    }
}
