#!/bin/sh
# demo_next.sh: `make demo`'s last line is exactly what to run next
# (tests/demo.sh, without a terminal: the tree, then the commands). With
# no run yet it is `TUI --headless --plan PLAN`; once the plan's run
# folder (runs/demo) holds a run, that command would stop with "holds a
# run already", so the last line names a new folder (-o runs/demo-2, then
# demo-3) and the line before says why.
#
# Env: TUI (the binary), PYTHON. Needs Debian's dataset-fashion-mnist
# (make deps). Prints "demo_next: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin demo_next
cli_abs_paths
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cli_require "$ROOT/example/pretrained.safetensors" \
    /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
B=$cli_tmp/build
P=$B/demo/finetune.plan.yaml
# demo RUN: the demo's output, without a terminal, into $cli_tmp/out.
demo() {
    (cd "$ROOT" && BUILD=$B TUI=$TUI sh tests/demo.sh) \
        </dev/null >"$cli_tmp/out" 2>"$cli_tmp/err"
}
# last NAME WANT: the demo ran and its last line is WANT.
last() {
    cl_rc=$?
    cl_l=$(tail -n 1 "$cli_tmp/out")
    if [ "$cl_rc" = 0 ] && [ "$cl_l" = "$2" ]; then cli_pass; else
        cli_fail "$1" "exit $cl_rc, last line '$cl_l', want '$2': $(head -c 300 "$cli_tmp/err")"
    fi
}
demo
last "first run" "  $TUI --headless --plan $P"
mkdir -p "$B/demo/runs/demo"
demo
last "after a run" "  $TUI --headless --plan $P -o $B/demo/runs/demo-2"
if grep -qF "$B/demo/runs/demo holds an earlier run" "$cli_tmp/out"; then
    cli_pass
else
    cli_fail "after a run" "no line saying why: $(tail -n 3 "$cli_tmp/out")"
fi
mkdir -p "$B/demo/runs/demo-2"
demo
last "after two runs" "  $TUI --headless --plan $P -o $B/demo/runs/demo-3"
cli_end
