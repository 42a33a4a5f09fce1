# Sourced by test.sh and bench.sh: makes sure Python Supervisor 4.3.0 (and superlance), the
# reference implementation, is installed in a virtualenv under target/pyref, with pyte (a
# terminal emulator: the shell tests read the screen a person would see); exports its path.
PYREF="$PWD/target/pyref"
if ! "$PYREF/bin/python" -c 'import supervisor, superlance, pyte' 2>/dev/null; then
    echo "installing Python Supervisor 4.3.0 into $PYREF" >&2
    rm -rf "$PYREF"
    python3 -m venv "$PYREF"
    "$PYREF/bin/pip" install --quiet --disable-pip-version-check supervisor==4.3.0 superlance pyte
fi
export SUPERVISOR_PYREF="$PYREF"
