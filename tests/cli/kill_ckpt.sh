#!/bin/sh
# kill_ckpt.sh: SIGKILL the trainer at >= 200 points during its checkpoint
# writes and check that the output folder only ever shows complete
# checkpoints, that a killed run resumes to the same weights as an
# uninterrupted one, and that the hidden temp folder of a killed
# checkpoint is removed by the next run (docs/training.md "Checkpoints
# and --resume"; hostile-inputs.md row 20; issue 7 item 4).
#
# The run: `tui --headless` on the tiny MLP fixture (train/plan_mlp.yaml,
# copied with its files into a temp folder) with checkpoint_every 1 and
# one epoch, so every step writes a checkpoint. The LD_PRELOAD shim
# lib/kill_shim.c, built with $CC, splits the checkpoint file's writes
# into KC_CHUNK-byte pieces and counts the calls of every checkpoint
# save: mkdir of OUT/.ckpt-<step>.tmp.<pid>, the open of its state file,
# each write, its fsync and close, the open/fsync/close of the temp
# folder, the rename to OUT/ckpt-<step>, the open/fsync/close of OUT, the
# rename that hides the older checkpoint, and the unlink/rmdir of it and
# of stale temp folders (prune).
# KS_KILL_AT=N makes it SIGKILL the process just before (KS_AFTER=0) or
# just after (KS_AFTER=1) call N. A first run records the calls; the kill
# points are the structural calls of the first and the last save plus a
# sample of the others drawn with a fixed seed (KILL_SEED), both sides of
# each; KILL_POINTS=all kills at every call (`make test-full`).
#
# After every kill: every visible entry of OUT is metrics.jsonl or a
# ckpt-<10 digits> folder holding exactly a complete state.safetensors
# (its header parses, the file is as long as its header says, format
# tui-checkpoint-1 and its step equals the folder's); hidden entries are
# only .ckpt-*.tmp.<killed pid>. Every KILL_SAMPLE-th point (and the
# last) also runs `tui --headless --resume`: exit 0, weights.safetensors
# byte for byte those of an uninterrupted run, exactly one ckpt-* left,
# no temp folder left.
#
# Env: TUI, FIX, CC (default cc), KILL_POINTS (default 200, or all),
# KILL_SEED (default 1), KILL_SAMPLE (default 10), KC_CHUNK (default 512).
# Prints "kill_ckpt: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
CHECK_CKPT=$(cd "$(dirname "$0")" && pwd)/lib/check_ckpt.py
cli_begin kill_ckpt
PY=${PYTHON:-/usr/bin/python3}
KILL_POINTS=${KILL_POINTS:-200}
KILL_SAMPLE=${KILL_SAMPLE:-10}
KILL_SEED=${KILL_SEED:-1}
CHUNK=${KC_CHUNK:-512}
cli_abs_paths
T=$FIX/train
cli_require "$T/plan_mlp.yaml"
cli_require_trainer
tmp=$cli_tmp
# The shim counts the calls on the checkpoint temp folders
# OUT/.ckpt-<step>.tmp.<pid> (and .tmp.old, an old one being pruned) and
# on the published OUT/ckpt-<step> folders.
cli_kill_shim
KS_TMP='*/.ckpt-*.tmp.*'
KS_OLD='*/ckpt-*'
export KS_TMP KS_OLD

cp "$T"/mlp.ts.pt "$T"/mlp.init.safetensors "$T"/mlp.safetensors "$tmp/"
P=$tmp/plan.yaml
sed 's/checkpoint_every: [0-9]*/checkpoint_every: 1/; s/epochs: [0-9]*/epochs: 1/' \
    "$T/plan_mlp.yaml" >"$P"
if ! grep -q 'checkpoint_every: 1$' "$P" || ! grep -q 'epochs: 1$' "$P"; then
    cli_fail setup "cannot set checkpoint_every/epochs in the plan"
    cli_end
fi

# tui_run PIDFILE OUT [--resume] ENV...: the trainer in the foreground of a
# child shell that execs it (its pid is known, no "Killed" notice).
tui_run() {
    pf=$1
    o=$2
    shift 2
    sh -c 'echo $$ >"$0"; exec env "$@"' "$pf" "$@" \
        "$TUI" --headless --plan "$P" -o "$o" >/dev/null 2>"$tmp/run.err"
}

# the uninterrupted reference, and the call log of one run through the shim
t0=$(date +%s%N)
"$TUI" --headless --plan "$P" -o "$tmp/ref" >/dev/null 2>"$tmp/ref.err"
rc=$?
run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 0 ] && [ -s "$tmp/ref/weights.safetensors" ]; then cli_pass; else
    cli_fail reference "exit $rc: $(head -n 3 "$tmp/ref.err")"
    cli_end
fi
tui_run "$tmp/pid" "$tmp/logged" KS_LOG="$tmp/calls.log" KS_CHUNK="$CHUNK" \
    LD_PRELOAD="$cli_shim"
rc=$?
total=$(wc -l <"$tmp/calls.log" | tr -d ' ')
nsaves=$(grep -c ' rename$' "$tmp/calls.log")
if [ "$rc" -eq 0 ] && cmp -s "$tmp/ref/weights.safetensors" "$tmp/logged/weights.safetensors" &&
   [ "$nsaves" -ge 10 ] && [ "$(grep -c ' write$' "$tmp/calls.log")" -gt "$nsaves" ] &&
   [ "$(grep -c ' rename-old$' "$tmp/calls.log")" -ge 1 ]; then
    cli_pass
else
    cli_fail "calls" "run through the shim: exit $rc, $total calls, $nsaves saves"
    cli_end
fi
echo "kill_ckpt: one run ${run_ms} ms; $total checkpoint calls in $nsaves saves ($CHUNK-byte writes)"

