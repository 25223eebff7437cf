#!/bin/sh
# activations_presets.sh: `--presets` with a plan that holds a measured
# activation memory (estimate.activations, a resnet18 measurement made
# with everything trainable) says per preset "keeps ~X% of measured
# activations" (tui/core/activation_share.c: modules before the first
# one with a trainable parameter save nothing, the rest keep their
# bytes), in text and --json; without a measurement it says nothing; and
# norms-only and bitfit say they save no activations with norms near the
# input.
. "$(dirname "$0")/lib/common.sh"
cli_begin activations_presets
cli_abs_paths
cli_require "$FIX/train/resnet18.init.safetensors"

acts='{batch: 16, activation_bytes: 7116932, peak_bytes: 50161200, device: cpu, libtorch: "1.13.0", per_module: [{module: bn1, bytes: 1049088}, {module: relu, bytes: 1048576}, {module: maxpool, bytes: 524288}, {module: layer1, bytes: 2361344}, {module: layer2, bytes: 1184768}, {module: layer3, bytes: 600064}, {module: layer4, bytes: 315392}, {module: fc, bytes: 32768}, {module: "(loss)", bytes: 644}]}'
printf 'version: 1\nmodel:\n  path: %s\nfrozen: []\nestimate:\n  activations: %s\n' \
    "$FIX/train/resnet18.init.safetensors" "$acts" >"$cli_tmp/p.yaml"
printf 'version: 1\nmodel:\n  path: %s\nfrozen: []\n' \
    "$FIX/train/resnet18.init.safetensors" >"$cli_tmp/none.yaml"

# the here: line of preset $1 in $cli_tmp/out
here() {
    awk -v p="$1" '$1 == p { f = 1; next } f && /^    here:/ { print; exit }' "$cli_tmp/out"
}
expect() { # PRESET TEXT
    if here "$1" | grep -qF "$2"; then cli_pass; else cli_fail "$1" "$(here "$1")"; fi
}

"$TUI" --presets --plan "$cli_tmp/p.yaml" >"$cli_tmp/out" 2>"$cli_tmp/err" ||
    cli_fail "presets rc" "$(cat "$cli_tmp/err")"
# head-only: fc and the loss keep 33,412 of 7,116,932 bytes
expect head-only "keeps ~0.5% of measured activations"
# unfreeze-all keeps everything, freeze-all nothing
expect unfreeze-all "keeps ~100.0% of measured activations"
expect freeze-all "keeps ~0.0% of measured activations"
# norms near the input (bn1) stay trainable: nothing is saved
expect norms-only "keeps ~100.0% of measured activations"
expect bitfit "keeps ~100.0% of measured activations"

"$TUI" --presets --json --plan "$cli_tmp/p.yaml" >"$cli_tmp/json" 2>"$cli_tmp/err"
if python3 - "$cli_tmp/json" <<'PY'
import json, sys
d = {p["name"]: p for p in json.load(open(sys.argv[1]))["presets"]}
assert d["head-only"]["here"]["activations"] == {"kept_bytes": 33412,
                                                 "measured_bytes": 7116932}
assert d["freeze-all"]["here"]["activations"]["kept_bytes"] == 0
assert d["norms-only"]["here"]["activations"]["kept_bytes"] == 7116932
PY
then cli_pass; else cli_fail "presets --json" "$(head -c 400 "$cli_tmp/json")"; fi

"$TUI" --presets --plan "$cli_tmp/none.yaml" >"$cli_tmp/out" 2>&1
if grep -q "measured activations" "$cli_tmp/out"; then
    cli_fail "no measurement" "a share printed without one"
else
    cli_pass
fi
"$TUI" --presets --json --plan "$cli_tmp/none.yaml" >"$cli_tmp/json" 2>&1
if grep -q '"activations"' "$cli_tmp/json"; then cli_fail "no measurement --json" "key present"; else cli_pass; fi
# norms-only and bitfit say plainly that they save no activations on
# models with norms near the input
"$TUI" --presets >"$cli_tmp/out" 2>&1
for p in norms-only bitfit; do
    if awk -v p="$p" '$1 == p { getline; print; exit }' "$cli_tmp/out" |
        grep -q "Saves no activation memory on models with a .*norm near the input"; then
        cli_pass
    else
        cli_fail "$p description" "no word on activations"
    fi
done
cli_end
