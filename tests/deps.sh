#!/bin/sh
# deps.sh: installs the Debian packages that the build, the demo and the
# tests need, when any is missing. Run by `make deps` (so by `make test`
# and `make demo`). Uses sudo when not root.
#
# libopenblas0-openmp: Debian's libtorch calls whatever libblas.so.3 the
# alternatives system points to, and without OpenBLAS that is the netlib
# reference BLAS, 5x slower on a transformer step here
# (docs/benchmarks.md). The OpenMP build shares libtorch's libgomp thread
# pool, so the two never oversubscribe the cores.
set -e
PKGS="gcc g++ make pkg-config libyaml-dev libcjson-dev zlib1g-dev nettle-dev
libncurses-dev libtorch-dev python3-torch python3-torchvision python3-numpy
python3-yaml tmux dataset-fashion-mnist hyperfine man-db time clang
libclang-rt-14-dev libopenblas0-openmp liblapacke-dev libblas-dev libgloo-dev"
missing=""
for p in $PKGS; do
    s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$s" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "deps: done"
