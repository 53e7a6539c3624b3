//! Fuzz target: the streaming `cables.csv` reader on arbitrary bytes. It must never panic, and
//! the rows' raw bytes must give back the input exactly.
#![no_main]

use cablekeep::cable::bulk;
use cablekeep::cable::provenance::SourceHints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut raw = Vec::with_capacity(data.len());
    bulk::read_rows(data, "fuzz.csv", &SourceHints::default(), |row| {
        raw.extend_from_slice(&row.raw);
    })
    .expect("reading from memory never fails");
    assert_eq!(raw, data);
});
