#!/bin/sh
# first_hour_cli.sh: the command line's first-hour fixes (issue #12):
# "did you mean" for unknown options, --help covers every environment
# variable of docs/tui.1 and every exit status, the headless usage line,
# --depth 0 is the root only, and a command that fails writes nothing
# (no -o file, nothing on stdout).
#
# Env: TUI, FIX. Prints "first_hour_cli: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin first_hour_cli
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
R18=$FIX/models/resnet18.safetensors
cli_require "$R18" "$ROOT/docs/tui.1"
cli_abs_paths

# expect_err LABEL WANT CMD...: exit status 2 and stderr's first line is WANT.
expect_err() {
    el_label=$1 el_want=$2
    shift 2
    "$@" >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
    el_rc=$?
    el_line=$(head -n 1 "$cli_tmp/err")
    if [ "$el_rc" -ne 2 ]; then
        cli_fail "$el_label" "exit status $el_rc, want 2"
    elif [ "$el_line" != "$el_want" ]; then
        cli_fail "$el_label" "got '$el_line', want '$el_want'"
    else
        cli_pass
    fi
}

# 1. Did you mean, for long options.
expect_err "sumary" "tui: unknown option '--sumary'; did you mean '--summary'?" \
    "$TUI" --sumary "$R18"
expect_err "frezee=" "tui: unknown option '--frezee=fc'; did you mean '--freeze'?" \
    "$TUI" --frezee=fc "$R18"
expect_err "presest" "tui: unknown option '--presest'; did you mean '--presets'?" \
    "$TUI" --presest
expect_err "far" "tui: unknown option '--qqqqqqqq'" "$TUI" --qqqqqqqq "$R18"
expect_err "no value" "tui: option '--summary' takes no value" \
    "$TUI" --summary=3 "$R18"

# 2. --help names every variable of the man page's ENVIRONMENT section,
# NO_COLOR among them, and every exit status of EXIT STATUS.
"$TUI" --help >"$cli_tmp/help" 2>&1
sed -n '/^\.SH ENVIRONMENT/,/^\.SH /p' "$ROOT/docs/tui.1" |
    grep -E '^\.(B|BR) ' | grep -oE '[A-Z][A-Z0-9_]{2,}' | sort -u \
    >"$cli_tmp/vars"
if grep -qx NO_COLOR "$cli_tmp/vars" && [ "$(wc -l <"$cli_tmp/vars")" -ge 8 ]; then
    cli_pass
else
    cli_fail "man vars" "read only: $(tr '\n' ' ' <"$cli_tmp/vars")"
fi
while read -r v; do
    if grep -qw -- "$v" "$cli_tmp/help"; then cli_pass; else
        cli_fail "help $v" "--help does not mention $v (docs/tui.1 does)"
    fi
done <"$cli_tmp/vars"
for st in 0 2 130; do
    if sed -n '/^exit status/,$p' "$cli_tmp/help" | grep -qw "$st"; then
        cli_pass
    else
        cli_fail "help exit $st" "--help's exit status omits $st"
    fi
done

# 3. The usage line after a --headless error is the headless form.
"$TUI" --headless >"$cli_tmp/out" 2>"$cli_tmp/err"
if grep -q '^usage: tui --headless --plan PLAN' "$cli_tmp/err"; then
    cli_pass
else
    cli_fail "headless usage" "$(cat "$cli_tmp/err")"
fi
"$TUI" --headless --plan x.yaml "$R18" >"$cli_tmp/out" 2>"$cli_tmp/err"
if grep -q '^usage: tui --headless --plan PLAN' "$cli_tmp/err"; then
    cli_pass
else
    cli_fail "headless usage 2" "$(cat "$cli_tmp/err")"
fi
"$TUI" --list >"$cli_tmp/out" 2>"$cli_tmp/err"
if grep -q '^usage: tui \[--list' "$cli_tmp/err"; then cli_pass; else
    cli_fail "plain usage" "$(cat "$cli_tmp/err")"
fi

# 4. --depth 0 is the root only, one line with the model's totals;
# without --depth every level; --depth 1 the top level.
"$TUI" --tree --depth 0 "$R18" >"$cli_tmp/d0" 2>&1
"$TUI" --tree --depth 1 "$R18" >"$cli_tmp/d1" 2>&1
"$TUI" --tree "$R18" >"$cli_tmp/dall" 2>&1
"$TUI" --list --json "$R18" >"$cli_tmp/list.json" 2>&1
total=$(python3 -c 'import json,sys; print(format(json.load(open(sys.argv[1]))["totals"]["parameter_numel"], ","))' "$cli_tmp/list.json")
if [ "$(wc -l <"$cli_tmp/d0")" -eq 1 ] && grep -q "(model)/  $total params" "$cli_tmp/d0"; then
    cli_pass
