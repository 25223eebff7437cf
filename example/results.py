#!/usr/bin/python3
"""results.py WORKDIR [--doc FILE]: the example's table (docs/example.md).

For every fine-tuning run WORKDIR/runs/<plan>_k<K>_s<S> (made by run.sh):
the test accuracy of its model.ts.pt on WORKDIR/data/test.safetensors
(classes 5-9, eval mode), and from its report.json the time per step,
the trainable parameters and the measured gradient and optimizer-state
bytes; from its plan, the editor's estimate (estimate.bytes.gradients and
.optimizer). Groups by plan and K over the seeds: mean, standard
deviation (n-1) and range. Writes WORKDIR/results.json (every run) and
WORKDIR/results.md (the tables); with --doc, replaces the text between
"<!-- example:begin -->" and "<!-- example:end -->" in FILE.
"""
import argparse
import glob
import json
import os
import platform
import re
import statistics
import sys

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st import st_load  # noqa: E402

PLANS = [("full", "full fine-tuning (nothing frozen)"),
         ("freeze1", "stem + stage1 frozen"),
         ("freeze2", "stem + stage1 + stage2 frozen"),
         ("head", "head only (preset head-only), lr ×10")]
BEGIN, END = "<!-- example:begin -->", "<!-- example:end -->"


def accuracy(model_path, x, y):
    m = torch.jit.load(model_path, map_location="cpu").eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += int((m(x[i:i + 1000]).argmax(1) == y[i:i + 1000])
                           .sum())
    return correct / len(x)


