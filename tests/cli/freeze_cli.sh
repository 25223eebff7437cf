#!/bin/sh
# freeze_cli.sh: the freeze command line end to end, on real checkpoints
# (torchvision models from gen_models.py, bad plans from gen_bad_plans.py).
#
# Covers: operations apply in the order given; -o writes a plan that
# reloads byte-identically and that --plan extends; a plan loaded onto a
# different checkpoint reports the fingerprint difference and the missing
# names and still works; the same model as .pt and .safetensors has one
# fingerprint (the one docs/plan-format.md defines, computed here in
# Python); empty and malformed patterns; every bad plan of
# bad_plans/manifest.tsv; --export names/axolotl/modules/llamafactory;
# --tree --depth 1 states;
# --summary counts; --presets CHECKPOINT; usage errors.
#
# Env: TUI (the binary), FIX (the fixtures folder), PYTHON (with PyYAML).
# Prints "freeze_cli: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin freeze_cli
PY=${PYTHON:-/usr/bin/python3}
cli_abs_paths
if [ -z "$TUI_PRESETS_DIR" ]; then
    TUI_PRESETS_DIR=$(cd "$(dirname "$0")/../.." && pwd)/presets
fi
export TUI_PRESETS_DIR
M=$FIX/models
R=$M/resnet18_sd.pt
RST=$M/resnet18.safetensors
MOB=$M/mobilenet_v3_small_bf16.pt
TIED=$M/bert_mlm_tied_sd.pt
VIT=$M/vit_tiny_sd.pt
cli_require "$R" "$FIX/bad_plans/manifest.tsv"
tmp=$cli_tmp

# expect NAME COND-COMMAND...: passes when the command succeeds.
expect() {
    name=$1
    shift
    if "$@"; then cli_pass; else cli_fail "$name" "$*"; fi
}
# same NAME A B: the two strings are equal.
same() {
    if [ "$2" = "$3" ]; then
        cli_pass
    else
        cli_fail "$1" "got [$(printf '%s' "$2" | head -c 400)] want [$(printf '%s' "$3" | head -c 400)]"
    fi
}
has() { printf '%s\n' "$1" | grep -qF -- "$2"; }
nlines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# t OUT ERR ARGS...: runs tui, stdout to $tmp/OUT, stderr to $tmp/ERR;
# the exit status is in $rc.
t() {
    o=$1
    e=$2
    shift 2
    "$TUI" "$@" >"$tmp/$o" 2>"$tmp/$e"
    rc=$?
}

# The Python side: reads tui's outputs and the fixtures' expected.json.
cat >"$tmp/h.py" <<'EOF'
import hashlib, json, os, re, struct, sys
import yaml

def lst(path):
    with open(path) as f:
        return json.load(f)

def params(doc):
    return [t for t in doc["tensors"] if t["kind"] == "parameter"]

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "frozen":            # LISTJSON: frozen parameter names, in order
    for t in params(lst(args[0])):
        if not t["trainable"]:
            print(t["name"])
elif cmd == "trainable":       # LISTJSON: trainable parameter names
    for t in params(lst(args[0])):
        if t["trainable"]:
            print(t["name"])
elif cmd == "params":          # EXPECTED: parameter names, in order
    for t in params(lst(args[0])):
        print(t["name"])
elif cmd == "plan_frozen":     # PLAN: its frozen list
    for n in yaml.safe_load(open(args[0]))["frozen"] or []:
        print(n)
elif cmd == "plan_rules":      # PLAN: its rules as "op pattern"
    for r in yaml.safe_load(open(args[0])).get("rules") or []:
        (k, v), = r.items()
        print(k, v)
elif cmd == "plan_key":        # PLAN KEY: model.KEY
    print(yaml.safe_load(open(args[0]))["model"][args[1]])
elif cmd == "fingerprint":     # EXPECTED: docs/plan-format.md's fingerprint
    ts = [(t["name"], t["dtype"], t["shape"]) for t in lst(args[0])["tensors"]
          if t["kind"] in ("parameter", "buffer")]
    ts.sort(key=lambda x: x[0].encode())
    text = "".join("%s\t%s\t%s\n" % (n, d, ",".join(map(str, s)))
                   for n, d, s in ts)
    print("sha256:" + hashlib.sha256(text.encode()).hexdigest())
