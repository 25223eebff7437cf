#!/bin/sh
# editor_small.sh: hostile-input row 23's remaining edges. The editor
# survives a window shrunk to 10x5 (and 1x1) and comes back when it grows;
# nothing that tui writes to a pipe holds an escape byte.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_small
R=$FIX/models/resnet18_sd.pt
cli_require "$R"
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT

ui_start 100 30 "'$TUI' '$R'; echo EXITED=\$?; sleep 30"
if ui_wait "resnet18_sd.pt"; then cli_pass; else cli_fail open "no header"; fi
for size in "10 5" "1 1" "20 6" "10 5"; do
    # shellcheck disable=SC2086 # two numbers
    ui_resize $size
    sleep 0.3
    if ui_alive && ! ui_screen | grep -q "EXITED="; then cli_pass; else
        cli_fail "resize to $size" "the editor ended: $(ui_screen | head -3)"
    fi
done
ui_resize 100 30
if ui_wait "layer4/"; then cli_pass; else
    cli_fail "grow again" "$(ui_screen | head -5)"; fi
ui_keys q
if ui_wait "EXITED=0"; then cli_pass; else
    cli_fail "quit after resizes" "$(ui_screen | tail -3)"; fi
ui_stop

# nothing written to a pipe holds ESC (0x1b)
for args in "--list $R" "--list --json $R" "--tree $R" "--summary $R" \
    "--presets $R" "$R"; do
    # shellcheck disable=SC2086 # the argument list
    "$TUI" $args < /dev/null > "$cli_tmp/out" 2> "$cli_tmp/err"
    if LC_ALL=C grep -q "$(printf '\033')" "$cli_tmp/out" "$cli_tmp/err"; then
        cli_fail "pipe: tui $args" "escape bytes in the output"
    else
        cli_pass
    fi
done
cli_end
