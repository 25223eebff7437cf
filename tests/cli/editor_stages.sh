#!/bin/sh
# editor_stages.sh: staged plans made in the editor, in tmux (issue #15,
# item 3). From a resnet18 plan with a train: section (conv1, bn1 and
# layer1 frozen) the keys make three stages: + asks stage 0's length and
# adds stage 1; Space on layer1 there thaws it, r sets its lr, + asks
# stage 1's length and adds stage 2, F '**' thaws the rest. Checked:
# - the tree shows the stage's set (the marks, the counts line), the
#   thaws column names the stage each row trains from;
# - the memory panel shows the stage shown and the peak over the stages,
#   each figure equal to `tui --summary --json`'s for the saved plan;
# - undo and redo of stage edits; D deletes (u brings it back); [ and ]
#   stop at the ends; presets and invert are refused on a later stage;
# - w refuses a stage that changes nothing, then saves; the CLI reads
#   the same stages back (lengths, lr, thawed counts); opened again and
#   saved again, the file is byte-identical; the trainer runs the saved
#   plan with the stage of every step as written;
# - the preset menu's computed gradual-unfreeze (stages=3) makes the
#   stages --preset makes, and one u takes them back.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_stages
cli_abs_paths
T=$FIX/train
cli_require "$T/plan_resnet_adamw.yaml" "$T/resnet18.ts.pt" \
    "$T/resnet18.init.safetensors" "$T/images.safetensors"
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
tmp=$cli_tmp
for f in resnet18.init.safetensors resnet18.ts.pt images.safetensors; do
    ln -s "$T/$f" "$tmp/$f"
done
sed 's/^  epochs: 2$/  max_steps: 6/' "$T/plan_resnet_adamw.yaml" \
    >"$tmp/base.yaml"
grep -q 'max_steps: 6' "$tmp/base.yaml" || cli_fail setup "no max_steps"

see() {
    if ui_wait "$2" 5; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        ui_screen | sed 's/^/    | /' | head -n 45
    fi
}
# row NAME: the screen line of the tree row NAME ("layer1/").
row() { ui_screen | grep -F -- " $1 " | head -n 1; }
# thaws NAME: that row's thaws column (the field before the share bar).
thaws() { row "$1" | sed 's/ *\[[^]]*\] *$//' | awk '{print $NF}'; }
# check_thaws WHAT ROW WANT: the row's thaws column becomes WANT.
_thaws_is() { [ "$(thaws "$1")" = "$2" ]; }
check_thaws() {
    if _ui_poll 5 _thaws_is "$2" "$3"; then cli_pass; else
        cli_fail "thaws column, $1: $2" "'$(thaws "$2")', want '$3'"
    fi
}
start() {
    ui_start 150 44 "cd '$tmp' && '$TUI' --plan '$1'; echo EXITED=\$?; sleep 30"
}
# panel_total: the stage shown's total in the memory panel
panel_total() {
    ui_screen | grep '^total ' | sed 's/\]/]\n/' | sed -n 2p |
        sed 's/^ *//; s/ *\[.*//'
}

start "$tmp/base.yaml"
see "open" "layer1/"
ui_keys +
see "+ asks stage 0's length" "length of stage 0"
ui_type "2"
ui_keys Enter
see "+ adds stage 1 and shows it" "stage 1 of 2: to the end"
see "the panel names the stage" "stage 1 ([ ])"
# layer1 is frozen in stage 1 too (from stage 0); Space thaws it there
ui_keys g
for _ in 1 2 3 4; do ui_keys Down; done
see "cursor on layer1" "layer1/"
if row "layer1/" | grep -q '^\[x\]'; then cli_pass; else
    cli_fail "stage 1 starts from stage 0's set" "$(row layer1/)"
fi
ui_keys Space
see "Space in stage 1 thaws layer1" "unfroze layer1"
if ui_wait "[ ]   ▸ layer1/" 3 || row "layer1/" | grep -q '^\[ \]'; then
    cli_pass
else
    cli_fail "the tree shows stage 1's set" "$(row layer1/)"
