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
available.

Exits 1, with a line "gpu_check: FAIL MODEL DEVICE: WHAT" per failure,
when a run fails; when a per-step loss differs from PyTorch's by more than
LOSS_TOL[device] relative (1e-5 on cpu, where the trainer is bitwise equal;
1e-3 on cuda, where cuDNN may pick other kernels for the two processes and
AdamW carries the last-bit differences on); when the gradient or optimizer
bytes differ from the estimate; when a frozen parameter, or a buffer of a
frozen norm layer (kept in eval mode by freeze-stats), differs from the
init weights by a single bit in the run's weights.safetensors (read back
from the file, not taken from the trainer's report); or when the
activation bytes differ from PyTorch's by more than 1%.

--perturb feeds the comparison a deliberate mismatch (the reference losses
scaled by 1 + 10 x the tolerance, the estimate one byte larger, the first
frozen tensor of the init weights moved by one ulp) to show that each
check fails (tests/cli/gpu_check_cpu.sh); --no-measure leaves out the
--measure-memory rows.
"""
import argparse
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

# per-step loss tolerance against PyTorch, relative (docstring)
LOSS_TOL = {"cpu": 1e-5, "cuda": 1e-3}


def fail(name, dev, what):
    print(f"gpu_check: FAIL {name} {dev}: {what}")
    return 1


def bits(t):
    """The tensor's bytes, for a bitwise comparison."""
    return t.detach().cpu().contiguous().view(-1).view(torch.uint8)


def frozen_changed(run_dir, init_path, module, frozen, perturb):
    """Names of the frozen parameters and frozen-norm buffers whose bytes
    in RUN_DIR/weights.safetensors differ from the init weights."""
    out = reference.st_load(os.path.join(run_dir, "weights.safetensors"))[0]
    init = reference.st_load(init_path)[0]
    names = list(frozen)
    bufs = dict(module.named_buffers())
    for path in reference.frozen_norms(module, set(frozen)):
        names += [n for n in bufs if n.startswith(path + ".")]
    if perturb and names:
        t = init[names[0]]
        init[names[0]] = t.flatten().clone()
        f = init[names[0]]
        f[0] = torch.nextafter(f[0], torch.tensor(float("inf"), dtype=f.dtype))
        init[names[0]] = f.view(t.shape)
    return [n for n in names
            if n not in out or not torch.equal(bits(out[n]), bits(init[n]))]


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
                status |= fail(name, dev, "--measure-memory failed: "
                               + r.stderr.strip())
                continue
            j = json.loads(r.stdout)
            act, peak = python_measure(path, name, frozen, dev, batch, out)
            if abs(j["activation_bytes"] - act) > 0.01 * act:
                status |= fail(name, dev, f"activation bytes {j['activation_bytes']:,}"
                               f" against PyTorch's {act:,} (over 1%)")
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
    ap = argparse.ArgumentParser(description="tui --headless against PyTorch "
                                 "on cpu and cuda")
    ap.add_argument("tui")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--perturb", action="store_true",
                    help="feed the comparison a deliberate mismatch")
    ap.add_argument("--no-measure", action="store_true",
                    help="leave out the --measure-memory rows")
    a = ap.parse_args()
    tui, out, steps = a.tui, a.out, a.steps
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
    models, modules = [], {}
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
        modules[name] = m
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
                status |= fail(name, dev, "tui failed: " + r.stderr.strip())
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
            tol = LOSS_TOL[dev]
            ref_losses = [x * (1 + 10 * tol) for x in ref["losses"]] \
                if a.perturb else ref["losses"]
            worst = max((abs(x - y) / max(abs(y), 1e-30)
                         for x, y in zip(tl, ref_losses)), default=float("inf"))
            if len(tl) != len(ref_losses):
                status |= fail(name, dev, f"{len(tl)} losses against PyTorch's "
                               f"{len(ref_losses)}")
            if not worst <= tol:
                status |= fail(name, dev, f"loss differs from PyTorch's by "
                               f"{worst:.3g} relative (tolerance {tol:g})")
            est = rep["estimate"]
            extra = 1 if a.perturb else 0
            gok = rep["gradient_bytes"] == est["gradients"] + extra
            ook = rep["optimizer_bytes"] == (est["optimizer_state"]
                                             - est["bookkeeping"] + extra)
            if not gok:
                status |= fail(name, dev, f"gradient bytes {rep['gradient_bytes']:,}"
                               f" against the estimate's {est['gradients'] + extra:,}")
            if not ook:
                status |= fail(name, dev, f"optimizer bytes {rep['optimizer_bytes']:,}"
                               " against the estimate's "
                               f"{est['optimizer_state'] - est['bookkeeping'] + extra:,}")
            changed = frozen_changed(run_dir, os.path.join(out, f"{name}.safetensors"),
                                     modules[name], frozen, a.perturb)
            if changed:
                status |= fail(name, dev, f"{len(changed)} frozen tensor(s) changed "
                               f"in weights.safetensors: {', '.join(changed[:5])}")
            # steady state: 1 / the median step after the first (the
            # first one also compiles kernels and allocates the state)
            py_sps = 1 / statistics.median(ref["step_times"][1:] or ref["step_times"])
            times = [x["step_time"] for x in lines]
            tui_sps = 1 / statistics.median(times[1:] or times)
            rows.append((name, dev, len(tl), worst, tui_sps, py_sps, gok, ook,
                         rep["peak_device_bytes"], peak_py, not changed))
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
    if not a.no_measure:
        status |= measure_rows(tui, out, models, devices, batch)
    print(f"\ngpu_check: {'FAILED' if status else 'passed'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
