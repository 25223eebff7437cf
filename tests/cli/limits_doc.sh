#!/bin/sh
# limits_doc.sh: docs/limits.md lists only what is tested. Every row of
# its table of limits names, in its last column, at least one test file
# and the cases in it ("`tests/cli/limits.sh`: name_4096, name_4097;
# `tests/unit/test_pattern.c`: longer than 4096 bytes"); each file must
# exist and hold each case (as written: a case name, or the message a
# unit test checks). Every `tests/...` path named anywhere on the page
# exists, and every limit named in formats.md's "Limits as shipped" is
# #defined under tui/. So the page cannot drift from the tests or the
# code.
#
# Env: LIMITS_DOC (default docs/limits.md; a test of this test can point
# it at a broken copy), FORMATS_DOC (default docs/formats.md).
# Prints "limits_doc: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin limits_doc
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DOC=${LIMITS_DOC:-$ROOT/docs/limits.md}
FMT=${FORMATS_DOC:-$ROOT/docs/formats.md}
if [ ! -f "$DOC" ] || [ ! -f "$FMT" ]; then
    echo "limits_doc: missing $DOC or $FMT"
    echo "limits_doc: 0 passed, 1 failed"
    exit 1
fi

# the rows of the table whose header starts "| limit | under |"
awk '/^\| limit \| under \|/ { t = 1; next }
     t && /^\|---/ { next }
     t && /^\|/ { print; next }
     t { exit }' "$DOC" >"$cli_tmp/rows"
nrows=$(wc -l <"$cli_tmp/rows" | tr -d ' ')
if [ "$nrows" -ge 20 ]; then cli_pass; else
    cli_fail "table" "only $nrows rows found in $DOC"
fi
while IFS= read -r row; do
    limit=$(printf '%s\n' "$row" | awk -F '|' '{ gsub(/^ +| +$/, "", $2); print $2 }')
    tests=$(printf '%s\n' "$row" | awk -F '|' '{ gsub(/^ +| +$/, "", $(NF-1)); print $(NF-1) }')
    case $tests in
    *'`tests/'*) cli_pass ;;
    *) cli_fail "$limit" "names no test file"; continue ;;
    esac
    # one "`FILE`: case, case" per ';'-separated part
    printf '%s\n' "$tests" | tr ';' '\n' >"$cli_tmp/parts"
    while IFS= read -r part; do
        file=$(printf '%s\n' "$part" | sed -n 's/^ *`\([^`]*\)`:.*/\1/p')
        cases=$(printf '%s\n' "$part" | sed -n 's/^ *`[^`]*`: *//p')
        if [ -z "$file" ] || [ -z "$cases" ]; then
            cli_fail "$limit" "'$part' is not '\`FILE\`: case, case'"
            continue
        fi
        if [ ! -f "$ROOT/$file" ]; then
            cli_fail "$limit" "$file does not exist"
            continue
        fi
        printf '%s\n' "$cases" | tr ',' '\n' | sed 's/^ *//; s/ *$//' >"$cli_tmp/cases"
        while IFS= read -r c; do
            [ -n "$c" ] || continue
            if grep -qF -- "$c" "$ROOT/$file"; then cli_pass; else
                cli_fail "$limit" "$file has no case '$c'"
            fi
        done <"$cli_tmp/cases"
    done <"$cli_tmp/parts"
done <"$cli_tmp/rows"

# every tests/ path on the page exists
grep -oE '`tests/[^` ]+`' "$DOC" | tr -d '`' | sort -u >"$cli_tmp/paths"
while IFS= read -r f; do
    if [ -e "$ROOT/$f" ]; then cli_pass; else
        cli_fail "path" "$f (named in $(basename "$DOC")) does not exist"
    fi
done <"$cli_tmp/paths"

# every limit constant of formats.md's table is defined in the code
awk '/^## Limits as shipped/ { t = 1; next } t && /^## / { exit } t' "$FMT" |
    grep -oE '`[A-Z][A-Z0-9_]*\*?`' | tr -d '`' | sort -u >"$cli_tmp/consts"
nconst=$(wc -l <"$cli_tmp/consts" | tr -d ' ')
if [ "$nconst" -ge 10 ]; then cli_pass; else
    cli_fail "formats.md" "only $nconst limit names found"
fi
while IFS= read -r k; do
    pat="#define ${k%\*}"
    case $k in *\*) ;; *) pat="$pat " ;; esac
    if grep -rqF -- "$pat" "$ROOT/tui"; then cli_pass; else
        cli_fail "formats.md" "$k is not #defined under tui/"
    fi
done <"$cli_tmp/consts"
cli_end
