#!/usr/bin/python3
"""gen_corpus.py FIXDIR OUTDIR [PLANDIR]: builds the fuzz seed corpora.

Run by hand (the output is committed in tests/fuzz/corpus/):
    /usr/bin/python3 tests/fuzz/gen_corpus.py build/fixtures tests/fuzz/corpus DIR
Seeds come from real files and the hostile fixtures:
  safetensors  real headers of the fixture models (the header alone, and
               a shrunk copy: same names and dtypes, every dimension 1,
               real offsets) and every hostile st_* file under 256 KiB;
  index        the fixtures' real index files, the hostile idx_* ones,
               and indexes naming fuzz_index.c's own shards;
  zip/torchzip small torch.save files (real names from torchvision
               resnet18 and the fixtures' BERT, tiny shapes; protocol 2
               and 4; a training checkpoint with optimizer state; bf16
               and fp16; a TorchScript archive), hostile pt_* files;
  pickle       the data.pkl of each of those, behind an option byte;
  plan         plans written by tui itself (the *.yaml of PLANDIR), the
               examples of docs/plan-format.md, every bad plan < 64 KiB;
  pattern      patterns from docs/patterns.md and the tests, with names;
  preset       the built-in presets renamed to fz, with a spec line.
Files of one target are named by content hash, so reruns are stable.
"""
import hashlib
import io
import json
import os
import struct
import sys
import zipfile

FIX, OUT = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_SEED = 256 * 1024


def put(target, data, tag=""):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    h = hashlib.sha1(data).hexdigest()[:16]
    name = (tag + "-" if tag else "") + h
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- safetensors --------------------------------------------------------

def st_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, f.read(n)


