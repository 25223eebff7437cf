#!/bin/sh
# run.sh: runs every test and prints the total as "N passed, N failed,
# N skipped".
#
# Each test program (tests/unit/test_*.c built into $BUILD/tests, and
# tests/cli/*.sh, tests/parity/*.py) prints lines "NAME: N passed,
# N failed" and exits non-zero on failure. Fixtures are made first. Each
# test's line shows its wall time in seconds, and "tests: N s" the whole
# run's, fixtures included, so that a slow test is easy to find.
#
# Skips: a test that leaves out a part, or all of it, prints a line
# "NAME: skipped (KIND): WHY" (tests/cli/lib/common.sh, cli_skip). Only
# two kinds are excused, and counted as skipped: no-trainer in a build
# made without libtorch (TORCH=off: $BUILD/.flags has no
# -DTUI_TRAINER_BUILT), and needs-root (the test needs a privilege this
# user lacks, such as mounting a small tmpfs). Any other skip, and a
# no-trainer skip in a build with the trainer, is a failure.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
export BUILD PYTHON
TUI=$(pwd)/$BUILD/tui
export TUI
FIX=${FIX:-$(pwd)/build/fixtures}
export FIX
# the score cache of --rank: the suite's own, never the user's ~/.cache
TUI_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tui-cache.XXXXXX") || exit 1
export TUI_CACHE_DIR
trap 'rm -rf "$TUI_CACHE_DIR"' EXIT
# In the sanitizer build (build-san/), LeakSanitizer's exit-time scan
# of dynamic TLS crashes ("Tracer caught signal 11", a bogus DTLS range)
# on a thread libtorch starts during a backward with everything
# trainable (tests/parity/test_activations.py's resnet18 cases, glibc
# 2.36, GCC 12); not tracking __tls_get_addr avoids it, and the leak
# check itself stays on.
case $BUILD in
*san*) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}intercept_tls_get_addr=0"
       export ASAN_OPTIONS ;;
esac
passed=0
failed=0
skipped=0
with_trainer=0
grep -q -- '-DTUI_TRAINER_BUILT' "$BUILD/.flags" 2>/dev/null && with_trainer=1
start=$(date +%s)
log=$BUILD/test.log
: > "$log"

if ! sh tests/fixtures/make.sh; then
    echo "fixtures: generation failed"
    failed=$((failed + 1))
fi

run_one() {
    name=$1
    shift
    t0=$(date +%s)
    out=$("$@" 2>&1)
    rc=$?
    secs=$(($(date +%s) - t0))
    printf '%s\n' "$out" >> "$log"
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=$(printf ' %s' "$line" | sed -E 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(printf ' %s' "$line" | sed -E 's/.*[^0-9]([0-9]+) passed, ([0-9]+) failed.*/\2/')
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=0
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    s=0
    bad_skips=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_.-]+: skipped \(' |
        while IFS= read -r sl; do
            kind=$(printf '%s' "$sl" | sed -E 's/^[^:]*: skipped \(([^)]*)\).*/\1/')
            case $kind in
            needs-root) echo ok ;;
            no-trainer) [ "$with_trainer" -eq 0 ] && echo ok ||
                echo "not excused: this build has the trainer: $sl" ;;
            *) echo "not excused: $sl" ;;
            esac
        done)
    if [ -n "$bad_skips" ]; then
        s=$(printf '%s\n' "$bad_skips" | grep -c '^ok$')
        nb=$(printf '%s\n' "$bad_skips" | grep -c '^not excused')
        f=$((f + nb))
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    sk=""
    [ "$s" -eq 0 ] || sk=", $s skipped"
    if [ "$f" -ne 0 ]; then
        printf 'FAIL %-28s %s passed, %s failed%s (%ss)\n' "$name" "$p" "$f" "$sk" "$secs"
        printf '%s\n' "$bad_skips" | grep '^not excused' | sed 's/^/    /'
        printf '%s\n' "$out" | grep -v ' passed, ' | head -n 40 | sed 's/^/    /'
    else
        printf 'ok   %-28s %s passed%s (%ss)\n' "$name" "$p" "$sk" "$secs"
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" sh "$t"
done
for t in tests/parity/*.py; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" "$PYTHON" "$t"
done
echo "tests: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
