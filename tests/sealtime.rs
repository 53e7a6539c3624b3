//! Timestamped seals with a real time-stamping authority on 127.0.0.1 (`crate::tsa`): `seal`,
//! `bundle` and `commit` with `--tsa` store a token that `verify`, `openssl ts -verify`,
//! `check-proof` and `scripts/check-proof.py` accept, each attack on a timestamp is reported with
//! its code, and a TSA that fails or hangs ends the command with a clear error, the version kept.

use crate::seal::{
    Key, allowed_signers, checkpoint, keygen, manifests, prove, sealed_store, verify_codes,
    write_json,
};
use crate::tsa::{Answer, KeyKind, Tsa, TsaOptions, start_tsa, start_tsa_with};
use crate::util::{cablekeep, examples, json_lines, measure, project_root, run, run_ok};
use base64ct::{Base64, Encoding};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn tsr(store: &Path, c: &str, v: u32) -> PathBuf {
    manifests(store, c).join(format!("{c}-v{v}.checkpoint.tsr"))
}

/// `seal -c ex --all --tsa URL` (no key: the checkpoints are there and signed already).
fn stamp_all(store: &Path, tsa: &Tsa) -> String {
    run_ok(
        cablekeep(store).args(["seal", "-c", "ex", "--all", "--tsa", &tsa.url]),
        0,
    )
}

/// `openssl ts -verify -data CHECKPOINT -in TSR -CAfile CA`: (accepted, what it said).
fn openssl_verify(data: &Path, tsr: &Path, ca: &Path) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-data"])
        .arg(data)
        .arg("-in")
        .arg(tsr)
        .arg("-CAfile")
        .arg(ca)
        .output()
        .expect("openssl runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && said.contains("Verification: OK"),
        said,
    )
}

/// A store with two sealed versions of `ex`, both timestamped by `tsa`, and the allowed signers.
fn stamped_store(dir: &Path, tsa: &Tsa) -> (tempfile::TempDir, Key, PathBuf) {
    let alice = keygen(dir, "alice", "");
    let store = sealed_store(dir, &alice);
    let allowed = allowed_signers(dir, &[("alice", &alice)]);
    stamp_all(store.path(), tsa);
    (store, alice, allowed)
}

fn ca_args(tsa: &Tsa) -> Vec<String> {
    vec!["--tsa-ca".into(), tsa.ca_pem.display().to_string()]
}

fn codes_with_ca(store: &Path, allowed: &Path, tsa: &Tsa) -> (Vec<String>, i32) {
    let ca = ca_args(tsa);
    let extra: Vec<&str> = ca.iter().map(String::as_str).collect();
    verify_codes(store, Some(allowed), &extra)
}

