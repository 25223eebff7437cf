#!/usr/bin/python3
"""test_activations.py: `tui --headless --measure-memory` against PyTorch.

For the trainer fixtures (tests/fixtures/gen_train.py: resnet18 with
conv1, bn1 and layer1 frozen; the transformer encoder with its embeddings
and first layer frozen), activation_bytes equals the bytes Python's
torch.autograd.graph.saved_tensors_hooks sees in the same run (unique
storages, parameters, buffers and the batch excluded; frozen BatchNorm
layers in eval mode) within 1%; peak_bytes is at least the activations;
a plan with no train: section is one line, exit 2.
Prints "test_activations: N passed, N failed".
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import reference  # noqa: E402
from checks import check  # noqa: E402

TRAIN = os.path.join(checks.FIX, "train")
torch._C._set_graph_executor_optimize(False)


def saved_bytes(m, frozen, x, y):
    for n, p in m.named_parameters():
        p.requires_grad_(n not in frozen)
    reference.set_mode(m, True, reference.frozen_norms(m, frozen))
    ex = {t.storage().data_ptr() for t in
          list(m.parameters()) + list(m.buffers()) + [x, y]}
    seen = {}

    def pack(t):
        k = t.storage().data_ptr()
        if k not in ex:
            seen[k] = t.storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch.nn.functional.cross_entropy(m(x), y)
    return sum(seen.values())


def case(plan_name, model, data, inputs, targets, batch):
    plan_path = os.path.join(TRAIN, plan_name)
    rc, out, err = checks.run_tui("--headless", "--plan", plan_path,
                                  "--measure-memory", "--device", "cpu",
                                  "--batch-size", str(batch), "--json")
    if not check(rc == 0, f"{plan_name}: exit {rc}: {err[-300:]!r}"):
        return
    j = json.loads(out)
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
    py = saved_bytes(m, frozen, x, y)
    a = j["activation_bytes"]
    check(abs(a - py) <= 0.01 * py, f"{plan_name}: tui {a} B, python {py} B")
    check(j["peak_bytes"] >= a, f"{plan_name}: peak {j['peak_bytes']} >= {a}")
    check(sum(e["activation_bytes"] for e in j["per_module"]) == a,
          f"{plan_name}: per-module bytes add up to the activations")


def main():
    if not os.path.exists(checks.TUI):
        return checks.missing_tui("test_activations")
    torch.set_num_threads(2)
    case("plan_resnet_adamw.yaml", "resnet18.ts.pt", "images.safetensors",
         "images", "labels", 4)
    case("plan_encoder_adamw.yaml", "encoder.ts.pt", "tokens.safetensors",
         "tokens", "labels", 8)
    bad = os.path.join(checks.FIX, "bad_plans", "alias.yaml")
    rc, out, err = checks.run_tui("--headless", "--plan", bad,
                                  "--measure-memory")
    check(rc == 2 and err.count(b"\n") == 1 and not out,
          f"a plan without a runnable model: exit {rc}, {err!r}")
    return checks.finish("test_activations")


if __name__ == "__main__":
    sys.exit(main())
