//! The `cablekeep` binary: parses the command line and hands over to [`cli::run`].

mod cli;

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: with many threads compressing and parsing, glibc kept
/// several times the live heap as resident memory (measured in docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = cli::main();
    ExitCode::from(code)
}
