//! Seals, proofs and their checks, with real keys made by OpenSSH's `ssh-keygen` in temporary
//! folders: signatures cablekeep makes verify with `ssh-keygen -Y verify` and the other way
//! round, and each attack of the seal design is reported with its code by `verify`,
//! `check-proof` and the independent `scripts/check-proof.py`.

use crate::util::{
    cablekeep, copy_tree, examples, finding_codes, json_lines, project_root, run, run_ok,
    temp_store,
};
use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NS: &str = "cablekeep-checkpoint";

/// A key pair made by ssh-keygen: the private key's path, its `.pub` text and key id.
pub(crate) struct Key {
    pub(crate) private: PathBuf,
    pub(crate) public: String,
    pub(crate) id: String,
}

pub(crate) fn keygen(dir: &Path, name: &str, passphrase: &str) -> Key {
    let private = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-C", name, "-N", passphrase, "-f"])
        .arg(&private)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let public = std::fs::read_to_string(private.with_extension("pub")).unwrap();
    let blob = Base64::decode_vec(public.split_whitespace().nth(1).unwrap()).unwrap();
    let id = hex::encode(&Sha256::digest(&blob)[..8]);
    Key {
        private,
        public,
        id,
    }
}

/// An allowed_signers file trusting `keys` as `<name>@example.org`.
pub(crate) fn allowed_signers(dir: &Path, keys: &[(&str, &Key)]) -> PathBuf {
    let path = dir.join(format!("allowed-{}", keys.len()));
    let text: String = keys
        .iter()
        .map(|(name, k)| {
            let mut f = k.public.split_whitespace();
            format!(
                "{name}@example.org namespaces=\"{NS}\" {} {}\n",
                f.next().unwrap(),
                f.next().unwrap()
            )
        })
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn manifests(store: &Path, c: &str) -> PathBuf {
    store.join("manifests").join(c)
}

pub(crate) fn checkpoint(store: &Path, c: &str, v: u32) -> PathBuf {
    manifests(store, c).join(format!("{c}-v{v}.checkpoint"))
}

pub(crate) fn signature(store: &Path, c: &str, v: u32, key: &Key) -> PathBuf {
    manifests(store, c).join(format!("{c}-v{v}.checkpoint.{}.sig", key.id))
}

pub(crate) fn seal(store: &Path, c: &str, key: &Key, extra: &[&str]) -> String {
    run_ok(
        cablekeep(store)
            .args(["seal", "-c", c, "--key"])
            .arg(&key.private)
            .args(extra),
        0,
    )
}

/// Codes of `verify --json --all` with the allowed signers given, and the exit code.
pub(crate) fn verify_codes(
    store: &Path,
    allowed: Option<&Path>,
    extra: &[&str],
) -> (Vec<String>, i32) {
    let mut cmd = cablekeep(store);
    cmd.args(["verify", "--all", "--json"]).args(extra);
    if let Some(a) = allowed {
        cmd.arg("--allowed-signers").arg(a);
    }
    let out = run(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (finding_codes(&stdout), out.status.code().unwrap())
}

fn ssh_verify(allowed: &Path, principal: &str, sig: &Path, message: &Path) -> bool {
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(allowed)
        .args(["-I", principal, "-n", NS, "-s"])
        .arg(sig)
        .stdin(std::fs::File::open(message).unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// A store with two versions of `ex` (two sample pages, then all three), both sealed by alice.
pub(crate) fn sealed_store(dir: &Path, alice: &Key) -> tempfile::TempDir {
    let store = temp_store();
    let first = dir.join("first");
    std::fs::create_dir_all(&first).unwrap();
    for page in ["09EXAMPLE101.html", "10EXAMPLE202.html"] {
        std::fs::copy(examples().join(page), first.join(page)).unwrap();
    }
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(&first)
            .args(["-c", "ex", "--sign"])
            .arg(&alice.private),
        0,
    );
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    seal(store.path(), "ex", alice, &["--all"]);
    store
}

pub(crate) fn prove(store: &Path, id: &str, version: u32, out: &Path) -> serde_json::Value {
    run_ok(
        cablekeep(store)
            .args([
                "prove",
                id,
                "-c",
                "ex",
                "--version",
                &version.to_string(),
                "--out",
            ])
            .arg(out),
        0,
    );
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// `check-proof --json`: its exit code and finding codes.
pub(crate) fn check_proof(
    store: &Path,
    proof: &Path,
    allowed: &Path,
    extra: &[&str],
    files: &[&Path],
) -> (i32, Vec<String>) {
    let out = run(cablekeep(store)
        .arg("check-proof")
        .arg(proof)
        .args(files)
        .arg("--allowed-signers")
        .arg(allowed)
        .arg("--json")
        .args(extra));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = &json_lines(&stdout)[0];
    let codes = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    (out.status.code().unwrap(), codes)
}

/// The Python checker: its exit code and the codes it prints.
pub(crate) fn python_check(proof: &Path, allowed: &Path, files: &[&Path]) -> (i32, Vec<String>) {
    let out = Command::new("python3")
        .arg(project_root().join("scripts/check-proof.py"))
        .arg(proof)
        .arg(allowed)
        .args(files)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let codes = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.len() == 4 && w.starts_with('S'))
        .map(str::to_string)
        .collect();
    (out.status.code().unwrap(), codes)
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

#[test]
fn signatures_verify_with_ssh_keygen_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let bob = keygen(dir.path(), "bob", "");
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    let allowed = allowed_signers(dir.path(), &[("alice", &alice), ("bob", &bob)]);
    for v in [1, 2] {
        assert!(ssh_verify(
            &allowed,
            "alice@example.org",
            &signature(s, "ex", v, &alice),
            &checkpoint(s, "ex", v)
        ));
    }
    // Bob cosigns v2 with ssh-keygen itself; cablekeep reads his signature.
    let cp = checkpoint(s, "ex", 2);
    let copy = dir.path().join("cp");
    std::fs::copy(&cp, &copy).unwrap();
    let signed = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", NS, "-f"])
        .arg(&bob.private)
        .arg(&copy)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(signed.success());
    std::fs::copy(copy.with_extension("sig"), signature(s, "ex", 2, &bob)).unwrap();
    let (codes, code) = verify_codes(s, Some(&allowed), &["--require-seal"]);
    assert_eq!((codes, code), (vec![], 0));
    // The chain: v2's checkpoint names v1's checkpoint's digest.
    let v1 = std::fs::read(checkpoint(s, "ex", 1)).unwrap();
    let v2 = std::fs::read_to_string(&cp).unwrap();
    assert!(v2.contains(&format!(
        "previous-checkpoint-sha256 {}\n",
        hex::encode(Sha256::digest(&v1))
    )));
    assert!(v2.starts_with("cablekeep/ex\n"));
    // Sealing again changes nothing.
    let before = std::fs::read(&cp).unwrap();
    let again = seal(s, "ex", &alice, &["--all"]);
    assert!(again.contains("already signed"), "{again}");
    assert_eq!(std::fs::read(&cp).unwrap(), before);
    // Without allowed signers, the signatures are checked but whose they are is not known.
    let (codes, code) = verify_codes(s, None, &[]);
    assert_eq!((codes, code), (vec!["S007".to_string()], 0));
}

#[test]
fn an_encrypted_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let locked = keygen(dir.path(), "locked", "a passphrase");
    let store = temp_store();
    let out = run(cablekeep(store.path())
        .arg("bundle")
        .arg(examples())
        .args(["-c", "ex", "--sign"])
        .arg(&locked.private));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("encrypted with a passphrase"), "{stderr}");
    assert!(!store.path().join("manifests/ex/ex-v1.json").exists());
}

#[test]
fn verify_reports_each_attack_on_the_seals() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let mallory = keygen(dir.path(), "mallory", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    assert_eq!(verify_codes(s, Some(&allowed), &[]), (vec![], 0));

    // A signature over another version's checkpoint: v1's signature put in v2's place.
    let attacked = temp_store();
    copy_tree(s, attacked.path());
    let a = attacked.path();
    std::fs::copy(signature(a, "ex", 1, &alice), signature(a, "ex", 2, &alice)).unwrap();
    assert_eq!(
        verify_codes(a, Some(&allowed), &[]),
        (vec!["S002".to_string()], 1)
    );

    // A checkpoint edited after signing: its signature fails, it disagrees with the archive, and
    // the next version's link to it breaks.
    let attacked = temp_store();
    copy_tree(s, attacked.path());
    let a = attacked.path();
    let text = std::fs::read_to_string(checkpoint(a, "ex", 1)).unwrap();
    let edited: String = text
        .lines()
        .map(|l| match l.strip_prefix("zip-sha256 ") {
            Some(_) => format!("zip-sha256 {}\n", "0".repeat(64)),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(edited, text);
    std::fs::write(checkpoint(a, "ex", 1), edited).unwrap();
    let (mut codes, code) = verify_codes(a, Some(&allowed), &[]);
    codes.sort();
    assert_eq!(
        (codes, code),
        (vec!["S002".into(), "S004".into(), "S005".into()], 1)
    );

    // A signature by a key the allowed signers do not list.
    let attacked = temp_store();
    copy_tree(s, attacked.path());
    let a = attacked.path();
    seal(a, "ex", &mallory, &["--version", "2"]);
    std::fs::remove_file(signature(a, "ex", 2, &alice)).unwrap();
    assert_eq!(
        verify_codes(a, Some(&allowed), &[]),
        (vec!["S003".to_string()], 1)
    );

    // A malformed checkpoint.
    std::fs::write(checkpoint(a, "ex", 2), "not a checkpoint\n").unwrap();
    let (codes, _) = verify_codes(a, Some(&allowed), &[]);
    assert!(codes.contains(&"S006".to_string()), "{codes:?}");
}

#[test]
fn a_store_rewritten_without_the_key_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let mallory = keygen(dir.path(), "mallory", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    // The forger writes a consistent store of other contents: every zip, sidecar, .sha256 file
    // and the hash chain recomputed (by cablekeep itself), then puts them in place.
    let forged = temp_store();
    let only = dir.path().join("only");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(
        examples().join("06EXAMPLE303.txt"),
        only.join("06EXAMPLE303.txt"),
    )
    .unwrap();
    run_ok(
        cablekeep(forged.path())
            .arg("bundle")
            .arg(&only)
            .args(["-c", "ex"]),
        0,
    );
    run_ok(
        cablekeep(forged.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    let rewrite = |keep_checkpoints: bool| {
        let target = temp_store();
        copy_tree(s, target.path());
        for sub in ["archives/ex", "manifests/ex"] {
            for entry in std::fs::read_dir(forged.path().join(sub)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(
                    entry.path(),
                    target.path().join(sub).join(entry.file_name()),
                )
                .unwrap();
            }
        }
        if !keep_checkpoints {
            for v in [1, 2] {
                std::fs::remove_file(checkpoint(target.path(), "ex", v)).unwrap();
            }
        }
        target
    };
    // The archives verify on their own: only the seals tell.
    let kept = rewrite(true);
    let (codes, code) = verify_codes(kept.path(), Some(&allowed), &[]);
    assert_eq!(code, 1);
    assert!(
        codes.iter().all(|c| c == "S004" || c == "S005"),
        "{codes:?}"
    );
    assert!(codes.contains(&"S004".to_string()));

    // New checkpoints computed for the forged archives (the forger seals with his own key and
    // removes his signature): the old signatures no longer verify.
    let recomputed = rewrite(false);
    seal(recomputed.path(), "ex", &mallory, &["--all"]);
    for v in [1, 2] {
        std::fs::remove_file(signature(recomputed.path(), "ex", v, &mallory)).unwrap();
    }
    let (codes, code) = verify_codes(recomputed.path(), Some(&allowed), &[]);
    assert_eq!(
        (codes, code),
        (vec!["S002".to_string(), "S002".to_string()], 1)
    );

    // The old signatures removed too: no version has a seal (an error with --require-seal).
    for v in [1, 2] {
        std::fs::remove_file(signature(recomputed.path(), "ex", v, &alice)).unwrap();
    }
    let (codes, code) = verify_codes(recomputed.path(), Some(&allowed), &[]);
    assert_eq!(
        (codes, code),
        (vec!["S001".to_string(), "S001".to_string()], 0)
    );
    let (codes, code) = verify_codes(recomputed.path(), Some(&allowed), &["--require-seal"]);
    assert_eq!(
        (codes, code),
        (vec!["S001".to_string(), "S001".to_string()], 1)
    );
}

#[test]
fn proofs_hold_and_each_tampering_is_caught_by_both_checkers() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let mallory = keygen(dir.path(), "mallory", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    let d = dir.path();
    let proof_path = d.join("proof.json");
    let proof = prove(s, "10EXAMPLE202", 2, &proof_path);
    let size = std::fs::metadata(&proof_path).unwrap().len();
    assert!(size < 2500, "a proof of {size} bytes");

    // The cable's raw capture, from the archive.
    let line = proof["files"][0]["line"].as_str().unwrap().to_string();
    let bag_path = line.split_once("  ").unwrap().1.to_string();
    let zip = std::fs::File::open(s.join("archives/ex/ex-v2.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(zip).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name(&format!("ex-v2/{bag_path}")).unwrap(),
        &mut raw,
    )
    .unwrap();
    let raw_path = d.join("raw.html");
    std::fs::write(&raw_path, &raw).unwrap();

    assert_eq!(
        check_proof(s, &proof_path, &allowed, &[], &[&raw_path]),
        (0, vec![])
    );
    assert_eq!(
        python_check(&proof_path, &allowed, &[&raw_path]),
        (0, vec![])
    );
    assert_eq!(
        check_proof(
            s,
            &proof_path,
            &allowed,
            &["--version", "2", "-c", "ex", "--cable", "10EXAMPLE202"],
            &[]
        ),
        (0, vec![])
    );

    // One byte of the cable changed.
    let mut changed = raw.clone();
    changed[100] ^= 1;
    let changed_path = d.join("changed.html");
    std::fs::write(&changed_path, &changed).unwrap();
    let expect = (1, vec!["S013".to_string()]);
    assert_eq!(
        check_proof(s, &proof_path, &allowed, &[], &[&changed_path]),
        expect
    );
    assert_eq!(
        python_check(&proof_path, &allowed, &[&changed_path]),
        expect
    );

    // Tamperings of the proof itself, each with the code both checkers give.
    let tampered = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut p = proof.clone();
        edit(&mut p);
        let path = d.join(name);
        write_json(&path, &p);
        path
    };
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        // The manifest line claims other bytes (the digest of the changed file).
        (
            tampered("line.json", &|p| {
                let digest = hex::encode(Sha256::digest(&changed));
                p["files"][0]["line"] = format!("{digest}  {bag_path}").into();
            }),
            vec!["S011"],
        ),
        // A sibling hash swapped for another.
        (
            tampered("sibling.json", &|p| {
                let mut path = Base64::decode_vec(p["audit_path"].as_str().unwrap()).unwrap();
                path[..32].copy_from_slice(&Sha256::digest(b"another subtree"));
                p["audit_path"] = Base64::encode_string(&path).into();
            }),
            vec!["S011"],
        ),
        // A wrong leaf index.
        (
            tampered("index.json", &|p| {
                let i = p["files"][0]["index"].as_u64().unwrap();
                p["files"][0]["index"] = (i ^ 1).into();
            }),
            vec!["S011"],
        ),
        // A tree size that is not the checkpoint's.
        (
            tampered("size.json", &|p| {
                let n = p["tree_size"].as_u64().unwrap();
                p["tree_size"] = (n + 1).into();
            }),
            vec!["S012"],
        ),
        // Another version's checkpoint claimed (the proof's own version edited).
        (
            tampered("version.json", &|p| p["version"] = 1.into()),
            vec!["S014"],
        ),
        // A signature by a key the allowed signers do not list, and none by one they do.
        (
            tampered("mallory.json", &|p| {
                let text = p["checkpoint"].as_str().unwrap().to_string();
                let cp = d.join("mallory-cp");
                std::fs::write(&cp, &text).unwrap();
                Command::new("ssh-keygen")
                    .args(["-Y", "sign", "-n", NS, "-f"])
                    .arg(&mallory.private)
                    .arg(&cp)
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                let sig = std::fs::read_to_string(cp.with_extension("sig")).unwrap();
                p["signatures"] = serde_json::json!([{"key_id": mallory.id, "signature": sig}]);
            }),
            vec!["S003", "S015"],
        ),
    ];
    for (path, codes) in &cases {
        let expect = (1, codes.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        assert_eq!(
            check_proof(s, path, &allowed, &[], &[]),
            expect,
            "{}",
            path.display()
        );
        let (py_code, mut py_codes) = python_check(path, &allowed, &[]);
        py_codes.sort();
        assert_eq!((py_code, py_codes), expect, "python, {}", path.display());
    }

    // A cosignature by a key the verifier does not know, beside alice's: the proof holds, the
    // unknown signer is a warning.
    let cosigned = tampered("cosigned.json", &|p| {
        let mallory_only: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("mallory.json")).unwrap()).unwrap();
        let extra = mallory_only["signatures"][0].clone();
        p["signatures"].as_array_mut().unwrap().push(extra);
    });
    assert_eq!(
        check_proof(s, &cosigned, &allowed, &[], &[]),
        (0, vec!["S003".to_string()])
    );
    assert_eq!(python_check(&cosigned, &allowed, &[]), (0, vec![]));

    // A signature over the checkpoint edited: bad (S002).
    let bad_sig = tampered("badsig.json", &|p| {
        let cp = p["checkpoint"]
            .as_str()
            .unwrap()
            .replace("cablekeep-version 2", "cablekeep-version 3");
        p["checkpoint"] = cp.into();
        p["version"] = 3.into();
    });
    let (code, codes) = check_proof(s, &bad_sig, &allowed, &[], &[]);
    assert_eq!(code, 1);
    assert!(
        codes.contains(&"S002".to_string()) && codes.contains(&"S015".to_string()),
        "{codes:?}"
    );

    // The proof of another version presented as this one.
    let v1_path = d.join("v1.json");
    prove(s, "10EXAMPLE202", 1, &v1_path);
    assert_eq!(
        check_proof(s, &v1_path, &allowed, &["--version", "2"], &[]),
        (1, vec!["S014".to_string()])
    );
    // v1's audit paths under v2's checkpoint and signatures.
    let mixed = tampered("mixed.json", &|p| {
        let v1: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&v1_path).unwrap()).unwrap();
        p["files"] = v1["files"].clone();
        p["audit_path"] = v1["audit_path"].clone();
    });
    let (code, codes) = check_proof(s, &mixed, &allowed, &[], &[]);
    assert_eq!(code, 1);
    assert!(codes.iter().all(|c| c == "S011"), "{codes:?}");

    // Not a proof at all: it does not hold (exit 1); a missing file could not be checked (2).
    std::fs::write(d.join("junk.json"), "{").unwrap();
    assert_eq!(
        check_proof(s, &d.join("junk.json"), &allowed, &[], &[]),
        (1, vec!["S010".to_string()])
    );
    let out = run(cablekeep(s)
        .arg("check-proof")
        .arg(d.join("absent.json"))
        .arg("--allowed-signers")
        .arg(&allowed));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_committed_format_1_sample_archive_can_be_sealed_in_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = temp_store();
    for sub in ["archives", "manifests"] {
        copy_tree(&project_root().join(sub), &store.path().join(sub));
    }
    let zip = store.path().join("archives/examples/examples-v1.zip");
    let before = std::fs::read(&zip).unwrap();
    let sidecar = std::fs::read(store.path().join("manifests/examples/examples-v1.json")).unwrap();
    seal(
        store.path(),
        "examples",
        &alice,
        &["--all", "--store-id", "archive.example.org"],
    );
    assert_eq!(std::fs::read(&zip).unwrap(), before);
    assert_eq!(
        std::fs::read(store.path().join("manifests/examples/examples-v1.json")).unwrap(),
        sidecar
    );
    let cp = std::fs::read_to_string(checkpoint(store.path(), "examples", 1)).unwrap();
    assert!(
        cp.starts_with("archive.example.org/cablekeep/examples\n"),
        "{cp}"
    );
    // allowed_signers in its default place.
    std::fs::copy(&allowed, store.path().join(".cablekeep/allowed_signers")).unwrap();
    assert_eq!(
        verify_codes(store.path(), None, &["--require-seal"]),
        (vec![], 0)
    );
    let proof = dir.path().join("p.json");
    run_ok(
        cablekeep(store.path())
            .args(["prove", "09EXAMPLE101", "--out"])
            .arg(&proof),
        0,
    );
    run_ok(cablekeep(store.path()).arg("check-proof").arg(&proof), 0);
    assert_eq!(python_check(&proof, &allowed, &[]), (0, vec![]));
}

#[test]
fn exports_carry_the_seal_and_one_proof_per_cable() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    let zip = dir.path().join("subset.zip");
    run_ok(
        cablekeep(s)
            .args([
                "export",
                "-c",
                "ex",
                "--id",
                "10EXAMPLE202",
                "--format",
                "zip",
                "--proofs",
                "--out",
            ])
            .arg(&zip),
        0,
    );
    run_ok(cablekeep(s).arg("verify").arg(&zip), 0);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let read = |archive: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_name(name).unwrap(), &mut bytes).unwrap();
        bytes
    };
    let folder = "ex-v2-export";
    let cp = read(&mut archive, &format!("{folder}/seal/ex-v2.checkpoint"));
    assert_eq!(cp, std::fs::read(checkpoint(s, "ex", 2)).unwrap());
    let sig = read(
        &mut archive,
        &format!("{folder}/seal/ex-v2.checkpoint.{}.sig", alice.id),
    );
    assert_eq!(sig, std::fs::read(signature(s, "ex", 2, &alice)).unwrap());
    let proof = read(
        &mut archive,
        &format!("{folder}/seal/proofs/10EXAMPLE202.json"),
    );
    let proof_path = dir.path().join("exported-proof.json");
    std::fs::write(&proof_path, proof).unwrap();
    assert_eq!(
        check_proof(s, &proof_path, &allowed, &["--cable", "10EXAMPLE202"], &[]),
        (0, vec![])
    );
    assert_eq!(python_check(&proof_path, &allowed, &[]), (0, vec![]));
    assert!(
        archive
            .by_name(&format!("{folder}/seal/proofs/09EXAMPLE101.json"))
            .is_err()
    );

    // Proofs of a version that is not sealed: refused, nothing written.
    let unsealed = crate::util::sample_store("ex");
    let out = run(cablekeep(unsealed.path())
        .args(["export", "-c", "ex", "--format", "bag", "--proofs", "--out"])
        .arg(dir.path().join("bag")));
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("bag").exists());
}

