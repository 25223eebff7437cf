#!/bin/sh
# run.sh: the list benchmark (`make bench`): tui --list --json against the
# Python route on real checkpoints, cached in $BUILD/bench/; the table goes
# to stdout and $BUILD/bench/list.md. Env: BUILD, PYTHON. Not pass/fail.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export BUILD PYTHON
# The DeepSeek-V3-shaped set comes from the fixture generators (cached).
if ! sh tests/fixtures/make.sh >/dev/null; then
    echo "bench: fixture generation failed; DeepSeek row may be skipped" >&2
fi
exec "$PYTHON" tests/bench/bench_list.py --build "$BUILD"
