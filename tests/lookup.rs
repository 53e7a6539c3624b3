//! A cable is found by the id it was published under as well as by the canonical id the readers
//! store it under, and `show` finds it in whichever collection holds it.

use crate::util::{cablekeep, examples, json_lines, run, run_ok, temp_store};
use std::path::{Path, PathBuf};

/// A bulk table of one row whose id is the one WikiLeaks published for a cable of the American
/// Institute in Taiwan (`06TAIPEI2921`); the readers store it as `06AITTAIPEI2921`.
fn taipei_table(dir: &Path) -> PathBuf {
    let path = dir.join("taipei.csv");
    std::fs::write(
        &path,
        "\"1\",\"8/24/2006 9:13\",\"06TAIPEI2921\",\"American Institute Taiwan, Taipei\",\
         \"CONFIDENTIAL\",\"\",\"\",\"C O N F I D E N T I A L TAIPEI 002921\n\nTAGS: PREL, TW\n\
         SUBJECT: AN INVENTED CABLE\n\n1. (C) Invented text.\n\"\n",
    )
    .unwrap();
    path
}

fn bundle(store: &Path, input: &Path, collection: &str) {
    run_ok(
        cablekeep(store)
            .arg("bundle")
            .arg(input)
            .args(["-c", collection, "-m", "lookup"]),
        0,
    );
}

#[test]
fn a_cable_is_found_by_its_published_and_its_canonical_id() {
    let store = temp_store();
    let dir = tempfile::tempdir().unwrap();
    bundle(store.path(), &taipei_table(dir.path()), "tw");
    for asked in ["06TAIPEI2921", "06aittaipei2921", "06AITTAIPEI2921"] {
        let out = run_ok(cablekeep(store.path()).args(["show", asked]), 0);
        assert!(out.starts_with("06AITTAIPEI2921  (tw@v1"), "{asked}: {out}");
    }
    let out = tempfile::tempdir().unwrap();
    run_ok(
        cablekeep(store.path())
            .args([
                "export",
                "--id",
                "06TAIPEI2921",
                "--format",
                "jsonl",
                "--out",
            ])
            .arg(out.path().join("x")),
        0,
    );
    let lines = json_lines(&std::fs::read_to_string(out.path().join("x/cables.jsonl")).unwrap());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], "06AITTAIPEI2921");
    assert_eq!(lines[0]["id_original"], "06TAIPEI2921");
}

#[test]
fn exports_carry_the_published_id_beside_the_canonical_one() {
    let store = temp_store();
    let dir = tempfile::tempdir().unwrap();
    bundle(store.path(), &taipei_table(dir.path()), "tw");
    bundle(store.path(), &examples().join("09EXAMPLE101.html"), "tw");
    let out = tempfile::tempdir().unwrap();
    run_ok(
        cablekeep(store.path())
            .args(["export", "--format", "csv", "--out"])
            .arg(out.path().join("csv")),
        0,
    );
    let csv = std::fs::read_to_string(out.path().join("csv/cables.csv")).unwrap();
    let mut rows = csv.lines();
    assert!(
        rows.next().unwrap().starts_with("id,published_id,created,"),
        "{csv}"
    );
    assert!(csv.contains("\n06AITTAIPEI2921,06TAIPEI2921,"), "{csv}");
    assert!(csv.contains("\n09EXAMPLE101,09EXAMPLE101,"), "{csv}");
    let package = std::fs::read_to_string(out.path().join("csv/datapackage.json")).unwrap();
    assert!(package.contains("\"published_id\""), "{package}");
    run_ok(
        cablekeep(store.path())
            .args(["export", "--format", "sqlite", "--out"])
            .arg(out.path().join("db")),
        0,
    );
    let db = rusqlite::Connection::open(out.path().join("db/cables.sqlite")).unwrap();
    let mut rows = db
        .prepare("SELECT id, published_id FROM cables ORDER BY id")
        .unwrap();
    let ids: Vec<(String, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        ids,
        [
            ("06AITTAIPEI2921".to_string(), "06TAIPEI2921".to_string()),
            ("09EXAMPLE101".to_string(), "09EXAMPLE101".to_string())
        ]
    );
}

#[test]
fn a_page_published_under_a_malformed_id_is_shown_by_it() {
    let dev = crate::need_shared!("cables/dev");
    let store = temp_store();
    bundle(
        store.path(),
        &dev.join("cable/2010/01/10EFTOLONDON16.html"),
        "dev",
    );
    let out = run_ok(cablekeep(store.path()).args(["show", "10EFTOLONDON16"]), 0);
    assert!(out.starts_with("10LONDON16  (dev@v1"), "{out}");
    assert!(out.contains("original id     10EFTOLONDON16"), "{out}");
}

#[test]
fn show_without_a_collection_finds_the_one_that_holds_the_cable() {
    let store = temp_store();
    let dir = tempfile::tempdir().unwrap();
    bundle(store.path(), &taipei_table(dir.path()), "tw");
    bundle(store.path(), &examples().join("09EXAMPLE101.html"), "ex");
    let out = run_ok(cablekeep(store.path()).args(["show", "06TAIPEI2921"]), 0);
    assert!(out.starts_with("06AITTAIPEI2921  (tw@v1"), "{out}");
    let out = run_ok(cablekeep(store.path()).args(["show", "09EXAMPLE101"]), 0);
    assert!(out.starts_with("09EXAMPLE101  (ex@v1"), "{out}");
    // In two collections: the answer names both.
    bundle(store.path(), &examples().join("09EXAMPLE101.html"), "ex2");
    let both = run(cablekeep(store.path()).args(["show", "09EXAMPLE101"]));
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert_eq!(both.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ex@v1, ex2@v1") && stderr.contains("--collection"),
        "{stderr}"
    );
    run_ok(
        cablekeep(store.path()).args(["show", "09EXAMPLE101", "-c", "ex2"]),
        0,
    );
    // In none: said so.
    let none = run(cablekeep(store.path()).args(["show", "09NOWHERE1"]));
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("holds cable 09NOWHERE1"));
}
