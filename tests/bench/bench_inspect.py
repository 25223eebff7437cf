#!/usr/bin/python3
"""bench_inspect.py: `tui --rank snr` and `tui --stats` against Python.

    bench_inspect.py [--build DIR] [--out FILE.md] [--quick]

1. --rank snr, one core (taskset -c 0, OPENBLAS/OMP threads 1 on both
   sides): seconds per 4096x4096 and per 4096x11008 f32 matrix, each
   saved alone with torch.save; tui's whole process (open, read, widen to
   float64, Gram by dsyrk, dsyevd) against Spectrum's route in the same
   run (torch.load, torch.linalg.svdvals in float32, the formula; the
   import of torch excluded). Best of 2 (--quick: 1024x1024 and
   1024x2752, best of 1).
2. --stats, one core (taskset -c 0): GB/s of a page-cached f32 file of
   1 GiB (--quick: 256 MiB), best of 3, and the peak RSS of the process
   (memory independent of the file size: the same at a quarter the size).
Table on stdout and in --out. Not a pass/fail test: exits 1 only when a
run fails.
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

ONE = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
       "MKL_NUM_THREADS": "1",
       "TUI_CACHE_DIR": "off"}  # time the scoring, not the score cache


def run_timed(cmd, rss_file=None):
    """Seconds of one child process; with rss_file, its peak RSS (KiB)
    through /usr/bin/time (getrusage would count the forked Python)."""
    e = dict(os.environ)
    e.update(ONE)
    pre = ["/usr/bin/time", "-f", "%M", "-o", rss_file] if rss_file else []
    t0 = time.perf_counter()
    p = subprocess.run(pre + cmd, env=e, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {p.returncode}: {p.stderr[-300:]}")
    rss = 0
    if rss_file:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1])
    return dt, rss


def spectrum_seconds(path):
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    w = next(iter(torch.load(path).values())).float()
    s = torch.linalg.svdvals(w)
    sigma = (torch.quantile(s, 0.75) - torch.quantile(s, 0.25)) / 1.349
    m, n = w.shape
    thr = sigma * (1 + math.sqrt(min(m, n) / max(m, n)))
    noise = float(s[s <= thr].sum())
    _ = float(s[s > thr].sum()) / noise / float(s.max())
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    tui = os.path.join(a.build, "tui")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    tmp = tempfile.mkdtemp(prefix="bench_inspect.")
    rows = []
    try:
        g = torch.Generator().manual_seed(0)
        shapes = [(1024, 1024), (1024, 2752)] if a.quick else \
            [(4096, 4096), (4096, 11008)]
        reps = 1 if a.quick else 2
        for m, n in shapes:
            p = os.path.join(tmp, f"w{m}x{n}.pt")
            torch.save({"layers.0.w.weight": torch.randn(m, n, generator=g)},
                       p)
            t = min(run_timed(pin + [tui, "--rank", "snr", p])[0]
                    for _ in range(reps))
            s = min(spectrum_seconds(p) for _ in range(reps))
            rows.append(f"| --rank snr, {m}x{n} f32, 1 core | {t:.2f} s | "
                        f"{s:.2f} s (svdvals f32) | {s / t:.2f}x |")
            os.unlink(p)
        size = (256 << 20) if a.quick else (1 << 30)
        rss = []
        for sz in (size // 4, size):
            p = os.path.join(tmp, f"s{sz}.pt")
            torch.save({"w": torch.randn(sz // 4, generator=g)}, p)
            run_timed([tui, "--stats", p])  # page-cache it
            best, peak = math.inf, 0
            for _ in range(3):
                dt = run_timed(pin + [tui, "--stats", p])[0]
                r = run_timed([tui, "--stats", p],
                              os.path.join(tmp, "rss"))[1] \
                    if os.path.exists("/usr/bin/time") else 0
                best, peak = min(best, dt), max(peak, r)
            rss.append(peak)
            os.unlink(p)
        rows.append(f"| --stats, {size >> 20} MiB f32 page-cached, 1 core | "
                    f"{size / best / 1e9:.2f} GB/s | - | - |")
        rows.append(f"| --stats peak RSS, {size >> 22} MiB / {size >> 20} "
                    f"MiB file | {rss[0] / 1024:.0f} / {rss[1] / 1024:.0f} "
                    f"MiB | - | - |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = ("| inspect | tui | Python route | ratio |\n|---|---|---|---|\n" +
            "\n".join(rows) + "\n")
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
