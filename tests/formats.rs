//! Archive formats 1 and 2 side by side: the same inputs archived once in each format must
//! verify, show, diff, export and search alike, format 1 archives (the committed sample, and the
//! dev set bundled with `--archive-format 1` exactly as earlier releases wrote it) keep working,
//! and a format 2 record whose text cannot be rebuilt stops its readers with an error naming it.

use crate::util::*;
use cablekeep::bag::capture::StoredRecord;
use cablekeep::bag::record::read_record;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// The collection, message and clock of tests/golden.rs: the format 1 store of the dev set is
/// then exactly the archive the format guard records.
const COLLECTION: &str = "golden";
const MESSAGE: &str = "the format guard";
const EPOCH: &str = "1300000000";
/// The SHA-256 tests/golden.rs records for the dev set in format 1 (the archive releases before
/// format 2 wrote).
const DEV_FORMAT_1_SHA256: &str =
    "5bc67cca6b2173bd2357ca787674f34dd2c64991b609310700dc2517015066ad";

/// Two stores made of the same inputs with the same clock: `one` in archive format 1, `two` in
/// format 2. Tests read them; a test that writes (search keeps its catalog in the store, new
/// versions) works on a copy.
struct Pair {
    one: PathBuf,
    two: PathBuf,
}

impl Pair {
    fn stores(&self) -> [&Path; 2] {
        [&self.one, &self.two]
    }

    /// Copies of both stores in a fresh folder.
    fn copy(&self) -> (tempfile::TempDir, Pair) {
        let dir = temp_store();
        let copy = Pair {
            one: dir.path().join("one"),
            two: dir.path().join("two"),
        };
        copy_tree(&self.one, &copy.one);
        copy_tree(&self.two, &copy.two);
        (dir, copy)
    }
}

/// Bundles `inputs` into `store` as the collection's next version in `format`, with the clock
/// of the format guard; `code` is bundle's expected exit code.
fn bundle(store: &Path, inputs: &[&Path], format: &str, code: i32) {
    run_ok(
        cablekeep(store)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .arg("bundle")
            .args(inputs)
            .args(["-c", COLLECTION, "-m", MESSAGE, "--archive-format", format]),
        code,
    );
}

fn zip_of(store: &Path, version: u32) -> PathBuf {
    store.join(format!("archives/{COLLECTION}/{COLLECTION}-v{version}.zip"))
}

fn sidecar_of(store: &Path, version: u32) -> PathBuf {
    store.join(format!(
        "manifests/{COLLECTION}/{COLLECTION}-v{version}.json"
    ))
}

/// Where this process keeps its fixture stores; folders left by earlier runs whose process is
/// gone are removed first.
fn fixture_root() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("formats-fixtures-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    tmp.join(format!("formats-fixtures-{}", std::process::id()))
}

/// Bundles `inputs` once per format into a fresh pair of stores under `name`.
fn make_pair(name: &str, inputs: &[&Path], code: i32) -> Pair {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    let root = ROOT.get_or_init(fixture_root).join(name);
    let _ = std::fs::remove_dir_all(&root);
    let pair = Pair {
        one: root.join("format-1"),
        two: root.join("format-2"),
    };
    bundle(&pair.one, inputs, "1", code);
    bundle(&pair.two, inputs, "2", code);
    pair
}

/// The project's own inputs, always there: the sample pages of examples/ and the bulk table
/// tests/data/cables-sample.csv (two of its rows are malformed on purpose: bundle exits 1).
fn sample_inputs() -> [PathBuf; 2] {
    [
        examples(),
        project_root().join("tests/data/cables-sample.csv"),
    ]
}

fn sample_pair() -> &'static Pair {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let [pages, table] = sample_inputs();
        make_pair("sample", &[&pages, &table], 1)
    })
}

/// The 400 dev pages, once per format; the format 1 store must be the archive the format guard
/// records, byte for byte (so it is the archive earlier releases wrote).
fn dev_pair() -> Option<&'static Pair> {
    static PAIR: OnceLock<Pair> = OnceLock::new();
    // Asked by every test, so that each one that is skipped says so.
    let dev = shared("cables/dev")?;
    Some(PAIR.get_or_init(|| {
        let pair = make_pair("dev", &[&dev], 0);
        assert_eq!(
            sha256_hex(&std::fs::read(zip_of(&pair.one, 1)).unwrap()),
            DEV_FORMAT_1_SHA256,
            "the format 1 store of the dev set is not the archive tests/golden.rs records"
        );
        pair
    }))
}

macro_rules! need_dev_pair {
    () => {
        match dev_pair() {
            Some(p) => p,
            None => return,
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Reading zips and running commands

/// Every entry of a zip, inflated, by name.
fn zip_entries(zip: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            (entry.name().unwrap().to_string(), data)
        })
        .collect()
}

/// The entry of a bag zip at `path` inside its bag folder.
fn bag_entry<'a>(entries: &'a BTreeMap<String, Vec<u8>>, path: &str) -> &'a [u8] {
    entries
        .iter()
        .find(|(name, _)| name.split_once('/').is_some_and(|(_, p)| p == path))
        .unwrap_or_else(|| panic!("no {path} in the zip"))
        .1
}