#[test]
fn special_files_in_place_of_seal_files_are_reported_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    let proof = dir.path().join("p.json");
    prove(s, "10EXAMPLE202", 2, &proof);
    // A FIFO as a signature file: a finding, not a wait for a writer.
    std::fs::remove_file(signature(s, "ex", 2, &alice)).unwrap();
    crate::util::mkfifo(&signature(s, "ex", 2, &alice));
    let mut cmd = cablekeep(s);
    cmd.args(["verify", "--all", "--json", "--allowed-signers"])
        .arg(&allowed);
    let m = crate::util::measure(&cmd, std::time::Duration::from_secs(60));
    assert!(!m.timed_out);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    assert!(
        finding_codes(&m.stdout).contains(&"S006".to_string()),
        "{}",
        m.stdout
    );
    assert!(m.peak_rss_mb() < 256.0);
    // A FIFO given to check-proof as a file: refused (could not check), not opened.
    let fifo = dir.path().join("fifo");
    crate::util::mkfifo(&fifo);
    let mut cmd = cablekeep(s);
    cmd.arg("check-proof")
        .arg(&proof)
        .arg(&fifo)
        .arg("--allowed-signers")
        .arg(&allowed);
    let m = crate::util::measure(&cmd, std::time::Duration::from_secs(60));
    assert!(!m.timed_out);
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains("fifo"), "{}", m.stderr);
}

