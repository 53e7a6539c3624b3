//! The tamper matrix: a real archive is damaged in one precise way at a time, and `verify` must
//! fail (exit 1, never 2, never a panic) with the finding code that names the damage, pointing at
//! the right entry or file, and report every damaged place rather than only the first.
//!
//! The tests build their stores from the project's own sample pages in `examples/`, and only
//! rely on what is true whether or not a page parser understood the pages: the bag's payload may
//! be under `data/unparsed/` or under `data/cables/<ID>/`.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// The collection every tamper test writes.
const C: &str = "t";

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A temporary store holding collection `t`, with one or two versions.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// `t@v1`: the three sample pages.
    fn one() -> Fixture {
        let f = Fixture { dir: temp_store() };
        f.bundle(&[examples()]);
        f
    }

    /// `t@v1` with two sample pages, `t@v2` with all three (so v2 chains to v1).
    fn two() -> Fixture {
        let f = Fixture { dir: temp_store() };
        f.bundle(&[
            examples().join("09EXAMPLE101.html"),
            examples().join("10EXAMPLE202.html"),
        ]);
        f.bundle(&[examples()]);
        assert!(f.zip(2).exists(), "the second bundle wrote v2");
        f
    }

    fn bundle(&self, inputs: &[PathBuf]) {
        run_ok(
            cablekeep(self.path()).arg("bundle").args(inputs).args([
                "-c",
                C,
                "-m",
                "tamper fixture",
            ]),
            0,
        );
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn zip(&self, v: u32) -> PathBuf {
        self.path().join(format!("archives/{C}/{C}-v{v}.zip"))
    }

    fn checksum(&self, v: u32) -> PathBuf {
        self.path()
            .join(format!("archives/{C}/{C}-v{v}.zip.sha256"))
    }

    fn sidecar(&self, v: u32) -> PathBuf {
        self.path().join(format!("manifests/{C}/{C}-v{v}.json"))
    }

    /// The bag folder inside version v's zip.
    fn folder(v: u32) -> String {
        format!("{C}-v{v}")
    }

    /// `verify --json` of the store with extra arguments.
    fn verify(&self, args: &[&str]) -> Verdict {
        self.verify_both_ways(None, args)
    }

    /// The standalone `verify --json FILE.zip` (its sidecar and `.sha256` are found beside it).
    fn verify_file(&self, zip: &Path, args: &[&str]) -> Verdict {
        self.verify_both_ways(Some(zip), args)
    }

    /// Runs `verify` as asked, then again with every archive opened whole (`--whole`: the tables
    /// other archives get instead of the chunk-by-chunk check of cablekeep's layout), and
    /// requires the same exit code and the same findings of both.
    fn verify_both_ways(&self, zip: Option<&Path>, args: &[&str]) -> Verdict {
        let verdict = |whole: bool| {
            let mut cmd = cablekeep(self.path());
            cmd.args(["verify", "--json"]).args(zip).args(args);
            if whole {
                cmd.arg("--whole");
            }
            Verdict::of(run(&mut cmd), format!("{cmd:?}"))
        };
        let (streamed, whole) = (verdict(false), verdict(true));
        let sorted = |v: &Verdict| {
            let mut lines: Vec<String> = v.findings.iter().map(Value::to_string).collect();
            lines.sort();
            lines
        };
        assert_eq!(
            (streamed.code, sorted(&streamed)),
            (whole.code, sorted(&whole)),
            "checked a chunk at a time and whole, an archive gives other findings:\n{}\n{}",
            streamed.context,
            whole.context
        );
        streamed
    }

    /// Whether `verify` checks version v's zip a chunk at a time (an archive in cablekeep's
    /// layout) rather than opening it whole.
    fn streamed(&self, v: u32) -> bool {
        let options = cablekeep::store::verify::Options {
            fast: true,
            whole: false,
        };
        let progress = cablekeep::progress::NoProgress;
        cablekeep::store::verify::verify_file(&self.zip(v), None, options, &progress)
            .unwrap()
            .streamed
    }

    fn read_zip(&self, v: u32) -> Vec<u8> {
        std::fs::read(self.zip(v)).unwrap()
    }

    fn write_zip(&self, v: u32, bytes: &[u8]) {
        std::fs::write(self.zip(v), bytes).unwrap();
    }

    fn read_sidecar(&self, v: u32) -> Value {
        serde_json::from_slice(&std::fs::read(self.sidecar(v)).unwrap()).unwrap()
    }

    fn write_sidecar(&self, v: u32, value: &Value) {
        let mut bytes = serde_json::to_vec_pretty(value).unwrap();
        bytes.push(b'\n');
        std::fs::write(self.sidecar(v), bytes).unwrap();
    }
}

/// What a `verify --json` run said.
struct Verdict {
    code: Option<i32>,
    findings: Vec<Value>,
    context: String,
}

