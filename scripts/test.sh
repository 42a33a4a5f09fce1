#!/usr/bin/env bash
# The whole test suite. Installs what the tests need by itself: Python Supervisor 4.3.0 (the
# reference the differential tests compare against) into a virtualenv under target/pyref.
set -euo pipefail
cd "$(dirname "$0")/.."

PYREF="$PWD/target/pyref"
if ! "$PYREF/bin/python" -c 'import supervisor, superlance' 2>/dev/null; then
    echo "installing Python Supervisor 4.3.0 into $PYREF" >&2
    rm -rf "$PYREF"
    python3 -m venv "$PYREF"
    "$PYREF/bin/pip" install --quiet --disable-pip-version-check supervisor==4.3.0 superlance
fi
export SUPERVISOR_PYREF="$PYREF"

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
