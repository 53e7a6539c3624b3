//! Researcher exports, search and stats on the 400 dev cables: peer validators accept every
//! export, filters select exactly what the shared metadata says, formats agree with each other,
//! exports are deterministic, search ranks a known phrase's cable first.

use crate::need_shared;
use crate::util::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A store holding `../shared/cables/dev` as `dev@v1`, bundled once for all tests here.
fn dev_store() -> Option<&'static Path> {
    static STORE: OnceLock<Option<PathBuf>> = OnceLock::new();
    // Asked by every test, so that each one that is skipped says so.
    let dev = shared("cables/dev")?;
    STORE
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("export-dev-store-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            run_ok(
                cablekeep(&dir)
                    .arg("bundle")
                    .arg(&dev)
                    .args(["-c", "dev", "-m", "dev"]),
                0,
            );
            Some(dir)
        })
        .as_deref()
}

macro_rules! need_dev_store {
    () => {
        match dev_store() {
            Some(p) => p,
            None => return,
        }
    };
}

/// A peer tool from the project's peer environments (scripts/setup-peers.sh). Missing peers
/// fail the test under CI and skip the check loudly elsewhere.
fn peer(venv: &str, exe: &str) -> Option<PathBuf> {
    let path = project_root()
        .join(".venv-peers")
        .join(venv)
        .join("bin")
        .join(exe);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{exe} is missing under CI: scripts/setup-peers.sh did not run"
    );
    eprintln!(
        "\n!!! SKIPPED: {} is missing; run scripts/setup-peers.sh !!!\n",
        path.display()
    );
    None
}

fn export(store: &Path, format: &str, out: &Path, filters: &[&str]) -> String {
    run_ok(
        cablekeep(store)
            .args(["export", "-c", "dev", "--format", format, "--out"])
            .arg(out)
            .args(filters),
        0,
    )
}

fn check(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn python(script: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn unzip(zip: &Path, into: &Path) {
    python(
        "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])",
        &[zip, into],
    );
}

/// frictionless and cffconvert accept the export's package and citation file.
fn validate_common(dir: &Path) {
    if let Some(fl) = peer("frictionless", "frictionless") {
        check(
            Command::new(fl)
                .args(["validate", "datapackage.json"])
                .current_dir(dir),
            &format!("frictionless validate {}", dir.display()),
        );
    }
    if let Some(cff) = peer("cffconvert", "cffconvert") {
        check(
            Command::new(cff)
                .args(["--validate", "-i", "CITATION.cff"])
                .current_dir(dir),
            &format!("cffconvert --validate {}", dir.display()),
        );
    }
    for f in ["README.md", "citations.bib", "citations.json"] {
        assert!(dir.join(f).is_file(), "{} lacks {f}", dir.display());
    }
    let csl: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("citations.json")).unwrap()).unwrap();
    let first = &csl.as_array().expect("a CSL-JSON array")[0];
    assert!(first["URL"].as_str().is_some_and(|u| u.starts_with("http")));
    assert!(first["available-date"]["date-parts"].is_array());
    assert!(first["note"].as_str().unwrap().contains("dev@v1"));
    let bib = std::fs::read_to_string(dir.join("citations.bib")).unwrap();
    assert_eq!(bib.matches("@misc{").count(), csl.as_array().unwrap().len());
    assert!(bib.contains("urldate") && bib.contains("dev@v1"));
}

