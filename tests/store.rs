//! The store end to end: bundle, verify, determinism, versions, diff, stage, log, show, lock.

use crate::need_shared;
use crate::util::*;
use std::path::{Path, PathBuf};

/// bagit.py from the project's peer environment (scripts/setup-peers.sh). Missing peers fail
/// the test under CI (which installs them) and skip it loudly elsewhere.
fn bagit_py() -> Option<PathBuf> {
    let path = project_root().join(".venv-peers/bagit/bin/bagit.py");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "bagit.py is missing under CI: scripts/setup-peers.sh did not run"
    );
    eprintln!(
        "\n!!! SKIPPED: {} is missing; run scripts/setup-peers.sh !!!\n",
        path.display()
    );
    None
}

fn unzip(zip: &Path, into: &Path) {
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        ])
        .arg(zip)
        .arg(into)
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "python3 could not unzip {}",
        zip.display()
    );
}

fn bundle(store: &Path, inputs: &[&Path], collection: &str, expected: i32) -> String {
    let mut cmd = cablekeep(store);
    cmd.arg("bundle")
        .args(inputs)
        .args(["-c", collection, "-m", "test"]);
    run_ok(&mut cmd, expected)
}

fn zip_of(store: &Path, collection: &str, v: u32) -> PathBuf {
    store.join(format!("archives/{collection}/{collection}-v{v}.zip"))
}

#[test]
fn dev_pages_bundle_verify_and_pass_bagit_py() {
    let dev = need_shared!("cables/dev");
    let store = temp_store();
    bundle(store.path(), &[&dev], "dev", 0);
    let log = run_ok(cablekeep(store.path()).args(["log", "--json"]), 0);
    let manifest = &json_lines(&log)[0];
    assert_eq!(manifest["identifier"], "dev@v1");
    assert_eq!(
        manifest["counts"]["captures"], 400,
        "every dev page is a capture of a cable"
    );
    // 08ECTION01OF02MANAMA492 is a malformed id of 08MANAMA492: one cable, two captures.
    assert_eq!(manifest["counts"]["cables"], 398);
    assert_eq!(manifest["counts"]["unparsed"], 0);
    let out = run_ok(cablekeep(store.path()).arg("verify"), 0);
    assert!(out.contains("ok: dev@v1"), "{out}");
    run_ok(cablekeep(store.path()).args(["verify", "--fast"]), 0);

    // Any preservation tool can check the bag without cablekeep.
    let Some(bagit) = bagit_py() else { return };
    let unpacked = tempfile::tempdir().unwrap();
    unzip(&zip_of(store.path(), "dev", 1), unpacked.path());
    let bag = unpacked.path().join("dev-v1");
    let status = std::process::Command::new(&bagit)
        .args(["--validate", "--quiet"])
        .arg(&bag)
        .status()
        .unwrap();
    assert!(status.success(), "bagit.py --validate rejected the bag");
    // And sha256sum accepts the archive's checksum file and the bag's manifest.
    let status = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "dev-v1.zip.sha256"])
        .current_dir(store.path().join("archives/dev"))
        .status()
        .unwrap();
    assert!(status.success());
    let status = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "manifest-sha256.txt"])
        .current_dir(&bag)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn two_fresh_stores_write_byte_identical_zips() {
    let dev = need_shared!("cables/dev");
    let (a, b) = (temp_store(), temp_store());
    bundle(a.path(), &[&dev, &examples()], "same", 0);
    // The other store is given the inputs in another order: the archive must not care.
    bundle(b.path(), &[&examples(), &dev], "same", 0);
    let za = std::fs::read(zip_of(a.path(), "same", 1)).unwrap();
    let zb = std::fs::read(zip_of(b.path(), "same", 1)).unwrap();
    assert!(za == zb, "the two archives differ");
    // With SOURCE_DATE_EPOCH the bytes are fixed across days too.
    let (c, d) = (temp_store(), temp_store());
    for s in [&c, &d] {
        run_ok(
            cablekeep(s.path())
                .env("SOURCE_DATE_EPOCH", "1300000000")
                .arg("bundle")
                .arg(examples())
                .args(["-c", "x"]),
            0,
        );
    }
    let zc = std::fs::read(zip_of(c.path(), "x", 1)).unwrap();
    assert_eq!(zc, std::fs::read(zip_of(d.path(), "x", 1)).unwrap());
    let archive = cablekeep::bag::OpenArchive::open(&zip_of(c.path(), "x", 1)).unwrap();
    let bag_info = String::from_utf8(archive.read_required("bag-info.txt").unwrap()).unwrap();
    assert!(
        bag_info.contains("Bagging-Date: 2011-03-13"),
        "SOURCE_DATE_EPOCH sets Bagging-Date: {bag_info}"
    );
}

