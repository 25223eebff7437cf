#!/bin/sh
# hostile_st.sh: every hostile safetensors file and shard index from
# gen_hostile_st.py is refused by `tui --list`: exit status 2, nothing on
# stdout, exactly one line on stderr, naming the file and holding the
# expected words (hostile/st_manifest.txt: "path<TAB>substring").
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
dir=$FIX/hostile
manifest=$dir/st_manifest.txt
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostile_st.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}

if [ ! -x "$TUI" ] || [ ! -f "$manifest" ]; then
    echo "hostile_st: missing $TUI or $manifest"
    echo "hostile_st: 0 passed, 1 failed"
    exit 1
fi

tab=$(printf '\t')
while IFS="$tab" read -r rel want; do
    [ -n "$rel" ] || continue
    path=$dir/$rel
    "$TUI" --list "$path" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    line=$(head -n 1 "$tmp/err")
    if [ "$rc" -ne 2 ]; then
        fail "$rel" "exit status $rc, want 2 ($line)"
    elif [ -s "$tmp/out" ]; then
        fail "$rel" "wrote to stdout: $(head -c 200 "$tmp/out")"
    elif [ "$lines" -ne 1 ]; then
        fail "$rel" "$lines lines on stderr, want 1"
    elif ! printf '%s\n' "$line" | grep -qF -- "$path"; then
        fail "$rel" "message does not name $path: $line"
    elif ! printf '%s\n' "$line" | grep -qF -- "$want"; then
        fail "$rel" "message lacks '$want': $line"
    else
        passed=$((passed + 1))
    fi
done <"$manifest"

if [ $((passed + failed)) -lt 30 ]; then
    fail manifest "only $((passed + failed)) cases listed"
fi
echo "hostile_st: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
