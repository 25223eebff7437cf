#!/bin/sh
# shim_guard.sh: a review of the shim's C boundary (shim/ts.h, DESIGN.md
# "The shim boundary"), from the source, without building it:
#   1. every function defined inside an `extern "C"` block of shim/*.cpp
#      has its whole body inside one try guard: the first statement is
#      TS_PROTECT(, TS_GUARD( or TS_GUARD_VOID( (shim/ts_impl.hpp) and
#      the body's last line closes it, so nothing can throw across the
#      boundary, not even a bad_alloc before the guard (static helpers
#      there run inside their callers' guards);
#   2. the functions defined there are exactly those the public headers
#      (shim/ts.h and shim/ts_*.h) declare;
#   3. every one of them is called from the C side (tui/): an entry point
#      nothing calls is dead code and goes.
# Env: none (paths from the repository root, found from this script).
# Prints "shim_guard: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin shim_guard
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$cli_tmp

# defs: "FILE:LINE NAME STATUS" for each extern "C" definition, STATUS
# "ok" or why not.
for f in "$root"/shim/*.cpp; do
    awk -v file="${f#"$root"/}" '
    /^extern "C" \{/ { inc = 1; next }
    /^\} \/\/ extern "C"/ { inc = 0; next }
    !inc { next }
    # a definition: a line at column 0 with "name(" that is not a
    # declaration, then "{" on a line of its own (static helpers are not
    # entry points: they run inside their caller'"'"'s guard)
    state == 0 && /^[A-Za-z_].*\(/ && $0 !~ /;[ \t]*$/ && $0 !~ /^static / {
        s = $0; sub(/\(.*/, "", s); n = split(s, w, /[ *]+/); name = w[n]
        line = NR; state = 1; next
    }
    state == 1 && /^\{/ { state = 2; first = ""; prev = ""; next }
    state == 2 && /^\}/ {
        st = "ok"
        if (first !~ /^    TS_(PROTECT|GUARD|GUARD_VOID)\(/)
            st = "first statement is not a guard: " first
        else if (prev !~ /\)[ \t]*$/)
            st = "the guard does not close at the end of the body: " prev
        print file ":" line " " name " " st
        state = 0; next
    }
    state == 2 { if (first == "" && $0 !~ /^[ \t]*(\/\/.*)?$/) first = $0
                 if ($0 !~ /^[ \t]*$/) prev = $0; next }
    state == 1 && !/^[ \t]/ { state = 0 }
    ' "$f"
done >"$tmp/defs"

n=0
while read -r where name st; do
    n=$((n + 1))
    if [ "$st" = ok ]; then cli_pass; else cli_fail "$where $name" "$st"; fi
done <"$tmp/defs"
# the parse found the entry points (a change of layout must not make
# this review pass by finding none)
cli_at_least 20 "extern \"C\" definitions found"

# 2. defined == declared
sed -n 's/^[A-Za-z_][A-Za-z0-9_ *]*[ *]\(ts_[a-z0-9_]*\)(.*/\1/p' "$root"/shim/ts*.h |
    sort -u >"$tmp/declared"
cut -d' ' -f2 "$tmp/defs" | sort -u >"$tmp/defined"
if cmp -s "$tmp/declared" "$tmp/defined" && [ -s "$tmp/declared" ]; then
    cli_pass
else
    cli_fail "shim/ts*.h vs definitions" "$(diff "$tmp/declared" "$tmp/defined" | grep '^[<>]' | tr '\n' ' ')"
fi

# 3. every entry point is called from tui/
while read -r name; do
    if grep -rqw "$name" "$root/tui" --include='*.c'; then
        cli_pass
    else
        cli_fail "$name" "declared in shim/ts*.h, called nowhere in tui/"
    fi
done <"$tmp/declared"

cli_end
