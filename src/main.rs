//! The `cablekeep` binary: parses the command line and hands over to [`cli::main`].

mod cli;

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: with many threads compressing and parsing, glibc keeps
/// several times the live heap as resident memory, and is slower for export and diff. Built
/// without transparent huge pages (Cargo feature `no_thp`), which cost more memory than they
/// save time. The figures are in docs/PERFORMANCE.md ("Memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = cli::main();
    ExitCode::from(code)
}
