#!/bin/sh
# editor_plan_name.sh: `w` proposes the default plan name of
# docs/plan-format.md ("The plan's default name"), one rule for a
# checkpoint file, a folder of shards and a shard index: STEM.plan.yaml
# beside what was opened; Enter saves there. In tmux (tests/ui/lib.sh).
#
# Env: TUI (the binary), FIX (the fixtures folder).
# Prints "editor_plan_name: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_plan_name
cli_abs_paths
R=$FIX/models/resnet18.safetensors
S=$FIX/models/vit_tiny_sharded_st
cli_require "$R" "$S/model.safetensors.index.json"
if ! command -v tmux >/dev/null 2>&1; then
    echo "editor_plan_name: tmux is not installed"
    echo "editor_plan_name: 0 passed, 1 failed"
    exit 1
fi
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
tmp=$cli_tmp
ln -s "$R" "$tmp/resnet18.safetensors"
cp -R "$S" "$tmp/shards"

dump() { ui_screen | sed 's/^/    | /' | head -n 40; }
see() {
    if ui_wait "$2" 10; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        dump
    fi
}
# save_default NAME CKPT WANT: opens CKPT in the editor, w proposes
# WANT, Enter writes it (a new file: no question), q quits with status 0.
save_default() {
    rm -f "$tmp/rc" "$tmp/$3"
    printf "cd '%s'; '%s' '%s' 2>'%s/err'; echo \$? >'%s/rc'\n" \
        "$tmp" "$TUI" "$2" "$tmp" "$tmp" >"$tmp/run.sh"
    ui_start 100 30 "sh $tmp/run.sh"
    see "$1: opened" "trainable"
    ui_keys w
    see "$1: w proposes $3" "save plan to: $3"
    ui_keys Enter
    see "$1: saved" "saved $3:"
    ui_keys q
    if ui_wait_file "$tmp/rc" 10 && [ "$(cat "$tmp/rc")" = 0 ]; then
        cli_pass
    else
        cli_fail "$1: exit" "exit $(cat "$tmp/rc" 2>/dev/null): $(head -c 300 "$tmp/err")"
    fi
    ui_stop
    if [ -s "$tmp/$3" ]; then cli_pass; else
        cli_fail "$1: written" "$tmp/$3 is missing"
    fi
}

save_default file resnet18.safetensors resnet18.plan.yaml
save_default folder shards shards.plan.yaml
save_default "folder/" shards/ shards.plan.yaml
save_default index shards/model.safetensors.index.json shards/model.plan.yaml
cli_end
