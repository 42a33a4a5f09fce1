#!/usr/bin/env bash
# The benchmark: our supervisord and supervisorctl against Python Supervisor 4.3.0, side by side (interleaved
# runs, medians, ratios against the issues' targets), written to docs/benchmarks.md.
# Not part of the test suite or CI; takes several minutes. Extra arguments go to
# benches/bench.py, e.g. `scripts/bench.sh --quick`, `--only fleet`, `--reps 5`.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/pyref.sh

cargo build --release
host=$(rustc -vV | sed -n 's/^host: //p')
python3 benches/bench.py --ours "target/$host/release/supervisord" --python "$PYREF/bin/supervisord" \
    --ours-ctl "target/$host/release/supervisorctl" --python-ctl "$PYREF/bin/supervisorctl" \
    --out docs/benchmarks.md "$@"
