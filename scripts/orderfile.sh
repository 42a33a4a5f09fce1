#!/usr/bin/env bash
# Regenerates order/supervisord.txt, the release daemon's code layout (see build.rs): builds the
# release daemon, runs it under valgrind's callgrind through a typical session
# (benches/orderfile.py) and writes the functions that ran. Rerun after changes that rename many
# functions (dependency or toolchain upgrades, large refactors): a stale file still builds, but
# functions it misses land among the rarely run code and the daemon's memory grows.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release
host=$(rustc -vV | sed -n 's/^host: //p')
python3 benches/orderfile.py "target/$host/release/supervisord" order/supervisord.txt
