#!/bin/sh
# rank_cache.sh: `tui --rank snr` keeps its scores in the score cache
# (issue 17, item 3; docs/inspect.md, "The score cache"), in
# $TUI_CACHE_DIR/scores/<fingerprint>.snr:
# - the first run computes every weight ("cached":0) and writes one file;
#   the second reads them all ("cached":N, "computed":0), the same
#   numbers bit for bit; text output says how many came from the cache;
# - a pattern run reads its part; a run after a pattern-only first run
#   computes the rest and the cache then holds all;
# - the checkpoint rewritten with other values and the same shapes: the
#   cache is ignored with one warning line, the scores are the new ones
#   (equal to a run with TUI_CACHE_DIR=off); the same with the file's
#   time put back (touch -r): its bytes tell;
# - a damaged cache: one warning, exit 0, the scores computed and the
#   cache written again; a folder that cannot be made: one warning, the
#   scores still printed, exit 0; TUI_CACHE_DIR=off writes nothing.
. "$(dirname "$0")/lib/common.sh"
cli_begin rank_cache
cli_abs_paths
cli_require
PY=${PYTHON:-python3}
tmp=$cli_tmp
TUI_CACHE_DIR=$tmp/cache
export TUI_CACHE_DIR
ck=$tmp/m.safetensors

write() { # write SEED: a small Llama-like safetensors file, F32
    "$PY" - "$ck" "$1" <<'EOF' || cli_fail setup "cannot write the checkpoint"
import json, random, struct, sys
rnd = random.Random(int(sys.argv[2]))
ts = []
for i in range(3):
    for p, s in (("self_attn.q_proj", [16, 16]), ("mlp.up_proj", [24, 16]),
                 ("input_layernorm", [16])):
        ts.append((f"model.layers.{i}.{p}.weight", s))
ts.append(("lm_head.weight", [30, 16]))
hdr, data = {}, b""
for name, shape in ts:
    n = 1
    for d in shape:
        n *= d
    b = struct.pack("<%df" % n, *(rnd.gauss(0, 1) for _ in range(n)))
    hdr[name] = {"dtype": "F32", "shape": shape,
                 "data_offsets": [len(data), len(data) + len(b)]}
    data += b
h = json.dumps(hdr).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
EOF
}

# field FILE KEY: a top-level number of a --json output
field() {
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null
}

# same_scores A B: the tensors of two --json outputs are equal
same_scores() {
    "$PY" -c 'import json,sys; a,b=(json.load(open(f))["tensors"] for f in sys.argv[1:3]); sys.exit(a!=b)' "$1" "$2"
}

rank() { # rank OUT ARGS...: --rank snr --json, stderr to OUT.err
    cl_out=$1
    shift
    "$TUI" --rank snr --json "$ck" "$@" >"$cl_out" 2>"$cl_out.err"
}