elif cmd == "prefix_count":    # EXPECTED PREFIX...: parameters under them
    ps = [t for t in params(lst(args[0]))
          if any(t["name"] == p or t["name"].startswith(p + ".")
                 for p in args[1:])]
    print(len(ps), "{:,}".format(sum(t["numel"] for t in ps)))
elif cmd == "axolotl":         # EXPORT LISTJSON [TIED...]: as Axolotl reads it
    doc = yaml.safe_load(open(args[0])) or {}
    rx = []
    for p in doc.get("unfrozen_parameters") or []:
        m = re.match(r"^(.+)\[([0-9]*)(?::([0-9]*))?\]$", p)
        rx.append(re.compile(re.sub(r"\.(?!\+)", "\\.", m.group(1) if m else p)))
    ps = [t for t in params(lst(args[1])) if t["name"] not in args[2:]]
    got = [t["name"] for t in ps if not rx or any(r.match(t["name"]) for r in rx)]
    want = [t["name"] for t in ps if t["trainable"]]
    if got != want:
        sys.exit("selected %s, trainable %s" % (sorted(set(got) - set(want))[:5],
                                                 sorted(set(want) - set(got))[:5]))
elif cmd == "modules":         # EXPORT LISTJSON [TIED...]: get_submodule paths
    doc = yaml.safe_load(open(args[0]))
    mods, names = doc["modules"] or [], doc["parameters"] or []
    ps = [t for t in params(lst(args[1])) if t["name"] not in args[2:]]
    got = [t["name"] for t in ps if t["name"] in names or
           any(m == "" or t["name"].startswith(m + ".") for m in mods)]
    want = [t["name"] for t in ps if not t["trainable"]]
    if got != want:
        sys.exit("freezes %s, frozen %s" % (sorted(set(got) - set(want))[:5],
                                             sorted(set(want) - set(got))[:5]))
elif cmd == "tree1":           # TREE LISTJSON: depth-1 lines and states
    doc = lst(args[1])
    want = {}
    for t in doc["tensors"]:
        if t["kind"] not in ("parameter", "buffer"):
            continue
        top = t["name"].split(".")[0]
        s = want.setdefault(top, [0, 0])
        if t["kind"] == "parameter":
            s[0 if t["trainable"] else 1] += 1
    def mark(tr, fr):
        if tr == 0 and fr == 0:
            return "[b]"
        return "[x]" if tr == 0 else ("[ ]" if fr == 0 else "[~]")
    want = {k: mark(*v) for k, v in want.items()}
    got = {}
    for line in open(args[0]):
        m = re.match(r"^(\[[ x~b]\]) ([^ /]+)/?  ", line)
        if not m:
            sys.exit("bad depth-1 line: %r" % line)
        got[m.group(2)] = m.group(1)
    if got != want:
        sys.exit("tree %s, want %s" % (sorted(got.items()), sorted(want.items())))
elif cmd == "summary":         # SUMMARY LISTJSON: the counts agree
    doc = lst(args[1])
    ps = params(doc)
    tr = [t for t in ps if t["trainable"]]
    fr = [t for t in ps if not t["trainable"]]
    # a tied name (tied_to) is another name of a listed parameter: once
    c = lambda ts: "{:,}".format(sum(t["numel"] for t in ts
                                     if "tied_to" not in t))
    text = open(args[0]).read()
    want = [
        r"(?m)^tensors +%d \(%d parameters, %d buffers\)$" % (
            doc["totals"]["tensors"], len(ps), doc["totals"]["tensors"] - len(ps)),
        r"(?m)^parameters +%s$" % c(ps),
        r"(?m)^trainable +%s \([0-9.]+%%\) in %d tensors$" % (c(tr), len(tr)),
        r"(?m)^frozen +%s \([0-9.]+%%\) in %d tensors$" % (c(fr), len(fr)),
    ]
    for w in want:
        if not re.search(w, text):
            sys.exit("summary lacks /%s/" % w)