#[test]
fn seal_with_tsa_stores_a_token_that_verify_and_openssl_accept() {
    let Some(tsa) = start_tsa() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, alice, allowed) = stamped_store(dir.path(), &tsa);
    let s = store.path();
    assert_eq!(tsa.requests(), 2);
    for v in [1, 2] {
        let (ok, said) = openssl_verify(&checkpoint(s, "ex", v), &tsr(s, "ex", v), &tsa.ca_pem);
        assert!(
            ok,
            "v{v}: openssl ts -verify refused the stored token: {said}"
        );
    }
    assert_eq!(codes_with_ca(s, &allowed, &tsa), (vec![], 0));
    // Without a trusted TSA certificate the tokens are checked as far as they can be, and one
    // warning says that their signer was not.
    assert_eq!(
        verify_codes(s, Some(&allowed), &[]),
        (vec!["S025".to_string()], 0)
    );
    // The store's own CA file is used when present.
    std::fs::copy(&tsa.ca_pem, s.join(".cablekeep/tsa-ca.pem")).unwrap();
    assert_eq!(verify_codes(s, Some(&allowed), &[]), (vec![], 0));

    // A version timestamped already keeps its token: no request, no change.
    let before = std::fs::read(tsr(s, "ex", 2)).unwrap();
    let said = run_ok(
        cablekeep(s)
            .args(["seal", "-c", "ex", "--json", "--tsa", &tsa.url, "--key"])
            .arg(&alice.private),
        0,
    );
    assert_eq!(tsa.requests(), 2);
    assert_eq!(std::fs::read(tsr(s, "ex", 2)).unwrap(), before);
    let sealed = &json_lines(&said)[0];
    assert_eq!(sealed["timestamp"]["written"], false);
    assert_eq!(sealed["signed"], false);
    let gen_time = sealed["timestamp"]["gen_time"].as_str().unwrap();
    assert!(gen_time.ends_with('Z') && gen_time.len() >= 20, "{sealed}");

    // bundle --sign --tsa seals and timestamps the version it writes.
    run_ok(
        cablekeep(s)
            .arg("bundle")
            .arg(examples().join("09EXAMPLE101.html"))
            .args(["-c", "other", "--tsa", &tsa.url, "--sign"])
            .arg(&alice.private),
        0,
    );
    assert_eq!(tsa.requests(), 3);
    let (ok, said) = openssl_verify(&checkpoint(s, "other", 1), &tsr(s, "other", 1), &tsa.ca_pem);
    assert!(ok, "{said}");
    assert_eq!(codes_with_ca(s, &allowed, &tsa), (vec![], 0));
}

#[test]
fn each_attack_on_a_timestamp_is_reported_by_verify() {
    let Some(tsa) = start_tsa() else { return };
    let Some(stranger) = start_tsa_with(TsaOptions {
        key: KeyKind::P256,
        ..TsaOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, _alice, allowed) = stamped_store(dir.path(), &tsa);
    let s = store.path();
    let v1 = std::fs::read(tsr(s, "ex", 1)).unwrap();
    let v2 = std::fs::read(tsr(s, "ex", 2)).unwrap();

    // A genuine token over v1's checkpoint, by a TSA whose CA is not the trusted one.
    let checkpoint_v1 = std::fs::read(checkpoint(s, "ex", 1)).unwrap();
    let foreign =
        cablekeep::seal::timestamp::fetch(&stranger.url, &checkpoint_v1, Duration::from_secs(30))
            .unwrap();
    std::fs::write(tsr(s, "ex", 1), &foreign).unwrap();
    assert_eq!(
        codes_with_ca(s, &allowed, &tsa),
        (vec!["S023".to_string()], 1)
    );
    // Without a trusted certificate it is not an error: only that it was not checked.
    assert_eq!(
        verify_codes(s, Some(&allowed), &[]),
        (vec!["S025".to_string()], 0)
    );

    // v2's token put in place of v1's: a genuine timestamp of other bytes, with or without a CA.
    std::fs::write(tsr(s, "ex", 1), &v2).unwrap();
    assert_eq!(
        codes_with_ca(s, &allowed, &tsa),
        (vec!["S021".to_string()], 1)
    );
    assert_eq!(
        verify_codes(s, Some(&allowed), &[]),
        (vec!["S021".to_string(), "S025".to_string()], 1)
    );
    let (ok, _) = openssl_verify(&checkpoint(s, "ex", 1), &tsr(s, "ex", 1), &tsa.ca_pem);
    assert!(!ok, "openssl accepted another version's token");
    std::fs::write(tsr(s, "ex", 1), &v1).unwrap();
    assert_eq!(codes_with_ca(s, &allowed, &tsa), (vec![], 0));

    // A token that is not one, and a token cut short.
    std::fs::write(tsr(s, "ex", 2), b"not a timestamp").unwrap();
    assert_eq!(
        codes_with_ca(s, &allowed, &tsa),
        (vec!["S020".to_string()], 1)
    );
    std::fs::write(tsr(s, "ex", 2), &v2).unwrap();

    // The checkpoint of v2 edited after it was signed and timestamped.
    let cp = checkpoint(s, "ex", 2);
    let text = std::fs::read_to_string(&cp).unwrap();
    let size = text.lines().nth(1).unwrap();
    let edited = text.replacen(&format!("\n{size}\n"), "\n999\n", 1);
    assert_ne!(edited, text);
    std::fs::write(&cp, &edited).unwrap();
    let (codes, code) = codes_with_ca(s, &allowed, &tsa);
    assert_eq!(code, 1);
    for expected in ["S002", "S004", "S021"] {
        assert!(
            codes.contains(&expected.to_string()),
            "{expected}: {codes:?}"
        );
    }
    let (ok, _) = openssl_verify(&cp, &tsr(s, "ex", 2), &tsa.ca_pem);
    assert!(!ok, "openssl accepted a token over an edited checkpoint");

    // A CA file that holds no certificate cannot vouch for anything: S025, not a pass.
    std::fs::write(&cp, &text).unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "no certificate here\n").unwrap();
    assert_eq!(
        verify_codes(s, Some(&allowed), &["--tsa-ca", not_pem.to_str().unwrap()]),
        (vec!["S025".to_string()], 0)
    );
    // A CA file that is not there is an error (exit 2), not a silent pass.
    let missing = dir.path().join("missing.pem");
    assert_eq!(
        verify_codes(s, Some(&allowed), &["--tsa-ca", missing.to_str().unwrap()]).1,
        2
    );
}

