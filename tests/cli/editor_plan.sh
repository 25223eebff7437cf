#!/bin/sh
# editor_plan.sh: the editor and the plans it loads and writes, in tmux
# (tests/ui/lib.sh), on real checkpoints (issue #11, points 6 and 7):
#
# - a plan made for another checkpoint (a resnet18 plan opened on the ViT):
#   the status line keeps saying so after moves, a freeze and an undo (and
#   in its short form on a narrow screen); `w` proposes a new name beside
#   it; naming the foreign plan asks, and n, Enter and Esc there do not
#   write it (byte-identical afterwards); saving under the proposed name
#   works, says where, and clears the warning; y writes over it and clears
#   it too;
# - a plan made for the same checkpoint: no warning, and `w` saves over it
#   without asking;
# - tied weights (bert_mlm_tied_sd.pt, where cls.predictions.decoder.weight
#   is bert.embeddings.word_embeddings.weight): the duplicate's row says
#   "tied → FIRST" in place of its sizes, the first says "(tied)", the
#   header counts the group once, freezing either name marks both rows,
#   Enter on the duplicate lists the group; the help names both marks.
#
# Env: TUI (the binary), FIX (the fixtures folder), TUI_PRESETS_DIR.
# Prints "editor_plan: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_plan
cli_abs_paths
if [ -z "$TUI_PRESETS_DIR" ]; then
    TUI_PRESETS_DIR=$(cd "$(dirname "$0")/../.." && pwd)/presets
fi
export TUI_PRESETS_DIR
R=$FIX/models/resnet18_sd.pt
V=$FIX/models/vit_tiny_sd.pt
B=$FIX/models/bert_mlm_tied_sd.pt
cli_require "$R" "$V" "$B"
if ! command -v tmux >/dev/null 2>&1; then
    echo "editor_plan: tmux is not installed"
    echo "editor_plan: 0 passed, 1 failed"
    exit 1
fi
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
tmp=$cli_tmp
WARN='! plan made for another checkpoint'

# check NAME COMMAND...: passes when the command succeeds.
check() {
    cl_n=$1
    shift
    if "$@"; then cli_pass; else cli_fail "$cl_n" "$*"; fi
}
# dump: the screen, indented, after a failure.
dump() { ui_screen | sed 's/^/    | /' | head -n 40; }
# see NAME TEXT: the screen shows TEXT (waits for it).
see() {
    if ui_wait "$2" 10; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        dump
    fi
}
# unseen NAME TEXT: the screen does not show TEXT (waits for it to go).
unseen() {
    if ui_wait_gone "$2" 5; then cli_pass; else
        cli_fail "$1" "screen still shows '$2'"
        dump
    fi
}
# status: the last line of the screen (the status line).
status() { ui_screen | sed -n '$p'; }
# status_has NAME TEXT: the status line holds TEXT.
status_has() {
    if status | grep -qF -- "$2"; then cli_pass; else
        cli_fail "$1" "status line lacks '$2': $(status)"
    fi
}
status_hasnt() {
    if status | grep -qF -- "$2"; then
        cli_fail "$1" "status line still shows '$2': $(status)"
    else
        cli_pass
    fi
}
# row_of TEXT: the first screen line holding TEXT.
row_of() { ui_screen | grep -F -- "$1" | head -n 1; }
# marked NAME TEXT MARK: the row holding TEXT starts with MARK ("[x]").
marked() {
    cl_r=$(row_of "$2")
    case $cl_r in
    "$3"*) cli_pass ;;
    *) cli_fail "$1" "row of '$2' is '$cl_r', want it to start with '$3'" ;;
    esac
}
# editor COLS ROWS ARGS...: runs "$TUI ARGS" in $tmp in a fresh session;
# its exit status lands in $tmp/rc.
editor() {
    cl_c=$1
    cl_r=$2
    shift 2
    rm -f "$tmp/rc"
    {
        echo "cd '$tmp'"
        printf "'%s'" "$TUI"
        for a in "$@"; do printf " '%s'" "$a"; done
        echo " 2>'$tmp/err'"
        echo "echo \$? > '$tmp/rc.tmp'; mv '$tmp/rc.tmp' '$tmp/rc'"
    } >"$tmp/run.sh"
    ui_start "$cl_c" "$cl_r" "sh $tmp/run.sh"
}
# finished NAME: the editor exited with status 0.
finished() {
    if ui_wait_file "$tmp/rc" 10 && [ "$(cat "$tmp/rc")" -eq 0 ]; then
        cli_pass
    else
        cli_fail "$1" "exit $(cat "$tmp/rc" 2>/dev/null): $(head -c 300 "$tmp/err")"
        dump
    fi
    ui_stop
}
# prompt_path PATH: clears the prompt and types PATH.
prompt_path() {
    ui_keys C-u
    ui_type "$1"
}

# ---------------------------------------------------------------------------
# 1. a resnet18 plan opened on the ViT
"$TUI" "$R" --freeze '**.bias' -o "$tmp/resnet.plan.yaml" 2>"$tmp/err"
check "make the resnet18 plan" test -s "$tmp/resnet.plan.yaml"
cp "$tmp/resnet.plan.yaml" "$tmp/resnet.orig"

