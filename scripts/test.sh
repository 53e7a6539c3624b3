#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the peer tools the tests compare against,
# checks formatting and lints, then runs every test (unit, integration, doc).
# ../shared must lie beside the project for the tests on real cables (they skip loudly without it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-peers.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The benchmarks are run by hand (cargo bench); here they are only built, so they never rot.
cargo test --benches --no-run --locked
cargo test --doc --locked
cargo test --lib --bins --tests --locked
cargo bench --bench scale --locked -- --quick
