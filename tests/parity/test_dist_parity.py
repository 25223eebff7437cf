#!/usr/bin/python3
"""test_dist_parity.py: `tui --headless` on torch.distributed (c10d, gloo,
CPU) against PyTorch's DistributedDataParallel with DistributedSampler
(tests/train/reference_ddp.py), run here in the same test (issue #14).

The plans: resnet18 with conv1, bn1 and layer1 frozen (a BatchNorm CNN
with a frozen prefix, its frozen norms in eval mode), 203 training samples
(an odd number: the sampler pads), batch 16 per process, 2 epochs, under
AdamW with clipping and under SGD with momentum, warmup and clipping.
Launched by hand-set variables (RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT), one process each, 1 thread each, and by torchrun:
  - two and three processes: every step's loss (the mean over the ranks)
    equal to DDP's as the metrics print it (%.9g), the final weights and
    buffers bitwise equal to DDP's rank 0 (at three, only with DDP's
    bucket layout), the frozen tensors bitwise the initial ones, only
    rank 0 writing (one metrics file, one set of outputs);
  - WORLD_SIZE=1 through the distributed path: bitwise today's trainer;
  - refusals before step 1, one line each, exit 2 on every rank: ranks
    whose plans freeze different sets; a peer that never starts (after
    the plan's train.dist_timeout); a plan whose train.world_size is not
    the number of processes; a variable that is not a number; a resume with another number of processes than the
    checkpoint was made with;
  - three processes, SIGTERM to one rank: all stop after the same step
    (exit 130), rank 0 saves; --resume by all ends bitwise where the
    uninterrupted run ends; so does --resume after kill -9 of every rank;
  - torchrun --no_python, static rendezvous (the agent's store) and
    --standalone, and SLURM's variables (SLURM_PROCID, SLURM_NTASKS):
    bitwise the hand-launched run;
  - kill -9 of one rank, SIGSTOP of one: the other exits 2 with one line
    "rank 0: lost a peer at step N: ..." within the timeout.
Prints "test_dist_parity: N passed, N failed".
"""
import json
import os
import socket
import subprocess
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
NAME = "test_dist_parity"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_plan(tmp, src, name, extra_frozen=()):
    """The fixture plan with absolute paths, 203 training samples, clipping,
    2 epochs, logged every step."""
    import yaml
    doc = yaml.safe_load(open(os.path.join(TRAIN, src)))
    doc["model"]["path"] = os.path.join(TRAIN, doc["model"]["path"])
    tr = doc["train"]
    for k in ("model", "init"):
        tr[k] = os.path.join(TRAIN, tr[k])
    tr["data"]["train"] = os.path.join(TRAIN, tr["data"]["train"])
    tr["data"]["val_fraction"] = 0.5771  # 480 - 277 = 203
    tr["clip_grad_norm"] = 1.0
    tr["epochs"] = 2
    tr["batch_size"] = 16
    tr["log_every"] = 1
    tr.pop("max_steps", None)
    for k in ("fingerprint", "tensors", "parameters"):
        doc["model"].pop(k, None)
    doc.pop("rules", None)
    doc["frozen"] = list(doc["frozen"]) + list(extra_frozen)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def launch(plans, out, port, world=None, extra_env=None, args=(), timeout=600):
    """Runs one tui per plan (rank i gets plans[i]); returns [(rc, err)]."""
    world = len(plans) if world is None else world
    procs = []
    for r, plan in enumerate(plans):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(world),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   TUI_THREADS="1", **(extra_env or {}))
        procs.append(subprocess.Popen(
            [checks.TUI, "--headless", "--plan", plan, "--device", "cpu",
             "-o", out, *args], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))
    res = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        res.append((p.returncode, err.decode(errors="replace")))
    return res


def losses_of(out):
    return [json.loads(l)["loss"] for l in open(os.path.join(out, "metrics.jsonl"))
            if '"loss"' in l]


