#!/usr/bin/env bash
# The whole test suite. Installs what the tests need by itself: Python Supervisor 4.3.0 (the
# reference the differential tests compare against) into a virtualenv under target/pyref.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/pyref.sh

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