def step_ms(rdir, rep):
    """Median milliseconds per step after the first two (the first steps
    of a TorchScript module include its warm-up), from metrics.jsonl's
    clock; the report's mean when the run is too short for that."""
    times = []
    with open(os.path.join(rdir, "metrics.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            if "event" not in m:
                times.append(m["time"])
    d = [b - a for a, b in zip(times[1:], times[2:])]
    if len(d) < 5:
        return 1000.0 * rep["seconds"] / rep["steps"]
    return 1000.0 * statistics.median(d)


def spread(v):
    m = statistics.fmean(v)
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return m, sd, min(v), max(v)


def kib(n):
    return f"{n / 1024:.1f} KiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir")
    ap.add_argument("--doc")
    a = ap.parse_args()
    w = a.workdir
    torch.set_num_threads(int(os.environ.get("TUI_THREADS", "2")))
    t, _ = st_load(os.path.join(w, "data", "test.safetensors"))
    x, y = torch.from_numpy(t["images"]), torch.from_numpy(t["labels"])
    runs = []
    for plan_path in sorted(glob.glob(os.path.join(w, "*_k*_s*.plan.yaml"))):
        name = os.path.basename(plan_path)[:-len(".plan.yaml")]
        mt = re.fullmatch(r"(\w+)_k(\d+)_s(\d+)", name)
        rdir = os.path.join(w, "runs", name)
        if not mt or not os.path.exists(os.path.join(rdir, "report.json")):
            continue
        with open(plan_path) as f:
            plan = yaml.safe_load(f)
        with open(os.path.join(rdir, "report.json")) as f:
            rep = json.load(f)
        est = plan["estimate"]["bytes"]
        runs.append({
            "name": name, "plan": mt[1], "k": int(mt[2]), "seed": int(mt[3]),
            "test_accuracy": accuracy(os.path.join(rdir, "model.ts.pt"), x, y),
            "test_images": len(y),
            "steps": rep["steps"], "seconds": rep["seconds"],
            "ms_per_step": step_ms(rdir, rep),
            "batch_size": plan["train"]["batch_size"],
            "trainable_parameters": rep["trainable_parameters"],
            "trainable_tensors": rep["trainable_tensors"],
            "frozen": len(plan.get("frozen") or []),
            "gradient_bytes": rep["gradient_bytes"],
            "optimizer_bytes": rep["optimizer_bytes"],
            "estimate_gradients": est["gradients"],
            "estimate_optimizer": est["optimizer"],
            "final_train_loss": rep["train_loss"],
            "frozen_unchanged": rep["frozen_unchanged"],
            "norm_stats_unchanged": rep["norm_stats_unchanged"],
        })
    if not runs:
        raise SystemExit(f"results: no finished runs in {w}/runs")
    pre = {}
    pre_path = os.path.join(w, "runs", "pretrain", "report.json")
    if os.path.exists(pre_path):
        with open(pre_path) as f:
            pre = json.load(f)
    with open(os.path.join(w, "results.json"), "w") as f:
        json.dump({"pretrain": pre, "runs": runs}, f, indent=1)
        f.write("\n")

    ks = sorted({r["k"] for r in runs})
    seeds = sorted({r["seed"] for r in runs})
    lines = [
        f"Test accuracy on the {runs[0]['test_images']} test images of "
        f"classes 5-9 (mean ± standard deviation over seeds "
        f"{', '.join(map(str, seeds))}, range in brackets). "
        "Time per step: the median over steps 3 to the end of each run "
        "(metrics.jsonl's clock: batch, forward, backward, update), mean "
        "over the seeds. Bytes: gradients + AdamW state, as measured "
        "by the trainer after the first step, and as the editor estimated "
        "them in the plan (the estimate counts PyTorch's 4-byte step tensor "
        "per trainable tensor, which libtorch's trainer keeps as one "
        "counter).",
        "",
        "| plan | images/class | test accuracy | ms/step (batch) "
        "| trainable params | grad + optimizer bytes, measured "
        "| estimate (plan) |",
        "|---|---|---|---|---|---|---|",
    ]
    for k in ks:
        for p, label in PLANS:
            g = [r for r in runs if r["plan"] == p and r["k"] == k]
            if not g:
                continue
            m, sd, lo, hi = spread([100 * r["test_accuracy"] for r in g])
            ms = statistics.fmean(r["ms_per_step"] for r in g)
            r0 = g[0]
            meas = r0["gradient_bytes"] + r0["optimizer_bytes"]
            est = r0["estimate_gradients"] + r0["estimate_optimizer"]
            lines.append(
                f"| {label} | {k} | {m:.1f}% ± {sd:.1f} ({lo:.1f}–{hi:.1f}) "
                f"| {ms:.1f} ({r0['batch_size']}) "
                f"| {r0['trainable_parameters']:,} "
                f"| {meas:,} ({kib(meas)}) | {est:,} ({kib(est)}) |")
    lines.append("")
    if pre:
        lines.append(
            f"Pretraining (classes 0-4): {pre['steps']} steps in "
            f"{pre['seconds']:.0f} s, validation accuracy "
            f"{100 * (pre.get('val_accuracy') or 0):.1f}%.")
    ok = all(r["frozen_unchanged"] and r["norm_stats_unchanged"]
             for r in runs)
    lines.append(
        f"Runs: {len(runs)}; frozen tensors and frozen BatchNorm statistics "
        f"bitwise unchanged in every run: {'yes' if ok else 'NO'}. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"TUI_THREADS={os.environ.get('TUI_THREADS', 'default')}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"torch {torch.__version__}; load average at the end "
        f"{os.getloadavg()[0]:.1f}.")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(w, "results.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    if a.doc:
        with open(a.doc) as f:
            doc = f.read()
        i, j = doc.find(BEGIN), doc.find(END)
        if i < 0 or j < i:
            raise SystemExit(f"results: {a.doc}: no {BEGIN} ... {END}")
        doc = doc[:i + len(BEGIN)] + "\n" + text + doc[j:]
        tmp = a.doc + ".tmp"
        with open(tmp, "w") as f:
            f.write(doc)
        os.replace(tmp, a.doc)
        print(f"results: updated {a.doc}")


if __name__ == "__main__":
    main()
