#!/bin/sh
# fuzz_crashes.sh: every file under tests/fuzz/crashes/ is replayed
# through the tui binary by the reader its fuzz target drives (its name's
# prefix: pattern-* as --freeze PATTERN, plan-*/preset-* as --plan, the
# readers' as the CHECKPOINT of --list): exit status 0 or 2, never a
# crash, within 20 seconds. A crash file with an unknown prefix fails.
# Env: TUI, FIX. Prints "fuzz_crashes: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin fuzz_crashes
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
R18=$FIX/models/resnet18.safetensors
cli_require "$R18"
n=0
for f in "$ROOT"/tests/fuzz/crashes/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    b=$(basename "$f")
    case $b in
    pattern-*)
        pat=$(head -n 1 "$f")
        timeout 20 "$TUI" --list --allow-empty --freeze "$pat" "$R18" \
            >/dev/null 2>"$cli_tmp/err" </dev/null ;;
    plan-*|preset-*)
        timeout 20 "$TUI" --summary --plan "$f" "$R18" \
            >/dev/null 2>"$cli_tmp/err" </dev/null ;;
    safetensors-*|torchzip-*|zip-*|pickle-*|index-*)
        timeout 20 "$TUI" --list "$f" >/dev/null 2>"$cli_tmp/err" </dev/null ;;
    *)
        cli_fail "$b" "no fuzz target for this prefix"
        continue ;;
    esac
    rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then cli_pass; else
        cli_fail "$b" "exit status $rc: $(head -n 1 "$cli_tmp/err")"
    fi
done
if [ "$n" -gt 0 ]; then cli_pass; else cli_fail "crashes" "no file replayed"; fi
cli_end
