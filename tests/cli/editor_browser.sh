#!/bin/sh
# editor_browser.sh: the editor as a browser, in tmux (issue #12, "The
# editor"): checkpoint order by default for a torch file and s cycling
# name (natural) and size, the column headers showing the sort, share
# bars against the largest sibling and the model's bytes in the header,
# the breadcrumb of the selected row, buffers counting their elements as
# --list does, error and text boxes that say how they close and pass the
# closing key on, / with smartcase and f's patterns and n/N,
# percentages that never round to 0.0%/100.0%, and the optimizer and
# precision marking the plan unsaved only where the plan stores them.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_browser
cli_abs_paths
R=$FIX/models/resnet18_sd.pt
BERT=$FIX/models/bert_tiny.safetensors
cli_require "$R" "$BERT"
TUI_PRESETS_DIR=${TUI_PRESETS_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/presets}
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT

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
# expect NAME COMMAND...: passes when the command succeeds.
expect() {
    cl_n=$1
    shift
    if "$@"; then cli_pass; else
        cli_fail "$cl_n" "$*"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
# start COLS ROWS ARGS...: the editor in $cli_tmp, its own config.
start() {
    c=$1 r=$2
    shift 2
    ui_start "$c" "$r" "cd '$cli_tmp' && TUI_PRESETS_DIR='$TUI_PRESETS_DIR' XDG_CONFIG_HOME='$cli_tmp/cfg' '$TUI' $*; echo EXITED=\$?; sleep 30"
}
row() { ui_screen | sed -n "$1p"; }
# the status line (the last line), trailing blanks dropped
status() { ui_screen | sed '/^ *$/d' | tail -n 1; }
# crumb NAME TEXT: the status line starts with the breadcrumb TEXT
crumb() {
    _n=30
    while [ "$_n" -gt 0 ]; do
        case $(status) in "$2  "*) cli_pass; return ;; esac
        sleep 0.1
        _n=$((_n - 1))
    done
    cli_fail "$1" "status line is '$(status)', not '$2 ...'"
}
has_row() { ui_screen | grep -F -- "$1" | grep -qF -- "$2"; }

# --- 1. the optimizer without a plan that stores it: no change ----------
start 120 32 "'$R'"
see "open" "layer4/"
ui_keys o
see "no plan: optimizer changed" "optimizer adafactor (o)"
unseen "no plan: o is no unsaved change" "[+] unsaved"
ui_keys P
see "no plan: precision changed" "precision amp (P)"
unseen "no plan: P is no unsaved change" "[+] unsaved"
ui_keys q
see "no plan: q quits without asking" "EXITED=0"
ui_stop
# a hand-written plan without estimate: neither
cat > "$cli_tmp/hand.yaml" <<YAML
version: 1
model:
  path: $R
rules:
  - freeze: "fc"
YAML
start 120 32 --plan "'$cli_tmp/hand.yaml'"
see "hand plan: open" "frozen 513,000"
ui_keys o P
see "hand plan: optimizer changed" "optimizer adafactor (o)"
unseen "hand plan: o P are no unsaved change" "[+] unsaved"
ui_keys q
see "hand plan: q quits without asking" "EXITED=0"
ui_stop

