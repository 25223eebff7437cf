#!/bin/sh
# editor_prompts.sh: the editor's prompts, menus and panels in tmux
# (issue #12, slice 6): history (Up/Down) of the pattern and path
# prompts, Tab completion of module names and of paths, Home/End/g/G in
# the presets menu, descriptions using the terminal's width, a preset's
# parameters in one line, the memory panel's buffers row and M fold, the
# unsaved mark following the optimizer (stored in the plan's estimate:),
# and W asking (full path, y/n) before writing a user preset.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_prompts
cli_abs_paths
R=$FIX/models/resnet18_sd.pt
BERT=$FIX/models/bert_tiny.safetensors
cli_require "$R" "$BERT"
TUI_PRESETS_DIR=${TUI_PRESETS_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/presets}
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT

# see NAME TEXT: the screen shows TEXT (waits for it).
see() {
    if ui_wait "$2" 5; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
unseen() {
    if ui_wait_gone "$2" 3; then cli_pass; else
        cli_fail "$1" "screen still shows '$2'"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
# start COLS ROWS FILE: the editor on FILE, in $cli_tmp, its own config.
start() {
    ui_start "$1" "$2" "cd '$cli_tmp' && TUI_PRESETS_DIR='$TUI_PRESETS_DIR' XDG_CONFIG_HOME='$cli_tmp/cfg' '$TUI' '$3'; echo EXITED=\$?; sleep 30"
}
# the prompt line: the line above the key hints
prompt_line() { ui_screen | grep -B1 'Enter confirm' | head -n 1; }
# prompt_is REGEX: the prompt line matches REGEX (waits up to 5 s, as the
# keys sent just before may not have been drawn yet).
_prompt_matches() { prompt_line | grep -q -- "$1"; }
prompt_is() { _ui_poll 5 _prompt_matches "$1"; }

# --- 1. history and Tab completion ------------------------------------
start 120 32 "$R"
see "open" "layer4/"
ui_keys f
ui_type '**.bias'
ui_keys Enter
see "history: first freeze" "froze '**.bias'"
ui_keys f
ui_type 'fc'
ui_keys Enter
see "history: second freeze" "froze 'fc'"
ui_keys f Up
see "history: Up recalls the last pattern" "freeze: fc"
ui_keys Up
see "history: Up again the one before" "freeze: **.bias"
ui_keys Down
see "history: Down goes forward" "freeze: fc"
ui_keys Down
if prompt_is '^freeze: *$'; then cli_pass; else
    cli_fail "history: Down past the last is the empty line" "$(prompt_line)"
fi
ui_keys Escape
# completion of the next dotted segment
ui_keys f
ui_type 'lay'
ui_keys Tab
see "complete: common part of an ambiguous segment" "freeze: layer"
see "complete: candidates listed" "layer1  layer2  layer3  layer4"
ui_type '2'
ui_keys Tab
see "complete: unique segment gets its dot" "freeze: layer2."
ui_type '1.c'
ui_keys Tab
see "complete: deeper" "freeze: layer2.1.conv"
see "complete: candidates at depth" "conv1  conv2"
ui_keys Escape
# the search prompt has its own history
ui_keys /
ui_keys Up
if prompt_is '^/ *$'; then cli_pass; else
    cli_fail "history: per prompt kind (search is empty)" "$(prompt_line)"
fi
ui_type 'layer3.0.d'
ui_keys Tab
see "complete: in the search prompt too" "/layer3.0.downsample."
ui_keys Escape
# path completion and history in the save prompt
: > "$cli_tmp/abcdef.plan.yaml"
mkdir -p "$cli_tmp/subdir"
ui_keys w C-u
ui_type "$cli_tmp/abc"
ui_keys Tab
see "complete: a file name" "save plan to: $cli_tmp/abcdef.plan.yaml"
ui_keys C-u
ui_type "$cli_tmp/sub"
ui_keys Tab
see "complete: a folder gets its slash" "save plan to: $cli_tmp/subdir/"
ui_keys C-u
ui_type "$cli_tmp/p1.yaml"
ui_keys Enter
see "save: written" "saved $cli_tmp/p1.yaml"
ui_keys w C-u Up
see "history: the path prompt recalls the last path" "save plan to: $cli_tmp/p1.yaml"
ui_keys Escape

# --- 5. the memory panel -----------------------------------------------
see "panel: a buffers row" "buffers "
sum=$(ui_screen | awk '$1=="weights"||$1=="master"||$1=="gradients"||$1=="optimizer"||$1=="buffers"{print}' | wc -l)
if [ "$sum" -eq 5 ]; then cli_pass; else
    cli_fail "panel: five rows above the total" "$sum rows"
fi
ui_keys M
see "panel: M folds it" "M unfolds"
unseen "panel: folded has no rows" "gradients "
ui_keys M
see "panel: M unfolds it" "gradients "
# the optimizer is written in the plan (estimate:), so it is a change
ui_keys w Enter
see "unsaved: saved first" "saved $cli_tmp/p1.yaml"
unseen "unsaved: no mark after saving" "[+] unsaved"
ui_keys o
see "unsaved: optimizer changes the plan" "optimizer adafactor (o)"
see "unsaved: the mark after o" "[+] unsaved"
ui_keys q
see "unsaved: quit asks after o" "unsaved changes"
ui_keys Escape
ui_keys o o o o o
see "unsaved: back to adamw" "optimizer adamw (o)"
unseen "unsaved: back to the saved optimizer clears the mark" "[+] unsaved"
ui_keys ? NPage
see "help: M" "fold / unfold the memory panel"
ui_keys NPage
see "help: prompts" "Tab completes"
ui_keys q
ui_keys q
see "unsaved: back to the saved optimizer is no change" "EXITED=0"
ui_stop

# --- 2, 3, 4: the presets menu ---------------------------------------
# a user preset with two parameters, for the one-line form
mkdir -p "$cli_tmp/cfg/tui/presets"
cat > "$cli_tmp/cfg/tui/presets/two.yaml" <<'YAML'
name: two
description: "two parameters"
params:
  a: {default: 1, min: 0, max: 1}
  b: {default: 0, min: 0, max: 1}
rules:
  - freeze: "bert.encoder.layer.{a}"
  - freeze: "bert.encoder.layer.{b}"
YAML
start 200 40 "$BERT"
see "bert: open" "200 tensors"
ui_keys p
see "menu: open" "bert-embeddings-first-n"
see "menu: description uses the width" "Freeze the embeddings and the first n encoder layers, the usual top_n_layer_freeze"
see "menu: the selected one in full, wrapped" "encoder)."
ui_keys G
see "menu: G goes to the last" "> unfreeze-all"
ui_keys g
see "menu: g goes to the first" "> bert-embeddings-first-n"
ui_keys End
see "menu: End goes to the last" "> unfreeze-all"
ui_keys Home
see "menu: Home goes to the first" "> bert-embeddings-first-n"
ui_keys End Up
see "menu: the two-parameter preset" "> two "
ui_keys Enter
see "params: every parameter on one line" "two (a 0..1, b 0..1): a=1 b=0"
ui_keys C-u
ui_type 'a=0 b=1'
see "params: several in one line, previewed" "two:a=0,b=1: "
ui_keys Escape
unseen "params: Esc leaves" "two (a 0..1"
ui_keys p
ui_keys Enter
see "params: one line with every parameter" "(n 0..48): n=3"
ui_keys C-u
ui_type 'n=1'
see "params: live preview" "bert-embeddings-first-n:n=1: would freeze 21 tensors"
ui_keys Enter
see "params: one Enter, then the confirmation" "Enter applies"
ui_keys Enter
see "params: applied" "preset bert-embeddings-first-n:n=1"

# --- 6. W asks before writing, with the full path ----------------------
ui_keys W
see "W: name prompt" "save rules as preset named:"
ui_type mine
ui_keys Enter
see "W: asks with the full path" "$cli_tmp/cfg/tui/presets/mine.yaml"
ui_keys n
see "W: n does not write" "not saved"
if [ -e "$cli_tmp/cfg/tui/presets/mine.yaml" ]; then
    cli_fail "W: nothing written after n" "the file exists"
else cli_pass; fi
ui_keys W
ui_type mine
ui_keys Enter y
see "W: y writes" "saved preset mine"
if grep -q 'n-1\|{0\.\.n' "$cli_tmp/cfg/tui/presets/mine.yaml" 2>/dev/null &&
    grep -q 'default: 1' "$cli_tmp/cfg/tui/presets/mine.yaml"; then
    cli_pass
else
    cli_fail "W: the rule as written (the template, n=1 its default)" \
        "$(cat "$cli_tmp/cfg/tui/presets/mine.yaml" 2>&1)"
fi
# after undo the preset's rules are gone: only what is in force is saved
ui_keys u f
ui_type 'pooler'
ui_keys Enter
see "W: a typed rule" "froze 'pooler'"
ui_keys W
ui_type mine2
ui_keys Enter y
see "W: second preset saved" "saved preset mine2"
m2=$cli_tmp/cfg/tui/presets/mine2.yaml
if grep -q 'freeze: "pooler"' "$m2" 2>/dev/null && ! grep -q 'params:\|embeddings' "$m2"; then
    cli_pass
else
    cli_fail "W: an undone preset is not saved" "$(cat "$m2" 2>&1)"
fi
ui_keys q q
see "bert: quit" "EXITED=0"
ui_stop
if TUI_PRESETS_DIR=$TUI_PRESETS_DIR XDG_CONFIG_HOME=$cli_tmp/cfg "$TUI" \
    --summary --preset mine:n=2 "$BERT" > "$cli_tmp/s2" 2>&1 &&
    TUI_PRESETS_DIR=$TUI_PRESETS_DIR "$TUI" --summary \
    --preset bert-embeddings-first-n:n=2 "$BERT" > "$cli_tmp/s3" 2>&1 &&
    tail -n +2 "$cli_tmp/s2" > "$cli_tmp/s2b" &&
    tail -n +2 "$cli_tmp/s3" > "$cli_tmp/s3b" &&
    cmp -s "$cli_tmp/s2b" "$cli_tmp/s3b"; then
    cli_pass
else
    cli_fail "W: the saved preset keeps its parameter" "$(head -3 "$cli_tmp/s2")"
fi
# many candidates on a narrow screen: as many as fit, then the count
start 44 24 "$R"
see "narrow: open" "layer4/"
ui_keys f Tab
see "complete: the count when they do not all fit" "(7 in all)"
ui_keys Escape q
see "narrow: quit" "EXITED=0"
ui_stop
cli_end
