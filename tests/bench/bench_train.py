#!/usr/bin/python3
"""bench_train.py: `tui --headless` against the Python loop, steps per second.

    bench_train.py [--build DIR] [--device cpu|cuda] [--reps N] [--steps N]
                   [--batch N] [--threads N] [--mode interleaved|sequential]
                   [--only MODEL] [--null] [--out FILE.md]

For a torchvision ResNet-18 (10 classes, 3x64x64 inputs, batch 32) and a
small transformer encoder classifier (d 128, 4 layers, 4 heads, sequences
of 32, batch 32), each under three plans (everything trainable; a prefix
frozen: conv1, bn1, layer1, layer2 / embeddings and the first 2 layers;
head only), runs the trainer and the Python reference loop
(tests/train/reference.py: same TorchScript module, data, optimizer AdamW
and plan), each in a fresh process, in --reps pairs (see measure(): on
the CPU the two processes of a pair share one core at the same time and
each step is timed in CPU seconds, so that this machine's drifting speed
cancels out; on cuda they run one after the other). A run's speed is its
steady state: 1 / the median time of its steps after the first, each side
timing the same work (batch, forward, backward, update; module loading
and process start excluded). The ratio is python / tui seconds per step
for each pair; the table shows the median of those ratios (target >=
0.98) with their range, and the trainer's measured gradient and
optimizer-state bytes next to the estimate. For the ResNet the eager
torchvision module in the same Python loop is shown too, for context.
The trainer sets glibc's allocator (tui/train/train_main.c: mallopt
M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD off); a third process of each
pair runs the same Python loop with those settings given to glibc
(GLIBC_TUNABLES, PY_ALLOC_TUNABLES below), and its own column and ratio
show how much of the lead is the allocator and how much is the trainer.
Table on stdout and in --out.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

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
    lines = ["version: 1", "model:", f"  path: {init}"]
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


# The trainer's mallopt() settings as glibc tunables for the Python side
# (trim_threshold at SIZE_MAX: never trim, as M_TRIM_THRESHOLD -1 does;
# a fixed mmap_threshold turns off the dynamic one, as mallopt does).
PY_ALLOC_TUNABLES = ("glibc.malloc.mmap_threshold=33554432:"
                     "glibc.malloc.trim_threshold=18446744073709551615")


def steady(times):
    """Seconds per step in the steady state: the median over the steps
    after the first (which also allocates the optimizer state)."""
    return statistics.median(times[1:] if len(times) > 1 else times)


class Run:
    """One training process: the trainer ("tui") or the Python reference
    loop ("python", "python2" for a second one in --null, "python-alloc"
    with the trainer's allocator settings, or "eager" for torchvision's
    module), started at once; result() waits and returns its
    steps' (wall seconds, CPU seconds)."""

    def __init__(self, kind, tui, plan, device, threads, out, cpu=None):
        self.kind, self.out = kind, out
        if kind == "tui":
            cmd = [tui, "--headless", "--plan", plan, "-o", out]
        else:
            code = ("import sys, json, torch, torchvision; "
                    "sys.path.insert(0, %r); import reference; "
                    "torch.set_num_threads(%d); "
                    "p = reference.Plan(%r, device=%r); torch.manual_seed(0); "
                    "m = torchvision.models.resnet18(num_classes=10) if %r "
                    "else None; r = reference.run(p, module=m, on_step="
                    "lambda s, l: s == 1 and print('started', flush=True)); "
                    "print(json.dumps([r['step_times'], r['step_cpu']]))"
                    % (os.path.join(HERE, "..", "train"), threads, plan,
                       device, kind == "eager"))
            cmd = [sys.executable, "-c", code]
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None \
            else None
        env = dict(os.environ, TUI_THREADS=str(threads))
        if kind == "python-alloc":
            env["GLIBC_TUNABLES"] = PY_ALLOC_TUNABLES
        self.p = subprocess.Popen(cmd, env=env,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  preexec_fn=pin)
        self.report = None

    def wait_started(self):
        """Returns once the first step is done (its line is written)."""
        if self.kind != "tui":
            line = self.p.stdout.readline()
            if line.strip() != "started":
                raise RuntimeError(f"{self.kind} failed: "
                                   f"{self.p.communicate()[1][-400:]}")
            return
        path = os.path.join(self.out, "metrics.jsonl")
        while not (os.path.exists(path) and os.path.getsize(path) > 0):
            if self.p.poll() is not None:
                raise RuntimeError(f"tui failed: {self.p.stderr.read()[-400:]}")
            time.sleep(0.01)

    def signal(self, sig):
        self.p.send_signal(sig)

    def result(self):
        so, se = self.p.communicate()
        if self.p.returncode != 0:
            raise RuntimeError(f"{self.kind} failed: {se.strip()[-400:]}")
        if self.kind != "tui":
            return json.loads(so.strip().splitlines()[-1])
        self.report = json.load(open(os.path.join(self.out, "report.json")))
        lines = [json.loads(line)
                 for line in open(os.path.join(self.out, "metrics.jsonl"))
                 if '"step_cpu"' in line]
        subprocess.run(["rm", "-rf", self.out])
        return ([x["step_time"] for x in lines],
                [x["step_cpu"] for x in lines])


