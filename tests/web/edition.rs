//! The static edition as files: one page per cable where WikiLeaks had it, checksums that
//! `sha256sum -c` accepts, identical bytes from two runs.

use super::{dev_edition, files_of};
use crate::util::{cablekeep, run, run_ok, shared};
use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn the_dev_edition_has_a_page_at_each_wikileaks_path() {
    let Some(ed) = dev_edition() else { return };
    let Some(dev) = shared("cables/dev") else {
        return;
    };
    let metadata = std::fs::read_to_string(dev.join("metadata.csv")).unwrap();
    let wanted: BTreeSet<String> = metadata
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(wanted.len(), 400);
    let pages: BTreeSet<String> = files_of(&ed.site)
        .into_iter()
        .filter(|p| p.starts_with("cable/") && p.ends_with(".html"))
        .collect();
    let missing: Vec<&String> = wanted.difference(&pages).collect();
    assert!(missing.is_empty(), "no page at {missing:?}");
    for path in &wanted {
        let id = path.rsplit('/').next().unwrap().trim_end_matches(".html");
        let html = std::fs::read_to_string(ed.site.join(path)).unwrap();
        assert!(html.contains(id), "{path} does not name {id}");
    }
}

#[test]
fn sha256sum_checks_the_edition_and_finds_a_changed_byte() {
    let Some(ed) = dev_edition() else { return };
    let copy = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&ed.site, copy.path());
    let check = |dir: &std::path::Path| {
        Command::new("sha256sum")
            .args(["-c", "--quiet", "--strict", "SHA256SUMS"])
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let ok = check(copy.path());
    assert!(ok.status.success(), "{ok:?}");
    let listed = std::fs::read_to_string(copy.path().join("SHA256SUMS"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        listed + 1,
        files_of(copy.path()).len(),
        "every file but SHA256SUMS is listed"
    );
    let page = copy.path().join("index.html");
    let mut bytes = std::fs::read(&page).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&page, bytes).unwrap();
    let bad = check(copy.path());
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("index.html: FAILED"));
}

#[test]
fn two_runs_write_identical_editions_and_a_subset_too() {
    let Some(ed) = dev_edition() else { return };
    let out = tempfile::tempdir().unwrap();
    let again = out.path().join("again");
    run_ok(
        cablekeep(&ed.store)
            .args(["site", "-c", "dev", "--out"])
            .arg(&again),
        0,
    );
    let files = files_of(&ed.site);
    assert_eq!(files, files_of(&again));
    for f in &files {
        assert!(
            std::fs::read(ed.site.join(f)).unwrap() == std::fs::read(again.join(f)).unwrap(),
            "{f} differs between two runs"
        );
    }
    let subset = |name: &str| {
        let dir = out.path().join(name);
        run_ok(
            cablekeep(&ed.store)
                .args([
                    "export",
                    "-c",
                    "dev",
                    "--format",
                    "site",
                    "--origin",
                    "Embassy Madrid",
                    "--out",
                ])
                .arg(&dir),
            0,
        );
        dir
    };
    let (a, b) = (subset("a"), subset("b"));
    let files = files_of(&a);
    assert_eq!(files, files_of(&b));
    let pages = files
        .iter()
        .filter(|f| f.starts_with("cable/") && f.ends_with(".html"))
        .count();
    assert!(pages > 0 && pages < 100, "{pages} pages of Embassy Madrid");
    for f in &files {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn an_edition_is_never_written_over_anything() {
    let Some(ed) = dev_edition() else { return };
    let out = run(cablekeep(&ed.store)
        .args(["site", "-c", "dev", "--out"])
        .arg(&ed.site));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already exists"),
        "{out:?}"
    );
}
