//! The tree cache of sealed versions (`.cablekeep/cache/trees/`): written by `seal`, used by
//! `prove`, and never trusted: a damaged, truncated, stale or missing cache gives the same proof
//! as the archive (the cache is rebuilt), and `verify` does not read it.

use crate::util::{cablekeep, examples, run_ok, temp_store};
use std::path::{Path, PathBuf};
use std::process::Command;

fn have_ssh_keygen() -> bool {
    let found = Command::new("ssh-keygen").arg("-?").output().is_ok();
    if !found {
        eprintln!("SKIPPED: ssh-keygen is not installed (scripts/setup-peers.sh installs it)");
    }
    found
}

fn keygen(dir: &Path) -> PathBuf {
    let key = dir.join("alice");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-C", "alice", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    key
}

fn allowed_signers(dir: &Path, key: &Path) -> PathBuf {
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut f = public.split_whitespace();
    let path = dir.join("allowed_signers");
    let line = format!(
        "alice@example.org {} {}\n",
        f.next().unwrap(),
        f.next().unwrap()
    );
    std::fs::write(&path, line).unwrap();
    path
}

fn cache(store: &Path, c: &str, v: u32) -> PathBuf {
    store.join(format!(".cablekeep/cache/trees/{c}-v{v}.tree"))
}

fn prove(store: &Path, c: &str, id: &str, out: &Path) -> Vec<u8> {
    run_ok(
        cablekeep(store)
            .args(["prove", id, "-c", c, "--out"])
            .arg(out),
        0,
    );
    std::fs::read(out).unwrap()
}

fn holds(store: &Path, proof: &Path, allowed: &Path) {
    run_ok(
        cablekeep(store)
            .arg("check-proof")
            .arg(proof)
            .arg("--allowed-signers")
            .arg(allowed),
        0,
    );
}

#[test]
fn a_damaged_stale_or_missing_tree_cache_gives_the_archives_proof_and_is_rebuilt() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let allowed = allowed_signers(dir.path(), &key);
    let store = temp_store();
    let s = store.path();
    run_ok(
        cablekeep(s)
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    let one = dir.path().join("one");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::copy(
        examples().join("09EXAMPLE101.html"),
        one.join("09EXAMPLE101.html"),
    )
    .unwrap();
    run_ok(
        cablekeep(s).arg("bundle").arg(&one).args(["-c", "other"]),
        0,
    );
    for c in ["ex", "other"] {
        run_ok(cablekeep(s).args(["seal", "-c", c, "--key"]).arg(&key), 0);
    }
    let tree = cache(s, "ex", 1);
    let written = std::fs::read(&tree).expect("seal writes the version's tree cache");

    let out = dir.path().join("proof.json");
    let from_cache = prove(s, "ex", "09EXAMPLE101", &out);
    holds(s, &out, &allowed);
    // Compact JSON on one line, with one final newline.
    assert_eq!(from_cache.iter().filter(|&&b| b == b'\n').count(), 1);
    assert!(from_cache.ends_with(b"}\n"));

    // Without a cache: the proof read from the archive is the same, and the cache is back.
    std::fs::remove_file(&tree).unwrap();
    assert_eq!(prove(s, "ex", "09EXAMPLE101", &out), from_cache);
    assert_eq!(std::fs::read(&tree).unwrap(), written);

    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("a flipped byte in a block", {
            let mut b = written.clone();
            let last = b.len() - 3;
            b[last] ^= 0x5a;
            b
        }),
        ("a flipped byte in a block root", {
            let mut b = written.clone();
            b[60] ^= 1;
            b
        }),
        ("cut short", written[..written.len() / 2].to_vec()),
        ("empty", Vec::new()),
        // Another version's tree: a valid cache, but not of this checkpoint.
        (
            "another version's cache",
            std::fs::read(cache(s, "other", 1)).unwrap(),
        ),
    ];
    for (what, bytes) in damages {
        std::fs::write(&tree, &bytes).unwrap();
        assert_eq!(prove(s, "ex", "09EXAMPLE101", &out), from_cache, "{what}");
        holds(s, &out, &allowed);
        assert_eq!(std::fs::read(&tree).unwrap(), written, "{what}: rebuilt");
    }

    // A cable the version does not have is not found, from the cache as from the archive.
    let missing = run_ok(
        cablekeep(s)
            .args(["prove", "99NOSUCH1", "-c", "ex", "--out"])
            .arg(&out),
        2,
    );
    let _ = missing;

    // verify does not read the cache: a damaged one changes nothing.
    std::fs::write(&tree, b"damaged").unwrap();
    run_ok(
        cablekeep(s)
            .args(["verify", "-c", "ex", "--allowed-signers"])
            .arg(&allowed),
        0,
    );
    assert_eq!(std::fs::read(&tree).unwrap(), b"damaged");
    // Sealing again writes it anew (a cache there already that opens is kept).
    run_ok(
        cablekeep(s).args(["seal", "-c", "ex", "--key"]).arg(&key),
        0,
    );
    assert_eq!(std::fs::read(&tree).unwrap(), written);
}
