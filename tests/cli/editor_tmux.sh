#!/bin/sh
# editor_tmux.sh: the interactive editor end to end, in tmux (tests/ui/
# lib.sh), on real checkpoints: open and the header numbers, navigate,
# expand and collapse, toggle a subtree, freeze by pattern (the live
# count shown before Enter, a compile error with its column), a preset
# with a parameter, the optimizer (panel numbers change), undo and redo,
# search and n, filters, sort, resize down to "too small" and back, save
# (checked with --list --json --plan, and byte-identical to the plan the
# command line writes for the same operations), save as a user preset,
# the ASCII drawing of a non-UTF-8 locale, quit asking when unsaved,
# the terminal restored (stty -g before and after) after q, Ctrl-C,
# SIGTERM, SIGHUP and SIGSEGV, and the clear errors without a terminal,
# with TERM=dumb, with TERM unset and in a 20x6 window.
#
# Env: TUI (the binary), FIX (the fixtures folder).
# Prints "editor_tmux: N passed, N failed"; exits 1 on any failure.
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
case $FIX in /*) ;; *) FIX=$(pwd)/$FIX ;; esac
if [ -z "$TUI_PRESETS_DIR" ]; then
    TUI_PRESETS_DIR=$(cd "$(dirname "$0")/../.." && pwd)/presets
fi
export TUI_PRESETS_DIR
LIB=$(cd "$(dirname "$0")/../ui" && pwd)/lib.sh
R=$FIX/models/resnet18_sd.pt
BERT=$FIX/models/bert_tiny.safetensors
passed=0
failed=0

if ! command -v tmux >/dev/null 2>&1; then
    echo "editor_tmux: tmux is not installed"
    echo "editor_tmux: 0 passed, 1 failed"
    exit 1
fi
if [ ! -x "$TUI" ] || [ ! -f "$R" ] || [ ! -f "$BERT" ]; then
    echo "editor_tmux: missing $TUI or fixtures in $FIX"
    echo "editor_tmux: 0 passed, 1 failed"
    exit 1
fi
. "$LIB"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/editor_tmux.XXXXXX") || exit 1
trap 'ui_cleanup; rm -rf "$tmp"' EXIT

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}
# expect NAME COMMAND...: passes when the command succeeds.
expect() {
    name=$1
    shift
    if "$@"; then ok; else bad "$name" "$*"; fi
}
# see NAME TEXT [SECONDS]: the screen shows TEXT (waits for it).
see() {
    if ui_wait "$2" "${3:-10}"; then
        ok
    else
        bad "$1" "screen lacks '$2'"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
# unseen NAME TEXT: the screen does not show TEXT (waits for it to go).
unseen() {
    if ui_wait_gone "$2" 5; then
        ok
    else
        bad "$1" "screen still shows '$2'"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
# row N: line N (1-based) of the screen.
row() { ui_screen | sed -n "$1p"; }

# editor COLS ROWS ARGS...: runs "$TUI ARGS" in a fresh tmux session, in
# $tmp, via a script that records stty -g before and after, the exit
# status ($tmp/rc, written last), stderr ($tmp/err) and the pid.
editor() {
    cols=$1
    rows=$2
    shift 2
    rm -f "$tmp/rc" "$tmp/err" "$tmp/before" "$tmp/after" "$tmp/pid"
    {
        echo "export TUI_PRESETS_DIR='$TUI_PRESETS_DIR'"
        echo "export XDG_CONFIG_HOME='$tmp/cfg'"
        [ -n "$EDITOR_ENV" ] && echo "export $EDITOR_ENV"
        echo "cd '$tmp'"
        echo "trap : INT"
        echo "stty -g > '$tmp/before'"
        printf '%s' "sh -c 'echo \$\$ > \"$tmp/pid\"; exec \"\$0\" \"\$@\"' '$TUI'"
        for a in "$@"; do printf " '%s'" "$a"; done
        echo " 2>'$tmp/err'"
        echo "echo \$? > '$tmp/rc.tmp'"
        echo "stty -g > '$tmp/after'"
        echo "mv '$tmp/rc.tmp' '$tmp/rc'"
    } >"$tmp/run.sh"
    ui_start "$cols" "$rows" "sh $tmp/run.sh"
}

# finished NAME WANT_RC: the editor exited with WANT_RC ("signal" for any
# status >= 128 or ASan's 1) and the terminal settings are as before.
finished() {
    if ! ui_wait_file "$tmp/rc" 10; then
        bad "$1" "the editor did not exit"
        ui_screen | sed 's/^/    | /' | head -n 40
        ui_stop
        return
    fi
    got=$(cat "$tmp/rc")
    case $2 in
    signal) if [ "$got" -ge 128 ] || [ "$got" -eq 1 ]; then ok; else
            bad "$1" "exit $got, want death by a signal"; fi ;;
    *) if [ "$got" -eq "$2" ]; then ok; else
            bad "$1" "exit $got, want $2: $(head -c 300 "$tmp/err")"; fi ;;
    esac
    if cmp -s "$tmp/before" "$tmp/after"; then
        ok
    else
        bad "$1: terminal restored" "stty -g $(cat "$tmp/before") then $(cat "$tmp/after")"
    fi
    ui_stop
}

# ---------------------------------------------------------------------------
# 1. no terminal, TERM=dumb, TERM unset: exit 2 and a clear message
"$TUI" "$R" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "no tty: exit 2" test "$rc" -eq 2
expect "no tty: message" grep -q "needs a terminal.*--list" "$tmp/err"
expect "no tty: nothing on stdout" test ! -s "$tmp/out"
expect "no tty: one line" test "$(wc -l <"$tmp/err")" -eq 1

EDITOR_ENV="TERM=dumb" editor 100 30 "$R"
if ui_wait_file "$tmp/rc" 10; then
    expect "TERM=dumb: exit 2" test "$(cat "$tmp/rc")" -eq 2
    expect "TERM=dumb: message" grep -q "TERM=dumb.*--list" "$tmp/err"
else
    bad "TERM=dumb" "did not exit"
fi
ui_stop
EDITOR_ENV="TERM=" editor 100 30 "$R"
if ui_wait_file "$tmp/rc" 10; then
    expect "TERM unset: exit 2" test "$(cat "$tmp/rc")" -eq 2
    expect "TERM unset: message" grep -q "TERM is not set.*--summary" "$tmp/err"
else
    bad "TERM unset" "did not exit"
fi
ui_stop

# ---------------------------------------------------------------------------
# 2. resnet18: open, header, navigate, expand/collapse, toggle, undo/redo
editor 100 30 "$R"
see "open: file" "resnet18_sd.pt  pytorch, 122 tensors, 11,689,512 params"
see "open: trainable" "trainable 11,689,512 (100.0%)  frozen 0 (0.0%)"
see "open: top level" "layer4/"
see "open: memory panel" "optimizer adamw (o)  precision fp32 (P)"
see "open: totals" "178.4 MiB"
expect "open: nothing unsaved" test -z "$(ui_screen | grep -F 'unsaved')"
# lines: 3 the column headers, then rows in checkpoint (module) order:
# 4 root, 5 conv1.weight (folded), 6 bn1, 7 layer1 ... 10 layer4, 11 fc
ui_keys j j j Enter
see "expand layer1" "▾ layer1/"
see "expand: children" "▸ 0/"
ui_keys Left
see "collapse layer1" "▸ layer1/"
unseen "collapse: children gone" "▸ 0/"
ui_keys Right j Enter
see "expand layer1.0 with Right, then into it" "▾ 0/"
see "layer1.0 children" "bn1/"
ui_keys h h h
see "h: close, parent, close" "▸ layer1/"
ui_keys G k Space
see "toggle layer4" "[x]   ▸ layer4/"
see "toggle: header" "frozen 8,393,728 (71.8%)"
see "toggle: unsaved mark" "[+] unsaved"
see "toggle: root partly frozen" "[~] ▾ resnet18_sd.pt"
ui_keys u
see "undo" "frozen 0 (0.0%)"
ui_keys C-r
see "redo" "frozen 8,393,728 (71.8%)"
ui_keys Space
see "toggle back" "[ ]   ▸ layer4/"
ui_keys C-r
see "nothing to redo after a new step" "nothing to redo"

# freeze by pattern: an error with its column, then the live count
ui_keys f
ui_type 'layer{1,2'
see "pattern: error" "unclosed '{' at column 6"
ui_type '}.**'
see "pattern: live count before Enter" "matches 54 tensors, 673,536 parameters (5.8%)"
expect "pattern: not applied yet" test -n "$(ui_screen | grep -F 'frozen 0 (0.0%)')"
ui_keys Enter
see "pattern: applied" "froze 'layer{1,2}.**'"
see "pattern: header" "frozen 673,536 (5.8%)"
see "pattern: rows" "[x]   ▸ layer2/"

# the optimizer changes the panel's numbers
before=$(ui_screen | grep '^optimizer ')
ui_keys o
see "optimizer: name" "optimizer adafactor (o)"
after=$(ui_screen | grep '^optimizer ')
expect "optimizer: panel numbers change" test -n "$before" -a "$before" != "$after"
ui_keys o o o o o
see "optimizer: cycles back" "optimizer adamw (o)"
ui_keys P
see "precision" "precision amp (P)"
ui_keys P P P
see "precision: cycles back" "precision fp32 (P)"

# filters and sort
ui_keys 2
see "filter frozen" "filter frozen"
unseen "filter frozen: fc hidden" "fc/"
see "filter frozen: layer1 shown" "layer1/"
ui_keys 3
see "filter trainable" "fc/"
unseen "filter trainable: layer1 hidden" "layer1/"
ui_keys 1
see "filter all" "layer1/"
ui_keys s
see "sort by name" "sort name"
expect "sort: bn1 first" test -n "$(row 5 | grep -F 'bn1/')"
ui_keys s
see "sort by size" "sort size"
expect "sort: layer4 first" test -n "$(row 5 | grep -F 'layer4/')"
ui_keys s
see "sort by checkpoint order" "sort checkpoint"
expect "sort: conv1.weight first" test -n "$(row 5 | grep -F 'conv1.weight')"

# search, n, only matches
ui_keys /
ui_type downsample
see "search: live" "text found (any case) in 18 tensors (3 places)"
ui_keys Enter
see "search: first match opened" "downsample/"
see "search: message" "'downsample': 3 places"
ui_keys n
see "search: n goes on" "▾ layer3/"
ui_keys m
see "only matches" "filter matches"
unseen "only matches: fc hidden" "fc/"
ui_keys Escape 1
see "matches cleared" "filter all"
ui_keys '?'
see "help" "freeze / unfreeze the subtree"
see "help: redo key" "^R"
ui_keys q
unseen "help closed" "freeze / unfreeze the subtree"

# save: the plan reloads, and matches the command line's
ui_keys g w
see "save: default path" "resnet18_sd.plan.yaml"
ui_keys C-u
ui_type "$tmp/ed.yaml"
ui_keys Enter
see "save: message" "saved $tmp/ed.yaml"
unseen "save: not unsaved" "[+] unsaved"
ui_keys q
finished "quit after save" 0
# the editor's steps in force: toggle layer4 (undone, redone), toggle it
# back, freeze by pattern; optimizer and precision cycled back
"$TUI" "$R" --freeze layer4 --unfreeze layer4 --freeze 'layer{1,2}.**' \
    -o "$tmp/cli.yaml" 2>/dev/null
expect "save: same plan as the command line" cmp "$tmp/ed.yaml" "$tmp/cli.yaml"
"$TUI" --list --json --plan "$tmp/ed.yaml" >"$tmp/ed.json" 2>"$tmp/ed.err"
expect "save: --list --json --plan reads it" test $? -eq 0
n=$(grep -c '"kind": "parameter", "trainable": false' "$tmp/ed.json")
expect "save: 27 frozen tensors in the listing ($n)" test "$n" -eq 27

# reopen the plan: the state is back, nothing unsaved; a change then q
# asks first
editor 100 30 --plan "$tmp/ed.yaml" "$R"
see "plan: reopened" "frozen 673,536 (5.8%)"
expect "plan: nothing unsaved" test -z "$(ui_screen | grep -F 'unsaved')"
ui_keys i
see "invert" "frozen 11,015,976 (94.2%)"
ui_keys q
see "quit asks when unsaved" "The plan has changes that are not saved."
ui_keys Escape
unseen "Esc stays" "The plan has changes"
ui_keys q
see "quit asks again" "quit without saving"
ui_keys q
finished "quit without saving" 0
expect "quit without saving: plan untouched" cmp "$tmp/ed.yaml" "$tmp/cli.yaml"

# a plan made for another checkpoint: the differences in a box
"$TUI" "$R" --freeze '**' --unfreeze fc -o "$tmp/other.yaml" 2>/dev/null
editor 100 30 --allow-empty --plan "$tmp/other.yaml" "$FIX/models/mobilenet_v3_small_bf16.pt"
see "plan report box" "this plan on this checkpoint"
see "plan report: fingerprint" "fingerprint differs"
ui_keys Enter
unseen "plan report dismissed" "this plan on this checkpoint"
ui_keys q
finished "plan report: quit" 0

# ---------------------------------------------------------------------------
# 3. a preset with a parameter (bert_tiny), compared with the command line
want=$("$TUI" --summary --preset bert-embeddings-first-n:n=1 "$BERT" 2>/dev/null |
    sed -n 's/^frozen *\([0-9,]*\) (\([0-9.]*%\)).*/frozen \1 (\2)/p')
