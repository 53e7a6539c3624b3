//! The `cablekeep` binary: parses the command line and hands over to [`cli::run`].

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = cli::main();
    ExitCode::from(code)
}
