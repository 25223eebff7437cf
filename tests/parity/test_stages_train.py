#!/usr/bin/python3
"""test_stages_train.py: `tui --headless` on a staged plan against a PyTorch
loop that thaws with add_param_group at the same steps
(tests/train/reference_stages.py), issue #15.

The plans: resnet18 (the fixture's images, batch 16, 12 steps, clipping),
three stages: head only (fc) for 4 steps; then layer3 at its own lr for 4
steps (its BatchNorms thaw mid-run and go back to train mode); then
everything at a third lr. Under SGD with momentum (warmup and cosine) and
under AdamW with layer_decay 0.75, an lr_scale item and no_decay on the
norms. Checks: every step's loss equal to the loop's (as the metrics
print it), the stage of every step, the final weights and buffers
bitwise the loop's, and the trainer's own report (frozen-throughout
tensors unchanged). kill -9 in every stage (the AdamW plan), then
--resume: bitwise the uninterrupted run. A stage rule that matches
nothing in the module: one line, exit 2.
Prints "test_stages_train: N passed, N failed".
"""
import json
import os
import sys
import tempfile

import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import reference  # noqa: E402
import reference_stages  # noqa: E402
from checks import check  # noqa: E402

TRAIN = os.path.join(checks.FIX, "train")
NAME = "test_stages_train"


def make_plan(tmp, name, optimizer, schedule, extra):
    doc = yaml.safe_load(open(os.path.join(TRAIN, "plan_resnet_adamw.yaml")))
    doc["model"] = {"path": os.path.join(TRAIN, "resnet18.init.safetensors")}
    doc["rules"] = [{"freeze": "**"}, {"unfreeze": "fc"}]
    doc.pop("frozen", None)
    tr = doc["train"]
    for k in ("model", "init"):
        tr[k] = os.path.join(TRAIN, tr[k])
    tr["data"]["train"] = os.path.join(TRAIN, tr["data"]["train"])
    tr["optimizer"] = optimizer
    tr["schedule"] = schedule
    tr["clip_grad_norm"] = 1.0
    tr["max_steps"] = 12
    tr["log_every"] = 1
    tr.pop("epochs", None)
    doc["stages"] = [{"steps": 4},
                     {"unfreeze": ["layer3"], "steps": 4, "lr": 5.0e-4},
                     {"unfreeze": ["**"], "lr": 1.0e-4}]
    doc.update(extra)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def case(tmp, label, plan):
    out = os.path.join(tmp, "run-" + label)
    env = dict(os.environ, TUI_THREADS=str(torch.get_num_threads()))
    rc, _, err = checks.run_tui("--headless", "--plan", plan, "--device", "cpu",
                                "-o", out, env=env, timeout=None)
    err = err.decode(errors="replace")
    if not check(rc == 0, f"{label}: exit 0", err[-600:]):
        return
    rc, so, se = checks.run_tui("--summary", "--json", "--plan", plan)
    if not check(rc == 0, f"{label}: --summary --json", se):
        return
    lr_info = json.loads(so)["lr"]
    ref = reference_stages.run_staged(plan, lr_info)
    steps = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
             if '"loss"' in l]
    got = [s["loss"] for s in steps]
    want = [float("%.9g" % x) for x in ref["losses"]]
    check(got == want, f"{label}: every step's loss equals the loop's",
          [f"step {i + 1}: tui {a} loop {b}" for i, (a, b) in
           enumerate(zip(got, want)) if a != b])
    check([s.get("stage") for s in steps] == ref["stages"] ==
          [0] * 4 + [1] * 4 + [2] * 4, f"{label}: the stage of every step",
          [s.get("stage") for s in steps])
    mine, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
    diff = [k for k in ref["weights"] if not torch.equal(mine[k], ref["weights"][k])]
    check(not diff, f"{label}: final weights and buffers bitwise the loop's",
          diff)
    init, _ = reference.st_load(os.path.join(TRAIN, "resnet18.init.safetensors"))
    l3 = [k for k in mine if k.startswith("layer3.") and "running_mean" in k]
    check(l3 and all(not torch.equal(mine[k], init[k]) for k in l3),
          f"{label}: layer3's BatchNorms trained after they thawed", l3[:3])
    rep = json.load(open(os.path.join(out, "report.json")))
    check(rep.get("frozen_unchanged") is True, f"{label}: the trainer's own check "
          "(tensors frozen throughout unchanged)", rep.get("frozen_unchanged"))
    print(f"{label}: 12 steps in 3 stages, losses and weights equal the "
          f"add_param_group loop's; last loss {got[-1] if got else '?'}")


