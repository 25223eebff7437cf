"""tui_plan: apply a tui freeze plan to a live PyTorch model.

For people who train in Python (torchrun, accelerate, DeepSpeed jobs): the
plan made with `tui` sets `requires_grad` exactly as the editor showed.

    import tui_plan
    params = tui_plan.apply_plan(model, "plan.yaml")
    optimizer = torch.optim.AdamW(params, lr=3e-4)

`apply_plan` reads the plan's `frozen` list (the resolved set the editor
wrote), refuses names the model lacks, sets `requires_grad` on every
parameter (frozen ones False, all others True), applies the plan's
`batchnorm` policy, and returns the trainable parameters in
`model.named_parameters()` order.

Batchnorm policy `freeze-stats` (the default): a norm layer whose own
parameters are all frozen (or that has none) is kept in eval mode even
after `model.train()`, so its running statistics do not move.
Policy `train`: norm layers follow model.train()/eval() as usual.

Needs PyYAML (Debian: python3-yaml) and torch.
"""

import torch
import yaml

__all__ = ["PlanError", "load_plan", "apply_plan"]

_NORM_TYPES = (
    torch.nn.modules.batchnorm._BatchNorm,
    torch.nn.modules.instancenorm._InstanceNorm,
    torch.nn.GroupNorm,
)


class PlanError(ValueError):
    """The plan cannot be applied to this model (message says why)."""


def load_plan(path):
    """Reads a plan file; returns (frozen names as a list, batchnorm policy).

    Raises PlanError when the file is not a version 1 plan."""
    with open(path, "rb") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise PlanError(f"{path}: not a tui plan (version 1)")
    frozen = doc.get("frozen") or []
    if not isinstance(frozen, list) or not all(isinstance(n, str) for n in frozen):
        raise PlanError(f"{path}: 'frozen' must be a list of tensor names")
    policy = doc.get("batchnorm", "freeze-stats")
    if policy not in ("freeze-stats", "train"):
        raise PlanError(f"{path}: batchnorm must be freeze-stats or train")
    return frozen, policy


def _keep_eval(module):
    """Makes module.train(mode) leave this module in eval mode."""
    original = module.train

    def train(mode=True):
        original(False)
        return module

    module.train = train
    module.eval()


def apply_plan(model, plan_path, strict=True):
    """Applies the plan at plan_path to model; returns trainable parameters.

    strict=True: a frozen name that is not a parameter or buffer of the
    model raises PlanError listing the missing names (buffers are never
    trainable, so naming one is allowed)."""
    frozen, policy = load_plan(plan_path)
    frozen_set = set(frozen)
    params = dict(model.named_parameters())
    known = set(params) | {n for n, _ in model.named_buffers()}
    missing = sorted(frozen_set - known)
    if missing and strict:
        shown = ", ".join(missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise PlanError(f"{plan_path}: the model lacks {len(missing)} "
                        f"name(s) the plan freezes: {shown}{more}")
    trainable = []
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen_set)
        if p.requires_grad:
            trainable.append(p)
    if policy == "freeze-stats":
        for mname, m in model.named_modules():
            if not isinstance(m, _NORM_TYPES):
                continue
            own = [p for p in m.parameters(recurse=False)]
            if all(not p.requires_grad for p in own):
                _keep_eval(m)
    return trainable
