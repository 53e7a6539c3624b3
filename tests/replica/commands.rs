//! `replicate`, `audit` and `repair` against a real Garage cluster (and local folders): the
//! dev set copied to two buckets and a folder, damage behind cablekeep's back found on exactly
//! that object and replica and repaired, no majority refused, write-once, a Garage node killed
//! during a replicate, replicate itself killed at random moments, and bad credentials.

use super::garage::{Garage, SECRET};
use crate::util::{cablekeep, json_lines, run, sha256_hex};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// A cablekeep command against the cluster (through node 1), on `store`.
fn ck(garage: &Garage, store: &Path, args: &[&str]) -> Command {
    let mut cmd = cablekeep(store);
    garage.apply_env(&mut cmd).args(args);
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn expect(cmd: &mut Command, code: i32) -> String {
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The audit's JSON report.
fn audit_json(garage: &Garage, store: &Path, replicas: &[&str], code: i32) -> serde_json::Value {
    let mut args = vec!["audit"];
    args.extend(replicas);
    args.push("--json");
    let out = expect(&mut ck(garage, store, &args), code);
    json_lines(&out).remove(0)
}

/// (code, file) of every finding.
fn findings(report: &serde_json::Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A bucket's objects: key → (etag, last modified), to show a replica was not touched.
fn snapshot(garage: &Garage, bucket: &str) -> BTreeMap<String, (String, String)> {
    garage
        .list(bucket, "")
        .into_iter()
        .map(|o| (o.key, (o.etag, o.last_modified)))
        .collect()
}

/// Every store file of a local store, by store path, with its SHA-256.
fn local_files(root: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for top in ["archives", "manifests"] {
        for e in walkdir::WalkDir::new(root.join(top)) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(rel, sha256_hex(&std::fs::read(e.path()).unwrap()));
            }
        }
    }
    files
}

/// The dev set, sealed, in several versions (the web tests' store, read only here).
fn dev_store() -> Option<&'static Path> {
    crate::web::dev_edition().map(|e| e.store.as_path())
}

/// A damage case: the finding code, the replica ("folder" or a bucket), the store path, and
/// what damages it.
type Damage<'g> = (&'static str, &'static str, String, Box<dyn Fn() + 'g>);

