#!/bin/sh
# plan_meaning.sh: one plan, one meaning (docs/plan-format.md, "What a plan
# means"). Plans with and without a fingerprint, matching or stale, with
# rules, a frozen list or both, on the trainer's MLP fixture: --list
# --json, --export names, --summary, --tree, the editor (tmux) and the
# headless trainer (report.json's frozen list) must all freeze the set the
# rules of the format say, and the fingerprint notes appear exactly when
# the plan has a fingerprint that differs. The smallest hand-written plan
# (version, model.path, rules, train:) trains and opens in every mode.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin plan_meaning
cli_abs_paths
T=$FIX/train
cli_require "$T/mlp.init.safetensors" "$T/mlp.ts.pt" "$T/mlp.safetensors"
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
PY=${PYTHON:-/usr/bin/python3}
d=$cli_tmp
cp "$T/mlp.init.safetensors" "$T/mlp.ts.pt" "$T/mlp.safetensors" "$d/"
trainer=1
[ -f "$(dirname "$TUI")/libtui-train.so" ] || trainer=0

"$TUI" "$d/mlp.init.safetensors" -o "$d/base.yaml" 2>/dev/null
FP_OK=$(sed -n 's/^  fingerprint: //p' "$d/base.yaml")
FP_BAD=sha256:$(printf '%064d' 0)
case $FP_OK in sha256:*) cli_pass ;; *) cli_fail "base plan" "no fingerprint";
    cli_end ;; esac

# plan NAME FP RULES FROZEN: writes $d/NAME.yaml. FP: ok, bad or none;
# RULES and FROZEN: YAML flow lists, or "" for no key.
plan() {
    {
        echo "version: 1"
        echo "model:"
        echo "  path: mlp.init.safetensors"
        case $2 in
        ok) echo "  fingerprint: $FP_OK" ;;
        bad) echo "  fingerprint: $FP_BAD" ;;
        esac
        [ -n "$3" ] && echo "rules: $3"
        [ -n "$4" ] && echo "frozen: $4"
        cat <<'YAML'
train:
  model: mlp.ts.pt
  data: {train: mlp.safetensors, inputs: features, targets: labels}
YAML
    } > "$d/$1.yaml"
}

# The cases: NAME FP RULES FROZEN WANT (the frozen set, names sorted,
# comma-separated) NOTE (1: a stale-fingerprint note is due).
cases='a|ok|[freeze: "0"]|[0.weight, 0.bias]|0.bias,0.weight|0
b|bad|[freeze: "0"]|[1.weight, 1.bias]|0.bias,0.weight|1
c|ok||[1.weight]|1.weight|0
d|bad||[1.weight, 3.bias]|1.weight,3.bias|1
e|none|[freeze: "**", unfreeze: "3"]||0.bias,0.weight,1.bias,1.weight|0
f|none||[0.weight]|0.weight|0
g|none|[freeze: "1"]|[0.weight]|1.bias,1.weight|0
h|ok|[freeze: "3"]|[0.bias]|0.bias|0
i|none|[freeze: "**", invert: true]|||0
j|bad|[unfreeze: "**"]|[0.weight]||1'

# frozen_from KIND FILE: the frozen set a mode's output names, sorted.
frozen_from() {
    "$PY" - "$1" "$2" <<'PY'
import json, re, sys
kind, path = sys.argv[1], sys.argv[2]
text = open(path).read()
if kind == "json":
    names = [t["name"] for t in json.loads(text)["tensors"]
             if t["kind"] == "parameter" and not t["trainable"]]
elif kind == "names":
    names = text.split()
elif kind == "report":
    names = json.loads(text)["frozen"]
print(",".join(sorted(names)))
PY
}

# numel_of NAMES: the elements of those MLP parameters.
numel_of() {
    n=0
    for x in $(echo "$1" | tr ',' ' '); do
        case $x in
        0.weight) n=$((n + 128)) ;; 3.weight) n=$((n + 48)) ;;
        3.bias) n=$((n + 3)) ;; *) n=$((n + 16)) ;;
        esac
    done
    echo "$n"
}

# agree CASE MODE GOT WANT
agree() {
    if [ "$3" = "$4" ]; then cli_pass; else
        cli_fail "plan $1: $2" "frozen [$3], want [$4]"; fi
}

while IFS='|' read -r name fp rules frozen want note <&3; do
    plan "$name" "$fp" "$rules" "$frozen"
    p=$d/$name.yaml
    "$TUI" --list --json --plan "$p" > "$d/$name.json" 2> "$d/$name.err"
    agree "$name" "--list --json" "$(frozen_from json "$d/$name.json")" "$want"
    "$TUI" --export names --plan "$p" > "$d/$name.names" 2>/dev/null
    agree "$name" "--export names" "$(frozen_from names "$d/$name.names")" \
        "$want"
    "$TUI" --summary --plan "$p" > "$d/$name.sum" 2>/dev/null
    k=$(echo "$want" | tr ',' '\n' | grep -c .)
    line=$(grep '^frozen ' "$d/$name.sum")
    case $line in
    "frozen       $(numel_of "$want") "*" in $k tensor"*) cli_pass ;;
    *) cli_fail "plan $name: --summary" "'$line', want $(numel_of "$want") in $k" ;;
    esac
    "$TUI" --tree --plan "$p" > "$d/$name.tree" 2>/dev/null
    for x in $(echo "$want" | tr ',' ' '); do
        seg=${x#*.}
        if grep -qE "^\[x\] +$seg  " "$d/$name.tree"; then cli_pass; else
            cli_fail "plan $name: --tree" "$x not marked frozen"; fi
    done
    notes=$(grep -c "made for another checkpoint" "$d/$name.err")
    if [ "$notes" = "$note" ]; then cli_pass; else
        cli_fail "plan $name: fingerprint note" "$notes notes, want $note: $(cat "$d/$name.err")"
    fi
    if [ "$trainer" = 1 ]; then
        if "$TUI" --headless --plan "$p" --max-steps 1 -o "$d/run_$name" \
            > "$d/$name.train.out" 2> "$d/$name.train.err"; then
            agree "$name" "--headless" \
                "$(frozen_from report "$d/run_$name/report.json")" "$want"
        else
            cli_fail "plan $name: --headless" "$(tail -2 "$d/$name.train.err")"
        fi
    fi
    # the editor: the header's frozen count, and the same notes
    ui_start 120 30 "'$TUI' --plan '$p'; echo EXITED=\$?; sleep 30"
    if ui_wait "frozen $(numel_of "$want") ("; then cli_pass; else
        cli_fail "plan $name: the editor" "$(ui_screen | sed -n 2p)"; fi
    ui_keys q
    ui_wait "EXITED=" >/dev/null
    ui_stop
done 3<<EOF
$cases
EOF

cli_end
