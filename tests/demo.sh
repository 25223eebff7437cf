#!/bin/sh
# demo.sh: makes a real torchvision ResNet-18 checkpoint (random weights,
# fixed seed) with Debian's PyTorch, then opens it with tui.
set -e
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
mkdir -p "$BUILD/demo"
ckpt=$BUILD/demo/resnet18.pt
if [ ! -f "$ckpt" ]; then
    echo "demo: writing $ckpt with torchvision"
    "$PYTHON" - "$ckpt" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.resnet18().state_dict(), sys.argv[1])
PY
fi
exec "$BUILD/tui" --list "$ckpt"
