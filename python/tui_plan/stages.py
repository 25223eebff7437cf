"""tui_plan.stages: staged plans and layer-wise learning rates
(docs/plan-format.md, "Stages and layer-wise lr"), as the C core reads
and resolves them (tui/core/plan_stages.c, stages_resolve.c,
layer_decay.c) and as `tui --headless` trains them
(tui/train/train_stages.c). The keys are read by stages_read.py.

On names, without torch:
    plan.stage_starts(steps_per_epoch)  each stage's first step
    plan.stage_at(step, steps_per_epoch) the stage a step is in
    plan.stage_sets(tensors, aliases)   each stage's frozen name set
    plan.lr_scales(tensors, aliases)    every parameter's layer id, lr
                                        scale and no_decay flag

On a live model, for a Python training loop:
    param_groups(model, plan, lr, weight_decay)  stage 0's param groups
    enter_stage(model, optimizer, plan, k)       at stage k's first step
    set_lr(optimizer, lr_at)                     every step, the schedule
"""

import functools
import math
from collections import namedtuple

from .errors import PlanError
from .pattern import _encode, compile_pattern
from .stages_read import LrRule, Stage  # noqa: F401 (re-exported)

__all__ = ["Stage", "LrRule", "LrInfo", "param_groups", "enter_stage",
           "set_lr"]


LrInfo = namedtuple("LrInfo", "layer lr_scale no_decay")
LrInfo.__doc__ = """A parameter's learning-rate facts, as `tui --summary
--json` prints them under lr.tensors: layer (the layer_decay id, -1
without layer_decay), lr_scale (the lr multiplier), no_decay (bool)."""

# ---------------------------------------------------------------------------
# Stage boundaries (train_stages_setup)


def stage_starts(plan, steps_per_epoch=None):
    """Each stage's first step (0-based), stage 0 first; [0] for an
    unstaged plan. A plan whose stages count in epochs needs
    steps_per_epoch (a positive int): PlanError without it. Lengths past
    the last stage are not needed and not read."""
    starts, at = [], 0
    for k, s in enumerate(plan.stages or (Stage(),)):
        starts.append(at)
        if k + 1 == len(plan.stages or (None,)):
            break
        if s.steps is not None:
            at += s.steps
        else:
            if steps_per_epoch is None:
                raise PlanError("%s: its stages count in epochs: give "
                                "steps_per_epoch to find their steps"
                                % plan.path)
            if type(steps_per_epoch) is not int or steps_per_epoch < 1:
                raise PlanError("%s: steps_per_epoch must be a positive "
                                "integer, not %r" % (plan.path,
                                                     steps_per_epoch))
            at += s.epochs * steps_per_epoch
    return starts


def stage_at(plan, step, steps_per_epoch=None):
    """The stage (0-based) that step `step` (0-based, as the trainer's
    step counter before the step runs) belongs to."""
    if type(step) is not int or step < 0:
        raise PlanError("%s: a step is a non-negative integer, not %r"
                        % (plan.path, step))
    starts = stage_starts(plan, steps_per_epoch)
    k = 0
    while k + 1 < len(starts) and step >= starts[k + 1]:
        k += 1
    return k

# ---------------------------------------------------------------------------
# Each stage's frozen set (stages_resolve.c)


def _where(plan, line, col):
    return "%s:%d:%d" % (plan.path, line, col)


def stage_sets(plan, tensors, aliases=None, allow_empty=False, strict=True,
               fingerprint=None):
    """Each stage's frozen parameter names, a list of frozensets (one for
    an unstaged plan). Stage 0 is resolve(plan, tensors, aliases,
    allow_empty, strict, fingerprint); each later stage applies its
    freeze patterns, then its unfreeze patterns, to the set before it (a
    tied parameter as one). Arguments as resolve's. Raises PlanError
    "PLAN:LINE:COL: ..." as the C core does: a stage rule that matches
    nothing (allow_empty does not apply to stages), a stage that changes
    nothing; and whatever resolve raises."""
    from .plan import _Names, resolve
    ns = _Names(tensors, aliases)
    first = resolve(plan, tensors, aliases, allow_empty, strict, fingerprint)
    sets = [{ns.unit[n] for n in first if n in ns.unit}]
    for k, st in enumerate(plan.stages[1:], 1):
        cur = set(sets[-1])
        for r in st.rules:
            hit = [ns.names[i] for i in compile_pattern(r.pattern)
                   .select(ns.names)]
            if not hit:
                raise PlanError("%s: stage %d: %s '%s' matches nothing in the "
                                "checkpoint" % (_where(plan, r.line, r.col), k,
                                                r.kind, r.pattern[:200]))
            units = {ns.unit[n] for n in hit if n in ns.unit}
            if r.kind == "freeze":
                cur |= units
            else:
                cur -= units
        if cur == sets[-1]:
            raise PlanError("%s: stage %d changes nothing: its rules leave the "
                            "frozen set of stage %d as it is"
                            % (_where(plan, st.line, st.col), k, k - 1))
        sets.append(cur)
    return [frozenset(ns.names_of(s)) for s in sets]

