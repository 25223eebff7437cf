#!/bin/sh
# run.sh: the Fashion-MNIST transfer-learning example, end to end, with
# tui doing the planning and the training (docs/example.md).
#
#   sh example/run.sh [--short] [--pretrain-only] [--doc FILE] WORKDIR
#
#   1. convert.py: Fashion-MNIST (Debian's dataset-fashion-mnist) to
#      safetensors: classes 0-4 to pretrain, classes 5-9 (relabelled 0-4)
#      with K images per class and seed S to fine-tune, and their test set
#   2. model.py: the residual CNN as TorchScript, and its initial weights
#   3. pretraining on classes 0-4 with `tui --headless` (a plan that tui
#      writes, plus pretrain.train.yaml): WORKDIR/pretrained.safetensors
#   4. per seed, the fine-tuning start: the pretrained weights with a new
#      head; per data size and seed, four plans made by tui from a base
#      plan holding finetune.train.yaml: full (nothing frozen), freeze1
#      (stem and stage1 frozen), freeze2 (stem, stage1 and stage2 frozen),
#      head (preset head-only)
#   5. every plan trained with `tui --headless`
#   6. results.py: test accuracy of every run on the new classes' test
#      set, the table (WORKDIR/results.md, .json; with --doc, put into
#      FILE between its "<!-- example:begin -->" and "<!-- example:end -->")
#
# --short: tiny data and a few steps (the CI test, tests/cli/
# example_short.sh). --pretrain-only: stop after step 3 (the demo).
# Env: TUI (default build/tui), PYTHON (/usr/bin/python3), TUI_THREADS
# (default 2), OMP_WAIT_POLICY (default PASSIVE). Exits non-zero, naming
# the step, when a step fails; each training's output is in
# WORKDIR/log/NAME.txt.
set -e
here=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
TUI=${TUI:-build/tui}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
TUI_THREADS=${TUI_THREADS:-2}
# libtorch's OpenMP threads spin while they wait; on a 2-core machine with
# anything else running, that made a step 17 times slower
# (docs/example.md).
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export TUI_THREADS OMP_WAIT_POLICY
short=0
pretrain_only=0
doc=
while [ $# -gt 1 ]; do
    case $1 in
    --short) short=1 ;;
    --pretrain-only) pretrain_only=1 ;;
    --doc) doc=$2; shift ;;
    *) echo "example: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: sh example/run.sh [--short] [--pretrain-only] [--doc FILE] WORKDIR" >&2
    exit 2
fi
if [ -n "$doc" ]; then
    case $doc in /*) ;; *) doc=$(pwd)/$doc ;; esac
fi
mkdir -p "$1/data" "$1/log"
W=$(cd "$1" && pwd)

if [ "$short" = 1 ]; then
    conv="--pretrain 40 --val 10 --shots 4,8 --seeds 0 --test 20"
    pre_steps="--max-steps 4"
    shots="4 8"
    seeds="0"
    steps=3
else
    conv=""
    pre_steps=""
    shots="20 100"
    seeds="0 1 2"
    steps=300
fi

t_all=$(date +%s)
t0=$t_all
step() {
    t1=$(date +%s)
    echo "example: $1 ($((t1 - t0)) s since the last step)"
    t0=$t1
}
fail() {
    echo "example: $1 failed; see $2" >&2
    tail -n 5 "$2" >&2
    exit 1
}

step "converting Fashion-MNIST into $W/data"
# shellcheck disable=SC2086
"$PYTHON" "$here/convert.py" "$W/data" $conv > "$W/log/convert.txt" 2>&1 ||
    fail "convert.py" "$W/log/convert.txt"

step "writing the model (model.ts.pt, init.safetensors)"
"$PYTHON" "$here/model.py" init "$W" > "$W/log/model.txt" 2>&1 ||
    fail "model.py" "$W/log/model.txt"

step "pretraining on classes 0-4 with tui --headless"
rm -rf "$W/runs/pretrain"
"$TUI" "$W/init.safetensors" -o "$W/pretrain.plan.yaml" \
    > "$W/log/pretrain.plan.txt" 2>&1 || fail "tui -o" "$W/log/pretrain.plan.txt"
sed '/^#/d' "$here/pretrain.train.yaml" >> "$W/pretrain.plan.yaml"
# shellcheck disable=SC2086
"$TUI" --headless --plan "$W/pretrain.plan.yaml" $pre_steps \
    > "$W/log/pretrain.txt" 2>&1 || fail "pretraining" "$W/log/pretrain.txt"
sed -n 's/^training done: /example:   /p; s/^  train: /example:   train: /p' \
    "$W/log/pretrain.txt"
cp "$W/runs/pretrain/weights.safetensors" "$W/pretrained.safetensors"
if [ "$pretrain_only" = 1 ]; then
    step "done: $W/pretrained.safetensors and $W/model.ts.pt"
    exit 0
fi

step "plans: full, freeze1 (stem, stage1), freeze2 (+stage2), head (head-only)"
plans=""
for s in $seeds; do
    "$PYTHON" "$here/model.py" head "$W/pretrained.safetensors" \
        "$W/finetune_init_s$s.safetensors" --seed "$s" \
        > "$W/log/head_s$s.txt" 2>&1 || fail "model.py head" "$W/log/head_s$s.txt"
    for k in $shots; do
        batch=$((k < 50 ? k : 50))
        log=$W/log/plans_k${k}_s$s.txt
        : > "$log"
        for p in full freeze1 freeze2 head; do
            name=${p}_k${k}_s$s
            lr=0.002
            [ "$p" = head ] && lr=0.02
            TUI=$TUI sh "$here/base_plan.sh" "$W" "$name.base.yaml" "$k" "$s" \
                "finetune_init_s$s.safetensors" "$batch" "$steps" "$name" "$lr" \
                >> "$log" 2>&1 || fail "base_plan.sh $name" "$log"
            case $p in
            full) set -- ;;
            freeze1) set -- --freeze stem --freeze stage1 ;;
            freeze2) set -- --freeze stem --freeze stage1 --freeze stage2 ;;
            head) set -- --preset head-only ;;
            esac
            "$TUI" --plan "$W/$name.base.yaml" "$@" -o "$W/$name.plan.yaml" \
                >> "$log" 2>&1 || fail "tui --plan $name.base.yaml" "$log"
            rm -f "$W/$name.base.yaml"
            plans="$plans $name"
        done
    done
done

step "fine-tuning:$plans"
for name in $plans; do
    rm -rf "$W/runs/$name"
    "$TUI" --headless --plan "$W/$name.plan.yaml" > "$W/log/$name.txt" 2>&1 ||
        fail "training $name" "$W/log/$name.txt"
    sed -n "s/^training done: /example:   $name: /p" "$W/log/$name.txt"
done

step "evaluating on the test set of classes 5-9"
if [ -n "$doc" ]; then
    "$PYTHON" "$here/results.py" "$W" --doc "$doc"
else
    "$PYTHON" "$here/results.py" "$W"
fi
t1=$(date +%s)
echo "example: done in $((t1 - t_all)) s: $W/results.md"
