#!/bin/sh
# gpu_check_cpu.sh: the GPU check (tests/gpu/gpu_check.py, run on a GPU
# machine by `make gpu-check`) as far as it runs without a GPU, against
# this build's tui: it makes its ResNet-18 and encoder, plans and data,
# trains each on the CPU through the trainer and through the Python loop,
# and prints its table. Checks: exit status 0; one cpu row per model, 3
# steps, per-step losses within 1e-5 relative, gradient and optimizer
# bytes equal to the estimate, frozen tensors unchanged; one
# --measure-memory cpu row per model whose activation bytes are within
# 1% of PyTorch's saved_tensors_hooks count; and, on a
# machine without CUDA, the note that the cuda rows were skipped. Then
# the comparison itself: run with --perturb (a reference whose losses,
# byte counts and one frozen tensor are deliberately off), the check
# must exit 1 and name each of the four failures for each model.
# One thread (OMP_NUM_THREADS=1, which the check hands on as
# TUI_THREADS), like the other trainer tests.
# Prints "gpu_check_cpu: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin gpu_check_cpu
cli_abs_paths
cli_require
cli_require_trainer
PY=${PYTHON:-/usr/bin/python3}
check=$(cd "$(dirname "$0")/.." && pwd)/gpu/gpu_check.py
out=$cli_tmp/out

OMP_NUM_THREADS=1 "$PY" "$check" "$TUI" "$cli_tmp/run" --steps 3 >"$out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then cli_pass; else
    cli_fail "exit status" "$rc: $(tail -n 5 "$out")"; fi

# | model | device | steps | max rel. loss diff | tui | python | ratio |
#   bytes = estimate | peak MiB | frozen unchanged |
for m in resnet18 encoder; do
    row=$(grep "^| $m | cpu |" "$out")
    if [ -z "$row" ]; then
        cli_fail "$m: cpu row" "none in: $(tail -n 8 "$out")"
        continue
    fi
    printf '%s\n' "$row" | awk -F'|' '{
        gsub(/ /, "", $4); gsub(/ /, "", $5); gsub(/ /, "", $9);
        gsub(/ /, "", $11);
        bad = "";
        if ($4 != "3") bad = bad " steps " $4;
        if (!($5 + 0 <= 1e-5)) bad = bad " loss diff " $5;
        if ($9 != "yes") bad = bad " bytes " $9;
        if ($11 != "yes") bad = bad " frozen " $11;
        print bad }' >"$cli_tmp/bad"
    if [ -s "$cli_tmp/bad" ] && [ -n "$(tr -d ' \n' <"$cli_tmp/bad")" ]; then
        cli_fail "$m: cpu row" "$(cat "$cli_tmp/bad") in [$row]"
    else
        cli_pass
    fi
done

# | measure MODEL | cpu | batch | activations tui | python | diff | ...
for m in resnet18 encoder; do
    row=$(grep "^| measure $m | cpu |" "$out")
    tui_b=$(printf '%s\n' "$row" | awk -F'|' '{gsub(/[ ,]/, "", $5); print $5}')
    py_b=$(printf '%s\n' "$row" | awk -F'|' '{gsub(/[ ,]/, "", $6); print $6}')
    if [ -n "$row" ] && [ -n "$tui_b" ] && [ -n "$py_b" ] &&
        awk -v a="$tui_b" -v b="$py_b" 'BEGIN { d = a - b; if (d < 0) d = -d;
            exit !(b > 0 && d <= 0.01 * b) }'; then
        cli_pass
    else
        cli_fail "$m: --measure-memory cpu row" "[$row]"
    fi
done

if "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "gpu_check_cpu: CUDA is available here: the no-GPU note is not checked"
elif grep -q "cuda rows skipped" "$out"; then
    cli_pass
else
    cli_fail "no-GPU note" "missing in: $(head -n 5 "$out")"
fi
OMP_NUM_THREADS=1 "$PY" "$check" "$TUI" "$cli_tmp/bad-run" --steps 3 \
    --perturb --no-measure >"$cli_tmp/perturbed" 2>&1
rc=$?
if [ "$rc" -eq 1 ]; then cli_pass; else
    cli_fail "--perturb: exit status" "$rc, not 1: $(tail -n 5 "$cli_tmp/perturbed")"; fi
for m in resnet18 encoder; do
    for what in "loss differs from PyTorch's" "gradient bytes" \
            "optimizer bytes" "frozen tensor(s) changed in weights.safetensors"; do
        if grep "^gpu_check: FAIL $m cpu: " "$cli_tmp/perturbed" | grep -qF "$what"; then
            cli_pass
        else
            cli_fail "--perturb: $m" "no FAIL line with '$what' in: $(grep FAIL "$cli_tmp/perturbed")"
        fi
    done
done
if grep -q "^gpu_check: passed" "$out" && grep -q "^gpu_check: FAILED" "$cli_tmp/perturbed"; then
    cli_pass
else
    cli_fail "closing line" "not 'passed' / 'FAILED'"
fi
cli_end