editor 100 30 "$BERT"
see "bert: open" "200 tensors, 137,760 params"
ui_keys p
see "presets menu" "bert-embeddings-first-n"
see "presets menu: preview" "with defaults: would freeze"
ui_keys Enter
see "preset: parameter prompt" "bert-embeddings-first-n (n 0..48): n=3"
ui_keys BSpace
ui_type 1
see "preset: live preview" "bert-embeddings-first-n:n=1: would freeze 21 tensors"
ui_keys Enter
see "preset: confirm" "Enter applies"
ui_keys Enter
see "preset: applied" "preset bert-embeddings-first-n:n=1"
see "preset: same as the command line ($want)" "$want"
ui_keys W
see "save preset: name prompt" "save rules as preset named:"
ui_type mine
ui_keys Enter
see "save preset: asks with the path" "write a user preset?"
ui_keys y
see "save preset: saved" "saved preset mine"
expect "save preset: the file" grep -q 'freeze: "{bert.embeddings' "$tmp/cfg/tui/presets/mine.yaml"
ui_keys p
see "save preset: in the menu" "(user)"
ui_keys Escape u
see "preset: undo" "frozen 0 (0.0%)"
ui_keys q
finished "bert: quit" 0
expect "save preset: the command line reads it" \
    env XDG_CONFIG_HOME="$tmp/cfg" "$TUI" --summary --preset mine "$BERT" >/dev/null 2>&1