def parity(tmp, src, world):
    plan = make_plan(tmp, src, "p-" + src)
    src = f"{src} W={world}"
    out = os.path.join(tmp, "tui-" + src)
    res = launch([plan] * world, out, free_port())
    if not check(all(rc == 0 for rc, _ in res), f"{src}: exit status",
                 [f"rank {i}: {rc}: {e[-400:]}" for i, (rc, e) in enumerate(res)]):
        return
    ref_w = os.path.join(tmp, "ref-" + src + ".safetensors")
    ref_l = os.path.join(tmp, "ref-" + src + ".json")
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "train",
                                                     "reference_ddp.py"),
                        plan, str(world), str(free_port()), ref_w, ref_l],
                       capture_output=True, timeout=900)
    if not check(r.returncode == 0, f"{src}: the DDP reference ran",
                 r.stderr.decode(errors="replace")[-600:]):
        return
    ref_losses = json.load(open(ref_l))["losses"]
    got = losses_of(out)
    want = 14 if world == 2 else 10  # 2 epochs of ceil(ceil(203 / W) / 16)
    check(len(ref_losses) == want, f"{src}: DDP ran {len(ref_losses)} steps, want {want}")
    check([float("%.9g" % x) for x in ref_losses] == got,
          f"{src}: per-step losses equal DDP's",
          [f"step {i + 1}: tui {a} DDP {b!r}" for i, (a, b) in
           enumerate(zip(got, ref_losses)) if float("%.9g" % b) != a])
    mine, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
    ref, _ = reference.st_load(ref_w)
    diff = [k for k in ref if k not in mine or not torch.equal(mine[k], ref[k])]
    check(len(mine) == len(ref) and not diff,
          f"{src}: final weights and buffers bitwise DDP's", diff)
    init, _ = reference.st_load(os.path.join(TRAIN, "resnet18.init.safetensors"))
    frozen = reference.Plan(plan).frozen
    moved = [k for k in frozen if not torch.equal(mine[k], init[k])]
    check(frozen and not moved, f"{src}: frozen tensors unchanged", moved)
    outs = sorted(os.listdir(out))
    check("metrics.jsonl" in outs and "weights.safetensors" in outs and
          not [f for f in outs if f.startswith(".")],
          f"{src}: one set of outputs, nothing left over", outs)
    print(f"{src}: {len(got)} steps, losses and {len(ref)} tensors equal "
          f"DDP's; last loss {got[-1]}")


def world_one(tmp):
    plan = make_plan(tmp, "plan_resnet_adamw.yaml", "w1.yaml")
    a, b = os.path.join(tmp, "w1-dist"), os.path.join(tmp, "w1-plain")
    res = launch([plan], a, free_port())
    check(res[0][0] == 0, "WORLD_SIZE=1: exit 0", res[0][1][-400:])
    env = dict(os.environ, TUI_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    rc, _, err = checks.run_tui("--headless", "--plan", plan, "--device", "cpu",
                                "-o", b, env=env, timeout=None)
    if not check(rc == 0, "plain run: exit 0", err[-400:]):
        return
    x, _ = reference.st_load(os.path.join(a, "weights.safetensors"))
    y, _ = reference.st_load(os.path.join(b, "weights.safetensors"))
    check(x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x),
          "WORLD_SIZE=1 through the group: bitwise the plain trainer's weights")
    check(losses_of(a) == losses_of(b), "WORLD_SIZE=1: the same losses")


def one_line(res, what, pattern):
    for r, (rc, err) in enumerate(res):
        lines = [l for l in err.splitlines() if l.strip()]
        check(rc == 2 and len(lines) == 1 and pattern in lines[0],
              f"{what}: rank {r} exit 2, one line with '{pattern}'",
              f"exit {rc}: {err[-500:]}")


