#!/usr/bin/python3
"""test_rank.py: `tui --rank snr --json` against Spectrum's formula.

Spectrum (cognitivecomputations/spectrum; ../shared/reference/inspect.md)
scores a weight W by its singular values S = torch.linalg.svdvals(W) (a
1-D weight as 1 x n): sigma = IQR(S) / 1.349 (torch.quantile),
threshold = sigma (1 + sqrt(min/max of the dims)), snr = sum(S > thr) /
sum(S <= thr) (Inf when the second is 0), score = snr / S.max(). Here
that formula runs in Python, in float32 as Spectrum does and in float64,
on random Gaussian matrices (square, wide, tall), structured ones (low
rank plus noise, a rank-1 matrix, the identity, a matrix x0.1 and x10 to
show the score is not scale-invariant while snr is), a 1-D weight, a
4-D conv weight (taken as shape[0] x the rest), and f16/bf16 copies;
tui's score must equal both within 1e-4 relative (Inf as null), and the
rank within each weight type (the name after its first number) must be
Spectrum's order. Bad input: an unknown method, a pattern that matches
nothing, a truncated file: one line, exit 2, nothing on stdout.

Env: TUI. Prints "test_rank: N passed, N failed".
"""
import json
import math
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

import torch  # noqa: E402

REL = 1e-4


def spectrum(w, dtype):
    w = w.detach().to(dtype)
    if w.ndim < 2:
        w = w[None, :]
    elif w.ndim > 2:
        w = w.reshape(w.shape[0], -1)
    s = torch.linalg.svdvals(w)
    sigma = (torch.quantile(s, 0.75) - torch.quantile(s, 0.25)) / 1.349
    m, n = w.shape
    beta = min(m, n) / max(m, n)
    thr = sigma * (1 + math.sqrt(beta))
    signal = float(s[s > thr].sum())
    noise = float(s[s <= thr].sum())
    snr = signal / noise if noise != 0 else math.inf
    return snr / float(s.max()), snr


def same(got, want):
    # a noise part of rounding errors alone (a rank-1 matrix in float64:
    # 1e47) is no noise part: Spectrum's float32 run says Inf there
    if math.isinf(want) or want > 1e30:
        return got is None
    return got is not None and abs(got - want) <= REL * abs(want)


def weights():
    g = torch.Generator().manual_seed(5)

    def randn(*shape):
        return torch.randn(*shape, generator=g)

    u, v = randn(96, 4), randn(4, 80)
    base = randn(64, 48)
    sd = {
        "layers.0.q.weight": randn(64, 64),
        "layers.1.q.weight": randn(64, 64) * torch.linspace(0.1, 3, 64),
        "layers.0.up.weight": randn(40, 200),
        "layers.1.up.weight": randn(200, 40),
        "layers.0.lowrank.weight": u @ v + 0.05 * randn(96, 80),
        "layers.0.rank1.weight": torch.ones(30, 20),
        "layers.0.eye.weight": torch.eye(32),
        "layers.0.small.weight": base * 0.1,
        "layers.1.small.weight": base * 10,
        "layers.0.norm.weight": randn(64),
        "conv.weight": randn(16, 8, 3, 3),
        "half.weight": randn(48, 32).half(),
        "bf.weight": randn(48, 32).bfloat16(),
    }
    return sd


def main():
    if checks.missing_tui("test_rank"):
        return 1
    tmp = tempfile.mkdtemp(prefix="test_rank.")
    # a score cache of its own (tests/cli/rank_cache.sh tests the cache)
    os.environ["TUI_CACHE_DIR"] = os.path.join(tmp, "cache")
    try:
        sd = weights()
        path = os.path.join(tmp, "w.pt")
        torch.save(sd, path)
        rc, out, err = run_tui("--rank", "snr", "--json", path)
        check(rc == 0, "--rank snr --json exits 0", err)
        j = json.loads(out) if rc == 0 else {"tensors": []}
        got = {t["name"]: t for t in j["tensors"]}
        check(sorted(got) == sorted(sd), "every weight scored",
              sorted(set(sd) ^ set(got)))
        bad = []
        for name, w in sd.items():
            t = got.get(name)
            if t is None:
                continue
            for dt in (torch.float32, torch.float64):
                score, snr = spectrum(w, dt)
                if not same(t["score"], score) or not same(t["snr"], snr):
                    bad.append(f"{name} ({dt}): tui {t['score']} {t['snr']}, "
                               f"spectrum {score} {snr}")
        check(not bad, "scores equal Spectrum's formula within 1e-4", bad)
        if "layers.0.small.weight" in got and "layers.1.small.weight" in got:
            a, b = got["layers.0.small.weight"], got["layers.1.small.weight"]
            check(abs(a["score"] / b["score"] / 100 - 1) < 1e-6 and
                  abs(a["snr"] / b["snr"] - 1) < 1e-6,
                  "x0.1 scores 100 times x10; snr is scale-invariant",
                  f"{a} {b}")
        # ranks: Spectrum's order within each weight type
        types = {}
        for name in sd:
            parts = name.split(".")
            k = next((i for i, p in enumerate(parts[:-1]) if p.isdigit()),
                     None)
            types.setdefault(".".join(parts[k + 1:]) if k is not None
                             else name, []).append(name)
        bad = []
        for ty, names in types.items():
            order = sorted(names, key=lambda nm: -spectrum(sd[nm],
                                                           torch.float64)[0])
            for r, nm in enumerate(order, 1):
                if nm in got and (got[nm]["rank"] != r or
                                  got[nm]["of"] != len(names) or
                                  got[nm]["type"] != ty):
                    bad.append(f"{nm}: {got[nm]}, want rank {r}/{len(names)} "
                               f"type {ty}")
        check(not bad, "ranks within each weight type", bad)
        rc, out, err = run_tui("--rank", "snr", path, "layers.*.up.weight")
        check(rc == 0 and out.count(b"up.weight") == 2 and
              b"q.weight" not in out, "a pattern selects", out[:300])
        with open(path, "rb") as f:
            data = f.read()
        trunc = os.path.join(tmp, "trunc.pt")
        with open(trunc, "wb") as f:
            f.write(data[:len(data) * 2 // 3])
        for label, args in (("an unknown method", ("--rank", "svd", path)),
                            ("a pattern that matches nothing",
                             ("--rank", "snr", path, "nothing.here")),
                            ("a truncated file", ("--rank", "snr", trunc))):
            rc, out, err = run_tui(*args)
            check(rc == 2 and out == b"" and err.count(b"\n") == 1,
                  f"{label}: one line, exit 2, nothing on stdout",
                  f"rc={rc} out={out[:100]} err={err}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish("test_rank")


if __name__ == "__main__":
    sys.exit(main())