#[test]
fn dev_set_on_two_buckets_and_a_folder_damage_is_named_and_repaired() {
    let Some(store) = dev_store() else { return };
    let Some(garage) = Garage::cluster(3) else {
        return;
    };
    garage.bucket("replica-a");
    garage.bucket("replica-b");
    let copy = tempfile::tempdir().unwrap();
    let folder = copy.path().join("replica");
    let folder_s = folder.to_str().unwrap();
    let store_s = store.to_str().unwrap();
    let (a, b) = ("s3://replica-a/p", "s3://replica-b/p");
    for to in [a, b, folder_s] {
        let out = expect(
            &mut ck(&garage, store, &["replicate", "--to", to, "--json"]),
            0,
        );
        let summary = &json_lines(&out)[0];
        let dev = &summary["collections"][0];
        assert_eq!(dev["name"], "dev");
        assert!(
            dev["versions_copied"].as_array().unwrap().len() >= 2,
            "{out}"
        );
        assert_eq!(summary["temporaries_removed"], 0);
    }
    // Every file of the store is on each replica, byte for byte.
    let ours = local_files(store);
    assert_eq!(local_files(&folder), ours);
    for bucket in ["replica-a", "replica-b"] {
        let theirs: BTreeMap<String, String> = garage
            .list(bucket, "p/")
            .into_iter()
            .filter(|o| !o.key.starts_with("p/.cablekeep/"))
            .map(|o| {
                let bytes = garage.get(bucket, &o.key).unwrap();
                (
                    o.key.strip_prefix("p/").unwrap().to_string(),
                    sha256_hex(&bytes),
                )
            })
            .collect();
        assert_eq!(theirs, ours, "{bucket}");
    }
    assert!(
        ours.keys().any(|k| k.ends_with(".sig")),
        "the dev store is sealed"
    );
    // A second run copies nothing.
    let again = expect(
        &mut ck(&garage, store, &["replicate", "--to", a, "--json"]),
        0,
    );
    assert_eq!(json_lines(&again)[0]["files_copied"], 0);
    // Agreeing replicas: whole, and not a byte of a zip read.
    let all = [store_s, a, b, folder_s];
    let report = audit_json(&garage, store, &all, 0);
    assert_eq!(findings(&report), vec![]);
    assert_eq!(report["payload_bytes_read"], 0);
    assert!(
        report["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["whole"] == true)
    );
    expect(cablekeep(&folder).args(["verify", "--all"]), 0);

    let zip = ours.keys().rfind(|k| k.ends_with(".zip")).unwrap().clone();
    let sidecar = ours
        .keys()
        .find(|k| k.ends_with("-v1.json"))
        .unwrap()
        .clone();
    let sig = ours.keys().find(|k| k.ends_with(".sig")).unwrap().clone();
    let checksum = ours
        .keys()
        .find(|k| k.ends_with(".zip.sha256"))
        .unwrap()
        .clone();

    // Damage, each behind cablekeep's back; each is named exactly and repaired.
    let cases: Vec<Damage<'_>> = vec![
        ("R002", "replica-b", zip.clone(), {
            let (g, key) = (&garage, format!("p/{zip}"));
            Box::new(move || {
                let mut bytes = g.get("replica-b", &key).unwrap();
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0x01;
                g.put("replica-b", &key, &bytes);
            })
        }),
        ("R002", "replica-a", sidecar.clone(), {
            let (g, key) = (&garage, format!("p/{sidecar}"));
            Box::new(move || {
                let bytes = g.get("replica-a", &key).unwrap();
                g.put("replica-a", &key, &bytes[..bytes.len() / 2]);
            })
        }),
        ("R001", "replica-b", sig.clone(), {
            let (g, key) = (&garage, format!("p/{sig}"));
            Box::new(move || g.delete("replica-b", &key))
        }),
        ("R001", "folder", checksum.clone(), {
            let path = folder.join(&checksum);
            Box::new(move || std::fs::remove_file(&path).unwrap())
        }),
    ];
    for (code, replica, rel, damage) in cases {
        let untouched = |name: &str| (name != replica).then(|| snapshot(&garage, name));
        let (before_a, before_b) = (untouched("replica-a"), untouched("replica-b"));
        damage();
        let damaged_url = match replica {
            "folder" => folder.join(&rel).display().to_string(),
            bucket => format!("s3://{bucket}/p/{rel}"),
        };
        let report = audit_json(&garage, store, &all, 1);
        assert_eq!(
            findings(&report),
            vec![(code.to_string(), damaged_url.clone())],
            "{report:#}"
        );
        if rel.ends_with(".zip") {
            // Only the damaged zip was read (once): the others are vouched for by receipts.
            let size = std::fs::metadata(store.join(&rel)).unwrap().len();
            assert_eq!(report["payload_bytes_read"], size, "{report:#}");
        }
        let target = match replica {
            "folder" => folder_s.to_string(),
            bucket => format!("s3://{bucket}/p"),
        };
        let sources: Vec<&str> = all.iter().copied().filter(|r| *r != target).collect();
        let mut args = vec!["repair", target.as_str(), "--json"];
        for s in &sources {
            args.extend(["--from", s]);
        }
        let out = expect(&mut ck(&garage, store, &args), 0);
        let repaired = &json_lines(&out)[0];
        assert_eq!(repaired["repaired"][0]["file"], rel.as_str(), "{out}");
        assert_eq!(repaired["repaired"].as_array().unwrap().len(), 1, "{out}");
        assert_eq!(findings(&repaired["after"]), vec![], "{out}");
        let clean = audit_json(&garage, store, &all, 0);
        assert_eq!(findings(&clean), vec![]);
        assert_eq!(
            clean["payload_bytes_read"], 0,
            "receipts were renewed: {clean:#}"
        );
        for (name, before) in [("replica-a", before_a), ("replica-b", before_b)] {
            if let Some(before) = before {
                assert_eq!(
                    snapshot(&garage, name),
                    before,
                    "{name} was not to be touched"
                );
            }
        }
    }
    // The damaged zip was kept aside, not deleted.
    assert!(
        garage
            .list("replica-b", "p/.cablekeep/replica/quarantine/")
            .iter()
            .any(|o| o.key.ends_with(&zip))
    );
    assert_eq!(local_files(&folder), ours);
}