impl Verdict {
    fn of(out: Output, cmd: String) -> Verdict {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let context = format!(
            "{cmd} exited {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status.code()
        );
        assert!(
            !stderr.contains("panicked"),
            "cablekeep panicked:\n{context}"
        );
        let findings = stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{context}"))
            })
            .collect();
        Verdict {
            code: out.status.code(),
            findings,
            context,
        }
    }

    /// Exit 0 and no finding at all.
    fn clean(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected a clean run:\n{}",
            self.context
        );
        assert!(
            self.findings.is_empty(),
            "expected no findings:\n{}",
            self.context
        );
        self
    }

    /// Exit 1: the damage is a finding, not a failure to run.
    fn failed(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit 1 (findings):\n{}",
            self.context
        );
        assert!(
            self.findings.iter().any(|f| f["severity"] == "error"),
            "exit 1 without an error finding:\n{}",
            self.context
        );
        for f in &self.findings {
            for key in ["code", "severity", "file", "message", "archive"] {
                assert!(f.get(key).is_some(), "finding without {key}: {f}");
            }
        }
        self
    }

    fn codes(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect()
    }

    fn matching(&self, code: &str, entry: Option<&str>) -> Vec<&Value> {
        self.findings
            .iter()
            .filter(|f| f["code"] == code && entry.is_none_or(|e| f["entry"] == e))
            .collect()
    }

    /// A finding with this code (and this entry, when given) is present.
    fn has(&self, code: &str, entry: Option<&str>) -> &Self {
        assert!(
            !self.matching(code, entry).is_empty(),
            "expected {code}{} among {:?}:\n{}",
            entry
                .map(|e| format!(" at entry {e:?}"))
                .unwrap_or_default(),
            self.codes(),
            self.context
        );
        self
    }

    /// A finding with one of these codes at this entry is present.
    fn has_any(&self, codes: &[&str], entry: Option<&str>) -> &Self {
        assert!(
            codes.iter().any(|c| !self.matching(c, entry).is_empty()),
            "expected one of {codes:?}{} among {:?}:\n{}",
            entry
                .map(|e| format!(" at entry {e:?}"))
                .unwrap_or_default(),
            self.codes(),
            self.context
        );
        self
    }

    /// A finding with this code whose `file` ends with `suffix`.
    fn has_in_file(&self, code: &str, suffix: &str) -> &Self {
        assert!(
            self.findings
                .iter()
                .any(|f| f["code"] == code
                    && f["file"].as_str().is_some_and(|s| s.ends_with(suffix))),
            "expected {code} in a file ending {suffix:?} among {:?}:\n{}",
            self.codes(),
            self.context
        );
        self
    }

    /// A finding with this code whose report (`archive`) ends with `suffix`.
    fn has_in_archive(&self, code: &str, suffix: &str) -> &Self {
        assert!(
            self.findings
                .iter()
                .any(|f| f["code"] == code
                    && f["archive"].as_str().is_some_and(|s| s.ends_with(suffix))),
            "expected {code} in the report of {suffix:?} among {:?}:\n{}",
            self.codes(),
            self.context
        );
        self
    }

    fn lacks(&self, code: &str) -> &Self {
        assert!(
            self.matching(code, None).is_empty(),
            "did not expect {code}:\n{}",
            self.context
        );
        self
    }
}

// ---------------------------------------------------------------------------------------------
// A small zip reader of the test's own, to find the bytes to damage (independent of both the
// `zip` crate and cablekeep's reader).

#[derive(Debug, Clone)]
struct ZipEntry {
    name: String,
    /// Offset of the central directory record.
    central: usize,
    /// Offset of the local header.
    local: usize,
    /// Offset of the compressed data.
    data: usize,
    compressed: usize,
}

fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// The entries of a zip written by cablekeep (no comment, no zip64), in central directory order,
/// and the offset of the central directory.
fn zip_entries(b: &[u8]) -> (Vec<ZipEntry>, usize) {
    let eocd = b.len() - 22;
    assert_eq!(le32(b, eocd), 0x0605_4b50, "an end record without comment");
    let count = le16(b, eocd + 10);
    let cd = le32(b, eocd + 16);
    let mut pos = cd;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(le32(b, pos), 0x0201_4b50);
        let name_len = le16(b, pos + 28);
        let total = 46 + name_len + le16(b, pos + 30) + le16(b, pos + 32);
        let local = le32(b, pos + 42);
        assert_eq!(le32(b, local), 0x0403_4b50);
        let data = local + 30 + le16(b, local + 26) + le16(b, local + 28);
        out.push(ZipEntry {
            name: String::from_utf8(b[pos + 46..pos + 46 + name_len].to_vec()).unwrap(),
            central: pos,
            local,
            data,
            compressed: le32(b, pos + 20),
        });
        pos += total;
    }
    (out, cd)
}