# check_out DIR PID LABEL: only complete checkpoints visible; hidden
# entries only the killed process's temp folder.
check_out() {
    for e in $(ls -A "$1"); do
        case $e in
        metrics.jsonl) ;;
        ckpt-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
            s=$(echo "$e" | sed 's/^ckpt-0*//')
            if ! why=$("$PY" "$CHECK_CKPT" "$1/$e" "${s:-0}" 2>&1); then
                cli_fail "$3" "$e is not a complete checkpoint: $why"
                return 1
            fi ;;
        .ckpt-[0-9]*.tmp."$2") ;;
        .ckpt-[0-9]*.tmp.old) ;;  # an older one hidden by prune, half deleted
        *)
            cli_fail "$3" "unexpected entry $e in the output folder"
            return 1 ;;
        esac
    done
    cli_pass
}

# resume_check DIR LABEL: --resume ends like the uninterrupted run, one
# checkpoint and no temp folder left.
resume_check() {
    if ! ls -d "$1"/ckpt-* >/dev/null 2>&1; then
        # killed before the first checkpoint was published: nothing to
        # resume; a fresh run in a fresh folder is the way (the folder's
        # contents were checked by check_out).
        nopub=$((nopub + 1))
        return
    fi
    "$TUI" --headless --plan "$P" -o "$1" --resume >/dev/null 2>"$tmp/res.err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        cli_fail "$2: resume" "exit $rc: $(head -n 2 "$tmp/res.err")"
    elif ! cmp -s "$tmp/ref/weights.safetensors" "$1/weights.safetensors"; then
        cli_fail "$2: resume" "final weights differ from the uninterrupted run"
    elif [ "$(ls -d "$1"/ckpt-* | wc -l)" -ne 1 ]; then
        cli_fail "$2: resume" "checkpoints left: $(ls "$1" | tr '\n' ' ')"
    elif ls -A "$1" | grep -q '^\.ckpt-.*\.tmp\.'; then
        cli_fail "$2: resume" "temp folders left: $(ls -A "$1" | grep '^\.' | tr '\n' ' ')"
    else
        cli_pass
        resumed=$((resumed + 1))
    fi
}

# the kill points: every call of the first and the last save (the first
# publication, the first prune, the last checkpoint) except the middle
# writes of the state file (each chunk boundary is like the next; the
# first and last write of each save stay), and the rest drawn with the
# seed so that both sides of each make >= KILL_POINTS kills; with
# KILL_POINTS=all, every call
first=$(grep ' rename-old$' "$tmp/calls.log" | head -n 1 | cut -d' ' -f1)
last_start=$(grep ' mkdir-tmp$' "$tmp/calls.log" | tail -n 1 | cut -d' ' -f1)
fixed_points=$(awk -v a="$((first + 2))" -v b="$last_start" '
    { n = $1; w = ($2 == "write") }
    n <= a || n >= b {
        if (!w) { if (pw) print pw; pw = ""; print n; inw = 0; next }
        if (!inw) { print n; inw = 1; pw = ""; next }
        pw = n; next
    }
    { if (pw) print pw; pw = ""; inw = 0 }
    END { if (pw) print pw }' "$tmp/calls.log")
fixed=$(echo "$fixed_points" | wc -l)
if [ "$KILL_POINTS" = all ]; then
    per_side=$total
    KILL_POINTS=$((2 * total))
else
    per_side=$(( (KILL_POINTS + 1) / 2 - fixed ))
    [ "$per_side" -ge 10 ] || per_side=10
fi
# the draw is over the calls that are not structural points
echo "$fixed_points" >"$tmp/fixed"
seq 1 "$total" | grep -vxF -f "$tmp/fixed" >"$tmp/others"
cli_sample_points "$(wc -l <"$tmp/others")" "$per_side" "$KILL_SEED" >"$tmp/drawn"
points=$( { echo "$fixed_points"; awk 'NR == FNR { want[$1] = 1; next } want[FNR]' \
    "$tmp/drawn" "$tmp/others"; } | sort -n | uniq | awk -v t="$total" '$1 >= 1 && $1 <= t')
echo "kill_ckpt: $fixed structural points and $per_side drawn with KILL_SEED=$KILL_SEED of $total calls"
npoints=0
resumed=0
nopub=0
k=0
for at in $points; do
    for side in 0 1; do
        o=$tmp/k
        rm -rf "$o"
        tui_run "$tmp/pid" "$o" KS_KILL_AT="$at" KS_AFTER="$side" \
            KS_CHUNK="$CHUNK" LD_PRELOAD="$cli_shim"
        st=$?
        pid=$(cat "$tmp/pid")
        what="kill at call $at ($(sed -n "${at}p" "$tmp/calls.log" | cut -d' ' -f2), $( [ "$side" = 1 ] && echo after || echo before))"
        npoints=$((npoints + 1))
        k=$((k + 1))
        if [ "$st" -ne 137 ]; then
            cli_fail "$what" "exit status $st, not SIGKILL"
            continue
        fi
        check_out "$o" "$pid" "$what" || continue
        if [ $((k % KILL_SAMPLE)) -eq 0 ] || [ "$at" -eq "$total" ]; then
            resume_check "$o" "$what"
        fi
    done
done
rm -rf "$tmp/k"
echo "kill_ckpt: $npoints kill points, $resumed resumed to the reference weights ($nopub sampled before any checkpoint)"
if [ "$npoints" -ge "$KILL_POINTS" ]; then cli_pass; else cli_fail points "only $npoints kill points"; fi
if [ "$resumed" -ge $((KILL_POINTS / KILL_SAMPLE / 2)) ]; then cli_pass; else cli_fail resumes "only $resumed resumes checked"; fi
cli_end
