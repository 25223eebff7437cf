#!/bin/sh
# demo_tmux.sh: the README's first command, `make demo`, from a clean
# build folder, in tmux (tests/ui/lib.sh): a fresh `make BUILD=<empty
# folder> TORCH=off` (the binary; the trainer is not needed to reach the
# editor), then the demo's final step, tests/demo.sh, with that folder.
# Checks that the editor appears on the example model (its header: the
# file, the format, 62 tensors, 77,717 parameters; the stem, stage and fc
# rows) in under 120 s after the build, then does what the demo invites:
# freezes stem and stage1 (Space on their rows), saves (w, Enter), quits,
# and checks the saved plan (frozen set, train: section kept) and, where
# this build has a trainer, that `tui --headless` trains by it (2 steps,
# with $TUI: the trainer library must match its build flags).
#
# Env: TUI (a built binary: its folder's libtui-train.so is the trainer),
# PYTHON; DEMO_TMUX_NOBUILD=1 uses $TUI instead of a fresh build.
# Prints "demo_tmux: N passed, N failed"; exits 1 on any failure.
TUI=${TUI:-build/tui}
PYTHON=${PYTHON:-/usr/bin/python3}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}
need() {
    echo "demo_tmux: $1"
    echo "demo_tmux: 0 passed, 1 failed"
    exit 1
}
command -v tmux >/dev/null 2>&1 || need "tmux is not installed"
[ -x "$TUI" ] || need "missing $TUI"
[ -f "$ROOT/example/pretrained.safetensors" ] ||
    need "missing example/pretrained.safetensors (sh example/run.sh --pretrain-only)"
# shellcheck source=tests/ui/lib.sh
. "$ROOT/tests/ui/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/demo_tmux.XXXXXX") || exit 1
trap 'ui_cleanup; rm -rf "$tmp"' EXIT
B=$tmp/build
mkdir -p "$B"

# --- a clean build ---------------------------------------------------------
if [ "${DEMO_TMUX_NOBUILD:-0}" = 1 ]; then
    cp "$TUI" "$B/tui"
    ok
else
    # Not the caller's make flags (make test's SANITIZE=...): a plain build.
    if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$ROOT" \
        BUILD="$B" TORCH=off SANITIZE= OPT=-O1 > "$tmp/make.log" 2>&1 &&
       [ -x "$B/tui" ]; then ok; else
        bad "clean build" "make BUILD=$B TORCH=off failed"
        tail -n 10 "$tmp/make.log" | sed 's/^/    | /'
        echo "demo_tmux: $passed passed, $failed failed"
        exit 1
    fi
fi
TRAIN_LIB=$(dirname "$TUI")/libtui-train.so

# --- the demo's final step in tmux ---------------------------------------
start=$(date +%s)
ui_start 100 32 "cd $ROOT && BUILD=$B PYTHON=$PYTHON TUI_PRESETS_DIR=$ROOT/presets sh tests/demo.sh 2> $tmp/demo.err; echo \$? > $tmp/rc; sleep 30"
if ui_wait "77,717 params" 120; then ok; else
    bad "editor" "the editor did not appear in 120 s"
    ui_screen | sed 's/^/    | /' | head -n 40
    sed 's/^/    err| /' "$tmp/demo.err" | head -n 10
fi
end=$(date +%s)
if [ $((end - start)) -lt 120 ]; then ok; else
    bad "time" "$((end - start)) s to reach the editor"
fi
head=$(ui_screen | head -n 1)
case $head in
*"tui"*"pretrained.safetensors"*"safetensors, 62 tensors, 77,717 params"*) ok ;;
*) bad "header" "[$head]" ;;
esac
for r in "fc/" "stage1.0/" "stage2.0/" "stage3.0/" "stem/"; do
    if ui_screen | grep -qF -- "$r"; then ok; else bad "tree" "no row $r"; fi
done

# Freeze stem and stage1 with Space on their rows: the rows are sorted by
# name (fc, stage1.0, stage2.0, stage3.0, stem) under the root.
ui_keys Down Down Space
if ui_wait "froze stage1:" 5; then ok; else bad "freeze" "no 'froze stage1:'"; fi
ui_keys G Space
if ui_wait "froze stem:" 5; then ok; else bad "freeze" "no 'froze stem:'"; fi
ui_keys w
if ui_wait "save plan to:" 5; then ok; else bad "save" "no save prompt"; fi
ui_keys Enter
if ui_wait "saved " 5; then ok; else
    bad "save" "no 'saved' message"
    ui_screen | tail -n 3 | sed 's/^/    | /'
fi
ui_keys q
if ui_wait_file "$tmp/rc" 10 && [ "$(cat "$tmp/rc")" = 0 ]; then ok; else
    bad "quit" "demo.sh did not end with status 0"
fi
P=$B/demo/finetune.plan.yaml
frozen=$(sed -n '/^frozen:/,/^[a-z]/p' "$P" | grep -c '^- ')
if [ "$frozen" = 12 ]; then ok; else bad "plan" "$frozen frozen tensors, want 12"; fi
for want in "- stem.conv.weight" "- stage1.0.down.0.weight" "train:" \
            "  output: runs/demo" "  init: finetune_init.safetensors"; do
    if grep -qxF -- "$want" "$P"; then ok; else bad "plan" "no line '$want'"; fi
done

# --- and the trainer trains by it ------------------------------------------
if [ -f "$TRAIN_LIB" ]; then
    # $TUI and its trainer: built with the same flags (ASan or not).
    if OMP_WAIT_POLICY=PASSIVE "$TUI" --headless --plan "$P" \
        --max-steps 2 > "$tmp/train.out" 2>&1 &&
       grep -q '"frozen_unchanged":true' "$B/demo/runs/demo/report.json" &&
       grep -q '"trainable_tensors":20' "$B/demo/runs/demo/report.json"
    then ok; else
        bad "train" "tui --headless --plan $P"
        tail -n 5 "$tmp/train.out" | sed 's/^/    | /'
    fi
else
    echo "demo_tmux: no trainer next to $TUI: training not checked"
fi

echo "demo_tmux: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
