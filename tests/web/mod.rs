//! The web edition (`site`, `export --format site`, `serve`): the edition of the dev set,
//! checked file by file, link by link and in a real browser (headless Chromium).
//!
//! Every test reads one edition, built once: the dev set with the first captures of
//! `versions/` as v1, their second captures as v2 (so cables have a history), sealed with a
//! key made by ssh-keygen.

mod browser;
mod cable;
mod edition;
mod links;
mod search;
mod serve;

use crate::util::{cablekeep, run_ok, shared};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The dev set's store and its edition, written once for every test of this module.
pub(crate) struct DevEdition {
    /// Holds the store (`store/`), the key (`key`) and the edition (`site/`).
    _dir: tempfile::TempDir,
    /// The store: collection `dev`, versions 1 and 2, v2 sealed.
    pub(crate) store: PathBuf,
    /// The edition of dev@v2 written by `cablekeep site -c dev --out site`.
    pub(crate) site: PathBuf,
    /// The private key v2 is sealed with (its `.pub` beside it).
    #[allow(dead_code)]
    pub(crate) key: PathBuf,
}

/// The dev set's edition; None (the test is skipped, and says so) when ../shared is missing.
pub(crate) fn dev_edition() -> Option<&'static DevEdition> {
    static EDITION: OnceLock<Option<DevEdition>> = OnceLock::new();
    // Checked by every caller, so that each skip is counted.
    let dev = shared("cables/dev")?;
    let versions = shared("cables/versions")?;
    EDITION
        .get_or_init(|| Some(build(&dev, &versions)))
        .as_ref()
}

fn build(dev: &Path, versions: &Path) -> DevEdition {
    // A static is never dropped, so the fixture lives in a fixed folder of the build's temporary
    // space, made anew by each run of the tests (a temporary folder would be left behind).
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-edition");
    if root.exists() {
        std::fs::remove_dir_all(&root).unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::tempdir_in(&root).unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let captures = |prefix: &str| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(versions)
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .collect();
        files.sort();
        files
    };
    run_ok(
        cablekeep(&store)
            .args([
                "bundle",
                "-c",
                "dev",
                "-m",
                "the dev set and first captures",
            ])
            .arg(dev)
            .args(captures("v1_")),
        0,
    );
    run_ok(
        cablekeep(&store)
            .args(["bundle", "-c", "dev", "-m", "second captures"])
            .args(captures("v2_")),
        0,
    );
    let key = dir.path().join("key");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-C", "web", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(made.success());
    run_ok(
        cablekeep(&store)
            .args(["seal", "-c", "dev", "--key"])
            .arg(&key),
        0,
    );
    let site = dir.path().join("site");
    run_ok(
        cablekeep(&store)
            .args(["site", "-c", "dev", "--out"])
            .arg(&site),
        0,
    );
    DevEdition {
        _dir: dir,
        store,
        site,
        key,
    }
}

/// Every file of an edition, as paths relative to its root with `/`, sorted.
pub(crate) fn files_of(site: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(site)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(site)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    files.sort();
    files
}