#[test]
fn second_version_diff_names_changed_cables_and_their_redactions() {
    let dev = need_shared!("cables/dev");
    let versions = need_shared!("cables/versions");
    let store = temp_store();
    bundle(store.path(), &[&dev], "dev", 0);
    let v1_zip = std::fs::read(zip_of(store.path(), "dev", 1)).unwrap();
    bundle(store.path(), &[&versions], "dev", 0);
    assert_eq!(
        std::fs::read(zip_of(store.path(), "dev", 1)).unwrap(),
        v1_zip,
        "v1 is never rewritten"
    );
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);

    let out = run_ok(
        cablekeep(store.path()).args(["diff", "v1", "v2", "--json"]),
        0,
    );
    let diff = &json_lines(&out)[0];
    let expected = expected_version_changes(&versions);
    let mut seen = std::collections::BTreeMap::new();
    for kind in ["added", "changed"] {
        for c in diff[kind].as_array().unwrap() {
            seen.insert(c["id"].as_str().unwrap().to_string(), (kind, c.clone()));
        }
    }
    assert!(diff["removed"].as_array().unwrap().is_empty());
    let ids: Vec<&String> = seen.keys().collect();
    let expected_ids: Vec<&String> = expected.keys().collect();
    assert_eq!(
        ids, expected_ids,
        "the diff lists exactly the cables of versions/"
    );
    for (id, (change, in_dev)) in &expected {
        let (kind, c) = &seen[id];
        assert_eq!(*kind, if *in_dev { "changed" } else { "added" }, "{id}");
        // Compare the two versions/ captures: the comparison between them carries the change.
        let redaction = c["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["redaction"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        match change.as_str() {
            "more_redaction" => assert!(
                redaction.contains(&"gained".to_string()),
                "{id} gained redactions: {c}"
            ),
            "less_redaction" => assert!(
                redaction.contains(&"lost".to_string()),
                "{id} lost redactions: {c}"
            ),
            _ => assert!(
                c["text_changed"].as_bool().unwrap(),
                "{id} was re-typed: {c}"
            ),
        }
    }
    let human = run_ok(cablekeep(store.path()).args(["diff", "v1", "v2"]), 0);
    assert!(
        human.contains("redactions added") && human.contains("redactions removed"),
        "{human}"
    );
}

/// From versions.csv: cable id → (overall change, whether the cable is in dev/).
fn expected_version_changes(versions: &Path) -> std::collections::BTreeMap<String, (String, bool)> {
    let text = std::fs::read_to_string(versions.join("versions.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (id, change, in_dev) = (
        col("ref_id"),
        col("cable_overall_change"),
        col("in_dev_set"),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|f| {
            (
                f[id].to_string(),
                (f[change].to_string(), f[in_dev] == "true"),
            )
        })
        .collect()
}

/// Rewrites a zip's central directory with its records in reverse order (the entries' local
/// headers and data stay where they are): a valid zip that lists its files out of path order.
fn reverse_central_directory(zip: &Path) {
    let mut bytes = std::fs::read(zip).unwrap();
    let le = |b: &[u8], n: usize| {
        b[..n]
            .iter()
            .rev()
            .fold(0usize, |v, x| v << 8 | *x as usize)
    };
    let eocd = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])
        .unwrap();
    let (size, offset) = (le(&bytes[eocd + 12..], 4), le(&bytes[eocd + 16..], 4));
    let mut records = Vec::new();
    let mut at = offset;
    while at < offset + size {
        let h = &bytes[at..];
        let len = 46 + le(&h[28..], 2) + le(&h[30..], 2) + le(&h[32..], 2);
        records.push(bytes[at..at + len].to_vec());
        at += len;
    }
    records.reverse();
    bytes.splice(offset..offset + size, records.concat());
    std::fs::write(zip, bytes).unwrap();
}