def refusals(tmp):
    a = make_plan(tmp, "plan_resnet_adamw.yaml", "ra.yaml")
    b = make_plan(tmp, "plan_resnet_adamw.yaml", "rb.yaml",
                  extra_frozen=["layer2.0.conv1.weight"])
    out = os.path.join(tmp, "refused")
    res = launch([a, b], out, free_port())
    one_line(res, "different frozen sets", "the ranks disagree on the frozen set")
    check(not os.path.exists(out), "different frozen sets: nothing written",
          os.listdir(out) if os.path.exists(out) else "")
    # rank 1 never starts: rank 0 gives up after the plan's dist_timeout
    import yaml
    doc = yaml.safe_load(open(a))
    doc["train"]["dist_timeout"] = 4
    t4 = os.path.join(tmp, "t4.yaml")
    yaml.safe_dump(doc, open(t4, "w"), sort_keys=False)
    import time
    t0 = time.time()
    res = launch([t4], os.path.join(tmp, "alone"), free_port(), world=2,
                 timeout=120)
    one_line(res, "a peer that never starts", "rank 0 of 2: joining 127.0.0.1:")
    check(time.time() - t0 < 60, "a peer that never starts: after "
          f"train.dist_timeout (4 s), not PyTorch's 300 ({time.time() - t0:.1f} s)")
    # the plan says how many processes it is for
    doc = yaml.safe_load(open(a))
    doc["train"]["world_size"] = 3
    w3 = os.path.join(tmp, "w3.yaml")
    yaml.safe_dump(doc, open(w3, "w"), sort_keys=False)
    res = launch([w3, w3], os.path.join(tmp, "w3"), free_port())
    one_line(res, "train.world_size 3 on two processes",
             "train.world_size is 3, and this run has 2 processes (WORLD_SIZE)")
    env = dict(os.environ, RANK="x", WORLD_SIZE="2")
    rc, _, err = checks.run_tui("--headless", "--plan", a, "-o",
                                os.path.join(tmp, "bad"), env=env)
    err = err.decode(errors="replace")
    check(rc == 2 and err.count("\n") == 1 and "RANK=x: expected a whole number" in err,
          "RANK=x: one line, exit 2", err)
    # a checkpoint made by two processes, resumed by one: refused
    c = make_plan(tmp, "plan_resnet_adamw.yaml", "rc.yaml")
    doc = yaml.safe_load(open(c))
    doc["train"]["checkpoint_every"] = 3
    doc["train"]["max_steps"] = 4
    yaml.safe_dump(doc, open(c, "w"), sort_keys=False)
    out = os.path.join(tmp, "ck")
    res = launch([c, c], out, free_port())
    check(all(rc == 0 for rc, _ in res), "W=2 with checkpoints: exit 0",
          [e[-300:] for _, e in res])
    env = dict(os.environ, TUI_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    doc["train"]["max_steps"] = 6
    yaml.safe_dump(doc, open(c, "w"), sort_keys=False)
    rc, _, err = checks.run_tui("--headless", "--plan", c, "--device", "cpu",
                                "-o", out, "--resume", env=env)
    err = err.decode(errors="replace")
    check(rc == 2 and "made by 2 processes, and this run has 1" in err,
          "resume by another number of processes: refused", err[-400:])


def stop_and_resume(tmp):
    """Three processes; SIGTERM to rank 1 alone: every rank stops after the
    same step (exit 130), rank 0 saves; --resume by all then ends bitwise
    where an uninterrupted run ends (the resumed run reduces in DDP's
    rebuilt layout from its first step)."""
    import signal
    import time
    plan = make_plan(tmp, "plan_resnet_adamw.yaml", "sig.yaml")
    out, whole = os.path.join(tmp, "sig"), os.path.join(tmp, "whole")
    port = free_port()
    procs = []
    for r in range(3):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE="3",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   TUI_THREADS="1")
        procs.append(subprocess.Popen(
            [checks.TUI, "--headless", "--plan", plan, "--device", "cpu",
             "-o", out], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))
    # after the second step is logged, well before the last
    deadline = time.time() + 120
    metrics = os.path.join(out, "metrics.jsonl")
    while time.time() < deadline and not (
            os.path.exists(metrics) and open(metrics).read().count("\n") >= 2):
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGTERM)
    res = []
    for p in procs:
        _, err = p.communicate(timeout=300)
        res.append((p.returncode, err.decode(errors="replace")))
    check([rc for rc, _ in res] == [130] * 3, "SIGTERM to one rank: all exit 130",
          [f"rank {i}: {rc}: {e[-300:]}" for i, (rc, e) in enumerate(res)])
    ck = [f for f in os.listdir(out) if f.startswith("ckpt-")]
    check(len(ck) == 1 and "terminated at step" in res[0][1],
          "SIGTERM: rank 0 saved one checkpoint and said so", (ck, res[0][1][-300:]))
    n_before = len(losses_of(out))
    check(1 < n_before < 10, f"SIGTERM: stopped mid-run ({n_before} of 10 steps)")
    res = launch([plan] * 3, out, free_port(), args=("--resume",))
    check(all(rc == 0 for rc, _ in res), "--resume by every rank: exit 0",
          [e[-300:] for _, e in res])
    res = launch([plan] * 3, whole, free_port())
    a, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
    b, _ = reference.st_load(os.path.join(whole, "weights.safetensors"))
    check(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a),
          "stopped and resumed: bitwise the uninterrupted run's weights")
    check(losses_of(out) == losses_of(whole),
          "stopped and resumed: the same 10 losses",
          [losses_of(out), losses_of(whole)])


