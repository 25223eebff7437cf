#!/usr/bin/python3
"""reference_stages.py: a staged plan trained in plain PyTorch, the way a
Python user does it: the plan's frozen set first, and at each stage's first
step the tensors the stage thaws set to requires_grad and added to the
optimizer with `add_param_group` (their own lr: the stage's, through the
same schedule; empty state), the norm layers they own back in train mode;
`layer_decay:` and `lr_scale:` as each parameter's lr multiplier,
`no_decay:` as weight decay 0. One group per parameter, so that every
tensor's lr is exactly its group's lr x its scale. Stage sets come from
tui_plan's pattern language (the core's, python/tui_plan) applied to the
names; the lr scales from `tui --summary --json` (their own parity is
tests/parity/test_layer_decay.py against timm).

    run_staged(plan_path, lr_info) -> {"losses", "weights", "stages"}
"""
import os
import sys

import torch
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import reference  # noqa: E402
from tui_plan.pattern import compile_pattern  # noqa: E402


def stage_sets(doc, names, frozen0):
    """Each stage's frozen set: stage 0 the plan's `rules:` in order (else
    its frozen list), each later one its freeze patterns, then its
    unfreeze patterns, on the previous stage's (a pattern naming a module
    means its subtree, as in the core)."""
    if doc.get("rules"):
        f0 = set()
        for r in doc["rules"]:
            (key, pat), = r.items()
            hit = {names[i] for i in compile_pattern(pat).select(names)}
            f0 = f0 | hit if key == "freeze" else f0 - hit
        frozen0 = f0
    sets = [set(frozen0)]
    for st in (doc.get("stages") or [])[1:]:
        cur = set(sets[-1])
        for key in ("freeze", "unfreeze"):
            pats = st.get(key) or []
            if isinstance(pats, str):
                pats = [pats]
            for p in pats:
                hit = {names[i] for i in compile_pattern(p).select(names)}
                cur = cur | hit if key == "freeze" else cur - hit
        sets.append(cur)
    return sets


def run_staged(plan_path, lr_info):
    torch._C._set_graph_executor_optimize(False)
    doc = yaml.safe_load(open(plan_path))
    plan = reference.Plan(plan_path, device="cpu", doc=doc)
    model, _ = reference.setup_model(plan, torch.device("cpu"))
    names = [n for n, _ in model.named_parameters()]
    params = dict(model.named_parameters())
    sets = stage_sets(doc, names, plan.frozen)
    stages = doc.get("stages") or [{}]
    data, _ = reference.st_load(plan.data)
    x_all, y_all = data[plan.inputs], data[plan.targets]
    n = x_all.shape[0]
    n_train = n - int(n * plan.val_fraction)
    spe = (n_train + plan.batch - 1) // plan.batch
    total = plan.max_steps if plan.max_steps else plan.epochs * spe
    starts, at = [], 0
    for st in stages:
        starts.append(at)
        at += st.get("steps", st.get("epochs", 0) * spe) or 10 ** 12
    scale = {k: v["lr_scale"] for k, v in lr_info["tensors"].items()}
    nodecay = {k for k, v in lr_info["tensors"].items() if v["no_decay"]}

    def group(name, stage):
        p = params[name]
        wd = plan.wd if p.dim() >= 2 and name not in nodecay else 0.0
        return {"params": [p], "weight_decay": wd, "tui_stage": stage,
                "tui_scale": scale.get(name, 1.0)}

    for nm, p in model.named_parameters():
        p.requires_grad_(nm not in sets[0])
    first = [group(nm, 0) for nm in names if nm not in sets[0]]
    opt = reference.new_optimizer(plan, first)
    order = [g["params"][0] for g in opt.param_groups]  # clipping order
    in_opt = {nm for nm in names if nm not in sets[0]}
    stage = 0
    eval_paths = reference.frozen_norms(model, sets[0]) \
        if plan.batchnorm != "train" else []
    torch.manual_seed(plan.seed)
    reference.set_mode(model, True, eval_paths)
    losses, step, perm, perm_epoch, seen = [], 0, None, -1, []
    while step < total:
        while stage + 1 < len(stages) and step >= starts[stage + 1]:
            stage += 1
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
        seen.append(stage)
        epoch, pos = divmod(step, spe)
        if epoch != perm_epoch:
            g = torch.Generator()
            g.manual_seed(plan.seed + epoch)
            perm = torch.randperm(n_train, generator=g)
            perm_epoch = epoch
        idx = perm[pos * plan.batch:(pos + 1) * plan.batch]
        xb, yb = x_all[idx], y_all[idx]
        for grp in opt.param_groups:
            k = grp["tui_stage"]
            base = stages[k].get("lr", plan.lr) if k else plan.lr
            grp["lr"] = reference.lr_at(plan, step, total, float(base)) * \
                grp["tui_scale"]
        out = model(xb)
        if isinstance(out, tuple):
            out = out[0]
        loss = F.cross_entropy(out, yb)
        losses.append(loss.item())
        loss.backward()
        if plan.clip > 0:
            torch.nn.utils.clip_grad_norm_(order, plan.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
    w = {k: t.detach().clone() for k, t in model.named_parameters()}
    w.update({k: t.detach().clone() for k, t in model.named_buffers()})
    return {"losses": losses, "weights": w, "stages": seen}

