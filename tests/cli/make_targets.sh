#!/bin/sh
# make_targets.sh: `make example` writes its table to the build folder and
# touches docs/example.md only with UPDATE_DOCS=1 (checked with make -n);
# `make demo`'s last line is the full command to run next (tests/demo.sh
# ends with the --headless command in both of its branches).
# Prints "make_targets: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin make_targets
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
make -n example 2>/dev/null | grep 'example/run.sh' >"$cli_tmp/plain"
make -n example UPDATE_DOCS=1 2>/dev/null | grep 'example/run.sh' >"$cli_tmp/upd"
if [ -s "$cli_tmp/plain" ] && ! grep -q 'docs/example.md' "$cli_tmp/plain"; then
    cli_pass
else
    cli_fail "example" "make example writes docs/example.md: $(cat "$cli_tmp/plain")"
fi
if grep -q -- '--doc docs/example.md' "$cli_tmp/upd"; then cli_pass; else
    cli_fail "UPDATE_DOCS" "$(cat "$cli_tmp/upd")"
fi
last=$(grep -v '^ *$' tests/demo.sh | tail -n 1)
if [ "$last" = 'echo "  $TUI --headless --plan $plan$out"' ] &&
    ! grep -q '^ *exec ' tests/demo.sh; then
    cli_pass
else
    cli_fail "demo" "the last line printed is not the next command: $last"
fi
cli_end
