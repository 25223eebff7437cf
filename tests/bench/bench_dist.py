#!/usr/bin/python3
"""bench_dist.py: the data-parallel trainer's reduction cost, against
PyTorch's DistributedDataParallel (docs/distributed.md).

    bench_dist.py [--build DIR] [--batch N] [--size S] [--steps N]
                  [--out FILE.md]

For a torchvision ResNet-18 (1000 classes, 3xSxS inputs, default batch 32
per process at 64x64, everything trainable so every gradient is reduced:
44.7 MB a step, AdamW, cpu), one thread per process, runs once each:
  1. tui --headless in one process (no group);
  2. tui --headless in two processes (RANK/WORLD_SIZE by hand, gloo):
     per step `step_time`, `comm_time` (every collective of the step) and
     `reduce_time` (the gradients') from rank 0's metrics.jsonl;
  3. tests/train/reference_ddp.py: the same plan in
     DistributedDataParallel over two processes (its reduction overlaps
     the backward), rank 0's seconds per step.
Medians of the steps after the first. Reports the reduction's share of a
step at W=2, the gradients' all-reduce bandwidth (bytes reduced / seconds),
and DDP's step time over tui's. Table on stdout and in --out. Not a
pass/fail test: exits 1 only when a run fails.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import reference  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def setup(tmp, batch, size, steps):
    torch.manual_seed(0)
    r = torchvision.models.resnet18()
    torch.jit.script(r).save(os.path.join(tmp, "resnet18.ts.pt"))
    reference.st_save(os.path.join(tmp, "resnet18.safetensors"), r.state_dict())
    g = torch.Generator().manual_seed(1)
    n = 2 * steps * batch
    reference.st_save(os.path.join(tmp, "img.safetensors"),
                      {"x": torch.randn(n, 3, size, size, generator=g),
                       "t": torch.randint(0, 1000, (n,), generator=g)})
    plan = os.path.join(tmp, "plan.yaml")
    with open(plan, "w") as f:
        f.write("\n".join([
            "version: 1", "model: {path: resnet18.safetensors}",
            "frozen: []", "batchnorm: freeze-stats", "train:",
            "  model: resnet18.ts.pt", "  init: resnet18.safetensors",
            "  data: {train: img.safetensors, inputs: x, targets: t}",
            "  loss: cross_entropy",
            "  optimizer: {name: adamw, lr: 0.0001, weight_decay: 0.01}",
            f"  batch_size: {batch}", "  epochs: 1", "  device: cpu",
            "  seed: 0", "  log_every: 1000000", "  checkpoint_every: 0"])
            + "\n")
    return plan, sum(p.numel() * p.element_size() for p in r.parameters())


def tui_run(tui, plan, out, world, steps):
    env = dict(os.environ, TUI_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    port = str(free_port())
    procs = []
    for r in range(world):
        e = dict(env)
        if world > 1:
            e.update(RANK=str(r), WORLD_SIZE=str(world),
                     MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(subprocess.Popen(
            [tui, "--headless", "--plan", plan, "--max-steps", str(steps),
             "-o", out], env=e, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"tui (W={world}): exit {p.returncode}: "
                               f"{err.strip()[-400:]}")
    return [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
            if '"step_time"' in l]


def med(xs):
    return statistics.median(xs[1:] if len(xs) > 1 else xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--out")
    a = ap.parse_args()
    tui = os.path.abspath(os.path.join(a.build, "tui"))
    tmp = tempfile.mkdtemp(prefix="bench_dist.")
    try:
        plan, grad_bytes = setup(tmp, a.batch, a.size, a.steps)
        one = tui_run(tui, plan, os.path.join(tmp, "w1"), 1, a.steps)
        two = tui_run(tui, plan, os.path.join(tmp, "w2"), 2, a.steps)
        ref_l = os.path.join(tmp, "ddp.json")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        p = subprocess.run([sys.executable, os.path.join(HERE, "..", "train",
                                                         "reference_ddp.py"),
                            plan, "2", str(free_port()),
                            os.path.join(tmp, "ddp.safetensors"), ref_l],
                           env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"reference_ddp.py: {p.stderr.strip()[-400:]}")
        ddp = json.load(open(ref_l))["step_times"]
    except (RuntimeError, OSError, ValueError, KeyError) as e:
        print(f"bench_dist: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    s1 = med([m["step_time"] for m in one])
    s2 = med([m["step_time"] for m in two])
    comm = med([m["comm_time"] for m in two])
    red = med([m["reduce_time"] for m in two])
    sd = med(ddp)
    cmd = (f"python3 tests/bench/bench_dist.py --build {a.build} --batch "
           f"{a.batch} --size {a.size} --steps {a.steps}")
    lines = [
        f"resnet18 (torchvision, 1000 classes), batch {a.batch} per process, "
        f"{a.size}x{a.size}, everything trainable ({grad_bytes:,} gradient "
        f"bytes reduced a step), AdamW, cpu, 1 thread per process, gloo on "
        f"loopback, {a.steps} steps (medians of steps 2..{a.steps}): `{cmd}`",
        "",
        "| run | seconds a step | note |",
        "|---|---|---|",
        f"| tui, one process | {s1:.3f} | no group |",
        f"| tui, two processes | {s2:.3f} | rank 0 |",
        f"| of which collectives | {comm:.3f} | {100 * comm / s2:.1f}% of the "
        f"step (buffers, loss, gradients) |",
        f"| of which the gradients' all-reduce | {red:.3f} | "
        f"{100 * red / s2:.1f}% of the step; {grad_bytes / red / 1e6:.0f} MB/s |",
        f"| DDP (PyTorch), two processes | {sd:.3f} | reduction overlapped "
        f"with the backward |",
        f"| DDP / tui at two processes | {sd / s2:.2f} | above 1: tui faster |",
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
