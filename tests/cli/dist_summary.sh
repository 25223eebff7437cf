#!/bin/sh
# dist_summary.sh: a plan for several processes (train.world_size,
# docs/distributed.md) says that its memory figures are per process: the
# --summary line (and the job's total), --json's world_size and
# per_process, the editor panel's "per process (xN)"; a plan without it
# says nothing of the kind (world_size 1, per_process false).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin dist_summary
cli_abs_paths
P=$FIX/train/plan_mlp.yaml
cli_require "$P" "$FIX/train/mlp.init.safetensors"
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
sed "s|^  path: mlp.init.safetensors|  path: $FIX/train/mlp.init.safetensors|" "$P" |
    sed 's|^  log_every: 50|  log_every: 50\n  world_size: 4|' >"$cli_tmp/w4.yaml"
"$TUI" --summary --plan "$cli_tmp/w4.yaml" >"$cli_tmp/out" 2>&1
total=$(awk '$1 == "total" && $2 ~ /^[0-9]/ { gsub(",", "", $5); print $5 }' "$cli_tmp/out")
if grep -q "^per process: the figures above are each process's (train.world_size 4: " "$cli_tmp/out" &&
    [ -n "$total" ]; then cli_pass; else cli_fail "summary line" "$(tail -3 "$cli_tmp/out")"; fi
"$TUI" --summary --json --plan "$cli_tmp/w4.yaml" >"$cli_tmp/json" 2>&1
if python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))["memory"]
assert m["world_size"] == 4 and m["per_process"] is True, m' "$cli_tmp/json"; then
    cli_pass; else cli_fail "summary --json" "$(tail -c 300 "$cli_tmp/json")"; fi
"$TUI" --summary --json --plan "$P" >"$cli_tmp/json1" 2>&1
if python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))["memory"]
assert m["world_size"] == 1 and m["per_process"] is False, m' "$cli_tmp/json1"; then
    cli_pass; else cli_fail "summary --json, one process" "$(tail -c 300 "$cli_tmp/json1")"; fi
"$TUI" --summary --plan "$P" >"$cli_tmp/out1" 2>&1
if grep -q "per process" "$cli_tmp/out1"; then
    cli_fail "one process" "says per process"; else cli_pass; fi
if command -v tmux >/dev/null 2>&1; then
    ui_start 100 30 "$TUI --plan $cli_tmp/w4.yaml"
    if ui_wait "M folds  per process (x4)" 10; then cli_pass; else
        cli_fail "editor panel" "$(ui_screen | grep memory)"; fi
    ui_stop
else
    cli_fail "tmux" "not installed"
fi
cli_end
