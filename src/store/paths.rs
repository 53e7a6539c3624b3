//! Where a store keeps what: the paths of its archives, checksums, sidecar manifests, stage and
//! pending markers, and which store a path belongs to.

use super::Store;
use std::path::{Path, PathBuf};

impl Store {
    /// The folder of a collection's zips and their `.sha256` files:
    /// `<store>/archives/<collection>/` (FORMAT.md section 1).
    pub fn archive_dir(&self, collection: &str) -> PathBuf {
        self.root.join("archives").join(collection)
    }

    /// The folder of a collection's sidecar manifests, seals and link event log:
    /// `<store>/manifests/<collection>/`.
    pub fn manifest_dir(&self, collection: &str) -> PathBuf {
        self.root.join("manifests").join(collection)
    }

    /// The file name of a version's zip, `<collection>-v<N>.zip`.
    pub fn zip_name(collection: &str, version: u32) -> String {
        format!("{collection}-v{version}.zip")
    }

    /// Where a version's zip lies: `archives/<collection>/<collection>-v<N>.zip` in the store.
    pub fn zip_path(&self, collection: &str, version: u32) -> PathBuf {
        self.archive_dir(collection)
            .join(Self::zip_name(collection, version))
    }

    /// Where a version's checksum file lies, `<zip>.sha256`: one line `<sha256>  <zip name>` that
    /// `sha256sum -c` accepts.
    pub fn checksum_path(&self, collection: &str, version: u32) -> PathBuf {
        self.archive_dir(collection)
            .join(format!("{}.sha256", Self::zip_name(collection, version)))
    }

    /// Where a version's sidecar manifest lies, `manifests/<collection>/<collection>-v<N>.json`
    /// (FORMAT.md section 5). The version exists exactly when this file does.
    pub fn manifest_path(&self, collection: &str, version: u32) -> PathBuf {
        self.manifest_dir(collection)
            .join(format!("{collection}-v{version}.json"))
    }

    /// The store whose own folders (`archives/`, `manifests/`, `.cablekeep/`) hold `path` (or
    /// are it), if any: this store, or another one (a folder of one of those names beside
    /// another of them). Nothing but a version's writer may put files there.
    pub fn root_owning(&self, path: &Path) -> Option<PathBuf> {
        let own = std::fs::canonicalize(&self.root).ok();
        let path = resolve_existing_prefix(path);
        path.ancestors().find_map(|folder| {
            let name = folder.file_name()?.to_str()?;
            let root = folder.parent()?;
            let is_store = Some(root) == own.as_deref()
                || STORE_FOLDERS
                    .iter()
                    .filter(|f| root.join(f).is_dir())
                    .count()
                    >= 2;
            (STORE_FOLDERS.contains(&name) && is_store).then(|| root.to_path_buf())
        })
    }

    pub(super) fn state_dir(&self) -> PathBuf {
        self.root.join(".cablekeep")
    }

    pub(super) fn stage_path(&self, collection: &str) -> PathBuf {
        self.state_dir()
            .join("stage")
            .join(format!("{collection}.json"))
    }

    /// The marker that a write of this version is under way. It exists from before the zip is
    /// renamed into place until after the manifest is, and names the size and SHA-256 of the
    /// zip its writer puts in place (`PendingWrite`), so a zip without a manifest is known to
    /// come from an interrupted write only when it is exactly that zip (and only such a zip is
    /// ever removed).
    pub fn pending_marker(&self, collection: &str, version: u32) -> PathBuf {
        self.state_dir()
            .join("pending")
            .join(format!("{collection}-v{version}"))
    }

    pub(super) fn blob_dir(&self) -> PathBuf {
        self.state_dir().join("stage").join("blobs")
    }
}

/// The folders a store is made of.
const STORE_FOLDERS: [&str; 3] = ["archives", "manifests", ".cablekeep"];

/// `path` made absolute through its longest existing prefix (symbolic links resolved there), the
/// rest appended as written (`..` taken lexically), so a path that does not exist yet can be
/// placed.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut rest = Vec::new();
    let mut prefix = absolute.as_path();
    loop {
        if let Ok(real) = std::fs::canonicalize(prefix) {
            let mut resolved = real;
            for part in rest.iter().rev() {
                match part {
                    std::path::Component::ParentDir => {
                        resolved.pop();
                    }
                    std::path::Component::Normal(p) => resolved.push(p),
                    _ => {}
                }
            }
            return resolved;
        }
        let (Some(parent), Some(last)) = (prefix.parent(), prefix.components().next_back()) else {
            return absolute;
        };
        rest.push(last);
        prefix = parent;
    }
}
