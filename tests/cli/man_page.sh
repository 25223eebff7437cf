#!/bin/sh
# man_page.sh: docs/tui.1 renders with man-db (MANPAGER=cat, exit 0, no
# output on stderr with --warnings), and covers the program: every option
# and environment variable that `tui --help` lists, every editor key of
# the key table (tui/ui/ui_keys.c) in its EDITOR KEYS section, the exit
# statuses 0, 2 and 130, and the sections a man page needs.
#
# Env: TUI (the binary). Prints "man_page: N passed, N failed"; exits 1 on
# any failure.
TUI=${TUI:-build/tui}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PAGE=$ROOT/docs/tui.1
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}
if ! command -v man >/dev/null 2>&1 || [ ! -x "$TUI" ] || [ ! -f "$PAGE" ]; then
    echo "man_page: needs man (man-db), $TUI and $PAGE"
    echo "man_page: 0 passed, 1 failed"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/man_page.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# Render it: the path has a slash, so man reads that file. The width is
# fixed so that the checks do not depend on the terminal.
bs=$(printf '\b')
if MANPAGER=cat MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings "$PAGE" \
    > "$tmp/raw" 2> "$tmp/err"; then ok; else bad "man" "exit status $?"; fi
if [ ! -s "$tmp/err" ]; then ok; else
    bad "warnings" "$(head -n 5 "$tmp/err")"
fi
# Without overstriking, and with any Unicode hyphen or minus as '-'.
sed -e "s/.$bs//g" -e 's/‐/-/g' -e 's/−/-/g' "$tmp/raw" > "$tmp/page"
if [ "$(wc -l < "$tmp/page")" -gt 100 ]; then ok; else
    bad "render" "only $(wc -l < "$tmp/page") lines"
fi
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EDITOR KEYS" FILES ENVIRONMENT \
         "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    if grep -qx "$s" "$tmp/page"; then ok; else bad "section" "no $s"; fi
done

# Every option in --help: long ones (--name) and short ones (-x,).
"$TUI" --help > "$tmp/help" 2>&1
opts=$(grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*' "$tmp/help" | tr -d ' ,' |
       sort -u)
shorts=$(grep -oE -- '^  -[A-Za-z],' "$tmp/help" | tr -d ' ,' | sort -u)
n=0
for o in $opts $shorts; do
    n=$((n + 1))
    if grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" "$tmp/page"; then ok; else
        bad "option" "$o (from tui --help) is not in the man page"
    fi
done
if [ "$n" -ge 25 ]; then ok; else bad "help" "only $n options found in --help"; fi

# Every environment variable in --help's environment part.
envs=$(sed -n '/^environment:/,/^$/p' "$tmp/help" |
       grep -oE '^  [A-Z_][A-Z0-9_]*' | tr -d ' ')
[ -n "$envs" ] || bad "help" "no environment variables found in --help"
for e in $envs TUI_TRAIN_LIB TUI_THREADS; do
    if grep -qF -- "$e" "$tmp/page"; then ok; else
        bad "environment" "$e is not in the man page"
    fi
done

# Every named key of the editor's key table, as a tag in EDITOR KEYS:
# the tag lines there are indented 7 spaces; a tag is what comes before
# two spaces, keys separated by ", ".
sed -n '/^EDITOR KEYS$/,/^FILES$/p' "$tmp/page" |
    sed -n 's/^       \([^ ].*\)$/\1/p' | sed 's/  .*//' | tr -d '\r' |
    awk -F', ' '{ for (i = 1; i <= NF; i++) print $i }' | sort -u > "$tmp/tags"
keys=$(sed -n 's/^ *{[^,]*, act_[a-z_]*, "\([^"]*\)".*/\1/p' \
       "$ROOT/tui/ui/ui_keys.c" | sort -u)
k=0
set -f # keys such as * must not expand
for key in $keys; do
    k=$((k + 1))
    if grep -qxF -- "$key" "$tmp/tags"; then ok; else
        bad "key" "'$key' (tui/ui/ui_keys.c) is not a tag in EDITOR KEYS"
    fi
done
set +f
if [ "$k" -ge 40 ]; then ok; else bad "keys" "only $k keys in ui_keys.c"; fi

# Exit statuses.
for s in 0 2 130; do
    if sed -n '/^EXIT STATUS$/,/^EXAMPLES$/p' "$tmp/page" | grep -qE "^       $s( |$)"
    then ok; else bad "exit status" "$s is not listed"; fi
done

echo "man_page: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
