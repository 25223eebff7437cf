#!/usr/bin/python3
"""bench_measure.py: `tui --headless --measure-memory` against one training step.

    bench_measure.py [--build DIR] [--batch N] [--size S] [--steps N]
                     [--threads N] [--out FILE.md]

For a torchvision ResNet-18 (1000 classes, 3xSxS inputs, default batch 32 at
224x224, everything trainable, AdamW, cpu), runs in this order, once each:
  1. `tui --headless --plan P --max-steps N`: one training step's seconds
     is the median of the steps after the first in metrics.jsonl
     (`step_time`: batch, forward, loss, backward, update);
  2. `tui --headless --plan P --measure-memory --batch-size B --json`: the
     measured step's seconds (`step_seconds`: forward, loss, backward with
     the saved-tensor hooks and allocation reports on).
Module loading and process start are excluded on both sides. The ratio
measurement / training step is the figure of issue 13 (target <= 2); the
ratio to the first training step (TorchScript's first run, as the
measurement's is) is shown next to it.
Table on stdout and in --out. Not a pass/fail test: exits 1 only when a
run fails.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import reference  # noqa: E402


def setup(tmp, batch, size, steps):
    torch.manual_seed(0)
    r = torchvision.models.resnet18()
    torch.jit.script(r).save(os.path.join(tmp, "resnet18.ts.pt"))
    reference.st_save(os.path.join(tmp, "resnet18.safetensors"),
                      r.state_dict())
    g = torch.Generator().manual_seed(1)
    n = steps * batch
    reference.st_save(os.path.join(tmp, "img.safetensors"),
                      {"x": torch.randn(n, 3, size, size, generator=g),
                       "t": torch.randint(0, 1000, (n,), generator=g)})
    plan = os.path.join(tmp, "plan.yaml")
    with open(plan, "w") as f:
        f.write("\n".join([
            "version: 1", "model: {path: resnet18.safetensors}",
            "frozen: []", "batchnorm: freeze-stats", "train:",
            "  model: resnet18.ts.pt",
            "  data: {train: img.safetensors, inputs: x, targets: t}",
            "  loss: cross_entropy",
            "  optimizer: {name: adamw, lr: 0.0001, weight_decay: 0.01}",
            f"  batch_size: {batch}", "  epochs: 1", "  device: cpu",
            "  seed: 0", "  log_every: 1000000", "  checkpoint_every: 0"])
            + "\n")
    return plan


def run(cmd, env):
    t = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: "
                           f"{p.stderr.strip()[-400:]}")
    return p.stdout, time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out")
    a = ap.parse_args()
    tui = os.path.abspath(os.path.join(a.build, "tui"))
    env = dict(os.environ, TUI_THREADS=str(a.threads))
    tmp = tempfile.mkdtemp(prefix="bench_measure.")
    try:
        plan = setup(tmp, a.batch, a.size, a.steps)
        out = os.path.join(tmp, "run")
        _, train_wall = run([tui, "--headless", "--plan", plan, "--max-steps",
                             str(a.steps), "-o", out], env)
        times = [json.loads(line)["step_time"]
                 for line in open(os.path.join(out, "metrics.jsonl"))
                 if '"step_time"' in line]
        step = statistics.median(times[1:] if len(times) > 1 else times)
        so, meas_wall = run([tui, "--headless", "--plan", plan,
                             "--measure-memory", "--batch-size",
                             str(a.batch), "--json"], env)
        j = json.loads(so)
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        print(f"bench_measure: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = j["step_seconds"] / step
    cmd = (f"python3 tests/bench/bench_measure.py --build {a.build} "
           f"--batch {a.batch} --size {a.size} --steps {a.steps} "
           f"--threads {a.threads}")
    lines = [
        f"resnet18 (torchvision, 1000 classes), batch {a.batch}, "
        f"{a.size}x{a.size}, everything trainable, AdamW, cpu, "
        f"{a.threads} thread(s), libtorch {j['libtorch']}: `{cmd}`",
        "",
        "| run | seconds | note |",
        "|---|---|---|",
        f"| one training step (tui --headless) | {step:.3f} | median of "
        f"steps 2..{a.steps} ({', '.join(f'{t:.3f}' for t in times)}) |",
        f"| --measure-memory step | {j['step_seconds']:.3f} | activations "
        f"{j['activation_bytes']:,} B, peak {j['peak_bytes']:,} B |",
        f"| ratio measure / step | {ratio:.2f} | target <= 2 |",
        f"| ratio measure / first step | {j['step_seconds'] / times[0]:.2f}"
        f" | the measurement is a first run of the module too |",
        f"| whole processes | {train_wall:.1f} / {meas_wall:.1f} | training "
        f"{a.steps} steps / measuring (loading included) |",
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
