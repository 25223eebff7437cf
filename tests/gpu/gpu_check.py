#!/usr/bin/env python3
"""gpu_check.py: `tui --headless` on cuda against PyTorch on the same card.

    gpu_check.py TUI OUTDIR [--steps N]

Writes a small model (torchvision's resnet18 when torchvision is there,
else a small CNN with BatchNorm) and a transformer encoder classifier, with
random data and plans (AdamW; a frozen prefix), needing no PyYAML. For
each device in (cpu, cuda): runs the trainer and the Python reference loop
(tests/train/reference.py) on the same device, and prints per-step loss
agreement (max relative difference; 1e-5 is required on cpu, cuda kernels
may differ in the last bits), steps/s of both (steady state: 1 / the
median step time after the first step) and their ratio, gradient and
optimizer bytes against the estimate, and peak device memory. Then, per
device and model, `tui --headless --measure-memory --batch-size 32 --json`
against PyTorch on the same device and plan: activation bytes against
saved_tensors_hooks (unique storages; parameters, buffers and the batch
excluded), and the step's peak against torch.cuda.max_memory_allocated()
less what was allocated before the step (cuda only; the CPU has no such
counter). cuda rows are skipped, with a note, when torch.cuda is not
available. Exits 1 when a run fails, cpu parity is off, or the activation
bytes differ by more than 1%.
"""
import json
import os
import statistics
import subprocess
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import reference  # noqa: E402


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean((2, 3)))


class Encoder(nn.Module):
    def __init__(self, vocab=1000, d=256, seq=64, classes=10):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, 8, 4 * d, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x) + self.pos).mean(1))


def plan_doc(model, init, data, frozen, device, batch):
    return {"frozen": frozen, "batchnorm": "freeze-stats",
            "train": {"model": model, "init": init,
                      "data": {"train": data, "inputs": "x", "targets": "t"},
                      "loss": "cross_entropy",
                      "optimizer": {"name": "adamw", "lr": 1e-4,
                                    "weight_decay": 0.01},
                      "batch_size": batch, "epochs": 1, "device": device,
                      "seed": 0, "log_every": 1000000, "checkpoint_every": 0}}


def yaml_text(doc):
    """The plan as YAML (flow maps; no PyYAML needed)."""
    t = doc["train"]
    lines = ["version: 1", "model:", f"  path: {t['init']}"]
    lines += ["frozen:"] + [f"- {n}" for n in doc["frozen"]] if doc["frozen"] \
        else ["rules:", '- unfreeze: "**"']
    lines += ["batchnorm: freeze-stats", "train:",
              f"  model: {t['model']}", f"  init: {t['init']}",
              f"  data: {{train: {t['data']['train']}, inputs: x, targets: t}}",
              "  loss: cross_entropy",
              "  optimizer: {name: adamw, lr: 0.0001, weight_decay: 0.01}",
              f"  batch_size: {t['batch_size']}", "  epochs: 1",
              f"  device: {t['device']}", "  seed: 0", "  log_every: 1000000",
              "  checkpoint_every: 0"]
    return "\n".join(lines) + "\n"


def python_measure(path, name, frozen, dev, batch, out):
    """(activation bytes, peak bytes above the start or None) of one
    forward + loss + backward in PyTorch, as --measure-memory does it."""
    torch._C._set_graph_executor_optimize(False)
    m = torch.jit.load(os.path.join(out, f"{name}.ts.pt"), map_location=dev)
    d = reference.st_load(os.path.join(out, f"{name}.data.safetensors"))[0]
    x, y = d["x"][:batch].to(dev), d["t"][:batch].to(dev)
    fz = set(frozen)
    for n, p in m.named_parameters():
        p.requires_grad_(n not in fz)
    reference.set_mode(m, True, reference.frozen_norms(m, fz))
    ex = {t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage")
          else t.storage().data_ptr()
          for t in list(m.parameters()) + list(m.buffers()) + [x, y]}
    seen = {}

    def pack(t):
        s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
        if s.data_ptr() not in ex:
            seen[s.data_ptr()] = s.nbytes()
        return t
    if dev == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(m(x), y)
    loss.backward()
    peak = None
    if dev == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    return sum(seen.values()), peak