/// `check-proof --json` with the CA: exit code, codes, and the report.
fn check_proof_json(
    store: &Path,
    proof: &Path,
    allowed: &Path,
    ca: Option<&Path>,
) -> (i32, Vec<String>, serde_json::Value) {
    let mut cmd = cablekeep(store);
    cmd.arg("check-proof")
        .arg(proof)
        .arg("--allowed-signers")
        .arg(allowed)
        .arg("--json");
    if let Some(ca) = ca {
        cmd.arg("--tsa-ca").arg(ca);
    }
    let out = run(&mut cmd);
    let report = json_lines(&String::from_utf8_lossy(&out.stdout))[0].clone();
    let codes = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    (out.status.code().unwrap(), codes, report)
}

/// `scripts/check-proof.py PROOF ALLOWED --tsa-ca CA`: exit code and what it printed.
fn python_check_with_ca(proof: &Path, allowed: &Path, ca: &Path) -> (i32, String) {
    let out = Command::new("python3")
        .arg(project_root().join("scripts/check-proof.py"))
        .arg(proof)
        .arg(allowed)
        .arg("--tsa-ca")
        .arg(ca)
        .output()
        .expect("python3 runs");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_proofs_timestamp_is_checked_and_an_edited_one_fails_both_checkers() {
    let Some(tsa) = start_tsa() else { return };
    let Some(stranger) = start_tsa_with(TsaOptions {
        key: KeyKind::P256,
        ..TsaOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, _alice, allowed) = stamped_store(dir.path(), &tsa);
    let s = store.path();
    let path = dir.path().join("proof.json");
    let proof = prove(s, "10EXAMPLE202", 2, &path);
    let token = Base64::decode_vec(proof["timestamp"].as_str().unwrap()).unwrap();
    assert_eq!(token, std::fs::read(tsr(s, "ex", 2)).unwrap());

    let (code, codes, report) = check_proof_json(s, &path, &allowed, Some(&tsa.ca_pem));
    assert_eq!((code, codes), (0, vec![]), "{report}");
    let gen_time = report["timestamp"]["gen_time"].as_str().unwrap();
    assert!(gen_time.ends_with('Z'), "{report}");
    assert_eq!(report["timestamp"]["trusted"], true);
    let text = run_ok(
        cablekeep(s)
            .arg("check-proof")
            .arg(&path)
            .arg("--allowed-signers")
            .arg(&allowed)
            .arg("--tsa-ca")
            .arg(&tsa.ca_pem),
        0,
    );
    assert!(
        text.contains(&format!("the checkpoint existed at {gen_time}")),
        "{text}"
    );
    // Without a CA: it holds, the time is shown as unchecked, and S025 says so.
    let (code, codes, report) = check_proof_json(s, &path, &allowed, None);
    assert_eq!((code, codes), (0, vec!["S025".to_string()]));
    assert_eq!(report["timestamp"]["trusted"], false);
    assert_eq!(python_check_with_ca(&path, &allowed, &tsa.ca_pem).0, 0);

    // The timestamp edited: v1's token (other bytes), one byte of the token flipped, and a
    // genuine token from an untrusted TSA.
    let v1 = std::fs::read(tsr(s, "ex", 1)).unwrap();
    let mut flipped = token.clone();
    let at = flipped.len() - 40;
    flipped[at] ^= 0x01;
    let checkpoint_v2 = proof["checkpoint"].as_str().unwrap().as_bytes().to_vec();
    let foreign =
        cablekeep::seal::timestamp::fetch(&stranger.url, &checkpoint_v2, Duration::from_secs(30))
            .unwrap();
    for (what, bytes, expected) in [
        ("another version's token", v1, "S021"),
        ("a flipped byte", flipped, "S022"),
        ("an untrusted TSA", foreign, "S023"),
    ] {
        let mut edited = proof.clone();
        edited["timestamp"] = Base64::encode_string(&bytes).into();
        let edited_path = dir.path().join("edited.json");
        write_json(&edited_path, &edited);
        let (code, codes, _) = check_proof_json(s, &edited_path, &allowed, Some(&tsa.ca_pem));
        assert_eq!(code, 1, "{what}");
        assert!(codes.contains(&expected.to_string()), "{what}: {codes:?}");
        let (code, said) = python_check_with_ca(&edited_path, &allowed, &tsa.ca_pem);
        assert_eq!(code, 1, "{what}: the Python checker accepted it: {said}");
        assert!(said.contains("DOES NOT HOLD"), "{what}: {said}");
    }
}

#[test]
fn a_tsa_that_hangs_ends_the_command_with_a_clear_error_within_the_timeout() {
    let Some(tsa) = start_tsa() else { return };
    tsa.set_answer(Answer::Hang);
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let store = crate::util::temp_store();
    let s = store.path();
    let mut cmd = cablekeep(s);
    cmd.arg("bundle")
        .arg(examples())
        .args([
            "-c",
            "ex",
            "--tsa",
            &tsa.url,
            "--tsa-timeout",
            "2",
            "--sign",
        ])
        .arg(&alice.private);
    let started = Instant::now();
    let m = measure(&cmd, Duration::from_secs(60));
    assert!(
        !m.timed_out,
        "bundle --tsa hung on a TSA that never answers"
    );
    let took = started.elapsed();
    eprintln!("bundle --tsa-timeout 2 with a TSA that never answers ended after {took:?}");
    assert!(took < Duration::from_secs(30));
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains(&tsa.url), "{}", m.stderr);
    assert!(
        m.stderr.contains("no answer within the time-out of 2 s"),
        "{}",
        m.stderr
    );
    assert!(m.stderr.contains("not timestamped"), "{}", m.stderr);
    // The version and its seal are kept, and verify clean; it can be timestamped later.
    assert!(!tsr(s, "ex", 1).exists());
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    assert_eq!(verify_codes(s, Some(&allowed), &[]), (vec![], 0));
    tsa.set_answer(Answer::Reply);
    stamp_all(s, &tsa);
    assert_eq!(codes_with_ca(s, &allowed, &tsa), (vec![], 0));
}

#[test]
fn a_tsa_that_answers_500_fails_the_command_and_the_version_stays() {
    let Some(tsa) = start_tsa() else { return };
    tsa.set_answer(Answer::Status(500));
    let dir = tempfile::tempdir().unwrap();
    let alice = keygen(dir.path(), "alice", "");
    let allowed = allowed_signers(dir.path(), &[("alice", &alice)]);
    let store = crate::util::temp_store();
    let s = store.path();
    run_ok(
        cablekeep(s)
            .args(["add"])
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    let out = run(cablekeep(s)
        .args(["commit", "-c", "ex", "--tsa", &tsa.url, "--sign"])
        .arg(&alice.private));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&tsa.url), "{stderr}");
    assert!(stderr.contains("500"), "{stderr}");
    assert!(checkpoint(s, "ex", 1).exists());
    assert!(!tsr(s, "ex", 1).exists());
    assert_eq!(verify_codes(s, Some(&allowed), &[]), (vec![], 0));
    // `seal --tsa` alone fails the same way and changes nothing.
    let out = run(cablekeep(s).args(["seal", "-c", "ex", "--tsa", &tsa.url]));
    assert_eq!(out.status.code(), Some(2));
    assert!(!tsr(s, "ex", 1).exists());
    // A URL that no request could go to is refused before anything is written.
    let out = run(cablekeep(s).arg("bundle").arg(examples()).args([
        "-c",
        "ex2",
        "--tsa",
        "ftp://example.org/tsa",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(!manifests(s, "ex2").exists());
}

#[test]
fn bundle_with_tsa_alone_writes_an_unsigned_checkpoint_and_timestamps_it() {
    let Some(tsa) = start_tsa() else { return };
    let store = crate::util::temp_store();
    let s = store.path();
    run_ok(
        cablekeep(s)
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex", "--tsa", &tsa.url]),
        0,
    );
    let (ok, said) = openssl_verify(&checkpoint(s, "ex", 1), &tsr(s, "ex", 1), &tsa.ca_pem);
    assert!(ok, "{said}");
    // Timestamped, not signed: the missing signature is the only warning.
    let ca = tsa.ca_pem.display().to_string();
    assert_eq!(
        verify_codes(s, None, &["--tsa-ca", &ca]),
        (vec!["S001".to_string()], 0)
    );
}

#[test]
fn special_files_in_place_of_a_timestamp_or_ca_file_are_refused_without_hanging() {
    let Some(tsa) = start_tsa() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (store, alice, allowed) = stamped_store(dir.path(), &tsa);
    let s = store.path();
    // A FIFO as the .tsr: verify reports it (S020) instead of waiting for a writer.
    std::fs::remove_file(tsr(s, "ex", 2)).unwrap();
    crate::util::mkfifo(&tsr(s, "ex", 2));
    let mut cmd = cablekeep(s);
    cmd.args(["verify", "--all", "--json", "--allowed-signers"])
        .arg(&allowed)
        .arg("--tsa-ca")
        .arg(&tsa.ca_pem);
    let m = measure(&cmd, Duration::from_secs(60));
    assert!(!m.timed_out);
    assert_eq!(m.code, Some(1), "{}", m.stderr);
    assert_eq!(
        crate::util::finding_codes(&m.stdout),
        vec!["S020".to_string()]
    );
    assert!(m.peak_rss_mb() < 256.0);
    // `seal --tsa` does not replace it, nor wait on it.
    let mut cmd = cablekeep(s);
    cmd.args(["seal", "-c", "ex", "--tsa", &tsa.url, "--key"])
        .arg(&alice.private);
    let m = measure(&cmd, Duration::from_secs(60));
    assert!(!m.timed_out);
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    // A FIFO as the CA file: could not run, named.
    let fifo = dir.path().join("ca-fifo");
    crate::util::mkfifo(&fifo);
    let mut cmd = cablekeep(s);
    cmd.args(["verify", "--allowed-signers"])
        .arg(&allowed)
        .arg("--tsa-ca")
        .arg(&fifo);
    let m = measure(&cmd, Duration::from_secs(60));
    assert!(!m.timed_out);
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    assert!(m.stderr.contains("ca-fifo"), "{}", m.stderr);
    // Refused before any archive is checked.
    assert!(m.stdout.is_empty(), "{}", m.stdout);
}