elif cmd == "variant":         # SRC DST MODE: a header-only resnet18 variant
    src, dst, mode = args
    with open(src, "rb") as f:
        n, = struct.unpack("<Q", f.read(8))
        hdr = json.loads(f.read(n))
    meta = hdr.pop("__metadata__", None)
    out = {}
    for k, v in hdr.items():
        shape = v["shape"]
        if mode == "head10" and k == "fc.weight":
            shape = [10, 512]
        elif mode == "head10" and k == "fc.bias":
            shape = [10]
        if mode == "renamed" and k.startswith("fc."):
            k = "head." + k[3:]
        out[k] = {"dtype": v["dtype"], "shape": shape}
    doc, off = {}, 0
    if meta is not None:
        doc["__metadata__"] = meta
    for k in sorted(out):
        v = out[k]
        size = 4
        for d in v["shape"]:
            size *= d
        assert v["dtype"] in ("F32", "I64")
        size = size * (2 if v["dtype"] == "I64" else 1)
        doc[k] = {"dtype": v["dtype"], "shape": v["shape"],
                  "data_offsets": [off, off + size]}
        off += size
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        f.truncate(8 + len(js) + off)
else:
    sys.exit("h.py: unknown command " + cmd)
EOF
h() { "$PY" "$tmp/h.py" "$@"; }

# ---------------------------------------------------------------------------
# 1. operations apply in the order given

t a.out a.err --freeze '**' --unfreeze fc -o "$tmp/a.yaml" "$R"
same "order: freeze ** then unfreeze fc: exit" "$rc" 0
same "order: op lines in order" "$(grep -v "^note:" "$tmp/a.err" | cut -d: -f1 | head -n 2)" \
    "$(printf "freeze '**'\nunfreeze 'fc'")"
t b.out b.err --unfreeze fc --freeze '**' -o "$tmp/b.yaml" "$R"
same "order: unfreeze fc then freeze **: exit" "$rc" 0
t la.json la.err --list --json --plan "$tmp/a.yaml" "$R"
same "order: list --plan a exit" "$rc" 0
same "order: freeze ** then unfreeze fc leaves fc trainable" \
    "$(h trainable "$tmp/la.json")" "$(printf 'fc.weight\nfc.bias')"
t lb.json lb.err --list --json --plan "$tmp/b.yaml" "$R"
same "order: unfreeze fc then freeze ** leaves nothing trainable" \
    "$(h trainable "$tmp/lb.json")" ""
same "order: b freezes every parameter" "$(h frozen "$tmp/lb.json")" \
    "$(h params "$R.expected.json")"
same "order: plan a keeps its rules in order" "$(h plan_rules "$tmp/a.yaml")" \
    "$(printf 'freeze **\nunfreeze fc')"
same "order: plan a's frozen list is what --list shows" \
    "$(h plan_frozen "$tmp/a.yaml")" "$(h frozen "$tmp/la.json")"
# invert is an operation too: applied after the rest
t c.out c.err --freeze layer1 --invert --list --json "$R"
same "order: freeze layer1 then invert trains only layer1" \
    "$(h trainable "$tmp/c.out")" \
    "$(h params "$R.expected.json" | grep '^layer1\.')"

# ---------------------------------------------------------------------------
# 2. -o writes a plan; --plan reloads it byte-identically and extends it

t a2.out a2.err --plan "$tmp/a.yaml" -o "$tmp/a2.yaml"
same "roundtrip: --plan a -o a2 exit" "$rc" 0
expect "roundtrip: a2 is byte-identical to a" cmp -s "$tmp/a.yaml" "$tmp/a2.yaml"
expect "roundtrip: nothing on stdout with -o" test ! -s "$tmp/a2.out"
(cd / && "$TUI" --plan "$tmp/a.yaml" "$R" -o "$tmp/a4.yaml" 2>/dev/null)
expect "roundtrip: from another folder, with CHECKPOINT, byte-identical" \
    cmp -s "$tmp/a.yaml" "$tmp/a4.yaml"
t a3.out a3.err --plan "$tmp/a.yaml" --freeze layer4.1 -o "$tmp/a3.yaml"
same "extend: exit" "$rc" 0
same "extend: old rules kept, new one appended" "$(h plan_rules "$tmp/a3.yaml")" \
    "$(printf 'freeze **\nunfreeze fc\nfreeze layer4.1')"
same "extend: same model, same fingerprint" \
    "$(h plan_key "$tmp/a3.yaml" fingerprint)" "$(h plan_key "$tmp/a.yaml" fingerprint)"