def kill_and_resume(tmp, plan, whole):
    """kill -9 in every stage (lib/kill_shim.c: SIGKILL just before the
    checkpoint save after step 3, 6 and 10, one run each), then --resume:
    every run ends bitwise where the uninterrupted run `whole` ends."""
    import subprocess
    shim = os.path.join(tmp, "kill_shim.so")
    src = os.path.join(HERE, "..", "cli", "lib", "kill_shim.c")
    r = subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O1",
                        "-o", shim, src, "-ldl"], capture_output=True)
    if not check(r.returncode == 0, "kill shim builds", r.stderr[-300:]):
        return
    doc = yaml.safe_load(open(plan))
    doc["train"]["checkpoint_every"] = 1
    kplan = os.path.join(tmp, "kill.yaml")
    with open(kplan, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    base = dict(os.environ, TUI_THREADS=str(torch.get_num_threads()),
                KS_TMP="*/.ckpt-*.tmp.*", KS_OLD="*/ckpt-*",
                LD_PRELOAD=shim)
    if checks.sanitized():
        base["ASAN_OPTIONS"] = (base.get("ASAN_OPTIONS", "") +
                                ":verify_asan_link_order=0").lstrip(":")
    log = os.path.join(tmp, "calls.log")
    rc, _, err = checks.run_tui("--headless", "--plan", kplan, "--device", "cpu",
                                "-o", os.path.join(tmp, "logged"),
                                env=dict(base, KS_LOG=log), timeout=None)
    if not check(rc == 0, "kill: the logged run", err[-300:]):
        return
    calls = [l.split() for l in open(log)]
    mk = [int(n) for n, what in calls if what == "mkdir-tmp"]
    ref, _ = reference.st_load(os.path.join(whole, "weights.safetensors"))
    for after, stage in ((3, 0), (6, 1), (10, 2)):
        out = os.path.join(tmp, f"killed-{after}")
        rc, _, _ = checks.run_tui("--headless", "--plan", kplan, "--device",
                                  "cpu", "-o", out, timeout=None,
                                  env=dict(base, KS_KILL_AT=str(mk[after - 1])))
        ck = sorted(f for f in os.listdir(out) if f.startswith("ckpt-"))
        check(rc in (-9, 137) and ck == [f"ckpt-{after - 1:010d}"],
              f"kill -9 in stage {stage}: killed saving step {after}, "
              f"the checkpoint of step {after - 1} left", (rc, ck))
        env = dict(os.environ, TUI_THREADS=str(torch.get_num_threads()))
        rc, _, err = checks.run_tui("--headless", "--plan", kplan, "--device",
                                    "cpu", "-o", out, "--resume", env=env,
                                    timeout=None)
        if not check(rc == 0, f"kill -9 in stage {stage}: --resume exit 0",
                     err.decode(errors="replace")[-400:]):
            continue
        got, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
        diff = [k for k in ref if not torch.equal(got[k], ref[k])]
        check(not diff, f"kill -9 in stage {stage}, resumed: bitwise the "
              "uninterrupted run", diff[:5])
        check(losses_of(out) == losses_of(whole),
              f"kill -9 in stage {stage}, resumed: the same 12 losses")


def losses_of(out):
    return [json.loads(l)["loss"] for l in open(os.path.join(out, "metrics.jsonl"))
            if '"loss"' in l]


def main():
    if checks.missing_tui(NAME):
        return 1
    lib = os.path.join(os.path.dirname(checks.TUI), "libtui-train.so")
    if not os.path.exists(lib) and not os.environ.get("TUI_TRAIN_LIB"):
        print(f"{NAME}: skipped (no-trainer): no trainer in this build (TORCH=off)")
        return checks.finish(NAME)
    with tempfile.TemporaryDirectory(prefix="stages_train.") as tmp:
        mom = make_plan(tmp, "momentum.yaml",
                        {"name": "momentum", "lr": 0.01, "momentum": 0.9},
                        {"name": "cosine", "warmup_steps": 2}, {})
        adamw = make_plan(tmp, "adamw.yaml",
                          {"name": "adamw", "lr": 0.001, "weight_decay": 0.01},
                          {"name": "constant"},
                          {"layer_decay": {"factor": 0.75},
                           "lr_scale": [{"fc": 2.0}],
                           "no_decay": ["**.bn*"]})
        checks.guarded("momentum", lambda: case(tmp, "momentum", mom))
        checks.guarded("adamw", lambda: case(tmp, "adamw+layer_decay", adamw))
        checks.guarded("kill and resume", lambda: kill_and_resume(
            tmp, adamw, os.path.join(tmp, "run-adamw+layer_decay")))
        doc = yaml.safe_load(open(mom))
        doc["stages"][1]["unfreeze"] = ["nothing"]
        bad = os.path.join(tmp, "bad.yaml")
        with open(bad, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        out = os.path.join(tmp, "run-bad")
        rc, _, err = checks.run_tui("--headless", "--plan", bad, "--device",
                                    "cpu", "-o", out)
        err = err.decode(errors="replace")
        check(rc == 2 and err.count("\n") == 1 and f"{bad}:" in err and
              "stage 1: unfreeze 'nothing' matches nothing" in err and
              not os.path.exists(out),
              "a stage rule that matches nothing: one line, exit 2, nothing "
              "written", err)
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