def st_shrink(hdr, limit=200):
    """Same names and dtypes, every dimension 1, contiguous offsets."""
    j = json.loads(hdr)
    sizes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
             "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    out, off = {}, 0
    if "__metadata__" in j:
        out["__metadata__"] = j["__metadata__"]
    items = [(k, v) for k, v in j.items() if k != "__metadata__"]
    items.sort(key=lambda kv: kv[1]["data_offsets"][0])
    for k, v in items[:limit]:
        n = sizes.get(v["dtype"], 4)
        out[k] = {"dtype": v["dtype"], "shape": [1] * len(v["shape"]),
                  "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(out, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"\0" * off


models = os.path.join(FIX, "models")
for name in sorted(os.listdir(models)):
    p = os.path.join(models, name)
    if name.endswith(".safetensors"):
        n, hdr = st_header(p)
        if len(hdr) <= MAX_SEED:
            put("safetensors", struct.pack("<Q", n) + hdr, "header")
        put("safetensors", st_shrink(hdr), "shrunk")
for d in ("bert_tiny_sharded_st", "vit_tiny_sharded_st"):
    for name in sorted(os.listdir(os.path.join(models, d))):
        p = os.path.join(models, d, name)
        if name.endswith(".safetensors"):
            put("safetensors", st_shrink(st_header(p)[1], 40), "shard")
synth = os.path.join(FIX, "synthetic")
for d in sorted(os.listdir(synth)) if os.path.isdir(synth) else []:
    dd = os.path.join(synth, d)
    shards = sorted(x for x in os.listdir(dd) if x.endswith(".safetensors"))
    if shards:
        put("safetensors", st_shrink(st_header(os.path.join(dd, shards[0]))[1],
                                     60), "synth-" + d)
    for x in os.listdir(dd):
        if x.endswith(".index.json") and os.path.getsize(os.path.join(dd, x)) < MAX_SEED:
            put("index", read(os.path.join(dd, x)), "synth-" + d)

hostile = os.path.join(FIX, "hostile")
for name in sorted(os.listdir(hostile)):
    p = os.path.join(hostile, name)
    if name.startswith("st_") and os.path.getsize(p) <= MAX_SEED:
        put("safetensors", read(p), "hostile")
    if name.startswith("idx_") and os.path.isdir(p):
        for x in os.listdir(p):
            if x.endswith(".json"):
                put("index", read(os.path.join(p, x)), "hostile")

# ---- index --------------------------------------------------------------

for d in ("bert_tiny_sharded_st", "bert_tiny_sharded_bin", "vit_tiny_sharded_st"):
    dd = os.path.join(models, d)
    for x in os.listdir(dd):
        if x.endswith(".json"):
            put("index", read(os.path.join(dd, x)), "real")
S1, S2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
good = {"a.weight": S1, "a.bias": S1, "b.weight": S2, "b.bias": S2}
put("index", json.dumps({"metadata": {"total_size": 34}, "weight_map": good},
                        indent=2), "own")
put("index", json.dumps({"weight_map": good}), "own")
put("index", json.dumps({"metadata": {"total_size": 1}, "weight_map": good}), "own")
put("index", json.dumps({"weight_map": dict(good, x="link.safetensors")}), "own")
put("index", json.dumps({"weight_map": dict(good, x="../outside.safetensors")}), "own")
put("index", json.dumps({"weight_map": {"a.weight": S2, "a.bias": S1,
                                        "b.weight": S2, "b.bias": S2}}), "own")

# ---- torch.save files ---------------------------------------------------

import torch  # noqa: E402

torch.manual_seed(0)
small = []


def tiny_sd(names):
    sd = {}
    for n in names:
        if n.endswith("num_batches_tracked"):
            sd[n] = torch.tensor(0)
        else:
            sd[n] = torch.zeros(1 if "bias" in n else 2)
    return sd


def save(obj, tag, **kw):
    b = io.BytesIO()
    torch.save(obj, b, **kw)
    small.append((tag, b.getvalue()))


try:
    import torchvision
    rn = torchvision.models.resnet18()
    names = list(rn.state_dict().keys())
except Exception:
    names = ["conv1.weight", "bn1.weight", "bn1.running_mean",
             "bn1.num_batches_tracked", "layer1.0.conv1.weight", "fc.weight",
             "fc.bias"]
save(tiny_sd(names[:40]), "resnet")
save(tiny_sd(names[:12]), "resnet-p4", pickle_protocol=4)
bert = json.load(open(os.path.join(models, "bert_tiny_sd.pt.expected.json")))
bnames = [t["name"] for t in bert["tensors"]][:30]
save(tiny_sd(bnames), "bert")
sd = {"w": torch.zeros(2, 3, dtype=torch.bfloat16),
      "h": torch.zeros(3, dtype=torch.float16),
      "i": torch.zeros(2, dtype=torch.int64)}
sd["v"] = sd["w"][:, 1:]  # a strided view sharing storage
save(sd, "dtypes")
m = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
opt = torch.optim.AdamW(m.parameters())
m(torch.zeros(3, 2)).sum().backward()
opt.step()
save({"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
      "config": {"lr": 0.1, "name": "x"}}, "train")
b = io.BytesIO()
torch.jit.save(torch.jit.script(m), b)
small.append(("script", b.getvalue()))

for tag, data in small:
    put("zip", data, tag)
    put("torchzip", data, tag)
    z = zipfile.ZipFile(io.BytesIO(data))
    for info in z.infolist():
        if info.filename.endswith("data.pkl"):
            pk = z.read(info)
            put("pickle", b"\x00" + pk, tag)
            put("pickle", b"\x02" + pk, tag + "-tight")
            if tag == "script":
                put("pickle", b"\x01" + pk, tag)
for name in sorted(os.listdir(hostile)):
    p = os.path.join(hostile, name)
    if name.startswith("pt_") and name.endswith(".pt") and os.path.getsize(p) <= MAX_SEED:
        data = read(p)
        put("torchzip", data, "hostile")
        if os.path.getsize(p) <= 16384:
            put("zip", data, "hostile")
        try:
            z = zipfile.ZipFile(io.BytesIO(data))
            for info in z.infolist():
                if info.filename.endswith("data.pkl"):
                    put("pickle", b"\x00" + z.read(info), "hostile")
        except Exception:
            pass

# ---- plans --------------------------------------------------------------

plans = sys.argv[3] if len(sys.argv) > 3 else os.path.join(FIX, "none")
for d in (plans, os.path.join(FIX, "bad_plans")):
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if name.endswith(".yaml") and os.path.getsize(p) <= 64 * 1024:
            put("plan", read(p), os.path.basename(d))
design = open(os.path.join(ROOT, "docs", "plan-format.md")).read()
import re  # noqa: E402
for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", design, re.S)):
    put("plan", block, "doc")

# ---- patterns -----------------------------------------------------------

pats = ["**", "**.bias", "encoder.layer.{0..5}.**", "re:^lm_head",
        "layer1.0", "bert.encoder.layer.{3..}", "model.layers.{..7}.*",
        "*.weight", "layer?.0.conv[0-9].weight", "{bert,roberta}.embeddings",
        "{a,b{c,d}}.x", "[!a-z]*", "[^0-9]", "re:(q|k|v)_proj", "\\*x",
        "re:^model\\.layers\\.[0-9]+\\.mlp", "fc.*", "bn1.running_{mean,var}",
        "{0..}", "a.**.b", "{..3}.x", "re:[", "{", "a.", "**x", "\\.",
        "{1..0}", "{a,}", "[z-a]", "re:a{2,3}"]
body = "\n".join(["bert.encoder.layer.3.attention.self.query.weight",
                  "model.layers.12.mlp.up_proj.weight", "layer1.0", "x"])
for p in pats:
    put("pattern", p + "\n" + body)
    put("pattern", p)

# ---- presets ------------------------------------------------------------

pdir = os.path.join(ROOT, "presets")
specs = ["fz", "fz:n=3", "fz:n=0", "fz:n=99", "fz:n=2,head=1", "fz:k=-1"]
for i, name in enumerate(sorted(os.listdir(pdir))):
    text = read(os.path.join(pdir, name)).decode()
    text = re.sub(r"^name: .*$", "name: fz", text, count=1, flags=re.M)
    put("preset", specs[i % len(specs)] + "\n" + text, name[:-5])
put("preset", "fz:n=2,k=1\n" + """name: fz
description: templates of every form
params:
  n: {default: 3, min: 0, max: 2000}
  k: {default: 2, min: -5, max: 5, help: h}
rules:
  - freeze: "a.{..k}"
  - freeze: "a.{n..}"
  - unfreeze: "b.{n - 1}.c"
  - freeze: "x{0..n}y"
  - freeze: "re:^h\\\\.{k..n}\\\\."
  - freeze: "{a,b}.{0..5}.[{]x{n}"
  - freeze: "re:z{2}"
  - freeze: "model.layers.{layers-n..layers-1}"
  - freeze: "w.{k}"
    if: n - 3
""", "forms")
