#!/bin/sh
# hostile_pt.sh: every hostile torch.save / pickle / zip file from
# gen_hostile_torch.py is refused by `tui --list`: exit status 2, nothing
# on stdout, exactly one line on stderr, naming the file and holding the
# expected words (hostile/pt_manifest.txt: "path<TAB>substring", paths
# relative to hostile/). The files that only a running pickle could act on
# must not have created their marker file. The valid ones
# (hostile/pt_valid.txt: protocol 4, TorchScript with code) must list.
. "$(dirname "$0")/lib/common.sh"
cli_begin hostile_pt
dir=$FIX/hostile
manifest=$dir/pt_manifest.txt
valid=$dir/pt_valid.txt
marker=$dir/pt_marker_created
cli_require "$manifest" "$valid"

rm -f "$marker"
check_refusal_manifest "$dir" "$manifest"

tab=$(printf '\t')
while IFS="$tab" read -r rel name; do
    [ -n "$rel" ] || continue
    path=$dir/$rel
    "$TUI" --list "$path" >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
    rc=$?
    if [ "$rc" -ne 0 ]; then
        cli_fail "$rel" "valid file refused (exit $rc): $(head -n 1 "$cli_tmp/err")"
    elif ! grep -qF -- "$name" "$cli_tmp/out"; then
        cli_fail "$rel" "listing lacks $name"
    else
        cli_pass
    fi
done <"$valid"

if [ -e "$marker" ]; then
    cli_fail marker "$marker exists: pickle code was run"
else
    cli_pass
fi
cli_at_least 40 manifest
cli_end