#[test]
fn a_second_version_is_the_same_when_the_first_lists_its_files_out_of_order() {
    let dev = need_shared!("cables/dev");
    let versions = need_shared!("cables/versions");
    // A fixed time, so that the two stores' versions can be compared byte for byte.
    let bundle = |store: &Path, input: &Path| {
        let mut command = cablekeep(store);
        command.env("SOURCE_DATE_EPOCH", "1300000000");
        run_ok(command.arg("bundle").arg(input).args(["-c", "dev"]), 0);
    };
    let sorted = temp_store();
    bundle(sorted.path(), &dev);
    // The next version copies v1's files, found by reading v1's directory forward; when v1
    // lists them out of order, they are found through a table of the whole directory instead.
    let reversed = temp_store();
    copy_tree(sorted.path(), reversed.path());
    reverse_central_directory(&zip_of(reversed.path(), "dev", 1));
    let listed = |store: &Path| {
        let archive = cablekeep::bag::OpenArchive::open(&zip_of(store, "dev", 1)).unwrap();
        assert!(
            archive.index.findings.is_empty(),
            "{:?}",
            archive.index.findings
        );
        archive
            .index
            .entries
            .into_iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
    };
    let mut order = listed(reversed.path());
    assert_ne!(order, listed(sorted.path()));
    order.reverse();
    assert_eq!(order, listed(sorted.path()));
    for store in [&sorted, &reversed] {
        bundle(store.path(), &versions);
    }
    let v2 = |store: &Path| std::fs::read(zip_of(store, "dev", 2)).unwrap();
    assert!(
        v2(sorted.path()) == v2(reversed.path()),
        "the second versions differ"
    );
}

#[test]
fn bundling_the_same_inputs_again_writes_nothing() {
    let store = temp_store();
    bundle(store.path(), &[&examples()], "ex", 0);
    let out = bundle(store.path(), &[&examples()], "ex", 0);
    assert!(out.contains("nothing new"), "{out}");
    assert!(!zip_of(store.path(), "ex", 2).exists());
}

/// Two different sample cables, each as `cable.html` in a mirror's folder under `dir`.
fn two_cables_named_alike(dir: &Path) -> (PathBuf, PathBuf) {
    let first = dir.join("mirror-a/cable.html");
    let second = dir.join("mirror-b/cable.html");
    for (from, to) in [
        ("09EXAMPLE101.html", &first),
        ("10EXAMPLE202.html", &second),
    ] {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(examples().join(from), to).unwrap();
    }
    (first, second)
}

/// Input names do not depend on where inputs lie, so two mirrors' copies can share one; each
/// is still read. The same file given twice is read once.
#[test]
fn two_files_of_the_same_name_are_both_bundled() {
    let store = temp_store();
    let dirs = tempfile::tempdir().unwrap();
    let (first, second) = two_cables_named_alike(dirs.path());
    let out = bundle(store.path(), &[&first, &second, &first], "ex", 0);
    assert!(out.contains("(2 cables, 2 captures"), "{out}");
    assert!(out.contains("0 duplicates skipped"), "{out}");
}

/// The stage keeps inputs of one `add` that share a name, as `bundle` does; a later `add` of
/// the name replaces them.
#[test]
fn staging_two_files_of_the_same_name_keeps_both() {
    let store = temp_store();
    let dirs = tempfile::tempdir().unwrap();
    let (first, second) = two_cables_named_alike(dirs.path());
    let add = |paths: &[&PathBuf]| {
        run_ok(
            cablekeep(store.path())
                .arg("add")
                .args(paths)
                .args(["-c", "st"]),
            0,
        )
    };
    let staged = || {
        let status = json_lines(&run_ok(
            cablekeep(store.path()).args(["status", "--json"]),
            0,
        ));
        status[0]["stage"]["items"].as_array().unwrap().len()
    };
    add(&[&first, &second, &first]);
    assert_eq!(staged(), 2);
    add(&[&second]);
    assert_eq!(staged(), 1, "a later add of the name replaces both");
    add(&[&first, &second]);
    let out = run_ok(cablekeep(store.path()).args(["commit", "-m", "two"]), 0);
    assert!(out.contains("(2 cables, 2 captures"), "{out}");
}

#[test]
fn replace_removes_cables_not_given_and_chains_to_the_previous_version() {
    let store = temp_store();
    bundle(store.path(), &[&examples()], "ex", 0);
    let one = examples().join("09EXAMPLE101.html");
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(&one)
            .args(["-c", "ex", "--replace"]),
        0,
    );
    let out = run_ok(
        cablekeep(store.path()).args(["diff", "v1", "v2", "--json"]),
        0,
    );
    let diff = &json_lines(&out)[0];
    assert_eq!(diff["removed"].as_array().unwrap().len(), 2, "{diff}");
    assert_eq!(diff["unchanged"], 1);
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(log[0]["previous"]["version"], 1);
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);
}

