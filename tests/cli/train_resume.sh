#!/bin/sh
# train_resume.sh: what `tui --headless --resume` says and does, and what
# the progress lines and the report name (docs/training.md "Checkpoints
# and --resume", "Progress and the report"; issue 12).
#
# On the tiny MLP fixture (train/plan_mlp.yaml: 56 steps an epoch, 4
# epochs, 224 steps):
#   1. a finished run, --resume: exit 0, one stdout line "OUT: run
#      already complete at step 224 (nothing to do)", nothing on stderr,
#      every file of the folder byte for byte and with the same mtime.
#   2. a run of --max-steps 100, then --resume without it: "tui: resumed
#      from step 100 (OUT/ckpt-0000000100); max steps changed from 100 to
#      224 ..." on stderr, exit 0, the report without "DIFFERENT".
#   3. a finished run whose final outputs are gone (killed after its last
#      checkpoint): --resume takes no step, says "resumed from step 224"
#      (no change of length), writes the outputs, and its report has the
#      measured bytes (from the checkpoint), no "DIFFERENT".
#   4. --resume --max-steps below the checkpoint's step: refused, exit 2.
#   5. the names of the quantities: the last progress line's "step loss"
#      is the last step's loss in metrics.jsonl; the report's "epoch mean
#      loss" is the mean of the last epoch's step losses, its "last step
#      loss" the last one; report.json has train_loss and last_step_loss.
# Env: TUI, FIX. Prints "train_resume: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin train_resume
PY=${PYTHON:-/usr/bin/python3}
cli_abs_paths
T=$FIX/train
cli_require "$T/plan_mlp.yaml"
cli_require_trainer
tmp=$cli_tmp
cp "$T"/mlp.ts.pt "$T"/mlp.init.safetensors "$T"/mlp.safetensors \
    "$T"/plan_mlp.yaml "$tmp/"
P=$tmp/plan_mlp.yaml

same() {
    if [ "$2" = "$3" ]; then cli_pass; else cli_fail "$1" "got [$2] want [$3]"; fi
}
has() { printf '%s\n' "$1" | grep -qF -- "$2"; }
lacks() {
    if printf '%s\n' "$2" | grep -qF -- "$3"; then
        cli_fail "$1" "says [$3]: $(printf '%s\n' "$2" | grep -F -- "$3" | head -n 1)"
    else
        cli_pass
    fi
}