t la3.json la3.err --list --json --plan "$tmp/a3.yaml" "$R"
same "extend: fc still trainable" "$(h trainable "$tmp/la3.json")" \
    "$(printf 'fc.weight\nfc.bias')"
t e1.out e1.err --plan "$tmp/a.yaml" --unfreeze layer4.1 -o "$tmp/e1.yaml"
t le1.json le1.err --list --json --plan "$tmp/e1.yaml"
same "extend: unfreeze appended to a trains layer4.1 and fc" \
    "$(h trainable "$tmp/le1.json")" \
    "$(h params "$R.expected.json" | grep -E '^(layer4\.1|fc)\.')"

# ---------------------------------------------------------------------------
# 3. fingerprints and plans on another checkpoint

fp=$(h fingerprint "$R.expected.json")
same "fingerprint: plan a holds docs/plan-format.md's fingerprint" \
    "$(h plan_key "$tmp/a.yaml" fingerprint)" "$fp"
t s.out s.err --freeze '**' --unfreeze fc -o "$tmp/s.yaml" "$RST"
same "fingerprint: .safetensors form has the .pt form's fingerprint" \
    "$(h plan_key "$tmp/s.yaml" fingerprint)" "$fp"
same "fingerprint: format recorded" "$(h plan_key "$tmp/s.yaml" format)" safetensors
t ls.json ls.err --list --json --plan "$tmp/a.yaml" "$RST"
same "same model other form: exit" "$rc" 0
expect "same model other form: no fingerprint warning" test ! -s "$tmp/ls.err"
same "same model other form: same trainable set" \
    "$(h trainable "$tmp/ls.json" | sort)" "$(printf 'fc.bias\nfc.weight')"

# a resnet18 plan on mobilenet_v3_small: its rule 'fc' matches nothing
# there, an error unless --allow-empty (as for --freeze)
t m.json m.err --list --json --plan "$tmp/a.yaml" "$MOB"
same "other model: a rule matching nothing: exit 2" "$rc" 2
expect "other model: a rule matching nothing: one line naming rule and cure" \
    grep -qxE "tui: .*a\.yaml:[0-9]+:[0-9]+: rule 'fc' matches nothing in .* \(--allow-empty applies the plan anyway\)" "$tmp/m.err"
t m.json m.err --list --json --plan "$tmp/a.yaml" --allow-empty "$MOB"
err=$(cat "$tmp/m.err")
same "other model: exit 0" "$rc" 0
expect "other model: fingerprint difference reported" has "$err" "fingerprint differs"
expect "other model: missing names counted" has "$err" "lacks (60)"
expect "other model: missing names named" has "$err" "conv1.weight, bn1.weight"
expect "other model: empty rule reported" has "$err" "rule 'fc' matches nothing"
same "other model: rules resolved again (freeze ** freezes all)" \
    "$(h frozen "$tmp/m.json")" "$(h params "$MOB.expected.json")"

# resnet18 whose head is named differently, and one with a 10-class head
h variant "$RST" "$tmp/r18_head.safetensors" renamed
h variant "$RST" "$tmp/r18_10.safetensors" head10
t f.out f.err --freeze layer4 --freeze fc -o "$tmp/f.yaml" "$R"
t v.json v.err --list --json --plan "$tmp/f.yaml" --allow-empty \
    "$tmp/r18_head.safetensors"
err=$(cat "$tmp/v.err")
same "renamed head: exit 0" "$rc" 0
expect "renamed head: fingerprint difference reported" has "$err" "fingerprint differs"
expect "renamed head: the two missing names" has "$err" "lacks (2): fc.weight, fc.bias"
expect "renamed head: rule 'fc' matches nothing" has "$err" "rule 'fc' matches nothing"
same "renamed head: layer4 frozen, head trainable" "$(h frozen "$tmp/v.json")" \
    "$(h params "$RST.expected.json" | grep '^layer4\.')"
t w.json w.err --list --json --plan "$tmp/f.yaml" "$tmp/r18_10.safetensors"
same "10-class head: exit 0" "$rc" 0
expect "10-class head: fingerprint difference reported" \
    grep -qF "fingerprint differs" "$tmp/w.err"
