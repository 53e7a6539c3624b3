//! The store under faults: a lost manifest, a changed stage blob, exports aimed into a store,
//! killed exports' leftovers, inputs that are all refused.

use crate::util::{cablekeep, examples, finding_codes, run, run_ok, temp_store};
use std::path::{Path, PathBuf};

fn bundle(store: &Path, input: &Path, expected: i32) -> String {
    run_ok(
        cablekeep(store)
            .arg("bundle")
            .arg(input)
            .args(["-c", "ex", "-m", "test"]),
        expected,
    )
}

fn zip_of(store: &Path, v: u32) -> PathBuf {
    store.join(format!("archives/ex/ex-v{v}.zip"))
}

fn manifest_of(store: &Path, v: u32) -> PathBuf {
    store.join(format!("manifests/ex/ex-v{v}.json"))
}

/// A store whose collection `ex` has three versions, one sample cable added by each.
fn three_versions() -> tempfile::TempDir {
    let store = temp_store();
    for page in ["09EXAMPLE101.html", "10EXAMPLE202.html", "06EXAMPLE303.txt"] {
        bundle(store.path(), &examples().join(page), 0);
    }
    store
}

/// A fourth cable: one row of a bulk table.
fn fourth_cable(dir: &Path) -> PathBuf {
    let path = dir.join("fourth.csv");
    std::fs::write(
        &path,
        "\"44\",\"1/13/2010 14:31\",\"10ATLANTIS44\",\"Embassy Atlantis\",\"UNCLASSIFIED\",\"\",\"\",\
         \"UNCLAS ATLANTIS 000044\n\nTAGS: PREL, AQ\nSUBJECT: CABLE 44\n\n1. Text.\n\"\n",
    )
    .unwrap();
    path
}

fn bundle_fourth(store: &Path, scratch: &Path) -> std::process::Output {
    run(cablekeep(store)
        .arg("bundle")
        .arg(fourth_cable(scratch))
        .args(["-c", "ex", "-m", "a fourth cable"]))
}

