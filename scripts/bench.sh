#!/usr/bin/env bash
# The benchmark: our supervisord against Python Supervisor 4.3.0, side by side (interleaved
# runs, medians, ratios against the issues' targets), written to docs/benchmarks.md.
# Not part of the test suite or CI; takes several minutes. Extra arguments go to
# benches/bench.py, e.g. `scripts/bench.sh --quick`, `--only fleet`, `--reps 5`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYREF="$PWD/target/pyref"
if ! "$PYREF/bin/python" -c 'import supervisor, superlance' 2>/dev/null; then
    echo "installing Python Supervisor 4.3.0 into $PYREF" >&2
    rm -rf "$PYREF"
    python3 -m venv "$PYREF"
    "$PYREF/bin/pip" install --quiet --disable-pip-version-check supervisor==4.3.0 superlance
fi

cargo build --release
python3 benches/bench.py --ours target/release/supervisord --python "$PYREF/bin/supervisord" \
    --out docs/benchmarks.md "$@"
