"""tui_plan: apply a tui freeze plan to a live PyTorch model.

For people who train in Python (torchrun, accelerate, DeepSpeed jobs): the
plan made with `tui` freezes exactly what the editor and `tui --headless`
freeze.

    import tui_plan
    params = tui_plan.apply_plan(model, "plan.yaml")
    optimizer = torch.optim.AdamW(params, lr=3e-4)

A plan has one meaning (docs/plan-format.md, "What a plan means"), decided
here as in the C core (tui/core/plan_resolve.c):

1. Its `frozen:` list is the state when its fingerprint equals the model's
   (sha256 of the sorted name/dtype/shape lines of `model.state_dict()`),
   or when it has no fingerprint and no rules (a hand-written list).
2. Otherwise its `rules:` are resolved on the model's names, in order, from
   "everything trainable"; a rule that matches nothing is an error unless
   allow_empty=True.
3. Otherwise (a list only, made for another model) the list cannot say
   what to do with names it never saw: an error when strict, applied with
   a warning when not.

The pattern language (docs/patterns.md) is the C core's, in pure Python:
globs with `*`, `**`, `?`, classes, `{a,b}` alternatives, numeric ranges
`{0..5}`, the subtree rule, and `re:` POSIX extended regexes translated
to Python's `re` (docs/python.md lists the limits). `compile_pattern`
and `resolve` work on name lists without a model or torch.

Tied parameters (one Parameter under several names) are one parameter:
naming any alias freezes it. Wrapper prefixes (`module.`, `_orig_mod.`,
`_fsdp_wrapped_module.`) are stripped, with a warning, when the plan only
matches the model's names without them. The `batchnorm: freeze-stats`
policy keeps fully frozen norm layers in eval mode through a forward
pre-hook, so the model still pickles, saves and deep-copies.

Staged plans (stages:, lr_scale:, layer_decay:, no_decay:) train in a
Python loop as `tui --headless` trains them (tui_plan.stages):

    plan = tui_plan.load_plan("plan.yaml")
    tui_plan.apply_plan(model, plan.path)                 # stage 0
    opt = torch.optim.AdamW(tui_plan.param_groups(model, plan, 1e-3, 0.01),
                            lr=1e-3, weight_decay=0.01)
    stage = 0
    for step, batch in enumerate(loader):
        while stage < plan.stage_at(step):
            stage += 1
            tui_plan.enter_stage(model, opt, plan, stage)  # thaw, new groups
        tui_plan.set_lr(opt, lambda base: base)            # the schedule
        ...

Needs PyYAML (Debian: python3-yaml); apply_plan also needs torch.
"""

from .apply import apply_plan
from .errors import PatternError, PlanError, PlanWarning
from .pattern import Pattern, compile_pattern
from .plan import Plan, Rule, fingerprint, load_plan, resolve
from .stages import (LrInfo, LrRule, Stage, enter_stage, param_groups,
                     set_lr)

__all__ = ["PlanError", "PatternError", "PlanWarning", "Pattern", "Rule",
           "Plan", "compile_pattern", "load_plan", "fingerprint", "resolve",
           "apply_plan", "Stage", "LrRule", "LrInfo", "param_groups",
           "enter_stage", "set_lr"]
