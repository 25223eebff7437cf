#!/bin/sh
# run.sh: the benchmarks (`make bench`). Not pass/fail tests.
#  1. list: tui --list --json against the Python route on real checkpoints
#     (tests/bench/bench_list.py, cached in $BUILD/bench/; table to stdout
#     and $BUILD/bench/list.md);
#  2. apply: tests/bench/bench_apply.c (open, tree, session_apply_rule on
#     the DeepSeek-V3-shaped set) and tests/bench/bench_pattern.c (match
#     alone) against the Python loops (tests/bench/bench_apply.py; table to
#     stdout and $BUILD/bench/apply.md);
#  3. train: tests/bench/bench_train.py (with libtui-train.so);
#  4. measure: tests/bench/bench_measure.py, --measure-memory of resnet18
#     at batch 32, 224x224 against one training step, run once ($BUILD/
#     bench/measure.md);
#  5. header: tests/bench/bench_header.sh, a 1,000,000-tensor header
#     through tui --summary and through Python's json.loads ($BUILD/bench/
#     header.md);
#  6. editor: tests/bench/bench_ui.sh, first frame and key-to-redraw on
#     the DeepSeek-V3-shaped set through tmux ($BUILD/bench/ui.md);
#  7. inspect: tests/bench/bench_inspect.py, --rank snr per 4096x4096 and
#     4096x11008 matrix against Spectrum's svdvals, --stats GB/s on one
#     core and its peak RSS ($BUILD/bench/inspect.md);
#  8. dist: tests/bench/bench_dist.py, two processes' reduction cost per
#     step and all-reduce bandwidth against DDP (with libtui-train.so;
#     $BUILD/bench/dist.md).
# Env: BUILD, PYTHON, FIX (default $BUILD/fixtures), CC, BENCH_CFLAGS
# (extra flags for the two bench programs, e.g. -fsanitize=... when
# libtui.a was built with SANITIZE). Docs: docs/benchmarks.md.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
FIX=${FIX:-$BUILD/fixtures}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
export BUILD PYTHON FIX
status=0

# The DeepSeek-V3-shaped set comes from the fixture generators (cached).
if ! sh tests/fixtures/make.sh >/dev/null; then
    echo "bench: fixture generation failed; DeepSeek rows may be skipped" >&2
fi

"$PYTHON" tests/bench/bench_list.py --build "$BUILD" || status=1
echo

mkdir -p "$BUILD/bench"
cflags="-std=c11 -O2 -g -Wall -Wextra -Wshadow -D_GNU_SOURCE \
$($PKG_CONFIG --cflags yaml-0.1 libcjson zlib nettle lapacke blas) ${BENCH_CFLAGS:-}"
libs="$BUILD/libtui.a $($PKG_CONFIG --libs yaml-0.1 libcjson zlib nettle lapacke blas) -lm"
for b in bench_pattern bench_apply; do
    # shellcheck disable=SC2086 # word splitting of the flag lists is meant
    if ! $CC $cflags "tests/bench/$b.c" $libs -o "$BUILD/bench/$b"; then
        echo "bench: building $b failed" >&2
        exit 1
    fi
done
"$PYTHON" tests/bench/bench_apply.py --build "$BUILD" || status=1
echo
if [ -f "$BUILD/libtui-train.so" ]; then
    "$PYTHON" tests/bench/bench_train.py --build "$BUILD" \
        --out "$BUILD/bench/train.md" ${BENCH_TRAIN_ARGS:-} || status=1
    echo
    "$PYTHON" tests/bench/bench_measure.py --build "$BUILD" \
        --out "$BUILD/bench/measure.md" || status=1
    echo
    "$PYTHON" tests/bench/bench_dist.py --build "$BUILD" \
        --out "$BUILD/bench/dist.md" || status=1
else
    echo "bench: no trainer in this build (libtui-train.so): training skipped"
fi
echo
TUI=$BUILD/tui sh tests/bench/bench_header.sh "$BUILD/bench/header.md" || status=1
echo
TUI=$BUILD/tui FIX=$FIX sh tests/bench/bench_ui.sh | tee "$BUILD/bench/ui.md" || status=1
echo
"$PYTHON" tests/bench/bench_inspect.py --build "$BUILD" \
    --out "$BUILD/bench/inspect.md" || status=1
exit $status