/// Payload entries (under `<folder>/data/`), largest compressed first.
fn payload_entries(b: &[u8]) -> Vec<ZipEntry> {
    let mut entries: Vec<ZipEntry> = zip_entries(b)
        .0
        .into_iter()
        .filter(|e| e.name.split('/').nth(1) == Some("data"))
        .collect();
    assert!(!entries.is_empty(), "the bag has payload files");
    entries.sort_by(|a, b| b.compressed.cmp(&a.compressed).then(a.name.cmp(&b.name)));
    entries
}

fn entry_named(b: &[u8], name: &str) -> ZipEntry {
    zip_entries(b)
        .0
        .into_iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
}

/// The path of a zip entry inside its bag (the name without the bag folder).
fn bag_path(name: &str) -> &str {
    name.split_once('/').unwrap().1
}

fn flip(b: &mut [u8], at: usize, mask: u8) {
    b[at] ^= mask;
}

/// Rewrites a zip with Python's `zipfile`: every entry copied with its own compression, but
/// `drop` left out, `replace` given new bytes, and `add` appended (Deflate).
fn rewrite_zip(zip: &Path, drop: &[&str], replace: &[(&str, &[u8])], add: &[(&str, &[u8])]) {
    rewrite_zip_in_order(zip, drop, replace, add, &[]);
}

/// [`rewrite_zip`], and `insert` entries put among the others where their names sort (before the
/// first entry whose name sorts after theirs), as cablekeep would have put them.
fn rewrite_zip_in_order(
    zip: &Path,
    drop: &[&str],
    replace: &[(&str, &[u8])],
    add: &[(&str, &[u8])],
    insert: &[(&str, &[u8])],
) {
    const SCRIPT: &str = r#"
import json, sys, zipfile
src, dst, ops = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
replace = {n: bytes(d) for n, d in ops["replace"]}
pending = sorted(ops["insert"])
def write_new(zout, name, data):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    zout.writestr(zi, bytes(data))
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
    for info in zin.infolist():
        while pending and pending[0][0] < info.filename:
            write_new(zout, *pending.pop(0))
        if info.filename in ops["drop"]:
            continue
        data = replace.get(info.filename)
        zout.writestr(info, zin.read(info) if data is None else data)
    for name, data in pending + ops["add"]:
        write_new(zout, name, data)
"#;
    let pairs = |entries: &[(&str, &[u8])]| -> Vec<(String, Vec<u8>)> {
        entries
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect()
    };
    let ops = serde_json::json!({
        "drop": drop,
        "replace": pairs(replace),
        "add": pairs(add),
        "insert": pairs(insert),
    });
    let tmp = zip.with_extension("rewritten");
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(zip)
        .arg(&tmp)
        .arg(ops.to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 could not rewrite {}: {}",
        zip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, zip).unwrap();
}

/// Reads one entry of a zip with Python (for editing tag files).
fn read_entry_py(zip: &Path, name: &str) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
        ])
        .arg(zip)
        .arg(name)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "python3 could not read {name}");
    out.stdout
}

// ---------------------------------------------------------------------------------------------
// The untouched store

