#!/bin/sh
# editor_stats.sh: the editor's S key in tmux (issue #17, item 1): the
# statistics of the selected row's values, computed in the background.
# - S on the root: the box shows the checkpoint's values merged, each
#   figure equal to `tui --stats --json`'s total (as %.6g); S on a
#   tensor, that tensor's;
# - rows holding NaN or Inf are flagged once computed (a/ and a.weight),
#   the others not (b.weight);
# - the figures are kept: S again shows them at once;
# - on a 1 GiB tensor, keys still work while it reads (the cursor
#   moves), S again cancels, and q quits at once during a job.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_stats
cli_abs_paths
cli_require
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
tmp=$cli_tmp
PY=${PYTHON:-python3}
"$PY" - "$tmp" <<'EOF' || cli_fail setup "cannot write the checkpoints"
import json, struct, sys
d = sys.argv[1]
def write(path, tensors, pad=0):
    hdr, data = {}, b""
    for name, vals, shape in tensors:
        b = struct.pack("<%df" % len(vals), *vals)
        hdr[name] = {"dtype": "F32", "shape": shape,
                     "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)
write(d + "/nan.safetensors",
      [("a.weight", [1.0, float("nan"), float("inf"), -2.0], [2, 2]),
       ("a.bias", [0.5, 0.0], [2]),
       ("b.weight", [3.0, 4.0, -1.5], [3])])
# one tensor of 1 GiB of zeros, sparse on disk
n = 1 << 28
h = json.dumps({"big.weight": {"dtype": "F32", "shape": [n],
                               "data_offsets": [0, 4 * n]},
                "small.weight": {"dtype": "F32", "shape": [1],
                                 "data_offsets": [4 * n, 4 * n + 4]}}).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(d + "/big.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    f.truncate(8 + len(h) + 4 * n + 4)
EOF

see() {
    if ui_wait "$2" "${3:-5}"; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        ui_screen | sed 's/^/    | /' | head -n 40
    fi
}
# field K FIELD: the --stats --json figure (K: total, or a tensor name)
json=$("$TUI" --stats --json "$tmp/nan.safetensors")
field() {
    printf '%s' "$json" | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
x = d['total'] if '$1' == 'total' else \
    [t for t in d['tensors'] if t['name'] == '$1'][0]
v = x['$2']
print(('%.6g' % v) if isinstance(v, float) else v)"
}
box_line() { ui_screen | grep -E "^ *\\| *$1 " | head -n 1; }
# check_box WHAT KEY LABEL...: each LABEL's figure in the box equals
# --stats's for KEY
check_box() {
    what=$1 key=$2
    shift 2
    for lab in "$@"; do
        case $lab in
        min) f=min ;; max) f=max ;; mean) f=mean ;; std) f=std ;;
        L2) f=l2 ;; NaN) f=nan ;; Inf) f=inf ;;
        esac
        want=$(field "$key" "$f")
        if ui_screen | grep -qE "$lab +$want( |\$|│)"; then cli_pass; else
            cli_fail "$what: $lab" "want $want; $(ui_screen |
                grep -E "$lab " | head -n 1)"
        fi
    done
}

ui_start 120 36 "'$TUI' '$tmp/nan.safetensors'; echo EXITED=\$?; sleep 30"
see "open" "b.weight"
ui_keys g S
see "S on the root: the box" "the whole checkpoint" 10
see "its values" "values   9 (7 finite)"
check_box "root" total min max mean std L2 NaN Inf
see "the tensors with NaN or Inf" "a.weight: 1 NaN, 1 Inf"
ui_keys Escape
# flags: a/ and not b/
if ui_wait "a/ NaN/Inf" 3; then cli_pass; else
    cli_fail "a/ flagged" "$(ui_screen | grep ' a/' | head -n 1)"
fi
if ui_screen | grep ' b\.weight' | grep -q 'NaN/Inf'; then
    cli_fail "b.weight not flagged" "$(ui_screen | grep ' b\.weight')"
else cli_pass; fi
# a tensor's own figures, at once from what was kept
ui_keys '*'
see "opened" "b.weight"
row=$(ui_screen | grep -n 'b\.weight' | head -n 1 | cut -d: -f1)
top=$(ui_screen | grep -n 'nan.safetensors' | sed -n 2p | cut -d: -f1)
ui_keys g
i=$top
while [ "$i" -lt "$row" ]; do ui_keys Down; i=$((i + 1)); done
ui_keys S
see "S on b.weight" "values   3 (3 finite)"
check_box "b.weight" b.weight min max mean std L2
ui_keys Escape
ui_keys q
see "quit" "EXITED=0"
ui_stop

# the 1 GiB tensor: keys during the job, S cancels, q quits
ui_start 120 36 "'$TUI' '$tmp/big.safetensors'; echo EXITED=\$?; sleep 30"
see "open big" "big.weight"
ui_keys g S
see "reading in the background" "statistics of the checkpoint: "
ui_keys Down
if ui_wait "statistics of" 2 && ui_screen | grep -q "small.weight"; then cli_pass
else cli_fail "keys during the job" "$(ui_screen | tail -n 2)"; fi
ui_keys S
see "S again cancels" "cancelled"
ui_keys g S
see "again" "statistics of the checkpoint: "
ui_keys q
see "q quits during a job" "EXITED=0"
ui_stop
cli_end