fi
check_thaws "unfroze layer1" "layer1/" 1
check_thaws "unfroze layer1" "layer2/" 0
check_thaws "unfroze layer1" "conv1.weight" -
ui_keys r
see "r asks the lr" "lr of what stage 1 thaws"
ui_type "abc"
ui_keys Enter
see "r: not a number" "'abc' is not an lr"
ui_keys r
ui_type "1e-4"
ui_keys Enter
see "r sets the lr" "stage 1 of 2: to the end, lr 0.0001"
# stage 2: + asks stage 1's length (it has none), F '**' thaws the rest
ui_keys +
see "+ asks stage 1's length" "length of stage 1"
ui_type "0"
ui_keys Enter
see "a length is positive" "'0' is not a length"
ui_keys +
ui_type "2 steps"
ui_keys Enter
see "stage 2 added" "stage 2 of 3: to the end"
# w now: stage 2 changes nothing yet
ui_keys w
see "w refuses an empty stage" "stage 2 changes nothing"
ui_keys Escape
ui_keys p
see "presets refused on a later stage" "presets set the plan's own rules"
ui_keys i
see "invert refused on a later stage" "invert works on the plan's own set"
ui_keys F
ui_type '**'
ui_keys Enter
see "F in stage 2" "unfroze '**'"
check_thaws "F '**'" "conv1.weight" 2
check_thaws "F '**'" "bn1/" 2
check_thaws "F '**'" "layer1/" 1
# undo and redo of a stage rule
ui_keys u
check_thaws "undone" "conv1.weight" -
ui_keys C-r
check_thaws "redone" "conv1.weight" 2
# [ and ] stop at the ends
ui_keys ]
see "] at the last stage" "stage 2 is the last"
ui_keys '['
see "[ shows stage 1" "stage 1 of 3: 2 steps, lr 0.0001"
ui_keys '['
see "[ shows stage 0" "stage 0 of 3: 2 steps"
ui_keys '['
see "[ at stage 0" "stage 0 is the first"
if row "layer1/" | grep -q '^\[x\]'; then cli_pass; else
    cli_fail "stage 0 shows the plan's own set" "$(row layer1/)"
fi
# D: not on stage 0; on stage 2 it asks, u brings it back
ui_keys D
see "D refused on stage 0" "stage 0 is the plan's own set"
ui_keys ] ]
see "at stage 2" "stage 2 of 3: to the end"
ui_keys D
see "D asks" "delete stage 2 and its 1 rule?"
ui_keys y
see "D deletes" "deleted: stage 1 of 2"
ui_keys u
see "u brings the stage back" "stage 2 of 3: to the end"
check_thaws "stage back" "conv1.weight" 2

# the per-stage memory against --summary of the saved plan
ui_keys w
see "w asks the path" "save plan to:"
ui_keys C-u
ui_type "$tmp/staged.yaml"
ui_keys Enter
ui_wait_file "$tmp/staged.yaml" 5
see "saved" "saved"
if [ -s "$tmp/staged.yaml" ]; then cli_pass; else cli_fail save "no file"; fi
json=$("$TUI" --summary --plan "$tmp/staged.yaml" --json)
stage_field() { # K FIELD
    printf '%s' "$json" | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
print(d['stages'][$1].get('$2', '-'))"
}
human() { # bytes as the editor prints them (core/human.c, via --summary)
    /usr/bin/python3 -c "
b = $1
u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
i = 0
v = float(b)
while v >= 1024 and i < 4:
    v /= 1024; i += 1
print('%d B' % b if i == 0 else '%.1f %s' % (v, u[i]))"
}
for k in 2 1 0; do
    [ "$k" = 2 ] || ui_keys '['
    see "stage $k shown" "stage $k of 3"
    want=$(human "$(stage_field "$k" total_bytes)")
    if ui_wait "$want" 3 && [ "$(panel_total)" = "$want" ]; then cli_pass
    else
        cli_fail "panel total of stage $k" "'$(panel_total)', --summary $want"
    fi
