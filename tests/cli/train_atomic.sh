#!/bin/sh
# train_atomic.sh: the trainer's outputs (model.ts.pt, weights.safetensors,
# report.json) are written by core/atomic's one atomic writer, as plans
# are (docs/training.md "The run folder"; issue 12):
#   1. the call log of the LD_PRELOAD shim lib/kill_shim.c (KS_TMP
#      "*.tui-tmp.%p.*", the writer's temp names) shows, for each of the
#      three, the temp file created, written, fsync'ed and closed, then
#      renamed over the output, then the folder fsync'ed: three renames,
#      each after an fsync-file and close-file, each followed by
#      fsync-outdir;
#   2. temp files of those outputs left by a dead process are removed by
#      the next run that writes them (a --resume of a longer run);
#   3. an output replaced by that resume keeps its permission bits.
# Env: TUI, FIX, CC. Prints "train_atomic: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin train_atomic
cli_abs_paths
T=$FIX/train
cli_require "$T/plan_mlp.yaml"
cli_require_trainer
tmp=$cli_tmp
cp "$T"/mlp.ts.pt "$T"/mlp.init.safetensors "$T"/mlp.safetensors \
    "$T"/plan_mlp.yaml "$tmp/"
P=$tmp/plan_mlp.yaml
cli_kill_shim

same() {
    if [ "$2" = "$3" ]; then cli_pass; else cli_fail "$1" "got [$2] want [$3]"; fi
}

# 1. the calls of the three output writes
KS_TMP='*.tui-tmp.%p.*' KS_LOG=$tmp/calls.log LD_PRELOAD=$cli_shim \
    "$TUI" --headless --plan "$P" -o "$tmp/a" --max-steps 100 >/dev/null 2>"$tmp/err"
same "logged run: exit" "$?" 0
# the names of the calls, one save a line: "open-file write ... close-outdir"
saves=$(cut -d' ' -f2 "$tmp/calls.log" | tr '\n' ' ' |
    sed 's/close-outdir /close-outdir\n/g' | sed 's/\(write \)\{1,\}/write /g')
same "logged run: three saves" "$(printf '%s\n' "$saves" | grep -c close-outdir)" 3
for k in 1 2 3; do
    same "save $k: calls" "$(printf '%s\n' "$saves" | sed -n "${k}p")" \
        "open-file write fsync-file close-file rename fsync-outdir close-outdir"
done
if [ -z "$(ls -A "$tmp/a" | grep '^\.')" ]; then cli_pass; else
    cli_fail "logged run: temp files" "$(ls -A "$tmp/a" | grep '^\.' | tr '\n' ' ')"
fi

# 2. and 3. stale temp files of a dead process go; modes are kept
dead=999999
while kill -0 "$dead" 2>/dev/null; do dead=$((dead - 1)); done
for f in model.ts.pt weights.safetensors report.json; do
    echo stale >"$tmp/a/.$f.tui-tmp.$dead.0"
done
chmod 600 "$tmp/a/weights.safetensors"
chmod 640 "$tmp/a/report.json"
"$TUI" --headless --plan "$P" -o "$tmp/a" --resume --max-steps 150 >/dev/null 2>"$tmp/err"
same "resume: exit" "$?" 0
same "resume: stale temp files removed" "$(ls -A "$tmp/a" | grep '^\.' | tr '\n' ' ')" ""
same "resume: weights mode kept" "$(stat -c %a "$tmp/a/weights.safetensors")" 600
same "resume: report mode kept" "$(stat -c %a "$tmp/a/report.json")" 640
if grep -q '"steps":150' "$tmp/a/report.json"; then cli_pass; else
    cli_fail "resume: report" "not the 150-step run's"
fi

cli_end
