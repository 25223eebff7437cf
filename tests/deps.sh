#!/bin/sh
# deps.sh: installs the Debian packages that the build, the demo and the
# tests need, when any is missing. Run by `make deps` (so by `make test`
# and `make demo`). Uses sudo when not root.
set -e
PKGS="gcc g++ make pkg-config libyaml-dev libcjson-dev zlib1g-dev nettle-dev
libncurses-dev libtorch-dev python3-torch python3-torchvision python3-numpy
python3-yaml tmux dataset-fashion-mnist hyperfine man-db time clang
libclang-rt-14-dev"
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
