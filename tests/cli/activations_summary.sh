#!/bin/sh
# activations_summary.sh: a plan's estimate.activations (the measured
# activation memory, docs/plan-format.md) in `--summary` (text and
# --json): the bytes, "measured at batch B on DEVICE (libtorch V)", this
# plan's total with them added; without one, "not estimated"; a bad
# measurement in the plan is one line file:line:col, exit 2.
. "$(dirname "$0")/lib/common.sh"
cli_begin activations_summary
cli_abs_paths
cli_require "$FIX/train/plan_resnet_adamw.yaml" "$FIX/train/resnet18.init.safetensors"

# the fixture plan, with its model path made absolute and a measurement
# added under estimate:
mk_plan() {
    sed "s|^  path: resnet18.init.safetensors|  path: $FIX/train/resnet18.init.safetensors|" \
        "$FIX/train/plan_resnet_adamw.yaml" |
        awk -v acts="$2" '/^batchnorm:/ && acts != "" { print "estimate:"; print "  activations: " acts } { print }' >"$1"
}

mk_plan "$cli_tmp/p.yaml" '{batch: 16, activation_bytes: 2395780, peak_bytes: 45177904, device: cpu, libtorch: "1.13.0", per_module: [{module: layer2, bytes: 1446912}, {module: fc, bytes: 32768}]}'
"$TUI" --summary --plan "$cli_tmp/p.yaml" >"$cli_tmp/out" 2>"$cli_tmp/err"
rc=$?
if [ $rc -eq 0 ]; then cli_pass; else cli_fail "summary rc" "$rc: $(cat "$cli_tmp/err")"; fi
if grep -q '^activations: 2,395,780 bytes (2.3 MiB) measured at batch 16 on cpu (libtorch 1.13.0)' "$cli_tmp/out"; then
    cli_pass
else
    cli_fail "activations row" "$(grep -i activ "$cli_tmp/out")"
fi
# the total with activations is this plan's total plus the measured bytes
total=$(awk '$1 == "total" && $2 ~ /^[0-9]/ { gsub(",", "", $5); print $5 }' "$cli_tmp/out")
with=$(sed -n 's/^total with activations: \([0-9,]*\) bytes.*plus the measured activations$/\1/p' "$cli_tmp/out" | tr -d ,)
if [ -n "$total" ] && [ -n "$with" ] && [ "$with" -eq $((total + 2395780)) ]; then
    cli_pass
else
    cli_fail "total with activations" "total '$total', with '$with'"
fi
if grep -q "not estimated" "$cli_tmp/out"; then
    cli_fail "not estimated" "printed although measured"
else
    cli_pass
fi

"$TUI" --summary --json --plan "$cli_tmp/p.yaml" >"$cli_tmp/json" 2>"$cli_tmp/err"
if python3 - "$cli_tmp/json" "$total" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = d["memory"]["activations"]
assert a["batch"] == 16 and a["activation_bytes"] == 2395780, a
assert a["peak_bytes"] == 45177904 and a["device"] == "cpu", a
assert a["libtorch"] == "1.13.0", a
assert a["per_module"] == [{"module": "layer2", "activation_bytes": 1446912},
                           {"module": "fc", "activation_bytes": 32768}], a
assert a["total_with_activations"] == d["memory"]["after"]["total"] + 2395780
assert d["memory"]["after"]["total"] == int(sys.argv[2])
PY
then cli_pass; else cli_fail "summary --json activations" "$(head -c 600 "$cli_tmp/json")"; fi

# no measurement: the old line, no activations key
mk_plan "$cli_tmp/none.yaml" ''
"$TUI" --summary --plan "$cli_tmp/none.yaml" >"$cli_tmp/out" 2>&1
if grep -q "activations are not estimated" "$cli_tmp/out" && ! grep -q "total with activations" "$cli_tmp/out"; then
    cli_pass
else
    cli_fail "no measurement" "$(grep -i activ "$cli_tmp/out")"
fi
"$TUI" --summary --json --plan "$cli_tmp/none.yaml" >"$cli_tmp/json" 2>&1
if python3 -c 'import json,sys; assert "activations" not in json.load(open(sys.argv[1]))["memory"]' "$cli_tmp/json"; then
    cli_pass
else
    cli_fail "no measurement --json" "$(head -c 300 "$cli_tmp/json")"
fi

# bad measurements: one line, file:line:col, exit 2, nothing on stdout
bad() {
    mk_plan "$cli_tmp/bad.yaml" "$1"
    "$TUI" --summary --plan "$cli_tmp/bad.yaml" >"$cli_tmp/out" 2>"$cli_tmp/err"
    rc=$?
    if [ $rc -eq 2 ] && [ ! -s "$cli_tmp/out" ] && [ "$(wc -l <"$cli_tmp/err")" -eq 1 ] &&
        grep -q "bad.yaml:[0-9]*:[0-9]*: .*$2" "$cli_tmp/err"; then
        cli_pass
    else
        cli_fail "bad $1" "rc $rc: $(cat "$cli_tmp/err")"
    fi
}
bad '{activation_bytes: 1, peak_bytes: 2}' "missing required key 'batch'"
bad '{batch: 16, activation_bytes: -5, peak_bytes: 2}' "non-negative integer for 'activation_bytes'"
bad '{batch: 16, activation_bytes: 1.5, peak_bytes: 2}' "non-negative integer for 'activation_bytes'"
bad '{batch: 0, activation_bytes: 1, peak_bytes: 2}' "'batch' must be at least 1"
cli_end
