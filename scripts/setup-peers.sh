#!/usr/bin/env bash
# Installs the peer tools the tests check cablekeep's output with, each Python tool in a virtual
# environment of its own under .venv-peers/ (ignored by git). Safe to run again.
#   bagit (bagit.py, Library of Congress) - validates the bags inside cablekeep archives and exports.
#   frictionless                           - validates the datapackage.json of exports.
#   cffconvert                             - validates the CITATION.cff of exports (its own venv:
#                                            cffconvert 2 pins an old jsonschema that frictionless 5 refuses).
#   sqlite3 (command-line shell)           - opens SQLite exports; installed with apt when missing
#                                            and we may (tests fall back to Python's sqlite3 module).
#   openssl, ssh-keygen                    - the test TSA (openssl ts -reply) and the independent
#                                            checks of timestamps and SSH signatures; installed with
#                                            apt when missing and we may (tests that need them skip
#                                            loudly without them).
#   garage 2.5.0 (S3 object store)          - the real S3 cluster the replica tests run against
#                                            (tests/replica/garage.rs). Built once with cargo (a
#                                            long build; its scratch target folder, about 1 GB,
#                                            is removed afterwards) into a cache outside the
#                                            clone, shared by clones and CI runs:
#                                            ${CABLEKEEP_TOOLS:-${XDG_CACHE_HOME:-~/.cache}/cablekeep-tools}/garage-2.5.0/bin/garage
#                                            (cache that folder in CI, keyed by version, rustc and
#                                            OS). CABLEKEEP_SKIP_GARAGE=1 skips the build; the
#                                            replica tests then skip loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

# venv_tool NAME CHECK-EXECUTABLE PIP-SPEC...
venv_tool() {
    local venv=".venv-peers/$1" exe="$2"
    shift 2
    if [ ! -x "$venv/bin/$exe" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    fi
}

venv_tool bagit bagit.py "bagit==1.9.0"
.venv-peers/bagit/bin/bagit.py --version >/dev/null 2>&1 || .venv-peers/bagit/bin/python -c "import bagit"

venv_tool frictionless frictionless "frictionless==5.21.0"
.venv-peers/frictionless/bin/frictionless --version >/dev/null

venv_tool cffconvert cffconvert "cffconvert==2.0.0"
.venv-peers/cffconvert/bin/cffconvert --version >/dev/null

if ! command -v sqlite3 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get install -y -qq sqlite3 >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq sqlite3 >/dev/null 2>&1; }) \
            || echo "note: could not install sqlite3; the tests use Python's sqlite3 module instead" >&2
    else
        echo "note: sqlite3 is not installed; the tests use Python's sqlite3 module instead" >&2
    fi
fi

# apt_tool COMMAND PACKAGE: installs PACKAGE when COMMAND is missing and we are root with apt.
apt_tool() {
    local command="$1" package="$2"
    command -v "$command" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get install -y -qq "$package" >/dev/null 2>&1 \
            || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$package" >/dev/null 2>&1; }) \
            || echo "note: could not install $package; the tests that need $command are skipped" >&2
    else
        echo "note: $command is not installed (package $package); the tests that need it are skipped" >&2
    fi
}
apt_tool openssl openssl
apt_tool ssh-keygen openssh-client
# Headless Chromium: the web edition's browser tests (tests/web/browser.rs)
apt_tool chromium chromium

# garage_tool: builds Garage once into the tools cache, unless it is there and of this version.
# cargo installs into a ".partial" root renamed at the end, so an interrupted build never leaves
# a folder that looks installed; its scratch target folder is removed however the build ends.
GARAGE_VERSION=2.5.0
garage_tool() {
    local tools="${CABLEKEEP_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/cablekeep-tools}"
    local root="$tools/garage-$GARAGE_VERSION"
    local garage="$root/bin/garage" log="$tools/garage-$GARAGE_VERSION.build.log"
    if [ -x "$garage" ] && "$garage" --version 2>/dev/null | grep -qF "cargo:$GARAGE_VERSION "; then
        return 0
    fi
    if [ "${CABLEKEEP_SKIP_GARAGE:-}" = 1 ]; then
        echo "note: Garage is not installed (CABLEKEEP_SKIP_GARAGE=1); the replica tests are skipped" >&2
        return 0
    fi
    mkdir -p "$tools"
    rm -rf "$root.partial"
    echo "building Garage $GARAGE_VERSION into $root (once; 8-13 minutes on 2 cores); log: $log" >&2
    if ! (
        scratch="$(mktemp -d "${TMPDIR:-/tmp}/garage-build.XXXXXX")"
        trap 'rm -rf "$scratch"' EXIT
        trap 'exit 130' INT TERM
        cargo install garage --version "$GARAGE_VERSION" --locked \
            --root "$root.partial" --target-dir "$scratch" >"$log" 2>&1
    ); then
        rm -rf "$root.partial"
        echo "error: building Garage $GARAGE_VERSION failed; see $log" >&2
        echo "       (CABLEKEEP_SKIP_GARAGE=1 skips it; the replica tests then skip loudly)" >&2
        exit 1
    fi
    rm -rf "$root"
    mv -T "$root.partial" "$root"
    echo "Garage $GARAGE_VERSION installed: $garage" >&2
}
garage_tool

echo "peers ready: .venv-peers/{bagit,frictionless,cffconvert}"
