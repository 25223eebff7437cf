"""tui_plan.apply: apply_plan on a live PyTorch model."""

from .errors import PatternError, _warn
from .pattern import compile_pattern
from .plan import _strip_wrappers, fingerprint, load_plan, resolve

# ---------------------------------------------------------------------------
# A live model

_DTYPES = {
    "float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16",
    "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
    "uint8": "U8", "bool": "BOOL", "complex64": "C64", "complex128": "C128",
    "complex32": "C32", "float8_e5m2": "F8_E5M2", "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2fnuz": "F8_E5M2FNUZ", "float8_e4m3fnuz": "F8_E4M3FNUZ",
    "float8_e8m0fnu": "F8_E8M0", "uint16": "U16", "uint32": "U32",
    "uint64": "U64",
}


class _ModelNames:
    """A model's tensors as the plan sees them: every parameter name (a
    tied parameter under each of its names, walking the modules with
    duplicates), every buffer, the tie groups, and the fingerprint of
    model.state_dict(). rename maps each name (wrapper stripping)."""

    def __init__(self, model, rename=None):
        rename = rename or (lambda n: n)
        self.param = {}   # name -> Parameter
        kinds = {}
        for mname, m in model.named_modules(remove_duplicate=False):
            pre = mname + "." if mname else ""
            for k, p in m._parameters.items():
                if p is not None:
                    self.param[rename(pre + k)] = p
                    kinds[rename(pre + k)] = "parameter"
            for k, b in m._buffers.items():
                if b is not None:
                    kinds.setdefault(rename(pre + k), "buffer")
        self.kinds = kinds
        self.fingerprint = fingerprint(
            (rename(k), _DTYPES.get(str(v.dtype)[len("torch."):], "?"),
             tuple(v.shape))
            for k, v in model.state_dict().items() if hasattr(v, "dtype"))
        groups = {}
        for n, p in self.param.items():
            groups.setdefault(id(p), []).append(n)
        self.aliases = [g for g in groups.values() if len(g) > 1]


def _fit(plan, names):
    """How well the plan's names fit a name view: (fingerprint equal,
    rules that match something, frozen names found)."""
    listed = sum(1 for n in plan.frozen or () if n in names.kinds)
    matching = 0
    for rule in plan.rules:
        if rule.kind == "invert":
            continue
        try:
            if compile_pattern(rule.pattern).select(list(names.kinds)):
                matching += 1
        except PatternError:
            pass
    return (plan.fingerprint == names.fingerprint, matching, listed)


def _model_view(model, plan):
    """The model's names, stripped of wrapper prefixes (with a warning)
    when the plan only fits them that way."""
    raw = _ModelNames(model)
    if all(_strip_wrappers(n) == n for n in raw.kinds):
        return raw
    stripped = _ModelNames(model, _strip_wrappers)
    if len(stripped.kinds) != len(raw.kinds) or \
            _fit(plan, stripped) <= _fit(plan, raw):
        return raw
    wrapped = next(n for n in raw.kinds if _strip_wrappers(n) != n)
    _warn("%s: the model's names carry wrapper prefixes (%s) that the "
          "plan's names lack: matched the plan against the names without "
          "them. Apply the plan to the unwrapped model (model.module, "
          "model._orig_mod) to silence this." % (plan.path, wrapped))
    return stripped


_HOLD = "_tui_plan_hold_eval"


def _hold_eval(module, args):
    """Forward pre-hook of a norm layer the plan keeps in eval mode
    (batchnorm: freeze-stats): whatever train() did, it runs in eval."""
    if module.training and getattr(module, _HOLD, False):
        module.train(False)


def _keeps_stats(module):
    """The trainer's rule (tui/train/train_model.c find_frozen_norms): a
    module with a running_mean buffer and at least one parameter of its
    own, all of them frozen."""
    own = [p for _, p in module.named_parameters(recurse=False)]
    return ("running_mean" in dict(module.named_buffers(recurse=False))
            and bool(own) and not any(p.requires_grad for p in own))


def _set_norm_policy(model, policy):
    """Replaces any earlier plan's policy: modules it held follow the
    model's mode again; with freeze-stats, the modules the trainer would
    keep in eval are put in eval now and held there by _hold_eval (a
    TorchScript submodule takes no hook: it is put in eval only, until
    the next model.train())."""
    for m in model.modules():
        hooks = m._forward_pre_hooks
        for key in [k for k, h in hooks.items() if h is _hold_eval]:
            del hooks[key]
        if m.__dict__.pop(_HOLD, False):
            m.train(model.training)
    if policy != "freeze-stats":
        return
    for m in model.modules():
        if _keeps_stats(m):
            setattr(m, _HOLD, True)
            try:
                m.register_forward_pre_hook(_hold_eval)
            except RuntimeError:  # a ScriptModule: no Python hooks
                pass
            m.eval()


def apply_plan(model, plan_path, strict=True, allow_empty=False):
    """Applies the plan at plan_path to model (a torch.nn.Module); returns
    the parameters to optimize: the trainable ones, in
    model.named_parameters() order, each once.

    Sets requires_grad on every parameter (frozen False, the rest True) by
    the plan's one meaning (see resolve and docs/python.md), and applies
    its batchnorm policy, replacing any earlier plan's. Nothing is changed
    when it raises PlanError: strict=True refuses a plan whose frozen list
    names what the model lacks or was made for another model without
    rules; allow_empty=True lets a rule match nothing."""
    plan = load_plan(plan_path)
    view = _model_view(model, plan)
    frozen = resolve(plan, view.kinds, view.aliases, allow_empty, strict,
                     view.fingerprint)
    frozen_ids = {id(view.param[n]) for n in frozen if n in view.param}
    for p in view.param.values():
        p.requires_grad_(id(p) not in frozen_ids)
    _set_norm_policy(model, plan.batchnorm)
    return [p for _, p in model.named_parameters() if p.requires_grad]