def measure(tui, model, plan, a, tmp):
    """a.reps pairs. Returns (seconds per step of tui, python, python with
    the trainer's allocator settings, eager (lists, one per pair), pair
    ratios python / tui, the same for python-alloc, the trainer's report).

    interleaved: the two (three with eager) processes of a pair run their
    steps at the same time pinned to one core, which the kernel's
    scheduler hands to them in turns of a few milliseconds, and each step
    is timed in CPU seconds of its process. Both sides then see the same core at the
    same moments, so a drift of the machine's speed cancels out of the
    ratio (one thread per process). The core alternates between pairs.
    sequential: one process after the other, timed by the wall clock; the
    order alternates inside each pair (what a GPU needs)."""
    kinds = ["tui", "python", "python-alloc"] + \
        (["eager"] if model == "resnet18" else [])
    if a.null:
        kinds = ["python2", "python"]
    got = {k: [] for k in kinds}
    ratios, alloc_ratios, report = [], [], None
    ncpu = len(os.sched_getaffinity(0))
    for i in range(a.reps):
        order = kinds[i % len(kinds):] + kinds[:i % len(kinds)]
        res = {}
        if a.mode == "interleaved":
            # Start them one by one and hold each after its first step,
            # so that all of them run their timed steps side by side.
            cpu = sorted(os.sched_getaffinity(0))[i % ncpu]
            runs = []
            for k in order:
                r = Run(k, tui, plan, a.device, a.threads,
                        os.path.join(tmp, "out"), cpu)
                r.wait_started()
                r.signal(signal.SIGSTOP)
                runs.append(r)
            for r in runs:
                r.signal(signal.SIGCONT)
            for r in runs:
                res[r.kind] = steady(r.result()[1])
                report = r.report or report
        else:
            for k in order:
                r = Run(k, tui, plan, a.device, a.threads,
                        os.path.join(tmp, "out"))
                res[k] = steady(r.result()[0])
                report = r.report or report
        for k in kinds:
            got[k].append(res[k])
        ratios.append(res["python"] / res[kinds[0]])
        if "python-alloc" in res:
            alloc_ratios.append(res["python-alloc"] / res[kinds[0]])
    return (got[kinds[0]], got["python"], got.get("python-alloc", []),
            got.get("eager", []), ratios, alloc_ratios, report)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads of each process (default 1)")
    ap.add_argument("--mode", choices=["interleaved", "sequential"],
                    help="how a pair runs (default: interleaved on the CPU, "
                    "sequential on cuda)")
    ap.add_argument("--only", default="", help="model name filter")
    ap.add_argument("--null", action="store_true",
                    help="pair the Python loop with itself instead of tui: "
                    "the method's own noise (ratios should be 1)")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    tui = os.environ.get("TUI") or os.path.join(a.build, "tui")
    if not os.path.exists(os.path.join(os.path.dirname(tui), "libtui-train.so")):
        print("bench_train: no trainer in this build (TORCH=off): skipped")
        return 0
    if a.mode is None:
        a.mode = "interleaved" if a.device == "cpu" else "sequential"
    if a.mode == "interleaved" and (a.threads != 1 or a.device != "cpu"):
        ap.error("--mode interleaved needs --device cpu and --threads 1")
    threads = a.threads
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for model, pname, plan_path in setup(tmp, a.steps, a.batch, a.device):
            if a.only and a.only not in model:
                continue
            ts, ps, pas, es, ratios, aratios, rep = measure(
                tui, model, plan_path, a, tmp)
            if a.null:
                print(f"  {model} {pname}: python / python: median "
                      f"{statistics.median(ratios):.3f}, pairs "
                      f"{['%.3f' % x for x in ratios]}")
                continue
            t, p = 1 / statistics.median(ts), 1 / statistics.median(ps)
            ratio = statistics.median(ratios)
            est = rep["estimate"]
            pa = 1 / statistics.median(pas)
            aratio = statistics.median(aratios)
            rows.append((model, pname, rep["trainable_parameters"], t, p,
                         1 / statistics.median(es) if es else None, ratio,
                         min(ratios), max(ratios), pa, aratio,
                         min(aratios), max(aratios),
                         rep["gradient_bytes"], est["gradients"],
                         rep["optimizer_bytes"], est["optimizer_state"],
                         est["bookkeeping"]))
            print(f"  {model} {pname}: tui {t:.2f} steps/s, python {p:.2f} "
                  f"(ratio {ratio:.3f}), python with tui's allocator "
                  f"{pa:.2f} (ratio {aratio:.3f}); pair ratios "
                  f"{['%.3f' % x for x in ratios]}", file=sys.stderr)
    if a.null:
        return 0
    dev = a.device if a.device == "cpu" else torch.cuda.get_device_name(0)
    lines = [f"Training throughput, {a.steps} steps of batch {a.batch}, AdamW, "
             f"{dev}, {threads} thread{'s' if threads > 1 else ''} per "
             f"process, {a.reps} {a.mode} pairs (torch {torch.__version__})",
             "",
             "| model | plan | trainable | tui steps/s | python steps/s | "
             "python eager steps/s | ratio (range) | python, tui's "
             "allocator steps/s | ratio vs that (range) | grad bytes (est.) | "
             "optimizer bytes (est. - bookkeeping) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for (m, pn, tp, t, p, e, ratio, lo, hi, pa, ar, alo, ahi, gb, ge, ob,
         oe, bk) in rows:
        lines.append(f"| {m} | {pn} | {tp:,} | {t:.2f} | {p:.2f} | "
                     f"{'%.2f' % e if e else '-'} | {ratio:.3f} "
                     f"({lo:.3f}-{hi:.3f}) | {pa:.2f} | {ar:.3f} "
                     f"({alo:.3f}-{ahi:.3f}) | {gb:,} "
                     f"({'=' if gb == ge else ge}) | {ob:,} "
                     f"({'=' if ob == oe - bk else oe} - {bk}) |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            f.write(text + "\n")
    worst = min(r[6] for r in rows) if rows else 1.0
    worst_a = min(r[10] for r in rows) if rows else 1.0
    print(f"\nworst ratio {worst:.3f} (target >= 0.98); against Python with "
          f"the trainer's allocator settings {worst_a:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
