//! Fuzz target: the wikileaks page reader, forced, on arbitrary bytes. It must never panic.
#![no_main]

use cablekeep::cable::{self, Format};
use cablekeep::cable::provenance::SourceHints;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = cable::parse_as(
        data,
        "fuzz",
        &SourceHints::default(),
        Some(Format::WikileaksPage),
    );
    assert!(out.record.is_some() || !out.findings.is_empty());
    // Detection too.
    let _ = cable::parse(data, "fuzz", &SourceHints::default());
});
