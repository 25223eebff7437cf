#!/bin/sh
# run_skips.sh: tests/run.sh's closing line counts skips, and a skip is a
# failure unless the build excuses it. Runs the real tests/run.sh on a
# small tree of its own (three tests that skip, one of each kind, and one
# that passes), once as a build with the trainer (its .flags has
# -DTUI_TRAINER_BUILT) and once as a build without.
# Checks: the closing line "N passed, N failed, N skipped"; needs-root is
# counted as skipped in both; no-trainer is skipped only without the
# trainer and a failure with it; any other kind is a failure; the exit
# status is 1 whenever something failed.
# Prints "run_skips: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin run_skips
runsh=$(cd "$(dirname "$0")/.." && pwd)/run.sh
t=$cli_tmp/tree
mkdir -p "$t/tests/cli" "$t/tests/parity" "$t/tests/fixtures" "$t/b/tests"
cp "$runsh" "$t/tests/run.sh"
echo 'exit 0' >"$t/tests/fixtures/make.sh"
printf '%s\n' 'echo "root: skipped (needs-root): cannot mount"' \
    'echo "root: 2 passed, 0 failed"' >"$t/tests/cli/root.sh"
printf '%s\n' 'echo "notorch: skipped (no-trainer): no trainer in this build"' \
    'echo "notorch: 0 passed, 0 failed"' >"$t/tests/cli/notorch.sh"
printf '%s\n' 'echo "plain: 5 passed, 0 failed"' >"$t/tests/cli/plain.sh"

# run.sh TREE FLAGS: the closing line and the exit status, in $cli_tmp/last
run_tree() {
    printf '%s\n' "$1" >"$t/b/.flags"
    (cd "$t" && BUILD=b FIX="$t" sh tests/run.sh >"$cli_tmp/out" 2>&1)
    echo "$? $(tail -n 1 "$cli_tmp/out")" >"$cli_tmp/last"
}
expect() {
    if [ "$(cat "$cli_tmp/last")" = "$2" ]; then cli_pass; else
        cli_fail "$1" "got [$(cat "$cli_tmp/last")], want [$2]: $(cat "$cli_tmp/out")"; fi
}
run_tree "-O2 -DTUI_TRAINER_BUILT=1"
expect "with the trainer" "1 7 passed, 1 failed, 1 skipped"
if grep -q "not excused: this build has the trainer" "$cli_tmp/out"; then cli_pass
else cli_fail "with the trainer: the reason" "$(cat "$cli_tmp/out")"; fi
run_tree "-O2"
expect "without the trainer" "0 7 passed, 0 failed, 2 skipped"
printf '%s\n' 'echo "tm: skipped (tmux): no tmux"' 'echo "tm: 1 passed, 0 failed"' \
    >"$t/tests/cli/tm.sh"
run_tree "-O2"
expect "another kind" "1 8 passed, 1 failed, 2 skipped"
cli_end
