#!/usr/bin/python3
"""test_activations.py: `tui --headless --measure-memory` against PyTorch.

Parity (issue 13): on torchvision resnet18 and the transformer encoder of
tests/fixtures/gen_train.py (TorchScript), for full fine-tuning, a frozen
prefix, a frozen middle block and head-only, activation_bytes equals the
bytes Python's torch.autograd.graph.saved_tensors_hooks sees in the same
run (unique storages, parameters, buffers and the batch excluded; frozen
BatchNorm layers in eval mode) within 1%, on a batch of the plan's data
and on a batch made from train.input_shape (no data); the gradient bytes
show the frozen set is the one Python froze; peak_bytes is at least the
activations and the per-module bytes add up. The fixture plans
(plan_resnet_adamw, plan_encoder_adamw) agree too.

--fit: the predicted largest batch B, measured for real (a second
--measure-memory --batch-size B), has a total within the limit, and the
linear model puts B + 1 over it.

Bad input, each exit 2, one line on stderr naming the plan and the
problem, nothing on stdout, no file written in the plan's folder: no
train: section, a state_dict as train.model, neither data nor
input_shape, a batch of the wrong channels (the line gives the batch's
shape and libtorch's reason), a batch whose input alone exceeds this
machine's memory, and an allocation that fails during the step (under a
virtual memory limit); and training (not measuring) a plan that has
input_shape but no data.
Prints "test_activations: N passed, N failed".
"""
import json
import os
import resource
import shutil
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import reference  # noqa: E402
from checks import check  # noqa: E402

TRAIN = os.path.join(checks.FIX, "train")
torch._C._set_graph_executor_optimize(False)

# (name, TorchScript model, weights for model.path, data, inputs, targets,
#  input_shape, input_dtype, batch, {plan: (freeze prefixes, unfreeze)})
MODELS = [
    ("resnet18", "resnet18.ts.pt", "resnet18.init.safetensors",
     "images.safetensors", "images", "labels", [3, 32, 32], "float32", 4,
     {"full": ([], []),
      "prefix": (["conv1", "bn1", "layer1", "layer2"], []),
      "middle": (["layer2"], []),
      "head": (["**"], ["fc"])}),
    ("encoder", "encoder.ts.pt", "encoder.init.safetensors",
     "tokens.safetensors", "tokens", "labels", [16], "int64", 8,
     {"full": ([], []),
      "prefix": (["embed", "pos", "encoder.layers.0"], []),
      "middle": (["encoder.layers.0"], []),
      "head": (["**"], ["head"])}),
]


def frozen_set(m, freeze, unfreeze):
    def under(n, p):
        return p == "**" or n == p or n.startswith(p + ".")
    out = set()
    for n, _ in m.named_parameters():
        f = any(under(n, p) for p in freeze)
        if any(under(n, p) for p in unfreeze):
            f = False
        if f:
            out.add(n)
    return out


def pattern(p):
    """The plan rule's pattern for a prefix: the name or anything under it."""
    if p == "**":
        return '"**"'
    return "'re:^" + p.replace(".", "\\.") + "(\\.|$)'"


