#!/bin/sh
# docs_links.sh: the docs link only inside the repository: no
# `../shared` path in README.md or docs/, every relative markdown link
# names a file that exists, and docs/plan-format.md links patterns.md.
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
cli_end
