#!/usr/bin/env bash
# The whole test suite. Installs what the tests need by itself: Python Supervisor 4.3.0 (the
# reference the differential tests compare against) into a virtualenv under target/pyref, and
# what the web UI's browser tests run in: Debian's chromium and tests/web's node packages.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/pyref.sh

if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y chromium; then
        apt-get update
        apt-get install -y chromium
    fi
fi
if [ ! -d tests/web/node_modules ]; then
    (cd tests/web && npm ci --no-audit --no-fund)
fi

cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