write 1
rank "$tmp/r1"
rc=$?
n=$(ls "$TUI_CACHE_DIR"/scores/*.snr 2>/dev/null | wc -l | tr -d ' ')
if [ "$rc" -eq 0 ] && [ "$(field "$tmp/r1" cached)" = 0 ] &&
   [ "$(field "$tmp/r1" computed)" = 10 ] && [ "$n" = 1 ] &&
   [ ! -s "$tmp/r1.err" ]; then cli_pass; else
    cli_fail "first run" "rc $rc, $n cache files: $(head -c 200 "$tmp/r1") $(cat "$tmp/r1.err")"; fi
case $(ls "$TUI_CACHE_DIR"/scores/) in
[0-9a-f]*.snr) [ "$(ls "$TUI_CACHE_DIR"/scores/ | head -n 1 | wc -c)" -eq 69 ] &&
    cli_pass || cli_fail "cache name" "$(ls "$TUI_CACHE_DIR"/scores/)" ;;
*) cli_fail "cache name" "$(ls -a "$TUI_CACHE_DIR"/scores/)" ;;
esac

rank "$tmp/r2"
if [ $? -eq 0 ] && [ "$(field "$tmp/r2" cached)" = 10 ] &&
   [ "$(field "$tmp/r2" computed)" = 0 ] && same_scores "$tmp/r1" "$tmp/r2" &&
   [ ! -s "$tmp/r2.err" ]; then cli_pass; else
    cli_fail "second run" "$(head -c 200 "$tmp/r2") $(cat "$tmp/r2.err")"; fi
"$TUI" --rank snr "$ck" >"$tmp/text" 2>&1
grep -q "^10 weights scored, 10 of them read from the score cache" "$tmp/text" &&
    cli_pass || cli_fail "text: from the cache" "$(tail -n 1 "$tmp/text")"
rank "$tmp/r3" 'model.layers.0.**'
[ "$(field "$tmp/r3" cached)" = 3 ] && [ "$(field "$tmp/r3" computed)" = 0 ] &&
    cli_pass || cli_fail "a pattern reads its part" "$(head -c 200 "$tmp/r3")"

# a pattern first, then the rest
rm -rf "$TUI_CACHE_DIR"
rank "$tmp/p1" '**.mlp.**'
rank "$tmp/p2"
rank "$tmp/p3"
if [ "$(field "$tmp/p1" computed)" = 3 ] && [ "$(field "$tmp/p2" cached)" = 3 ] &&
   [ "$(field "$tmp/p2" computed)" = 7 ] && [ "$(field "$tmp/p3" cached)" = 10 ] &&
   same_scores "$tmp/r1" "$tmp/p3"; then cli_pass; else
    cli_fail "a part, then the rest" "$(field "$tmp/p1" computed) $(field "$tmp/p2" cached) $(field "$tmp/p3" cached)"; fi

# other values, the same shapes
write 2
rank "$tmp/c1"
rc=$?
TUI_CACHE_DIR=off "$TUI" --rank snr --json "$ck" >"$tmp/fresh" 2>/dev/null
if [ "$rc" -eq 0 ] && [ "$(field "$tmp/c1" cached)" = 0 ] &&
   same_scores "$tmp/c1" "$tmp/fresh" && ! same_scores "$tmp/c1" "$tmp/r1" &&
   [ "$(wc -l <"$tmp/c1.err")" -eq 1 ] &&
   grep -q "^tui: warning: ignoring the score cache .*: the checkpoint changed since" "$tmp/c1.err"
then cli_pass; else
    cli_fail "a changed file" "rc $rc $(head -c 200 "$tmp/c1") $(cat "$tmp/c1.err")"; fi
rank "$tmp/c2"
[ "$(field "$tmp/c2" cached)" = 10 ] && same_scores "$tmp/c1" "$tmp/c2" &&
    cli_pass || cli_fail "the new scores cached" "$(head -c 200 "$tmp/c2")"
# the same size and time, other bytes
touch -r "$ck" "$tmp/stamp"
write 3
touch -r "$tmp/stamp" "$ck"
rank "$tmp/c3"
if [ "$(field "$tmp/c3" cached)" = 0 ] && ! same_scores "$tmp/c3" "$tmp/c2" &&
   grep -q "its bytes" "$tmp/c3.err"; then cli_pass; else
    cli_fail "other bytes, the old time" "$(head -c 200 "$tmp/c3") $(cat "$tmp/c3.err")"; fi

# a damaged cache
f=$(ls "$TUI_CACHE_DIR"/scores/*.snr)
printf 'garbage' >"$f"
rank "$tmp/d1"
rc=$?
rank "$tmp/d2"
if [ "$rc" -eq 0 ] && [ "$(field "$tmp/d1" computed)" = 10 ] &&
   [ "$(wc -l <"$tmp/d1.err")" -eq 1 ] && grep -q "ignoring the score cache" "$tmp/d1.err" &&
   [ "$(field "$tmp/d2" cached)" = 10 ] && [ ! -s "$tmp/d2.err" ]; then cli_pass; else
    cli_fail "a damaged cache" "rc $rc $(cat "$tmp/d1.err") / $(cat "$tmp/d2.err")"; fi

# a folder that cannot be made: a file where it should be
: >"$tmp/afile"
TUI_CACHE_DIR=$tmp/afile rank "$tmp/u1"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(field "$tmp/u1" computed)" = 10 ] &&
   [ "$(wc -l <"$tmp/u1.err")" -eq 1 ] &&
   grep -q "^tui: warning: score cache not written: " "$tmp/u1.err"; then cli_pass; else
    cli_fail "an unwritable folder" "rc $rc $(cat "$tmp/u1.err")"; fi

# off
TUI_CACHE_DIR=off rank "$tmp/o1"
rc=$?
[ "$rc" -eq 0 ] && [ ! -e "$tmp/off" ] && [ ! -e "$(pwd)/off" ] &&
    [ ! -s "$tmp/o1.err" ] && cli_pass || cli_fail "off" "rc $rc $(cat "$tmp/o1.err")"
cli_end
