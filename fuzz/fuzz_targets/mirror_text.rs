//! Fuzz target: the mirror text reader, forced, on arbitrary bytes. It must never panic.
#![no_main]

use cablekeep::cable::{self, Format};
use cablekeep::cable::provenance::SourceHints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = cable::parse_as(
        data,
        "fuzz",
        &SourceHints::default(),
        Some(Format::MirrorText),
    );
    assert!(out.record.is_some() || !out.findings.is_empty());
    // Detection too.
    let _ = cable::parse(data, "fuzz", &SourceHints::default());
});
