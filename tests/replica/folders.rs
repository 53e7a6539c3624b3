//! Replicas in local folders (no object storage needed): extra files, a link log that is behind,
//! `--deep` finding a same-size bit flip, and the refusals of the command line.

use crate::util::{cablekeep, json_lines, run, run_ok, sample_store};
use std::path::Path;

fn audit(store: &Path, replicas: &[&Path], extra: &[&str], code: i32) -> serde_json::Value {
    let mut cmd = cablekeep(store);
    cmd.arg("audit").args(replicas).args(extra).arg("--json");
    json_lines(&run_ok(&mut cmd, code)).remove(0)
}

fn codes(report: &serde_json::Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().into(),
                f["file"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn folders_extra_files_a_log_behind_and_a_flip_only_deep_sees() {
    let store = sample_store("c");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let log = store.path().join("manifests/c/links.jsonl");
    std::fs::write(&log, "{\"prev\":null,\"event\":1}\n").unwrap();
    for to in [&a, &b] {
        run_ok(
            cablekeep(store.path()).arg("replicate").arg("--to").arg(to),
            0,
        );
    }
    // The store's log grows, and only `a` gets the longer one.
    std::fs::write(
        &log,
        "{\"prev\":null,\"event\":1}\n{\"prev\":\"x\",\"event\":2}\n",
    )
    .unwrap();
    let out = run_ok(
        cablekeep(store.path())
            .args(["replicate", "--json", "--to"])
            .arg(&a),
        0,
    );
    assert_eq!(
        json_lines(&out)[0]["collections"][0]["link_log"],
        "extended"
    );
    std::fs::write(a.join("archives/c/notes.txt"), "not a store file").unwrap();
    let report = audit(store.path(), &[store.path(), &a, &b], &[], 0);
    let b_log = b.join("manifests/c/links.jsonl").display().to_string();
    let notes = a.join("archives/c/notes.txt").display().to_string();
    assert_eq!(
        codes(&report),
        vec![
            ("R003".to_string(), notes),
            ("R007".to_string(), b_log.clone())
        ],
        "{report:#}"
    );
    // Repair brings the log up to date; the old one is kept aside.
    let out = run_ok(
        cablekeep(store.path())
            .arg("repair")
            .arg(&b)
            .arg("--from")
            .arg(store.path())
            .arg("--from")
            .arg(&a)
            .arg("--json"),
        0,
    );
    let repaired = &json_lines(&out)[0]["repaired"][0];
    assert_eq!(repaired["file"], "manifests/c/links.jsonl");
    assert_eq!(repaired["was"], "behind");
    assert_eq!(std::fs::read(&log).unwrap(), std::fs::read(&b_log).unwrap());
    // A bit flip that keeps the size: folders are not hashed without --deep.
    let zip = b.join("archives/c/c-v1.zip");
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&zip, &bytes).unwrap();
    let report = audit(store.path(), &[store.path(), &a, &b], &[], 0);
    assert!(
        codes(&report).iter().all(|(c, _)| c == "R003"),
        "{report:#}"
    );
    let report = audit(store.path(), &[store.path(), &a, &b], &["--deep"], 1);
    assert!(
        codes(&report).contains(&("R002".to_string(), zip.display().to_string())),
        "{report:#}"
    );
    assert_eq!(report["payload_bytes_read"], 3 * bytes.len() as u64);
    let repair = |deep: bool| {
        let mut cmd = cablekeep(store.path());
        cmd.arg("repair").arg(&b).args(["--from"]).arg(store.path());
        cmd.arg("--from").arg(&a).arg("--json");
        if deep {
            cmd.arg("--deep");
        }
        json_lines(&run_ok(&mut cmd, 0)).remove(0)
    };
    assert_eq!(
        repair(false)["repaired"],
        serde_json::json!([]),
        "not seen without --deep"
    );
    assert_eq!(repair(true)["repaired"][0]["file"], "archives/c/c-v1.zip");
    let report = audit(store.path(), &[store.path(), &a, &b], &["--deep"], 0);
    assert!(
        codes(&report).iter().all(|(c, _)| c == "R003"),
        "{report:#}"
    );
    // The damaged zip was moved aside, not deleted.
    let quarantined = walkdir::WalkDir::new(b.join(".cablekeep/replica/quarantine"))
        .into_iter()
        .filter_map(Result::ok)
        .any(|e| e.path().ends_with("archives/c/c-v1.zip"));
    assert!(quarantined);
}

#[test]
fn the_command_line_refuses_what_cannot_be_a_replica() {
    let store = sample_store("c");
    let s = store.path();
    // The same replica twice would count twice in a majority.
    let out = run(cablekeep(s).arg("audit").arg(s).arg(s));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("given twice"));
    // One replica is not an audit.
    assert_eq!(run(cablekeep(s).arg("audit").arg(s)).status.code(), Some(2));
    for bad in ["gs://bucket/p", "s3://UPPER/p", "s3://b/../p"] {
        let out = run(cablekeep(s).args(["replicate", "--to", bad]));
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    // A missing folder is R006 for that replica; the others are still compared.
    let missing = s.join("no-such-replica");
    let report = audit(s, &[s, &missing], &[], 1);
    assert_eq!(
        codes(&report)[0],
        ("R006".to_string(), missing.display().to_string())
    );
    // A damaged source is never copied: the zip must be its sidecar's bytes.
    let zip = s.join("archives/c/c-v1.zip");
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&zip, &bytes).unwrap();
    let to = tempfile::tempdir().unwrap();
    let out = run(cablekeep(s)
        .arg("replicate")
        .arg("--to")
        .arg(to.path().join("r")));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("were expected"),
        "{out:?}"
    );
    assert!(!to.path().join("r/archives/c/c-v1.zip").exists());
    assert!(!to.path().join("r/manifests/c/c-v1.json").exists());
}
