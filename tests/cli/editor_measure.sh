#!/bin/sh
# editor_measure.sh: `a` in the editor measures the activation memory of
# the current frozen set in the background (issue #13, point 2;
# docs/memory.md), in tmux (tests/ui/lib.sh), on resnet18 (TorchScript,
# 224x224, batch 16, train.input_shape):
#
# - with nothing runnable (a plain state_dict, a TorchScript archive with
#   no plan) the panel row and the box say what is needed;
# - keys are answered while a measurement runs (a move shows on the same
#   screen as the progress hint);
# - the row then shows everything-trainable -> this plan, equal to what
#   `tui --headless --measure-memory --json` gives for the same two plans
#   (their bytes, as the editor prints them), and w stores this plan's
#   measurement in estimate.activations byte for byte (batch, bytes,
#   peak, device, libtorch version);
# - an edit marks it stale, and w then stores none; a again measures the
#   new set (no second everything-trainable run), equal to the command
#   line's figure for that set;
# - a frozen middle block (layer3 after a trainable layer2) is warned
#   about: it keeps its activations;
# - a again while one runs cancels it; q while one runs quits at once;
#   neither leaves a measuring process or a temporary plan behind.
#
# Env: TUI (the binary), FIX (the fixtures folder).
# Prints "editor_measure: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_measure
cli_abs_paths
T=$FIX/train
cli_require "$T/plan_resnet_adamw.yaml" "$T/resnet18.ts.pt" \
    "$T/resnet18.init.safetensors" "$FIX/models/resnet18_sd.pt" "$T/mlp.ts.pt"
if ! command -v tmux >/dev/null 2>&1; then
    echo "editor_measure: tmux is not installed"
    echo "editor_measure: 0 passed, 1 failed"
    exit 1
fi
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
tmp=$cli_tmp
mkdir "$tmp/tmpd"
WAIT=${MEASURE_WAIT:-120}

dump() { ui_screen | sed 's/^/    | /' | head -n 40; }
see() {
    if ui_wait "$2" "${3:-10}"; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        dump
    fi
}
row() { ui_screen | grep -F ' activations  ' | head -n 1; }
# human BYTES: the size as the editor prints it (core/human.c)
human() {
    python3 -c 'import sys
n = int(sys.argv[1]); v = float(n); u = 0
units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
while v >= 1024.0 and u + 1 < len(units):
    v /= 1024.0; u += 1
print("%d B" % n if u == 0 else "%.1f %s" % (v, units[u]))' "$1"
}
# json_get FILE KEY: one top-level number of a --json line
json_get() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
# leftovers: measuring processes or temporary plans of this test
leftovers() {
    ls "$tmp/tmpd" | grep -c 'tui-measure' || true
}
children() {
    pgrep -f "$tmp/tmpd/tui-measure" | wc -l
}

# --- nothing to measure ---
ui_start 100 30 "TMPDIR=$tmp/tmpd $TUI $FIX/models/resnet18_sd.pt"
see "state_dict row" "not measured: needs a plan with train.model"
ui_keys a
see "state_dict box" "nothing to measure"
see "state_dict why" "holds only weights"
ui_keys Escape
ui_start 100 30 "TMPDIR=$tmp/tmpd $TUI $T/mlp.ts.pt"
ui_keys a
see "torchscript box" "TorchScript archive"
ui_keys Escape
ui_stop

cli_require_trainer

# --- the plans: prefix frozen (conv1, bn1, layer1); all trainable; layer3
# frozen as well (a middle block) ---
sed -e "s|^  path: resnet18.init.safetensors|  path: $T/resnet18.init.safetensors|" \
    -e "s|^  model: resnet18.ts.pt|  model: $T/resnet18.ts.pt|" \
    -e "s|^  init: resnet18.init.safetensors|  init: $T/resnet18.init.safetensors|" \
    -e "s|^  data: .*|  input_shape: [3, 224, 224]|" \
    "$T/plan_resnet_adamw.yaml" >"$tmp/p.yaml"
"$TUI" --plan "$tmp/p.yaml" -u '**' -o "$tmp/all.yaml" >/dev/null 2>&1
"$TUI" --plan "$tmp/p.yaml" -f layer3 -o "$tmp/mid.yaml" >/dev/null 2>&1
for p in p all mid; do
    if ! "$TUI" --headless --plan "$tmp/$p.yaml" --measure-memory --json \
            >"$tmp/$p.json" 2>"$tmp/$p.err"; then
        cli_fail "measure $p.yaml" "$(cat "$tmp/$p.err")"
        cli_end
    fi
done
cur=$(json_get "$tmp/p.json" activation_bytes)
all=$(json_get "$tmp/all.json" activation_bytes)
mid=$(json_get "$tmp/mid.json" activation_bytes)
cp "$tmp/p.yaml" "$tmp/edit.yaml"

