#!/bin/sh
# base_plan.sh: writes a fine-tuning base plan: the plan that tui writes for
# WORKDIR/pretrained.safetensors (nothing frozen), with the train: section
# of example/finetune.train.yaml filled in and appended. tui then keeps
# that section when it loads the plan (--plan, or the editor) and writes
# a new one (-o, or w).
#
#   sh example/base_plan.sh WORKDIR PLAN K SEED INIT BATCH STEPS NAME LR
#
# PLAN is written in WORKDIR (a file name, no folder), as are the paths
# the train: section names (data/finetune_kK_sSEED.safetensors, INIT,
# runs/NAME). Env: TUI (default build/tui). Exit status non-zero (tui's
# message on stderr) when tui fails.
set -e
if [ $# -ne 9 ]; then
    echo "usage: sh example/base_plan.sh WORKDIR PLAN K SEED INIT BATCH STEPS NAME LR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
TUI=${TUI:-build/tui}
w=$1
if ! msg=$("$TUI" "$w/pretrained.safetensors" -o "$w/$2.tmp" 2>&1); then
    printf '%s\n' "$msg" >&2
    exit 1
fi
sed -e '/^#/d' -e "s|@INIT@|$5|" -e "s|@K@|$3|" -e "s|@SEED@|$4|g" \
    -e "s|@BATCH@|$6|" -e "s|@STEPS@|$7|" -e "s|@NAME@|$8|" -e "s|@LR@|$9|" \
    "$here/finetune.train.yaml" >> "$w/$2.tmp"
mv "$w/$2.tmp" "$w/$2"