# run OUTDIR ARGS...: the trainer; exit status in $rc, stdout in $tmp/out,
# stderr in $tmp/err.
run() {
    o=$1
    shift
    "$TUI" --headless --plan "$P" "$@" -o "$o" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# state DIR: every file's checksum and mtime, and the listing.
state() {
    (cd "$1" && ls -AR . && find . -type f | sort | while read -r f; do
        printf '%s %s\n' "$(cksum <"$f")" "$(stat -c %Y.%y "$f")"
    done)
}

# 1. a finished run: nothing to do, nothing touched
run "$tmp/a"
same "reference run: exit" "$rc" 0
cp "$tmp/out" "$tmp/a.report"
cp "$tmp/err" "$tmp/a.progress"
state "$tmp/a" >"$tmp/before"
sleep 1 # a rewrite would show in the mtimes
run "$tmp/a" --resume
same "complete: exit" "$rc" 0
same "complete: the line" "$(cat "$tmp/out")" \
    "$tmp/a: run already complete at step 224 (nothing to do)"
same "complete: stderr" "$(cat "$tmp/err")" ""
state "$tmp/a" >"$tmp/after"
if cmp -s "$tmp/before" "$tmp/after"; then cli_pass; else
    cli_fail "complete: files" "changed: $(diff "$tmp/before" "$tmp/after" | head -n 4 | tr '\n' '|')"
fi

# 2. a longer run than the checkpoint's: stated, not refused
run "$tmp/b" --max-steps 100
same "100 steps: exit" "$rc" 0
run "$tmp/b" --resume
same "longer: exit" "$rc" 0
e=$(grep -v '^epoch ' "$tmp/err")
same "longer: the resume line" "$e" \
    "tui: resumed from step 100 ($tmp/b/ckpt-0000000100); max steps changed from 100 to 224 (epochs or max_steps): training to step 224"
lacks "longer: report" "$(cat "$tmp/out")" "DIFFERENT"
if has "$(cat "$tmp/out")" "training done: 224 steps"; then cli_pass; else
    cli_fail "longer: report" "$(head -n 1 "$tmp/out")"
fi

# 3. the outputs of a finished run are gone: written again, no step taken
run "$tmp/c"
rm "$tmp/c/model.ts.pt" "$tmp/c/report.json"
cp "$tmp/c/weights.safetensors" "$tmp/c.weights"
run "$tmp/c" --resume
same "outputs gone: exit" "$rc" 0
same "outputs gone: the resume line" "$(grep -v '^epoch ' "$tmp/err")" \
    "tui: resumed from step 224 ($tmp/c/ckpt-0000000224)"
r=$(cat "$tmp/out")
lacks "outputs gone: report" "$r" "DIFFERENT"
if has "$r" "gradients: measured 204 bytes (204 B), estimate 204 (204 B): equal"; then cli_pass; else
    cli_fail "outputs gone: gradients" "$(printf '%s\n' "$r" | grep gradients)"
fi
if [ -s "$tmp/c/model.ts.pt" ] && [ -s "$tmp/c/report.json" ] &&
   cmp -s "$tmp/c.weights" "$tmp/c/weights.safetensors"; then cli_pass; else
    cli_fail "outputs gone: outputs" "$(ls "$tmp/c" | tr '\n' ' ')"
fi
same "outputs gone: same report as the run's" \
    "$(grep -v '^training done\|outputs:' "$tmp/out")" \
    "$(grep -v '^training done\|outputs:' "$tmp/a.report")"

# 4. shorter than the checkpoint: refused
run "$tmp/a" --resume --max-steps 50
same "shorter: exit" "$rc" 2
if has "$(cat "$tmp/err")" "past the run's 50 steps"; then cli_pass; else
    cli_fail "shorter: message" "$(cat "$tmp/err")"
fi

# 5. the quantities are named, and are what they say
"$PY" - "$tmp/a" "$tmp/a.report" "$tmp/a.progress" <<'PYEOF' >"$tmp/py.out" 2>&1
import json, re, sys
d, rep, prog = sys.argv[1:4]
steps = [json.loads(l) for l in open(d + "/metrics.jsonl")]
steps = [s for s in steps if "loss" in s]
last = steps[-1]
ep = [s["loss"] for s in steps if s["epoch"] == last["epoch"]]
mean = sum(ep) / len(ep)
r = open(rep).read()
m = re.search(r"^  train: epoch mean loss (\S+), accuracy \S+ \(epoch (\d+), "
              r"(\d+) steps\); last step loss (\S+)$", r, re.M)
assert m, "report line: " + r.splitlines()[1]
assert abs(float(m.group(1)) - mean) <= 1e-5 * abs(mean), (m.group(1), mean)
assert int(m.group(2)) == last["epoch"] and int(m.group(3)) == len(ep)
assert abs(float(m.group(4)) - last["loss"]) <= 1e-5 * abs(last["loss"])
assert abs(mean - last["loss"]) > 1e-4, "the fixture no longer tells them apart"
p = [l for l in open(prog).read().splitlines() if l.startswith("epoch ")][-1]
m = re.search(r" step (\d+)/\d+ step loss (\S+) ", p)
assert m and int(m.group(1)) == last["step"], p
assert abs(float(m.group(2)) - last["loss"]) <= 1e-5 * abs(last["loss"]), p
j = json.load(open(d + "/report.json"))
assert abs(j["train_loss"] - mean) <= 1e-6 * abs(mean)
assert j["last_step_loss"] == last["loss"], (j["last_step_loss"], last["loss"])
assert j["train_epoch"] == last["epoch"] and j["train_epoch_steps"] == len(ep)
print("ok")
PYEOF
same "quantities named" "$(tail -n 1 "$tmp/py.out")" ok

cli_end