# ---------------------------------------------------------------------------
# 4. resize: smaller, too small, back
editor 100 30 "$R"
see "resize: open" "layer4/"
ui_resize 60 15
see "resize 60x15: compact panel" "memory adamw/fp32"
see "resize 60x15: tree" "layer4/"
ui_resize 20 6
see "resize 20x6: too small" "too small"
ui_resize 100 30
see "resize back: panel" "optimizer adamw (o)"
see "resize back: tree" "layer4/"
ui_keys q
finished "resize: quit" 0

EDITOR_ENV="LANG=C LC_ALL=C NO_COLOR=1" editor 100 30 "$R"
see "ASCII locale: arrows" "- resnet18_sd.pt"
see "ASCII locale: closed rows" "+ layer4/"
see "ASCII locale: bars" "[#########]"
ui_keys q
finished "ASCII locale: quit" 0

editor 20 6 "$R"
see "20x6: clear message" "terminal too small"
ui_keys q
finished "20x6: quit" 0

# ---------------------------------------------------------------------------
# 5. the terminal comes back after Ctrl-C, SIGTERM, SIGHUP and a crash
editor 100 30 "$R"
see "ctrl-c: open" "layer4/"
ui_keys C-c
finished "ctrl-c quits when nothing is unsaved" 0

editor 100 30 "$R"
see "ctrl-c unsaved: open" "layer4/"
ui_keys G Space
see "ctrl-c unsaved: toggled" "[+] unsaved"
ui_keys C-c
see "ctrl-c asks when unsaved" "quit without saving"
ui_keys q
finished "ctrl-c then q" 0