expect "10-class head: no missing names" test "$(grep -c lacks "$tmp/w.err")" -eq 0
same "10-class head: same frozen set" "$(h frozen "$tmp/w.json" | sort)" \
    "$(h params "$RST.expected.json" | grep -E '^(layer4|fc)\.' | sort)"

# ---------------------------------------------------------------------------
# 4. patterns that match nothing, malformed patterns, bad presets

t n.out n.err --freeze 'nope.**' -o "$tmp/n.yaml" "$R"
same "empty match: exit 2" "$rc" 2
same "empty match: one stderr line" "$(nlines "$tmp/n.err")" 1
expect "empty match: names the pattern" grep -q "^tui: pattern 'nope.\*\*' matches nothing" "$tmp/n.err"
expect "empty match: nothing on stdout" test ! -s "$tmp/n.out"
expect "empty match: no plan written" test ! -e "$tmp/n.yaml"
t n2.out n2.err --freeze layer1 --unfreeze 'layer1.9' --list --json "$R"
same "empty unfreeze: exit 2" "$rc" 2
t n3.out n3.err --freeze 'nope.**' --allow-empty -o "$tmp/n3.yaml" "$R"
same "--allow-empty: exit 0" "$rc" 0
expect "--allow-empty: plan written" test -s "$tmp/n3.yaml"
expect "--allow-empty: the empty rule is reported" grep -q "1 rule matched nothing" "$tmp/n3.err"

