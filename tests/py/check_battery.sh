#!/usr/bin/env bash
# Verifies the config battery against Python Supervisor alone: every good config must load
# (exit 0), every bad config must be rejected (exit 2) with its `; expect:` phrase in stderr.
# Test files: tests/configs/{good,bad}/*.conf and tests/configs/{good,bad}/**/main.conf
# (other files in subfolders are include fragments). Same environment as tests/config_diff.rs.
set -uo pipefail
cd "$(dirname "$0")/../.."
PYREF="${SUPERVISOR_PYREF:?set SUPERVISOR_PYREF to the Python Supervisor 4.3.0 venv}"
DUMP="$PWD/tests/py/dump_config.py"
fail=0
list() { find "tests/configs/$1" -name '*.conf' | awk -F/ -v d="tests/configs/$1" '$0 ~ "^" d "/[^/]*$" || $NF == "main.conf"' | sort; }
run() { # file -> sets out err rc
    local f="$1"
    out=$(cd "$(dirname "$f")" && env -i HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 PATH=/usr/bin:/bin \
        SUPERVISOR_TEST_ENV=hello timeout 20 "$PYREF/bin/python" "$DUMP" "$PWD/$(basename "$f")" 2>/tmp/battery.err)
    rc=$?; err=$(cat /tmp/battery.err)
}
for f in $(list good) examples/supervisord.conf; do
    run "$f"
    if [ "$rc" != 0 ]; then echo "GOOD FAILED ($rc): $f"; echo "$err" | head -3; fail=1; fi
    [ -n "${VERBOSE:-}" ] && { echo "== $f"; echo "$out"; echo "$err"; }
done
for f in $(list bad); do
    run "$f"
    phrase=$(head -1 "$f" | sed -n 's/^; expect: //p')
    if [ "$rc" != 2 ]; then echo "BAD NOT REJECTED ($rc): $f"; echo "$err" | head -3; fail=1
    elif [ -z "$phrase" ] || ! grep -qF -- "$phrase" <<<"$err"; then
        echo "PHRASE MISSING: $f: '$phrase'"; echo "$err" | head -2; fail=1; fi
done
echo "good: $(list good | wc -l) (+ examples/supervisord.conf), bad: $(list bad | wc -l)"
exit $fail
