#!/bin/sh
# run.sh: builds the libFuzzer targets and runs each for FUZZ_SECONDS.
#
#   sh tests/fuzz/run.sh [FUZZ_SECONDS=N] [TARGET...]
#
# Env (or NAME=value arguments): FUZZ_SECONDS (default 10) seconds per
# target; BUILD (default build) puts objects, binaries, the working
# corpora and crash files in $BUILD/fuzz; CC (default clang);
# FUZZ_JOBS (default 1) targets run at the same time; FUZZ_BUILD_ONLY=1
# builds and stops; FUZZ_KEEP_GOING=1 runs libFuzzer in fork mode and
# keeps fuzzing after a crash, timeout or out-of-memory (each is saved;
# the run still fails), for long runs that collect every finding. With
# no TARGET, all of them run.
#
# Each target is built with clang -g -O1 -fsanitize=fuzzer,address,
# undefined -fno-sanitize-recover=all against the tui/core and
# tui/formats sources, and run with -max_total_time=N -rss_limit_mb=2048
# -timeout=10 on a working corpus ($BUILD/fuzz/corpus/<target>, new
# inputs land there) seeded from tests/fuzz/corpus/<target> (read only),
# with tests/fuzz/<target>.dict when present. A crash, leak, timeout or
# out-of-memory leaves $BUILD/fuzz/crashes/<target>-<kind>-<hash> and
# fails the run. Prints "fuzz: N passed, N failed" (one per target) and
# a figures line per target: executions, exec/s, corpus files/bytes.
# Targets that need files (index, preset) make them under
# $BUILD/fuzz/tmp/<target> (TUI_FUZZ_TMP), removed after each run.
for a in "$@"; do
    case "$a" in
    *=*) eval "$(printf '%s' "$a" | sed 's/=.*//')=\$(printf '%s' \"\$a\" | sed 's/^[^=]*=//')" ;;
    esac
done
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
BUILD=${BUILD:-build}
CC=${CC:-clang}
FUZZ_JOBS=${FUZZ_JOBS:-1}
ALL="safetensors index zip pickle torchzip plan pattern preset"
targets=
for a in "$@"; do
    case "$a" in
    *=*) ;;
    *) targets="$targets $a" ;;
    esac
done
[ -n "$targets" ] || targets=$ALL
case "$CC" in *clang*) ;; *) CC=clang ;; esac

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$BUILD/fuzz
mkdir -p "$out/obj" "$out/bin" "$out/crashes" "$out/logs" || exit 1
out=$(cd "$out" && pwd)
PKGS="yaml-0.1 libcjson zlib nettle lapacke blas"
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || exit 1
PKG_LIBS=$(pkg-config --libs $PKGS) || exit 1
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS_F="-std=c11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Wshadow $SAN $PKG_CFLAGS"

# --- build: the library sources once (instrumented for coverage), then
# one binary per target.
objs=
for c in "$src"/tui/core/*.c "$src"/tui/formats/*.c; do
    o=$out/obj/$(basename "$(dirname "$c")")_$(basename "$c" .c).o
    if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ -n "$(find "$src/tui/core" "$src/tui/formats" -name '*.h' -newer "$o" 2>/dev/null | head -n 1)" ]; then
        $CC $CFLAGS_F -fsanitize=fuzzer-no-link -c "$c" -o "$o" || exit 1
    fi
    objs="$objs $o"
done
for t in $targets; do
    f=$src/tests/fuzz/fuzz_$t.c
    if [ ! -f "$f" ]; then
        echo "fuzz: no target $t (tests/fuzz/fuzz_$t.c)"
        exit 2
    fi
    $CC $CFLAGS_F -fsanitize=fuzzer "$f" $objs $PKG_LIBS -lm \
        -o "$out/bin/fuzz_$t" || exit 1
done
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# --- run
run_one() {
    t=$1
    corpus=$out/corpus/$t
    mkdir -p "$corpus"
    dict=
    [ -f "$src/tests/fuzz/$t.dict" ] && dict="-dict=$src/tests/fuzz/$t.dict"
    log=$out/logs/$t.log
    keep=
    [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && keep="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
    before=$(ls "$out/crashes" | grep -c "^$t-")
    TUI_FUZZ_TMP=$out/tmp/$t
    export TUI_FUZZ_TMP
    mkdir -p "$TUI_FUZZ_TMP"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$out/bin/fuzz_$t" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 $keep $dict \
        -artifact_prefix="$out/crashes/$t-" "$corpus" \
        "$src/tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    rm -rf "$TUI_FUZZ_TMP"
    after=$(ls "$out/crashes" | grep -c "^$t-")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    [ -n "$rate" ] || rate=$(( ${execs:-0} / FUZZ_SECONDS ))
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
    files=$(ls "$corpus" | wc -l | tr -d ' ')
    bytes=$(du -sb "$corpus" | cut -f1)
    printf 'fuzz_%s: %ss execs=%s exec/s=%s cov=%s ft=%s corpus=%s files/%s bytes peak_rss=%sMB\n' \
        "$t" "$FUZZ_SECONDS" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
        "${ft:-?}" "$files" "$bytes" "${rss:-?}" | tee -a "$out/figures.txt"
    if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
        echo "FAIL fuzz_$t: exit $rc, see $log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5
        ls "$out/crashes" | grep "^$t-" | sed "s|^|    $out/crashes/|"
        return 1
    fi
    return 0
}

passed=0
failed=0
set -- $targets
while [ $# -gt 0 ]; do
    pids=
    n=0
    batch=
    while [ $# -gt 0 ] && [ "$n" -lt "$FUZZ_JOBS" ]; do
        (run_one "$1"; echo $? >"$out/logs/$1.rc") &
        batch="$batch $1"
        n=$((n + 1))
        shift
    done
    wait
    for t in $batch; do
        if [ "$(cat "$out/logs/$t.rc")" = 0 ]; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    done
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