/// The cables of a version and their captures' names, from its index.
fn cables_and_captures(zip: &Path) -> Vec<(String, Vec<String>)> {
    let entries = zip_entries(zip);
    let index = String::from_utf8(bag_entry(&entries, "cablekeep/index.jsonl").to_vec()).unwrap();
    json_lines(&index)
        .iter()
        .map(|line| {
            let captures = line["captures"].as_array().unwrap();
            (
                line["id"].as_str().unwrap().to_string(),
                captures
                    .iter()
                    .map(|c| c["name"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn format_line(zip: &Path) -> String {
    let entries = zip_entries(zip);
    let info = String::from_utf8(bag_entry(&entries, "bag-info.txt").to_vec()).unwrap();
    info.lines()
        .find(|l| l.starts_with("Cablekeep-Format:"))
        .unwrap_or_else(|| panic!("no Cablekeep-Format in {}: {info}", zip.display()))
        .to_string()
}

/// Runs the same arguments in both stores; both must exit `code` with the same output, which
/// is returned.
fn same_in_both(pair: &Pair, args: &[&str], code: i32) -> Vec<u8> {
    let [one, two] = pair.stores().map(|s| run(cablekeep(s).args(args)));
    for (store, out) in [(&pair.one, &one), (&pair.two, &two)] {
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?} in {}: {}",
            store.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        one.stdout == two.stdout,
        "{args:?} prints different output from a format 1 and a format 2 store\n--- format 1\n{}\n--- format 2\n{}",
        String::from_utf8_lossy(&one.stdout),
        String::from_utf8_lossy(&two.stdout)
    );
    one.stdout
}

// ---------------------------------------------------------------------------------------------
// 1. verify, the format named, determinism

/// bagit.py from the project's peer environment (scripts/setup-peers.sh) accepts the bag of
/// `zip`, unzipped. A missing bagit.py fails under CI (which installs it) and skips the check
/// loudly elsewhere.
fn bagit_py_validates(zip: &Path) {
    let bagit = project_root().join(".venv-peers/bagit/bin/bagit.py");
    if !bagit.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "bagit.py is missing under CI: scripts/setup-peers.sh did not run"
        );
        eprintln!(
            "\n!!! SKIPPED: {} is missing; run scripts/setup-peers.sh !!!\n",
            bagit.display()
        );
        return;
    }
    let unpacked = tempfile::tempdir().unwrap();
    zip::ZipArchive::new(std::fs::File::open(zip).unwrap())
        .unwrap()
        .extract(unpacked.path())
        .unwrap();
    let bag = std::fs::read_dir(unpacked.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = std::process::Command::new(&bagit)
        .args(["--validate", "--quiet"])
        .arg(&bag)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bagit.py --validate rejected {}: {}",
        zip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn verifies_clean_and_names_its_format(pair: &Pair, inputs: &[&Path], code: i32) {
    for (store, n) in [(&pair.one, 1), (&pair.two, 2)] {
        let out = run_ok(cablekeep(store).args(["verify", "--all", "--json"]), 0);
        assert!(json_lines(&out).is_empty(), "format {n}: {out}");
        assert_eq!(
            format_line(&zip_of(store, 1)),
            format!("Cablekeep-Format: cablekeep archive format {n}")
        );
        bagit_py_validates(&zip_of(store, 1));
    }
    // A second run writes the same format 2 zip, byte for byte.
    let again = temp_store();
    bundle(again.path(), inputs, "2", code);
    assert!(
        std::fs::read(zip_of(again.path(), 1)).unwrap()
            == std::fs::read(zip_of(&pair.two, 1)).unwrap(),
        "two format 2 bundles of the same inputs differ"
    );
}

#[test]
fn sample_stores_of_both_formats_verify_clean_and_format_2_is_deterministic() {
    let [pages, table] = sample_inputs();
    verifies_clean_and_names_its_format(sample_pair(), &[&pages, &table], 1);
}

#[test]
fn dev_stores_of_both_formats_verify_clean_and_format_2_is_deterministic() {
    let pair = need_dev_pair!();
    let dev = crate::need_shared!("cables/dev");
    verifies_clean_and_names_its_format(pair, &[&dev], 0);
}

// ---------------------------------------------------------------------------------------------
// 2. show

/// `show --json`, `show` and `show --raw` of every capture of `cables` print the same bytes from
/// both stores; `show --json` prints a record/1 with its text.
fn shows_alike(pair: &Pair, cables: &[(String, Vec<String>)]) {
    for (id, captures) in cables {
        // The default capture (the latest), and each one by name where there are several.
        let mut which: Vec<Vec<&str>> = vec![vec![]];
        if captures.len() > 1 {
            which.extend(captures.iter().map(|c| vec!["--capture", c.as_str()]));
        }
        for capture in which {
            let args = |extra: &[&'static str]| {
                let mut args = vec!["show", id.as_str()];
                args.extend_from_slice(&capture);
                args.extend_from_slice(extra);
                args
            };
            let json = same_in_both(pair, &args(&["--json"]), 0);
            let record: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(record["schema"], "cablekeep-record/1", "{id} {capture:?}");
            assert!(
                record["capture"].get("text_at").is_none(),
                "{id} {capture:?}"
            );
            assert!(
                record["text"].as_str().is_some_and(|t| !t.is_empty()),
                "{id}"
            );
            same_in_both(pair, &args(&[]), 0);
            same_in_both(pair, &args(&["--raw"]), 0);
        }
    }
}

#[test]
fn sample_cables_show_alike_from_both_formats() {
    let pair = sample_pair();
    let cables = cables_and_captures(&zip_of(&pair.one, 1));
    assert_eq!(
        cables.len(),
        6,
        "3 sample pages and 3 table rows: {cables:?}"
    );
    shows_alike(pair, &cables);
}

#[test]
fn dev_cables_show_alike_from_both_formats() {
    let pair = need_dev_pair!();
    let cables = cables_and_captures(&zip_of(&pair.one, 1));
    assert_eq!(cables.len(), 398);
    // A deterministic sample of about 50 (every cable costs six runs of the binary), and every
    // cable with more than one capture; the exports below compare every record.
    let step = cables.len().div_ceil(50);
    let sample: Vec<_> = cables
        .iter()
        .enumerate()
        .filter(|(i, (_, captures))| i % step == 0 || captures.len() > 1)
        .map(|(_, c)| c.clone())
        .collect();
    assert!(sample.iter().any(|(_, c)| c.len() > 1), "{sample:?}");
    shows_alike(pair, &sample);
}

// ---------------------------------------------------------------------------------------------
// 3. export

/// The digests that differ between two versions of the same cables in different formats by
/// nature: the version's own.
struct OwnDigests {
    archive_sha256: String,
    sidecar_sha256: String,
}

fn own_digests(store: &Path, version: u32) -> OwnDigests {
    let sidecar = std::fs::read(sidecar_of(store, version)).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&sidecar).unwrap();
    OwnDigests {
        archive_sha256: manifest["archive"]["sha256"].as_str().unwrap().to_string(),
        sidecar_sha256: sha256_hex(&sidecar),
    }
}

/// Replaces digests in an export's files by names of what they are digests of. It starts with
/// the version's own digests (archive SHA-256, sidecar manifest SHA-256) and learns, file by
/// file, the SHA-256 and SHA-512 of every file that held a replaced digest (the manifests and
/// datapackage.json list them) and of every stored record (a bag export copies them as
/// archived: record/1 or record/2). Nothing else is replaced, except in a bag whose records
/// differ in size: the records' sizes in datapackage.json and `Payload-Oxum`/`Bag-Size` in
/// bag-info.txt.
struct Normalizer {
    /// Digest (lower-case hex) → what it is the digest of.
    replace: std::collections::HashMap<String, String>,
    records_differ: bool,
}

/// A run of hex digits as long as a SHA-256 or longer: where a digest may stand.
fn hex_runs() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new("[0-9a-f]{64,}").unwrap())
}

impl Normalizer {
    fn new(own: &OwnDigests, records_differ: bool) -> Normalizer {
        let replace = [
            (own.archive_sha256.clone(), "<archive sha256>".into()),
            (
                own.sidecar_sha256.clone(),
                "<sidecar manifest sha256>".into(),
            ),
        ];
        Normalizer {
            replace: replace.into(),
            records_differ,
        }
    }

    fn learn(&mut self, path: &str, bytes: &[u8]) {
        use sha2::Digest;
        self.replace
            .insert(sha256_hex(bytes), format!("<sha256 of {path}>"));
        self.replace.insert(
            hex::encode(sha2::Sha512::digest(bytes)),
            format!("<sha512 of {path}>"),
        );
    }

    /// `text` with every digest it knows replaced (whole runs of hex digits only).
    fn text(&self, text: &str) -> String {
        hex_runs()
            .replace_all(text, |m: &regex::Captures| {
                let run = &m[0];
                self.replace
                    .get(run)
                    .cloned()
                    .unwrap_or_else(|| run.to_string())
            })
            .into_owned()
    }

    fn file(&self, path: &str, bytes: &[u8]) -> Vec<u8> {
        let text = std::str::from_utf8(bytes)
            .unwrap_or_else(|_| panic!("{path} is not UTF-8"))
            .to_string();
        let mut text = self.text(&text);
        if self.records_differ && path == "bag-info.txt" {
            text = text
                .lines()
                .map(|l| match l.split_once(": ") {
                    Some((k @ ("Payload-Oxum" | "Bag-Size"), _)) => {
                        format!("{k}: <from the records' sizes>\n")
                    }
                    _ => format!("{l}\n"),
                })
                .collect();
        }
        if self.records_differ && path == "datapackage.json" {
            let mut package: serde_json::Value = serde_json::from_str(&text).unwrap();
            for resource in package["resources"].as_array_mut().unwrap() {
                if is_record(resource["path"].as_str().unwrap()) {
                    resource["bytes"] = "<the record's size>".into();
                }
            }
            text = serde_json::to_string_pretty(&package).unwrap();
        }
        text.into_bytes()
    }
}

/// A stored record in a bag export: `data/cables/<ID>/<capture>.json`.
fn is_record(path: &str) -> bool {
    path.starts_with("data/cables/") && path.ends_with(".json")
}

/// A raw capture in a bag export.
fn is_raw(path: &str) -> bool {
    path.starts_with("data/cables/") && !path.ends_with(".json")
}

/// The files under `root`, by path relative to it.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root).unwrap();
            (
                rel.to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The files of a zip export, by path inside its one bag folder.
fn files_in_zip(zip: &Path) -> BTreeMap<String, Vec<u8>> {
    let entries = zip_entries(zip);
    let folders: BTreeSet<&str> = entries
        .keys()
        .map(|n| n.split('/').next().unwrap())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    entries
        .into_iter()
        .map(|(name, data)| (name.split_once('/').unwrap().1.to_string(), data))
        .collect()
}

/// Files that must be identical byte for byte, whichever format the cables were archived in.
fn is_data_file(path: &str) -> bool {
    matches!(
        path,
        "cables.csv" | "cables.jsonl" | "cablekeep/index.jsonl" | "bagit.txt"
    ) || is_raw(path)
}

/// The rows of every table of an SQLite export, with the normalizer applied to text values.
fn sqlite_tables(
    db: &Path,
    normalizer: &Normalizer,
) -> BTreeMap<String, (Vec<Vec<rusqlite::types::Value>>, bool)> {
    use rusqlite::types::Value;
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names
        .into_iter()
        .map(|name| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
            let columns = stmt.column_count();
            let mut changed = false;
            let rows = stmt
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| row.get::<_, Value>(i))
                        .collect::<rusqlite::Result<Vec<Value>>>()
                })
                .unwrap()
                .map(|r| {
                    r.unwrap()
                        .into_iter()
                        .map(|v| match v {
                            Value::Text(t) => {
                                let n = normalizer.text(&t);
                                changed |= n != t;
                                Value::Text(n)
                            }
                            other => other,
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            (name, (rows, changed))
        })
        .collect()
}

/// Asserts that two exports of the same cables, from the format 1 store (`one`) and the format 2
/// store (`two`), agree: data files are identical, SQLite tables hold the same rows, records read
/// back the same, and every other file is identical once the normalizer has replaced the digests
/// that must differ. Returns the files the normalizer changed.
fn exports_agree(
    one: BTreeMap<String, Vec<u8>>,
    two: BTreeMap<String, Vec<u8>>,
    own: [&OwnDigests; 2],
) -> BTreeSet<String> {
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        two.keys().collect::<Vec<_>>(),
        "the two exports hold different files"
    );
    let records_differ = one.keys().any(|p| is_record(p));
    let mut norm = own.map(|o| Normalizer::new(o, records_differ));
    let mut pending = BTreeSet::new();
    for (path, a) in &one {
        let b = &two[path];
        if is_data_file(path) {
            assert!(a == b, "{path} differs between the two exports");
        } else if is_record(path) {
            records_read_alike(path, a, b, &one, &two);
            norm[0].learn(path, a);
            norm[1].learn(path, b);
        } else if path != "cables.sqlite" {
            pending.insert(path.clone());
        }
    }
    let mut normalized = BTreeSet::new();
    if one.contains_key("cables.sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let dbs = [(&one, &norm[0], "one"), (&two, &norm[1], "two")].map(|(files, n, name)| {
            let path = dir.path().join(name);
            std::fs::write(&path, &files["cables.sqlite"]).unwrap();
            sqlite_tables(&path, n)
        });
        assert_eq!(
            dbs[0].keys().collect::<Vec<_>>(),
            dbs[1].keys().collect::<Vec<_>>()
        );
        for (table, (rows, changed)) in &dbs[0] {
            assert!(rows == &dbs[1][table].0, "table {table} differs");
            if *changed {
                normalized.insert(format!("cables.sqlite: table {table}"));
            }
        }
        if one["cables.sqlite"] != two["cables.sqlite"] {
            norm[0].learn("cables.sqlite", &one["cables.sqlite"]);
            norm[1].learn("cables.sqlite", &two["cables.sqlite"]);
            normalized.insert("cables.sqlite".into());
        }
    }
    // A file that holds a replaced digest has its own digests replaced where they are listed;
    // learned until nothing new is learned.
    loop {
        let mut learned = false;
        for path in pending.clone() {
            let (a, b) = (&one[&path], &two[&path]);
            if norm[0].file(&path, a) != *a || norm[1].file(&path, b) != *b {
                norm[0].learn(&path, a);
                norm[1].learn(&path, b);
                pending.remove(&path);
                normalized.insert(path);
                learned = true;
            }
        }
        if !learned {
            break;
        }
    }
    for (path, a) in &one {
        if is_data_file(path) || is_record(path) || path == "cables.sqlite" {
            continue;
        }
        let (a, b) = (norm[0].file(path, a), norm[1].file(path, &two[path]));
        assert!(
            a == b,
            "{path} differs beyond the archives' own digests\n--- format 1\n{}\n--- format 2\n{}",
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b)
        );
    }
    normalized
}

