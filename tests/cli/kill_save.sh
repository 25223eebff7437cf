#!/bin/sh
# kill_save.sh: SIGKILL a plan save at >= 200 points and check that the
# plan on disk is always the complete old file or the complete new one,
# that no temp file is left where a user would see it, and that the
# hidden temp file of a killed save is removed by the next save
# (atomic.h; hostile-inputs.md row 20).
#
# The save: `tui --freeze '**' -o plan.yaml` over an existing plan (the
# same model with layer 0 frozen), of the Llama-2-7B-shaped synthetic set
# (a 12 KB plan: most points, it loads in milliseconds) and of the
# DeepSeek-V3-shaped one (91,991 tensors, a 5 MB plan).
# The LD_PRELOAD shim lib/kill_shim.c, built with $CC, splits the temp
# file's writes into KS_CHUNK-byte pieces (atomic_write_all handles short
# writes) and counts the save's calls (openat of the temp file, fchmod,
# each write, its fsync and close, renameat, the folder's fsync and
# close, an unlinkat of the temp file); KS_KILL_AT=N makes it SIGKILL
# the process just before (KS_AFTER=0) or just after (KS_AFTER=1) call
# N. A first run records the calls; then the kill points: the first
# three calls and every call from the last write on, plus writes drawn
# with a fixed seed (KILL_SEED), both sides of each; KILL_POINTS=all
# kills at every call (`make test-full`).
# A kill before the rename (or at it, before) must leave the old plan; a
# kill after it the new one. A few more kills after a random delay land
# anywhere, loading included.
#
# Env: TUI, FIX, CC (default cc), KILL_POINTS (default 200, at least
# that many shim kill points; or all), KILL_SEED (default 1),
# KILL_RANDOM (default 20 delay kills).
# Prints "kill_save: N passed, N failed" (one pass per kill point that
# held, plus the final checks); exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin kill_save
KILL_POINTS=${KILL_POINTS:-200}
KILL_RANDOM=${KILL_RANDOM:-20}
KILL_SEED=${KILL_SEED:-1}
cli_abs_paths
DS=$FIX/synthetic/deepseek-v3
cli_require "$DS/model.safetensors.index.json" \
    "$FIX/synthetic/llama2-7b/model.safetensors.index.json"
tmp=$cli_tmp
# The shim counts the calls of a save on its temp file
# .plan.yaml.tui-tmp.<pid>.<n> (not those of an older save's leftovers).
cli_kill_shim
KS_TMP='*.tui-tmp.%p.*'
export KS_TMP

d=$tmp/plans
mkdir -p "$d"
cd "$d" || exit 1
# save PATTERN: one save of $MODEL's plan over plan.yaml
save() { "$TUI" --freeze "$1" -o plan.yaml "$MODEL" >/dev/null 2>"$tmp/save.err"; }

# tui_run PIDFILE ENV...: runs the save with the given environment in
# the foreground of a child shell that execs tui (so its pid is known and
# no "Killed" notice is printed); returns its exit status.
tui_run() {
    pf=$1
    shift
    sh -c 'echo $$ >"$0"; exec env "$@"' "$pf" "$@" \
        "$TUI" --freeze '**' -o plan.yaml "$MODEL" >/dev/null 2>&1
}

# check_after KILLED_PID WANT(old|new|either) LABEL [early]
check_after() {
    f=plan.yaml
    if [ "$2" = old ] && cmp -s $f "$tmp/old.yaml"; then :
    elif [ "$2" = new ] && cmp -s $f "$tmp/new.yaml"; then :
    elif [ "$2" = either ] && { cmp -s $f "$tmp/old.yaml" || cmp -s $f "$tmp/new.yaml"; }; then :
    else
        cli_fail "$3" "plan.yaml is not the $2 plan ($(wc -c <$f 2>/dev/null) bytes)"
        return
    fi
    visible=$(ls | grep -v '^plan\.yaml$')
    if [ -n "$visible" ]; then
        cli_fail "$3" "visible leftovers: $visible"
        return
    fi
    # hidden temp files: only the killed save's own may remain (a kill
    # after a delay may come before the save removed older ones)
    others=$(ls -A | grep '\.tui-tmp\.' | grep -v "\.tui-tmp\.$1\.")
    if [ -n "$others" ] && [ "$4" != early ]; then
        cli_fail "$3" "stale temp files of earlier saves not removed: $others"
        return
    fi
    cli_pass
}

# run_kill AT AFTER: one save killed by the shim at call AT.
run_kill() {
    cp "$tmp/old.yaml" plan.yaml
    tui_run "$tmp/pid" KS_KILL_AT="$1" KS_AFTER="$2" KS_CHUNK="$CHUNK" \
        LD_PRELOAD="$cli_shim"
    st=$?
    pid=$(cat "$tmp/pid")
    what="$(basename "$MODEL"): kill at call $1 ($(sed -n "${1}p" "$tmp/calls.log" | cut -d' ' -f2), $( [ "$2" = 1 ] && echo after || echo before))"
    if [ "$st" -ne 137 ]; then
        cli_fail "$what" "exit status $st, not SIGKILL"
        return
    fi
    if [ "$1" -lt "$rename_at" ] || { [ "$1" -eq "$rename_at" ] && [ "$2" = 0 ]; }; then
        want=old
    else
        want=new
    fi
    check_after "$pid" "$want" "$what"
}