editor 100 30 "$V" --plan "$tmp/resnet.plan.yaml"
see "foreign: the report at the start" "this plan on this checkpoint"
ui_keys Enter
unseen "foreign: report closed" "this plan on this checkpoint"
see "foreign: the warning after the report" "$WARN"
status_has "foreign: in the status line" "$WARN"
ui_keys j j
sleep 0.3
status_has "foreign: after moves" "$WARN"
ui_keys Space
see "foreign: a freeze" "froze "
status_has "foreign: after a freeze" "$WARN"
ui_keys u
see "foreign: undo" "undone:"
status_has "foreign: after an undo, beside the message" "$WARN"
ui_keys k Enter
sleep 0.3
ui_keys Left
sleep 0.3
status_has "foreign: after Enter and Left" "$WARN"
ui_resize 70 24
see "foreign: short form on a narrow screen" "! foreign plan"
ui_resize 100 30
see "foreign: long form again" "$WARN"

# w: the proposed name beside the foreign plan
ui_keys w
see "w: proposes a new name beside it" "save plan to: $tmp/vit_tiny_sd.plan.yaml"
see "w: says the foreign plan stays" "a new plan for this checkpoint"
# naming the foreign plan asks; n goes back with the proposal
prompt_path "$tmp/resnet.plan.yaml"
see "w: live warning on the foreign name" "this is the plan made for another checkpoint: writing over it asks first"
ui_keys Enter
see "w: asks before writing over it" "overwrite a plan made for another checkpoint?"
see "w: names the model it was made for" "resnet18_sd.pt)"
ui_keys n
unseen "w: n closes the question" "overwrite a plan made for another checkpoint?"
see "w: n goes back to the proposal" "save plan to: $tmp/vit_tiny_sd.plan.yaml"
# Enter in the question is no too
prompt_path "$tmp/resnet.plan.yaml"
ui_keys Enter
see "w: asks again" "overwrite a plan made for another checkpoint?"
ui_keys Enter
unseen "w: Enter is no" "overwrite a plan made for another checkpoint?"
see "w: back at the prompt" "save plan to: $tmp/vit_tiny_sd.plan.yaml"
# Esc in the question, then Esc in the prompt: nothing saved
prompt_path "./resnet.plan.yaml"
ui_keys Enter
see "w: the same file by another spelling asks" "overwrite a plan made for another checkpoint?"
ui_keys Escape
unseen "w: Esc in the question" "overwrite a plan made for another checkpoint?"
ui_keys Escape
see "w: Esc in the prompt" "not saved"
status_has "w: still foreign after not saving" "$WARN"
check "w: the foreign plan is byte-identical" cmp -s "$tmp/resnet.orig" "$tmp/resnet.plan.yaml"
check "w: nothing else written" test ! -e "$tmp/vit_tiny_sd.plan.yaml"

# w, Enter: saved under the proposed name; the warning goes
ui_keys w
see "w again: the proposal" "save plan to: $tmp/vit_tiny_sd.plan.yaml"
ui_keys Enter
see "w: saved under the new name" "saved $tmp/vit_tiny_sd.plan.yaml:"
unseen "w: the warning is gone" "$WARN"
check "w: the foreign plan is still byte-identical" cmp -s "$tmp/resnet.orig" "$tmp/resnet.plan.yaml"
check "w: the new plan names the ViT" grep -q 'path: .*vit_tiny_sd.pt$' "$tmp/vit_tiny_sd.plan.yaml"
"$TUI" --list --json --plan "$tmp/vit_tiny_sd.plan.yaml" >"$tmp/l.json" 2>"$tmp/l.err"
check "w: --list --plan reads the new plan" test $? -eq 0
# the next w saves there again without asking
cp "$tmp/vit_tiny_sd.plan.yaml" "$tmp/vit.before"
ui_keys Space
see "w: a change after the save" "[+] unsaved"
ui_keys w
see "w: now proposes the saved plan" "save plan to: $tmp/vit_tiny_sd.plan.yaml"
ui_keys Enter
see "w: saved over its own plan" "saved $tmp/vit_tiny_sd.plan.yaml:"
unseen "w: no question" "overwrite"
check "w: the plan changed" test -n "$(cmp "$tmp/vit.before" "$tmp/vit_tiny_sd.plan.yaml" 2>&1)"
ui_keys q
finished "foreign: quit"

# ---------------------------------------------------------------------------
# 2. y writes over the foreign plan (and then it is no longer foreign)
cp "$tmp/resnet.orig" "$tmp/other.plan.yaml"
editor 100 30 "$V" --plan "$tmp/other.plan.yaml"
see "y: the report" "this plan on this checkpoint"
ui_keys Enter
see "y: the warning" "$WARN"
ui_keys w
see "y: the proposal" "save plan to: $tmp/vit_tiny_sd.plan.yaml"
prompt_path "$tmp/other.plan.yaml"
ui_keys Enter
see "y: asks" "overwrite a plan made for another checkpoint?"
ui_keys y
see "y: saved over it" "saved $tmp/other.plan.yaml:"
unseen "y: the warning is gone" "$WARN"
check "y: the file now names the ViT" grep -q 'path: .*vit_tiny_sd.pt$' "$tmp/other.plan.yaml"
ui_keys q
finished "y: quit"