# ---------------------------------------------------------------------------
# Layer ids and lr scales (layer_decay.c)

_STEM = {b"conv1", b"bn1", b"maxpool", b"stem", b"patch_embed", b"pos_embed",
         b"cls_token", b"reg_token", b"embeddings", b"embed_tokens",
         b"word_embeddings", b"wte", b"wpe", b"tok_embeddings"}
_NORM = {b"norm", b"ln_f", b"norm_f", b"final_norm", b"final_layer_norm",
         b"ln_post"}
_DIGITS = b"0123456789"


def _all_digits(seg):
    return bool(seg) and all(c in _DIGITS for c in seg)


def _digit_segment_end(name):
    """The end of the first all-digit segment of name (bytes), or 0."""
    a = 0
    while a < len(name):
        b = name.find(b".", a)
        b = len(name) if b < 0 else b
        if _all_digits(name[a:b]):
            return b
        a = b + 1
    return 0


def _key_numbers(key):
    """Every run of digits in key, in order (the first 8; a run stops
    growing at 10^9, as in C)."""
    nums, i = [], 0
    while i < len(key) and len(nums) < 8:
        if key[i] not in _DIGITS:
            i += 1
            continue
        v = 0
        while i < len(key) and key[i] in _DIGITS:
            if v < 1000000000:
                v = v * 10 + key[i] - 48
            i += 1
        nums.append(v)
    return nums


def _is_stem(seg):
    return seg in _STEM or (len(seg) >= 5 and b"embed" in seg)


def _layers(params):
    """Layer ids for parameter names (str, in order) and their number,
    as find_layers does."""
    blocks = {}     # key -> (container, numbers, first index)
    kind, block_of, has_stem = {}, {}, False
    for i, n in enumerate(params):
        name = _encode(n)
        k = _digit_segment_end(name)
        if k:
            key = name[:k]
            if key not in blocks:
                # the container: before the digit segment's dot, with the
                # trailing digits of its last segment dropped
                c = max(name.rfind(b".", 0, k), 0)
                while c > 0 and name[c - 1] in _DIGITS:
                    c -= 1
                blocks[key] = (name[:c], _key_numbers(key), i)
            kind[n], block_of[n] = "block", key
            continue
        me = name.rfind(b".") + 1          # after the last dot, 0 if none
        module = name[:me - 1] if me else b""
        segs = module.split(b".") if module else []
        stem = any(_is_stem(s) for s in segs) if me else _is_stem(name)
        if stem:
            kind[n], has_stem = "stem", True
        elif me and segs[-1] in _NORM:
            kind[n] = "norm"
        else:
            kind[n] = "head"

    def cmp(a, b):
        (ca, na, _), (cb, nb_, _) = a[1], b[1]
        if ca != cb:
            return -1 if ca < cb else 1
        for x, y in zip(na, nb_):
            if x != y:
                return -1 if x < y else 1
        return (len(na) > len(nb_)) - (len(na) < len(nb_))

    order = sorted(blocks.items(), key=lambda kv: kv[1][2])
    ranked = sorted(order, key=functools.cmp_to_key(cmp))
    rank = {key: r for r, (key, _) in enumerate(ranked)}
    nb, base = len(blocks), 1 if has_stem else 0
    head = base + nb
    any_head = any(v == "head" or (v == "norm" and nb == 0)
                   for v in kind.values())
    ids = {}
    for n in params:
        v = kind[n]
        ids[n] = 0 if v == "stem" else base + rank[block_of[n]] \
            if v == "block" else (base + nb - 1 if nb else head) \
            if v == "norm" else head
    return ids, head + (1 if any_head else 0)


