#!/bin/sh
# demo.sh: the end of `make demo` (the README's first command), after the
# build: opens the editor on the Fashion-MNIST example model, ready to
# freeze and save a plan that `tui --headless` then trains.
#
# It prepares $BUILD/demo/ (each file only when missing):
#   pretrained.safetensors, model.ts.pt   the example's pretrained network
#       (shipped in example/, made by example/run.sh; when they are not
#       there, example/run.sh --pretrain-only makes them, a few minutes)
#   data/finetune_k100_s0.safetensors, data/test.safetensors   100 images
#       per class of the five new classes, and their test set
#   finetune_init.safetensors   the pretrained weights with a new head
#   finetune.plan.yaml   a plan that tui writes for pretrained.safetensors,
#       with the train: section of example/finetune.train.yaml
# then runs `tui --plan $BUILD/demo/finetune.plan.yaml`. Without a
# terminal it prints the tree instead (--tree --depth 2).
#
# Env: BUILD (default build), TUI (default $BUILD/tui), PYTHON.
set -e
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
TUI=${TUI:-$BUILD/tui}
export TUI PYTHON
D=$BUILD/demo
mkdir -p "$D/data"
if [ ! -f "$D/pretrained.safetensors" ] || [ ! -f "$D/model.ts.pt" ]; then
    src=example
    if [ ! -f example/pretrained.safetensors ] || [ ! -f example/model.ts.pt ]; then
        echo "demo: pretraining the example model (example/run.sh --pretrain-only)"
        sh example/run.sh --pretrain-only "$BUILD/example"
        src=$BUILD/example
    fi
    cp "$src/pretrained.safetensors" "$src/model.ts.pt" "$D/"
fi
if [ ! -f "$D/data/finetune_k100_s0.safetensors" ] ||
   [ ! -f "$D/data/test.safetensors" ]; then
    echo "demo: converting Fashion-MNIST into $D/data"
    "$PYTHON" example/convert.py "$D/data" --skip-pretrain --shots 100 \
        --seeds 0 > /dev/null
fi
if [ ! -f "$D/finetune_init.safetensors" ]; then
    "$PYTHON" example/model.py head "$D/pretrained.safetensors" \
        "$D/finetune_init.safetensors" --seed 0
fi
if [ ! -f "$D/finetune.plan.yaml" ]; then
    sh example/base_plan.sh "$D" finetune.plan.yaml 100 0 \
        finetune_init.safetensors 50 300 demo 0.002
fi
plan=$D/finetune.plan.yaml
if [ ! -t 0 ] || [ ! -t 1 ]; then
    echo "demo: no terminal: the tree instead of the editor"
    "$TUI" --tree --depth 2 --plan "$plan" || exit 2
    echo "demo: the plan is $plan; open it in the editor from a terminal:"
    echo "  $TUI --plan $plan"
else
    "$TUI" --plan "$plan"
    echo "demo: the plan is $plan (Space freezes the module under the cursor,"
    echo "  p picks a preset, f freezes by pattern, w saves; ? lists the keys)."
fi
# The plan trains into $D/runs/demo (its train.output); once that holds a
# run, the same command would stop ("holds a run already"), so the line
# names a new folder instead.
run=$D/runs/demo
out=
if [ -e "$run" ]; then
    n=2
    while [ -e "$run-$n" ]; do n=$((n + 1)); done
    out=" -o $run-$n"
fi
if [ -f "$(dirname "$TUI")/libtui-train.so" ] || [ -n "$TUI_TRAIN_LIB" ]; then
    what="  Train the example model by it (seconds to a minute on a CPU)"
else
    echo "  Build the trainer (make; it compiles against libtorch, a few"
    what="  minutes), then train the example model by it"
fi
if [ -n "$out" ]; then
    echo "$what; $run holds an earlier run"
    echo "  (--resume continues that one), so into a new folder:"
else
    echo "$what:"
fi
echo "  $TUI --headless --plan $plan$out"