done
peak=$(printf '%s' "$json" | /usr/bin/python3 -c "
import json, sys
s = json.load(sys.stdin)['stages']
k = max(range(len(s)), key=lambda i: s[i]['total_bytes'])
print(k, s[k]['total_bytes'])")
pk=${peak% *}
see "the peak over stages" "peak $(human "${peak#* }") at stage $pk"
got="$(stage_field 0 steps) $(stage_field 1 steps) $(stage_field 1 lr) \
$(stage_field 1 thaws) $(stage_field 2 thaws) $(stage_field 2 steps)"
if [ "$got" = "2 2 0.0001 12 3 -" ]; then cli_pass; else
    cli_fail "--summary reads the stages back" "$got"
fi
ui_keys q
see "quit" "EXITED=0"
ui_stop

# opened again and saved again: the same bytes
cp "$tmp/staged.yaml" "$tmp/before.yaml"
start "$tmp/staged.yaml"
see "reopen" "stage 0 of 3: 2 steps"
check_thaws "stage 0 of 3" "layer1/" 1
ui_keys ] ]
see "reopened stage 2" "stage 2 of 3: to the end"
ui_keys w
see "w proposes the plan" "save plan to: $tmp/staged.yaml"
ui_keys C-u
ui_type "$tmp/again.yaml"
ui_keys Enter
ui_wait_file "$tmp/again.yaml" 5
if cmp -s "$tmp/before.yaml" "$tmp/again.yaml"; then cli_pass; else
    cli_fail "round trip" "$(diff "$tmp/before.yaml" "$tmp/again.yaml" |
                             head -n 10)"
fi
ui_keys q
ui_stop

# the staged presets in the menu: gradual-unfreeze with 3 stages, as
# --preset makes it on the command line
start "$tmp/base.yaml"
see "open for the presets" "layer1/"
ui_keys p
see "the menu lists the computed presets" "gradual-unfreeze"
see "and fine-tune" "fine-tune"
see "and layer-decay" "layer-decay"
ui_keys g Down Down Down Down Down
see "gradual-unfreeze's preview" "10 stages of 1 epoch: fc, then layer4.1"
ui_keys Enter
see "its parameters" "epochs=1 steps=0 stages=0"
ui_keys C-u
ui_type "stages=3 steps=2"
see "live preview" "3 stages of 2 steps: fc, then layer4.1, then the rest"
ui_keys Enter
see "confirm" "Enter applies"
ui_keys Enter
see "applied: 3 stages" "3 stages (] shows the next)"
see "stage 0 shown" "stage 0 of 3: 2 steps"
check_thaws "gradual" "fc/" 0
check_thaws "gradual" "layer4/" 1-2
check_thaws "gradual" "conv1.weight" 2
ui_keys w
see "w asks the path" "save plan to:"
ui_keys C-u
ui_type "$tmp/gradual.yaml"
ui_keys Enter
ui_wait_file "$tmp/gradual.yaml" 5
"$TUI" "$tmp/resnet18.init.safetensors" \
    --preset gradual-unfreeze:stages=3,steps=2 -o "$tmp/cli.yaml" \
    >/dev/null 2>&1
# the stages: block, to the next top-level key
stages_of() { awk '/^stages:/ {on = 1; print; next}
                   on && /^[^ -]/ {exit} on {print}' "$1"; }
a=$(stages_of "$tmp/gradual.yaml")
b=$(stages_of "$tmp/cli.yaml")
if [ -n "$a" ] && [ "$a" = "$b" ]; then cli_pass; else
    cli_fail "the menu's stages equal --preset's" "editor: $a / cli: $b"
fi
ui_keys u
see "one undo takes the stages back" "undone"
if ui_wait_gone "stage 0 of 3" 3; then cli_pass; else
    cli_fail "undo of a staged preset" "still staged"
fi
ui_keys q
ui_stop

# the trainer runs the stages as saved
if [ -f "$(dirname "$TUI")/libtui-train.so" ]; then
    (cd "$tmp" && "$TUI" --headless --plan staged.yaml -o run \
        >"$tmp/train.out" 2>&1)
    rc=$?
    st=$(/usr/bin/python3 -c "
import json
print(' '.join(str(json.loads(l).get('stage')) for l in open('$tmp/run/metrics.jsonl')
               if '\"loss\"' in l))" 2>&1)
    if [ $rc = 0 ] && [ "$st" = "0 0 1 1 2 2" ]; then cli_pass; else
        cli_fail "the trainer runs the saved stages" \
            "rc $rc, stages '$st': $(tail -n 3 "$tmp/train.out")"
    fi
else
    cli_skip trainer "this build has no trainer"
fi
cli_end