/// A record exported from the format 2 store, read back with the raw bytes exported beside it,
/// is the record/1 exported from the format 1 store, and that one is the pretty record/1 of
/// format 1.
fn records_read_alike(
    path: &str,
    one: &[u8],
    two: &[u8],
    one_files: &BTreeMap<String, Vec<u8>>,
    two_files: &BTreeMap<String, Vec<u8>>,
) {
    let raw_of = |files: &BTreeMap<String, Vec<u8>>, record: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(record).unwrap();
        files[v["capture"]["raw"].as_str().unwrap()].clone()
    };
    let first: StoredRecord = serde_json::from_slice(one).unwrap();
    assert_eq!(first.record.schema, "cablekeep-record/1", "{path}");
    assert!(first.capture.text_at.is_none(), "{path}");
    let mut pretty = serde_json::to_vec_pretty(&first).unwrap();
    pretty.push(b'\n');
    assert!(pretty == one, "{path}: not a format 1 record");
    let read =
        read_record(two, || Ok(raw_of(two_files, two))).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(read, first, "{path}");
    assert_eq!(
        read_record(one, || Ok(raw_of(one_files, one))).unwrap(),
        first,
        "{path}"
    );
    let stored: serde_json::Value = serde_json::from_slice(two).unwrap();
    assert_eq!(stored["schema"], "cablekeep-record/2", "{path}");
}