def lr_scales(plan, tensors, aliases=None):
    """Every parameter's LrInfo(layer, lr_scale, no_decay), a dict by name
    (each name of a tied parameter its own entry, as in C). lr_scale is
    layer_decay's factor^(L - 1 - layer) (1 without layer_decay; L the
    number of ids) times the scale of the last lr_scale: item whose
    pattern matches it (1 when none does); no_decay whether a no_decay:
    pattern names it. A pattern matches a tied parameter through any of
    its names. Raises PlanError "PLAN:LINE:COL: KEY pattern 'x' matches no
    parameter of the checkpoint" for an item that names no parameter."""
    from .plan import _Names
    ns = _Names(tensors, aliases)
    layer = {n: -1 for n in ns.params}
    scale = {n: 1.0 for n in ns.params}
    if plan.layer_decay is not None:
        ids, nlayers = _layers(ns.params)
        for n in ns.params:
            layer[n] = ids[n]
            scale[n] = math.pow(plan.layer_decay, float(nlayers - 1 - ids[n]))

    def match(rule, key):
        hit = [ns.names[i] for i in compile_pattern(rule.pattern)
               .select(ns.names)]
        names = ns.names_of({ns.unit[n] for n in hit if n in ns.unit})
        if not names:
            raise PlanError("%s: %s pattern '%s' matches no parameter of the "
                            "checkpoint" % (_where(plan, rule.line, rule.col),
                                            key, rule.pattern[:200]))
        return names

    last = {n: 1.0 for n in ns.params}
    for rule in plan.lr_scale:
        for n in match(rule, "lr_scale"):
            last[n] = rule.scale
    nodecay = set()
    for rule in plan.no_decay:
        nodecay |= match(rule, "no_decay")
    return {n: LrInfo(layer[n], scale[n] * last[n], n in nodecay)
            for n in ns.params}

# ---------------------------------------------------------------------------
# A live model and its optimizer (train_stages.c)


def _as_plan(plan):
    from .plan import Plan, load_plan
    return plan if isinstance(plan, Plan) else load_plan(plan)


def _named(model, view):
    """(plan name, parameter) in model.named_parameters() order, each
    parameter once, named as the plan sees it (the view's first name)."""
    first = {}
    for n, p in view.param.items():
        first.setdefault(id(p), n)
    return [(first.get(id(p), n), p) for n, p in model.named_parameters()]


def _runs(items, lrs, stage, base, weight_decay):
    """Param groups over (name, parameter) items in their order: one
    group per run of neighbours with the same lr scale and decay."""
    runs = []
    for name, p in items:
        info = lrs.get(name)
        key = (info.lr_scale if info else 1.0,
               p.dim() >= 2 and not (info and info.no_decay))
        if runs and runs[-1][0] == key:
            runs[-1][1].append(p)
        else:
            runs.append((key, [p]))
    return [{"params": ps, "lr": base * s,
             "weight_decay": weight_decay if decay else 0.0,
             "tui_stage": stage, "tui_lr": base, "tui_scale": s}
            for (s, decay), ps in runs]


def param_groups(model, plan, lr, weight_decay=0.0):
    """Stage 0's param groups, for the optimizer's constructor: the
    parameters that train now (call it after apply_plan), in
    model.named_parameters() order, each once, one group per run of
    neighbours with the same lr scale and weight decay. Each group has
    lr = lr x its scale, weight_decay (weight_decay for tensors of 2+ dims
    that no no_decay: pattern names, else 0.0), and the keys tui_stage
    (0), tui_lr (lr, the stage's lr before scaling) and tui_scale, which
    enter_stage and set_lr read. Raises PlanError for an lr_scale: or
    no_decay: pattern that names no parameter. The model is untouched."""
    from .apply import _model_view
    plan = _as_plan(plan)
    view = _model_view(model, plan)
    lrs = lr_scales(plan, view.kinds, view.aliases)
    return _runs([(n, p) for n, p in _named(model, view) if p.requires_grad],
                 lrs, 0, lr, weight_decay)


