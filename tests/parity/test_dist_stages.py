#!/usr/bin/python3
"""test_dist_stages.py: a staged plan (`stages:`) trained by `tui --headless`
on several processes (c10d, gloo, CPU) against the Python route
(tests/train/reference_ddp_stages.py: DistributedDataParallel wrapped anew
at each stage boundary, add_param_group, DistributedSampler), run here.

The plans: resnet18 with only fc trainable at first, 203 training samples
(odd: the sampler pads), batch 16 per process, clipping, 1 thread a
process:
  - AdamW with layer_decay 0.75, an lr_scale item and no_decay on the
    norms; stages counted in the sampler's epochs (7 steps at W=2, 5 at
    W=3): stage 0 fc for an epoch, stage 1 thaws layer4 (33 MB of
    gradients: several buckets once rebuilt) for an epoch, stage 2
    everything to step 15;
  - SGD with momentum, cosine after a 2-step warmup: fc for 3 steps,
    then layer3 and layer4 for 4 steps, then layer2 thawed and fc frozen
    again to step 10 (a tensor that leaves the reducer).
Checks:
  - W=2 (AdamW) and W=3 (both): every step's loss (the mean over the
    ranks) equal to the reference's as the metrics print it (%.9g), the
    stage of every step, the final weights and buffers bitwise the
    reference's rank 0 (at W=3 only with the new wrapper's layout at
    every boundary: one bucket for its first step, then rebuilt), the
    tensors frozen throughout unchanged, one set of outputs;
  - the refusal is gone: no "not supported" on any rank;
  - W=3 AdamW, kill -9 of every rank after a checkpoint inside a stage
    (past the stage's first step), then --resume by all: bitwise the
    uninterrupted run (weights and every loss);
  - W=3 AdamW stopped at a stage's last step (--max-steps 10), then
    --resume to the plan's length: the resumed run starts the new stage
    with a new wrapper, bitwise the uninterrupted run;
  - ranks whose stages differ: refused before step 1, one line each.
Prints "test_dist_stages: N passed, N failed".
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import torch
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import reference  # noqa: E402
from checks import check  # noqa: E402

TRAIN = os.path.join(checks.FIX, "train")
NAME = "test_dist_stages"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_plan(tmp, name, optimizer, schedule, stages, max_steps, extra=None):
    doc = yaml.safe_load(open(os.path.join(TRAIN, "plan_resnet_adamw.yaml")))
    doc["model"] = {"path": os.path.join(TRAIN, "resnet18.init.safetensors")}
    doc["rules"] = [{"freeze": "**"}, {"unfreeze": "fc"}]
    doc.pop("frozen", None)
    tr = doc["train"]
    for k in ("model", "init"):
        tr[k] = os.path.join(TRAIN, tr[k])
    tr["data"]["train"] = os.path.join(TRAIN, tr["data"]["train"])
    tr["data"]["val_fraction"] = 0.5771  # 480 - 277 = 203
    tr["optimizer"] = optimizer
    tr["schedule"] = schedule
    tr["clip_grad_norm"] = 1.0
    tr["batch_size"] = 16
    tr["max_steps"] = max_steps
    tr["log_every"] = 1
    tr["checkpoint_every"] = 4
    tr.pop("epochs", None)
    doc["stages"] = stages
    doc.update(extra or {})
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def start(plans, out, port, args=()):
    procs = []
    for r, plan in enumerate(plans):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(len(plans)),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   TUI_THREADS="1")
        procs.append(subprocess.Popen(
            [checks.TUI, "--headless", "--plan", plan, "--device", "cpu",
             "-o", out, *args], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))
    return procs


def finish(procs, timeout=600):
    res = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        res.append((p.returncode, err.decode(errors="replace")))
    return res


def launch(plans, out, args=()):
    return finish(start(plans, out, free_port(), args))


def steps_of(out):
    return [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
            if '"loss"' in l]


def losses_of(out):
    return [s["loss"] for s in steps_of(out)]


def same_weights(a, b):
    x, _ = reference.st_load(os.path.join(a, "weights.safetensors"))
    y, _ = reference.st_load(os.path.join(b, "weights.safetensors"))
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def exited_ok(res, what):
    return check(all(rc == 0 for rc, _ in res), f"{what}: exit 0 on every rank",
                 [f"rank {i}: {rc}: {e[-400:]}" for i, (rc, e) in enumerate(res)])


def parity(tmp, label, plan, world, want_stages):
    """tui on `world` processes against the reference; returns the run's
    output folder (None when it failed)."""
    src = f"{label} W={world}"
    out = os.path.join(tmp, f"tui-{label}-{world}")
    t0 = time.time()
    res = launch([plan] * world, out)
    t_tui = time.time() - t0
    if not exited_ok(res, src):
        return None
    check(not any("not supported" in e for _, e in res),
          f"{src}: no refusal of stages on several processes",
          [e[-300:] for _, e in res])
    rc, so, se = checks.run_tui("--summary", "--json", "--plan", plan)
    if not check(rc == 0, f"{src}: --summary --json", se):
        return None
    lr_path = os.path.join(tmp, f"lr-{label}.json")
    with open(lr_path, "w") as f:
        json.dump(json.loads(so)["lr"], f)
    ref_w = os.path.join(tmp, f"ref-{label}-{world}.safetensors")
    ref_r = os.path.join(tmp, f"ref-{label}-{world}.json")
    t0 = time.time()
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "train",
                                                     "reference_ddp_stages.py"),
                        plan, str(world), str(free_port()), lr_path, ref_w,
                        ref_r], capture_output=True, timeout=900)
    t_ref = time.time() - t0
    if not check(r.returncode == 0, f"{src}: the reference ran",
                 r.stderr.decode(errors="replace")[-600:]):
        return None
    ref = json.load(open(ref_r))
    steps = steps_of(out)
    got = [s["loss"] for s in steps]
    check(ref["stages"] == want_stages,
          f"{src}: the reference's stages", ref["stages"])
    check([s.get("stage") for s in steps] == want_stages,
          f"{src}: the stage of every step", [s.get("stage") for s in steps])
    check([float("%.9g" % x) for x in ref["losses"]] == got,
          f"{src}: per-step losses equal the re-wrapped DDP's",
          [f"step {i + 1}: tui {a} DDP {b!r}" for i, (a, b) in
           enumerate(zip(got, ref["losses"])) if float("%.9g" % b) != a])
    mine, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
    want, _ = reference.st_load(ref_w)
    diff = [k for k in want if k not in mine or not torch.equal(mine[k], want[k])]
    check(len(mine) == len(want) and not diff,
          f"{src}: final weights and buffers bitwise the reference's", diff)
    rep = json.load(open(os.path.join(out, "report.json")))
    check(rep.get("frozen_unchanged") is True, f"{src}: tensors frozen "
          "throughout unchanged (the trainer's check)", rep.get("frozen_unchanged"))
    outs = sorted(os.listdir(out))
    check("metrics.jsonl" in outs and "weights.safetensors" in outs and
          not [f for f in outs if f.startswith(".")],
          f"{src}: one set of outputs, nothing left over", outs)
    print(f"{src}: {len(got)} steps, wrappers built at steps {ref['wraps']}; "
          f"losses and {len(want)} tensors equal the reference's "
          f"(tui {t_tui:.1f} s, reference {t_ref:.1f} s); last loss "
          f"{got[-1] if got else '?'}")
    return out


def kill_all_and_resume(tmp, plan, whole):
    """Three processes killed with SIGKILL, all of them, once a checkpoint
    inside a stage exists (checkpoint_every 4: after steps 8 and 12,
    inside stage 1 (steps 6-10) and stage 2 (11-15), each past its
    stage's first step); --resume by all then ends bitwise where the
    uninterrupted run ended: the resumed wrapper reduces in the rebuilt
    layout at once."""
    out = os.path.join(tmp, "killed")
    procs = start([plan] * 3, out, free_port())
    deadline = time.time() + 300
    ck8 = os.path.join(out, "ckpt-0000000008")
    while time.time() < deadline and not os.path.isdir(ck8) and \
            all(p.poll() is None for p in procs):
        time.sleep(0.02)
    for p in procs:
        p.send_signal(signal.SIGKILL)
    finish(procs)
    ck = sorted(f for f in os.listdir(out) if f.startswith("ckpt-"))
    if not check(ck and ck[-1] in ("ckpt-0000000008", "ckpt-0000000012"),
                 "kill -9 of all: killed mid-stage with a checkpoint", ck):
        return
    res = launch([plan] * 3, out, args=("--resume",))
    if not exited_ok(res, "kill -9 of all, --resume"):
        return
    check("resumed from step" in res[0][1], "kill -9 of all: rank 0 resumed",
          res[0][1][-300:])
    check(same_weights(out, whole),
          f"kill -9 of all at {ck[-1]}, resumed: bitwise the uninterrupted "
          "run's weights")
    check(losses_of(out) == losses_of(whole),
          "kill -9 of all, resumed: the same 15 losses",
          [losses_of(out), losses_of(whole)])


def resume_at_boundary(tmp, plan, whole):
    """--max-steps 10 ends W=3 exactly at stage 1's last step; --resume to
    the plan's 15 steps starts stage 2 under a new wrapper (its first
    step one bucket, then rebuilt): bitwise the uninterrupted run (the
    AdamW plan's lr is constant, so the longer run is the same run)."""
    out = os.path.join(tmp, "boundary")
    res = launch([plan] * 3, out, args=("--max-steps", "10"))
    if not exited_ok(res, "--max-steps 10 (the end of stage 1)"):
        return
    res = launch([plan] * 3, out, args=("--resume",))
    if not exited_ok(res, "resumed at stage 2's first step"):
        return
    check(same_weights(out, whole),
          "resumed at a stage boundary: bitwise the uninterrupted run's weights")
    check(losses_of(out) == losses_of(whole),
          "resumed at a stage boundary: the same 15 losses",
          [losses_of(out), losses_of(whole)])


def refusal(tmp, plan):
    """Ranks whose stages differ (rank 1 thaws layer3 in place of layer4):
    one line each, exit 2, nothing written."""
    doc = yaml.safe_load(open(plan))
    doc["stages"][1]["unfreeze"] = ["layer3"]
    other = os.path.join(tmp, "other-stages.yaml")
    with open(other, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    out = os.path.join(tmp, "refused")
    res = launch([plan, other], out)
    for r, (rc, err) in enumerate(res):
        lines = [l for l in err.splitlines() if l.strip()]
        check(rc == 2 and len(lines) == 1 and
              "the ranks disagree on the frozen set" in lines[0],
              f"different stages: rank {r} exit 2, one line", f"{rc}: {err[-400:]}")
    check(not os.path.exists(out), "different stages: nothing written")


def main():
    if checks.missing_tui(NAME):
        return 1
    lib = os.path.join(os.path.dirname(checks.TUI), "libtui-train.so")
    if not os.path.exists(lib) and not os.environ.get("TUI_TRAIN_LIB"):
        print(f"{NAME}: skipped (no-trainer): no trainer in this build "
              "(TORCH=off)")
        return checks.finish(NAME)
    with tempfile.TemporaryDirectory(prefix="tui-dist-stages-") as tmp:
        adamw = make_plan(
            tmp, "adamw.yaml", {"name": "adamw", "lr": 0.001,
                                "weight_decay": 0.01},
            {"name": "constant"},
            [{"epochs": 1},
             {"unfreeze": ["layer4"], "epochs": 1, "lr": 5.0e-4},
             {"unfreeze": ["**"], "lr": 1.0e-4}], 15,
            {"layer_decay": {"factor": 0.75}, "lr_scale": [{"fc": 2.0}],
             "no_decay": ["**.bn*"]})
        mom = make_plan(
            tmp, "momentum.yaml", {"name": "momentum", "lr": 0.01,
                                   "momentum": 0.9},
            {"name": "cosine", "warmup_steps": 2},
            [{"steps": 3},
             {"unfreeze": ["layer3", "layer4"], "steps": 4, "lr": 5.0e-3},
             {"freeze": ["fc"], "unfreeze": ["layer2"], "lr": 2.0e-3}], 10)
        whole = {}
        for w, spe in ((2, 7), (3, 5)):
            want = [0] * spe + [1] * spe + [2] * (15 - 2 * spe)
            checks.guarded(f"adamw W={w}", lambda: whole.__setitem__(
                w, parity(tmp, "adamw", adamw, w, want)))
        checks.guarded("momentum W=3", lambda: parity(
            tmp, "momentum", mom, 3, [0] * 3 + [1] * 4 + [2] * 3))
        if whole.get(3):
            checks.guarded("kill all and resume",
                           lambda: kill_all_and_resume(tmp, adamw, whole[3]))
            checks.guarded("resume at a boundary",
                           lambda: resume_at_boundary(tmp, adamw, whole[3]))
        checks.guarded("refusal", lambda: refusal(tmp, adamw))
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