#[test]
fn staged_add_status_commit() {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .arg("add")
            .arg(examples().join("09EXAMPLE101.html"))
            .args(["-c", "st"]),
        0,
    );
    run_ok(
        cablekeep(store.path())
            .arg("add")
            .arg(examples().join("06EXAMPLE303.txt"))
            .args(["-c", "st", "--publisher", "test-mirror"]),
        0,
    );
    // The stage survives between runs.
    let status = json_lines(&run_ok(
        cablekeep(store.path()).args(["status", "--json"]),
        0,
    ));
    assert_eq!(status[0]["stage"]["items"].as_array().unwrap().len(), 2);
    assert!(status[0]["latest"].is_null());
    let out = run_ok(
        cablekeep(store.path()).args(["commit", "-m", "two pages"]),
        0,
    );
    assert!(out.contains("wrote st@v1"), "{out}");
    let status = run_ok(cablekeep(store.path()).arg("status"), 0);
    assert!(status.contains("nothing staged"), "{status}");
    let shown = run_ok(
        cablekeep(store.path()).args(["show", "06EXAMPLE303", "--json"]),
        0,
    );
    let record: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        record["source"]["publisher"], "test-mirror",
        "a provenance flag overrides the page"
    );
    let raw = cablekeep(store.path())
        .args(["show", "09EXAMPLE101", "--raw"])
        .output()
        .unwrap();
    assert_eq!(
        raw.stdout,
        std::fs::read(examples().join("09EXAMPLE101.html")).unwrap(),
        "raw bytes are kept exactly"
    );
    // Committing an empty stage could not run.
    run_ok(cablekeep(store.path()).args(["commit", "-c", "st"]), 2);
}

#[test]
fn log_and_show_report_versions_and_records() {
    let store = temp_store();
    bundle(store.path(), &[&examples()], "ex", 0);
    let log = run_ok(cablekeep(store.path()).arg("log"), 0);
    assert!(log.contains("ex@v1") && log.contains("3 cables"), "{log}");
    let show = run_ok(cablekeep(store.path()).args(["show", "10example202"]), 0);
    assert!(
        show.contains("SECRET//NOFORN") && show.contains("redacted"),
        "{show}"
    );
    run_ok(cablekeep(store.path()).args(["show", "99NOSUCH1"]), 2);
    run_ok(
        cablekeep(store.path()).args(["show", "10EXAMPLE202", "--version", "v7"]),
        2,
    );
}

