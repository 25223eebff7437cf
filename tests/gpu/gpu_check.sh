#!/bin/sh
# gpu_check.sh: builds the trainer against the PyTorch found on this
# machine (a pip install with CUDA on a GPU machine; Debian's libtorch
# otherwise), trains short plans on cuda and cpu, and compares with
# PyTorch in Python on the same device (tests/gpu/gpu_check.py). Runs on
# a machine without a GPU too, as far as it can: the cuda rows are
# skipped with a note. `make gpu-check`.
# Env: BUILD (default build-gpu), GPU_PYTHON (default: python3 on PATH,
# else /usr/bin/python3), STEPS (default 30).
set -u
BUILD=${BUILD:-build-gpu}
STEPS=${STEPS:-30}
PY=${GPU_PYTHON:-}
if [ -z "$PY" ]; then
    for p in python3 /usr/bin/python3; do
        if "$p" -c 'import torch' 2>/dev/null; then PY=$p; break; fi
    done
fi
if [ -z "$PY" ]; then
    echo "gpu_check: no Python with torch found: nothing to compare against"
    exit 1
fi
tdir=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
ver=$("$PY" -c 'import torch; print(torch.__version__, torch.version.cuda or "cpu")')
echo "gpu_check: $PY: torch $ver in $tdir"
extra=""
if [ -f "$tdir/include/torch/csrc/api/include/torch/torch.h" ] &&
    [ -d "$tdir/lib" ]; then
    TORCH=$tdir
    abi=$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
    extra="-D_GLIBCXX_USE_CXX11_ABI=$abi"
    [ -f "$tdir/lib/libtorch_cuda.so" ] && extra="$extra -DTS_CUDA"
else
    echo "gpu_check: this torch ships no C++ headers; building against Debian's libtorch (TORCH=auto)"
    TORCH=auto
fi
echo "gpu_check: make BUILD=$BUILD TORCH=$TORCH CXXFLAGS='$extra'"
if ! make --no-print-directory BUILD="$BUILD" TORCH="$TORCH" CXXFLAGS="$extra" all >"$BUILD.log" 2>&1; then
    tail -n 30 "$BUILD.log"
    echo "gpu_check: build failed (log: $BUILD.log)"
    exit 1
fi
if [ ! -f "$BUILD/libtui-train.so" ]; then
    echo "gpu_check: no libtui-train.so was built (libtorch not found)"
    exit 1
fi
case $BUILD in /*) tui=$BUILD/tui ;; *) tui=$(pwd)/$BUILD/tui ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
LD_LIBRARY_PATH="$tdir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$PY" tests/gpu/gpu_check.py "$tui" "$tmp" --steps "$STEPS"