for sig in TERM HUP SEGV; do
    editor 100 30 "$R"
    see "SIG$sig: open" "layer4/"
    if ui_wait_file "$tmp/pid" 5; then
        kill -s "$sig" "$(cat "$tmp/pid")"
        finished "SIG$sig" signal
    else
        bad "SIG$sig" "no pid"
        ui_stop
    fi
done

# ---------------------------------------------------------------------------
# 6. the synthetic large sets open and answer keys
for m in bert-base-uncased:"110,106,428 params" llama3-8b:"8,030,261,248 params" \
         deepseek-v3:"684,531,386,000 params"; do
    name=${m%%:*}
    text=${m#*:}
    editor 100 30 "$FIX/synthetic/$name"
    see "$name: header" "$text" 20
    ui_keys '*' G
    see "$name: expand all, last row" "weight"
    ui_keys Space
    see "$name: toggle" "[x]"
    ui_keys g Space
    see "$name: toggle the root" "(100.0%)"
    ui_keys u u
    see "$name: undo" "frozen 0 (0.0%)"
    ui_keys q
    finished "$name: quit" 0
done

# ---------------------------------------------------------------------------
# 7. the mouse (ui_mouse sends what xterm would): a click selects the row
# (Space then toggles it), a click on the mark toggles, a click on the
# arrow opens, a click outside the tree does nothing; the wheel scrolls
editor 100 30 "$R"
see "mouse: open" "layer4/"
ui_keys s
see "mouse: sorted by name" "sort name"
# screen lines: 3 the column headers, 4 root, 5 bn1, 6 conv1.weight,
# 7 fc, 8 layer1, 9 layer2, 10 layer3, 11 layer4; the mark is columns
# 1-3, the arrow of a depth-1 row columns 7-8, the name from column 9
ui_mouse 0 20 9
ui_keys Space
see "mouse: click selects layer2, Space toggles it" "[x]   ▸ layer2/"
see "mouse: the header counts it" "frozen 525,568 (4.5%)"
expect "mouse: layer1 untouched" test -n "$(row 8 | grep -F '[ ]   ▸ layer1/')"
ui_keys u
see "mouse: undo" "frozen 0 (0.0%)"
ui_mouse 0 2 10
see "mouse: click on the mark toggles layer3" "[x]   ▸ layer3/"
see "mouse: mark click header" "frozen 2,099,712 (18.0%)"
ui_mouse 0 2 10
see "mouse: a second click toggles it back" "[ ]   ▸ layer3/"
see "mouse: back to nothing frozen" "frozen 0 (0.0%)"
ui_mouse 0 7 8
see "mouse: click on the arrow opens layer1" "▾ layer1/"
see "mouse: layer1's children" "▸ 0/"
ui_mouse 0 7 8
unseen "mouse: a second click closes it" "▸ 0/"
ui_mouse 0 2 1
ui_mouse 0 2 2
ui_mouse 0 2 3
ui_keys Space
see "mouse: clicks above the tree do nothing (Space on layer1)" \
    "[x]   ▸ layer1/"
expect "mouse: the root is not toggled" \
    test -n "$(row 4 | grep -F '[~] ▾ resnet18_sd.pt')"
ui_keys u q
ui_wait "quit without saving" 5 && ui_keys q
finished "mouse: quit" 0

editor 100 30 "$FIX/synthetic/bert-base-uncased"
see "wheel: header" "110,106,428 params" 20
ui_keys '*'
see "wheel: expanded" "▾ embeddings/"
top=$(row 4)
fourth=$(row 7)
expect "wheel: the root on top" test -n "$(echo "$top" | grep -F 'bert-base-uncased')"
ui_mouse 65 20 10
if ui_wait_gone "▾ bert-base-uncased" 5; then ok; else
    bad "wheel down: the root scrolled away" "$(row 4)"; fi
expect "wheel down: three rows ($fourth)" test "$(row 4)" = "$fourth"
ui_mouse 65 20 10
ui_mouse 65 20 10
_top_not() { test "$(row 4)" != "$1"; }
if _ui_poll 5 _top_not "$fourth"; then ok; else
    bad "wheel down again: moved on" "$(row 4)"; fi
ui_mouse 64 20 10
ui_mouse 64 20 10
ui_mouse 64 20 10
see "wheel up: the root is back" "▾ bert-base-uncased"
expect "wheel up: the same top row" test "$(row 4)" = "$top"
ui_keys q
finished "wheel: quit" 0

# ---------------------------------------------------------------------------
# 8. the ViT fixture: header from --list --json, expand, freeze by
# pattern, save, and the plan's frozen set is exactly encoder.layers.*
V=$FIX/models/vit_tiny_sd.pt
# commas N: N with thousands separators, as the header prints it
commas() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'; }
if [ -f "$V" ] && "$TUI" --list --json "$V" >"$tmp/vit.json" 2>/dev/null; then
    vt=$(sed -n 's/.*"totals": {"tensors": \([0-9]*\),.*/\1/p' "$tmp/vit.json")
    vp=$(sed -n 's/.*"parameter_numel": \([0-9]*\),.*/\1/p' "$tmp/vit.json")
    # the parameters under encoder.layers, and how many tensors
    sel=$(grep '"name": "encoder\.layers\.' "$tmp/vit.json" |
        sed -n 's/.*"numel": \([0-9]*\),.*"kind": "parameter".*/\1/p')
    fn=$(echo "$sel" | grep -c .)
    fp=$(echo "$sel" | awk '{s += $1} END {print s + 0}')
    expect "vit: --list --json totals ($vt tensors, $vp params, $fn under encoder.layers)" \
        test -n "$vt" -a -n "$vp" -a "$fn" -gt 0
    editor 100 30 "$V"
    see "vit: header = --list --json totals" \
        "vit_tiny_sd.pt  pytorch, $vt tensors, $(commas "$vp") params"
    see "vit: nothing frozen" "trainable $(commas "$vp") (100.0%)  frozen 0 (0.0%)"
    ui_keys j j j Enter
    see "vit: expand encoder" "▾ encoder/"
    see "vit: encoder's children" "▸ layers/"
    # checkpoint order: encoder.pos_embedding, then encoder.layers
    ui_keys j j Enter
    see "vit: expand encoder.layers" "▸ encoder_layer_0/"
    ui_keys f
    ui_type 'encoder.layers.**'
    see "vit: live count ($fn tensors)" "matches $fn tensors, $(commas "$fp") parameters"
    ui_keys Enter
    see "vit: applied" "froze 'encoder.layers.**'"
    see "vit: header frozen" "frozen $(commas "$fp") ("
    see "vit: rows marked" "[x]       ▸ encoder_layer_0/"
    ui_keys w C-u
    ui_type "$tmp/vit.yaml"
    ui_keys Enter
    see "vit: saved" "saved $tmp/vit.yaml"
    ui_keys q
    finished "vit: quit" 0
    "$TUI" --list --json --plan "$tmp/vit.yaml" >"$tmp/vitp.json" 2>"$tmp/vitp.err"
    expect "vit: --list --json --plan reads it" test $? -eq 0
    grep '"kind": "parameter", "trainable": false' "$tmp/vitp.json" |
        sed 's/.*"name": "\([^"]*\)".*/\1/' >"$tmp/vit.frozen"
    grep '"kind": "parameter"' "$tmp/vit.json" | grep '"name": "encoder\.layers\.' |
        sed 's/.*"name": "\([^"]*\)".*/\1/' >"$tmp/vit.want"
    expect "vit: the frozen set is encoder.layers.* ($(wc -l <"$tmp/vit.frozen"))" \
        cmp -s "$tmp/vit.frozen" "$tmp/vit.want"
    "$TUI" "$V" --freeze 'encoder.layers.**' -o "$tmp/vitcli.yaml" 2>/dev/null
    expect "vit: same plan as the command line" cmp -s "$tmp/vit.yaml" "$tmp/vitcli.yaml"
else
    bad "vit" "no $V or --list --json failed"
fi

echo "editor_tmux: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
