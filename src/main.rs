//! The `cablekeep` binary: parses the command line and hands over to [`cli::run`].

mod cli;

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: with many threads compressing and parsing, glibc kept
/// several times the live heap as resident memory; since bundle streams, glibc is leaner but
/// ~25 % slower for export and diff (measured in docs/PERFORMANCE.md). Built without
/// transparent huge pages (Cargo feature `no_thp`), which cost a quarter to a third more memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = cli::main();
    ExitCode::from(code)
}