#[test]
fn untouched_store_verifies_clean_in_every_mode() {
    let f = Fixture::two();
    assert!(
        f.streamed(1) && f.streamed(2),
        "cablekeep's own archives are streamed"
    );
    f.verify(&[]).clean();
    f.verify(&["--all"]).clean();
    f.verify(&["--all", "--fast"]).clean();
    f.verify(&["--version", "v1"]).clean();
    for v in [1, 2] {
        f.verify_file(&f.zip(v), &[]).clean();
        f.verify_file(&f.zip(v), &["--fast"]).clean();
    }
    let human = run_ok(cablekeep(f.path()).args(["verify", "--all"]), 0);
    assert!(
        human.contains("ok: t@v1") && human.contains("ok: t@v2"),
        "{human}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bit flips

#[test]
fn flipped_bit_in_entry_data_names_every_damaged_entry() {
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    let payload = payload_entries(&zip);
    assert!(payload.len() >= 2, "at least two payload files");
    let (a, b) = (&payload[0], &payload[1]);
    // Damage both entries, in the middle of their compressed data.
    flip(&mut zip, a.data + a.compressed / 2, 0x10);
    flip(&mut zip, b.data + b.compressed / 2, 0x04);
    f.write_zip(1, &zip);
    assert!(f.streamed(1), "damaged data keeps the layout");

    for v in [f.verify(&[]), f.verify_file(&f.zip(1), &[])] {
        v.failed();
        for e in [a, b] {
            // The zip layer names the entry by its zip name, the bag layer by its bag path.
            v.has_any(&["Z005", "Z006"], Some(&e.name))
                .has("B004", Some(bag_path(&e.name)));
        }
        // Same size, other bytes: the sidecar's digest catches it too.
        v.has("M002", None);
    }
}

#[test]
fn fast_mode_does_not_read_payload_data_but_does_read_tag_files() {
    // By design (verify.rs, `Options::fast`): fast mode checks structure, listings, sizes,
    // Payload-Oxum and the small tag files, and neither inflates the payload nor hashes the zip
    // (the sidecar comparison in fast mode is by size only). A flipped bit in payload data keeps
    // every size, so fast mode passes; the full check catches it.
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    let a = payload_entries(&zip)[0].clone();
    flip(&mut zip, a.data + a.compressed / 2, 0x10);
    f.write_zip(1, &zip);
    f.verify(&["--fast"]).clean();
    f.verify(&[]).failed().has("B004", Some(bag_path(&a.name)));
    // The standalone check in fast mode hashes nothing either: it passes like the store check,
    // and its full mode sees the change.
    f.verify_file(&f.zip(1), &["--fast"]).clean();
    f.verify_file(&f.zip(1), &[])
        .failed()
        .has("B004", Some(bag_path(&a.name)))
        .has_in_file("M004", "t-v1.zip.sha256");

    // A tag file is read in fast mode as well: a flip in the cable index's data is seen.
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    let index = entry_named(
        &zip,
        &format!("{}/cablekeep/index.jsonl", Fixture::folder(1)),
    );
    let tm = entry_named(&zip, &format!("{}/manifest-sha256.txt", Fixture::folder(1)));
    flip(&mut zip, tm.data + tm.compressed / 2, 0x01);
    // The index may be tiny (empty while pages are unparsed): damage its last data byte.
    flip(&mut zip, index.data + index.compressed - 1, 0x01);
    f.write_zip(1, &zip);
    for v in [f.verify(&["--fast"]), f.verify_file(&f.zip(1), &["--fast"])] {
        v.failed()
            .has_any(&["Z005", "Z006"], Some(&tm.name))
            .has_any(&["Z005", "Z006"], Some(&index.name));
    }
}

#[test]
fn flipped_bits_in_local_headers_are_header_mismatches() {
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    let payload = payload_entries(&zip);
    let (a, b, c) = (&payload[0], &payload[1], &payload[2]);
    // a: the last byte of the file name in its local header.
    let name_len = le16(&zip, a.local + 26);
    flip(&mut zip, a.local + 30 + name_len - 1, 0x01);
    // b: the CRC-32 field of its local header.
    flip(&mut zip, b.local + 14, 0x80);
    // c: the local header's signature.
    flip(&mut zip, c.local, 0x01);
    f.write_zip(1, &zip);
    assert!(f.streamed(1), "damaged local headers keep the layout");
    for v in [f.verify(&[]), f.verify_file(&f.zip(1), &[])] {
        v.failed()
            .has("Z004", Some(&a.name))
            .has("Z004", Some(&b.name))
            .has("Z003", Some(&c.name))
            // Without its local header, c's data cannot be located, so its digest is wrong too.
            .has("B004", Some(bag_path(&c.name)))
            .has("M002", None);
    }
}

#[test]
fn flipped_name_in_central_directory_is_reported_in_both_directions() {
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    let a = payload_entries(&zip)[0].clone();
    // The last character of the file name before its extension (a letter or digit; flipping
    // bit 0 keeps it a printable, safe character).
    let dot = a.name.rfind('.').unwrap_or(a.name.len());
    let at = dot - 1;
    assert!(a.name.as_bytes()[at].is_ascii_alphanumeric(), "{}", a.name);
    flip(&mut zip, a.central + 46 + at, 0x01);
    let mut renamed = a.name.clone().into_bytes();
    renamed[at] ^= 0x01;
    let renamed = String::from_utf8(renamed).unwrap();
    f.write_zip(1, &zip);
    for v in [f.verify(&[]), f.verify_file(&f.zip(1), &[])] {
        v.failed()
            // The local header still has the old name.
            .has("Z004", Some(&renamed))
            // The manifests list the old path, which is gone; the new path is listed nowhere.
            .has("B005", Some(bag_path(&a.name)))
            .has("B006", Some(bag_path(&renamed)))
            .has("B011", None)
            .has("M002", None);
    }
}

#[test]
fn flipped_crc_in_central_directory_is_reported_for_that_entry() {
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    let payload = payload_entries(&zip);
    let (a, b) = (&payload[0], &payload[1]);
    flip(&mut zip, a.central + 16, 0x01);
    flip(&mut zip, b.central + 19, 0x40);
    f.write_zip(1, &zip);
    assert!(f.streamed(1), "a damaged CRC keeps the layout");
    for v in [f.verify(&[]), f.verify_file(&f.zip(1), &[])] {
        v.failed();
        for e in [a, b] {
            // The local header disagrees, and the data does not match the directory's CRC.
            v.has("Z004", Some(&e.name)).has("Z005", Some(&e.name));
        }
        // The bytes themselves are intact: the bag's digests still match.
        v.lacks("B004");
    }
}

// ---------------------------------------------------------------------------------------------
// Truncation and appended bytes

#[test]
fn truncated_zips_are_findings_never_errors_or_panics() {
    let f = Fixture::one();
    let whole = f.read_zip(1);
    let (entries, cd) = zip_entries(&whole);
    let middle_of_data = entries[entries.len() / 2].data + 3;
    let inside_cd = cd + (whole.len() - cd) / 2;
    let cuts = [
        ("empty", 0),
        ("shorter than an end record", 10),
        ("middle of the data", middle_of_data),
        ("start of the central directory", cd),
        ("inside the central directory", inside_cd),
        ("inside the end record", whole.len() - 10),
        ("last byte", whole.len() - 1),
    ];
    for (what, len) in cuts {
        f.write_zip(1, &whole[..len]);
        for (mode, v) in [
            ("store", f.verify(&[])),
            ("store --fast", f.verify(&["--fast"])),
            ("file", f.verify_file(&f.zip(1), &[])),
        ] {
            eprintln!(
                "truncated at {len} ({what}), verify {mode}: {:?}",
                v.codes()
            );
            v.failed().has("Z001", None).has("M002", None);
        }
    }
    // Intact again: clean again (the fixture itself was fine).
    f.write_zip(1, &whole);
    f.verify(&[]).clean();
}

#[test]
fn appended_bytes_are_stray_bytes() {
    let f = Fixture::one();
    let mut zip = f.read_zip(1);
    zip.extend_from_slice(b"appended after the end record");
    f.write_zip(1, &zip);
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed().has("Z009", None).has("M002", None);
    }
}

// ---------------------------------------------------------------------------------------------
// Entries removed, added, renamed

#[test]
fn deleted_payload_entry_is_missing_from_bag_and_sidecar() {
    let f = Fixture::one();
    let zip = f.read_zip(1);
    let a = payload_entries(&zip)[0].clone();
    rewrite_zip(&f.zip(1), &[&a.name], &[], &[]);
    assert!(f.streamed(1), "a deleted entry keeps the layout");
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed()
            .has("B005", Some(bag_path(&a.name)))
            // The index (or unparsed list) names the file that is gone.
            .has("B011", None)
            .has("B007", Some("bag-info.txt"))
            .has("M002", None)
            .has("M003", None);
    }
}