def write_plan(path, model, weights, data, inputs, targets, shape, dtype,
               freeze, unfreeze):
    lines = ["version: 1", f"model: {{path: {os.path.join(TRAIN, weights)}}}"]
    rules = [f"- freeze: {pattern(p)}" for p in freeze]
    rules += [f"- unfreeze: {pattern(p)}" for p in unfreeze]
    lines += ["rules:"] + rules if rules else ["frozen: []"]
    lines += ["batchnorm: freeze-stats", "train:",
              f"  model: {os.path.join(TRAIN, model)}"]
    if data:
        lines.append(f"  data: {{train: {os.path.join(TRAIN, data)}, "
                     f"inputs: {inputs}, targets: {targets}}}")
    if shape:
        lines.append(f"  input_shape: {shape}")
        lines.append(f"  input_dtype: {dtype}")
    lines += ["  loss: cross_entropy", "  device: cpu"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def saved_bytes(m, frozen, x, y):
    for n, p in m.named_parameters():
        p.requires_grad_(n not in frozen)
    reference.set_mode(m, True, reference.frozen_norms(m, frozen))
    ex = {t.storage().data_ptr() for t in
          list(m.parameters()) + list(m.buffers()) + [x, y] if t is not None}
    seen = {}

    def pack(t):
        k = t.storage().data_ptr()
        if k not in ex:
            seen[k] = t.storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = m(x)
        if y is None:
            y = torch.zeros(out.shape[:1] + out.shape[2:], dtype=torch.long)
            ex.add(y.storage().data_ptr())
        torch.nn.functional.cross_entropy(out, y)
    return sum(seen.values())


def measure(plan_path, batch, *extra):
    rc, out, err = checks.run_tui("--headless", "--plan", plan_path,
                                  "--measure-memory", "--device", "cpu",
                                  "--batch-size", str(batch), "--json",
                                  *extra)
    if not check(rc == 0, f"{os.path.basename(plan_path)}: exit {rc}",
                 err.decode(errors="replace")[-300:]):
        return None
    return json.loads(out)


def compare(label, j, m, frozen, x, y):
    py = saved_bytes(m, frozen, x, y)
    a = j["activation_bytes"]
    check(abs(a - py) <= 0.01 * py, f"{label}: tui {a} B, python {py} B")
    grads = 4 * sum(p.numel() for n, p in m.named_parameters()
                    if n not in frozen)
    check(j["static"]["gradients"] == grads,
          f"{label}: gradient bytes {j['static']['gradients']} == {grads} "
          f"(the frozen set Python froze)")
    check(j["peak_bytes"] >= a, f"{label}: peak {j['peak_bytes']} >= {a}")
    check(sum(e["activation_bytes"] for e in j["per_module"]) == a,
          f"{label}: per-module bytes add up to the activations")
    return a


def model_cases(tmp, spec):
    (name, model, weights, data, inputs, targets, shape, dtype, batch,
     plans) = spec
    m = torch.jit.load(os.path.join(TRAIN, model))
    d = reference.st_load(os.path.join(TRAIN, data))[0]
    x, y = d[inputs][:batch].clone(), d[targets][:batch].clone()
    if dtype == "int64":
        xs = torch.zeros([batch] + shape, dtype=torch.long)
    else:
        xs = torch.randn([batch] + shape)
    got = {}
    for kind, (freeze, unfreeze) in plans.items():
        frozen = frozen_set(m, freeze, unfreeze)
        p = os.path.join(tmp, f"{name}_{kind}.yaml")
        write_plan(p, model, weights, data, inputs, targets, None, None,
                   freeze, unfreeze)
        j = measure(p, batch)
        if j:
            got[kind] = compare(f"{name} {kind}", j, m, frozen, x, y)
        if kind not in ("full", "middle"):
            continue
        p = os.path.join(tmp, f"{name}_{kind}_shape.yaml")
        write_plan(p, model, weights, None, None, None, shape, dtype,
                   freeze, unfreeze)
        j = measure(p, batch)
        if j:
            compare(f"{name} {kind}, input_shape {shape}", j, m, frozen, xs,
                    None)
    if len(got) == 4:
        check(got["prefix"] < got["full"] and got["head"] < got["prefix"],
              f"{name}: head-only < frozen prefix < full", got)


def fixture_plan(plan_name, model, data, inputs, targets, batch):
    plan_path = os.path.join(TRAIN, plan_name)
    j = measure(plan_path, batch)
    if not j:
        return
    frozen = set()
    inlist = False
    for line in open(plan_path):
        if line.startswith("frozen:"):
            inlist = True
        elif inlist and line.startswith("- "):
            frozen.add(line[2:].strip())
        elif inlist:
            inlist = False
    m = torch.jit.load(os.path.join(TRAIN, model))
    d = reference.st_load(os.path.join(TRAIN, data))[0]
    x, y = d[inputs][:batch].clone(), d[targets][:batch].clone()
    compare(plan_name, j, m, frozen, x, y)


def fit_case(tmp):
    """--fit: the largest batch, run for real, fits; one more would not."""
    p = os.path.join(tmp, "fit.yaml")
    write_plan(p, "resnet18.ts.pt", "resnet18.init.safetensors", None, None,
               None, [3, 32, 32], "float32", ["conv1", "bn1"], [])
    limit = 200 * 1000 * 1000
    j = measure(p, 8, "--fit", "200MB")
    if not j:
        return
    f = j["fit"]
    b = f["largest_batch"]
    check(f["limit"] == limit and f["batches"] == [4, 8] and b > 8,
          f"--fit 200MB: batches {f['batches']}, largest {b}")
    if b < 1:
        return
    check(f["a"] + f["b"] * (b + 1) > limit,
          f"--fit: batch {b} + 1 is over the limit by the linear model")
    r = measure(p, b)
    if r:
        check(r["total"] <= limit,
              f"--fit: batch {b} measured for real: total {r['total']} B "
              f"<= {limit} B (peak {r['peak_bytes']} B)")


def refused(label, plan_path, want, *extra, preexec=None, env=None):
    folder = os.path.dirname(plan_path)
    before = sorted(os.listdir(folder))
    args = ["--headless", "--plan", plan_path, "--measure-memory",
            "--device", "cpu", *extra]
    if preexec:
        import subprocess
        pr = subprocess.run([checks.TUI] + args, capture_output=True,
                            preexec_fn=preexec, timeout=120)
        rc, out, err = pr.returncode, pr.stdout, pr.stderr
    else:
        rc, out, err = checks.run_tui(*args, env=env)
    e = err.decode(errors="replace")
    if env:  # ASan's own "==PID==WARNING: ... failed to allocate" lines
        e = "".join(ln for ln in e.splitlines(True)
                    if not ln.startswith("=="))
    check(rc == 2 and e.count("\n") == 1 and not out and
          e.startswith(f"tui: {plan_path}") and all(w in e for w in want),
          f"{label}: exit {rc}, one line naming the plan and {want}", e)
    check(sorted(os.listdir(folder)) == before, f"{label}: nothing written")


def bad_cases(tmp):
    bad = os.path.join(tmp, "bad")
    os.makedirs(bad)
    rn = os.path.join(TRAIN, "resnet18.ts.pt")
    head = ["version: 1", "model: {path: "
            f"{os.path.join(TRAIN, 'resnet18.init.safetensors')}}}",
            "frozen: []"]

    def plan(name, train):
        p = os.path.join(bad, name)
        with open(p, "w") as f:
            f.write("\n".join(head + train) + "\n")
        return p
    refused("no train: section", plan("notrain.yaml", []),
            ["no train: section"])
    sd = os.path.join(checks.FIX, "models", "resnet18_sd.pt")
    refused("a state_dict as train.model",
            plan("sd.yaml", ["train:", f"  model: {sd}",
                             "  input_shape: [3, 32, 32]"]),
            ["is a state_dict (weights only), not a TorchScript module"])
    refused("neither data nor input_shape",
            plan("nodata.yaml", ["train:", f"  model: {rn}"]),
            ["train.data needs train, inputs and targets",
             "train.input_shape"])
    refused("a batch of 1 channel for a 3-channel model",
            plan("gray.yaml", ["train:", f"  model: {rn}",
                               "  input_shape: [1, 32, 32]"]),
            ["refuses the batch [2, 1, 32, 32]", "expected input[2, 1, 32, "
             "32] to have 3 channels"], "--batch-size", "2")
    big = plan("big.yaml", ["train:", f"  model: {rn}",
                            "  input_shape: [3, 224, 224]"])
    refused("an absurd --batch-size", big,
            ["a batch of 1000000000 of train.input_shape needs",
             "for its input alone, more than this machine's",
             "choose a smaller --batch-size"], "--batch-size", "1000000000")

    run_dir = os.path.join(bad, "run")
    rc, out, err = checks.run_tui("--headless", "--plan", big, "--device",
                                  "cpu", "-o", run_dir)
    e = err.decode(errors="replace")
    check(rc == 2 and e.count("\n") == 1 and "training needs train.data" in e
          and not os.path.exists(run_dir),
          "training a plan with input_shape and no data: exit 2, one line, "
          "no run folder", e)

    def cap():
        lim = 3 << 30  # libtorch loads in about 1 GB of address space
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    want = ["out of memory measuring a batch of 600 on cpu",
            "choose a smaller --batch-size"]
    if checks.sanitized():
        # ASan reserves terabytes of shadow memory, so it cannot start
        # under an address-space limit; its own allocator refuses the
        # step's largest tensor instead (conv1's output, 1.8 GiB), while
        # the batch itself (344.5 MiB) is made.
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get(
            "ASAN_OPTIONS", "") + ":allocator_may_return_null=1"
            ":max_allocation_size_mb=1024")
        refused("an allocation that fails during the step", big, want,
                "--batch-size", "600", env=env)
    else:
        refused("an allocation that fails during the step", big, want,
                "--batch-size", "600", preexec=cap)


def main():
    if not os.path.exists(checks.TUI):
        return checks.missing_tui("test_activations")
    torch.set_num_threads(2)
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="test_activations.")
    try:
        for spec in MODELS:
            checks.guarded(spec[0], lambda: model_cases(tmp, spec))
        fixture_plan("plan_resnet_adamw.yaml", "resnet18.ts.pt",
                     "images.safetensors", "images", "labels", 4)
        fixture_plan("plan_encoder_adamw.yaml", "encoder.ts.pt",
                     "tokens.safetensors", "tokens", "labels", 8)
        checks.guarded("--fit", lambda: fit_case(tmp))
        checks.guarded("bad input", lambda: bad_cases(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish("test_activations")


if __name__ == "__main__":
    sys.exit(main())
