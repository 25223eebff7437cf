#!/bin/sh
# editor_scores.sh: the editor's score column in tmux (issue 17, item 3):
# - without a score cache there is no `score` column;
# - after `tui --rank snr`, the header has `score`; each weight's row
#   shows its score as --rank --json gives it (%.4g, Inf as "inf"), a
#   module's the highest of its matrices (its 1-D weights' Inf left
#   out), the root's the highest matrix of all;
# - a damaged cache: no column, the status line says why, the editor
#   works and quits 0.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/../ui/lib.sh"
cli_begin editor_scores
cli_abs_paths
cli_require
trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
tmp=$cli_tmp
PY=${PYTHON:-python3}
TUI_CACHE_DIR=$tmp/cache
export TUI_CACHE_DIR
ck=$tmp/m.safetensors
"$PY" - "$ck" <<'EOF' || cli_fail setup "cannot write the checkpoint"
import json, random, struct, sys
rnd = random.Random(7)
ts = []
for i in range(2):
    for p, s in (("q_proj", [12, 12]), ("up_proj", [20, 12]), ("norm", [12])):
        ts.append((f"layers.{i}.{p}.weight", s))
hdr, data = {}, b""
for name, shape in ts:
    n = 1
    for d in shape:
        n *= d
    sc = 1 + len(data) % 7  # other scales, other scores
    b = struct.pack("<%df" % n, *(sc * rnd.gauss(0, 1) for _ in range(n)))
    hdr[name] = {"dtype": "F32", "shape": shape,
                 "data_offsets": [len(data), len(data) + len(b)]}
    data += b
h = json.dumps(hdr).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
EOF

see() {
    if ui_wait "$2" "${3:-5}"; then cli_pass; else
        cli_fail "$1" "screen lacks '$2'"
        ui_screen | sed 's/^/    | /' | head -n 30
    fi
}
head_has_score() { ui_screen | grep -E '^ +name ' | grep -q ' score '; }

# no cache: no column
ui_start 120 24 "'$TUI' '$ck'; echo EXITED=\$?; sleep 30"
see "open without a cache" "layers/"
if head_has_score; then cli_fail "no cache: no column" "$(ui_screen | grep -E '^ +name ')"
else cli_pass; fi
ui_keys q
see "quit" "EXITED=0"
ui_stop

"$TUI" --rank snr --json "$ck" >"$tmp/rank.json" 2>"$tmp/rank.err" ||
    cli_fail "--rank snr" "$(cat "$tmp/rank.err")"
# want NAME: the cell for a weight, or for a module (the max of its
# matrices): %.4g of --rank's score, "inf" for Inf
want() {
    "$PY" - "$tmp/rank.json" "$1" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["tensors"]
key = sys.argv[2]
rows = [x for x in t if x["name"] == key]
if not rows:  # a module: its matrices
    rows = [x for x in t if x["name"].startswith(key + ".") and x["m"] > 1]
v = [float("inf") if x["score"] is None else x["score"] for x in rows]
m = max(v)
print("inf" if m == float("inf") else "%.4g" % m)
EOF
}
# cell LABEL: the score cell of the first row showing LABEL (the column
# before the share bar)
cell() {
    ui_screen | grep -F " $1" | head -n 1 | sed 's/\[[^]]*\] *$//' |
        awk '{print $NF}'
}

ui_start 120 24 "'$TUI' '$ck'; echo EXITED=\$?; sleep 30"
see "open with the cache" "layers/"
if head_has_score; then cli_pass; else
    cli_fail "the score header" "$(ui_screen | grep -E '^ +name ')"; fi
ui_keys '*'
see "all open" "up_proj.weight"
for r in "layers.0.q_proj.weight:q_proj.weight" "layers.1.up_proj.weight:up_proj.weight" \
         "layers.0.norm.weight:norm.weight" "layers.1:1/" "layers:layers/"; do
    name=${r%%:*}
    lab=${r#*:}
    case $lab in
    q_proj.weight|up_proj.weight|norm.weight)
        # the row of layer N: the Nth such row on screen
        n=${name#layers.}
        n=${n%%.*}
        got=$(ui_screen | grep -F " $lab" | sed -n "$((n + 1))p" |
            sed 's/\[[^]]*\] *$//' | awk '{print $NF}') ;;
    *) got=$(cell "$lab") ;;
    esac
    w=$(want "$name")
    if [ -n "$w" ] && [ "$got" = "$w" ]; then cli_pass; else
        cli_fail "score cell of $name" "got '$got', want '$w': $(ui_screen | grep -F " $lab" | head -n 2)"
    fi
done
ui_keys q
see "quit" "EXITED=0"
ui_stop

# a damaged cache
for f in "$TUI_CACHE_DIR"/scores/*.snr; do printf 'junk' >"$f"; done
ui_start 120 24 "'$TUI' '$ck'; echo EXITED=\$?; sleep 30"
see "a damaged cache: said" "ignoring the score cache"
if head_has_score; then cli_fail "a damaged cache: no column" "$(ui_screen | grep -E '^ +name ')"
else cli_pass; fi
ui_keys q
see "quit after a damaged cache" "EXITED=0"
ui_stop
cli_end