#[test]
fn added_payload_entry_is_unlisted_everywhere() {
    let f = Fixture::one();
    let extra = format!("{}/data/extra/smuggled.txt", Fixture::folder(1));
    rewrite_zip(&f.zip(1), &[], &[], &[(&extra, b"not part of the bag")]);
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed()
            .has("B006", Some(bag_path(&extra)))
            .has("B011", None)
            .has("B007", Some("bag-info.txt"))
            .has("M002", None)
            .has("M003", None);
        // Listed as missing in both payload manifests.
        assert_eq!(
            v.matching("B006", Some(bag_path(&extra))).len(),
            2,
            "one B006 per payload manifest:\n{}",
            v.context
        );
    }
}

#[test]
fn payload_and_listings_that_disagree_in_sorted_order_are_each_reported() {
    // Damage that keeps cablekeep's order, so that verify still checks the archive a chunk at a
    // time and its merge of the directory with the manifests and the index has to find it: a
    // payload file no manifest or cable names, manifest lines for files the archive lacks
    // before, between and after the payload, an unsafe one, and a capture the index names
    // that is gone.
    let f = Fixture::one();
    let folder = Fixture::folder(1);
    let zip = f.read_zip(1);
    let payload = payload_entries(&zip);
    let (first, gone) = (bag_path(&payload[0].name), &payload[1]);
    let extra = format!("{first}-extra.txt");
    let name = format!("{folder}/manifest-sha256.txt");
    let text = String::from_utf8(read_entry_py(&f.zip(1), &name)).unwrap();
    let fake = |path: &str| format!("{}  {path}\n", "ab".repeat(32));
    let mut lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
    lines.push(fake("data/0-before-everything.txt"));
    lines.push(fake(&format!("{first}-between.txt")));
    lines.push(fake("data/zzz-after-everything.txt"));
    lines.push(fake("data/zzz/../../escape.txt"));
    lines.sort_by(|a, b| {
        a.split_once("  ")
            .unwrap()
            .1
            .cmp(b.split_once("  ").unwrap().1)
    });
    let edited = lines.concat();
    rewrite_zip_in_order(
        &f.zip(1),
        &[&gone.name],
        &[(&name, edited.as_bytes())],
        &[],
        &[(&format!("{folder}/{extra}"), b"no manifest lists me")],
    );
    assert!(f.streamed(1), "the damage keeps the order");
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed()
            .has("B006", Some(&extra))
            .has("B005", Some("data/0-before-everything.txt"))
            .has("B005", Some(&format!("{first}-between.txt")))
            .has("B005", Some("data/zzz-after-everything.txt"))
            .has("B003", Some("manifest-sha256.txt"))
            .has("B005", Some(bag_path(&gone.name)))
            .has("B011", Some("cablekeep/index.jsonl"));
        assert_eq!(
            v.matching("B006", Some(&extra)).len(),
            2,
            "unlisted in both payload manifests:\n{}",
            v.context
        );
    }
}