for case in 'model.{a,b|7' 'a}b|2' 'a]b|2' 'x.[0-9|3' 'x.[z-a]|4' '{a,,b}|4' \
            'l.{5..2}|3' 'l.{..}|3' 'l.x{0..5}|4' 'a**|2' 'abc\|4' 'a\.b|2' \
            'a..b|3' 're:(ab|4'; do
    pat=${case%|*}
    col=${case##*|}
    t p.out p.err --unfreeze "$pat" --list "$R"
    line=$(head -n 1 "$tmp/p.err")
    if [ "$rc" -ne 2 ]; then
        cli_fail "bad pattern '$pat'" "exit $rc, want 2"
    elif [ "$(nlines "$tmp/p.err")" -ne 1 ] || [ -s "$tmp/p.out" ]; then
        cli_fail "bad pattern '$pat'" "want one stderr line, no stdout: $line"
    elif ! has "$line" "at column $col" || ! has "$line" "'$pat'"; then
        cli_fail "bad pattern '$pat'" "want the pattern and 'at column $col': $line"
    else
        cli_pass
    fi
done
t p.out p.err --freeze '' "$R"
same "empty pattern: exit 2" "$rc" 2
same "empty pattern: one line" "$(nlines "$tmp/p.err")" 1
expect "empty pattern: says so" grep -q "^tui: .*empty pattern" "$tmp/p.err"
t p.out p.err --preset resnet-backbone:k=9 "$R"
same "preset parameter out of range: exit 2" "$rc" 2
same "preset parameter out of range: one line" "$(nlines "$tmp/p.err")" 1
t p.out p.err --preset no-such-preset "$R"
same "unknown preset: exit 2" "$rc" 2
expect "unknown preset: one line naming it" test "$(nlines "$tmp/p.err")" -eq 1 -a \
    "$(grep -c no-such-preset "$tmp/p.err")" -eq 1

# ---------------------------------------------------------------------------
# 5. every bad plan is refused with one line naming file, place and problem

tab=$(printf '\t')
nbad=0
while IFS="$tab" read -r rel where want; do
    [ -n "$rel" ] || continue
    nbad=$((nbad + 1))
    path=$FIX/bad_plans/$rel
    t bp.out bp.err --summary --plan "$path" "$R"
    line=$(head -n 1 "$tmp/bp.err")
    if [ "$where" = "-" ]; then
        at="tui: $path: "
    else
        at="tui: $path:$where: "
    fi
    if [ "$rc" -ne 2 ]; then
        cli_fail "bad plan $rel" "exit $rc, want 2 ($line)"
    elif [ -s "$tmp/bp.out" ]; then
        cli_fail "bad plan $rel" "wrote to stdout"
    elif [ "$(nlines "$tmp/bp.err")" -ne 1 ]; then
        cli_fail "bad plan $rel" "$(nlines "$tmp/bp.err") stderr lines, want 1"
    elif ! has "$line" "$at"; then
        cli_fail "bad plan $rel" "want '$at': $line"
    elif ! has "$line" "$want"; then
        cli_fail "bad plan $rel" "lacks '$want': $line"
    else
        cli_pass
    fi
done <"$FIX/bad_plans/manifest.tsv"
expect "bad plans: the manifest lists at least 30" test "$nbad" -ge 30

# ---------------------------------------------------------------------------
# 6. exports

# export_case LABEL CHECKPOINT OPS...: --export names is the frozen list;
# the axolotl list, read as Axolotl reads it (freeze_layers_except: dots
# literal, re.match, an empty list trains everything), selects exactly the
# trainable named parameters, and a fully frozen plan is refused in one
# line; the modules export freezes exactly the frozen ones; llamafactory
# exports or refuses in one line (tests/parity/test_exports.py checks
# all of them against their consumers on the whole pattern corpus).
# $skip: tied duplicates, which model.named_parameters() does not list.
export_case() {
    label=$1
    ck=$2
    shift 2
    t x.json x.err "$@" --list --json "$ck"
    t xn.out xn.err "$@" --export names "$ck"
    same "export names ($label)" "$(cat "$tmp/xn.out")" "$(h frozen "$tmp/x.json")"
    t xa.out xa.err "$@" --export axolotl "$ck"
    if [ -z "$(h trainable "$tmp/x.json")" ]; then
        same "export axolotl refuses all frozen ($label)" "$rc" 2
        same "export axolotl refusal one line ($label)" \
            "$(grep -c 'every parameter is frozen' "$tmp/xa.err")" 1
    else
        same "export axolotl exit ($label)" "$rc" 0
        expect "export axolotl selects the trainable ($label)" \
            h axolotl "$tmp/xa.out" "$tmp/x.json" $skip
    fi
    t xm.out xm.err "$@" --export modules "$ck"
    same "export modules exit ($label)" "$rc" 0
    expect "export modules freeze the frozen ($label)" \
        h modules "$tmp/xm.out" "$tmp/x.json" $skip
    t xl.out xl.err "$@" --export llamafactory "$ck"
    if [ "$rc" -eq 0 ]; then
        expect "export llamafactory writes freeze settings ($label)" \
            grep -qE '^finetuning_type: (freeze|full)$' "$tmp/xl.out"
    else
        same "export llamafactory refusal one line ($label)" \
            "$rc $(grep -c '^tui: ' "$tmp/xl.err") $(nlines "$tmp/xl.out")" \
            "2 1 0"
    fi
}
skip=
export_case "resnet18 mixed" "$R" --freeze layer1 --freeze layer2.0.conv1 \
    --freeze bn1.bias --freeze 'layer3.*.bn?'
export_case "resnet18 plan a" "$R" --plan "$tmp/a.yaml"
export_case "resnet18 all frozen" "$R" --freeze '**'
export_case "resnet18 nothing frozen" "$R" --freeze fc --unfreeze fc
# a command that fails writes nothing: the export is refused, so -o is not
# written either
t xo.out xo.err "$R" --freeze '**' --export axolotl -o "$tmp/xo.yaml"
same "refused export with -o: exit 2" "$rc" 2
expect "refused export with -o: no plan written" test ! -e "$tmp/xo.yaml"
skip=cls.predictions.decoder.weight
export_case "tied bert" "$TIED" --freeze bert.encoder.layer.0 \
    --freeze cls.predictions.bias --freeze fused.k --freeze logit_scale
export_case "tied bert, embeddings frozen" "$TIED" \
    --freeze bert.embeddings --freeze cls.predictions.transform
skip=
export_case "vit" "$VIT" --freeze encoder.layers.encoder_layer_0 \
    --freeze class_token --freeze 're:\.ln_1\.bias$'
export_case "mobilenet preset" "$MOB" --preset bitfit --invert
t xn.out xn.err --export yaml "$R"
same "export: unknown format exit 2" "$rc" 2
same "export: unknown format one line" "$(nlines "$tmp/xn.err")" 1

# ---------------------------------------------------------------------------
# 7. tree depth 1 states, summary counts

t tr.out tr.err --tree --depth 1 --freeze bert --freeze cls.predictions.bias "$TIED"
t tr.json tr.err --list --json --freeze bert --freeze cls.predictions.bias "$TIED"
same "tree: exit" "$rc" 0
for m in '[x] bert/' '[b] causal_mask' '[~] cls/' '[ ] fused/' '[ ] logit_scale'; do
    expect "tree depth 1 shows '$m'" grep -qF -- "$m" "$tmp/tr.out"
done
expect "tree depth 1: one line per top-level name, states from --list" \
    h tree1 "$tmp/tr.out" "$tmp/tr.json"
t trall.out trall.err --tree --freeze bert --freeze cls.predictions.bias "$TIED"
same "tree: depth 1 is the full tree's top level" \
    "$(grep -v '^\[.\]   ' "$tmp/trall.out")" "$(cat "$tmp/tr.out")"
expect "tree: the full tree is deeper" \
    test "$(nlines "$tmp/trall.out")" -gt "$(nlines "$tmp/tr.out")"
t tr2.out tr2.err --tree --depth 1 --plan "$tmp/e1.yaml" "$R"
t tr2.json tr2.err --list --json --plan "$tmp/e1.yaml" "$R"
expect "tree depth 1 on resnet18 plan e1" h tree1 "$tmp/tr2.out" "$tmp/tr2.json"
expect "tree depth 1: layer4 partly frozen" grep -qF '[~] layer4/' "$tmp/tr2.out"

for args in "--plan $tmp/a3.yaml $R" "--freeze layer1 --freeze fc.bias $R" \
            "--preset bert-embeddings-first-n:n=1 $TIED" "$VIT"; do
    # shellcheck disable=SC2086
    t su.out su.err --summary $args
    # shellcheck disable=SC2086
    t su.json su.err --list --json $args
    expect "summary agrees with --list --json ($args)" \
        h summary "$tmp/su.out" "$tmp/su.json"
done

# ---------------------------------------------------------------------------
# 8. --presets CHECKPOINT

t pr.out pr.err --presets "$R"
same "presets: exit" "$rc" 0
block() { sed -n "/^$1 /,/here:/p" "$tmp/pr.out" | grep 'here:'; }
expect "presets: BERT preset does not fit resnet18" \
    has "$(block bert-embeddings-first-n)" "here: does not fit this model: all 2 of its rules match nothing"
# shellcheck disable=SC2046 # two words: tensors, parameters
set -- $(h prefix_count "$R.expected.json" conv1 bn1 layer1 layer2)
same "presets: resnet-backbone (k=2) count on resnet18" \
    "$(block resnet-backbone)" "    here: would freeze $1 tensors, $2 parameters (5.8%)"
t pl.json pl.err --preset resnet-backbone --list --json "$R"
same "presets: the preview is what --preset does" \
    "$(h frozen "$tmp/pl.json" | wc -l | tr -d ' ')" "$1"
t pr0.out pr0.err --presets
expect "presets: without a checkpoint, no 'here:'" \
    test "$(grep -c 'here:' "$tmp/pr0.out")" -eq 0 -a -s "$tmp/pr0.out"

# ---------------------------------------------------------------------------
# 9. usage errors

usage_case() {
    label=$1
    shift
    t u.out u.err "$@"
    if [ "$rc" -ne 2 ]; then
        cli_fail "usage: $label" "exit $rc, want 2"
    elif [ -s "$tmp/u.out" ]; then
        cli_fail "usage: $label" "wrote to stdout"
    elif ! head -n 1 "$tmp/u.err" | grep -q '^tui: '; then
        cli_fail "usage: $label" "first line: $(head -n 1 "$tmp/u.err")"
    elif ! grep -q '^usage: tui' "$tmp/u.err"; then
        cli_fail "usage: $label" "no usage line"
    else
        cli_pass
    fi
}
usage_case "unknown option" --bogus "$R"
usage_case "--json without --list" --json "$R"
usage_case "--json with --export" --json --export names "$R"
usage_case "--depth without --tree" --depth 2 --list "$R"
usage_case "two modes" --list --summary "$R"
usage_case "option without its value" "$R" --freeze
usage_case "two checkpoints" --list "$R" "$RST"
usage_case "no checkpoint" --list
t u.out u.err --bogus "$R"
expect "usage: names the unknown option" grep -qF "unknown option '--bogus'" "$tmp/u.err"

cli_end
