#!/usr/bin/env bash
# Installs the peer preservation tools the tests check cablekeep's output with, each in a
# virtual environment of its own under .venv-peers/ (ignored by git). Safe to run again.
#   bagit (bagit.py, Library of Congress) - validates the bags inside cablekeep archives.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-peers/bagit
if [ ! -x "$VENV/bin/bagit.py" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "bagit==1.9.0"
fi
"$VENV/bin/bagit.py" --version >/dev/null 2>&1 || "$VENV/bin/python" -c "import bagit"
echo "peers ready: $VENV/bin/bagit.py"
