//! `verify` against hostile archives and stores: whatever the input, memory stays flat, the
//! report has a bounded size, nothing hangs, and one bad collection does not stop the others.

use crate::util::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The collection the fixtures write.
const C: &str = "t";

/// A store with `t@v1` made of the sample pages.
fn store_with_one_version() -> tempfile::TempDir {
    crate::util::sample_store(C)
}

fn zip_of(store: &Path, collection: &str, version: u32) -> PathBuf {
    store.join(format!("archives/{collection}/{collection}-v{version}.zip"))
}

/// Rewrites `zip` entry by entry (each copied as it is stored), but the entry whose name ends
/// with `name` is written anew (Deflate) by `write`, in its place.
fn rewrite_entry(zip: &Path, name: &str, write: impl FnOnce(&mut dyn Write)) {
    let mut source = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let out_path = zip.with_extension("rewritten");
    let mut out = zip::ZipWriter::new(std::fs::File::create(&out_path).unwrap());
    let mut write = Some(write);
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).unwrap();
        let entry_name = entry.name().unwrap().to_string();
        if entry_name.ends_with(name) {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            out.start_file(entry_name, options).unwrap();
            (write.take().expect("one entry of that name"))(&mut out);
        } else {
            out.raw_copy_file(entry).unwrap();
        }
    }
    out.finish().unwrap();
    std::fs::rename(&out_path, zip).unwrap();
}

/// An entry of a zip, inflated.
fn read_entry(zip: &Path, name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let index = (0..archive.len())
        .find(|&i| archive.name_for_index(i).unwrap().unwrap().ends_with(name))
        .unwrap();
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(index).unwrap(), &mut data).unwrap();
    data
}

/// Replaces the entry whose name ends with `suffix` with its first line repeated to `bytes`
/// bytes (a few MB of zip: repeated lines deflate a thousandfold).
fn repeat_first_line(zip: &Path, suffix: &str, bytes: u64) {
    let text = String::from_utf8(read_entry(zip, suffix)).unwrap();
    let line = format!("{}\n", text.lines().next().unwrap());
    let block = line.repeat((1 << 20) / line.len());
    rewrite_entry(zip, suffix, |out| {
        let mut written = 0;
        while written < bytes {
            out.write_all(block.as_bytes()).unwrap();
            written += block.len() as u64;
        }
    });
}

/// Replaces `manifest-sha256.txt` with its first line repeated to `bytes` bytes.
fn repeat_first_manifest_line(zip: &Path, bytes: u64) {
    repeat_first_line(zip, "/manifest-sha256.txt", bytes);
}

/// Replaces the cable index with its first line repeated to `bytes` bytes.
fn repeat_first_index_line(zip: &Path, bytes: u64) {
    repeat_first_line(zip, "/cablekeep/index.jsonl", bytes);
}

/// The lines of a `verify --json` report with this code.
fn with_code<'a>(findings: &'a [serde_json::Value], code: &str) -> Vec<&'a serde_json::Value> {
    findings.iter().filter(|f| f["code"] == code).collect()
}

/// A 1 GiB payload manifest of one repeated line (millions of B010 findings before the caps):
/// flat memory, a report of bounded size, every mode.
#[test]
fn a_manifest_of_a_gigabyte_of_one_repeated_line_is_checked_in_bounded_memory_and_output() {
    let store = store_with_one_version();
    let zip = zip_of(store.path(), C, 1);
    repeat_first_manifest_line(&zip, 1 << 30);
    assert!(std::fs::metadata(&zip).unwrap().len() < 16 << 20);
    for args in [&["--json"][..], &["--json", "--whole"], &[], &["--fast"]] {
        let mut cmd = cablekeep(store.path());
        cmd.arg("verify").args(args);
        let m = measure(&cmd, Duration::from_secs(120));
        assert!(!m.timed_out, "{args:?}: {m:?}");
        assert_eq!(m.code, Some(1), "{args:?}: {}", m.stderr);
        assert!(m.peak_rss_mb() < 256.0, "{args:?}: {} MB", m.peak_rss_mb());
        assert!(
            m.stdout.len() < 1 << 20,
            "{args:?}: {} bytes of report",
            m.stdout.len()
        );
        if !args.contains(&"--json") {
            assert!(m.stdout.contains("B012 error"), "{args:?}: {}", m.stdout);
            continue;
        }
        let findings = json_lines(&m.stdout);
        let duplicates = with_code(&findings, "B010");
        assert_eq!(duplicates.len(), 101, "{args:?}: 100 in full and a count");
        let last = duplicates[100]["message"].as_str().unwrap();
        assert!(last.contains("more B010 findings"), "{last}");
        let too_large = with_code(&findings, "B012");
        assert_eq!(too_large.len(), 1, "{args:?}: {too_large:?}");
        assert!(
            too_large[0]["entry"]
                .as_str()
                .unwrap()
                .ends_with("manifest-sha256.txt"),
            "{too_large:?}"
        );
    }
}