def _regroup(optimizer, p, tags):
    """Gives parameter p, already in optimizer, the group settings `tags`
    without moving it: its group is split around it when it has others."""
    groups = optimizer.param_groups
    for gi, g in enumerate(groups):
        for pos, q in enumerate(g["params"]):
            if q is p:
                break
        else:
            continue
        if len(g["params"]) == 1:
            g.update(tags)
            return
        parts = [dict(g, params=g["params"][:pos]),
                 dict(g, params=[p], **tags),
                 dict(g, params=g["params"][pos + 1:])]
        groups[gi:gi + 1] = [x for x in parts if x["params"]]
        return


def enter_stage(model, optimizer, plan, k, lr=None, weight_decay=None,
                strict=True, allow_empty=False):
    """Enters stage k (1 or more) of a staged plan at its first step, as
    `tui --headless` does; call it once for each stage, in order, before
    that step's forward (plan.stage_at says when). Returns (thawed,
    refrozen): the parameter names whose state changed.

    - Resolves the stage's frozen set on the model's names (the plan's
      own set, apply_plan's strict and allow_empty, then each stage's
      rules; plan.stage_sets) and sets requires_grad to match it,
      parameter by parameter in model.named_parameters() order; a
      parameter it freezes loses its .grad (its optimizer state stays).
    - The thawed parameters that are not in the optimizer join it as new
      param groups (optimizer.add_param_group: empty state), one group
      per run of neighbours with the same lr scale and weight decay:
      lr = the stage's lr: (else `lr`, else optimizer.defaults["lr"]) x
      the parameter's scale; weight_decay (else
      optimizer.defaults["weight_decay"]) on tensors of 2+ dims that no
      no_decay: pattern names, 0.0 on the others; keys tui_stage (k),
      tui_lr (the stage's lr) and tui_scale for set_lr. A parameter
      thawed again (frozen by an earlier stage) keeps its place and
      state and takes stage k's lr, its group split around it if need be.
    - Re-applies the plan's batchnorm policy (apply_plan's): a norm layer
      whose parameters train again follows the model's mode, one now all
      frozen is held in eval.

    Raises PlanError (nothing changed) as stage_sets and lr_scales do,
    or for a k that is not a stage after 0 of the plan."""
    from .apply import _model_view, _set_norm_policy
    plan = _as_plan(plan)
    if type(k) is not int or not 1 <= k < len(plan.stages):
        raise PlanError("%s: no stage %r to enter (%s)" % (
            plan.path, k, "the plan has no stages" if not plan.stages else
            "its stages after 0 are 1 to %d" % (len(plan.stages) - 1)))
    view = _model_view(model, plan)
    sets = stage_sets(plan, view.kinds, view.aliases, allow_empty, strict,
                      view.fingerprint)
    lrs = lr_scales(plan, view.kinds, view.aliases)
    frozen = {id(view.param[n]) for n in sets[k] if n in view.param}
    st = plan.stages[k]
    base = st.lr if st.lr is not None else \
        lr if lr is not None else optimizer.defaults["lr"]
    wd = weight_decay if weight_decay is not None else \
        optimizer.defaults.get("weight_decay", 0.0)
    inside = {id(q) for g in optimizer.param_groups for q in g["params"]}
    thawed, refrozen, new = [], [], []
    for name, p in _named(model, view):
        is_frozen = id(p) in frozen
        if not p.dtype.is_floating_point or p.requires_grad != is_frozen:
            continue
        p.requires_grad_(not is_frozen)
        if is_frozen:
            p.grad = None
            refrozen.append(name)
            continue
        thawed.append(name)
        if id(p) in inside:
            g, = _runs([(name, p)], lrs, k, base, wd)
            del g["params"]
            _regroup(optimizer, p, g)
        else:
            new.append((name, p))
    for g in _runs(new, lrs, k, base, wd):
        optimizer.add_param_group(g)
    _set_norm_policy(model, plan.batchnorm)
    return thawed, refrozen


def set_lr(optimizer, lr_at):
    """Sets the lr of every group param_groups or enter_stage made to
    lr_at(tui_lr) x tui_scale: lr_at maps a stage's lr to this step's
    (the schedule; `lambda base: base` for a constant lr). Call it every
    step, before optimizer.step(). Other groups are left as they are."""
    for g in optimizer.param_groups:
        if "tui_lr" in g:
            g["lr"] = lr_at(g["tui_lr"]) * g["tui_scale"]