# phase MODEL CHUNK POINTS: the old plan (layer 0 frozen) and the new one
# (everything), the call log of one save, then POINTS shim kills: every
# call from the last write on (fsync, close, rename, the folder's fsync
# and close), the first three, and writes drawn with KILL_SEED (every
# call when POINTS is all); each both before and after.
phase() {
    MODEL=$1
    CHUNK=$2
    rm -f plan.yaml .plan.yaml.tui-tmp.*
    if save 'model.layers.0.**' && cp plan.yaml "$tmp/old.yaml" &&
       save '**' && cp plan.yaml "$tmp/new.yaml" && save '**' &&
       cmp -s plan.yaml "$tmp/new.yaml" &&
       ! cmp -s "$tmp/old.yaml" "$tmp/new.yaml"; then
        cli_pass
    else
        cli_fail "setup $MODEL" "old/new plans: $(cat "$tmp/save.err")"
        return 1
    fi
    cp "$tmp/old.yaml" plan.yaml
    tui_run "$tmp/pid" KS_LOG="$tmp/calls.log" KS_CHUNK="$CHUNK" \
        LD_PRELOAD="$cli_shim"
    total=$(wc -l <"$tmp/calls.log" | tr -d ' ')
    rename_at=$(grep ' rename$' "$tmp/calls.log" | head -n 1 | cut -d' ' -f1)
    if cmp -s plan.yaml "$tmp/new.yaml" && [ "${total:-0}" -gt 10 ] &&
       [ -n "$rename_at" ]; then
        cli_pass
    else
        cli_fail "calls $MODEL" "a save through the shim: $total calls, rename at '$rename_at'"
        return 1
    fi
    last_write=$(grep ' write$' "$tmp/calls.log" | tail -n 1 | cut -d' ' -f1)
    if [ "$3" = all ]; then
        per_side=$total
        want_points=$((2 * total))   # every call of this save, both sides
    else
        per_side=$(( ($3 + 1) / 2 ))
    fi
    points=$( { seq 1 3; seq "$last_write" "$total"; cli_sample_points "$total" "$per_side" "$KILL_SEED"; } |
        sort -n | uniq | awk -v t="$total" '$1 >= 1 && $1 <= t')
    for at in $points; do
        run_kill "$at" 0
        run_kill "$at" 1
        npoints=$((npoints + 2))
    done
    echo "kill_save: $(basename "$MODEL"): $total calls in a save ($CHUNK-byte writes), rename at call $rename_at"
}

npoints=0
want_points=$KILL_POINTS
# Most points on a small plan (Llama-2-7B-shaped, 291 names, 12 KB, in
# 64-byte writes) so the run stays short; a few on DeepSeek-V3's 5 MB
# plan in 16 KiB writes.
phase "$FIX/synthetic/llama2-7b" 64 "$KILL_POINTS"
phase "$DS" 16384 16
MODEL=$DS

# Kills after a random delay (DeepSeek-V3, about 0.7 s a save): anywhere
# in the run, loading included.
t0=$(date +%s%N)
cp "$tmp/old.yaml" plan.yaml
"$TUI" --freeze '**' -o plan.yaml "$DS" >/dev/null 2>&1
span=$(( ($(date +%s%N) - t0) / 1000000 ))   # ms of one whole run
[ "$span" -gt 0 ] || span=1
i=0
while [ "$i" -lt "$KILL_RANDOM" ]; do
    cp "$tmp/old.yaml" plan.yaml
    delay=$(awk -v s="$span" -v i="$i" -v n="$KILL_RANDOM" 'BEGIN { srand(i + 7); printf "%.3f", s * (i + rand()) / n / 1000 }')
    rm -f "$tmp/pid"
    tui_run "$tmp/pid" KS_NONE=1 &
    n=0
    while [ ! -s "$tmp/pid" ] && [ "$n" -lt 500 ]; do
        sleep 0.01
        n=$((n + 1))
    done
    sleep "$delay"
    pid=$(cat "$tmp/pid" 2>/dev/null)
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    wait
    check_after "$pid" either "kill after ${delay}s" early
    npoints=$((npoints + 1))
    i=$((i + 1))
done

# The next save removes every hidden temp file of dead processes.
cp "$tmp/old.yaml" plan.yaml
if "$TUI" --freeze '**' -o plan.yaml "$DS" >/dev/null 2>"$tmp/run.err" &&
   cmp -s plan.yaml "$tmp/new.yaml" && [ "$(ls -A)" = plan.yaml ]; then
    cli_pass
else
    cli_fail cleanup "after a clean save the folder holds: $(ls -A | tr '\n' ' ') $(cat "$tmp/run.err")"
fi
if [ "$npoints" -ge "$want_points" ]; then cli_pass; else cli_fail points "only $npoints kill points"; fi
echo "kill_save: $npoints kill points (KILL_SEED=$KILL_SEED)"
cli_end
