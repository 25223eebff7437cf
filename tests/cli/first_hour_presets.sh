#!/bin/sh
# first_hour_presets.sh: the messages of a first hour with patterns,
# presets and plans (issue #12): "did you mean" for a preset, a plan key
# and a rule; the hint of a pattern that matches nothing or does not
# compile (closest names, the seed article's trailing dot, a one-segment
# '*'); a preset that does not fit the model is an error unless
# --allow-empty, and so is a plan made on another model; --presets
# previews what a preset does on its own and says "does not fit this
# model"; matched counts over a preset's rules count a tensor once;
# --summary's one number format (separators, human and exact bytes,
# percentages that are not 100.0% unless exact, "1 tensor").
. "$(dirname "$0")/lib/common.sh"
cli_begin first_hour_presets
R=$FIX/models/resnet18.safetensors
B=$FIX/models/bert_tiny.safetensors
cli_require "$R" "$B"
cli_abs_paths
case $R in /*) ;; *) R=$(pwd)/$R ;; esac
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
out=$cli_tmp/out
err=$cli_tmp/err

# run ARGS...: runs tui, stdout to $out, stderr to $err, status in $rc.
run() {
    "$TUI" "$@" >"$out" 2>"$err" </dev/null
    rc=$?
}

# refused LABEL WANT ARGS...: exit status 2, one line on stderr that holds
# WANT (a fixed string), nothing on stdout.
refused() {
    cl_label=$1
    cl_want=$2
    shift 2
    run "$@"
    if [ "$rc" -ne 2 ]; then
        cli_fail "$cl_label" "exit status $rc, want 2: $(head -c 300 "$err")"
    elif [ "$(wc -l <"$err")" -ne 1 ]; then
        cli_fail "$cl_label" "$(wc -l <"$err") lines on stderr, want 1"
    elif [ -s "$out" ]; then
        cli_fail "$cl_label" "wrote to stdout"
    elif ! grep -qF -- "$cl_want" "$err"; then
        cli_fail "$cl_label" "got: $(cat "$err") want: $cl_want"
    else
        cli_pass
    fi
}

# has LABEL FILE WANT: FILE holds the fixed string WANT.
has() {
    if grep -qF -- "$3" "$2"; then cli_pass; else
        cli_fail "$1" "got: $(head -c 600 "$2") want: $3"; fi
}

# ---------------------------------------------------------------------------
# 1. did you mean: a preset, its parameter, plan keys and rules
refused "preset: did you mean" "tui: unknown preset 'head_only'; did you mean 'head-only'? (tui --presets lists them)" \
    --summary --preset head_only "$R"
refused "preset: nothing close" "tui: unknown preset 'qqqqqq' (tui --presets lists them)" \
    --summary --preset qqqqqq "$R"
refused "preset parameter: did you mean" "tui: preset 'resnet-backbone': unknown parameter 'kk'; did you mean 'k'? (parameters: k)" \
    --summary --preset resnet-backbone:kk=1 "$R"

p=$cli_tmp/p.yaml
printf 'version: 1\nmodel:\n  path: %s\nrule:\n  - freeze: conv1\n' "$R" >"$p"
refused "plan: rule: -> rules" "$p:4:1: unknown key 'rule'; did you mean 'rules'?" \
    --summary --plan "$p"
printf 'version: 1\nmodel:\n  path: %s\nfrozn:\n  - conv1.weight\n' "$R" >"$p"
refused "plan: frozn: -> frozen" "$p:4:1: unknown key 'frozn'; did you mean 'frozen'?" \
    --summary --plan "$p"
printf 'version: 1\nmodel:\n  path: %s\nrules:\n  - freeze: conv1\ntrain: {batchsize: 8}\n' "$R" >"$p"
refused "plan: batchsize -> batch_size" "$p:6:9: unknown key 'batchsize'; did you mean 'batch_size'?" \
    --summary --plan "$p"
printf 'version: 1\nmodel:\n  path: %s\nrules:\n  - frezee: conv1\n' "$R" >"$p"
refused "plan: rule frezee -> freeze" "$p:5:5: unknown rule 'frezee'; did you mean 'freeze'?" \
    --summary --plan "$p"

# ---------------------------------------------------------------------------
# 2. a pattern that matches nothing or does not compile says what to try,
# on the command line and in a plan
refused "pattern: closest name" "tui: pattern 'layr1.**' matches nothing in $R; closest name: layer1" \
    --summary --freeze 'layr1.**' "$R"
refused "pattern: closest names, deeper" "; closest names: layer1.0.conv1, layer1.0.conv2" \
    --summary --unfreeze 'layer1.0.conv3' "$R"
refused "pattern: the seed's trailing dot" "tui: pattern 'layer1.0.': empty segment at column 9; drop the trailing dot: a pattern that names a module means its subtree (layer1.0)" \
    --summary --freeze 'layer1.0.' "$R"
refused "pattern: *LayerNorm*" "; * matches within one segment; use **.LayerNorm.** for every LayerNorm" \
    --summary --freeze '*LayerNorm*' "$B"
run --summary --freeze '**.LayerNorm.**' "$B"
same_n=$(grep -c . "$out")
run --summary --freeze '**.LayerNorm' "$B"
if [ "$rc" -eq 0 ] && [ "$same_n" -gt 0 ]; then cli_pass; else
    cli_fail "pattern: the suggested form works" "exit $rc"; fi
printf 'version: 1\nmodel:\n  path: %s\nrules:\n  - freeze: conv1\n  - freeze: "layr1.**"\n' "$R" >"$p"
refused "plan rule: closest name, with file and line" "$p:6:5: rule 'layr1.**' matches nothing in $R (--allow-empty applies the plan anyway); closest name: layer1" \
    --summary --plan "$p"

# ---------------------------------------------------------------------------
# 3. a preset that does not fit the model; a plan made on another model
refused "preset: a Llama preset on a ResNet" "tui: preset 'llama-last-n' does not fit $R: 1 of its 2 rules matches nothing there: unfreeze '{model.layers," \
    --summary --preset llama-last-n "$R"
refused "preset: head-only on a bare BERT (no head)" \
    "tui: preset 'head-only' does not fit $B: 2 of its 3 rules match nothing there:" \
    --summary --preset head-only "$B"
run --preset llama-last-n "$R" -o "$cli_tmp/ll.yaml"
if [ "$rc" -eq 2 ] && [ ! -e "$cli_tmp/ll.yaml" ]; then cli_pass; else
    cli_fail "preset that does not fit: nothing written" "exit $rc"; fi
run --summary --allow-empty --preset llama-last-n "$R"
if [ "$rc" -eq 0 ]; then cli_pass; else
    cli_fail "preset that does not fit: --allow-empty applies it" "exit $rc: $(cat "$err")"; fi
has "--allow-empty: the empty rule is counted" "$err" "; 1 rule matched nothing"
# a preset that fits, with one rule for other models: applied, its
# matched tensors counted once (freeze ** and unfreeze fc both match fc)
run --summary --preset head-only "$R"
has "preset: matched counted once" "$err" "preset 'head-only': matched 122 tensors (11,689,512 parameters), changed 60 tensors (11,176,512 parameters); 1 rule matched nothing"
# the plan head-only makes on resnet18, opened on BERT: its rules match
# nothing there, an error like the preset's
run --preset head-only "$R" -o "$cli_tmp/head.yaml"
# (a note that the plan was made for another checkpoint, then the error)
run --summary --plan "$cli_tmp/head.yaml" "$B"
if [ "$rc" -eq 2 ] && [ ! -s "$out" ] &&
    tail -n 1 "$err" | grep -qF "qa_outputs,last_linear,logits,embed_out}' matches nothing in $B (--allow-empty applies the plan anyway)"
then cli_pass; else
    cli_fail "plan from another model: rule matches nothing" "exit $rc: $(cat "$err")"; fi
run --summary --allow-empty --plan "$cli_tmp/head.yaml" "$B"
if [ "$rc" -eq 0 ]; then cli_pass; else
    cli_fail "plan from another model: --allow-empty" "exit $rc"; fi

# ---------------------------------------------------------------------------
# 4. --presets CHECKPOINT: what each preset does on its own
block() { sed -n "/^$1 /,/here:/p" "$out" | grep 'here:'; }
run --presets "$R"
has "presets: does not fit" "$out" "    here: does not fit this model: 1 of its 2 rules matches nothing: unfreeze '{model.layers,"
block llama-last-n >"$cli_tmp/b"
has "presets: llama-last-n's line" "$cli_tmp/b" "here: does not fit this model"
block head-only >"$cli_tmp/b"
has "presets: the rule that matches nothing" "$cli_tmp/b" "here: would freeze 60 tensors, 11,176,512 parameters (95.6%); 1 of its 3 rules matches nothing: unfreeze '*.{fc,classifier,head,heads,lm_head,score,qa_outputs}'"
block bitfit >"$cli_tmp/b"
has "presets: >99.9%, not 100.0%" "$cli_tmp/b" "here: would freeze 41 tensors, 11,683,712 parameters (>99.9%)"
# from everything trainable, not from the state the operations made
run --presets --freeze '**' "$R"
block resnet-backbone >"$cli_tmp/b"
has "presets: the preset's own outcome" "$cli_tmp/b" "here: would freeze 30 tensors, 683,072 parameters (5.8%)"

# ---------------------------------------------------------------------------
# 5. --summary: one number format, plurals, percentages
run --summary --freeze '**' --unfreeze fc.bias "$R"
has "operation: 1 tensor" "$err" "unfreeze 'fc.bias': matched 1 tensor (1,000 parameters), changed 1 tensor (1,000 parameters)"
has "summary: 1 file" "$out" "(safetensors, 1 file)"
has "summary: tensors" "$out" "tensors      122 (62 parameters, 60 buffers)"
has "summary: <0.1%, 1 tensor" "$out" "trainable    1,000 (<0.1%) in 1 tensor"
has "summary: >99.9%" "$out" "frozen       11,688,512 (>99.9%) in 61 tensors"
has "summary: human and exact bytes" "$out" "size         44.6 MiB (46,796,608 bytes)"
has "summary: estimate counts" "$out" "trainable: 1,000 of 11,689,512 parameters in 1 of 62 tensors"
has "summary: table bytes" "$out" "  gradients          46,758,048   44.6 MiB              4,000    3.9 KiB  >99.9%"
has "summary: bookkeeping" "$out" "optimizer state includes 4 bytes (4 B) of per-tensor bookkeeping"
if grep -q '100\.0%' "$out"; then
    cli_fail "summary: no 100.0% that is not exact" "$(grep '100\.0%' "$out")"
else cli_pass; fi
run --tree --depth 1 --freeze '**' --unfreeze layer4.1.bn2.bias "$R"
has "tree: >99.9% frozen, not 100.0%" "$out" "[~] layer4/  8,393,728 params  32.0 MiB  (>99.9% frozen)"

# ---------------------------------------------------------------------------
# 6. the editor: the f prompt's error and the preset menu's preview are
# the same core calls (tmux)
if ! command -v tmux >/dev/null 2>&1; then
    cli_fail "editor" "tmux is not installed"
    cli_end
fi
. "$(cd "$(dirname "$0")/../ui" && pwd)/lib.sh"
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
PRESETS=${TUI_PRESETS_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/presets}
{
    echo "export TUI_PRESETS_DIR='$PRESETS'"
    echo "export XDG_CONFIG_HOME='$cli_tmp/cfg'"
    echo "'$TUI' '$R' 2>'$cli_tmp/ed.err'"
    echo "echo \$? >'$cli_tmp/ed.rc'"
} >"$cli_tmp/run.sh"
ui_start 200 40 "sh $cli_tmp/run.sh"
# see LABEL TEXT: the screen shows TEXT within 10 s.
see() {
    if ui_wait "$2" 10; then cli_pass; else
        cli_fail "$1" "not on screen: $2"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
see "editor: open" "resnet18.safetensors"
ui_keys f
ui_type 'layr1.**'
ui_keys Enter
see "editor: f prompt, closest name" "closest name: layer1"
ui_keys Escape
ui_keys f
ui_type '**'
ui_keys Enter
see "editor: everything frozen" "frozen 11,689,512 (100.0%)"
ui_keys p
see "editor: presets, does not fit" "with defaults: does not fit this model: all 2 of its rules match nothing"
# resnet-backbone, the 11th (the computed fine-tune, gradual-unfreeze
# and layer-decay sort among the files)
ui_keys Down Down Down Down Down Down Down Down Down Down
see "editor: presets, the preset's own outcome" "with defaults: would freeze 30 tensors, 683,072 parameters (5.8%)"
ui_keys Escape q
see "editor: quit asks (unsaved)" "quit without saving"
ui_keys q
ui_wait_file "$cli_tmp/ed.rc" 10 >/dev/null
if [ "$(cat "$cli_tmp/ed.rc" 2>/dev/null)" = 0 ]; then cli_pass; else
    cli_fail "editor: exit" "status $(cat "$cli_tmp/ed.rc" 2>/dev/null)"; fi
ui_stop
cli_end