#[test]
fn without_a_majority_repair_refuses_and_writes_nothing() {
    let Some(garage) = Garage::single() else {
        return;
    };
    garage.bucket("nm-a");
    garage.bucket("nm-b");
    let store = crate::util::sample_store("c");
    let store_s = store.path().to_str().unwrap();
    for to in ["s3://nm-a/p", "s3://nm-b/p"] {
        expect(
            &mut ck(&garage, store.path(), &["replicate", "--to", to]),
            0,
        );
    }
    let zip = "p/archives/c/c-v1.zip";
    for (bucket, flip) in [("nm-a", 0x01u8), ("nm-b", 0x02u8)] {
        let mut bytes = garage.get(bucket, zip).unwrap();
        bytes[200] ^= flip;
        garage.put(bucket, zip, &bytes);
    }
    // Damage the local store's copy a third way: three copies, three values.
    let local_zip = store.path().join("archives/c/c-v1.zip");
    let mut bytes = std::fs::read(&local_zip).unwrap();
    bytes[200] ^= 0x04;
    std::fs::write(&local_zip, &bytes).unwrap();
    let all = [store_s, "s3://nm-a/p", "s3://nm-b/p"];
    let report = audit_json(&garage, store.path(), &all, 1);
    // The local copy's size matches its sidecar and folders are not hashed without --deep:
    // the two bucket copies disagree with the sidecar, the local one is taken as good.
    let deep = {
        let mut args = vec!["audit", "--deep", "--json"];
        args.extend(all);
        json_lines(&expect(&mut ck(&garage, store.path(), &args), 1)).remove(0)
    };
    assert!(
        findings(&deep).iter().filter(|(c, _)| c == "R002").count() >= 2,
        "{deep:#}\n{report:#}"
    );
    // Now the sidecars disagree too: every copy of it different → no majority.
    let sidecar = "p/manifests/c/c-v1.json";
    for (bucket, extra) in [("nm-a", " "), ("nm-b", "  ")] {
        let mut bytes = garage.get(bucket, sidecar).unwrap();
        bytes.extend_from_slice(extra.as_bytes());
        garage.put(bucket, sidecar, &bytes);
    }
    let before = (snapshot(&garage, "nm-a"), snapshot(&garage, "nm-b"));
    let report = audit_json(&garage, store.path(), &all, 1);
    assert!(
        findings(&report)
            .iter()
            .any(|(c, f)| c == "R004" && f.ends_with("c-v1.json")),
        "{report:#}"
    );
    let out = run(&mut ck(
        &garage,
        store.path(),
        &[
            "repair",
            "s3://nm-a/p",
            "--from",
            store_s,
            "--from",
            "s3://nm-b/p",
        ],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no majority"),
        "{}",
        text(&out)
    );
    assert_eq!(
        (snapshot(&garage, "nm-a"), snapshot(&garage, "nm-b")),
        before
    );
}

#[test]
fn replicate_never_overwrites_an_object_whatever_the_server_does() {
    let Some(garage) = Garage::single() else {
        return;
    };
    garage.bucket("once");
    let store = crate::util::sample_store("c");
    // Garage overwrites despite If-None-Match: the refusal must be cablekeep's own.
    let key = "p/archives/c/c-v1.zip.sha256";
    garage.put("once", key, b"not the checksum\n");
    let out = run(&mut ck(
        &garage,
        store.path(),
        &["replicate", "--to", "s3://once/p"],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("s3://once/p/archives/c/c-v1.zip.sha256"),
        "{stderr}"
    );
    assert!(stderr.contains("never overwrites"), "{stderr}");
    assert_eq!(garage.get("once", key).unwrap(), b"not the checksum\n");
    assert!(
        garage.get("once", "p/manifests/c/c-v1.json").is_none(),
        "no version was made"
    );
    // The zip placed before the refusal is verified bytes; no temporaries are left.
    assert!(garage.list("once", "p/.cablekeep/replica/tmp/").is_empty());
    // A killed run's temporary is reported by audit (R005) and removed by the next replicate.
    let temp = "p/.cablekeep/replica/tmp/20261205T000000Z-1/archives/c/c-v1.zip";
    garage.put("once", temp, b"partial");
    let store_s = store.path().to_str().unwrap();
    let report = audit_json(&garage, store.path(), &[store_s, "s3://once/p"], 1);
    assert!(
        findings(&report).contains(&(
            "R005".to_string(),
            "s3://once/p/.cablekeep/replica/tmp/".to_string()
        )),
        "{report:#}"
    );
    // Once the object is gone the run completes; another history under the same name (a
    // sidecar that differs) is refused.
    garage.delete("once", key);
    expect(
        &mut ck(&garage, store.path(), &["replicate", "--to", "s3://once/p"]),
        0,
    );
    let mut sidecar = std::fs::read(store.path().join("manifests/c/c-v1.json")).unwrap();
    sidecar.push(b' ');
    let edited = tempfile::tempdir().unwrap();
    crate::util::copy_tree(store.path(), edited.path());
    std::fs::write(edited.path().join("manifests/c/c-v1.json"), &sidecar).unwrap();
    let out = run(&mut ck(
        &garage,
        edited.path(),
        &["replicate", "--to", "s3://once/p"],
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another c v1"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_garage_node_killed_during_replicate_then_a_rerun_completes() {
    let Some(store) = dev_store() else { return };
    let Some(mut garage) = Garage::cluster(3) else {
        return;
    };
    garage.bucket("survivor");
    let child = ck(&garage, store, &["replicate", "--to", "s3://survivor/p"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill node 3 (not the endpoint) as soon as the first object is there.
    let started = std::time::Instant::now();
    while garage.list("survivor", "p/").is_empty() && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    garage.kill_node(3);
    let first = child.wait_with_output().unwrap();
    // With replication factor 3 and one node down, writes still reach a quorum of two: the
    // first run may well finish; either way the rerun completes and the replica is whole.
    let rerun = expect(
        &mut ck(
            &garage,
            store,
            &["replicate", "--to", "s3://survivor/p", "--json"],
        ),
        0,
    );
    let summary = &json_lines(&rerun)[0];
    let store_s = store.to_str().unwrap();
    let report = audit_json(&garage, store, &[store_s, "s3://survivor/p"], 0);
    assert_eq!(
        findings(&report),
        vec![],
        "first run: {first:?}\nrerun: {summary}"
    );
    // The replica verifies as a store of its own, read from the bucket.
    let cache = tempfile::tempdir().unwrap();
    let remote = Path::new("s3://survivor/p");
    let mut verify = ck(&garage, remote, &["verify", "-c", "dev", "--all"]);
    verify.env("XDG_CACHE_HOME", cache.path());
    expect(&mut verify, 0);
    // Node 3 comes back holding temporaries that were deleted while it was down; until Garage
    // has synced them away a listing may show them (R005, a warning): no error.
    garage.restart_node(3);
    let report = audit_json(&garage, store, &[store_s, "s3://survivor/p"], 0);
    assert!(
        findings(&report).iter().all(|(code, _)| code == "R005"),
        "{report:#}"
    );
}

#[test]
fn replicate_killed_at_random_moments_never_leaves_a_version_that_is_wrong() {
    let Some(store) = dev_store() else { return };
    let Some(garage) = Garage::single() else {
        return;
    };
    garage.bucket("killed");
    let ours = local_files(store);
    // How long a whole run takes, to spread the kills over it (on a copy that is then dropped).
    garage.bucket("timing");
    let started = std::time::Instant::now();
    expect(
        &mut ck(&garage, store, &["replicate", "--to", "s3://timing/p"]),
        0,
    );
    let whole_ms = started.elapsed().as_millis().max(50) as u64;
    let cache = tempfile::tempdir().unwrap();
    let mut seed: u64 = 0x5eed_c0de;
    for round in 0..10 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = seed % whole_ms;
        let mut child = ck(&garage, store, &["replicate", "--to", "s3://killed/p"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // Every version the replica holds (its sidecar is there) has all its files, and they
        // are the store's bytes; files of a version without its sidecar are verified bytes too.
        let objects: BTreeMap<String, String> = garage
            .list("killed", "p/")
            .into_iter()
            .filter(|o| !o.key.starts_with("p/.cablekeep/"))
            .map(|o| {
                let rel = o.key.strip_prefix("p/").unwrap().to_string();
                let bytes = garage.get("killed", &o.key).unwrap();
                (rel, sha256_hex(&bytes))
            })
            .collect();
        for (rel, digest) in &objects {
            assert_eq!(
                Some(digest),
                ours.get(rel),
                "round {round} (kill after {delay} ms): {rel}"
            );
        }
        for sidecar in objects.keys().filter(|k| k.ends_with(".json")) {
            let version = sidecar
                .trim_start_matches("manifests/dev/")
                .trim_end_matches(".json");
            for rel in ours
                .keys()
                .filter(|k| k.contains(&format!("{version}.")) && !k.ends_with(".json"))
            {
                assert!(
                    objects.contains_key(rel),
                    "round {round}: {sidecar} is there but not {rel}"
                );
            }
            // And that version verifies, read from the bucket as a store.
            let number = version.trim_start_matches("dev-v");
            let remote = Path::new("s3://killed/p");
            let mut verify = ck(
                &garage,
                remote,
                &["verify", "-c", "dev", "--version", number],
            );
            verify.env("XDG_CACHE_HOME", cache.path());
            let out = run(&mut verify);
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(
                said.contains(&format!("ok: dev@v{number} (")),
                "round {round}: {said}"
            );
            // The only error allowed: the zip of a version whose sidecar is not there yet,
            // which a bucket cannot tell from a lost sidecar (M006).
            for line in said.lines().filter(|l| l.contains(" error: ")) {
                let zip = line.split_whitespace().nth(2).unwrap_or_default();
                let rel = zip
                    .trim_start_matches("s3://killed/p/")
                    .trim_end_matches(':');
                let sidecar = rel
                    .replace("archives/", "manifests/")
                    .replace(".zip", ".json");
                assert!(
                    line.starts_with("M006") && !objects.contains_key(&sidecar),
                    "round {round}: {line}"
                );
            }
        }
    }
    expect(
        &mut ck(&garage, store, &["replicate", "--to", "s3://killed/p"]),
        0,
    );
    assert!(
        garage
            .list("killed", "p/.cablekeep/replica/tmp/")
            .is_empty(),
        "temporaries removed"
    );
    let store_s = store.to_str().unwrap();
    let report = audit_json(
        &garage,
        store,
        &[store_s, "s3://killed/p", "s3://timing/p"],
        0,
    );
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn refused_credentials_and_unreachable_endpoints_are_clear_errors_that_write_nothing() {
    let Some(garage) = Garage::single() else {
        return;
    };
    garage.bucket("guarded");
    let store = crate::util::sample_store("c");
    let wrong = "wrong-secret-0123456789abcdef";
    let mut cmd = ck(
        &garage,
        store.path(),
        &["replicate", "--to", "s3://guarded/p"],
    );
    cmd.env("AWS_SECRET_ACCESS_KEY", wrong);
    let out = run(&mut cmd);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("refused the credentials"), "{all}");
    assert!(all.contains("AWS_ACCESS_KEY_ID=GKca…0001"), "{all}");
    assert!(
        !all.contains(wrong) && !all.contains(SECRET),
        "no secret printed: {all}"
    );
    assert!(garage.list("guarded", "").is_empty());

    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let mut cmd = ck(
        &garage,
        store.path(),
        &["audit", store.path().to_str().unwrap(), "s3://guarded/p"],
    );
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    let out = run(&mut cmd);
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("R006"), "{}", text(&out));
    assert!(text(&out).contains("cannot reach"), "{}", text(&out));
    let mut cmd = ck(
        &garage,
        store.path(),
        &["replicate", "--to", "s3://guarded/p"],
    );
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"));
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot reach"), "{}", text(&out));

    let mut cmd = ck(
        &garage,
        store.path(),
        &["replicate", "--to", "s3://guarded/p"],
    );
    cmd.env_remove("AWS_ALLOW_HTTP");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("AWS_ALLOW_HTTP=true"), "{}", text(&out));
    assert!(garage.list("guarded", "").is_empty());
}

#[test]
fn read_only_commands_on_a_bucket_print_what_they_print_locally() {
    let Some(store) = dev_store() else { return };
    let Some(garage) = Garage::single() else {
        return;
    };
    garage.bucket("readonly");
    expect(
        &mut ck(&garage, store, &["replicate", "--to", "s3://readonly/p"]),
        0,
    );
    let remote = Path::new("s3://readonly/p");
    let cache = tempfile::tempdir().unwrap();
    let local_text = store.display().to_string();
    let same = |args: &[&str], code: i32| {
        let mut here = ck(&garage, store, args);
        let ours = expect(&mut here, code).replace(&local_text, "<store>");
        let mut there = ck(&garage, remote, args);
        there.env("XDG_CACHE_HOME", cache.path());
        let theirs = expect(&mut there, code).replace("s3://readonly/p", "<store>");
        assert_eq!(theirs, ours, "{args:?}");
        ours
    };
    let log = same(&["log", "-c", "dev", "--json"], 0);
    let versions = json_lines(&log).len();
    assert!(versions >= 2);
    let last = versions.to_string();
    same(&["diff", "-c", "dev", "1", &last, "--json"], 0);
    same(&["show", "66BUENOSAIRES2481", "--json"], 0);
    same(&["search", "buenos aires", "--json"], 0);
    same(&["stats", "-c", "dev", "--json"], 0);
    same(&["verify", "-c", "dev", "--all", "--fast", "--json"], 0);
    // An export from the bucket is the export from the store, byte for byte.
    let out = tempfile::tempdir().unwrap();
    for (from, dir) in [(store, "local"), (remote, "remote")] {
        let mut cmd = ck(
            &garage,
            from,
            &["export", "-c", "dev", "--format", "jsonl", "--out"],
        );
        cmd.arg(out.path().join(dir))
            .env("XDG_CACHE_HOME", cache.path());
        expect(&mut cmd, 0);
    }
    assert_eq!(
        local_files_under(&out.path().join("local")),
        local_files_under(&out.path().join("remote"))
    );
    // Damage behind cablekeep's back: verify on the bucket names the object.
    let key = format!("p/archives/dev/dev-v{last}.zip");
    let mut bytes = garage.get("readonly", &key).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x01;
    garage.put("readonly", &key, &bytes);
    let mut cmd = ck(&garage, remote, &["verify", "-c", "dev", "--json"]);
    cmd.env("XDG_CACHE_HOME", cache.path());
    let report = expect(&mut cmd, 1);
    assert!(
        report.contains(&format!("s3://readonly/p/archives/dev/dev-v{last}.zip")),
        "{report}"
    );
    // Writers refuse a bucket, and write nothing there.
    let before = snapshot(&garage, "readonly");
    let mut cmd = ck(&garage, remote, &["bundle", "-c", "dev"]);
    cmd.arg(crate::util::examples());
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("read-only"),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(&garage, "readonly"), before);
}

/// Every file under `root` with its SHA-256, by relative path.
fn local_files_under(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            (rel, sha256_hex(&std::fs::read(e.path()).unwrap()))
        })
        .collect()
}
