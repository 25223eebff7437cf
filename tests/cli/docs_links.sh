#!/bin/sh
# docs_links.sh: the docs link only inside the repository: no
# `../shared` path in README.md or docs/, every relative markdown link
# names a file that exists, docs/plan-format.md links patterns.md, and
# "the seed article" is explained in docs/tutorial.md and linked there
# wherever else it is named.
# Prints "docs_links: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin docs_links
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if grep -n '\.\./shared' "$ROOT/README.md" "$ROOT"/docs/*.md "$ROOT/docs/tui.1" >"$cli_tmp/shared"; then
    cli_fail "../shared" "$(head -n 3 "$cli_tmp/shared")"
else
    cli_pass
fi
for f in "$ROOT/README.md" "$ROOT"/docs/*.md; do
    d=$(dirname "$f")
    grep -oE '\]\([^)#]+(#[^)]*)?\)' "$f" | sed -e 's/^](//' -e 's/)$//' -e 's/#.*//' |
        grep -vE '^(https?|mailto):' | grep -v '^$' | sort -u >"$cli_tmp/links"
    while read -r l; do
        if [ -e "$d/$l" ]; then cli_pass; else
            cli_fail "$(basename "$f") link" "$l does not exist"
        fi
    done <"$cli_tmp/links"
done
if grep -q '](patterns.md' "$ROOT/docs/plan-format.md"; then cli_pass; else
    cli_fail "plan-format" "does not link patterns.md"
fi
# "the seed article" is explained once (docs/tutorial.md), and every other
# page that names it links there; the editor's preset texts never name it
if grep -q 'The \*seed article\* is' "$ROOT/docs/tutorial.md"; then cli_pass; else
    cli_fail "seed article" "docs/tutorial.md does not explain it"
fi
for f in "$ROOT/README.md" "$ROOT"/docs/*.md; do
    [ "$(basename "$f")" = tutorial.md ] && continue
    if grep -qiE "seed (article|recipe)|seed-style|the seed's" "$f" &&
        ! grep -q 'tutorial\.md' "$f"; then
        cli_fail "seed article" "$(basename "$f") names it without linking tutorial.md"
    else
        cli_pass
    fi
done
if grep -li 'seed' "$ROOT"/presets/*.yaml >"$cli_tmp/seedp"; then
    cli_fail "seed article" "preset texts name it: $(cat "$cli_tmp/seedp" | tr '\n' ' ')"
else
    cli_pass
fi
cli_end
