#!/bin/sh
# limits.sh: every limit of docs/formats.md "Limits as shipped" at its
# edge (docs/limits.md). Just under the limit works where that is
# feasible (else: fails for another, named reason, not the limit); just
# over gives exit status 2, exactly one stderr line naming the limit,
# within bounded time (timeout) and memory (ulimit -v and peak RSS,
# skipped for sanitizer builds, whose shadow memory needs more).
#
# Env: TUI (the binary), FIX (the fixtures folder), PYTHON (any python3;
# no torch needed), TMPDIR (about 400 MB of files, most of them sparse
# or deleted as soon as used).
# Prints "limits: N passed, N failed"; exits 1 on any failure.
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
PY=${PYTHON:-/usr/bin/python3}
passed=0
failed=0
RST=$FIX/models/resnet18.safetensors
VITTS=$FIX/models/vit_tiny_ts.pt
if [ ! -x "$TUI" ] || [ ! -f "$RST" ] || [ ! -f "$VITTS" ]; then
    echo "limits: missing $TUI or fixtures in $FIX"
    echo "limits: 0 passed, 1 failed"
    exit 1
fi
FIX=$(cd "$FIX" && pwd)
RST=$FIX/models/resnet18.safetensors
TUI=$(cd "$(dirname "$TUI")" && pwd)/$(basename "$TUI")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/limits.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
TIME_LIMIT=120               # seconds for any one run
RSS_LIMIT=2097152            # KiB of peak RSS for any one run (2 GiB)
san=0
if grep -aq __asan_init "$TUI" 2>/dev/null; then
    san=1
fi
gnutime=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
    gnutime=/usr/bin/time
fi

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}

# run ARGS...: runs tui (stdout discarded) with the time and memory
# bounds; sets rc, err (stderr text), nlines (its line count), rss (KiB,
# or 0 when unknown).
run() {
    rm -f "$tmp/rss"
    (
        if [ "$san" = 1 ]; then
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=4096"
            export ASAN_OPTIONS
        else
            ulimit -v 4194304
        fi
        if [ -n "$gnutime" ]; then
            exec $gnutime -f %M -o "$tmp/rss" timeout "$TIME_LIMIT" "$TUI" "$@"
        else
            exec timeout "$TIME_LIMIT" "$TUI" "$@"
        fi
    ) >/dev/null 2>"$tmp/err"
    rc=$?
    err=$(cat "$tmp/err")
    nlines=$(wc -l <"$tmp/err" | tr -d ' ')
    rss=0
    [ -s "$tmp/rss" ] && rss=$(tail -n 1 "$tmp/rss" | tr -dc 0-9)
    [ -n "$rss" ] || rss=0
}

bounded() {
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        bad "$1" "took more than $TIME_LIMIT s"
        return 1
    fi
    if [ "$san" = 0 ] && [ "$rss" -gt "$RSS_LIMIT" ]; then
        bad "$1" "peak RSS $rss KiB over $RSS_LIMIT KiB"
        return 1
    fi
    return 0
}

# under NAME ARGS...: the run succeeds (exit 0, nothing on stderr but
# tui's own summary lines are allowed on stdout).
under() {
    name=$1
    shift
    run "$@"
    bounded "$name" || return
    if [ "$rc" = 0 ]; then ok; else bad "$name" "exit $rc: $err"; fi
}

# notlimit NAME TEXT ARGS...: where working is not feasible, the run
# fails for another reason: exit 2, one line, and TEXT (the limit's
# message) is not in it.
notlimit() {
    name=$1
    text=$2
    shift 2
    run "$@"
    bounded "$name" || return
    if [ "$rc" = 2 ] && [ "$nlines" = 1 ] && ! printf '%s' "$err" | grep -qF -- "$text"; then
        ok
    else
        bad "$name" "exit $rc, $nlines lines: $(printf '%s' "$err" | head -c 300)"
    fi
}

# over NAME TEXT ARGS...: exit 2, exactly one stderr line, holding TEXT.
over() {
    name=$1
    text=$2
    shift 2
    run "$@"
    bounded "$name" || return
    if [ "$rc" = 2 ] && [ "$nlines" = 1 ] && printf '%s' "$err" | grep -qF -- "$text"; then
        ok
    else
        bad "$name" "exit $rc, $nlines lines, want '$text': $(printf '%s' "$err" | head -c 300 | tr '\n' ' ')$( [ ${#err} -gt 300 ] && printf ' ... %s' "$(printf '%s' "$err" | tail -c 120 | tr '\n' ' ')")"
    fi
}