/// Exports both stores as JSON Lines: the two `cables.jsonl` must be the same bytes (each holds
/// the record/1 of every cable, whichever format archived it).
fn same_jsonl_export(stores: [&Path; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let outs = [1, 2].map(|n| dir.path().join(format!("jsonl-{n}")));
    for (store, out) in stores.into_iter().zip(&outs) {
        export(store, "jsonl", out);
    }
    assert!(
        std::fs::read(outs[0].join("cables.jsonl")).unwrap()
            == std::fs::read(outs[1].join("cables.jsonl")).unwrap(),
        "the JSON Lines export holds the record/1 of every cable"
    );
}

fn export(store: &Path, format: &str, out: &Path) {
    run_ok(
        cablekeep(store)
            .args(["export", "--format", format, "--out"])
            .arg(out),
        0,
    );
}

/// The files the normalizer must change in an export of each format, and only these.
fn expected_normalized(format: &str) -> BTreeSet<String> {
    let mut files: BTreeSet<String> = [
        "CITATION.cff",
        "README.md",
        "citations.bib",
        "citations.json",
        "datapackage.json",
    ]
    .map(String::from)
    .into();
    match format {
        "csv" | "jsonl" => {
            files.insert("manifest-sha256.txt".into());
        }
        "sqlite" => {
            files.insert("manifest-sha256.txt".into());
            files.insert("cables.sqlite".into());
            files.insert("cables.sqlite: table meta".into());
            files.insert("cables.sqlite: table versions".into());
        }
        _ => {
            for f in [
                "bag-info.txt",
                "manifest-sha256.txt",
                "manifest-sha512.txt",
                "tagmanifest-sha256.txt",
                "tagmanifest-sha512.txt",
            ] {
                files.insert(f.into());
            }
        }
    }
    files
}

fn every_export_agrees(pair: &Pair) {
    let own = pair.stores().map(|s| own_digests(s, 1));
    let dir = tempfile::tempdir().unwrap();
    for format in ["csv", "jsonl", "sqlite", "bag", "zip"] {
        let outs = [1, 2].map(|n| dir.path().join(format!("{format}-{n}")));
        for (store, out) in pair.stores().into_iter().zip(&outs) {
            export(store, format, out);
        }
        let [one, two] = outs.map(|out| {
            if format == "zip" {
                files_in_zip(&out)
            } else {
                files_under(&out)
            }
        });
        if format == "bag" || format == "zip" {
            assert_eq!(
                one.keys().filter(|p| is_record(p)).count(),
                one.keys().filter(|p| is_raw(p)).count(),
                "{format}: a record beside each raw capture"
            );
        }
        let normalized = exports_agree(one, two, [&own[0], &own[1]]);
        assert_eq!(normalized, expected_normalized(format), "{format}");
    }
}

#[test]
fn sample_exports_agree_across_formats() {
    every_export_agrees(sample_pair());
}

#[test]
fn dev_exports_agree_across_formats() {
    every_export_agrees(need_dev_pair!());
}

// ---------------------------------------------------------------------------------------------
// 4. search

fn searches_agree(pair: &Pair, queries: &[&[&str]]) {
    // search keeps its index in the store: copies, not the shared fixtures.
    let (_dir, copy) = pair.copy();
    for args in queries {
        let mut full = vec!["search", "--json", "--limit", "100"];
        full.extend_from_slice(args);
        let out = same_in_both(&copy, &full, 0);
        let hits = json_lines(&String::from_utf8(out).unwrap());
        assert!(
            !hits.is_empty(),
            "{args:?} finds nothing: a vacuous comparison"
        );
    }
}

#[test]
fn sample_searches_agree_across_formats() {
    searches_agree(
        sample_pair(),
        &[
            &["synthetic"],
            &["\"no comment\""],
            &["invent*"],
            &["backslash OR quotes"],
            &["--tag", "PREL", "example*"],
            &["--classification", "CONFIDENTIAL", "cable"],
        ],
    );
}

#[test]
fn dev_searches_agree_across_formats() {
    searches_agree(
        need_dev_pair!(),
        &[
            &["embassy"],
            &["\"human rights\""],
            &["terror*"],
            &["oil OR gas"],
            &["(president OR election) NOT nuclear"],
            &["tag:PREL created:2009..2010 minister*"],
            &["--tag", "PREL", "minister"],
            &["--tag", "PGOV", "--tag", "ECON", "--all-tags", "reform*"],
            &["--classification", "SECRET", "nuclear"],
            &["--origin", "Embassy Madrid", "spain"],
            &["--redaction", "redacted", "XXXXXXXXXXXX"],
            &[
                "--created-from",
                "2009-01-01",
                "--partial-extract",
                "false",
                "visit",
            ],
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Link checks (a reader of records: it compares the archived text with the live page)

/// Answers `connections` requests on 127.0.0.1 with `body`, then stops; returns the port.
fn serve(body: Vec<u8>, connections: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let mut stream = stream.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

#[test]
fn a_link_check_compares_a_live_page_with_the_text_either_format_archived() {
    // A bare text: its format 2 record takes its text from the raw capture.
    let bare = project_root().join("tests/data/bare-cable.txt");
    let archived = std::fs::read_to_string(&bare).unwrap();
    let live = archived.replacen("Invented text only.", "Invented text, revised.", 1);
    assert_ne!(live, archived);
    let port = serve(live.into_bytes(), 2);
    let dir = temp_store();
    let pair = Pair {
        one: dir.path().join("one"),
        two: dir.path().join("two"),
    };
    for (store, format) in [(&pair.one, "1"), (&pair.two, "2")] {
        run_ok(
            cablekeep(store)
                .env("SOURCE_DATE_EPOCH", EPOCH)
                .arg("bundle")
                .arg(&bare)
                .args(["-c", COLLECTION, "--format", "bare-text"])
                .args(["--source-url", &format!("http://127.0.0.1:{port}/bare.txt")])
                .args(["--archive-format", format]),
            0,
        );
    }
    let entries = zip_entries(&zip_of(&pair.two, 1));
    let record = entries
        .iter()
        .find(|(name, _)| name.ends_with(".json") && name.contains("/data/cables/"))
        .unwrap()
        .1;
    let record: serde_json::Value = serde_json::from_slice(record).unwrap();
    assert_eq!(
        record["text"], "",
        "the format 2 record leaves its text out"
    );
    let [one, two] = pair.stores().map(|store| {
        let out = run_ok(
            cablekeep(store).args([
                "links",
                "check",
                "--json",
                "--ignore-robots",
                "--no-archive-lookup",
                "--host-interval-ms",
                "0",
            ]),
            1,
        );
        let mut results = json_lines(&out);
        assert_eq!(results.len(), 1, "{out}");
        // When it was checked is the only thing that may differ.
        results[0].as_object_mut().unwrap().remove("time");
        results.remove(0)
    });
    assert_eq!(one, two);
    assert_eq!(one["state"], "drifted", "{one}");
    assert_eq!(one["drift"]["text_changed"], true, "{one}");
    assert_eq!(
        (
            one["drift"]["lines_added"].as_u64(),
            one["drift"]["lines_removed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{one}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. A collection that changes format: format 1, then format 2

/// The same inputs as version 1 bundled again in format 2, or `next` as version 2: on copies of
/// both stores. The first writes nothing (a change of format is not a change of the cables);
/// the second makes the copy of `one` a mixed collection (format 1, then format 2), the copy of
/// `two` format 2 throughout. Both verify, log both versions and diff the same, naming exactly
/// the cables `changed` (added or changed); format 1 cannot follow.
fn a_format_2_version_follows_alike(
    pair: &Pair,
    (first, first_code): (&[&Path], i32),
    (next, next_code): (&Path, i32),
    changed: &BTreeSet<String>,
) {
    let (_dir, copy) = pair.copy();
    for store in copy.stores() {
        let again = run_ok(
            cablekeep(store)
                .env("SOURCE_DATE_EPOCH", "1300100000")
                .arg("bundle")
                .args(first)
                .args(["-c", COLLECTION, "-m", "the same inputs"]),
            first_code,
        );
        assert!(again.contains("nothing new"), "{again}");
        assert!(!zip_of(store, 2).exists());
        run_ok(
            cablekeep(store)
                .env("SOURCE_DATE_EPOCH", "1300100000")
                .arg("bundle")
                .arg(next)
                .args(["-c", COLLECTION, "-m", "the next version"]),
            next_code,
        );
        run_ok(cablekeep(store).args(["verify", "--all"]), 0);
        let log = json_lines(&run_ok(cablekeep(store).args(["log", "--json"]), 0));
        let versions: BTreeSet<_> = log.iter().map(|v| v["version"].as_u64().unwrap()).collect();
        assert_eq!(versions, [1, 2].into(), "{log:?}");
        assert_eq!(
            format_line(&zip_of(store, 2)),
            "Cablekeep-Format: cablekeep archive format 2"
        );
        bagit_py_validates(&zip_of(store, 2));
    }
    assert_eq!(
        format_line(&zip_of(&copy.one, 1)),
        "Cablekeep-Format: cablekeep archive format 1"
    );
    let diff = same_in_both(&copy, &["diff", "-c", COLLECTION, "v1", "v2", "--json"], 0);
    let diff: serde_json::Value = serde_json::from_slice(&diff).unwrap();
    let named: BTreeSet<String> = ["added", "changed"]
        .iter()
        .flat_map(|k| diff[k].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(&named, changed, "{diff}");
    assert!(diff["removed"].as_array().unwrap().is_empty(), "{diff}");
    same_in_both(&copy, &["diff", "-c", COLLECTION, "v1", "v2"], 0);
    // Every record of version 2, whichever format wrote it (a mixed version 2 copies version 1's
    // format 1 records as they are), reads the same.
    same_jsonl_export(copy.stores());
    for store in copy.stores() {
        format_1_cannot_follow_format_2(store);
    }
}

/// `bundle --archive-format 1` after a format 2 version: exit 2, a message naming the formats,
/// nothing written.
fn format_1_cannot_follow_format_2(store: &Path) {
    let before = files_under(store);
    let out = run(cablekeep(store)
        .arg("bundle")
        .arg(examples().join("09EXAMPLE101.html"))
        .args(["-c", COLLECTION, "--archive-format", "1"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{COLLECTION}@v2"))
            && stderr.contains("written in archive format 2")
            && stderr.contains("cannot be written in format 1"),
        "{stderr}"
    );
    assert!(
        before == files_under(store),
        "the refused bundle changed the store"
    );
    run_ok(cablekeep(store).args(["verify", "--all"]), 0);
    assert_eq!(
        json_lines(&run_ok(cablekeep(store).args(["log", "--json"]), 0)).len(),
        2
    );
}

#[test]
fn a_mixed_sample_collection_diffs_as_one_of_format_2() {
    let [pages, table] = sample_inputs();
    // The next version is the table with one cable's text changed (a table row: its format 2
    // record takes its text from the row).
    let dir = temp_store();
    let changed = dir.path().join("changed.csv");
    let text = std::fs::read_to_string(&table).unwrap();
    assert!(text.contains("Nothing of note happened"));
    std::fs::write(
        &changed,
        text.replacen("Nothing of note happened", "Little happened", 1),
    )
    .unwrap();
    a_format_2_version_follows_alike(
        sample_pair(),
        (&[&pages, &table], 1),
        (&changed, 1),
        &["10ATLANTIS7".to_string()].into(),
    );
}

#[test]
fn a_mixed_dev_collection_diffs_as_one_of_format_2() {
    let pair = need_dev_pair!();
    let dev = crate::need_shared!("cables/dev");
    let versions = crate::need_shared!("cables/versions");
    // Every cable of versions/ (two successive captures each) is added or changed.
    let cables: BTreeSet<String> = std::fs::read_dir(&versions)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cables.len(), 18);
    a_format_2_version_follows_alike(pair, (&[&dev], 0), (&versions, 0), &cables);
}

// ---------------------------------------------------------------------------------------------
// 6. The committed sample store (format 1, written by cablekeep 0.1.0)

#[test]
fn the_committed_format_1_sample_store_shows_exports_and_takes_a_format_2_version() {
    // tests/store.rs verifies it in place; here a copy is read, exported and written on.
    let root = project_root();
    let store = temp_store();
    for folder in ["archives", "manifests"] {
        copy_tree(&root.join(folder), &store.path().join(folder));
    }
    let s = store.path();
    let zip = s.join("archives/examples/examples-v1.zip");
    assert_eq!(
        format_line(&zip),
        "Cablekeep-Format: cablekeep archive format 1"
    );
    run_ok(cablekeep(s).args(["verify", "--all"]), 0);
    let entries = zip_entries(&zip);
    let cables = cables_and_captures(&zip);
    assert_eq!(cables.len(), 3);
    let shown = |args: &[&str]| -> Vec<u8> {
        let out: Output = run(cablekeep(s).args(args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        out.stdout
    };
    for (id, _) in &cables {
        let record: serde_json::Value =
            serde_json::from_slice(&shown(&["show", id, "--json"])).unwrap();
        let raw_path = record["capture"]["raw"].as_str().unwrap();
        let record_path = raw_path.rsplit_once('.').unwrap().0.to_string() + ".json";
        // Exactly the bytes as archived: the record and the raw capture.
        assert!(shown(&["show", id, "--json"]) == bag_entry(&entries, &record_path));
        assert!(shown(&["show", id, "--raw"]) == bag_entry(&entries, raw_path));
        let text = String::from_utf8(shown(&["show", id])).unwrap();
        assert!(text.starts_with(&format!("{id}  (examples@v1")), "{text}");
    }
    // Its CSV export is the export of the same pages bundled now in format 2.
    let fresh = temp_store();
    run_ok(
        cablekeep(fresh.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", "examples"]),
        0,
    );
    let out = tempfile::tempdir().unwrap();
    let [committed, now] = [s, fresh.path()].map(|store| {
        let dest = out
            .path()
            .join(sha256_hex(store.to_string_lossy().as_bytes()));
        run_ok(
            cablekeep(store)
                .args(["export", "-c", "examples", "--format", "csv", "--out"])
                .arg(&dest),
            0,
        );
        std::fs::read(dest.join("cables.csv")).unwrap()
    });
    assert!(committed == now, "the committed archive exports other rows");
    // A format 2 version follows; both verify, the diff names exactly the table's cables.
    let table = project_root().join("tests/data/cables-sample.csv");
    run_ok(
        cablekeep(s)
            .arg("bundle")
            .arg(&table)
            .args(["-c", "examples", "-m", "format 2"]),
        1,
    );
    assert_eq!(
        format_line(&s.join("archives/examples/examples-v2.zip")),
        "Cablekeep-Format: cablekeep archive format 2"
    );
    run_ok(cablekeep(s).args(["verify", "--all"]), 0);
    let diff = run_ok(cablekeep(s).args(["diff", "v1", "v2", "--json"]), 0);
    let diff = &json_lines(&diff)[0];
    let added: Vec<&str> = diff["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let before: BTreeSet<String> = cables.iter().map(|(id, _)| id.clone()).collect();
    let after: BTreeSet<String> = cables_and_captures(&s.join("archives/examples/examples-v2.zip"))
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let new: Vec<&String> = after.difference(&before).collect();
    assert_eq!(new.len(), 3, "the table's three cables: {new:?}");
    assert_eq!(added, new, "{diff}");
    assert!(diff["changed"].as_array().unwrap().is_empty(), "{diff}");
    assert!(diff["removed"].as_array().unwrap().is_empty(), "{diff}");
    // The format 1 records, copied into version 2, still show as archived.
    for (id, _) in &cables {
        let record: serde_json::Value =
            serde_json::from_slice(&shown(&["show", id, "--json"])).unwrap();
        let raw_path = record["capture"]["raw"].as_str().unwrap();
        let record_path = raw_path.rsplit_once('.').unwrap().0.to_string() + ".json";
        assert!(shown(&["show", id, "--json"]) == bag_entry(&entries, &record_path));
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Format 2 records whose text cannot be rebuilt

/// Replaces the `"<algorithm> <path>"` line of a BagIt manifest with the digest of `bytes`.
fn relist(manifest: &[u8], path: &str, digest: &str) -> Vec<u8> {
    let text = String::from_utf8(manifest.to_vec()).unwrap();
    let mut found = false;
    let lines: String = text
        .lines()
        .map(|line| match line.split_once("  ") {
            Some((_, p)) if p == path => {
                found = true;
                format!("{digest}  {path}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    assert!(found, "{path} is not listed");
    lines.into_bytes()
}

/// Rewrites version 1's zip with the payload file at `path` (in the bag) replaced by `bytes`,
/// and its manifests, `Payload-Oxum`, `Bag-Size` and tag manifests made to match, then writes
/// the sidecar manifest and checksum file again from it: an archive consistent in every
/// listing, whose only fault lies inside that file.
fn replace_payload_file(store: &Path, path: &str, bytes: &[u8]) {
    use sha2::Digest;
    let sha512 = |b: &[u8]| hex::encode(sha2::Sha512::digest(b));
    let zip = zip_of(store, 1);
    let entries = zip_entries(&zip);
    let folder = entries
        .keys()
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let old_len = bag_entry(&entries, path).len() as u64;
    let mut new: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    new.insert(path.into(), bytes.to_vec());
    for (manifest, digest) in [
        ("manifest-sha256.txt", sha256_hex(bytes)),
        ("manifest-sha512.txt", sha512(bytes)),
    ] {
        new.insert(
            manifest.into(),
            relist(bag_entry(&entries, manifest), path, &digest),
        );
    }
    let info = String::from_utf8(bag_entry(&entries, "bag-info.txt").to_vec()).unwrap();
    let info: String = info
        .lines()
        .map(|line| match line.split_once(": ") {
            Some(("Payload-Oxum", oxum)) => {
                let (size, count) = oxum.split_once('.').unwrap();
                let size = size.parse::<u64>().unwrap() - old_len + bytes.len() as u64;
                format!(
                    "Payload-Oxum: {size}.{count}\nBag-Size: {}\n",
                    cablekeep::bag::human_size(size)
                )
            }
            Some(("Bag-Size", _)) => String::new(),
            _ => format!("{line}\n"),
        })
        .collect();
    new.insert("bag-info.txt".into(), info.into_bytes());
    for (tag_manifest, digest) in [
        (
            "tagmanifest-sha256.txt",
            &sha256_hex as &dyn Fn(&[u8]) -> String,
        ),
        ("tagmanifest-sha512.txt", &sha512),
    ] {
        let mut listing = bag_entry(&entries, tag_manifest).to_vec();
        for tag_file in ["bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt"] {
            listing = relist(&listing, tag_file, &digest(&new[tag_file]));
        }
        new.insert(tag_manifest.into(), listing);
    }
    // Entries copied as they are stored, in their order; the changed ones written anew.
    let mut source = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let rewritten = zip.with_extension("rewritten");
    let mut out = zip::ZipWriter::new(std::fs::File::create(&rewritten).unwrap());
    for i in 0..source.len() {
        let entry = source.by_index_raw(i).unwrap();
        let name = entry.name().unwrap().to_string();
        match new.get(name.strip_prefix(&format!("{folder}/")).unwrap_or("")) {
            Some(data) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                let options = match entry.last_modified() {
                    Some(t) => options.last_modified_time(t),
                    None => options,
                };
                drop(entry);
                out.start_file(name, options).unwrap();
                std::io::Write::write_all(&mut out, data).unwrap();
            }
            None => out.raw_copy_file(entry).unwrap(),
        }
    }
    out.finish().unwrap();
    std::fs::rename(&rewritten, &zip).unwrap();
    std::fs::remove_file(sidecar_of(store, 1)).unwrap();
    run_ok(
        cablekeep(store).args(["rebuild-manifest", "-c", COLLECTION, "--version", "1"]),
        0,
    );
    let checksum = zip.with_extension("zip.sha256");
    let line = std::fs::read_to_string(&checksum).unwrap();
    let (_, name) = line.split_once("  ").unwrap();
    let zip_sha256 = sha256_hex(&std::fs::read(&zip).unwrap());
    std::fs::write(&checksum, format!("{zip_sha256}  {name}")).unwrap();
}

/// A format 2 record of a table row (its text given by `text_at`), its bag path, its raw
/// capture's size and its bytes.
fn a_row_record(store: &Path) -> (String, String, usize, Vec<u8>) {
    let entries = zip_entries(&zip_of(store, 1));
    for (name, bytes) in &entries {
        let path = name.split_once('/').unwrap().1;
        if !is_record(path) {
            continue;
        }
        let record: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        if record["capture"]["text_at"]["decoding"] == "cables-csv" {
            let raw = bag_entry(&entries, record["capture"]["raw"].as_str().unwrap());
            let id = record["id"].as_str().unwrap().to_string();
            return (id, path.to_string(), raw.len(), bytes.clone());
        }
    }
    panic!("no format 2 record of a table row with text_at");
}

/// The record with the first range of its `text_at` replaced by `[offset, length]` (edited in
/// place: the record's bytes are otherwise as format 2 wrote them).
fn with_first_range(record: &[u8], offset: u64, length: u64) -> Vec<u8> {
    let text = String::from_utf8(record.to_vec()).unwrap();
    let at = text.find("\"text_at\":").expect("a text_at");
    let start = at + text[at..].find("[[").expect("a range") + 1;
    let end = start + text[start..].find(']').unwrap() + 1;
    format!("{}[{offset},{length}]{}", &text[..start], &text[end..]).into_bytes()
}

/// `show` (and, with `export`, `export --format csv`) of the cable stop with exit 2 and an error
/// naming the record and `problem`; `verify` (which does not read records) finds the archive
/// intact.
fn readers_refuse(store: &Path, id: &str, record: &str, problem: &str, export: bool) {
    run_ok(cablekeep(store).args(["verify", "--all"]), 0);
    let out_dir = tempfile::tempdir().unwrap();
    let csv = out_dir.path().join("csv");
    let mut runs: Vec<(&str, Output)> = vec![
        ("show", run(cablekeep(store).args(["show", id]))),
        (
            "show --json",
            run(cablekeep(store).args(["show", id, "--json"])),
        ),
    ];
    if export {
        runs.push((
            "export --format csv",
            run(cablekeep(store)
                .args(["export", "--format", "csv", "--out"])
                .arg(&csv)),
        ));
    }
    for (what, out) in runs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(record) && stderr.contains(problem),
            "{what} does not name {record} and {problem:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    assert!(!csv.exists(), "the refused export left {}", csv.display());
    // The raw capture itself is intact and shown as archived.
    run_ok(cablekeep(store).args(["show", id, "--raw"]), 0);
}

#[test]
fn a_text_range_outside_the_raw_capture_stops_show_and_export() {
    let store = temp_store();
    let table = project_root().join("tests/data/cables-sample.csv");
    bundle(store.path(), &[&table], "2", 1);
    let (id, path, raw_len, record) = a_row_record(store.path());
    replace_payload_file(
        store.path(),
        &path,
        &with_first_range(&record, raw_len as u64, 5),
    );
    readers_refuse(
        store.path(),
        &id,
        &path,
        "lies outside the raw capture",
        true,
    );
}

#[test]
fn a_text_range_over_other_bytes_fails_its_digest_and_stops_show() {
    let store = temp_store();
    let table = project_root().join("tests/data/cables-sample.csv");
    bundle(store.path(), &[&table], "2", 1);
    let (id, path, _, record) = a_row_record(store.path());
    // The row's first bytes: its number and date, text of the right kind but the wrong one. A
    // reader of one record checks the rebuilt text against `text_sha256` (FORMAT.md 3.2: a
    // reader SHOULD). Bulk readers (export, search) are left out: they may rebuild texts
    // without hashing each one again.
    replace_payload_file(store.path(), &path, &with_first_range(&record, 0, 10));
    readers_refuse(
        store.path(),
        &id,
        &path,
        "the text rebuilt from the raw capture has SHA-256",
        false,
    );
}

#[test]
fn a_format_2_record_reads_as_record_1_whatever_the_order_of_its_fields() {
    // JSON objects are unordered: a record/2 whose `schema` comes last (as a tool that sorts
    // keys writes it) is still a record/2 whose text lies in its raw capture.
    let table = project_root().join("tests/data/cables-sample.csv");
    let [pristine, reordered] = [temp_store(), temp_store()];
    for store in [&pristine, &reordered] {
        bundle(store.path(), &[&table], "2", 1);
    }
    let (id, path, _, record) = a_row_record(reordered.path());
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&record).unwrap();
    let schema = fields.remove("schema").unwrap();
    let mut moved = serde_json::to_vec(&fields).unwrap();
    moved.pop();
    moved.extend_from_slice(format!(",\"schema\":{schema}}}\n").as_bytes());
    assert!(
        !String::from_utf8_lossy(&moved[..200]).contains("schema"),
        "the schema is far from the start"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&moved).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&record).unwrap(),
        "the same record"
    );
    replace_payload_file(reordered.path(), &path, &moved);
    run_ok(cablekeep(reordered.path()).args(["verify", "--all"]), 0);
    let pair = Pair {
        one: pristine.path().to_path_buf(),
        two: reordered.path().to_path_buf(),
    };
    let json = same_in_both(&pair, &["show", &id, "--json"], 0);
    let shown: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(shown["schema"], "cablekeep-record/1");
    assert!(shown["text"].as_str().is_some_and(|t| !t.is_empty()));
    same_in_both(&pair, &["show", &id], 0);
    same_jsonl_export(pair.stores());
}
