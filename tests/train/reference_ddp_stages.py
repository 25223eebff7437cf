#!/usr/bin/python3
"""reference_ddp_stages.py: a staged plan trained data-parallel in plain
PyTorch, the way a Python user has to write it: tests/train/reference_stages.py's
loop (the plan's frozen set first; at each stage's first step the tensors
it thaws set to requires_grad and added with `add_param_group`, their own
lr through the same schedule and empty state; tensors it freezes again set
to requires_grad False; the norm layers back in train mode; lr scales and
no_decay per tensor) on torch.distributed (gloo, CPU) with
DistributedSampler's order, as tests/train/reference_ddp.py does, and at
each stage boundary the module wrapped in a NEW
torch.nn.parallel.DistributedDataParallel.

Why a new wrapper: DDP's Reducer knows only the parameters that required
grad when DDP was built (distributed.py, _build_params_for_reducer), so a
tensor thawed under the old wrapper would train on its own rank's gradient
(never averaged: the ranks drift apart) and one frozen under it would make
the next forward fail ("Expected to have finished reduction in the prior
iteration"). The new wrapper broadcasts rank 0's parameters and buffers
again (_sync_module_states) and builds a fresh Reducer: its first step
reduces one bucket per dtype in parameter order, and it rebuilds the
buckets from that step's gradient-ready order before its second
(docs/distributed.md, "Staged plans").

    reference_ddp_stages.py PLAN WORLD PORT LR_INFO.json OUT.safetensors RESULT.json

LR_INFO.json: `tui --summary --json --plan PLAN`'s "lr" object (every
tensor's lr scale and no_decay flag). Runs WORLD processes
(torch.multiprocessing) and writes rank 0's final weights (parameters and
buffers) and, as JSON, {"losses": the per-step losses (the mean over the
ranks, in float64, as the trainer reports them), "stages": the stage of
every step, "wraps": the steps (0-based) at which a DDP was built}.
"""
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
import yaml
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference  # noqa: E402
import reference_stages  # noqa: E402


def rank_main(rank, world, plan_path, port, lr_path, out, result_path):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch._C._set_graph_executor_optimize(False)
    doc = yaml.safe_load(open(plan_path))
    plan = reference.Plan(plan_path, device="cpu", doc=doc)
    model, _ = reference.setup_model(plan, torch.device("cpu"))
    names = [n for n, _ in model.named_parameters()]
    params = dict(model.named_parameters())
    sets = reference_stages.stage_sets(doc, names, plan.frozen)
    stages = doc.get("stages") or [{}]
    lr_info = json.load(open(lr_path))
    scale = {k: v["lr_scale"] for k, v in lr_info["tensors"].items()}
    nodecay = {k for k, v in lr_info["tensors"].items() if v["no_decay"]}
    data, _ = reference.st_load(plan.data)
    x_all, y_all = data[plan.inputs], data[plan.targets]
    n = x_all.shape[0]
    n_train = n if plan.val else n - int(n * plan.val_fraction)
    sampler = DistributedSampler(range(n_train), num_replicas=world, rank=rank,
                                 shuffle=True, seed=plan.seed, drop_last=False)
    spe = (len(sampler) + plan.batch - 1) // plan.batch  # per process
    total = plan.max_steps if plan.max_steps else plan.epochs * spe
    starts, at = [], 0
    for st in stages:
        starts.append(at)
        at += st.get("steps", st.get("epochs", 0) * spe) or 10 ** 12

    def group(name, stage):
        p = params[name]
        wd = plan.wd if p.dim() >= 2 and name not in nodecay else 0.0
        return {"params": [p], "weight_decay": wd, "tui_stage": stage,
                "tui_scale": scale.get(name, 1.0)}

    for nm, p in model.named_parameters():
        p.requires_grad_(nm not in sets[0])
    opt = reference.new_optimizer(plan, [group(nm, 0) for nm in names
                                         if nm not in sets[0]])
    order = [g["params"][0] for g in opt.param_groups]  # clipping order
    in_opt = {nm for nm in names if nm not in sets[0]}
    stage = 0
    eval_paths = reference.frozen_norms(model, sets[0]) \
        if plan.batchnorm != "train" else []
    torch.manual_seed(plan.seed)
    reference.set_mode(model, True, eval_paths)
    ddp, wraps = DDP(model), [0]
    losses, seen, step = [], [], 0
    while step < total:
        entered = False
        while stage + 1 < len(stages) and step >= starts[stage + 1]:
            stage += 1
            entered = True
            now = sets[stage]
            for nm in names:  # module order
                p = params[nm]
                if nm in now:
                    p.requires_grad_(False)
                    continue
                p.requires_grad_(True)
                if nm not in in_opt:
                    opt.add_param_group(group(nm, stage))
                    order.append(p)
                    in_opt.add(nm)
            eval_paths = reference.frozen_norms(model, now) \
                if plan.batchnorm != "train" else []
            reference.set_mode(model, True, eval_paths)
        if entered:
            # the trainable set changed: a new wrapper (the old one's
            # Reducer cannot follow requires_grad changes)
            del ddp
            ddp = DDP(model)
            wraps.append(step)
        seen.append(stage)
        epoch, pos = divmod(step, spe)
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(iter(sampler)), dtype=torch.int64)
        idx = idx[pos * plan.batch:(pos + 1) * plan.batch]
        xb, yb = x_all[idx], y_all[idx]
        for grp in opt.param_groups:
            k = grp["tui_stage"]
            base = stages[k].get("lr", plan.lr) if k else plan.lr
            grp["lr"] = reference.lr_at(plan, step, total, float(base)) * \
                grp["tui_scale"]
        o = ddp(xb)
        if isinstance(o, tuple):
            o = o[0]
        loss = F.cross_entropy(o, yb)
        lv = torch.tensor([loss.item()], dtype=torch.float64)
        dist.all_reduce(lv)
        loss.backward()
        if plan.clip > 0:
            torch.nn.utils.clip_grad_norm_(order, plan.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(lv.item() / world)
        step += 1
    if rank == 0:
        w = {k: t.detach().clone() for k, t in model.named_parameters()}
        w.update({k: t.detach().clone() for k, t in model.named_buffers()})
        reference.st_save(out, w)
        with open(result_path, "w") as f:
            json.dump({"losses": losses, "stages": seen, "wraps": wraps}, f)
    dist.barrier()
    dist.destroy_process_group()


def main():
    plan, world, port, lr_info, out, result = sys.argv[1:7]
    mp.spawn(rank_main, args=(int(world), plan, int(port), lr_info, out,
                              result),
             nprocs=int(world), join=True)


if __name__ == "__main__":
    main()