ui_start 100 30 "TMPDIR=$tmp/tmpd $TUI --plan $tmp/edit.yaml"
see "row before" "not measured: a runs one step at batch 16"

# keys answered during a measurement: a move while the hint shows
ui_keys a
see "progress hint" "measuring everything trainable at batch 16" 30
ui_keys j
ok=0
n=0
while [ $n -lt 30 ]; do
    scr=$(ui_screen)
    if printf '%s\n' "$scr" | grep -q 'measuring' &&
        printf '%s\n' "$scr" | sed -n '$p' | grep -q '^bn1/'; then
        ok=1
        break
    fi
    sleep 0.1
    n=$((n + 1))
done
if [ $ok -eq 1 ]; then cli_pass; else
    cli_fail "keys during a measurement" "no move seen while measuring"
    dump
fi

# the result: everything trainable -> this plan, as the command line says
want="$(human "$all") -> $(human "$cur") (-$(human $((all - cur)))), measured at batch 16 on cpu"
see "measured row" "$want" "$WAIT"
if [ "$(children)" -eq 0 ] && [ "$(leftovers)" -eq 0 ]; then cli_pass; else
    cli_fail "after measuring" "$(children) processes, $(leftovers) temporary plans left"
fi

# w stores it: the figures byte for byte
ui_keys w
see "save prompt" "save plan"
ui_keys Enter
see "saved" "saved"
if python3 - "$tmp/edit.yaml" "$tmp/p.json" <<'PY'
import json, sys, yaml
p = yaml.safe_load(open(sys.argv[1]))
j = json.load(open(sys.argv[2]))
a = p["estimate"]["activations"]
assert a["batch"] == j["batch_size"] == 16, a
assert a["activation_bytes"] == j["activation_bytes"], (a, j["activation_bytes"])
assert a["device"] == j["device"] == "cpu", a
assert a["libtorch"] == j["libtorch"], a
assert [m["module"] for m in a["per_module"]] == [m["module"] for m in j["per_module"]]
assert [m["bytes"] for m in a["per_module"]] == [m["activation_bytes"] for m in j["per_module"]]
PY
then cli_pass; else cli_fail "w stores the measurement" "$(grep -A12 'activations:' "$tmp/edit.yaml")"; fi
"$TUI" --summary --plan "$tmp/edit.yaml" >"$tmp/sum" 2>&1
if grep -q "^activations: .* measured at batch 16 on cpu" "$tmp/sum"; then cli_pass; else
    cli_fail "summary of the saved plan" "$(grep -i activ "$tmp/sum")"
fi

# an edit: stale, and a save then carries no measurement
ui_keys f
ui_type layer3
ui_keys Enter
see "stale" "is stale: the frozen set changed (a re-measures)"
ui_keys w
see "save prompt 2" "save plan"
ui_keys Enter
see "saved 2" "saved"
if grep -q 'activations:' "$tmp/edit.yaml"; then
    cli_fail "stale not stored" "$(grep -A3 'activations:' "$tmp/edit.yaml")"
else
    cli_pass
fi

# a measures the new set alone, and warns about the frozen middle block
ui_keys a
see "progress hint 2" "measuring this plan at batch 16" 30
want="$(human "$all") -> $(human "$mid") (-$(human $((all - mid)))), measured at batch 16 on cpu"
see "middle row" "$want" "$WAIT"
see "middle warning" "! 1 frozen module after a trainable one keeps"
layer3=$(python3 -c 'import json, sys
print([m["activation_bytes"] for m in json.load(open(sys.argv[1]))["per_module"] if m["module"] == "layer3"][0])' "$tmp/mid.json")
see "middle warning bytes" "keeps $(human "$layer3")"

# cancel, then quit while measuring: nothing left behind
ui_keys u
see "stale after undo" "is stale"
ui_keys a
see "progress hint 3" "measuring this plan" 30
ui_keys a
see "cancelled" "measurement cancelled"
sleep 0.3
if [ "$(children)" -eq 0 ] && [ "$(leftovers)" -eq 0 ]; then cli_pass; else
    cli_fail "after cancelling" "$(children) processes, $(leftovers) temporary plans left"
fi
ui_keys a
see "progress hint 4" "measuring this plan" 30
ui_keys q
see "quit asks (unsaved)" "unsaved changes"
ui_keys q
n=0
while ui_alive && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if ! ui_alive; then cli_pass; else cli_fail "quit while measuring" "still running"; fi
sleep 0.3
if [ "$(children)" -eq 0 ] && [ "$(leftovers)" -eq 0 ]; then cli_pass; else
    cli_fail "after quitting" "$(children) processes, $(leftovers) temporary plans left"
fi
cli_end