#[test]
fn unsafe_entry_names_are_reported() {
    let f = Fixture::one();
    let inside = format!("{}/data/../../escape.txt", Fixture::folder(1));
    rewrite_zip(
        &f.zip(1),
        &[],
        &[],
        &[
            ("../evil", b"outside"),
            ("/abs", b"absolute"),
            (&inside, b"climbs out"),
        ],
    );
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed()
            .has("Z007", Some("../evil"))
            .has("Z007", Some("/abs"))
            .has("Z007", Some(&inside))
            .has("M002", None);
    }
}

// ---------------------------------------------------------------------------------------------
// Manifests inside the bag

#[test]
fn changed_payload_manifest_line_is_a_digest_and_tag_manifest_mismatch() {
    let f = Fixture::one();
    let folder = Fixture::folder(1);
    let name = format!("{folder}/manifest-sha256.txt");
    let text = String::from_utf8(read_entry_py(&f.zip(1), &name)).unwrap();
    let first = text.lines().next().unwrap();
    let (digest, path) = first.split_once("  ").unwrap();
    // Change one hex digit of the first line's digest.
    let mut changed = digest.to_string().into_bytes();
    changed[0] = if changed[0] == b'0' { b'1' } else { b'0' };
    let changed = String::from_utf8(changed).unwrap();
    let edited = text.replacen(digest, &changed, 1);
    rewrite_zip(&f.zip(1), &[], &[(&name, edited.as_bytes())], &[]);
    assert!(f.streamed(1), "a changed digest keeps the manifest sorted");
    for v in [f.verify(&[]), f.verify_file(&f.zip(1), &[])] {
        v.failed()
            .has("B004", Some(path))
            .has("B008", Some("manifest-sha256.txt"))
            .has("M002", None)
            .has("M003", None);
    }
    // Fast mode does not hash the payload, but reads the tag files.
    f.verify(&["--fast"])
        .failed()
        .has("B008", Some("manifest-sha256.txt"))
        .lacks("B004");
}

#[test]
fn manifest_lines_in_any_order_with_repeats_and_strangers_are_each_reported() {
    let f = Fixture::one();
    let folder = Fixture::folder(1);
    let name = format!("{folder}/manifest-sha512.txt");
    let text = String::from_utf8(read_entry_py(&f.zip(1), &name)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "the fixture has several payload files");
    // Reversed (verify reads sorted manifests fastest, but any order is valid BagIt), the first
    // line twice, a path the archive lacks twice, and a line with a short digest.
    let stranger = format!("{}  data/cables/NOSUCH/x.json", "ab".repeat(64));
    let mut edited: Vec<String> = lines.iter().rev().map(|l| l.to_string()).collect();
    edited.push(lines[0].to_string());
    edited.push(stranger.clone());
    edited.push(stranger);
    edited.push("abc  data/short-digest.txt".to_string());
    let edited = edited.join("\n") + "\n";
    rewrite_zip(&f.zip(1), &[], &[(&name, edited.as_bytes())], &[]);
    assert!(!f.streamed(1), "a manifest out of order is checked whole");
    let first_path = lines[0].split_once("  ").unwrap().1;
    for v in [f.verify(&[]), f.verify(&["--fast"])] {
        v.failed()
            .has("B010", Some("manifest-sha512.txt"))
            .has("B005", Some("data/cables/NOSUCH/x.json"))
            .has("B003", Some("manifest-sha512.txt"))
            .has("B008", Some("manifest-sha512.txt"))
            .lacks("B006")
            .lacks("B004");
        let duplicates = v.matching("B010", None);
        assert_eq!(
            duplicates.len(),
            2,
            "the repeated line and the repeated stranger: {duplicates:?}"
        );
        assert_eq!(
            v.matching("B005", None).len(),
            1,
            "the stranger is missing once"
        );
        assert!(
            duplicates
                .iter()
                .any(|d| d["message"].as_str().unwrap().contains(first_path)),
            "{duplicates:?}"
        );
    }
}

