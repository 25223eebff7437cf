#!/bin/sh
# train_cli.sh: `tui --headless` end to end on the tiny MLP fixture
# (tests/fixtures/gen_train.py): errors, resume after kill -9 and after
# SIGINT, NaN losses, outputs.
#
# Covers: a missing file, a frozen name the module lacks, a shape
# mismatch in train.init, a bad data key, cuda asked for and absent
# (skipped where CUDA works), an existing run without --resume, --resume
# with nothing to resume, a NaN loss (lr 1e38): each exits 2 with one
# line "tui: ..." and leaves no output folder. kill -9 at a random step
# then --resume ends with the same weights file, byte for byte, as an
# uninterrupted run; so does SIGINT (exit 130, checkpoint saved) then
# --resume; metrics.jsonl after a resume has each step once.
# Prints "train_cli: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin train_cli
PY=${PYTHON:-/usr/bin/python3}
cli_abs_paths
T=$FIX/train
cli_require "$T/plan_mlp.yaml"
cli_require_trainer
tmp=$cli_tmp
cp "$T"/mlp.ts.pt "$T"/mlp.init.safetensors "$T"/mlp.safetensors \
    "$T"/mlp.badshape.safetensors "$T"/plan_mlp.yaml "$tmp/"
P=$tmp/plan_mlp.yaml

same() {
    if [ "$2" = "$3" ]; then cli_pass; else cli_fail "$1" "got [$2] want [$3]"; fi
}
has() { printf '%s\n' "$1" | grep -qF -- "$2"; }

# run OUTDIR ARGS...: the trainer; exit status in $rc, stderr in $tmp/err.
run() {
    o=$1
    shift
    "$TUI" --headless "$@" -o "$o" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

# plan NAME SED-SCRIPT: a variant of the MLP plan.
plan() { sed "$2" "$P" >"$tmp/$1.yaml"; }

# failure NAME PLAN WANT [ARGS]: exit 2, one line "tui: ...WANT...", no output.
failure() {
    name=$1
    pl=$2
    want=$3
    shift 3
    rm -rf "$tmp/o_$name"
    run "$tmp/o_$name" --plan "$pl" "$@"
    same "$name: exit" "$rc" 2
    same "$name: one line" "$(wc -l <"$tmp/err" | tr -d ' ')" 1
    e=$(cat "$tmp/err")
    case $e in "tui: "*) cli_pass ;; *) cli_fail "$name: prefix" "$e" ;; esac
    if has "$e" "$want"; then cli_pass; else cli_fail "$name: message" "[$e] lacks [$want]"; fi
    if [ -e "$tmp/o_$name" ]; then cli_fail "$name: partial output" "$(ls "$tmp/o_$name")"; else cli_pass; fi
}

# 1. errors
plan missing 's/model: mlp.ts.pt/model: nope.ts.pt/'
failure missing_file "$tmp/missing.yaml" "nope.ts.pt"
plan lacks 's/^- 0.bias$/- 0.bias\n- head.weight/'
failure lacks_name "$tmp/lacks.yaml" "head.weight"
plan shape 's/init: mlp.init.safetensors/init: mlp.badshape.safetensors/'
failure shape "$tmp/shape.yaml" "shape [4,8] in the file, [16,8] in the module"
plan datakey 's/inputs: features/inputs: feats/'
failure data_key "$tmp/datakey.yaml" "no tensor 'feats'"
plan nan 's/lr: 0.01/lr: 1.0e+38/; s/name: adam,/name: sgd,/'
failure nan_loss "$tmp/nan.yaml" "stopped"
e=$(cat "$tmp/err")
if has "$e" "NaN" || has "$e" "infinite"; then cli_pass; else cli_fail "nan_loss: says NaN" "$e"; fi
if "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "train_cli: CUDA is available here: the cuda-absent case is skipped"
else
    failure cuda_absent "$P" "cuda is not available (this libtorch has no CUDA, or no GPU): use --device cpu" --device cuda
fi

# 2. an uninterrupted reference run (more steps: 56 a epoch, 40 epochs)
sed 's/epochs: 4/epochs: 40/' "$P" >"$tmp/long.yaml"
run "$tmp/full" --plan "$tmp/long.yaml"
same "full run: exit" "$rc" 0
for f in model.ts.pt weights.safetensors metrics.jsonl report.json; do
    if [ -s "$tmp/full/$f" ]; then cli_pass; else cli_fail "full run: $f" "missing"; fi
done
same "full run: one checkpoint kept" "$(ls -d "$tmp/full"/ckpt-* | wc -l | tr -d ' ')" 1
same "full run: every step logged once" \
    "$(grep -c '"loss"' "$tmp/full/metrics.jsonl")" 2240
