#!/usr/bin/env bash
# The scale benchmark (issues #6 and #27, docs/PERFORMANCE.md): installs the peer tools, then generates
# (or reuses) a synthetic corpus and times cablekeep against bagit.py, zip and sha256sum/sha512sum.
# Arguments go to the harness, e.g.:
#   scripts/bench.sh --quick                       # CI size: 2,000 cables, 200 pages
#   scripts/bench.sh --cables 25000 --pages 10000  # the documented 25k run
#   scripts/bench.sh --cables 251287 --pages 10000 --out target/bench-full.json
#   scripts/bench.sh --generate-only --cables 251287 --dir /big/disk   # the corpus alone
#   scripts/bench.sh --quick --archive-format 1    # bundle in archive format 1 (issue #27's before)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-peers.sh >/dev/null
exec cargo bench --bench scale --locked -- "$@"
