//! The store's catalog where the store cannot be written: in the cache, or for one run.

use super::*;
use crate::query::select::Filter;
use crate::store::Store;

/// A store with one version of the sample cable 10EXAMPLE202.
fn sample_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let lock = store.lock(crate::store::LockWait::FailAtOnce).unwrap();
    let page = include_bytes!("../../../examples/10EXAMPLE202.html");
    let item = crate::input::InputItem::bytes("10EXAMPLE202.html", page.to_vec());
    store
        .write_version(
            &lock,
            crate::store::WriteRequest {
                collection: "demo",
                inputs: vec![(item.into(), Default::default())],
                replace: false,
                message: "",
                progress: &crate::progress::NoProgress,
                archive_format: Default::default(),
            },
        )
        .unwrap();
    (dir, store)
}

/// A catalog place that cannot be written even by root: its folder is a regular file.
fn unwritable_place(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("a-file"), b"").unwrap();
    dir.join("a-file").join("catalog.sqlite")
}

#[test]
fn a_store_that_cannot_be_written_gets_its_catalog_in_the_cache() {
    let (dir, store) = sample_store();
    let blocked = unwritable_place(dir.path());
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = cache_dir.path().join("c").join("catalog.sqlite");
    let progress = &crate::progress::NoProgress;
    let open = || Catalog::open_in(&store, &blocked, Some(cache.clone()), progress).unwrap();
    let (catalog, rebuilt) = open();
    assert!(rebuilt);
    assert_eq!(catalog.path(), cache);
    let hits = catalog
        .search("redacted", None, &Filter::default(), 5)
        .unwrap();
    assert_eq!(hits.len(), 1);
    let (again, rebuilt) = open();
    assert!(!rebuilt, "the cached catalog is reused");
    assert_eq!(again.path(), cache);
}

#[test]
fn without_a_cache_a_catalog_is_made_for_the_run() {
    let (dir, store) = sample_store();
    let blocked = unwritable_place(dir.path());
    let progress = &crate::progress::NoProgress;
    let (catalog, rebuilt) = Catalog::open_in(&store, &blocked, None, progress).unwrap();
    assert!(rebuilt);
    let path = catalog.path().to_path_buf();
    assert!(!path.starts_with(dir.path()));
    assert_eq!(
        catalog
            .search("redacted", None, &Filter::default(), 5)
            .unwrap()
            .len(),
        1
    );
    drop(catalog);
    assert!(!path.exists(), "the run's catalog is removed");
}
