#!/usr/bin/python3
"""test_stats.py: `tui --stats --json` against the statistics torch computes.

For real torchvision checkpoints in $FIX/models (resnet18 f32, the f16
efficientnet_b0 and the bf16 mobilenet_v3_small) and for f16 and bf16
copies of resnet18 made here with torch.save, every tensor's min, max,
mean, population std (torch.std(unbiased=False)), L2 norm and its NaN,
Inf and zero counts must equal what torch computes on the same values
widened to float64, within 1e-6 relative (counts exactly). min, max,
mean, std and L2 are over the finite values (docs/inspect.md). Then a
file holding NaN, +Inf and -Inf (f32, f16, bf16), a transposed
(strided) tensor, integers and an all-NaN tensor; the module aggregate
and the total of a selection against torch over the concatenated
values; a pattern selects only what it matches. Bad input: a complex
tensor, a truncated file, a pattern that matches nothing: one line
naming the problem, exit 2, nothing on stdout.

Ends with "test_stats: N passed, N failed"; exits 1 on any failure.
"""
import json
import math
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

import torch  # noqa: E402

REL = 1e-6


def ref_stats(t):
    """What torch says for tensor t, in float64."""
    x = t.detach().reshape(-1).to(torch.float64)
    fin = x[torch.isfinite(x)]
    r = {"count": x.numel(), "finite": fin.numel(),
         "nan": int(torch.isnan(x).sum()), "inf": int(torch.isinf(x).sum()),
         "zero": int((x == 0).sum())}
    if fin.numel():
        r.update(min=float(fin.min()), max=float(fin.max()),
                 mean=float(fin.mean()),
                 std=float(fin.std(unbiased=False)),
                 l2=float(torch.linalg.vector_norm(fin)))
    else:
        r.update(min=None, max=None, mean=None, std=None, l2=0.0)
    return r


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= REL * abs(b) or abs(a - b) <= 1e-300


def compare(label, got, exp):
    probs = []
    for k in ("count", "finite", "nan", "inf", "zero"):
        if got.get(k) != exp[k]:
            probs.append("%s: tui %r, torch %r" % (k, got.get(k), exp[k]))
    for k in ("min", "max", "mean", "std", "l2"):
        if not close(got.get(k), exp[k]):
            probs.append("%s: tui %r, torch %r" % (k, got.get(k), exp[k]))
    return probs


def state_dict(path):
    obj = torch.load(path, map_location="cpu")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def check_file(label, path, sd, args=()):
    rc, out, err = run_tui("--stats", "--json", path, *args)
    if not check(rc == 0, "%s: exit 0" % label, err.decode()[:300]):
        return None
    doc = json.loads(out)
    got = {t["name"]: t for t in doc["tensors"]}
    check(set(got) == set(sd), "%s: the same tensor names" % label,
          sorted(set(got) ^ set(sd))[:8])
    probs = []
    for name, t in sd.items():
        if name in got:
            probs += ["%s %s" % (name, p)
                      for p in compare(label, got[name], ref_stats(t))]
    check(not probs, "%s: %d tensors equal torch's statistics"
          % (label, len(sd)), probs)
    return doc


def first_line_only(err):
    lines = err.decode("utf-8", "replace").strip().splitlines()
    return len(lines) == 1


