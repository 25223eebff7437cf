#!/bin/sh
# plan_paths.sh: a plan saved into another folder keeps pointing at the
# same files: model.path and the train: paths are rebased; -o refuses to
# replace a device.
. "$(dirname "$0")/lib/common.sh"
cli_begin plan_paths
R=$FIX/models/resnet18_sd.pt
cli_require "$R"
case $R in /*) ;; *) R=$(pwd)/$R ;; esac
mkdir -p "$cli_tmp/a/data" "$cli_tmp/b/deep"
cat > "$cli_tmp/a/base.yaml" <<YAML
version: 1
model:
  path: $R
  fingerprint: sha256:0000000000000000000000000000000000000000000000000000000000000000
rules: []
train:
  model: m.ts.pt
  init: /abs/init.safetensors
  data: {train: data/train.safetensors, inputs: x, targets: y}
  output: runs/x
YAML
if "$TUI" --plan "$cli_tmp/a/base.yaml" --freeze fc \
    -o "$cli_tmp/b/deep/out.yaml" 2>/dev/null; then cli_pass; else
    cli_fail "save into another folder" "exit status $?"; fi
out=$cli_tmp/b/deep/out.yaml
for want in "model: ../../a/m.ts.pt" "init: /abs/init.safetensors" \
    "train: ../../a/data/train.safetensors" "output: ../../a/runs/x"; do
    if grep -q "$want" "$out" 2>/dev/null; then cli_pass; else
        cli_fail "rebased path" "'$want' not in $(grep -A6 '^train' "$out")"
    fi
done
# saving again next to itself changes nothing
cp "$out" "$cli_tmp/before.yaml"
"$TUI" --plan "$out" -o "$out" 2>/dev/null
if cmp -s "$out" "$cli_tmp/before.yaml"; then cli_pass; else
    cli_fail "second save" "the plan changed"; fi
# a FIFO at -o is refused and stays a FIFO
mkfifo "$cli_tmp/fifo"
if "$TUI" "$R" --freeze fc -o "$cli_tmp/fifo" 2>"$cli_tmp/err"; then
    cli_fail "-o FIFO" "exit 0"
else
    cli_pass
fi
if [ -p "$cli_tmp/fifo" ] && grep -q "not a regular file" "$cli_tmp/err"
then cli_pass; else cli_fail "-o FIFO" "$(cat "$cli_tmp/err")"; fi
cli_end