def faults(tmp):
    """kill -9 of one rank, and one stopped with SIGSTOP (a hang): the other
    exits 2 with one line, "rank 0: lost a peer at step N: ...", within the
    timeout (TUI_DIST_TIMEOUT=5), and leaves no half-written checkpoint."""
    import signal
    import time
    plan = make_plan(tmp, "plan_resnet_adamw.yaml", "fault.yaml")
    for how, sig in (("kill -9", signal.SIGKILL), ("SIGSTOP", signal.SIGSTOP)):
        out = os.path.join(tmp, "fault-" + how.replace(" ", ""))
        port = free_port()
        procs = []
        for r in range(2):
            env = dict(os.environ, RANK=str(r), WORLD_SIZE="2",
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                       TUI_THREADS="1", TUI_DIST_TIMEOUT="5")
            procs.append(subprocess.Popen(
                [checks.TUI, "--headless", "--plan", plan, "--device", "cpu",
                 "-o", out], env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE))
        metrics = os.path.join(out, "metrics.jsonl")
        deadline = time.time() + 120
        while time.time() < deadline and not (
                os.path.exists(metrics) and os.path.getsize(metrics) > 0):
            time.sleep(0.05)
        procs[1].send_signal(sig)
        t0 = time.time()
        try:
            _, err = procs[0].communicate(timeout=120)
        except subprocess.TimeoutExpired:
            procs[0].kill()
            _, err = procs[0].communicate()
        took = time.time() - t0
        procs[1].kill()
        procs[1].communicate()
        err = err.decode(errors="replace")
        lines = [l for l in err.splitlines() if l.startswith("tui:")]
        check(procs[0].returncode == 2 and len(lines) == 1 and
              "tui: rank 0: lost a peer at step" in lines[0],
              f"{how} of rank 1: rank 0 exits 2 with one line",
              f"exit {procs[0].returncode}: {lines or err[-400:]}")
        check(took < 5 + 20, f"{how} of rank 1: within the timeout ({took:.1f} s)")
        left = [f for f in os.listdir(out) if f.startswith(".")] \
            if os.path.isdir(out) else []
        check(not left, f"{how}: nothing half-written", left)
        print(f"{how} of rank 1: rank 0 stopped after {took:.1f} s: "
              f"{lines[0] if lines else '?'}")


