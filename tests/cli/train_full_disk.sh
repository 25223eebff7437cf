#!/bin/sh
# train_full_disk.sh: a trainer run whose output folder fills up or is
# read-only stops with one clear error and keeps its last complete
# checkpoint (docs/training.md "Checkpoints and --resume" and "Errors";
# hostile-inputs.md row 20).
#   1. full disk: the run's output folder is a small tmpfs; the tiny MLP
#      plan (train/plan_mlp.yaml, absolute paths, checkpoint_every 1, one
#      epoch) is run at several sizes so that the space runs out in a
#      checkpoint, in model.ts.pt and in weights.safetensors. Each run
#      that fails: exit 2, exactly one stderr line besides the progress
#      lines, "tui: " naming a path in the folder and "No space left on
#      device"; no hidden temp entry left; every visible ckpt-* complete
#      (state.safetensors whose header parses, as long as it says, format
#      tui-checkpoint-1, the folder's step); at least one checkpoint kept;
#      then, with the tmpfs grown, --resume ends with the weights of an
#      uninterrupted run.
#   2. read-only: a first run of one epoch succeeds, the tmpfs is
#      remounted read-only, a --resume of a two-epoch plan fails: exit 2,
#      one "tui: " line saying read-only, the folder byte for byte as it
#      was.
# Needs root and mount namespaces: re-runs itself under `unshare -m`;
# without them prints "train_full_disk: skipped (<reason>)", counts nothing.
#
# Env: TUI, FIX. Prints "train_full_disk: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
CHECK_CKPT=$(cd "$(dirname "$0")" && pwd)/lib/check_ckpt.py
cli_begin train_full_disk
PY=${PYTHON:-/usr/bin/python3}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
case $FIX in /*) ;; *) FIX=$(pwd)/$FIX ;; esac
T=$FIX/train
# skip KIND WHY: the whole test is skipped (tests/cli/lib/common.sh,
# cli_skip: run.sh excuses needs-root and, in a build without libtorch,
# no-trainer; any other kind is a failure).
skip() {
    echo "train_full_disk: skipped ($1): $2"
    echo "train_full_disk: 0 passed, 0 failed"
    exit 0
}
cli_require "$T/plan_mlp.yaml" "$T/mlp.ts.pt" "$T/mlp.init.safetensors" "$T/mlp.safetensors"
if [ ! -f "$(dirname "$TUI")/libtui-train.so" ] && [ -z "$TUI_TRAIN_LIB" ]; then
    skip no-trainer "no trainer in this build (TORCH=off)"
fi
if [ -z "$TRAIN_FULL_DISK_NS" ]; then
    [ "$(id -u)" = 0 ] || skip needs-root "not root: cannot mount a small tmpfs"
    command -v unshare >/dev/null 2>&1 || skip tool "no unshare command (util-linux)"
    unshare -m --propagation private true 2>/dev/null ||
        skip needs-root "cannot make a private mount namespace (unshare -m failed)"
    rm -rf "$cli_tmp"
    TRAIN_FULL_DISK_NS=1 TUI=$TUI FIX=$FIX exec unshare -m --propagation private sh "$0" "$@"
fi
tmp=$cli_tmp
M=$tmp/m
trap 'umount "$M" 2>/dev/null; rm -rf "$tmp"' EXIT
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS
mkdir -p "$M"
if ! mount -t tmpfs -o size=64k tmpfs "$M" 2>"$tmp/mount.err"; then
    skip needs-root "mount -t tmpfs failed: $(cat "$tmp/mount.err")"
fi
umount "$M"

# plan P1: one epoch; P2: two epochs (for the read-only --resume)
P1=$tmp/plan1.yaml
P2=$tmp/plan2.yaml
sed "s|checkpoint_every: [0-9]*|checkpoint_every: 1|; s|epochs: [0-9]*|epochs: 1|;
     s#\(path\|model\|init\|train\): mlp\.#\1: $T/mlp.#g" "$T/plan_mlp.yaml" >"$P1"
sed 's/epochs: 1$/epochs: 2/' "$P1" >"$P2"
if ! grep -q 'checkpoint_every: 1$' "$P1" || ! grep -q 'epochs: 2$' "$P2" ||
   grep -q ': mlp\.' "$P1"; then
    cli_fail setup "cannot rewrite the plan"
    cli_end
fi


# the uninterrupted reference runs
for p in 1 2; do
    if ! "$TUI" --headless --plan "$tmp/plan$p.yaml" -o "$tmp/ref$p" >/dev/null 2>"$tmp/err" ||
       [ ! -s "$tmp/ref$p/weights.safetensors" ]; then
        cli_fail "reference $p" "$(grep -v '^epoch ' "$tmp/err" | head -n 3)"
        cli_end
    fi
done

# check_folder LABEL: the folder holds no hidden entry, only the known
# outputs and complete checkpoints; prints the number of checkpoints.
check_folder() {
    cf_n=0
    for e in $(ls -A "$M"); do
        case $e in
        metrics.jsonl | model.ts.pt | weights.safetensors | report.json) ;;
        ckpt-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
            s=$(echo "$e" | sed 's/^ckpt-0*//')
            if ! why=$("$PY" "$CHECK_CKPT" "$M/$e" "${s:-0}" 2>&1); then
                cli_fail "$1" "$e is not a complete checkpoint: $why"
                return 1
            fi
            cf_n=$((cf_n + 1)) ;;
        *)
            cli_fail "$1" "left in the output folder: $e"
            return 1 ;;
        esac
    done
    if [ "$cf_n" -ge 1 ]; then
        cli_pass
    else
        cli_fail "$1" "no checkpoint kept: $(ls -A "$M" | tr '\n' ' ')"
        return 1
    fi
}

