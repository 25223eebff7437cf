#!/bin/sh
# exports_used.sh: every function that the headers of core's frozen set,
# atomic writes and JSON strings export (tui/core/freeze.h, atomic.h,
# jsonw.h) is called by the program (tui/, outside its own .c file):
# exported code that nothing calls goes (issue 12; tests/cli/shim_guard.sh
# does the same for the shim). Static inline helpers of a header count as
# exported too. From the source; no build needed.
# Prints "exports_used: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin exports_used
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$cli_tmp
for h in freeze atomic jsonw; do
    hdr=$root/tui/core/$h.h
    # "type name(" at the start of a line (prototypes and inline bodies)
    sed -n 's/^\(static inline \)\{0,1\}[A-Za-z_][A-Za-z0-9_ *]*[ *]\([a-z][a-z0-9_]*\)(.*/\2/p' "$hdr" |
        sort -u >"$tmp/$h.names"
    [ -s "$tmp/$h.names" ] || cli_fail "$h.h" "no function found in it"
    while read -r name; do
        if grep -rlw "$name" "$root/tui" --include='*.c' --include='*.h' |
           grep -v "/tui/core/$h\.[ch]$" | grep -q .; then
            cli_pass
        else
            cli_fail "$h.h: $name" "exported, called nowhere in tui/ outside tui/core/$h.c"
        fi
    done <"$tmp/$h.names"
done
cli_end