def kill_all_and_resume(tmp):
    """kill -9 of every rank mid-run (two processes, a checkpoint every 3
    steps): --resume by both ends bitwise where an uninterrupted run
    ends."""
    import signal
    import time
    import yaml
    plan = make_plan(tmp, "plan_resnet_adamw.yaml", "k9.yaml")
    doc = yaml.safe_load(open(plan))
    doc["train"]["checkpoint_every"] = 3
    yaml.safe_dump(doc, open(plan, "w"), sort_keys=False)
    out, whole = os.path.join(tmp, "k9"), os.path.join(tmp, "k9-whole")
    port = free_port()
    procs = []
    for r in range(2):
        env = dict(os.environ, RANK=str(r), WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   TUI_THREADS="1")
        procs.append(subprocess.Popen(
            [checks.TUI, "--headless", "--plan", plan, "--device", "cpu",
             "-o", out], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
    metrics = os.path.join(out, "metrics.jsonl")
    deadline = time.time() + 120
    while time.time() < deadline and not (
            os.path.exists(metrics) and open(metrics).read().count('"loss"') >= 5):
        time.sleep(0.05)
    for p in procs:
        p.send_signal(signal.SIGKILL)
    for p in procs:
        p.wait()
    ck = sorted(f for f in os.listdir(out) if f.startswith("ckpt-"))
    check(ck and ck[-1] < "ckpt-0000000014", "kill -9 of all: killed mid-run "
          "with a checkpoint", ck)
    res = launch([plan, plan], out, free_port(), args=("--resume",))
    check(all(rc == 0 for rc, _ in res), "kill -9 of all, --resume: exit 0",
          [e[-300:] for _, e in res])
    launch([plan, plan], whole, free_port())
    a, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
    b, _ = reference.st_load(os.path.join(whole, "weights.safetensors"))
    check(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a),
          "kill -9 of all, resumed: bitwise the uninterrupted run's weights")
    check(losses_of(out) == losses_of(whole),
          "kill -9 of all, resumed: the same 14 losses",
          [losses_of(out), losses_of(whole)])


def torchrun(tmp):
    """torchrun --no_python launches the trainer: the static rendezvous (the
    agent hosts the store; the workers join it under its prefix) and
    --standalone; both end bitwise where the hand-launched run ends."""
    import shutil
    plan = make_plan(tmp, "plan_resnet_adamw.yaml", "tr.yaml")
    by_hand = os.path.join(tmp, "tr-hand")
    res = launch([plan, plan], by_hand, free_port())
    check(all(rc == 0 for rc, _ in res), "torchrun: the hand-launched run",
          [e[-300:] for _, e in res])
    exe = shutil.which("torchrun")
    if not check(exe is not None, "torchrun is installed (python3-torch)"):
        return
    ref, _ = reference.st_load(os.path.join(by_hand, "weights.safetensors"))
    for how in ("static", "standalone"):
        out = os.path.join(tmp, "tr-" + how)
        mode = ["--standalone"] if how == "standalone" else \
            ["--master_port", str(free_port())]
        # -r 1 -t 1 --log_dir: Debian's torchrun on Python 3.11 crashes in
        # its log redirection without them (pytorch#92319)
        r = subprocess.run([exe, "--nproc_per_node=2", *mode, "--no_python",
                            "-r", "1", "-t", "1", "--log_dir",
                            os.path.join(tmp, "trlog-" + how), checks.TUI,
                            "--headless", "--plan", plan, "--device", "cpu",
                            "-o", out], env=dict(os.environ, TUI_THREADS="1"),
                           capture_output=True, timeout=600)
        if not check(r.returncode == 0, f"torchrun {how}: exit 0",
                     r.stdout.decode(errors="replace")[-500:]):
            continue
        got, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
        check(got.keys() == ref.keys() and all(torch.equal(got[k], ref[k]) for k in got),
              f"torchrun {how}: bitwise the hand-launched run")
        check(losses_of(out) == losses_of(by_hand),
              f"torchrun {how}: the same losses")
    # SLURM's variables in place of RANK/WORLD_SIZE (srun sets them; the
    # batch script sets MASTER_ADDR/MASTER_PORT, docs/distributed.md)
    out = os.path.join(tmp, "tr-slurm")
    port = str(free_port())
    procs = []
    for r in range(2):
        env = dict(os.environ, SLURM_PROCID=str(r), SLURM_NTASKS="2",
                   SLURM_LOCALID=str(r), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=port, TUI_THREADS="1")
        for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            env.pop(k, None)
        procs.append(subprocess.Popen(
            [checks.TUI, "--headless", "--plan", plan, "--device", "cpu",
             "-o", out], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))
    errs = [p.communicate(timeout=600)[1].decode(errors="replace") for p in procs]
    if check(all(p.returncode == 0 for p in procs), "SLURM variables: exit 0",
             [e[-300:] for e in errs]):
        got, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
        check(got.keys() == ref.keys() and all(torch.equal(got[k], ref[k]) for k in got),
              "SLURM variables: bitwise the hand-launched run")


def main():
    if checks.missing_tui(NAME):
        return 1
    lib = os.path.join(os.path.dirname(checks.TUI), "libtui-train.so")
    if not os.path.exists(lib) and not os.environ.get("TUI_TRAIN_LIB"):
        print(f"{NAME}: skipped (no-trainer): no trainer in this build "
              "(TORCH=off)")
        return checks.finish(NAME)
    with tempfile.TemporaryDirectory(prefix="tui-dist-") as tmp:
        for w in (2, 3):
            checks.guarded(f"adamw W={w}",
                           lambda: parity(tmp, "plan_resnet_adamw.yaml", w))
            checks.guarded(f"momentum W={w}",
                           lambda: parity(tmp, "plan_resnet_momentum.yaml", w))
        checks.guarded("world one", lambda: world_one(tmp))
        checks.guarded("refusals", lambda: refusals(tmp))
        checks.guarded("stop and resume", lambda: stop_and_resume(tmp))
        checks.guarded("kill all and resume", lambda: kill_all_and_resume(tmp))
        checks.guarded("torchrun", lambda: torchrun(tmp))
        checks.guarded("faults", lambda: faults(tmp))
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