def main():
    if checks.missing_tui("test_stats"):
        return 1
    fix = os.path.join(checks.FIX, "models")
    tmp = tempfile.mkdtemp(prefix="test_stats.")

    # real torchvision checkpoints as they were saved
    for name in ("resnet18_sd.pt", "efficientnet_b0_fp16.pt",
                 "mobilenet_v3_small_bf16.pt"):
        p = os.path.join(fix, name)
        checks.guarded(name, lambda: check_file(name, p, state_dict(p)))

    # f16 and bf16 copies of resnet18, and the module/total aggregates
    sd = state_dict(os.path.join(fix, "resnet18_sd.pt"))
    for dt, tag in ((torch.float16, "f16"), (torch.bfloat16, "bf16")):
        cp = {k: (v.to(dt) if v.is_floating_point() else v)
              for k, v in sd.items()}
        p = os.path.join(tmp, "resnet18_%s.pt" % tag)
        torch.save(cp, p)
        doc = checks.guarded("resnet18 " + tag,
                             lambda: check_file("resnet18 " + tag, p, cp))
        if tag == "bf16":
            rc, out, err = run_tui("--stats", "--json", p, "layer2")
            doc = json.loads(out) if rc == 0 else {"tensors": [],
                                                   "modules": []}
            sel = {k: v for k, v in cp.items() if k.startswith("layer2.")}
            check({t["name"] for t in doc["tensors"]} == set(sel),
                  "pattern 'layer2' selects only layer2's tensors")
            mods = {m["path"]: m for m in doc["modules"]}
            cat = torch.cat([v.reshape(-1).double() for v in sel.values()])
            check("layer2" in mods and not compare(
                "", mods["layer2"], ref_stats(cat)),
                "module 'layer2' aggregates its tensors",
                compare("", mods.get("layer2", {}), ref_stats(cat)))
            check(not compare("", doc.get("total", {}), ref_stats(cat)),
                  "total over the selection",
                  compare("", doc.get("total", {}), ref_stats(cat)))
            cat = torch.cat([v.reshape(-1).double() for k, v in sel.items()
                             if k.startswith("layer2.0.downsample.")])
            check(not compare("", mods.get("layer2.0.downsample", {}),
                              ref_stats(cat)),
                  "module 'layer2.0.downsample' aggregates its tensors")

    # NaN and Inf in every float width, a strided view, integers
    g = torch.Generator().manual_seed(7)
    base = torch.randn(1000, 37, generator=g) * 3 + 0.25
    base[3, 4] = float("nan")
    base[10, 0] = float("inf")
    base[500, 36] = float("-inf")
    base[7, 7] = 0.0
    odd = {
        "w.f32": base.clone(),
        "w.f16": base.to(torch.float16),
        "w.bf16": base.to(torch.bfloat16),
        "w.f64": base.double() * 1e-3,
        "allnan": torch.full((5,), float("nan")),
        "ints.i64": torch.arange(-50, 77, dtype=torch.int64),
        "ints.u8": torch.arange(0, 256, dtype=torch.uint8),
        "ints.i32": torch.randint(-1000, 1000, (999,), generator=g,
                                  dtype=torch.int32),
        "flag": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 4),
    }
    p = os.path.join(tmp, "odd.pt")
    torch.save(odd, p)
    checks.guarded("nan/inf", lambda: check_file("nan/inf", p, odd))
    t = torch.randn(64, 48, generator=g)
    strided = {"t": t.t(), "sl": t[::3, 5:20]}
    check(not strided["t"].is_contiguous(), "the view is strided")
    p = os.path.join(tmp, "strided.pt")
    torch.save(strided, p)
    checks.guarded("strided", lambda: check_file("strided", p, strided))

    # bad input: one line, exit 2, nothing on stdout
    p = os.path.join(tmp, "complex.pt")
    torch.save({"c": torch.randn(4, dtype=torch.complex64)}, p)
    rc, out, err = run_tui("--stats", p)
    check(rc == 2 and not out and first_line_only(err) and b"C64" in err
          and b"'c'" in err, "a complex tensor: one line, exit 2", err)
    st = os.path.join(fix, "resnet18.safetensors")
    bad = os.path.join(tmp, "cut.safetensors")
    with open(st, "rb") as f, open(bad, "wb") as o:
        o.write(f.read(os.path.getsize(st) - 1000))
    rc, out, err = run_tui("--stats", bad)
    check(rc == 2 and not out and first_line_only(err)
          and b"cut.safetensors" in err,
          "a truncated file: one line naming it, exit 2", err)
    rc, out, err = run_tui("--stats", st, "nosuch.layer")
    check(rc == 2 and not out and first_line_only(err)
          and b"nosuch.layer" in err,
          "a pattern that matches nothing: one line, exit 2", err)
    rc, out, err = run_tui("--stats", st, "nosuch.layer", "--allow-empty")
    check(rc == 0, "--allow-empty: exit 0", err)
    rc, out, err = run_tui("--stats", st, "fc")
    check(rc == 0 and b"fc.weight" in out and b"fc.bias" in out
          and b"total" in out and b"conv1" not in out,
          "text output lists the selection and the total", out[:300])
    return checks.finish("test_stats")


if __name__ == "__main__":
    sys.exit(main())