# --- 2. order, headers, bars, breadcrumb ---------------------------------
start 120 32 "'$R'"
see "open" "layer4/"
see "header: the model's bytes" "11,689,512 params, 44.6 MiB"
see "headers: the sort" "name  (sorted by checkpoint order; s sorts)"
expect "headers: the columns" sh -c "$(printf '%s' "tmux -L $UI_SOCK capture-pane -p -t $UI_SESSION | sed -n 3p | grep -q 'shape *dtype *params *size *share'")"
# rows: 4 root, then module order: conv1.weight, bn1, layer1..4, fc
expect "checkpoint order: conv1 first" has_row "$(row 5)" "conv1.weight"
expect "checkpoint order: bn1 second" has_row "$(row 6)" "bn1/"
expect "checkpoint order: fc last" has_row "$(row 11)" "fc/"
expect "share: the largest sibling's bar is full" has_row "layer4/" "[█████████]"
expect "share: a smaller one's is not" has_row "layer3/" "[██       ]"
ui_keys s
see "s: by name" "sorted by name, natural"
expect "name order: bn1 first" has_row "$(row 5)" "bn1/"
expect "name order: layer4 last" has_row "$(row 11)" "layer4/"
ui_keys s
see "s: by size" "sorted by size"
see "size: the column marked" "▾size"
expect "size order: layer4 first" has_row "$(row 5)" "layer4/"
ui_keys s
see "s: back to checkpoint order" "sorted by checkpoint order"
ui_keys '?'
see "help: the sort key" "sort: checkpoint order / name (natural) / size"
ui_keys q
unseen "help closed" "sort: checkpoint order / name"
# breadcrumb: bn1 open, its first tensor
ui_keys j
crumb "breadcrumb: conv1.weight" "conv1.weight"
ui_keys j Enter j
crumb "breadcrumb: bn1.weight" "bn1.weight"
# buffers: their elements in the params column, as --list has them
for b in running_mean num_batches_tracked; do
    want=$("$TUI" --list "$R" | awk -v n="bn1.$b" '$1==n{print $4}')
    got=$(ui_screen | awk -v n="$b" '$2==n{print $5}' | head -n 1)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then cli_pass; else
        cli_fail "buffers: bn1.$b counts as --list" "editor '$got', --list '$want'"
    fi
done

# --- 3. boxes pass the closing key on ----------------------------------
ui_keys f
ui_type 'zzz'
ui_keys Enter
see "error box: says how it closes" "Enter edits the pattern, any other key closes"
ui_keys j
unseen "error box: j closes it" "cannot apply"
crumb "error box: and j moved the cursor" "bn1.bias"
unseen "error box: no matches left" "matches 0"
ui_keys Enter
see "text box: says how it closes" "any key closes"
see "text box: the tensor" "offset  "
ui_keys k
unseen "text box: k closes it" "offset  "
crumb "text box: and k moved the cursor" "bn1.weight"
ui_keys Enter
see "text box: again" "any key closes"
ui_keys q
unseen "text box: q only closes" "any key closes"
crumb "text box: q is not passed on" "bn1.weight"

# --- 4. percentages never round to 0.0% / 100.0% -------------------------
ui_keys f
ui_type 'bn1.bias'
ui_keys Enter
see "percent: frozen share" "frozen 64 (<0.1%)"
see "percent: trainable share" "trainable 11,689,448 (>99.9%)"
see "percent: the panel" "parameters (>99.9%)"
ui_keys u q q
see "resnet: quit" "EXITED=0"
ui_stop

# --- 5. / smartcase, f's patterns, n/N ---------------------------------
all=$("$TUI" --list "$BERT" | awk 'NR>1{print $1}' | grep -ic 'layernorm')
exact=$("$TUI" --list "$BERT" | awk 'NR>1{print $1}' | grep -c 'LayerNorm')
pat=$("$TUI" --list "$BERT" | awk 'NR>1{print $1}' | grep -c '\.LayerNorm\.bias$')
start 160 40 "'$BERT'"
see "bert: open" "sorted by name, natural"
ui_keys /
ui_type 'layernorm'
see "search: lowercase finds any case" "text found (any case) in $all tensors"
ui_keys C-u
ui_type 'Layernorm'
see "search: a capital is exact" "text found (case-sensitive) in 0 tensors"
ui_keys C-u
ui_type 'LayerNorm'
see "search: exact case" "text found (case-sensitive) in $exact tensors"
ui_keys C-u
ui_type '**.LayerNorm.bias'
see "search: a pattern as f takes it" "pattern matches $pat tensors"
ui_keys Enter
see "search: Enter goes to the first" "'**.LayerNorm.bias': "
ui_keys n
ui_wait_gone "places (n next" 3
a=$(status)
a=${a%%  *}
ui_keys N
crumb "search: N goes back to the first" "embeddings.LayerNorm.bias"
ui_keys n
crumb "search: n goes on again" "$a"
expect "search: n lands on another match" sh -c "case '$a' in *.LayerNorm.bias) [ '$a' != embeddings.LayerNorm.bias ];; *) false;; esac"
ui_keys q
see "bert: quit" "EXITED=0"
ui_stop
cli_end