def measure_rows(tui, out, models, devices, batch):
    """--measure-memory of each model on each device against PyTorch."""
    rows, status = [], 0
    for dev in devices:
        for name, frozen in models:
            path = os.path.join(out, f"plan-{name}-{dev}.yaml")
            env = dict(os.environ, TUI_THREADS=str(torch.get_num_threads()))
            r = subprocess.run([tui, "--headless", "--plan", path,
                                "--measure-memory", "--batch-size", str(batch),
                                "--json"], capture_output=True, text=True,
                               env=env)
            if r.returncode != 0:
                print(f"gpu_check: --measure-memory of {name} on {dev} "
                      f"failed: {r.stderr.strip()}")
                status = 1
                continue
            j = json.loads(r.stdout)
            act, peak = python_measure(path, name, frozen, dev, batch, out)
            if abs(j["activation_bytes"] - act) > 0.01 * act:
                status = 1
            rows.append((name, dev, batch, j["activation_bytes"], act,
                         j["peak_bytes"], peak))
    print(f"\n--measure-memory against PyTorch (batch {batch}, frozen prefix; "
          "python peak: torch.cuda.max_memory_allocated() less the bytes "
          "allocated before the step)\n")
    print("| measured | device | batch | activations tui | activations python "
          "| diff | peak tui | peak python |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (m, d, b, at, ap, pt, pp) in rows:
        diff = (at - ap) / ap if ap else 0.0
        print(f"| measure {m} | {d} | {b} | {at:,} | {ap:,} | {diff:+.4%} | "
              f"{pt:,} | {'-' if pp is None else f'{pp:,}'} |")
    return status


def main():
    tui, out = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--steps" else 30
    os.makedirs(out, exist_ok=True)
    batch = 32
    n = steps * batch
    g = torch.Generator().manual_seed(1)
    try:
        import torchvision
        torch.manual_seed(0)
        cnn, cnn_name = torchvision.models.resnet18(num_classes=10), "resnet18"
        prefix = ("conv1.", "bn1.", "layer1.")
    except ImportError:
        torch.manual_seed(0)
        cnn, cnn_name = SmallCNN(), "small-cnn"
        prefix = ("conv1.", "bn1.")
    enc = Encoder()
    models = []
    for name, m, data, pre in (
            (cnn_name, cnn, {"x": torch.randn(n, 3, 64, 64, generator=g),
                             "t": torch.randint(0, 10, (n,), generator=g)}, prefix),
            ("encoder", enc, {"x": torch.randint(0, 1000, (n, 64), generator=g),
                              "t": torch.randint(0, 10, (n,), generator=g)},
             ("embed.", "pos", "encoder.layers.0."))):
        torch.jit.script(m).save(os.path.join(out, f"{name}.ts.pt"))
        reference.st_save(os.path.join(out, f"{name}.safetensors"), m.state_dict())
        reference.st_save(os.path.join(out, f"{name}.data.safetensors"), data)
        frozen = [k for k, _ in m.named_parameters() if k.startswith(pre)]
        models.append((name, frozen))
    cuda = torch.cuda.is_available()
    devices = ["cpu", "cuda"] if cuda else ["cpu"]
    if not cuda:
        print("gpu_check: torch.cuda is not available here: cuda rows skipped "
              "(CPU rows only)")
    rows, status = [], 0
    for dev in devices:
        for name, frozen in models:
            doc = plan_doc(f"{name}.ts.pt", f"{name}.safetensors",
                           f"{name}.data.safetensors", frozen, dev, batch)
            path = os.path.join(out, f"plan-{name}-{dev}.yaml")
            with open(path, "w") as f:
                f.write(yaml_text(doc))
            run_dir = os.path.join(out, f"run-{name}-{dev}")
            subprocess.run(["rm", "-rf", run_dir])
            env = dict(os.environ, TUI_THREADS=str(torch.get_num_threads()))
            # cpu rows: 3 steps (parity only; the CPU is slow for these)
            cap = ["--max-steps", "3"] if dev == "cpu" else []
            r = subprocess.run([tui, "--headless", "--plan", path, "-o", run_dir] + cap,
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                print(f"gpu_check: {name} on {dev}: tui failed: {r.stderr.strip()}")
                status = 1
                continue
            rep = json.load(open(os.path.join(run_dir, "report.json")))
            lines = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))
                     if '"loss"' in l]
            tl = [x["loss"] for x in lines]
            plan = reference.Plan(path, doc=doc, max_steps=3 if dev == "cpu" else None)
            if dev == "cuda":
                torch.cuda.reset_peak_memory_stats()
            ref = reference.run(plan)
            peak_py = torch.cuda.max_memory_allocated() if dev == "cuda" else 0
            worst = max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(tl, ref["losses"]))
            if dev == "cpu" and (worst > 1e-5 or len(tl) != len(ref["losses"])):
                status = 1
            # steady state: 1 / the median step after the first (the
            # first one also compiles kernels and allocates the state)
            py_sps = 1 / statistics.median(ref["step_times"][1:] or ref["step_times"])
            times = [x["step_time"] for x in lines]
            tui_sps = 1 / statistics.median(times[1:] or times)
            rows.append((name, dev, len(tl), worst, tui_sps, py_sps,
                         rep["gradient_bytes"] == rep["estimate"]["gradients"],
                         rep["optimizer_bytes"] == rep["estimate"]["optimizer_state"]
                         - rep["estimate"]["bookkeeping"],
                         rep["peak_device_bytes"], peak_py,
                         rep["frozen_unchanged"] and rep["norm_stats_unchanged"]))
    name = torch.cuda.get_device_name(0) if cuda else "no GPU"
    print(f"\ngpu_check: torch {torch.__version__}, {name}; {steps} steps, batch {batch}, AdamW, frozen prefix\n")
    print("| model | device | steps | max rel. loss diff | tui steps/s | "
          "python steps/s | ratio | bytes = estimate | peak MiB tui / python | frozen unchanged |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---|")
    for (m, d, s, w, ts, ps, gok, ook, pk, pp, fz) in rows:
        # cpu rows run 3 steps for parity: too few for a speed figure
        speed = f"{ts:.2f} | {ps:.2f} | {ts / ps:.3f}" if d != "cpu" else \
            "- | - | - (parity only)"
        print(f"| {m} | {d} | {s} | {w:.2g} | {speed} | "
              f"{'yes' if gok and ook else 'NO'} | "
              f"{pk / 2**20:.0f} / {pp / 2**20:.0f} | {'yes' if fz else 'NO'} |")
    status |= measure_rows(tui, out, models, devices, batch)
    return status


if __name__ == "__main__":
    sys.exit(main())
