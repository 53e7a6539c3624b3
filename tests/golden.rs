//! The archive format, guarded byte for byte: fixed pages bundled with `SOURCE_DATE_EPOCH` set
//! must give exactly the zip recorded here. A code change that alters any byte of an archive
//! (an entry's order, a record's field, compression, the bag's tag files) fails these tests; a
//! deliberate change of the format comes with a new format number (`docs/FORMAT.md` section 8)
//! and new values here. The agent string in `bag-info.txt` names cablekeep's version, so a
//! release that changes the version records new values as well.

use crate::util::{cablekeep, examples, run_ok, temp_store};
use std::path::Path;

/// Bundles `input` as collection `golden` in archive format `format` with a fixed clock and
/// returns the zip's SHA-256.
fn golden_digest(input: &Path, format: &str) -> String {
    golden_digest_exiting(input, format, 0)
}

/// [`golden_digest`] of inputs on which `bundle` exits with `code` (1: it reports findings).
fn golden_digest_exiting(input: &Path, format: &str, code: i32) -> String {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .env("SOURCE_DATE_EPOCH", "1300000000")
            .arg("bundle")
            .arg(input)
            .args(["-c", "golden", "-m", "the format guard"])
            .args(["--archive-format", format]),
        code,
    );
    let zip = store.path().join("archives/golden/golden-v1.zip");
    crate::util::sha256_hex(&std::fs::read(zip).unwrap())
}

// Format 1: the bytes releases up to 0.2 wrote, recorded then; `--archive-format 1` must keep
// writing exactly them.

#[test]
fn the_sample_cables_make_the_recorded_format_1_archive() {
    assert_eq!(
        golden_digest(&examples(), "1"),
        "6472468fb191832878ef4cbd7d2c75e45464895bc51b185b8dba747f688eed2b"
    );
}

#[test]
fn the_400_dev_pages_make_the_recorded_format_1_archive() {
    let dev = crate::need_shared!("cables/dev");
    assert_eq!(
        golden_digest(&dev, "1"),
        "5bc67cca6b2173bd2357ca787674f34dd2c64991b609310700dc2517015066ad"
    );
}

// Format 2, the default.

#[test]
fn the_sample_cables_make_the_recorded_format_2_archive() {
    assert_eq!(
        golden_digest(&examples(), "2"),
        "065dfbe7cd8067df943ba54c20681ee1dbbf2f3f3423e456d9e9ae017c0730a9"
    );
}

#[test]
fn the_400_dev_pages_make_the_recorded_format_2_archive() {
    let dev = crate::need_shared!("cables/dev");
    assert_eq!(
        golden_digest(&dev, "2"),
        "81eeeb20ecd58d600e4df6ce27c8981f1de12f9f30784726ede74a3522c8dc29"
    );
}

#[test]
fn a_bulk_table_makes_the_recorded_format_2_archive() {
    // Two of its rows are malformed on purpose (exit 1): kept as unparsed inputs.
    let table = crate::util::project_root().join("tests/data/cables-sample.csv");
    assert_eq!(
        golden_digest_exiting(&table, "2", 1),
        "e70bb21426c582319925cd1170ec989c61e50cb45c2bcc1739d0adac77684454"
    );
}