#[test]
fn an_index_out_of_id_order_is_an_index_mismatch() {
    let f = Fixture::one();
    let folder = Fixture::folder(1);
    let name = format!("{folder}/cablekeep/index.jsonl");
    let text = String::from_utf8(read_entry_py(&f.zip(1), &name)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 2 {
        eprintln!("SKIPPED: the sample pages gave fewer than two cables");
        return;
    }
    let mut swapped = lines.clone();
    swapped.swap(0, 1);
    let edited = swapped.join("\n") + "\n";
    rewrite_zip(&f.zip(1), &[], &[(&name, edited.as_bytes())], &[]);
    assert!(!f.streamed(1), "an index out of order is checked whole");
    for v in [f.verify(&[]), f.verify(&["--fast"])] {
        v.failed().has("B011", Some("cablekeep/index.jsonl"));
        assert!(
            v.matching("B011", None)
                .iter()
                .any(|m| m["message"].as_str().unwrap().contains("sorted by id")),
            "{}",
            v.context
        );
    }
}

#[test]
fn fast_mode_checks_tag_files_with_sha256_and_full_mode_with_both() {
    let f = Fixture::one();
    let folder = Fixture::folder(1);
    let name = format!("{folder}/tagmanifest-sha512.txt");
    let text = String::from_utf8(read_entry_py(&f.zip(1), &name)).unwrap();
    // A wrong SHA-512 for bagit.txt: only a SHA-512 of the tag file can see it.
    let edited: String = text
        .lines()
        .map(|l| match l.split_once("  ") {
            Some((_, "bagit.txt")) => format!("{}  bagit.txt\n", "0".repeat(128)),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_ne!(edited, text);
    rewrite_zip(&f.zip(1), &[], &[(&name, edited.as_bytes())], &[]);
    f.verify(&[]).failed().has("B008", Some("bagit.txt"));
    // The tag manifest itself changed, which the sidecar sees in both modes; fast mode does not
    // compute SHA-512, so the bad line itself is not a B008 there.
    let fast = f.verify(&["--fast"]);
    fast.failed().has("M003", None);
    assert!(
        fast.matching("B008", Some("bagit.txt")).is_empty(),
        "{}",
        fast.context
    );
}

// ---------------------------------------------------------------------------------------------
// The sidecar manifest and the .sha256 file

#[test]
fn changed_sidecar_counts_are_sidecar_mismatches() {
    let f = Fixture::one();
    let mut m = f.read_sidecar(1);
    let n = m["counts"]["payload_files"].as_u64().unwrap();
    m["counts"]["payload_files"] = (n + 1).into();
    let n = m["counts"]["zip_entries"].as_u64().unwrap();
    m["counts"]["zip_entries"] = (n - 1).into();
    f.write_sidecar(1, &m);
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed().has_in_archive("M003", "t-v1.zip");
        let messages: Vec<&str> = v
            .matching("M003", None)
            .iter()
            .filter_map(|x| x["message"].as_str())
            .collect();
        for what in ["payload files", "zip entries"] {
            assert!(
                messages.iter().any(|m| m.starts_with(what)),
                "an M003 about {what}:\n{}",
                v.context
            );
        }
    }
}

#[test]
fn changed_sidecar_digest_is_an_archive_digest_mismatch() {
    let f = Fixture::one();
    let mut m = f.read_sidecar(1);
    m["archive"]["sha256"] = "0".repeat(64).into();
    f.write_sidecar(1, &m);
    for v in [f.verify(&[]), f.verify_file(&f.zip(1), &[])] {
        v.failed().has("M002", None);
    }
    // Fast mode compares the zip with the sidecar by size only, so it gives no M002; but the
    // `.sha256` file check takes the sidecar's digest for the zip's, and the two disagree.
    f.verify(&["--fast"])
        .failed()
        .lacks("M002")
        .has_in_file("M004", "t-v1.zip.sha256");
    let f = Fixture::one();
    let mut m = f.read_sidecar(1);
    let bytes = m["archive"]["bytes"].as_u64().unwrap();
    m["archive"]["bytes"] = (bytes + 1).into();
    f.write_sidecar(1, &m);
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed().has("M002", None);
    }
}

#[test]
fn invalid_sidecar_json_is_unreadable() {
    let f = Fixture::one();
    let mut bytes = std::fs::read(f.sidecar(1)).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(f.sidecar(1), &bytes).unwrap();
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed().has_in_file("M001", "t-v1.json");
    }
    // A sidecar of another format is unreadable too.
    let f = Fixture::one();
    let mut m = f.read_sidecar(1);
    m["format"] = "something-else/9".into();
    f.write_sidecar(1, &m);
    f.verify(&[]).failed().has_in_file("M001", "t-v1.json");
}

#[test]
fn changed_or_missing_checksum_file_is_reported() {
    let f = Fixture::one();
    let text = std::fs::read_to_string(f.checksum(1)).unwrap();
    let flipped = if text.starts_with('0') { "1" } else { "0" };
    std::fs::write(f.checksum(1), format!("{flipped}{}", &text[1..])).unwrap();
    for v in [
        f.verify(&[]),
        f.verify(&["--fast"]),
        f.verify_file(&f.zip(1), &[]),
    ] {
        v.failed()
            .has_in_file("M004", "t-v1.zip.sha256")
            .lacks("M002");
    }
    // Naming another file is wrong too.
    std::fs::write(f.checksum(1), text.replace("t-v1.zip", "t-v9.zip")).unwrap();
    f.verify(&[])
        .failed()
        .has_in_file("M004", "t-v1.zip.sha256");

    std::fs::remove_file(f.checksum(1)).unwrap();
    f.verify(&[])
        .failed()
        .has_in_file("M004", "t-v1.zip.sha256");
    f.verify(&["--fast"])
        .failed()
        .has_in_file("M004", "t-v1.zip.sha256");
    // The standalone check of a zip uses the `.sha256` file only when there is one (a zip
    // downloaded on its own has none), so a missing one is not a finding there.
    f.verify_file(&f.zip(1), &[]).clean();
}