#[test]
fn a_second_writer_is_refused_while_the_store_is_locked() {
    let store = temp_store();
    let lock = cablekeep::store::Store::new(store.path())
        .lock(cablekeep::store::LockWait::FailAtOnce)
        .unwrap();
    let out = cablekeep(store.path())
        .arg("bundle")
        .arg(examples())
        .args(["-c", "ex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("locked"),
        "a clear message"
    );
    assert!(!zip_of(store.path(), "ex", 1).exists());
    drop(lock);
    bundle(store.path(), &[&examples()], "ex", 0);
}

#[test]
fn bad_input_is_reported_by_name_and_kept() {
    let store = temp_store();
    let inputs = tempfile::tempdir().unwrap();
    std::fs::write(inputs.path().join("notes.txt"), b"shopping list: eggs").unwrap();
    std::fs::copy(
        examples().join("09EXAMPLE101.html"),
        inputs.path().join("page.html"),
    )
    .unwrap();
    let out = bundle(store.path(), &[inputs.path()], "mixed", 1);
    assert!(out.contains("P001") && out.contains("notes.txt"), "{out}");
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(
        log[0]["counts"]["unparsed"], 1,
        "the raw bytes are kept all the same"
    );
    assert_eq!(log[0]["counts"]["cables"], 1);
    run_ok(cablekeep(store.path()).arg("verify"), 0);
    // A path that does not exist could not run, and names the path.
    let out = cablekeep(store.path())
        .args(["bundle", "/no/such/dir", "-c", "mixed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/dir"));
}

#[test]
fn unsafe_zip_inputs_are_skipped_with_findings() {
    let store = temp_store();
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("pages.zip");
    let page = examples().join("09EXAMPLE101.html");
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\nz.write(sys.argv[2], 'ok/page.html')\nz.writestr('../escape.html', 'x')\nz.close()"])
        .arg(&zip)
        .arg(&page)
        .status()
        .unwrap();
    assert!(status.success());
    let out = bundle(store.path(), &[&zip], "z", 1);
    assert!(
        out.contains("I001") && out.contains("../escape.html"),
        "{out}"
    );
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(log[0]["counts"]["cables"], 1);
}

#[test]
fn demo_runs_on_the_built_in_samples() {
    let store = temp_store();
    let out = run_ok(cablekeep(store.path()).arg("demo"), 0);
    assert!(
        out.contains("wrote examples@v1") && out.contains("ok: examples@v1"),
        "{out}"
    );
    // The built-in samples are the files in examples/: bundling them again adds nothing.
    let again = bundle(store.path(), &[&examples()], "examples", 0);
    assert!(again.contains("nothing new"), "{again}");
}

#[test]
fn the_repository_sample_archive_still_verifies() {
    // Archives written by earlier releases must verify with this one: the sample archive in
    // archives/ and manifests/ was written by cablekeep 0.1.0 (archive format 1).
    let root = project_root();
    let out = run_ok(
        cablekeep(&root).args(["verify", "--all", "-c", "examples"]),
        0,
    );
    assert!(out.contains("ok: examples@v1"), "{out}");
    let zip = root.join("archives/examples/examples-v1.zip");
    run_ok(cablekeep(&root).arg("verify").arg(&zip), 0);
}

#[test]
fn a_zip_whose_manifest_was_lost_is_reported_and_never_removed() {
    let store = temp_store();
    bundle(
        store.path(),
        &[&examples().join("09EXAMPLE101.html")],
        "ex",
        0,
    );
    bundle(store.path(), &[&examples()], "ex", 0);
    std::fs::remove_file(store.path().join("manifests/ex/ex-v2.json")).unwrap();
    let out = run_ok(cablekeep(store.path()).args(["verify", "--json"]), 1);
    assert!(finding_codes(&out).contains(&"M006".to_string()), "{out}");
    // A new write must neither remove nor overwrite the orphaned zip: it refuses to run.
    let zip = std::fs::read(zip_of(store.path(), "ex", 2)).unwrap();
    let again = cablekeep(store.path())
        .arg("bundle")
        .arg(examples().join("06EXAMPLE303.txt"))
        .args(["-c", "ex", "--replace"])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(std::fs::read(zip_of(store.path(), "ex", 2)).unwrap(), zip);
}

#[test]
fn a_bulk_table_is_bundled_row_by_row_with_each_rows_exact_bytes() {
    let store = temp_store();
    let table = project_root().join("tests/data/cables-sample.csv");
    // The fixture has two malformed rows: they are findings (exit 1) and kept as unparsed.
    let out = bundle(store.path(), &[&table], "bulk", 1);
    assert!(out.contains("cables-sample.csv#000000003"), "{out}");
    let log = json_lines(&run_ok(cablekeep(store.path()).args(["log", "--json"]), 0));
    assert_eq!(log[0]["counts"]["cables"], 3);
    assert_eq!(log[0]["counts"]["unparsed"], 2);
    run_ok(cablekeep(store.path()).arg("verify"), 0);
    // The stored raw capture is exactly the row's bytes in the table.
    let raw = cablekeep(store.path())
        .args(["show", "10ATLANTIS7", "--raw"])
        .output()
        .unwrap()
        .stdout;
    let whole = std::fs::read(&table).unwrap();
    assert!(raw.starts_with(b"\"1\",\"1/13/2010 14:31\",\"10ATLANTIS7\""));
    assert!(whole.starts_with(&raw), "row 1 is the table's first bytes");
    let record: serde_json::Value = serde_json::from_str(&run_ok(
        cablekeep(store.path()).args(["show", "10ATLANTIS7", "--json"]),
        0,
    ))
    .unwrap();
    assert_eq!(record["source"]["format"], "cables-csv");
    assert_eq!(
        record["created"], "2010-01-13T14:29:00Z",
        "the header's date-time group wins"
    );
}

#[test]
fn a_bare_text_takes_its_provenance_from_flags() {
    let store = temp_store();
    let bare = project_root().join("tests/data/bare-cable.txt");
    let mut cmd = cablekeep(store.path());
    cmd.arg("bundle").arg(&bare).args([
        "-c",
        "bare",
        "--format",
        "bare-text",
        "--publisher",
        "A Newspaper",
        "--source-url",
        "https://example.org/cables/atlantis-25.txt",
        "--released",
        "2011-02-03",
        "--retrieved",
        "2026-11-27",
    ]);
    run_ok(&mut cmd, 0);
    let record: serde_json::Value = serde_json::from_str(&run_ok(
        cablekeep(store.path()).args(["show", "10ATLANTIS25", "--json"]),
        0,
    ))
    .unwrap();
    assert_eq!(record["source"]["publisher"], "A Newspaper");
    assert_eq!(
        record["source"]["url"],
        "https://example.org/cables/atlantis-25.txt"
    );
    assert_eq!(record["source"]["released"], "2011-02-03");
    assert_eq!(record["source"]["retrieved"], "2026-11-27");
    assert_eq!(record["source"]["format"], "bare-text");
    assert_eq!(record["redaction"]["runs"], 1);
    // A date that is not a date could not run.
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(&bare)
            .args(["-c", "bare", "--released", "soon"]),
        2,
    );
}

