#!/usr/bin/python3
"""test_diff.py: `tui --diff A B [--json] [--plan P]` against torch.

A plan held or not, three ways (docs/inspect.md):
  - a run trained by `tui --headless` (the mlp fixture's plan): the
    initial weights against the run's weights.safetensors and its
    model.ts.pt: exit 0, the frozen tensors equal, the trainable ones
    changed (skipped, and said so, in a build without the trainer);
  - a model trained in Python after tui_plan.apply_plan, saved with
    torch.save: exit 0, and every figure (elements whose bits differ,
    max |b-a|, relative L2) equals torch's in float64;
  - a copy with one frozen element moved by one ulp: exit 1, the tensor
    named on stderr and in the JSON, 1 element changed, max |b-a| the ulp.
Then: formats compared by value (safetensors against TorchScript, read
here by hand and by torch.jit.load), a strided tensor against its
contiguous copy (equal), dtype and shape changes, names only on one side,
a trainable parameter that did not move listed; bad input (a truncated
file, a missing file, one checkpoint only): one line, exit 2, nothing on
stdout.

Env: TUI, FIX. Prints "test_diff: N passed, N failed".
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

import torch  # noqa: E402
import tui_plan  # noqa: E402

TRAIN = os.path.join(checks.FIX, "train")


def diff_json(*args):
    rc, out, err = run_tui("--diff", "--json", *args)
    j = json.loads(out) if out.strip() else None
    return rc, j, err.decode(errors="replace")


def by_name(j):
    return {t["name"]: t for t in j["tensors"]}


def ref(a, b):
    """torch's figures for a -> b (same dtype and shape)."""
    a = a.detach().contiguous()
    b = b.detach().contiguous()
    if a.dtype == torch.bool or not a.is_floating_point():
        bits_differ = a != b
    else:
        iv = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
        bits_differ = a.view(iv) != b.view(iv)
    x = a.reshape(-1).to(torch.float64)
    y = b.reshape(-1).to(torch.float64)
    both = torch.isfinite(x) & torch.isfinite(y)
    d = (y - x)[both & bits_differ.reshape(-1)].abs()
    na = float(torch.linalg.vector_norm(x[both]))
    nd = float(torch.linalg.vector_norm(d))
    n = int(bits_differ.sum())
    return {"changed": n,
            "max_abs": float(d.max()) if d.numel() else None,
            "rel_l2": (nd / na if na else (math.inf if nd else 0.0))}


def close(got, want, rel=1e-12):
    if want is None or got is None:
        return got is None and want is None
    return abs(got - want) <= rel * abs(want) + 1e-300


def check_figures(label, j, a_sd, b_sd):
    bad = []
    t = by_name(j)
    for name, a in a_sd.items():
        e = t.get(name)
        r = ref(a, b_sd[name])
        want = "equal" if r["changed"] == 0 else "changed"
        if e is None or e["status"] != want:
            bad.append(f"{name}: {e and e['status']}, want {want}")
            continue
        if want == "changed" and (e["changed"] != r["changed"] or
                                  not close(e["max_abs"], r["max_abs"]) or
                                  not close(e["rel_l2"], r["rel_l2"])):
            bad.append(f"{name}: {e}, torch {r}")
    check(not bad, f"{label}: statuses and figures equal torch's", bad)


def make_mlp():
    return torch.nn.Sequential(torch.nn.Linear(8, 16),
                               torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                               torch.nn.Linear(16, 3))