/// A zip of 98 bytes whose zip64 end record claims 2^63 entries in a directory of 2^62 bytes.
fn zip64_end_records_claiming(entries: u64, cd_size: u64) -> Vec<u8> {
    let mut b = Vec::new();
    // zip64 end of central directory record, at 0
    b.extend(0x0606_4b50u32.to_le_bytes());
    b.extend(44u64.to_le_bytes());
    b.extend(45u16.to_le_bytes());
    b.extend(45u16.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(entries.to_le_bytes());
    b.extend(entries.to_le_bytes());
    b.extend(cd_size.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    // zip64 locator
    b.extend(0x0706_4b50u32.to_le_bytes());
    b.extend(0u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend(1u32.to_le_bytes());
    // end of central directory record
    b.extend(0x0605_4b50u32.to_le_bytes());
    b.extend([0; 4]);
    b.extend([0xFF; 4]);
    b.extend([0xFF; 8]);
    b.extend([0; 2]);
    b
}

#[test]
fn a_central_directory_claiming_two_to_the_sixty_three_entries_is_a_finding() {
    let dir = temp_store();
    let zip = dir.path().join("claims.zip");
    std::fs::write(&zip, zip64_end_records_claiming(1 << 63, 1 << 62)).unwrap();
    for args in [&["--json"][..], &["--json", "--fast"]] {
        let mut cmd = cablekeep(dir.path());
        cmd.arg("verify").args(args).arg(&zip);
        let m = measure(&cmd, Duration::from_secs(60));
        assert!(!m.timed_out, "{m:?}");
        assert_eq!(m.code, Some(1), "{args:?}: {}", m.stderr);
        assert!(m.peak_rss_mb() < 256.0, "{} MB", m.peak_rss_mb());
        let codes = finding_codes(&m.stdout);
        assert!(codes.contains(&"Z002".to_string()), "{codes:?}");
    }
}

/// Runs `verify` with a time limit: a FIFO read would wait for ever.
fn verify_measured(store: &Path, args: &[&std::ffi::OsStr]) -> Measured {
    let mut cmd = cablekeep(store);
    cmd.arg("verify").args(args);
    let m = measure(&cmd, Duration::from_secs(60));
    assert!(!m.timed_out, "verify {args:?} hung: {m:?}");
    m
}

#[test]
fn a_fifo_given_as_the_zip_is_a_finding_not_a_hang() {
    let dir = temp_store();
    let fifo = dir.path().join("x.zip");
    mkfifo(&fifo);
    let m = verify_measured(dir.path(), &["--json".as_ref(), fifo.as_os_str()]);
    assert_eq!(m.code, Some(1), "{m:?}");
    assert_eq!(finding_codes(&m.stdout), ["Z011"], "{}", m.stdout);
    assert!(m.stdout.contains("not a regular file"), "{}", m.stdout);
}

#[test]
fn a_fifo_as_sidecar_or_checksum_file_is_a_finding_not_a_hang() {
    let store = store_with_one_version();
    // A copy of the zip with a FIFO as its sidecar beside it, and one as its .sha256.
    let dir = temp_store();
    let zip = dir.path().join("t-v1.zip");
    std::fs::copy(zip_of(store.path(), C, 1), &zip).unwrap();
    mkfifo(&dir.path().join("t-v1.json"));
    mkfifo(&dir.path().join("t-v1.zip.sha256"));
    let m = verify_measured(dir.path(), &["--json".as_ref(), zip.as_os_str()]);
    assert_eq!(m.code, Some(1), "{m:?}");
    let codes = finding_codes(&m.stdout);
    assert!(codes.contains(&"M001".to_string()), "{codes:?}");
    assert!(codes.contains(&"M004".to_string()), "{codes:?}");
    // In the store: the .sha256 file of the version is a FIFO.
    let checksum = store.path().join(format!("archives/{C}/{C}-v1.zip.sha256"));
    std::fs::remove_file(&checksum).unwrap();
    mkfifo(&checksum);
    for all in [false, true] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["--json".as_ref()];
        if all {
            args.push("--all".as_ref());
        }
        let m = verify_measured(store.path(), &args);
        assert_eq!(m.code, Some(1), "{m:?}");
        assert!(
            finding_codes(&m.stdout).contains(&"M004".to_string()),
            "{}",
            m.stdout
        );
    }
}

#[test]
fn a_fifo_as_the_link_log_is_a_finding_not_a_hang() {
    let store = store_with_one_version();
    mkfifo(&store.path().join(format!("manifests/{C}/links.jsonl")));
    let m = verify_measured(store.path(), &["--json".as_ref()]);
    assert_eq!(m.code, Some(1), "{m:?}");
    assert_eq!(finding_codes(&m.stdout), ["L002"], "{}", m.stdout);
}

#[test]
fn a_fifo_in_place_of_a_stored_zip_is_a_finding_and_other_collections_are_checked() {
    let store = store_with_one_version();
    run_ok(
        cablekeep(store.path()).arg("bundle").arg(examples()).args([
            "-c",
            "u",
            "-m",
            "second collection",
        ]),
        0,
    );
    let zip = zip_of(store.path(), C, 1);
    std::fs::remove_file(&zip).unwrap();
    mkfifo(&zip);
    let m = verify_measured(store.path(), &[]);
    assert_eq!(m.code, Some(1), "{m:?}");
    assert!(m.stdout.contains("Z011 error"), "{}", m.stdout);
    assert!(m.stdout.contains("ok: u@v1"), "{}", m.stdout);
}

/// A first bundle that failed (ENOSPC, say) leaves `archives/<collection>/` empty.
fn store_with_an_empty_collection_folder() -> tempfile::TempDir {
    let store = store_with_one_version();
    std::fs::create_dir_all(store.path().join("archives/dev")).unwrap();
    store
}

#[test]
fn an_empty_collection_folder_is_a_warning_and_every_other_collection_is_verified() {
    let store = store_with_an_empty_collection_folder();
    let out = run_ok(cablekeep(store.path()).args(["verify", "--json"]), 0);
    assert_eq!(finding_codes(&out), ["M009"], "{out}");
    let out = run_ok(cablekeep(store.path()).arg("verify"), 0);
    assert!(out.contains("M009 warning"), "{out}");
    assert!(out.contains("ok: t@v1"), "{out}");
    // Damage in the real collection is still found.
    std::fs::remove_file(store.path().join(format!("archives/{C}/{C}-v1.zip.sha256"))).unwrap();
    let out = run_ok(cablekeep(store.path()).args(["verify", "--json"]), 1);
    let codes = finding_codes(&out);
    assert!(
        codes.contains(&"M004".to_string()) && codes.contains(&"M009".to_string()),
        "{codes:?}"
    );
    // Asked for one version of every collection: the empty folder is still only a warning.
    let out = run_ok(
        cablekeep(store.path()).args(["verify", "--json", "--version", "1"]),
        1,
    );
    assert!(finding_codes(&out).contains(&"M009".to_string()), "{out}");
    // A collection that does not exist at all is still an error.
    let out = run(cablekeep(store.path()).args(["verify", "-c", "nosuch"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stats_and_export_choose_the_only_collection_with_versions() {
    let store = store_with_an_empty_collection_folder();
    let out = run_ok(cablekeep(store.path()).args(["stats", "--json"]), 0);
    assert!(out.contains("\"t@v1\""), "{out}");
    let csv = store.path().join("out.csv");
    run_ok(
        cablekeep(store.path())
            .args(["export", "--format", "csv", "--out"])
            .arg(&csv),
        0,
    );
    assert!(csv.exists());
}

#[test]
fn a_cablekeep_export_zip_verifies_as_an_export() {
    let store = store_with_one_version();
    let zip = store.path().join("x.zip");
    run_ok(
        cablekeep(store.path())
            .args(["export", "-c", C, "--format", "zip", "--out"])
            .arg(&zip),
        0,
    );
    for args in [&[][..], &["--whole"], &["--fast"]] {
        let out = run_ok(
            cablekeep(store.path()).arg("verify").args(args).arg(&zip),
            0,
        );
        assert!(out.contains("ok: "), "{out}");
    }
    // The folder form: verify checks zips, and says so.
    let folder = store.path().join("x-bag");
    run_ok(
        cablekeep(store.path())
            .args(["export", "-c", C, "--format", "bag", "--out"])
            .arg(&folder),
        0,
    );
    let out = run_ok(
        cablekeep(store.path())
            .args(["verify", "--json"])
            .arg(&folder),
        1,
    );
    assert_eq!(finding_codes(&out), ["Z011"], "{out}");
    assert!(out.contains("verify checks zip files"), "{out}");
    // A bag of the store's own layout without its list of unparsed inputs still fails.
    let own = zip_of(store.path(), C, 1);
    let rewritten = store.path().join("own.zip");
    std::fs::copy(&own, &rewritten).unwrap();
    let mut source = zip::ZipArchive::new(std::fs::File::open(&own).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(&rewritten).unwrap());
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).unwrap();
        if !entry.name().unwrap().ends_with("cablekeep/unparsed.jsonl") {
            out.raw_copy_file(entry).unwrap();
        }
    }
    out.finish().unwrap();
    let out = run_ok(
        cablekeep(store.path())
            .args(["verify", "--json"])
            .arg(&rewritten),
        1,
    );
    assert!(finding_codes(&out).contains(&"B011".to_string()), "{out}");
}

#[test]
fn a_zip_verified_without_sidecar_says_its_own_digest_was_not_checked() {
    let store = store_with_one_version();
    let dir = temp_store();
    let zip = dir.path().join("alone.zip");
    std::fs::copy(zip_of(store.path(), C, 1), &zip).unwrap();
    let out = run_ok(cablekeep(dir.path()).arg("verify").arg(&zip), 0);
    assert!(out.contains("ok: "), "{out}");
    assert!(out.contains("digest was not checked"), "{out}");
    let out = run_ok(
        cablekeep(dir.path()).args(["verify", "--json"]).arg(&zip),
        0,
    );
    let lines = json_lines(&out);
    assert!(
        lines.iter().any(|l| l["zip_digest_checked"] == false),
        "{out}"
    );
    assert!(finding_codes(&out).is_empty(), "{out}");
    // With the sidecar given, nothing is said.
    let sidecar = store.path().join(format!("manifests/{C}/{C}-v1.json"));
    let out = run_ok(
        cablekeep(dir.path())
            .arg("verify")
            .arg(&zip)
            .arg("--manifest")
            .arg(&sidecar),
        0,
    );
    assert!(!out.contains("not checked"), "{out}");
}

#[test]
fn sidecar_mismatch_messages_do_not_show_rust_options() {
    let store = store_with_one_version();
    let sidecar = store.path().join(format!("manifests/{C}/{C}-v1.json"));
    let text = std::fs::read_to_string(&sidecar).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["bag"]["folder"] = "dev-v2".into();
    manifest["bag"]["payload_oxum"] = "1.1".into();
    std::fs::write(&sidecar, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let out = run_ok(
        cablekeep(store.path())
            .args(["verify", "--json"])
            .arg(zip_of(store.path(), C, 1)),
        1,
    );
    let m003: Vec<String> = json_lines(&out)
        .into_iter()
        .filter(|l| l["code"] == "M003")
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect();
    assert!(m003.len() >= 2, "{out}");
    for message in &m003 {
        assert!(!message.contains("Some("), "{message}");
    }
    assert!(
        m003.iter()
            .any(|m| m.contains("\"t-v1\" in the archive, \"dev-v2\" in the manifest")),
        "{m003:?}"
    );
}

/// 256 MiB of one repeated index line (a million B011 findings before the cap). The index has
/// no size budget (its lines carry each cable's metadata, so its size is not tied to the
/// zip's): time grows with what it inflates to (about 18 s a GiB in a debug build), memory
/// and output do not.
#[test]
fn an_index_of_one_repeated_line_is_checked_in_bounded_memory_and_output() {
    let store = store_with_one_version();
    let zip = zip_of(store.path(), C, 1);
    repeat_first_index_line(&zip, 256 << 20);
    for args in [&["--json"][..], &["--json", "--whole", "--fast"]] {
        let mut cmd = cablekeep(store.path());
        cmd.arg("verify").args(args);
        let m = measure(&cmd, Duration::from_secs(120));
        assert!(!m.timed_out, "{args:?}: {m:?}");
        assert_eq!(m.code, Some(1), "{args:?}: {}", m.stderr);
        assert!(m.peak_rss_mb() < 256.0, "{args:?}: {} MB", m.peak_rss_mb());
        let findings = json_lines(&m.stdout);
        let index = with_code(&findings, "B011");
        assert_eq!(index.len(), 101, "{args:?}");
        assert!(
            index[100]["message"]
                .as_str()
                .unwrap()
                .contains("more B011 findings")
        );
    }
}

/// A manifest named as version four billion: one finding for the gap, not one per version.
#[test]
fn a_manifest_numbered_four_billion_is_one_gap_not_four_billion_findings() {
    let store = store_with_one_version();
    let manifests = store.path().join(format!("manifests/{C}"));
    std::fs::write(manifests.join(format!("{C}-v4000000000.json")), b"{}").unwrap();
    std::fs::write(manifests.join(format!("{C}-v3.json")), b"{}").unwrap();
    for args in [&["--json"][..], &["--json", "--all"]] {
        let m = verify_measured(
            store.path(),
            &args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        );
        assert_eq!(m.code, Some(1), "{m:?}");
        assert!(m.peak_rss_mb() < 256.0, "{} MB", m.peak_rss_mb());
        let gaps: Vec<String> = json_lines(&m.stdout)
            .into_iter()
            .filter(|f| f["code"] == "M006")
            .map(|f| f["message"].as_str().unwrap().to_string())
            .filter(|m| m.contains("no manifest"))
            .collect();
        assert_eq!(
            gaps,
            [
                "v2 has no manifest, though v4000000000 exists",
                "v4 to v3999999999 have no manifest, though v4000000000 exists"
            ],
            "{args:?}"
        );
    }
}