#[test]
fn every_export_format_passes_the_peer_validators() {
    let store = need_dev_store!();
    let outs = tempfile::tempdir().unwrap();
    for format in ["csv", "jsonl", "sqlite"] {
        let dir = outs.path().join(format);
        let said = export(store, format, &dir, &[]);
        assert!(
            said.contains("exported 398 cables (400 captures)"),
            "{said}"
        );
        validate_common(&dir);
        check(
            Command::new("sha256sum")
                .args(["-c", "--quiet", "manifest-sha256.txt"])
                .current_dir(&dir),
            &format!("sha256sum -c in {format}"),
        );
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("dev@v1") && readme.contains("sha256"));
    }
    let bag = outs.path().join("bag");
    export(store, "bag", &bag, &[]);
    let zip = outs.path().join("dev.zip");
    export(store, "zip", &zip, &[]);
    let unzipped = outs.path().join("unzipped");
    unzip(&zip, &unzipped);
    let zbag = unzipped.join("dev-v1-export");
    for dir in [&bag, &zbag] {
        validate_common(dir);
        if let Some(bagit) = peer("bagit", "bagit.py") {
            check(
                Command::new(&bagit)
                    .args(["--validate", "--quiet"])
                    .arg(dir),
                &format!("bagit.py --validate {}", dir.display()),
            );
        }
        check(
            Command::new("sha256sum")
                .args(["-c", "--quiet", "manifest-sha256.txt"])
                .current_dir(dir),
            "sha256sum -c on the bag",
        );
        // 400 captures: raw bytes and record each.
        let manifest = std::fs::read_to_string(dir.join("manifest-sha256.txt")).unwrap();
        assert_eq!(manifest.lines().count(), 800);
    }
}

#[test]
fn a_filtered_export_holds_exactly_what_the_metadata_says() {
    let store = need_dev_store!();
    let meta = need_shared!("cables/dev/metadata.csv");
    let (origin, tag, from, to) = ("Embassy London", "PREL", "2005-01-01", "2008-12-31");
    let mut expected = BTreeSet::new();
    let mut reader = csv::Reader::from_path(&meta).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id_c, origin_c, tags_c, created_c) = (
        col("ref_id"),
        col("index_origin"),
        col("index_tags"),
        col("index_created"),
    );
    for row in reader.records() {
        let row = row.unwrap();
        let created = row.get(created_c).unwrap().get(..10).unwrap_or("");
        if row.get(origin_c) == Some(origin)
            && row.get(tags_c).unwrap().split(' ').any(|t| t == tag)
            && (from..=to).contains(&created)
        {
            expected.insert(row.get(id_c).unwrap().to_string());
        }
    }
    assert!(
        expected.len() >= 5,
        "the filter should select several cables: {expected:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sel");
    let said = export(
        store,
        "jsonl",
        &out,
        &[
            "--origin",
            origin,
            "--tag",
            tag,
            "--created-from",
            from,
            "--created-to",
            to,
        ],
    );
    assert!(
        said.contains(&format!("exported {} cables", expected.len())),
        "{said}"
    );
    let text = std::fs::read_to_string(out.join("cables.jsonl")).unwrap();
    // The metadata names cables by the id their page gave (malformed ids included).
    let got: BTreeSet<String> = json_lines(&text)
        .iter()
        .map(|r| {
            r.get("id_original")
                .unwrap_or(&r["id"])
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(got, expected);
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        readme.contains("origin is one of \"Embassy London\""),
        "{readme}"
    );
}

#[test]
fn the_sqlite_export_opens_and_its_full_text_index_answers() {
    let store = need_dev_store!();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("db");
    export(store, "sqlite", &out, &[]);
    let db = out.join("cables.sqlite");
    let sql = "SELECT c.id FROM cables_fts JOIN cables c ON c.pk = cables_fts.rowid \
               WHERE cables_fts MATCH 'tripoli' ORDER BY c.id;";
    let via_cli = Command::new("sqlite3").arg(&db).arg(sql).output();
    let fts: Vec<String> = match via_cli {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        _ => {
            eprintln!("note: no sqlite3 command-line tool; using Python's sqlite3 module");
            python(
                &format!(
                    "import sys, sqlite3\nfor (i,) in sqlite3.connect(sys.argv[1]).execute({sql:?}): print(i)"
                ),
                &[&db],
            )
            .lines()
            .map(str::to_string)
            .collect()
        }
    };
    // The cables whose subject or text has the word, as the JSONL export gives them.
    let jl = dir.path().join("jl");
    export(store, "jsonl", &jl, &[]);
    let word = regex_free_word_match("tripoli");
    let expected: Vec<String> =
        json_lines(&std::fs::read_to_string(jl.join("cables.jsonl")).unwrap())
            .iter()
            .filter(|r| {
                word(r["text"].as_str().unwrap()) || word(r["subject"].as_str().unwrap_or(""))
            })
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
    assert!(expected.len() > 10, "{expected:?}");
    assert_eq!(fts, expected);
    let counts = python(
        "import sys, sqlite3\nc = sqlite3.connect(sys.argv[1])\n\
         print(*[c.execute(f'SELECT count(*) FROM \"{t}\"').fetchone()[0] for t in \
         ['cables','captures','sources','tags','references','link_check_events']])",
        &[&db],
    );
    let counts: Vec<u64> = counts
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(&counts[..3], &[398, 400, 400]);
    assert!(counts[3] > 398 && counts[4] > 0);
    assert_eq!(
        counts[5], 0,
        "link_check_events is empty until the link checker exists"
    );
}

