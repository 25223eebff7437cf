#!/bin/sh
# plan_stages.sh: a plan's stages:, lr_scale:, layer_decay: and no_decay:
# (docs/plan-format.md) from the command line: `--summary` reads such a
# plan, `-o` writes them back in the canonical form and a second `-o`
# gives the same bytes, a bad value is one line file:line:col with exit
# status 2 and nothing written (the trainer's side of stages:
# tests/parity/test_stages_train.py).
. "$(dirname "$0")/lib/common.sh"
cli_begin plan_stages
cli_abs_paths
ck=$FIX/train/resnet18.init.safetensors
cli_require "$FIX/train/plan_resnet_adamw.yaml" "$ck"

# the fixture plan with an absolute model path and $2 inserted before train:
mk_plan() {
    sed "s|^  path: resnet18.init.safetensors|  path: $ck|" \
        "$FIX/train/plan_resnet_adamw.yaml" |
        awk -v extra="$2" '/^train:/ { print extra } { print }' >"$1"
}

good='stages:
- epochs: 1
- {unfreeze: layer1, lr: 1.0e-4}
lr_scale:
- {fc.*: 10}
layer_decay: {factor: 0.7}
no_decay: "*.bias"'
mk_plan "$cli_tmp/p.yaml" "$good"
"$TUI" --summary --plan "$cli_tmp/p.yaml" >"$cli_tmp/out" 2>"$cli_tmp/err"
rc=$?
if [ $rc -eq 0 ]; then cli_pass; else cli_fail "summary rc" "$rc: $(cat "$cli_tmp/err")"; fi

# -o writes the canonical form; writing that again is byte-identical
"$TUI" --plan "$cli_tmp/p.yaml" -o "$cli_tmp/q.yaml" "$ck" >/dev/null 2>"$cli_tmp/err"
rc=$?
"$TUI" --plan "$cli_tmp/q.yaml" -o "$cli_tmp/r.yaml" "$ck" >/dev/null 2>>"$cli_tmp/err"
rc2=$?
if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$cli_tmp/q.yaml" "$cli_tmp/r.yaml"; then
    cli_pass
else
    cli_fail "round trip" "rc $rc/$rc2: $(cat "$cli_tmp/err")"
fi
want='stages:
- epochs: 1
- unfreeze: ["layer1"]
  lr: 0.0001
lr_scale:
- {"fc.*": 1.0e+01}
layer_decay: {factor: 0.7}
no_decay: ["*.bias"]
train:'
got=$(sed -n '/^stages:/,/^train:/p' "$cli_tmp/q.yaml")
if [ "$got" = "$want" ]; then cli_pass; else cli_fail "written form" "$got"; fi

# bad values: one line FILE:LINE:COL, exit 2, no output file
n=0
while IFS='|' read -r extra where sub; do
    [ -n "$extra" ] || continue
    n=$((n + 1))
    mk_plan "$cli_tmp/b$n.yaml" "$(printf '%b' "$extra")"
    rm -f "$cli_tmp/o.yaml"
    "$TUI" --plan "$cli_tmp/b$n.yaml" -o "$cli_tmp/o.yaml" "$ck" >"$cli_tmp/out" 2>"$cli_tmp/err"
    rc=$?
    line=$(head -n 1 "$cli_tmp/err")
    if [ $rc -eq 2 ] && [ "$(wc -l <"$cli_tmp/err")" -eq 1 ] &&
       [ ! -e "$cli_tmp/o.yaml" ] &&
       printf '%s\n' "$line" | grep -qF -- "$cli_tmp/b$n.yaml:$where: " &&
       printf '%s\n' "$line" | grep -qF -- "$sub"; then
        cli_pass
    else
        cli_fail "bad $n ($sub)" "rc $rc: $line"
    fi
done <<'EOF_CASES'
stages:\n- epochs: 1\n|28:1|at least two stages
stages:\n- epochs: 1\n- {unfreeze: layer1, lr: fast}|29:26|'lr' must be a finite number > 0
stages:\n- epochs: 0\n- unfreeze: layer1|28:11|positive integer
stages:\n- epochs: 2\n- unfreeze: layer1|29:3|stage 1 starts at epoch 2, past the run's end (train.epochs: 2)
stages:\n- steps: 3\n- {unfreeze: layer1, epochs: 1}|29:3|all stages use one unit
stages:\n- epochs: 1\n- {steps: 1}\n- unfreeze: layer1|29:3|stage 1 changes nothing
layer_decay: {factor: 1.5}|27:23|in (0, 1]
lr_scale:\n- {fc: 0}|28:8|finite number > 0
no_decay: ["layer{1"]|27:12|unclosed '{'
EOF_CASES
cli_at_least 12 "bad cases"

cli_end