/// The compressed bytes of every entry of a zip, by bag path (the bag folder cut off).
fn compressed_entries(zip: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let archive = cablekeep::bag::OpenArchive::open(zip).unwrap();
    let bytes = std::fs::read(zip).unwrap();
    archive
        .index
        .entries
        .iter()
        .map(|e| {
            let start = e.data_offset.expect("a readable local header") as usize;
            let data = bytes[start..start + e.compressed_size as usize].to_vec();
            let path = e.name.split_once('/').unwrap().1.to_string();
            (path, data)
        })
        .collect()
}

#[test]
fn a_new_version_copies_unchanged_entries_without_recompressing_them() {
    let store = temp_store();
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    for name in ["09EXAMPLE101.html", "10EXAMPLE202.html"] {
        std::fs::copy(examples().join(name), first.path().join(name)).unwrap();
    }
    std::fs::copy(
        examples().join("06EXAMPLE303.txt"),
        second.path().join("06EXAMPLE303.txt"),
    )
    .unwrap();
    bundle(store.path(), &[first.path()], "ex", 0);
    bundle(store.path(), &[second.path()], "ex", 0);
    let v1 = compressed_entries(&zip_of(store.path(), "ex", 1));
    let v2 = compressed_entries(&zip_of(store.path(), "ex", 2));
    let carried: Vec<&String> = v1.keys().filter(|p| p.starts_with("data/")).collect();
    assert_eq!(
        carried.len(),
        4,
        "two captures, each raw bytes and a record"
    );
    for path in carried {
        assert_eq!(v1[path], v2[path], "{path} was not copied byte for byte");
    }
    assert!(v2.keys().filter(|p| p.starts_with("data/")).count() > 4);
    run_ok(cablekeep(store.path()).args(["verify", "--all"]), 0);
}