// ---------------------------------------------------------------------------------------------
// Versions and the hash chain

#[test]
fn another_versions_zip_in_place_is_an_identity_mismatch() {
    let f = Fixture::two();
    std::fs::copy(f.zip(2), f.zip(1)).unwrap();
    for v in [f.verify(&["--all"]), f.verify(&["--version", "v1"])] {
        v.failed()
            .has_in_archive("M002", "t-v1.zip")
            .has_in_archive("M007", "t-v1.zip");
    }
    // The standalone check has no store identity to compare with, but the sidecar beside the
    // zip describes another archive.
    f.verify_file(&f.zip(1), &[])
        .failed()
        .has("M002", None)
        .has("M003", None);
    // v2 itself is intact, but even a check of v2 alone sees that v1's zip has another size
    // than its manifest records (unselected versions get the checks that need no hashing).
    let v2 = f.verify(&["--version", "v2"]);
    v2.failed().has_in_file("M002", "t-v1.zip");
    assert!(
        v2.findings
            .iter()
            .all(|x| x["file"].as_str().is_some_and(|p| p.contains("t-v1"))),
        "{:?}",
        v2.codes()
    );
}

#[test]
fn edited_previous_manifest_breaks_the_chain() {
    let f = Fixture::two();
    // Any change of v1's sidecar bytes (here its message, which nothing else records) breaks
    // the link v2 holds to it.
    let mut m = f.read_sidecar(1);
    m["message"] = "rewritten history".into();
    f.write_sidecar(1, &m);
    for v in [f.verify(&[]), f.verify(&["--all"])] {
        v.failed().has_in_file("M005", "t-v2.json");
    }
    // The chain is checked whatever version is selected; v1's own files are intact.
    let v1 = f.verify(&["--version", "v1"]);
    v1.failed().has_in_file("M005", "t-v2.json");
    assert!(
        v1.findings.iter().all(|x| x["code"] == "M005"),
        "{:?}",
        v1.codes()
    );
}

#[test]
fn edited_previous_link_breaks_the_chain() {
    for field in ["manifest_sha256", "archive_sha256", "version"] {
        let f = Fixture::two();
        let mut m = f.read_sidecar(2);
        m["previous"][field] = match field {
            "version" => 7.into(),
            _ => "ab".repeat(32).into(),
        };
        f.write_sidecar(2, &m);
        f.verify(&[]).failed().has_in_file("M005", "t-v2.json");
    }
    // v2 naming no previous version at all.
    let f = Fixture::two();
    let mut m = f.read_sidecar(2);
    m["previous"] = Value::Null;
    f.write_sidecar(2, &m);
    f.verify(&[]).failed().has_in_file("M005", "t-v2.json");
}

#[test]
fn deleted_manifest_of_an_earlier_version_is_a_missing_version() {
    let f = Fixture::two();
    std::fs::remove_file(f.sidecar(1)).unwrap();
    for v in [f.verify(&[]), f.verify(&["--all"])] {
        v.failed()
            .has("M006", None)
            // The zip is not an interrupted write (no pending marker): the manifest was lost.
            .has_in_file("M006", "t-v1.zip")
            // v2's link to v1 cannot be checked any more.
            .has_in_file("M005", "t-v2.json");
    }
}

#[test]
fn deleted_zip_of_a_committed_version_is_a_missing_version() {
    let f = Fixture::two();
    std::fs::remove_file(f.zip(1)).unwrap();
    f.verify(&["--all"])
        .failed()
        .has_in_file("M006", "t-v1.zip");
    std::fs::remove_file(f.zip(2)).unwrap();
    f.verify(&[]).failed().has_in_file("M006", "t-v2.zip");
}

#[test]
fn a_lost_manifest_does_not_make_the_next_writer_delete_a_committed_archive() {
    // A killed writer leaves a pending marker beside the zip it could not commit; a zip without
    // a manifest and without a marker means the manifest was lost (deleted, restored from an
    // incomplete backup). The next writer must never delete such a zip: it is the only copy.
    let f = Fixture::two();
    std::fs::remove_file(f.sidecar(1)).unwrap();
    let v1 = f.read_zip(1);
    // A third version, from a page the store does not hold yet.
    let more = tempfile::tempdir().unwrap();
    std::fs::write(
        more.path().join("new.txt"),
        b"A page the collection does not hold yet.\n",
    )
    .unwrap();
    let _ = run(cablekeep(f.path())
        .arg("bundle")
        .arg(more.path())
        .args(["-c", C]));
    assert!(
        f.zip(1).exists() && std::fs::read(f.zip(1)).unwrap() == v1,
        "the archive of v1 was deleted by the next writer because its manifest was missing"
    );
}