/// Whether `text` has `word` as a whole word (letters and digits around it do not count),
/// ignoring ASCII case: what FTS5's unicode61 tokenizer sees as a token.
fn regex_free_word_match(word: &'static str) -> impl Fn(&str) -> bool {
    move |text: &str| {
        let lower = text.to_ascii_lowercase();
        let bytes = lower.as_bytes();
        lower.match_indices(word).any(|(i, _)| {
            let before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
            let j = i + word.len();
            let after = j == bytes.len() || !bytes[j].is_ascii_alphanumeric();
            before && after
        })
    }
}

#[test]
fn csv_and_jsonl_exports_agree() {
    let store = need_dev_store!();
    let dir = tempfile::tempdir().unwrap();
    let (c, j) = (dir.path().join("c"), dir.path().join("j"));
    export(store, "csv", &c, &[]);
    export(store, "jsonl", &j, &[]);
    let script = r#"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')))
recs = [json.loads(l) for l in open(sys.argv[2], encoding='utf-8')]
assert len(rows) == len(recs) == 398, (len(rows), len(recs))
o = lambda v: '' if v is None else v
for row, r in zip(rows, recs):
    want = {
        'id': r['id'], 'created': o(r['created']), 'released': o(r['released']),
        'classification': o(r['classification']), 'caveats': '; '.join(r['caveats']),
        'origin': o(r['origin']), 'tags': '; '.join(r['tags']), 'subject': o(r['subject']),
        'references': '; '.join(r['references']), 'signers': '; '.join(r['signers']),
        'redaction_status': r['redaction']['status'], 'redaction_runs': str(r['redaction']['runs']),
        'partial_extract': str(r['redaction']['partial_extract']).lower(),
        'publisher': o(r['source'].get('publisher')), 'source_url': o(r['source'].get('url')),
        'upstream_url': o(r['source'].get('upstream_url')), 'capture': r['capture']['name'],
        'capture_sha256': r['capture']['sha256'], 'text': r['text'],
    }
    for k, v in want.items():
        assert row[k] == v, (r['id'], k, row[k][:80], v[:80])
print('ok')
"#;
    let said = python(script, &[&c.join("cables.csv"), &j.join("cables.jsonl")]);
    assert_eq!(said.trim(), "ok");
}

