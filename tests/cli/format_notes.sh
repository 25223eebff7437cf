#!/bin/sh
# format_notes.sh: what tui says about a checkpoint as a whole, and the
# buffers it knows by name and shape (notes/ from gen_format_notes.py).
#  - GPT-2's causal masks h.N.attn.bias [1, 1, 1024, 1024] (F32 and BOOL)
#    and h.N.attn.masked_bias are buffers; the learned biases parameters.
#  - a shard opened alone says which set it belongs to and how to open all
#    of it, in --summary, the --list footer, --list --json ("shard") and
#    the editor's header; the set opened whole says nothing of the kind.
#  - a training checkpoint shows its epoch / step and that its optimizer
#    state is present and not parameters, in --summary and the header.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin format_notes
N=$FIX/notes
G=$N/gpt2_tiny.safetensors
S1=$N/set/model-00001-of-00004.safetensors
L3=$N/lone/model-00003-of-00004.safetensors
T=$N/train_ckpt.pt
cli_require "$G" "$S1" "$L3" "$T" "$N/train_noopt.pt"
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT

# expect WHAT FILE PATTERN: FILE (an output) holds a line matching PATTERN
expect() {
    if grep -qE -- "$3" "$2"; then cli_pass; else
        cli_fail "$1" "no line matching '$3' in: $(head -c 300 "$2")"
    fi
}
# refute WHAT FILE PATTERN: no line of FILE matches PATTERN
refute() {
    if grep -qE -- "$3" "$2"; then
        cli_fail "$1" "unexpected '$3': $(grep -E -- "$3" "$2" | head -n 1)"
    else cli_pass; fi
}
o=$cli_tmp/out

# 1. buffers by name and shape
"$TUI" --list "$G" >"$o" 2>&1
for l in 0 1; do
    expect "h.$l.attn.bias" "$o" "^h\.$l\.attn\.bias +\[1, 1, 1024, 1024\] .* buffer "
    expect "h.$l.attn.masked_bias" "$o" "^h\.$l\.attn\.masked_bias .* buffer "
    expect "h.$l.attn.c_attn.bias" "$o" "^h\.$l\.attn\.c_attn\.bias .* parameter "
done
expect "gpt2 totals" "$o" "32 tensors \(28 parameters, 4 buffers\), 10080 parameters"

# 2. a shard alone
"$TUI" --summary "$S1" >"$o" 2>&1
expect "summary shard" "$o" "^note +shard 1 of 4 of a sharded checkpoint: open the folder or model.safetensors.index.json to see all of it$"
"$TUI" --list "$S1" >"$o" 2>&1
expect "list shard" "$o" "^shard 1 of 4 of a sharded checkpoint: open the folder or model.safetensors.index.json"
"$TUI" --list --json "$S1" >"$o" 2>&1
expect "json shard" "$o" '"shard": \{"index": 1, "count": 4\}'
"$TUI" --summary "$L3" >"$o" 2>&1
expect "lone shard" "$o" "^note +shard 3 of 4 of a sharded checkpoint \(model.safetensors.index.json is not beside it\)"
B=$FIX/models/bert_tiny_sharded_bin/pytorch_model-00002-of-00003.bin
if [ -f "$B" ]; then
    "$TUI" --summary "$B" >"$o" 2>&1
    expect "bin shard" "$o" "^note +shard 2 of 3 of a sharded checkpoint: open the folder or pytorch_model.bin.index.json"
fi
for whole in "$N/set" "$N/set/model.safetensors.index.json"; do
    "$TUI" --summary "$whole" >"$o" 2>&1
    refute "whole set $(basename "$whole")" "$o" "shard [0-9]+ of"
    "$TUI" --list --json "$whole" >"$o" 2>&1
    refute "whole set json $(basename "$whole")" "$o" '"shard"'
done

# 3. training checkpoints
"$TUI" --summary "$T" >"$o" 2>&1
expect "summary training" "$o" "^training +epoch 7, global_step 4242; optimizer state present \(18 tensors, 616 B, not parameters\)$"
expect "optimizer not parameters" "$o" "^tensors +9 \(6 parameters, 3 buffers\)$"
"$TUI" --summary "$N/train_noopt.pt" >"$o" 2>&1
expect "no optimizer" "$o" "^training +epoch 2; no optimizer state$"
"$TUI" --summary "$G" >"$o" 2>&1
refute "not training" "$o" "^(training|note) "

# 4. the editor's header
if command -v tmux >/dev/null 2>&1; then
    ui_start 140 20 "'$TUI' '$S1'; sleep 30"
    if ui_wait "shard 1 of 4 (open the folder for all)"; then cli_pass; else
        cli_fail "header shard" "$(ui_screen | head -n 2)"
    fi
    ui_start 140 20 "'$TUI' '$T'; sleep 30"
    if ui_wait "epoch 7, global_step 4242, optimizer state"; then cli_pass
    else cli_fail "header training" "$(ui_screen | head -n 2)"; fi
    ui_stop
else
    cli_skip tmux "no tmux: the header checks are not made"
fi

cli_end