cat >"$tmp/gen.py" <<'PYEOF'
import io, json, os, struct, sys, zipfile, zlib
OUT, FIX = sys.argv[1], sys.argv[2]
def p(name): return os.path.join(OUT, name)

def st(name, header, data=b"", declared=None, pad=True):
    h = json.dumps(header, separators=(",", ":")).encode() if not isinstance(header, bytes) else header
    if pad: h += b" " * ((8 - len(h) % 8) % 8)
    with open(p(name), "wb") as f:
        f.write(struct.pack("<Q", declared if declared is not None else len(h)) + h + data)

def st_padded(name, total_header):
    h = json.dumps({"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}).encode()
    with open(p(name), "wb") as f:
        f.write(struct.pack("<Q", total_header) + h)
        f.write(b" " * (total_header - len(h)))
        f.write(b"\0")

# header: exactly 100,000,000 (valid) and 100,000,001 declared
st_padded("st_header_max.safetensors", 100000000)
with open(p("st_header_over.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", 100000001) + b"{")
    f.truncate(8 + 100000001)

def one(name, shape, dt="U8", tname="w"):
    n = 1
    for x in shape: n *= x
    st(name, {tname: {"dtype": dt, "shape": shape, "data_offsets": [0, n]}}, b"\0" * n)
one("st_dim_2p53_under.safetensors", [2**53 - 1, 0])
one("st_dim_2p53_over.safetensors", [2**53, 0])
one("st_name_4096.safetensors", [1], tname="n" * 4096)
one("st_name_4097.safetensors", [1], tname="n" * 4097)
one("st_dims_64.safetensors", [1] * 64)
one("st_dims_65.safetensors", [1] * 65)
def meta(name, k):
    st(name, {"__metadata__": {"k%d" % i: "v" for i in range(k)},
              "w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\0")
meta("st_meta_100000.safetensors", 100000)
meta("st_meta_100001.safetensors", 100001)

# index: size 100,000,000 (valid, padded) and 100,000,001 (sparse)
os.makedirs(p("idx_max"), exist_ok=True)
st("idx_max/model-00001-of-00001.safetensors",
   {"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\0")
j = json.dumps({"weight_map": {"w": "model-00001-of-00001.safetensors"}}).encode()
with open(p("idx_max/model.safetensors.index.json"), "wb") as f:
    f.write(j + b" " * (100000000 - len(j)))
os.makedirs(p("idx_over"), exist_ok=True)
with open(p("idx_over/model.safetensors.index.json"), "wb") as f:
    f.write(b"{")
    f.truncate(100000001)
def idx(d, wm):
    os.makedirs(p(d), exist_ok=True)
    with open(p(d + "/model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": wm}, f, separators=(",", ":"))
idx("idx_shards_100000", {"t%d" % i: "s%d.safetensors" % i for i in range(100000)})
idx("idx_shards_100001", {"t%d" % i: "s%d.safetensors" % i for i in range(100001)})
idx("idx_tensors_4000001", {"t%d" % i: "s" for i in range(4000001)})
def uni(s):
    b = s.encode(); return b"X" + struct.pack("<I", len(b)) + b
def glob(mod, name): return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"
def binint(n): return b"J" + struct.pack("<i", n)
def tensor(key="0", numel=1):
    t = glob("torch._utils", "_rebuild_tensor_v2") + b"("
    t += b"(" + uni("storage") + glob("torch", "FloatStorage") + uni(key) + uni("cpu") + binint(numel) + b"tQ"
    t += binint(0) + b"(" + binint(numel) + b"t" + b"(" + binint(1) + b"t"
    t += b"\x89" + glob("collections", "OrderedDict") + b")R" + b"tR"
    return t
def pt(name, extra=b"", body=None):
    """state dict {'w': tensor} + extra SETITEM pairs (key, value bytes)."""
    pk = body if body is not None else b"\x80\x02}" + uni("w") + tensor() + b"s" + extra + b"."
    with zipfile.ZipFile(p(name), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pk)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", b"\0" * 4)
        z.writestr("archive/version", "3\n")
# pickle stack: dict + key on the stack, then N Nones (MARK is not a value)
def stack(n): return uni("k") + b"(" + b"N" * n + b"ts"
pt("pk_stack_100000.pt", stack(99998))
pt("pk_stack_100001.pt", stack(99999))
# nesting: a value nested d tuples deep under key k
def nest(d): return uni("k") + b"(" * d + b"N" + b"t" * d + b"s"
for d in (997, 998, 999, 1000, 1001):
    pt("pk_nest_%d.pt" % d, nest(d))
# memo: LONG_BINPUT index
def memo(i): return uni("k") + b"N" + b"r" + struct.pack("<I", i) + b"s"
pt("pk_memo_99999.pt", memo(99999))
pt("pk_memo_100000.pt", memo(100000))
# big records raise two limits: opcodes to the record's length, memo to a
# quarter of it (tui/formats/torchzip.c); NONE+POP pairs pad the record
pt("pk_ops_2m.pt", b"N0" * 1000000)
def memo_quarter(off):
    pad = b"N0" * 250000
    full = len(b"\x80\x02}" + uni("w") + tensor() + b"s" + pad + memo(0) + b".")
    pt("pk_memo_quarter_%+d.pt" % off, pad + memo(full // 4 + off))
memo_quarter(-1)
memo_quarter(0)
# metadata from one torch.save: 10,000 entries kept, the rest counted
def metas(n): return b"".join(uni("m%d" % i) + binint(i) + b"s" for i in range(n))
pt("pk_meta_9999.pt", metas(9999))   # + "w"... w is a tensor, not metadata
pt("pk_meta_10000.pt", metas(10000))
pt("pk_meta_10001.pt", metas(10001))
def zip64_eocd(name, count, cd_size, cd_off, sparse_to=0):
    rec = struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, count, count, cd_size, cd_off)
    lh = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 0, 0, 0, 0, 0, 0, 5, 0) + b"a/x.y"
    with open(p(name), "wb") as f:
        f.write(lh)
        if sparse_to:
            f.truncate(sparse_to)
            f.seek(sparse_to)
        at = f.tell()
        f.write(rec)
        f.write(struct.pack("<IIQI", 0x07064b50, 0, at, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
zip64_eocd("zip_entries_2000000.pt", 2000000, 0, 35)
zip64_eocd("zip_entries_2000001.pt", 2000001, 0, 35)
zip64_eocd("zip_cd_over.pt", 1, (512 << 20) + 1, 35, sparse_to=(512 << 20) + 4096)
zip64_eocd("zip_cd_512m.pt", 1, (512 << 20), 35, sparse_to=(512 << 20) + 35)

def zip_declared(name, entries):
    """entries: (name, data, method, declared_size or None)"""
    out, cd = bytearray(), bytearray()
    for n, data, method, decl in entries:
        nb = n.encode()
        comp = zlib.compressobj(9, zlib.DEFLATED, -15).compress(data) if method == 8 else data
        if method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15); comp = c.compress(data) + c.flush()
        size = len(data) if decl is None else decl
        crc = zlib.crc32(data)
        lho = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method, 0, 0, crc, len(comp), size, len(nb), 0) + nb + comp
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, method, 0, 0, crc, len(comp), size, len(nb), 0, 0, 0, 0, 0, lho) + nb
    off = len(out)
    out += cd + struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(entries), len(entries), len(cd), off, 0)
    open(p(name), "wb").write(out)
base = [("archive/byteorder", b"little", 0, None), ("archive/version", b"3\n", 0, None)]
zip_declared("pkl_256m_over.pt", [("archive/data.pkl", b"\x80\x02}.", 8, (256 << 20) + 1)] + base)

# TorchScript class sources: pad class files of a real archive (deflated)
src = os.path.join(FIX, "models", "vit_tiny_ts.pt")
z = zipfile.ZipFile(src)
files = [i.filename for i in z.infolist()]
def pick(s): return [f for f in files if f.endswith(s)][0]
top = pick("torchvision/models/vision_transformer.py")
others = [pick("normalization.py"), pick("activation.py"), pick("linear.py"),
          pick("conv/___torch_mangle_102.py")]
def script(name, sizes):
    with zipfile.ZipFile(p(name), "w") as o:
        for info in z.infolist():
            data = z.read(info.filename)
            ni = zipfile.ZipInfo(info.filename, info.date_time)
            ni.compress_type = info.compress_type
            if info.filename in sizes:
                data += b"\n#" + b"x" * (sizes[info.filename] - len(data) - 3) + b"\n"
                assert len(data) == sizes[info.filename]
            o.writestr(ni, data)
M16 = 16 << 20
script("ts_code_16m.pt", {top: M16})
script("ts_one_0.pt", {others[0]: M16})
script("ts_code_16m_plus1.pt", {top: M16 + 1})
script("ts_code_48m.pt", {others[0]: M16, others[2]: M16, others[3]: M16})
script("ts_code_over_64m.pt", {f: M16 for f in others})
PYEOF
if ! "$PY" "$tmp/gen.py" "$tmp" "$FIX" >"$tmp/gen.log" 2>&1; then
    echo "limits: generator failed: $(tail -n 3 "$tmp/gen.log")"
    echo "limits: 0 passed, 1 failed"
    exit 1
fi
cd "$tmp" || exit 1

# --- safetensors header: 100,000,000 bytes
under st_header_100000000 --list st_header_max.safetensors
rm -f st_header_max.safetensors
over st_header_100000001 "header length 100000001 exceeds 100000000" --list st_header_over.safetensors
# --- index file: 100,000,000 bytes
under index_100000000 --list idx_max/model.safetensors.index.json
rm -rf idx_max
over index_100000001 "index of 100000001 bytes (limit 100000000)" --list idx_over/model.safetensors.index.json
# --- JSON integers below 2^53
under json_2p53_minus_1 --list st_dim_2p53_under.safetensors
over json_2p53 "2^53 or more" --list st_dim_2p53_over.safetensors
# --- tensors in a model: 4,000,000 (through an index's weight_map;
# 4,000,000 real tensors would need gigabytes of headers)
over tensors_4000001 "weight_map lists more than 4000000 tensors" --list idx_tensors_4000001/model.safetensors.index.json
rm -rf idx_tensors_4000001
# --- tensor name: 4,096 bytes
under name_4096 --list st_name_4096.safetensors
over name_4097 "tensor name of 4097 bytes (limit 4096)" --list st_name_4097.safetensors
# --- dimensions: 64
under dims_64 --list st_dims_64.safetensors
over dims_65 "more than 64 values" --list st_dims_65.safetensors
# --- files (shards): 100,000 (100,000 shard files would not be made
# here: 100,000 named shards fail on the first missing file instead)
notlimit shards_100000 "more than 100000 shards" --list idx_shards_100000/model.safetensors.index.json
over shards_100001 "more than 100000 shards" --list idx_shards_100001/model.safetensors.index.json
# --- metadata entries: 100,000 (safetensors __metadata__)
under meta_100000 --list st_meta_100000.safetensors
over meta_100001 "more than 100000 metadata entries" --list st_meta_100001.safetensors
# --- metadata from one torch.save file: 10,000 kept, the rest counted
for n in 10000 10001; do
    if "$TUI" --list --json "pk_meta_$n.pt" >"meta_$n.json" 2>"meta_$n.err"; then
        got=$("$PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))["metadata"]; print(len(m), m.get("...", "-"))' "meta_$n.json")
        if [ "$n" = 10000 ]; then want="10000 -"; else want="10001 1 more entries not shown"; fi
        if [ "$got" = "$want" ]; then ok; else bad "torch_meta_$n" "got [$got] want [$want]"; fi
    else
        bad "torch_meta_$n" "exit $?: $(cat "meta_$n.err")"
    fi
done
# --- zip entries: 2,000,000 (declared in the zip64 end record)
notlimit zip_entries_2000000 "(limit 2000000)" --list zip_entries_2000000.pt
over zip_entries_2000001 "2000001 zip entries (limit 2000000)" --list zip_entries_2000001.pt
# --- central directory: 512 MiB (sparse file; 512 MiB is read, then
# its first entry is refused)
notlimit zip_cd_512mib "out of range" --list zip_cd_512m.pt
over zip_cd_512mib_plus_1 "zip central directory (536870913 bytes at 35) out of range" --list zip_cd_over.pt
rm -f zip_cd_512m.pt zip_cd_over.pt
# --- data.pkl: 256 MiB (declared size of a deflated record; a stored
# 256 MiB pickle is not made here)
over data_pkl_256mib_plus_1 "record of 268435457 bytes exceeds the 268435456-byte limit" --list pkl_256m_over.pt
# --- pickle stack: 100,000 values
under pickle_stack_100000 --list pk_stack_100000.pt
over pickle_stack_100001 "pickle stack deeper than 100000 values" --list pk_stack_100001.pt
# --- nesting: 1,000 (the state dict itself is level 1)
under pickle_nesting_1000 --list pk_nest_998.pt
over pickle_nesting_1001 "values nested deeper than 1000" --list pk_nest_999.pt
# --- memo: 100,000 entries (small record: the quarter-of-record rule
# does not raise it)
under pickle_memo_99999 --list pk_memo_99999.pt
over pickle_memo_100000 "memo index beyond the memo limit" --list pk_memo_100000.pt
# --- opcodes: 1,000,000, raised to the record's length (a 2 MB record
# of more than 2,000,000 opcodes here)
under pickle_ops_big_record --list pk_ops_2m.pt
# --- memo: raised to a quarter of a big record (125,040 entries here)
under pickle_memo_quarter_record --list pk_memo_quarter_-1.pt
over pickle_memo_quarter_record_plus_1 "memo index beyond the memo limit" --list pk_memo_quarter_+0.pt
# --- values walked in one pickle: 10,000,000 (memo-reuse bomb)
if [ -f "$FIX/hostile/pt_memo_bomb.pt" ]; then
    over walk_10000000 "values to walk" --list "$FIX/hostile/pt_memo_bomb.pt"
fi
# --- TorchScript code: 16 MiB per file, 64 MiB in all. Files that define
# one class each (normalization, linear, conv); the total is over
# 64 MiB with four of them at 16 MiB plus the model's own class file.
under ts_code_file_16mib --list ts_one_0.pt
# a 16 MiB file that defines four classes is 16 MiB of code, not 64
under ts_code_file_16mib_4_classes --list ts_code_16m.pt
over ts_code_file_16mib_plus_1 "record of 16777217 bytes exceeds the 16777216-byte limit" --list ts_code_16m_plus1.pt
under ts_code_total_48mib --list ts_code_48m.pt
over ts_code_total_over_64mib "more than 67108864 bytes of TorchScript class source" --list ts_code_over_64m.pt
rm -f ts_*.pt

# --- plan YAML: 64 MiB input, depth 64, scalar 1 MiB
if "$TUI" --freeze 'layer1.**' -o base.yaml "$RST" >/dev/null 2>base.err; then
    ok
    "$PY" - <<'PYEOF'
b = open("base.yaml").read()
def put(name, text):
    with open(name, "w") as f:
        f.write(text)
# a comment pads the plan to exactly 64 MiB, and one byte more
pad = (64 << 20) - len(b) - 2
put("in_64mib.yaml", b + "#" + "x" * pad + "\n")
put("in_64mib_plus_1.yaml", b + "#" + "x" * (pad + 1) + "\n")
# root map is level 1: 63 nested lists make 64 levels, 64 make 65
put("depth_64.yaml", b + "x: " + "[" * 63 + "]" * 63 + "\n")
put("depth_65.yaml", b + "x: " + "[" * 64 + "]" * 64 + "\n")
put("scalar_1mib.yaml", b + "train:\n  output: " + "o" * (1 << 20) + "\n")
put("scalar_1mib_plus_1.yaml", b + "train:\n  output: " + "o" * ((1 << 20) + 1) + "\n")
PYEOF
    under yaml_input_64mib --summary --plan in_64mib.yaml "$RST"
    rm -f in_64mib.yaml
    over yaml_input_64mib_plus_1 "over the limit of 67108864" --summary --plan in_64mib_plus_1.yaml "$RST"
    rm -f in_64mib_plus_1.yaml
    notlimit yaml_depth_64 "nesting deeper" --summary --plan depth_64.yaml "$RST"
    over yaml_depth_65 "nesting deeper than 64 levels" --summary --plan depth_65.yaml "$RST"
    under yaml_scalar_1mib --summary --plan scalar_1mib.yaml "$RST"
    over yaml_scalar_1mib_plus_1 "scalar of 1048577 bytes is over the limit of 1048576 bytes" --summary --plan scalar_1mib_plus_1.yaml "$RST"
else
    bad plan_base "$(cat base.err)"
fi

# --- pattern: 4,096 bytes, 1,024 alternatives, 262,144 expanded bytes
p4096=$("$PY" -c 'print("a" * 4096)')
under pattern_4096 --freeze "$p4096" --allow-empty --summary "$RST"
over pattern_4097 "4096" --freeze "${p4096}a" --allow-empty --summary "$RST"
alt1024=$("$PY" -c 'print("{" + ",".join(str(i) for i in range(1024)) + "}")')
alt1025=$("$PY" -c 'print("{" + ",".join(str(i) for i in range(1025)) + "}")')
under pattern_alternatives_1024 --freeze "$alt1024" --allow-empty --summary "$RST"
over pattern_alternatives_1025 "1024" --freeze "$alt1025" --allow-empty --summary "$RST"
exp_under=$("$PY" -c 'print("{a,b}" * 10 + "x" * 246)')
exp_over=$("$PY" -c 'print("{a,b}" * 10 + "x" * 247)')
under pattern_expanded_262144 --freeze "$exp_under" --allow-empty --summary "$RST"
over pattern_expanded_over "pattern expands to more than 262144 bytes" --freeze "$exp_over" --allow-empty --summary "$RST"
# a short regex must not cost gigabytes or minutes either (no limit is
# documented for regex compilation; glibc's regcomp expands bounded
# repetitions: tests/fuzz/crashes/pattern-1)
over pattern_regex_repeat "re:" --freeze 're:a{1,1000}{1,1000}' --allow-empty --summary "$RST"

echo "limits: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