else
    cli_fail "depth 0" "want one root line with $total params: $(head -c 300 "$cli_tmp/d0")"
fi
n1=$(wc -l <"$cli_tmp/d1")
nall=$(wc -l <"$cli_tmp/dall")
if [ "$n1" -gt 1 ] && [ "$nall" -gt "$n1" ] && ! grep -q '^\[.\]   ' "$cli_tmp/d1"; then
    cli_pass
else
    cli_fail "depth 1/all" "depth 1: $n1 lines, all: $nall"
fi
expect_err "depth -1" "tui: --depth needs a number (0: the root only; leave --depth out for every level), got '-1'" \
    "$TUI" --tree --depth -1 "$R18"

# 5. A command that fails writes nothing: no -o file, nothing on stdout.
# no_write LABEL OUT CMD...: exit 2, OUT absent afterwards, stdout empty.
no_write() {
    nw_label=$1 nw_out=$2
    shift 2
    rm -rf "$nw_out"
    "$@" >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
    nw_rc=$?
    if [ "$nw_rc" -ne 2 ]; then
        cli_fail "$nw_label" "exit status $nw_rc, want 2 ($(head -n 1 "$cli_tmp/err"))"
    elif [ -e "$nw_out" ]; then
        cli_fail "$nw_label" "$nw_out was written"
    elif [ -s "$cli_tmp/out" ]; then
        cli_fail "$nw_label" "wrote to stdout: $(head -c 200 "$cli_tmp/out")"
    else
        cli_pass
    fi
}
P=$cli_tmp/p.yaml
no_write "export yaml" "$P" "$TUI" "$R18" --freeze fc --export yaml -o "$P"
no_write "export all frozen" "$P" "$TUI" "$R18" --freeze '**' --export axolotl -o "$P"
no_write "empty pattern" "$P" "$TUI" "$R18" --freeze fc --freeze nosuch -o "$P"
no_write "bad optimizer" "$P" "$TUI" "$R18" --freeze fc --optimizer adamq -o "$P"
no_write "bad precision" "$P" "$TUI" "$R18" --freeze fc --precision fp7 --summary -o "$P"
no_write "bad preset" "$P" "$TUI" "$R18" --preset nosuch-preset -o "$P"
no_write "missing plan" "$P" "$TUI" "$R18" --plan "$cli_tmp/none.yaml" -o "$P"
no_write "missing folder" "$cli_tmp/no/p.yaml" \
    "$TUI" "$R18" --freeze fc --export names -o "$cli_tmp/no/p.yaml"
no_write "missing folder list" "$cli_tmp/no/p.yaml" \
    "$TUI" "$R18" --freeze fc --list -o "$cli_tmp/no/p.yaml"
mkdir "$cli_tmp/ro" && chmod 555 "$cli_tmp/ro"
if [ ! -w "$cli_tmp/ro" ]; then
    no_write "read-only folder" "$cli_tmp/ro/p.yaml" \
        "$TUI" "$R18" --freeze fc --summary -o "$cli_tmp/ro/p.yaml"
fi
mkdir "$cli_tmp/dir"
"$TUI" "$R18" --freeze fc --summary -o "$cli_tmp/dir" >"$cli_tmp/out" 2>"$cli_tmp/err"
if [ $? -eq 2 ] && [ ! -s "$cli_tmp/out" ] && [ -z "$(ls "$cli_tmp/dir")" ]; then
    cli_pass
else
    cli_fail "-o folder" "$(head -n 1 "$cli_tmp/err")"
fi
# The same commands that succeed write both.
"$TUI" "$R18" --freeze fc --export names -o "$P" >"$cli_tmp/out" 2>"$cli_tmp/err"
if [ $? -eq 0 ] && [ -s "$P" ] && [ "$(sort "$cli_tmp/out" | tr '\n' ' ')" = "fc.bias fc.weight " ]; then
    cli_pass
else
    cli_fail "export + -o" "$(head -n 1 "$cli_tmp/err"); stdout $(head -c 100 "$cli_tmp/out")"
fi
cli_end