#[test]
fn commit_seals_with_sign_and_an_unsealed_version_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = temp_store();
    let s = store.path();
    run_ok(
        cablekeep(s)
            .arg("add")
            .arg(examples().join("09EXAMPLE101.html"))
            .args(["-c", "ex"]),
        0,
    );
    let out = run(cablekeep(s)
        .args(["commit", "-c", "ex", "--json", "--sign"])
        .arg(&alice.private));
    assert_eq!(out.status.code(), Some(0));
    // Standard output stays the one JSON object of the write; the seal is said on stderr.
    assert_eq!(json_lines(&String::from_utf8_lossy(&out.stdout)).len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("sealed ex@v1"));
    assert!(ssh_verify(
        &allowed,
        "alice@example.org",
        &signature(s, "ex", 1, &alice),
        &checkpoint(s, "ex", 1)
    ));
    // v2 written without --sign: a warning, an error when seals are required.
    run_ok(
        cablekeep(s)
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    assert_eq!(
        verify_codes(s, Some(&allowed), &[]),
        (vec!["S001".to_string()], 0)
    );
    assert_eq!(
        verify_codes(s, Some(&allowed), &["--require-seal"]),
        (vec!["S001".to_string()], 1)
    );
    // Sealing v2 alone links it to v1's checkpoint.
    seal(s, "ex", &alice, &[]);
    assert_eq!(
        verify_codes(s, Some(&allowed), &["--require-seal"]),
        (vec![], 0)
    );
}

#[test]
fn a_proof_carries_the_versions_timestamp_token_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let store = sealed_store(dir.path(), &alice);
    let s = store.path();
    let without = prove(s, "10EXAMPLE202", 2, &dir.path().join("a.json"));
    assert!(without["timestamp"].is_null());
    // The bytes stand for a `.tsr` reply (their checks belong to the timestamp tests).
    let token = b"\x30\x82 a timestamp reply".to_vec();
    std::fs::write(manifests(s, "ex").join("ex-v2.checkpoint.tsr"), &token).unwrap();
    let with = prove(s, "10EXAMPLE202", 2, &dir.path().join("b.json"));
    assert_eq!(
        with["timestamp"].as_str().unwrap(),
        Base64::encode_string(&token)
    );
}
