#!/usr/bin/python3
"""bench_train.py: `tui --headless` against the Python loop, steps per second.

    bench_train.py [--build DIR] [--device cpu|cuda] [--reps N] [--steps N]
                   [--quick] [--out FILE.md]

For a torchvision ResNet-18 (10 classes, 3x64x64 inputs, batch 32) and a
small transformer encoder classifier (d 128, 4 layers, 4 heads, sequences
of 32, batch 32), each under three plans (everything trainable; a prefix
frozen: conv1, bn1, layer1, layer2 / embeddings and the first 2 layers;
head only), runs the trainer and the Python reference loop
(tests/train/reference.py, same TorchScript module, data, optimizer AdamW
and plan) alternately, --reps paired runs each, and reports the median
steps/s of each side over the timed train steps (module loading and
process start excluded on both sides), the ratio tui / python (target >=
0.98; both sides in fresh processes), and the trainer's measured gradient and optimizer-state bytes next
to the estimate. For the ResNet the eager torchvision module in the same
Python loop is shown too, for context. Table on stdout and in --out.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import reference  # noqa: E402


class Encoder(nn.Module):
    def __init__(self, vocab=1000, d=128, seq=32, layers=4, classes=10):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.1,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers,
                                             enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        h = self.embed(x) + self.pos
        h = self.encoder(h)
        return self.head(self.norm(h.mean(1)))


def write_plan(path, init, frozen, train_lines):
    lines = ["version: 1", "model:", f"  path: {init}",
             "  fingerprint: sha256:" + "0" * 64]
    if frozen:
        lines += ["frozen:"] + [f"- {n}" for n in frozen]
    else:
        lines += ["rules:", '- unfreeze: "**"']
    lines += ["batchnorm: freeze-stats", "train:"] + ["  " + l for l in train_lines]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def setup(tmp, steps, batch, device):
    """Models, data and plans; returns [(model, plan name, path, eager)]."""
    torch.manual_seed(0)
    r = torchvision.models.resnet18(num_classes=10)
    torch.jit.script(r).save(os.path.join(tmp, "resnet18.ts.pt"))
    reference.st_save(os.path.join(tmp, "resnet18.safetensors"), r.state_dict())
    g = torch.Generator().manual_seed(1)
    n = steps * batch
    reference.st_save(os.path.join(tmp, "img.safetensors"),
                      {"x": torch.randn(n, 3, 64, 64, generator=g),
                       "t": torch.randint(0, 10, (n,), generator=g)})
    e = Encoder()
    torch.jit.script(e).save(os.path.join(tmp, "encoder.ts.pt"))
    reference.st_save(os.path.join(tmp, "encoder.safetensors"), e.state_dict())
    reference.st_save(os.path.join(tmp, "tok.safetensors"),
                      {"x": torch.randint(0, 1000, (n, 32), generator=g),
                       "t": torch.randint(0, 10, (n,), generator=g)})
    common = [f"batch_size: {batch}", "epochs: 1", f"device: {device}",
              "seed: 0", "log_every: 1000000", "checkpoint_every: 0",
              "loss: cross_entropy",
              "optimizer: {name: adamw, lr: 0.0001, weight_decay: 0.01}"]
    rn = [k for k, _ in r.named_parameters()]
    en = [k for k, _ in e.named_parameters()]
    pre = lambda names, ps: [k for k in names if any(k.startswith(p) for p in ps)]
    out = []
    for model, names, data, init, plans in (
        ("resnet18", rn, "img.safetensors", "resnet18.safetensors",
         [("full", []), ("prefix frozen", pre(rn, ["conv1.", "bn1.", "layer1.", "layer2."])),
          ("head only", [k for k in rn if not k.startswith("fc.")])]),
        ("encoder", en, "tok.safetensors", "encoder.safetensors",
         [("full", []), ("prefix frozen", pre(en, ["embed.", "pos", "encoder.layers.0.", "encoder.layers.1."])),
          ("head only", [k for k in en if not k.startswith("head.")])])):
        for pname, frozen in plans:
            path = os.path.join(tmp, f"{model}-{pname.replace(' ', '_')}.yaml")
            write_plan(path, init, frozen,
                       [f"model: {model}.ts.pt", f"init: {init}",
                        f"data: {{train: {data}, inputs: x, targets: t}}"] + common)
            out.append((model, pname, path))
    return out


def run_tui(tui, plan, out, threads):
    env = dict(os.environ, TUI_THREADS=str(threads))
    r = subprocess.run([tui, "--headless", "--plan", plan, "-o", out], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tui failed: {r.stderr.strip()[-400:]}")
    rep = json.load(open(os.path.join(out, "report.json")))
    subprocess.run(["rm", "-rf", out])
    return rep


def run_python(plan_path, device, threads, eager=False):
    """The reference loop in a fresh Python process, like the trainer's
    (an in-process loop would reuse a warmed-up heap). Returns steps/s."""
    code = ("import sys, json, torch, torchvision; sys.path.insert(0, %r); "
            "import reference; torch.set_num_threads(%d); "
            "p = reference.Plan(%r, device=%r); torch.manual_seed(0); "
            "m = torchvision.models.resnet18(num_classes=10) if %r else None; "
            "r = reference.run(p, module=m); "
            "print(json.dumps(r['steps'] / r['train_seconds']))"
            % (os.path.join(HERE, "..", "train"), threads, plan_path, device,
               eager))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(f"python failed: {r.stderr.strip()[-400:]}")
    return float(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--only", default="", help="model name filter")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    tui = os.environ.get("TUI") or os.path.join(a.build, "tui")
    if not os.path.exists(os.path.join(os.path.dirname(tui), "libtui-train.so")):
        print("bench_train: no trainer in this build (TORCH=off): skipped")
        return 0
    threads = torch.get_num_threads()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for model, pname, plan_path in setup(tmp, a.steps, a.batch, a.device):
            if a.only and a.only not in model:
                continue
            tsp, psp, esp = [], [], []
            rep = None
            for i in range(a.reps):
                rep = run_tui(tui, plan_path, os.path.join(tmp, "out"), threads)
                tsp.append(rep["steps_per_s"])
                psp.append(run_python(plan_path, a.device, threads))
                if model == "resnet18":
                    esp.append(run_python(plan_path, a.device, threads, True))
            t, p = statistics.median(tsp), statistics.median(psp)
            est = rep["estimate"]
            rows.append((model, pname, rep["trainable_parameters"], t, p,
                         statistics.median(esp) if esp else None, t / p,
                         rep["gradient_bytes"], est["gradients"],
                         rep["optimizer_bytes"], est["optimizer_state"],
                         est["bookkeeping"]))
            print(f"  {model} {pname}: tui {t:.2f} steps/s, python {p:.2f} "
                  f"(ratio {t / p:.3f}); runs tui {['%.2f' % x for x in tsp]} "
                  f"python {['%.2f' % x for x in psp]}", file=sys.stderr)
    dev = a.device if a.device == "cpu" else torch.cuda.get_device_name(0)
    lines = [f"Training throughput, {a.steps} steps of batch {a.batch}, AdamW, "
             f"{dev}, {threads} threads, median of {a.reps} paired runs "
             f"(torch {torch.__version__})", "",
             "| model | plan | trainable | tui steps/s | python steps/s | "
             "python eager steps/s | ratio | grad bytes (est.) | "
             "optimizer bytes (est. - bookkeeping) |",
             "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for (m, pn, tp, t, p, e, ratio, gb, ge, ob, oe, bk) in rows:
        lines.append(f"| {m} | {pn} | {tp:,} | {t:.2f} | {p:.2f} | "
                     f"{'%.2f' % e if e else '-'} | {ratio:.3f} | {gb:,} "
                     f"({'=' if gb == ge else ge}) | {ob:,} "
                     f"({'=' if ob == oe - bk else oe} - {bk}) |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    worst = min(r[6] for r in rows) if rows else 1.0
    print(f"\nworst ratio {worst:.3f} (target >= 0.98)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
