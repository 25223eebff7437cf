#!/bin/sh
# bench_header.sh: hostile-input row 7 as a speed figure: a safetensors
# header of 1,000,000 one-byte tensors (68 MB of JSON, under the 100 MB
# header cap), opened by `tui --summary` and by the plain Python route
# (read the header, json.loads it, keep name, dtype and shape), RUNS
# times each in alternation; prints the median seconds and the largest
# peak RSS of each, and their ratio. The functional side (every tensor
# counted, memory bounded) is tests/cli/header_bloat.sh.
#
# Usage: sh tests/bench/bench_header.sh [OUT.md]  (env TUI, PYTHON, BUILD,
# RUNS: default 5). The file is cached in $BUILD/bench/. Exits 1 when a
# run fails.
BUILD=${BUILD:-build}
TUI=${TUI:-$BUILD/tui}
PYTHON=${PYTHON:-/usr/bin/python3}
RUNS=${RUNS:-5}
out_md=${1:-}
mkdir -p "$BUILD/bench" || exit 1
f=$BUILD/bench/million.safetensors
if [ ! -s "$f" ]; then
    "$PYTHON" - "$f" <<'PY' || exit 1
import struct, sys
n = 1000000
h = ("{" + ",".join('"t%d":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}'
                    % (i, i, i + 1) for i in range(n)) + "}").encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(sys.argv[1] + ".tmp", "wb") as out:
    out.write(struct.pack("<Q", len(h)) + h)
    out.truncate(8 + len(h) + n)
import os
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
PY
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_header.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/route.py" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
rows = [(k, v["dtype"], tuple(v["shape"])) for k, v in h.items()
        if k != "__metadata__"]
print(len(rows))
PY
i=0
while [ "$i" -lt "$RUNS" ]; do
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$TUI" --summary "$f" >"$tmp/o" 2>&1 ||
        { echo "bench_header: tui --summary failed: $(head -c 300 "$tmp/o")"; exit 1; }
    cat "$tmp/t" >>"$tmp/tui"
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$PYTHON" "$tmp/route.py" "$f" >"$tmp/o" 2>&1 ||
        { echo "bench_header: the Python route failed: $(head -c 300 "$tmp/o")"; exit 1; }
    cat "$tmp/t" >>"$tmp/py"
    i=$((i + 1))
done
# median seconds and largest RSS of a "secs kb" file
stat_of() {
    sort -n "$1" | awk '{ s[NR] = $1; if ($2 > m) m = $2 }
        END { n = NR; med = (n % 2) ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2;
              printf "%.2f %d\n", med, m }'
}
set -- $(stat_of "$tmp/tui") $(stat_of "$tmp/py")
{
    echo "1,000,000-tensor safetensors header (68 MB of JSON), $RUNS runs each, whole processes:"
    echo
    echo "| route | median s | peak RSS MB |"
    echo "|---|---:|---:|"
    echo "| tui --summary | $1 | $(($2 / 1024)) |"
    echo "| python json.loads loop | $3 | $(($4 / 1024)) |"
    echo
    awk -v a="$1" -v b="$3" 'BEGIN { if (a > 0) printf "tui is %.2fx the Python route\n", b / a }'
} | tee "${out_md:-$tmp/md}"
