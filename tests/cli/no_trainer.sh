#!/bin/sh
# no_trainer.sh: `tui --headless` without its trainer library says which
# command builds it, and that command is the Makefile's (docs/training.md;
# issue 12). $TUI is copied alone into a temp folder (no libtui-train.so
# beside it, TUI_TRAIN_LIB unset):
#   - a build made with libtorch (a libtui-train.so beside $TUI): "tui:
#     the trainer is not built (no DIR/libtui-train.so): build it with
#     `make` ..."; the Makefile's default target builds the library;
#   - a build made without (TORCH=off): "tui: this build has no trainer
#     (built without libtorch): `make deps && make` ..., `make
#     TORCH=<libtorch prefix>` ..."; the Makefile has a deps target and a
#     TORCH setting;
#   - TUI_TRAIN_LIB naming a missing file: the line names it.
# Each: exit 2, one line on stderr, no output folder.
# Env: TUI, FIX. Prints "no_trainer: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin no_trainer
cli_abs_paths
root=$(cd "$(dirname "$0")/../.." && pwd)
cli_require "$FIX/train/plan_mlp.yaml"
tmp=$cli_tmp
mkdir -p "$tmp/bin"
cp "$TUI" "$tmp/bin/tui"
unset TUI_TRAIN_LIB

same() {
    if [ "$2" = "$3" ]; then cli_pass; else cli_fail "$1" "got [$2] want [$3]"; fi
}

# run NAME ENV...: the lone binary; checks exit 2, one line, no output.
run() {
    name=$1
    shift
    env "$@" "$tmp/bin/tui" --headless --plan "$FIX/train/plan_mlp.yaml" \
        -o "$tmp/out" >/dev/null 2>"$tmp/err"
    same "$name: exit" "$?" 2
    same "$name: one line" "$(wc -l <"$tmp/err" | tr -d ' ')" 1
    if [ -e "$tmp/out" ]; then cli_fail "$name: output" "created"; else cli_pass; fi
    msg=$(cat "$tmp/err")
}

run "no library"
if [ -f "$(dirname "$TUI")/libtui-train.so" ]; then
    same "with libtorch: message" "$msg" \
        "tui: the trainer is not built (no $tmp/bin/libtui-train.so): build it with \`make\` (it compiles against libtorch: a few minutes)"
    # `make` (the first target, all) builds the library
    if grep -q '^all: .*\$(TRAIN_LIB)' "$root/Makefile" &&
       grep -q '^TRAIN_LIB := \$(BUILD)/libtui-train.so\|^  TRAIN_LIB := \$(BUILD)/libtui-train.so' "$root/Makefile"; then
        cli_pass
    else
        cli_fail "with libtorch: Makefile" "its default target does not build libtui-train.so"
    fi
else
    same "without libtorch: message" "$msg" \
        "tui: this build has no trainer (built without libtorch): \`make deps && make\` builds it against Debian's libtorch-dev, \`make TORCH=<libtorch prefix>\` against another libtorch"
    if grep -q '^deps:' "$root/Makefile" && grep -q 'libtorch-dev' "$root/tests/deps.sh" &&
       grep -q '^TORCH ?= auto' "$root/Makefile"; then
        cli_pass
    else
        cli_fail "without libtorch: Makefile" "no deps target, no libtorch-dev in tests/deps.sh, or TORCH is not auto by default"
    fi
fi

run "TUI_TRAIN_LIB" TUI_TRAIN_LIB="$tmp/nope.so"
same "TUI_TRAIN_LIB: message" "$msg" \
    "tui: TUI_TRAIN_LIB=$tmp/nope.so: no such file: unset it to use the trainer beside tui"

cli_end
