//! Hostile queries and option values: search terms that made snippets take minutes, numbers
//! that overflowed, URLs and texts that forged output, unknown collections, a read-only store.

use crate::util::{cablekeep, measure, run, run_ok, temp_store};
use std::path::Path;
use std::time::Duration;

/// A store of the first `n` cables of the shared dev set (long real texts, where a snippet's
/// cost shows), or None when the shared data is missing.
fn dev_store(n: usize) -> Option<tempfile::TempDir> {
    let dev = crate::util::shared("cables/dev/cable")?;
    let mut pages: Vec<_> = walkdir::WalkDir::new(dev)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    pages.sort();
    let input = tempfile::tempdir().unwrap();
    for page in pages.iter().take(n) {
        std::fs::copy(page, input.path().join(page.file_name().unwrap())).unwrap();
    }
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .args(["bundle", "-c", "dev"])
            .arg(input.path()),
        0,
    );
    Some(store)
}

fn search(store: &Path, query: &str) -> std::process::Command {
    let mut cmd = cablekeep(store);
    cmd.args(["search", "--", query]);
    cmd
}

#[test]
fn queries_past_the_bounds_are_refused_at_once() {
    let Some(store) = dev_store(20) else { return };
    let repeated = vec!["the"; 200].join(" ");
    let ors = vec!["a"; 3000].join(" OR ");
    let long = "x".repeat(3000);
    for query in [&repeated, &ors, &long] {
        let m = measure(&search(store.path(), query), Duration::from_secs(10));
        assert!(!m.timed_out, "{m:?}");
        assert_eq!(m.code, Some(2), "{m:?}");
        assert!(m.stderr.contains("at most"), "{}", m.stderr);
        let out = store.path().join("export");
        let mut export = cablekeep(store.path());
        export
            .args(["export", "--format", "csv", "--query", query, "--out"])
            .arg(&out);
        let m = measure(&export, Duration::from_secs(10));
        assert_eq!(m.code, Some(2), "{m:?}");
        assert!(m.stderr.contains("at most"), "{}", m.stderr);
        assert!(!out.exists());
    }
}

#[test]
fn a_word_repeated_up_to_the_bound_is_searched_in_moments() {
    let Some(store) = dev_store(20) else { return };
    for query in [
        vec!["the"; 64].join(" "),
        vec!["the"; 64].join(" OR "),
        vec!["thé", "The", "\"the\"", "THE"].repeat(16).join(" "),
    ] {
        let m = measure(&search(store.path(), &query), Duration::from_secs(5));
        assert!(!m.timed_out, "{query}: {m:?}");
        assert_eq!(m.code, Some(0), "{m:?}");
        assert!(m.stdout.contains("[the]"), "{}", m.stdout);
    }
}
