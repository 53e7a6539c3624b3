//! The archive format, guarded byte for byte: fixed pages bundled with `SOURCE_DATE_EPOCH` set
//! must give exactly the zip recorded here. A code change that alters any byte of an archive
//! (an entry's order, a record's field, compression, the bag's tag files) fails these tests; a
//! deliberate change of the format comes with a new format number (`docs/FORMAT.md` section 8)
//! and new values here. The agent string in `bag-info.txt` names cablekeep's version, so a
//! release that changes the version records new values as well.

use crate::util::{cablekeep, examples, run_ok, temp_store};
use std::path::Path;

/// Bundles `input` as collection `golden` with a fixed clock and returns the zip's SHA-256.
fn golden_digest(input: &Path) -> String {
    let store = temp_store();
    run_ok(
        cablekeep(store.path())
            .env("SOURCE_DATE_EPOCH", "1300000000")
            .arg("bundle")
            .arg(input)
            .args(["-c", "golden", "-m", "the format guard"]),
        0,
    );
    let zip = store.path().join("archives/golden/golden-v1.zip");
    crate::util::sha256_hex(&std::fs::read(zip).unwrap())
}

#[test]
fn the_sample_cables_make_the_recorded_archive() {
    assert_eq!(
        golden_digest(&examples()),
        "6472468fb191832878ef4cbd7d2c75e45464895bc51b185b8dba747f688eed2b"
    );
}

#[test]
fn the_400_dev_pages_make_the_recorded_archive() {
    let dev = crate::need_shared!("cables/dev");
    assert_eq!(
        golden_digest(&dev),
        "5bc67cca6b2173bd2357ca787674f34dd2c64991b609310700dc2517015066ad"
    );
}