#[test]
fn a_damaged_previous_version_stops_the_next_one_and_nothing_is_written() {
    let store = temp_store();
    let first = tempfile::tempdir().unwrap();
    std::fs::copy(
        examples().join("09EXAMPLE101.html"),
        first.path().join("09EXAMPLE101.html"),
    )
    .unwrap();
    bundle(store.path(), &[first.path()], "ex", 0);
    let zip = zip_of(store.path(), "ex", 1);
    let archive = cablekeep::bag::OpenArchive::open(&zip).unwrap();
    let raw = archive
        .index
        .entries
        .iter()
        .find(|e| e.name.ends_with(".html"))
        .unwrap();
    let mut bytes = std::fs::read(&zip).unwrap();
    let middle = raw.data_offset.unwrap() as usize + raw.compressed_size as usize / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&zip, &bytes).unwrap();
    let out = cablekeep(store.path())
        .arg("bundle")
        .arg(examples().join("10EXAMPLE202.html"))
        .args(["-c", "ex"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run `cablekeep verify`"), "{err}");
    assert!(!zip_of(store.path(), "ex", 2).exists());
    assert_eq!(std::fs::read(&zip).unwrap(), bytes, "v1 was left as it was");
    let leftovers: Vec<_> = std::fs::read_dir(store.path().join(".cablekeep"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".cablekeep-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "spill left behind: {leftovers:?}");
}

/// A bulk-table row for cable `10ATLANTIS<n>` (row number `n`, so that the same cable gives the
/// same bytes again), its text marked with `variant`.
fn table_row(n: u32, variant: &str) -> String {
    format!(
        "\"{n}\",\"1/13/2010 14:31\",\"10ATLANTIS{n}\",\"Embassy Atlantis\",\"UNCLASSIFIED\",\"\",\"\",\
         \"UNCLAS ATLANTIS {n:06}\n\nTAGS: PREL, AQ\nSUBJECT: CABLE {n}\n\n1. Text {variant}.\n\"\n"
    )
}

fn write_table(dir: &Path, name: &str, rows: &[(u32, &str)]) -> PathBuf {
    let path = dir.join(name);
    let text: String = rows.iter().map(|(n, v)| table_row(*n, v)).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn ids(values: &serde_json::Value, key: &str) -> Vec<String> {
    values[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_str()
                .map_or_else(|| v["id"].to_string(), str::to_string)
        })
        .map(|id| {
            id.trim_matches('"')
                .trim_start_matches("10ATLANTIS")
                .to_string()
        })
        .collect()
}

/// The diff merges the two indexes by id: cables added, removed and changed before the first,
/// between and after the last of the other version's ids all come out, in id order.
#[test]
fn diff_finds_changes_at_the_start_middle_and_end_of_the_id_order() {
    let store = temp_store();
    let inputs = tempfile::tempdir().unwrap();
    // Ids sort as text: 10ATLANTIS0 < 10ATLANTIS10 < ... < 10ATLANTIS15 < 10ATLANTIS150 < ... < 10ATLANTIS99.
    let v1: Vec<(u32, &str)> = (10..=19).map(|n| (n, "one")).collect();
    let table = write_table(inputs.path(), "v1.csv", &v1);
    bundle(store.path(), &[&table], "t", 0);
    // v2 adds a capture to the first, a middle and the last cable, and adds three cables.
    let v2 = [
        (10, "two"),
        (15, "two"),
        (19, "two"),
        (0, "one"),
        (150, "one"),
        (99, "one"),
    ];
    let table = write_table(inputs.path(), "v2.csv", &v2);
    bundle(store.path(), &[&table], "t", 0);
    let diff = &json_lines(&run_ok(
        cablekeep(store.path()).args(["diff", "v1", "v2", "--json"]),
        0,
    ))[0];
    assert_eq!(ids(diff, "added"), ["0", "150", "99"], "{diff}");
    assert_eq!(ids(diff, "changed"), ["10", "15", "19"], "{diff}");
    assert!(ids(diff, "removed").is_empty(), "{diff}");
    assert_eq!(diff["unchanged"], 7);
    for c in diff["changed"].as_array().unwrap() {
        assert_eq!(c["captures_added"].as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c["comparisons"].as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c["text_changed"], true, "{c}");
    }

    // v3 keeps only what it is given: the first, a middle and the last cable go, and cable 12's
    // only capture is replaced (its old current capture is compared with the new one).
    let v3: Vec<(u32, &str)> = (10..=19)
        .map(|n| (n, if n == 12 { "three" } else { "one" }))
        .collect();
    let table = write_table(inputs.path(), "v3.csv", &v3);
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(&table)
            .args(["-c", "t", "--replace"]),
        0,
    );
    let diff = &json_lines(&run_ok(
        cablekeep(store.path()).args(["diff", "v2", "v3", "--json"]),
        0,
    ))[0];
    assert_eq!(ids(diff, "removed"), ["0", "150", "99"], "{diff}");
    assert!(ids(diff, "added").is_empty(), "{diff}");
    let changed = ids(diff, "changed");
    assert!(changed.contains(&"12".to_string()), "{diff}");
    let twelve = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "10ATLANTIS12")
        .unwrap();
    assert_eq!(twelve["captures_removed"].as_array().unwrap().len(), 1);
    let last = twelve["comparisons"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["from_capture"], twelve["captures_removed"][0],
        "{twelve}"
    );
    assert_eq!(last["to_capture"], twelve["captures_added"][0], "{twelve}");
    assert_eq!(twelve["text_changed"], true);

    let human = run_ok(cablekeep(store.path()).args(["diff", "v2", "v3"]), 0);
    let removed: Vec<&str> = human.lines().filter(|l| l.starts_with("- ")).collect();
    assert_eq!(
        removed,
        ["- 10ATLANTIS0", "- 10ATLANTIS150", "- 10ATLANTIS99"],
        "{human}"
    );
}