# ---------------------------------------------------------------------------
# 3. a plan made for the same checkpoint: no warning, w saves over it
"$TUI" "$V" --freeze '**.bias' -o "$tmp/same.plan.yaml" 2>"$tmp/err"
cp "$tmp/same.plan.yaml" "$tmp/same.orig"
editor 100 30 "$V" --plan "$tmp/same.plan.yaml"
see "same: open" "vit_tiny_sd.pt  pytorch"
see "same: the plan's state" "frozen 906 (1.1%)"
unseen "same: no report" "this plan on this checkpoint"
status_hasnt "same: no warning" "$WARN"
ui_keys j j Space
see "same: a change" "[+] unsaved"
status_hasnt "same: no warning after a change" "$WARN"
ui_keys w
see "same: w proposes the loaded plan" "save plan to: $tmp/same.plan.yaml"
ui_keys Enter
see "same: saved without asking" "saved $tmp/same.plan.yaml:"
unseen "same: no question" "overwrite"
check "same: the plan was written" test -n "$(cmp "$tmp/same.orig" "$tmp/same.plan.yaml" 2>&1)"
ui_keys q
finished "same: quit"

# ---------------------------------------------------------------------------
# 4. tied weights
params=$("$TUI" --summary "$B" 2>/dev/null | sed -n 's/^parameters *//p')
editor 100 60 "$B"
see "tied: header counts the group once ($params)" "52 tensors, $params params"
ui_keys '*'
see "tied: the first's row" "(tied)"
marked "tied: first trainable" "(tied)" "[ ]"
ui_keys G
see "tied: the duplicate's row" "decoder.weight                  tied → bert.embeddings.word_embeddings.weight"
marked "tied: duplicate trainable" "tied → bert.embeddings" "[ ]"
# freeze the duplicate: both rows marked
ui_keys /
ui_type decoder.weight
ui_keys Enter
see "tied: found" "'decoder.weight': 1 places"
ui_keys Space
see "tied: froze the duplicate" "froze cls.predictions.decoder"
see "tied: header frozen 32,000" "frozen 32,000 ("
marked "tied: duplicate frozen" "tied → bert.embeddings" "[x]"
ui_keys g
see "tied: top" "▾ bert_mlm_tied_sd.pt"
marked "tied: first frozen with it" "(tied)" "[x]"
ui_keys u
see "tied: undo" "frozen 0 (0.0%)"
marked "tied: first back" "(tied)" "[ ]"
# freeze the first by pattern: the duplicate follows
ui_keys f
ui_type 'bert.embeddings.word_embeddings.weight'
see "tied: live count once" "matches 1 tensors, 32,000 parameters"
ui_keys Enter
see "tied: froze the first" "froze 'bert.embeddings.word_embeddings.weight'"
see "tied: 2 changed" "2 changed (32,000 parameters)"
marked "tied: first frozen" "(tied)" "[x]"
ui_keys G
see "tied: the bottom" "tied → bert.embeddings"
marked "tied: duplicate frozen with it" "tied → bert.embeddings" "[x]"
# the pattern over both names counts the group once
ui_keys u f
ui_type '{bert.embeddings.word_embeddings,cls.predictions.decoder}.weight'
see "tied: both names, counted once" "matches 2 tensors, 32,000 parameters"
ui_keys Escape
see "tied: cancelled" "cancelled"
# Enter on the duplicate: the group
ui_keys /
ui_type decoder.weight
ui_keys Enter
sleep 0.3
ui_keys Enter
see "tied: the box" "counted once, at bert.embeddings.word_embeddings.weight"
see "tied: the group" "one tensor under 2 names; freezing one freezes all"
see "tied: the first in the box" "bert.embeddings.word_embeddings.weight  (counted here)"
ui_keys q
unseen "tied: box closed" "one tensor under 2 names"
ui_keys '?'
see "help: the tie mark" "one tensor under two names"
see "help: w" "asks before writing over a plan made"
see "help: the warning" "$WARN (status line)"
ui_keys q
unseen "help: closed" "one tensor under two names"
ui_keys q
finished "tied: quit"

# the ASCII form of a non-UTF-8 locale
rm -f "$tmp/rc"
ui_start 100 60 "cd '$tmp'; LANG=C LC_ALL=C '$TUI' '$B'; echo \$? > '$tmp/rc'"
see "ascii: open" "bert_mlm_tied_sd.pt"
ui_keys '*' G
see "ascii: the duplicate's row" "tied -> bert.embeddings.word_embeddings.weight"
ui_keys q
finished "ascii: quit"

cli_end