run "$tmp/full" --plan "$tmp/long.yaml"
same "existing run without --resume: exit" "$rc" 2
if has "$(cat "$tmp/err")" "--resume"; then cli_pass; else cli_fail "existing run: message" "$(cat "$tmp/err")"; fi
run "$tmp/none" --plan "$tmp/long.yaml" --resume
same "resume with nothing: exit" "$rc" 2
if [ -e "$tmp/none" ]; then cli_fail "resume with nothing: output" "created"; else cli_pass; fi

# wait_steps DIR N PID: waits until DIR/metrics.jsonl has N lines (or the
# process ended).
wait_steps() {
    i=0
    while [ $i -lt 600 ]; do
        n=0
        [ -f "$1/metrics.jsonl" ] && n=$(wc -l <"$1/metrics.jsonl")
        [ "$n" -ge "$2" ] && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# 3. kill -9 at a random step, then --resume
k=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 1500 + 100 ))
"$TUI" --headless --plan "$tmp/long.yaml" -o "$tmp/k9" >/dev/null 2>"$tmp/k9.err" &
pid=$!
if wait_steps "$tmp/k9" "$k" "$pid"; then
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "train_cli: killed -9 after $(wc -l <"$tmp/k9/metrics.jsonl" | tr -d ' ') logged steps (asked $k)"
    if [ -e "$tmp/k9/weights.safetensors" ]; then
        echo "train_cli: the run finished before the kill; resume checks a finished run"
    fi
    run "$tmp/k9" --plan "$tmp/long.yaml" --resume
    same "kill -9 + resume: exit" "$rc" 0
    if cmp -s "$tmp/full/weights.safetensors" "$tmp/k9/weights.safetensors"; then
        cli_pass
    else
        cli_fail "kill -9 + resume" "final weights differ from the uninterrupted run"
    fi
    same "kill -9 + resume: every step logged once" \
        "$(grep -c '"loss"' "$tmp/k9/metrics.jsonl")" 2240
    if cmp -s "$tmp/full/metrics.jsonl" "$tmp/k9/metrics.jsonl" ||
        [ "$(sed 's/,"time":[^}]*//' "$tmp/full/metrics.jsonl")" = \
          "$(sed 's/,"time":[^}]*//' "$tmp/k9/metrics.jsonl")" ]; then
        cli_pass
    else
        cli_fail "kill -9 + resume" "losses differ from the uninterrupted run"
    fi
else
    wait "$pid" 2>/dev/null
    cli_fail "kill -9" "the run ended before step $k: $(cat "$tmp/k9.err" | tail -n 2)"
fi

# 4. SIGINT: finish the step, save, exit 130; then --resume
"$TUI" --headless --plan "$tmp/long.yaml" -o "$tmp/int" >/dev/null 2>"$tmp/int.err" &
pid=$!
if wait_steps "$tmp/int" 300 "$pid"; then
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    same "SIGINT: exit" "$rc" 130
    e=$(cat "$tmp/int.err")
    if has "$e" "interrupted at step" && has "$e" "--resume"; then cli_pass; else cli_fail "SIGINT: message" "$e"; fi
    s=$(ls -d "$tmp/int"/ckpt-* 2>/dev/null | wc -l | tr -d ' ')
    same "SIGINT: a checkpoint" "$s" 1
    last=$(tail -n 1 "$tmp/int/metrics.jsonl" | sed 's/{"step":\([0-9]*\).*/\1/')
    same "SIGINT: checkpoint at the last logged step" \
        "$(basename "$(ls -d "$tmp/int"/ckpt-*)")" "$(printf 'ckpt-%010d' "$last")"
    if [ -e "$tmp/int/weights.safetensors" ]; then cli_fail "SIGINT" "final outputs written"; else cli_pass; fi
    run "$tmp/int" --plan "$tmp/long.yaml" --resume
    same "SIGINT + resume: exit" "$rc" 0
    if cmp -s "$tmp/full/weights.safetensors" "$tmp/int/weights.safetensors"; then
        cli_pass
    else
        cli_fail "SIGINT + resume" "final weights differ from the uninterrupted run"
    fi
else
    wait "$pid" 2>/dev/null
    cli_fail "SIGINT" "the run ended early: $(tail -n 2 "$tmp/int.err")"
fi

# 5. the outputs load in PyTorch and hold the same weights
"$PY" - "$tmp/full" <<'PYEOF' >"$tmp/py.out" 2>&1
import json, struct, sys, torch
d = sys.argv[1]
m = torch.jit.load(d + "/model.ts.pt")
raw = open(d + "/weights.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
sd = dict(m.named_parameters()); sd.update(dict(m.named_buffers()))
assert set(h) - {"__metadata__"} == set(sd), "names differ"
for k, e in h.items():
    if k == "__metadata__":
        continue
    a, b = e["data_offsets"]
    want = sd[k].detach().contiguous().numpy().tobytes()
    assert raw[8 + n + a:8 + n + b] == want, k
out = m(torch.randn(4, 8))
assert out.shape == (4, 3)
print("ok")
PYEOF
same "outputs load in PyTorch" "$(tail -n 1 "$tmp/py.out")" ok

cli_end
