#!/usr/bin/python3
"""reference_ddp.py: the data-parallel reference, in plain PyTorch: the
plan's TorchScript module wrapped in torch.nn.parallel.DistributedDataParallel
(gloo, CPU, PyTorch's defaults: parameters and buffers broadcast from rank
0 at the start, buffers before every forward, gradients averaged), fed by
torch.utils.data.DistributedSampler's order (its own code: randperm(seed +
epoch), padded with the head, rank::W), batch_size per process, the same
optimizer, schedule and clipping as tests/train/reference.py.

    reference_ddp.py PLAN WORLD PORT OUT.safetensors LOSSES.json

runs WORLD processes (torch.multiprocessing) and writes rank 0's final
weights (parameters and buffers) and, as JSON, {"losses": the per-step
losses (the mean over the ranks, in float64, as the trainer reports
them), "step_times": rank 0's seconds per step (batch, forward, backward
with DDP's overlapped reduction, update; the loss's allreduce for the
report excluded)}.
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def rank_main(rank, world, plan_path, port, out, losses_path):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch._C._set_graph_executor_optimize(False)
    plan = reference.Plan(plan_path, device="cpu")
    model, eval_paths = reference.setup_model(plan, torch.device("cpu"))
    data, _ = reference.st_load(plan.data)
    x_all, y_all = data[plan.inputs], data[plan.targets]
    n = x_all.shape[0]
    n_train = n if plan.val else n - int(n * plan.val_fraction)
    ddp = DDP(model)
    opt, params = reference.make_optimizer(plan, model)
    sampler = DistributedSampler(range(n_train), num_replicas=world, rank=rank,
                                 shuffle=True, seed=plan.seed, drop_last=False)
    per_rank = len(sampler)
    spe = (per_rank + plan.batch - 1) // plan.batch
    total = plan.max_steps if plan.max_steps else plan.epochs * spe
    torch.manual_seed(plan.seed)
    reference.set_mode(model, True, eval_paths)
    losses, times, step = [], [], 0
    while step < total:
        epoch, pos = divmod(step, spe)
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)), dtype=torch.int64)
        idx = order[pos * plan.batch:(pos + 1) * plan.batch]
        t0 = time.perf_counter()
        xb, yb = x_all[idx], y_all[idx]
        lr = reference.lr_at(plan, step, total)
        for grp in opt.param_groups:
            grp["lr"] = lr
        o = ddp(xb)
        if isinstance(o, tuple):
            o = o[0]
        loss = F.cross_entropy(o, yb)
        lv = torch.tensor([loss.item()], dtype=torch.float64)
        t1 = time.perf_counter()
        dist.all_reduce(lv)
        t2 = time.perf_counter()
        loss.backward()
        if plan.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, plan.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0 - (t2 - t1))
        losses.append(lv.item() / world)
        step += 1
    if rank == 0:
        w = {k: t.detach().clone() for k, t in model.named_parameters()}
        w.update({k: t.detach().clone() for k, t in model.named_buffers()})
        reference.st_save(out, w)
        with open(losses_path, "w") as f:
            json.dump({"losses": losses, "step_times": times}, f)
    dist.barrier()
    dist.destroy_process_group()


def main():
    plan, world, port, out, losses = sys.argv[1:6]
    mp.spawn(rank_main, args=(int(world), plan, int(port), out, losses),
             nprocs=int(world), join=True)


if __name__ == "__main__":
    main()