def python_cases(tmp):
    torch.manual_seed(3)
    m = make_mlp()
    a = os.path.join(tmp, "a.pt")
    torch.save(m.state_dict(), a)
    plan = os.path.join(tmp, "plan.yaml")
    rc, _, err = run_tui("--freeze", "0", "--freeze", "1", a, "-o", plan)
    check(rc == 0, "writing the plan with tui", err)
    params = tui_plan.apply_plan(m, plan)
    opt = torch.optim.AdamW(params, lr=1e-2)
    m.train()
    for _ in range(5):
        x = torch.randn(16, 8)
        loss = torch.nn.functional.cross_entropy(m(x),
                                                 torch.randint(0, 3, (16,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    b = os.path.join(tmp, "b.pt")
    torch.save(m.state_dict(), b)
    a_sd = torch.load(a)
    b_sd = torch.load(b)
    rc, j, err = diff_json(a, b, "--plan", plan)
    check(rc == 0 and j and j["plan"]["held"],
          "apply_plan run: the plan held (exit 0)", f"rc={rc} {err}")
    if j:
        check(j["plan"]["frozen"] == 4 and j["plan"]["frozen_changed"] == [],
              "apply_plan run: 4 frozen tensors, none changed", j["plan"])
        check_figures("apply_plan run", j, a_sd, b_sd)
        t = by_name(j)
        check(t["3.weight"]["status"] == "changed" and
              not t["3.weight"]["frozen"] and t["0.weight"]["frozen"],
              "apply_plan run: trainable moved, frozen marked", t["3.weight"])
    # one ulp on a frozen element
    c_sd = {k: v.clone() for k, v in a_sd.items()}
    w = c_sd["0.weight"]
    old = float(w[2, 5])
    w[2, 5] = torch.nextafter(w[2, 5], torch.tensor(math.inf))
    ulp = float(w[2, 5]) - old
    c = os.path.join(tmp, "c.pt")
    torch.save(c_sd, c)
    rc, j, err = diff_json(a, c, "--plan", plan)
    check(rc == 1, "one ulp on a frozen tensor: exit 1", f"rc={rc} {err}")
    check("0.weight" in err and err.count("\n") == 1,
          "one ulp: one stderr line naming 0.weight", err)
    if j:
        e = by_name(j)["0.weight"]
        check(j["plan"]["frozen_changed"] == ["0.weight"] and
              e["changed"] == 1 and e["max_abs"] == ulp and ulp > 0,
              "one ulp: 0.weight changed in 1 element by the ulp",
              f"{j['plan']} {e} ulp={ulp}")
        check(sorted(j["plan"]["trainable_not_moved"]) ==
              ["3.bias", "3.weight"],
              "one ulp: the unmoved trainable parameters listed",
              j["plan"]["trainable_not_moved"])
    rc, out, err = run_tui("--diff", a, c, "--plan", plan)
    check(rc == 1 and b"did not hold: 1 of 4" in out,
          "one ulp, text: 'did not hold: 1 of 4'", out[-300:])
    # strided against contiguous, dtype and shape changes, one-sided names
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    s1 = {"t": base.t(), "d": torch.ones(3), "s": torch.ones(3),
          "gone": torch.zeros(2), "i": torch.arange(5)}
    s2 = {"t": base.t().contiguous(), "d": torch.ones(3, dtype=torch.float64),
          "s": torch.ones(4), "new": torch.zeros(2),
          "i": torch.tensor([0, 1, 2, 3, 7])}
    p1, p2 = os.path.join(tmp, "s1.pt"), os.path.join(tmp, "s2.pt")
    torch.save(s1, p1)
    torch.save(s2, p2)
    rc, j, err = diff_json(p1, p2)
    st = {t["name"]: t["status"] for t in j["tensors"]} if j else {}
    check(rc == 0 and st == {"t": "equal", "d": "kind_changed",
                             "s": "kind_changed", "gone": "only_a",
                             "new": "only_b", "i": "changed"},
          "strided equal, dtype/shape changed, one-sided names", st)
    if j:
        e = by_name(j)["i"]
        check(e["changed"] == 1 and e["max_abs"] == 3.0 and
              j["counts"] == {"equal": 1, "changed": 1, "only_a": 1,
                              "only_b": 1, "kind_changed": 2},
              "integers: figures and counts", j)
    # bad input
    trunc = os.path.join(tmp, "trunc.pt")
    with open(b, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[:len(data) // 2])
    for label, args in (("a truncated file", (a, trunc)),
                        ("a missing file", (a, os.path.join(tmp, "no.pt")))):
        rc, out, err = run_tui("--diff", *args)
        check(rc == 2 and out == b"" and err.count(b"\n") == 1 and
              os.path.basename(args[1]).encode() in err,
              f"{label}: one line naming the file, exit 2, nothing on stdout",
              f"rc={rc} out={out[:100]} err={err}")
    rc, out, err = run_tui("--diff", a)
    check(rc == 2 and out == b"" and
          err.startswith(b"tui: --diff takes two checkpoints"),
          "one checkpoint only: usage error, exit 2", err)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    dt = {"F32": torch.float32, "I64": torch.int64}
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[s:e]) or bytearray(8),
                             dtype=dt[v["dtype"]])
        out[k] = t[:(e - s) // t.element_size()].reshape(v["shape"])
    return out


def format_cases():
    a = os.path.join(TRAIN, "mlp.init.safetensors")
    b = os.path.join(TRAIN, "mlp.ts.pt")
    rc, j, err = diff_json(a, b)
    check(rc == 0 and j, "safetensors against TorchScript: exit 0", err)
    if j:
        check(j["a"]["format"] == "safetensors" and
              j["b"]["format"] == "torchscript", "formats named", j["a"])
        check_figures("safetensors vs TorchScript", j, read_safetensors(a),
                      torch.jit.load(b).state_dict())


def headless_case(tmp):
    lib = os.path.join(os.path.dirname(checks.TUI), "libtui-train.so")
    if not os.path.exists(lib) and not os.environ.get("TUI_TRAIN_LIB"):
        print("test_diff: the tui --headless run is skipped (no-trainer): "
              "no trainer in this build (TORCH=off)")
        return
    work = os.path.join(tmp, "train")
    shutil.copytree(TRAIN, work)
    run = os.path.join(work, "run")
    rc, _, err = run_tui("--headless", "--plan",
                         os.path.join(work, "plan_mlp.yaml"), "-o", run,
                         "--max-steps", "6", timeout=300)
    if not check(rc == 0, "tui --headless trains the mlp plan", err[-400:]):
        return
    init = os.path.join(work, "mlp.init.safetensors")
    plan = os.path.join(work, "plan_mlp.yaml")
    for out in ("weights.safetensors", "model.ts.pt"):
        rc, j, err = diff_json(init, os.path.join(run, out), "--plan", plan)
        check(rc == 0 and j and j["plan"]["held"] and
              j["plan"]["frozen"] == 4,
              f"headless run, {out}: the plan held (exit 0)",
              f"rc={rc} {err}")
        if j:
            t = by_name(j)
            check(t["3.weight"]["status"] == "changed" and
                  t["3.bias"]["status"] == "changed" and
                  j["plan"]["trainable_not_moved"] == [],
                  f"headless run, {out}: the trainable tensors moved",
                  j["plan"])


def main():
    if checks.missing_tui("test_diff"):
        return 1
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="test_diff.")
    try:
        checks.guarded("apply_plan cases", lambda: python_cases(tmp))
        checks.guarded("formats", format_cases)
        checks.guarded("headless", lambda: headless_case(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish("test_diff")


if __name__ == "__main__":
    sys.exit(main())