#[test]
fn exports_are_deterministic() {
    let store = need_dev_store!();
    let dir = tempfile::tempdir().unwrap();
    for format in ["csv", "jsonl", "sqlite", "bag", "zip"] {
        let (a, b) = (
            dir.path().join(format!("{format}-a")),
            dir.path().join(format!("{format}-b")),
        );
        let filters = ["--classification", "SECRET", "--redaction", "redacted"];
        export(store, format, &a, &filters);
        export(store, format, &b, &filters);
        let files = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
            walkdir::WalkDir::new(root)
                .sort_by_file_name()
                .into_iter()
                .map(Result::unwrap)
                .filter(|e| e.file_type().is_file())
                .map(|e| {
                    (
                        e.path().strip_prefix(root).unwrap().to_path_buf(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        };
        let (fa, fb) = (files(&a), files(&b));
        assert!(!fa.is_empty());
        assert!(fa == fb, "two {format} exports differ");
    }
}

#[test]
fn an_export_never_overwrites_and_leaves_nothing_half_written() {
    let store = need_dev_store!();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("taken");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), b"keep me").unwrap();
    run_ok(
        cablekeep(store)
            .args(["export", "-c", "dev", "--format", "csv", "--out"])
            .arg(&out),
        2,
    );
    run_ok(
        cablekeep(store)
            .args([
                "export",
                "-c",
                "dev",
                "--format",
                "csv",
                "--created-from",
                "2008-13-01",
                "--out",
            ])
            .arg(dir.path().join("bad-date")),
        2,
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["taken"]);
    assert_eq!(std::fs::read(out.join("mine.txt")).unwrap(), b"keep me");
}

#[test]
fn search_ranks_the_cable_with_a_known_phrase_first() {
    let store = need_dev_store!();
    // 09BERN351: "SWISS PRESIDENT MERZ APOLOGIZES TO LIBYA FOR HANNIBAL GADDAFI ARREST".
    let out = run_ok(
        cablekeep(store).args(["search", "\"apologizes to Libya\"", "--json"]),
        0,
    );
    let hits = json_lines(&out);
    assert!(!hits.is_empty(), "no hit");
    assert_eq!(hits[0]["id"], "09BERN351", "{out}");
    assert!(hits[0]["snippet"].as_str().unwrap().contains('['));
    // Filters narrow the hits; a query in plain words with FTS5 punctuation still runs.
    let out = run_ok(
        cablekeep(store).args(["search", "nuclear", "--origin", "Embassy London", "--json"]),
        0,
    );
    assert!(
        json_lines(&out)
            .iter()
            .all(|h| h["origin"] == "Embassy London")
    );
    // Punctuation inside words splits them into a phrase; quoted, any text is searched.
    run_ok(cablekeep(store).args(["search", "U.S.-Libya"]), 0);
    run_ok(
        cablekeep(store).args(["search", "\"U.S.-Libya (talks\""]),
        0,
    );
}

#[test]
fn a_malformed_query_is_a_clear_error_for_search_and_export() {
    let store = examples_store();
    for (query, says) in [
        (
            "U.S.-Libya (talks",
            "at character 12: this `(` is never closed",
        ),
        ("oil AND", "`AND` needs a word after it"),
        ("\"apologizes to", "this `\"` is never closed"),
        ("orgin:madrid", "`orgin:` is not a field"),
        ("created:2010..2009", "the range ends before it starts"),
        ("...", "no word to search"),
    ] {
        let out = store.path().join("out");
        for args in [
            vec!["search", "--", query],
            vec!["export", "--format", "csv", "--query", query, "--out"],
        ] {
            let mut cmd = cablekeep(store.path());
            cmd.args(&args);
            if args[0] == "export" {
                cmd.arg(&out);
            }
            let o = run(&mut cmd);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            assert!(o.stdout.is_empty(), "{args:?}");
            assert!(!out.exists());
        }
    }
}

#[test]
fn search_finds_what_export_with_the_same_filter_and_query_selects() {
    let store = need_dev_store!();
    let scratch = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 7] = [
        &["minister"],
        &["minister", "--tag", "PREL"],
        &["\"human rights\"", "--origin", "Embassy London"],
        &["terror*", "--classification", "SECRET"],
        &[
            "oil OR gas",
            "--created-from",
            "2009-01-01",
            "--created-to",
            "2009-12-31",
        ],
        &["embassy NOT nuclear", "--redaction", "redacted"],
        &["tag:PREL created:2009 (iran OR israel)"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let (query, filter) = case.split_first().unwrap();
        let mut search = vec!["search", query, "--limit", "10000"];
        search.extend_from_slice(filter);
        let found: BTreeSet<String> = search_ids(store, &search[1..]).into_iter().collect();
        let out = scratch.path().join(format!("e{i}"));
        let mut export = cablekeep(store);
        export
            .args(["export", "--format", "jsonl", "--query", query])
            .args(filter.iter())
            .arg("--out")
            .arg(&out);
        run_ok(&mut export, 0);
        let exported: BTreeSet<String> = std::fs::read_to_string(out.join("cables.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["id"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(
            !found.is_empty(),
            "{case:?} finds nothing: a vacuous comparison"
        );
        assert_eq!(found, exported, "{case:?}");
    }
}

#[test]
fn search_without_a_query_brings_the_index_up_to_date() {
    let store = store_of(&examples().join("10EXAMPLE202.html"));
    let state = |args: &[&str]| {
        let out = run_ok(cablekeep(store.path()).args(args).arg("--json"), 0);
        json_lines(&out).remove(0)
    };
    let built = state(&["search"]);
    assert_eq!(built["upkeep"], "built", "{built}");
    assert_eq!(built["cables"], 1);
    assert_eq!(state(&["search"])["upkeep"], "current");
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    let updated = state(&["search"]);
    assert_eq!(updated["upkeep"], "updated", "{updated}");
    assert_eq!(updated["changes"]["indexed"], 2, "{updated}");
    assert_eq!(updated["cables"], 3);
    let rebuilt = state(&["search", "--rebuild"]);
    assert_eq!(rebuilt["upkeep"], "built");
    assert_eq!(rebuilt["cables"], 3);
    let text = run_ok(cablekeep(store.path()).arg("search"), 0);
    assert!(text.contains("search index up to date: 3 cables"), "{text}");
}

#[test]
fn a_rebuild_killed_at_any_moment_leaves_an_index_that_answers_as_before() {
    let dev = need_shared!("cables/dev");
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(dev)
            .args(["-c", "dev"]),
        0,
    );
    let before = search_ids(store.path(), &["embassy", "--limit", "50"]);
    assert_eq!(before.len(), 50);
    for delay_ms in [5, 20, 40, 80, 120, 160, 200, 300, 400, 600] {
        let mut rebuild = cablekeep(store.path())
            .args(["search", "--rebuild"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        rebuild.kill().unwrap();
        rebuild.wait().unwrap();
        let after = search_ids(store.path(), &["embassy", "--limit", "50"]);
        assert_eq!(after, before, "killed after {delay_ms} ms");
    }
    // What the killed builds left in the store's state folder is gone after the next build.
    run_ok(cablekeep(store.path()).args(["search", "--rebuild"]), 0);
    let leftovers: Vec<_> = std::fs::read_dir(store.path().join(".cablekeep"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".cablekeep-scratch-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_search_index_follows_new_versions() {
    let store = store_of(&examples().join("10EXAMPLE202.html"));
    let first = run_ok(
        cablekeep(store.path()).args(["search", "example", "--json"]),
        0,
    );
    let ids = |s: &str| -> BTreeSet<String> {
        json_lines(s)
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(examples())
            .args(["-c", "ex"]),
        0,
    );
    let second = run_ok(
        cablekeep(store.path()).args(["search", "example", "--json"]),
        0,
    );
    assert!(ids(&second).len() > ids(&first).len(), "{first}\n{second}");
    // The index is a cache: deleting it loses nothing.
    std::fs::remove_dir_all(store.path().join(".cablekeep/search")).unwrap();
    let third = run_ok(
        cablekeep(store.path()).args(["search", "example", "--json"]),
        0,
    );
    assert_eq!(ids(&third), ids(&second));
}

#[test]
fn stats_count_by_year_origin_classification_tag_and_redaction() {
    let store = need_dev_store!();
    let out = run_ok(cablekeep(store).args(["stats", "--json"]), 0);
    let s = &json_lines(&out)[0];
    assert_eq!(s["cables"], 398);
    for facet in ["by_year", "by_origin", "by_classification", "by_redaction"] {
        let total: u64 = s[facet]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(total, 398, "{facet}");
    }
    assert!(s["by_origin"]["Embassy London"].as_u64().unwrap() >= 30);
    assert!(s["by_tag"]["PREL"].as_u64().unwrap() > 200);
    let text = run_ok(cablekeep(store).arg("stats"), 0);
    assert!(text.contains("by classification:"), "{text}");
}

/// A store holding the example cables as collection `ex`.
fn examples_store() -> tempfile::TempDir {
    store_of(&examples())
}

/// A store holding the cables of `input` (a page or a folder) as collection `ex`.
fn store_of(input: &Path) -> tempfile::TempDir {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .arg("bundle")
            .arg(input)
            .args(["-c", "ex"]),
        0,
    );
    store
}

/// The ids of a search's hits, best first.
fn search_ids(store: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(cablekeep(store).arg("search").args(args).arg("--json"), 0);
    json_lines(&out)
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_limited_search_gives_the_head_of_the_full_ranking_in_each_collection() {
    let dev = need_shared!("cables/dev");
    let store = temp_store();
    for (collection, input) in [("a", examples()), ("b", dev)] {
        run_ok(
            cablekeep(store.path())
                .arg("bundle")
                .arg(&input)
                .args(["-c", collection]),
            0,
        );
    }
    for query in ["the", "state OR the", "th*"] {
        for collection in ["a", "b"] {
            let all = search_ids(store.path(), &[query, "-c", collection, "--limit", "1000"]);
            let head = search_ids(store.path(), &[query, "-c", collection, "--limit", "5"]);
            assert!(!all.is_empty(), "{query} in {collection}");
            assert_eq!(head, all[..all.len().min(5)], "{query} in {collection}");
        }
    }
}

#[test]
fn an_export_from_a_damaged_or_incomplete_archive_stops_and_names_the_record() {
    // Exports find records by reading the archive's directory forward; a record that is
    // damaged, whose header is damaged, or that is missing stops the export (exit 2) with the
    // record named, and nothing is left at --out or beside it.
    let store = examples_store();
    let zip = store.path().join("archives/ex/ex-v1.zip");
    let pristine = std::fs::read(&zip).unwrap();
    let archive = cablekeep::bag::OpenArchive::open(&zip).unwrap();
    let record = archive
        .index
        .entries
        .iter()
        .find(|e| e.name.contains("/data/cables/") && e.name.ends_with(".json"))
        .expect("a cable's record")
        .clone();
    let bag_path = record.name.split_once('/').unwrap().1.to_string();
    // Damage in the record's data, then in its local header.
    let damaged_bytes = [
        record.data_offset.unwrap() as usize + record.compressed_size as usize / 2,
        record.local_header_offset as usize,
    ];
    let expect_refused = |why: &str| {
        for format in ["csv", "jsonl", "sqlite"] {
            let out = store.path().join(format!("out-{format}"));
            let o = cablekeep(store.path())
                .args(["export", "-c", "ex", "--format", format, "--out"])
                .arg(&out)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{format}: {stderr}");
            assert!(
                stderr.contains(&bag_path) && stderr.contains(why),
                "{format}: {stderr}"
            );
            assert!(!out.exists(), "{format}: {} was written", out.display());
            let leftovers: Vec<_> = std::fs::read_dir(store.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".cablekeep-tmp-"))
                .collect();
            assert!(leftovers.is_empty(), "{format}: left behind {leftovers:?}");
        }
    };
    for at in damaged_bytes {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x41;
        std::fs::write(&zip, &bytes).unwrap();
        expect_refused("is damaged");
    }
    // The record dropped from the zip (rewritten by Python's zipfile, every other entry kept).
    std::fs::write(&zip, &pristine).unwrap();
    let script = "import sys, zipfile\n\
        src, dst, drop = sys.argv[1], sys.argv[2], sys.argv[3]\n\
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w') as zout:\n\
        \x20   for info in zin.infolist():\n\
        \x20       if info.filename != drop:\n\
        \x20           zout.writestr(info, zin.read(info))\n";
    let rewritten = zip.with_extension("rewritten");
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&zip)
        .arg(&rewritten)
        .arg(&record.name)
        .status()
        .expect("python3 runs");
    assert!(status.success());
    std::fs::rename(&rewritten, &zip).unwrap();
    expect_refused("is missing from the archive");
}