# 1. full disk, at sizes from "the second checkpoint does not fit" to
# "everything fits"
nfail=0
nok=0
for kb in 20 24 28 32 36 40 48; do
    what="full disk ${kb}k"
    mount -t tmpfs -o "size=${kb}k" tmpfs "$M" || { cli_fail "$what" "mount"; continue; }
    "$TUI" --headless --plan "$P1" -o "$M" >/dev/null 2>"$tmp/err"
    rc=$?
    grep -v '^epoch [0-9]*/[0-9]* step ' "$tmp/err" >"$tmp/msg"
    if [ "$rc" -eq 0 ]; then
        nok=$((nok + 1))
        if cmp -s "$M/weights.safetensors" "$tmp/ref1/weights.safetensors"; then
            cli_pass
        else
            cli_fail "$what" "exit 0 but weights differ from the reference"
        fi
        umount "$M"
        continue
    fi
    nfail=$((nfail + 1))
    nl=$(wc -l <"$tmp/msg" | tr -d ' ')
    line=$(head -n 1 "$tmp/msg")
    if [ "$rc" -eq 2 ] && [ "$nl" = 1 ] &&
       printf '%s\n' "$line" | grep -q '^tui: ' &&
       printf '%s\n' "$line" | grep -qF "$M/" &&
       printf '%s\n' "$line" | grep -qF "No space left on device"; then
        cli_pass
    else
        cli_fail "$what" "exit $rc, $nl lines: $(head -c 300 "$tmp/msg" | tr '\n' '|')"
    fi
    if check_folder "$what"; then
        # room again: --resume finishes like the uninterrupted run
        mount -o remount,size=16m "$M"
        "$TUI" --headless --plan "$P1" -o "$M" --resume >/dev/null 2>"$tmp/err"
        rc=$?
        if [ "$rc" -eq 0 ] && cmp -s "$M/weights.safetensors" "$tmp/ref1/weights.safetensors" &&
           [ -z "$(ls -A "$M" | grep '^\.')" ]; then
            cli_pass
        else
            cli_fail "$what: resume" "exit $rc: $(grep -v '^epoch ' "$tmp/err" | head -n 2 | tr '\n' '|')"
        fi
    fi
    umount "$M"
done
# the sizes did test something: some runs ran out of space, some fitted
if [ "$nfail" -ge 2 ] && [ "$nok" -ge 1 ]; then
    cli_pass
else
    cli_fail "sizes" "$nfail runs ran out of space, $nok fitted: the sizes no longer fit the fixture"
fi

# 2. read-only output folder
mount -t tmpfs -o size=16m tmpfs "$M" || { cli_fail ro "mount"; cli_end; }
if "$TUI" --headless --plan "$P1" -o "$M" >/dev/null 2>"$tmp/err" &&
   cmp -s "$M/weights.safetensors" "$tmp/ref1/weights.safetensors"; then
    cli_pass
else
    cli_fail "ro: first run" "$(grep -v '^epoch ' "$tmp/err" | head -n 2)"
fi
(cd "$M" && ls -AlR . && find . -type f -exec cksum {} \; | sort) >"$tmp/before"
if mount -o remount,ro "$M" 2>"$tmp/mount.err"; then
    "$TUI" --headless --plan "$P2" -o "$M" --resume >/dev/null 2>"$tmp/err"
    rc=$?
    grep -v '^epoch [0-9]*/[0-9]* step ' "$tmp/err" >"$tmp/msg"
    nl=$(wc -l <"$tmp/msg" | tr -d ' ')
    line=$(head -n 1 "$tmp/msg")
    if [ "$rc" -eq 2 ] && [ "$nl" = 1 ] &&
       printf '%s\n' "$line" | grep -q '^tui: ' &&
       printf '%s\n' "$line" | grep -qF "$M" &&
       printf '%s\n' "$line" | grep -qi "read-only"; then
        cli_pass
    else
        cli_fail "ro" "exit $rc, $nl lines: $(head -c 300 "$tmp/msg" | tr '\n' '|')"
    fi
    (cd "$M" && ls -AlR . && find . -type f -exec cksum {} \; | sort) >"$tmp/after"
    if cmp -s "$tmp/before" "$tmp/after"; then
        cli_pass
    else
        cli_fail "ro" "the folder changed: $(diff "$tmp/before" "$tmp/after" | head -n 5 | tr '\n' '|')"
    fi
    # writable again: the same --resume continues to the two-epoch weights
    mount -o remount,rw "$M"
    "$TUI" --headless --plan "$P2" -o "$M" --resume >/dev/null 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 0 ] && cmp -s "$M/weights.safetensors" "$tmp/ref2/weights.safetensors"; then
        cli_pass
    else
        cli_fail "ro: resume when writable" "exit $rc: $(grep -v '^epoch ' "$tmp/err" | head -n 2 | tr '\n' '|')"
    fi
else
    cli_fail ro "remount ro: $(cat "$tmp/mount.err")"
fi
umount "$M"

cli_end
