#!/usr/bin/python3
"""test_train_parity.py: `tui --headless` against the Python reference loop.

For each fixture plan (tests/fixtures/gen_train.py; resnet18 with conv1,
bn1 and layer1 frozen under AdamW + cosine schedule and under SGD with
momentum + warmup + clipping; a transformer encoder with dropout, its
embeddings and first layer frozen, under AdamW + clipping), runs the
trainer on the CPU and tests/train/reference.py (the same module, initial
weights, data order, optimizer and schedule in plain PyTorch), and checks:
  - every step's loss within 1e-5 relative (54 steps, 2 epochs);
  - the final weights of the output safetensors equal the reference's
    (within 1e-5 relative + 1e-7);
  - frozen tensors bitwise equal to the initial weights (read back here
    from the output file, not taken from the trainer's report);
  - under freeze-stats, the running stats of frozen BatchNorm layers
    bitwise unchanged, while trained BN layers' stats moved;
  - measured gradient bytes equal the estimate and the reference's, and
    optimizer-state bytes equal the estimate less its per-tensor
    bookkeeping (the Python optimizer's float32 step tensors, which the
    reference holds and which make its own count equal the estimate);
  - the output TorchScript module loads in PyTorch and holds the same
    weights.
Prints "test_train_parity: N passed, N failed".
"""
import json
import os
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


def rel_ok(a, b, rtol, atol=0.0):
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + atol


def run_plan(name, bn_layers_frozen, bn_layers_trained):
    plan_path = os.path.join(TRAIN, name)
    plan = reference.Plan(plan_path, device="cpu")
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="tui-parity-") as tmp:
        out = os.path.join(tmp, "run")
        env = dict(os.environ, TUI_THREADS=str(threads))
        rc, _, err = checks.run_tui("--headless", "--plan", plan_path,
                                    "--device", "cpu", "-o", out, env=env,
                                    timeout=None)
        err = err.decode(errors="replace")
        if not check(rc == 0, f"{name}: exit {rc}: {err[-500:]}"):
            return
        steps = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
        tui_losses = [s["loss"] for s in steps if "loss" in s]
        rep = json.load(open(os.path.join(out, "report.json")))
        got, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
        scripted = torch.jit.load(os.path.join(out, "model.ts.pt"))
        sd = dict(scripted.named_parameters())
        sd.update(dict(scripted.named_buffers()))

    ref = reference.run(plan)
    n = len(ref["losses"])
    check(n >= 50, f"{name}: reference ran {n} steps, want 50+")
    check(len(tui_losses) == n, f"{name}: tui logged {len(tui_losses)} steps, reference {n}")
    worst = 0.0
    bad = []
    for i, (a, b) in enumerate(zip(tui_losses, ref["losses"])):
        d = abs(a - b) / max(abs(b), 1e-30)
        worst = max(worst, d)
        if not rel_ok(a, b, 1e-5):
            bad.append((i + 1, a, b))
    check(not bad, f"{name}: per-step loss beyond 1e-5 relative at {bad[:3]}")
    print(f"{name}: {n} steps, worst relative loss difference {worst:.3g}, "
          f"first loss {ref['losses'][0]:.6f}, last {ref['losses'][-1]:.6f}")

    wworst = 0.0
    wbad = []
    for k, v in ref["weights"].items():
        if k not in got:
            wbad.append(k)
            continue
        g = got[k]
        if v.dtype.is_floating_point:
            diff = (g - v).abs().max().item() if v.numel() else 0.0
            scale = v.abs().max().item() if v.numel() else 0.0
            wworst = max(wworst, diff / max(scale, 1e-30))
            if diff > 1e-5 * scale + 1e-7:
                wbad.append(k)
        elif not torch.equal(g, v):
            wbad.append(k)
    check(not wbad, f"{name}: final weights differ from the reference: {wbad[:5]}")
    print(f"{name}: final weights: worst relative difference {wworst:.3g}")

    init, _ = reference.st_load(plan.init)
    frozen = set(plan.frozen)
    changed = [k for k in frozen if not torch.equal(got[k], init[k])]
    check(len(frozen) > 0 and not changed,
          f"{name}: frozen tensors changed: {changed[:5]}")
    trained = [k for k in got if k not in frozen and k in dict(scripted.named_parameters())]
    moved = [k for k in trained if not torch.equal(got[k], init[k])]
    check(len(moved) == len(trained), f"{name}: trainable tensors that did not move: "
          f"{sorted(set(trained) - set(moved))[:5]}")
    for layer in bn_layers_frozen:
        for s in ("running_mean", "running_var", "num_batches_tracked"):
            k = f"{layer}.{s}"
            check(torch.equal(got[k], init[k]), f"{name}: frozen BN {k} changed")
    for layer in bn_layers_trained:
        k = f"{layer}.running_mean"
        check(not torch.equal(got[k], init[k]), f"{name}: trained BN {k} did not move")

    est = rep["estimate"]
    check(rep["gradient_bytes"] == est["gradients"] == ref["grad_bytes"],
          f"{name}: gradient bytes tui {rep['gradient_bytes']} estimate "
          f"{est['gradients']} reference {ref['grad_bytes']}")
    check(rep["optimizer_bytes"] == est["optimizer_state"] - est["bookkeeping"],
          f"{name}: optimizer bytes {rep['optimizer_bytes']} vs estimate "
          f"{est['optimizer_state']} - {est['bookkeeping']}")
    check(ref["state_bytes"] == est["optimizer_state"],
          f"{name}: reference optimizer bytes {ref['state_bytes']} vs estimate "
          f"{est['optimizer_state']}")
    check(rep["frozen_unchanged"] is True and rep["norm_stats_unchanged"] is True,
          f"{name}: the trainer's own check failed: {rep}")
    check(rep["frozen_tensors"] == len(frozen), f"{name}: frozen count {rep['frozen_tensors']}")
    print(f"{name}: gradients {rep['gradient_bytes']} B = estimate; optimizer "
          f"{rep['optimizer_bytes']} B = estimate {est['optimizer_state']} - "
          f"{est['bookkeeping']} bookkeeping")
    sbad = [k for k in got if k in sd and not torch.equal(sd[k].detach(), got[k])]
    check(not sbad, f"{name}: the output TorchScript module differs from the "
          f"weights file: {sbad[:5]}")


def main():
    if checks.missing_tui("test_train_parity"):
        return 1
    if not os.path.isdir(TRAIN):
        return checks.abort("test_train_parity",
                            f"test_train_parity: missing {TRAIN}")
    lib = os.path.join(os.path.dirname(checks.TUI), "libtui-train.so")
    if not os.path.exists(lib) and not os.environ.get("TUI_TRAIN_LIB"):
        print("test_train_parity: skipped (no-trainer): no trainer in this "
              "build (TORCH=off)")
        return checks.finish("test_train_parity")
    resnet_frozen_bn = ["bn1", "layer1.0.bn1", "layer1.0.bn2", "layer1.1.bn1",
                        "layer1.1.bn2"]
    resnet_trained_bn = ["layer2.0.bn1", "layer4.1.bn2"]
    run_plan("plan_resnet_adamw.yaml", resnet_frozen_bn, resnet_trained_bn)
    run_plan("plan_resnet_momentum.yaml", resnet_frozen_bn, resnet_trained_bn)
    run_plan("plan_encoder_adamw.yaml", [], [])
    return checks.finish("test_train_parity")


if __name__ == "__main__":
    sys.exit(main())
