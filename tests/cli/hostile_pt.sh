#!/bin/sh
# hostile_pt.sh: every hostile torch.save / pickle / zip file from
# gen_hostile_torch.py is refused by `tui --list`: exit status 2, nothing
# on stdout, exactly one line on stderr, naming the file and holding the
# expected words (hostile/pt_manifest.txt: "path<TAB>substring", paths
# relative to hostile/). The files that only a running pickle could act on
# must not have created their marker file. The valid ones
# (hostile/pt_valid.txt: protocol 4, TorchScript with code) must list.
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
dir=$FIX/hostile
manifest=$dir/pt_manifest.txt
valid=$dir/pt_valid.txt
marker=$dir/pt_marker_created
passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hostile_pt.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}

if [ ! -x "$TUI" ] || [ ! -f "$manifest" ] || [ ! -f "$valid" ]; then
    echo "hostile_pt: missing $TUI or $manifest"
    echo "hostile_pt: 0 passed, 1 failed"
    exit 1
fi

rm -f "$marker"
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

while IFS="$tab" read -r rel name; do
    [ -n "$rel" ] || continue
    path=$dir/$rel
    "$TUI" --list "$path" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$rel" "valid file refused (exit $rc): $(head -n 1 "$tmp/err")"
    elif ! grep -qF -- "$name" "$tmp/out"; then
        fail "$rel" "listing lacks $name"
    else
        passed=$((passed + 1))
    fi
done <"$valid"

if [ -e "$marker" ]; then
    fail marker "$marker exists: pickle code was run"
else
    passed=$((passed + 1))
fi
if [ $((passed + failed)) -lt 40 ]; then
    fail manifest "only $((passed + failed)) cases listed"
fi
echo "hostile_pt: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
