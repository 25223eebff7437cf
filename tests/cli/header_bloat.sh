#!/bin/sh
# header_bloat.sh: hostile-input row 7, a safetensors header of 1,000,000
# tiny tensors (68 MB, under the 100 MB header cap) opens, with every
# tensor counted, in bounded memory: under 1.5 GB (3 GB for the ASan
# build) of peak RSS (docs/limits.md). Its time is not bounded here (no
# wall-clock bound in a functional test): `make bench` measures it
# (tests/bench/bench_header.sh).
. "$(dirname "$0")/lib/common.sh"
cli_begin header_bloat
PYTHON=${PYTHON:-/usr/bin/python3}
f=$cli_tmp/million.safetensors
"$PYTHON" - "$f" <<'PY'
import struct, sys
n = 1000000
h = ("{" + ",".join('"t%d":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}'
                    % (i, i, i + 1) for i in range(n)) + "}").encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<Q", len(h)) + h)
    out.truncate(8 + len(h) + n)
PY
limit_kb=1500000
case ${BUILD:-build} in *san*) limit_kb=3000000 ;; esac
/usr/bin/time -f "%e %M" -o "$cli_tmp/time" "$TUI" --summary "$f" \
    > "$cli_tmp/out" 2> "$cli_tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "1,000,000 (0 parameters, 1,000,000 buffers)" \
    "$cli_tmp/out"; then cli_pass; else
    cli_fail "1M tensors" "exit $rc: $(head -c 300 "$cli_tmp/err")"; fi
read -r secs kb < "$cli_tmp/time"
echo "header_bloat: $secs s, $kb KB peak RSS"
if [ "$kb" -lt "$limit_kb" ]; then cli_pass; else
    cli_fail "memory" "$kb KB (limit $limit_kb KB)"; fi
cli_end