fn pending_markers(store: &Path) -> usize {
    std::fs::read_dir(store.join(".cablekeep/pending"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_zip_whose_manifest_was_lost_blocks_writes_and_is_never_removed() {
    let store = three_versions();
    let scratch = tempfile::tempdir().unwrap();
    let original = std::fs::read(manifest_of(store.path(), 3)).unwrap();
    std::fs::remove_file(manifest_of(store.path(), 3)).unwrap();
    let zip = std::fs::read(zip_of(store.path(), 3)).unwrap();

    // Twice: the first refusal must leave nothing behind that makes the second one delete it.
    for _ in 0..2 {
        let out = bundle_fourth(store.path(), scratch.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("ex-v3.zip") && stderr.contains("rebuild-manifest -c ex --version 3"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(zip_of(store.path(), 3)).unwrap(), zip);
        assert_eq!(pending_markers(store.path()), 0);
        let verify = run_ok(cablekeep(store.path()).args(["verify", "--json"]), 1);
        let codes = finding_codes(&verify);
        assert!(codes.contains(&"M006".to_string()), "{verify}");
        assert!(!codes.contains(&"M008".to_string()), "{verify}");
    }

    // The manifest is written again from the zip; every version then verifies, and the next
    // version is written on top of it.
    let rebuilt = run_ok(
        cablekeep(store.path()).args(["rebuild-manifest", "-c", "ex", "--version", "v3"]),
        0,
    );
    assert!(rebuilt.contains("rebuilt ex@v3"), "{rebuilt}");
    let before: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest_of(store.path(), 3)).unwrap()).unwrap();
    for field in [
        "identifier",
        "message",
        "archive",
        "bag",
        "counts",
        "previous",
        "tool",
    ] {
        assert_eq!(before[field], after[field], "{field}");
    }
    assert!(after["rebuilt"]["at"].is_string(), "{after}");
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);
    let out = bundle_fourth(store.path(), scratch.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);
    assert_eq!(std::fs::read(zip_of(store.path(), 3)).unwrap(), zip);
}

#[test]
fn a_manifest_is_not_rebuilt_from_a_damaged_zip() {
    let store = three_versions();
    std::fs::remove_file(manifest_of(store.path(), 2)).unwrap();
    std::fs::remove_file(manifest_of(store.path(), 3)).unwrap();
    // v3 first: its previous version's manifest is missing too.
    let out = run(cablekeep(store.path()).args(["rebuild-manifest", "-c", "ex", "--version", "3"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rebuild that one first"),
        "{out:?}"
    );
    // A damaged zip: a byte of the first entry's data flipped.
    let zip = zip_of(store.path(), 2);
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&zip, &bytes).unwrap();
    let out = run_ok(
        cablekeep(store.path()).args(["rebuild-manifest", "-c", "ex", "--version", "2"]),
        1,
    );
    assert!(out.contains("not rebuilt"), "{out}");
    assert!(!manifest_of(store.path(), 2).exists());
}

#[test]
fn a_rebuilt_middle_manifest_says_the_next_link_stays_broken() {
    let store = three_versions();
    std::fs::remove_file(manifest_of(store.path(), 2)).unwrap();
    let out = run_ok(
        cablekeep(store.path()).args(["rebuild-manifest", "-c", "ex", "--version", "2"]),
        0,
    );
    assert!(out.contains("ex@v3 names the lost manifest"), "{out}");
    let verify = run_ok(
        cablekeep(store.path()).args(["verify", "--all", "--json"]),
        1,
    );
    assert_eq!(finding_codes(&verify), vec!["M005".to_string()], "{verify}");
}

#[test]
fn only_the_zip_an_interrupted_write_names_is_removed() {
    let store = three_versions();
    let scratch = tempfile::tempdir().unwrap();
    let zip = zip_of(store.path(), 3);
    let bytes = std::fs::read(&zip).unwrap();
    std::fs::remove_file(manifest_of(store.path(), 3)).unwrap();
    let pending = store.path().join(".cablekeep/pending");
    std::fs::create_dir_all(&pending).unwrap();
    let marker = |sha256: &str| {
        serde_json::json!({"file": "ex-v3.zip", "bytes": bytes.len(), "sha256": sha256}).to_string()
    };
    // A marker that names another zip (or an empty one, as older releases wrote) proves nothing:
    // the zip is kept and the write refused.
    for content in [marker(&"0".repeat(64)), String::new()] {
        std::fs::write(pending.join("ex-v3"), content).unwrap();
        let out = bundle_fourth(store.path(), scratch.path());
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_eq!(std::fs::read(&zip).unwrap(), bytes);
    }
    // A marker naming exactly this zip: a write was interrupted between the zip's rename and
    // the manifest's, so the next writer removes that zip and writes the version anew.
    let sha256 = crate::util::sha256_hex(&bytes);
    std::fs::write(pending.join("ex-v3"), marker(&sha256)).unwrap();
    let verify = run_ok(cablekeep(store.path()).args(["verify", "--json"]), 0);
    assert!(
        finding_codes(&verify).contains(&"M008".to_string()),
        "{verify}"
    );
    let out = bundle_fourth(store.path(), scratch.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(pending_markers(store.path()), 0);
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);
}

#[test]
fn exports_are_never_written_inside_a_store() {
    let store = three_versions();
    let elsewhere = temp_store();
    crate::util::copy_tree(store.path(), elsewhere.path());
    for out in [
        store.path().join("archives/ex/ex-v4.zip"),
        store.path().join("manifests/ex/export"),
        store.path().join(".cablekeep/export"),
        store.path().join("archives"),
        // Another store's folders, reached through `..`.
        store
            .path()
            .join("..")
            .join(elsewhere.path().file_name().unwrap())
            .join("archives/ex/x.zip"),
    ] {
        let result = run(cablekeep(store.path())
            .args(["export", "-c", "ex", "--format", "zip", "--out"])
            .arg(&out));
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{}: {stderr}", out.display());
        assert!(stderr.contains("never written inside a store"), "{stderr}");
        assert!(
            !out.exists() || out.ends_with("archives"),
            "{}",
            out.display()
        );
    }
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);
}

#[test]
fn a_zip_export_takes_the_place_of_an_empty_folder() {
    let store = three_versions();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("empty");
    std::fs::create_dir(&dest).unwrap();
    run_ok(
        cablekeep(store.path())
            .args(["export", "-c", "ex", "--format", "zip", "--out"])
            .arg(&dest),
        0,
    );
    assert!(dest.is_file());
}

#[test]
fn what_a_killed_export_left_is_removed_by_the_next_one_and_nothing_else() {
    let store = three_versions();
    let out = tempfile::tempdir().unwrap();
    // What a killed `export --format sqlite` leaves beside --out: a scratch folder whose lock
    // went with the process. A folder of the old temporary prefix, or any other, is not ours to
    // judge and stays.
    let abandoned = out.path().join(".cablekeep-scratch-abc123");
    std::fs::create_dir(&abandoned).unwrap();
    std::fs::write(abandoned.join("cables.sqlite"), vec![0u8; 4096]).unwrap();
    let foreign = out.path().join(".cablekeep-tmp-someone-elses");
    std::fs::create_dir(&foreign).unwrap();
    run_ok(
        cablekeep(store.path())
            .args(["export", "-c", "ex", "--format", "sqlite", "--out"])
            .arg(out.path().join("db")),
        0,
    );
    assert!(!abandoned.exists());
    assert!(foreign.exists());
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_killed_sqlite_export_leaves_only_what_the_next_export_removes() {
    let store = three_versions();
    let out = tempfile::tempdir().unwrap();
    let mut child = cablekeep(store.path())
        .args(["export", "-c", "ex", "--format", "sqlite", "--out"])
        .arg(out.path().join("db"))
        .spawn()
        .unwrap();
    // Killed as soon as its scratch folder exists (or after it finished: both are fine).
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(20) {
        let scratch = std::fs::read_dir(out.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".cablekeep-")
        });
        if scratch || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().unwrap();
    run_ok(
        cablekeep(store.path())
            .args(["export", "-c", "ex", "--format", "csv", "--out"])
            .arg(out.path().join("csv")),
        0,
    );
    let left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_staged_blob_changed_before_commit_stops_the_commit() {
    let store = temp_store();
    let page = examples().join("10EXAMPLE202.html");
    run_ok(
        cablekeep(store.path())
            .arg("add")
            .arg(&page)
            .args(["-c", "ex"]),
        0,
    );
    let blobs = store.path().join(".cablekeep/stage/blobs");
    let blob = std::fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&blob).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&blob, &bytes).unwrap();

    let out = run(cablekeep(store.path()).args(["commit", "-c", "ex", "-m", "staged"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed after it was staged"), "{stderr}");
    assert!(!store.path().join("archives/ex/ex-v1.zip").exists());
    assert!(!manifest_of(store.path(), 1).exists());
    // The stage is kept; adding the input again restores the blob, and the commit goes through.
    run_ok(
        cablekeep(store.path())
            .arg("add")
            .arg(&page)
            .args(["-c", "ex"]),
        0,
    );
    run_ok(
        cablekeep(store.path()).args(["commit", "-c", "ex", "-m", "staged"]),
        0,
    );
    let raw = run(cablekeep(store.path()).args(["show", "10EXAMPLE202", "--raw"]));
    assert_eq!(raw.stdout, std::fs::read(&page).unwrap());
}

#[test]
fn inputs_that_are_all_refused_write_no_version() {
    let store = temp_store();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.html");
    std::fs::write(&big, vec![b'x'; 2048]).unwrap();
    for _ in 0..2 {
        let out = run_ok(
            cablekeep(store.path()).arg("bundle").arg(&big).args([
                "-c",
                "ex",
                "--max-input-bytes",
                "1024",
            ]),
            1,
        );
        assert!(
            out.contains("I002") && out.contains("nothing written: no input could be read"),
            "{out}"
        );
        assert!(!store.path().join("archives/ex/ex-v1.zip").exists());
    }
    // Also with --replace on a collection that has a version: it is not emptied.
    bundle(store.path(), &examples().join("09EXAMPLE101.html"), 0);
    run_ok(
        cablekeep(store.path()).arg("bundle").arg(&big).args([
            "-c",
            "ex",
            "--replace",
            "--max-input-bytes",
            "1024",
        ]),
        1,
    );
    assert!(!zip_of(store.path(), 2).exists());
}

#[test]
fn an_io_error_is_told_once() {
    let store = temp_store();
    let out = run(cablekeep(store.path()).args(["bundle", "/nonexistent/page.html", "-c", "ex"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_killed_index_builds_leftover_is_removed_by_the_next_build_and_nothing_else() {
    let store = three_versions();
    let state = store.path().join(".cablekeep");
    // What a search killed while building its index leaves (its lock went with it), and a
    // writer's temporary, which only a writer's recovery (under the store lock) may judge.
    let abandoned = state.join(".cablekeep-scratch-dead");
    std::fs::create_dir_all(&abandoned).unwrap();
    std::fs::write(abandoned.join("segment"), vec![0u8; 1 << 20]).unwrap();
    let writers = state.join(".cablekeep-tmp-writer");
    std::fs::write(&writers, b"spill").unwrap();
    run_ok(cablekeep(store.path()).args(["search", "example"]), 0);
    assert!(!abandoned.exists());
    assert!(writers.exists());
}

#[test]
fn a_fifo_in_place_of_a_pending_marker_hangs_nothing() {
    let store = three_versions();
    let scratch = tempfile::tempdir().unwrap();
    std::fs::remove_file(manifest_of(store.path(), 3)).unwrap();
    let pending = store.path().join(".cablekeep/pending");
    std::fs::create_dir_all(&pending).unwrap();
    crate::util::mkfifo(&pending.join("ex-v3"));
    let limit = std::time::Duration::from_secs(30);
    let mut verify = cablekeep(store.path());
    verify.args(["verify", "--json"]);
    let m = crate::util::measure(&verify, limit);
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(1), "{m:?}");
    assert!(
        finding_codes(&m.stdout).contains(&"M006".to_string()),
        "{m:?}"
    );
    let mut bundle = cablekeep(store.path());
    bundle
        .arg("bundle")
        .arg(fourth_cable(scratch.path()))
        .args(["-c", "ex"]);
    let m = crate::util::measure(&bundle, limit);
    assert!(!m.timed_out, "{m:?}");
    assert_eq!(m.code, Some(2), "{m:?}");
    assert!(zip_of(store.path(), 3).exists());
}

#[test]
fn a_marker_left_after_the_commit_point_never_leads_to_removing_the_committed_zip() {
    let store = three_versions();
    let scratch = tempfile::tempdir().unwrap();
    let zip = zip_of(store.path(), 3);
    let bytes = std::fs::read(&zip).unwrap();
    // What a writer killed between its manifest's rename and its marker's removal leaves.
    let pending = store.path().join(".cablekeep/pending");
    std::fs::create_dir_all(&pending).unwrap();
    let marker = serde_json::json!({
        "file": "ex-v3.zip", "bytes": bytes.len(), "sha256": crate::util::sha256_hex(&bytes)
    });
    std::fs::write(pending.join("ex-v3"), marker.to_string()).unwrap();
    // Any command that takes the store lock removes it, since v3 has its manifest ...
    let page = examples().join("09EXAMPLE101.html");
    run_ok(
        cablekeep(store.path())
            .arg("add")
            .arg(&page)
            .args(["-c", "ex"]),
        0,
    );
    assert_eq!(pending_markers(store.path()), 0);
    // ... so a manifest lost later leaves a zip that is kept and blocks the next version.
    std::fs::remove_file(manifest_of(store.path(), 3)).unwrap();
    let out = bundle_fourth(store.path(), scratch.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(std::fs::read(&zip).unwrap(), bytes);
}
