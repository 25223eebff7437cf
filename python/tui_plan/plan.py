"""tui_plan.plan: reading a plan (tui/core/plan.c) and what it means on a
list of names (tui/core/plan_resolve.c)."""

import hashlib
import re
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

import yaml

from .errors import PatternError, PlanError, PlanWarning, _warn
from .pattern import _encode, compile_pattern

__all__ = ["Rule", "Plan", "load_plan", "fingerprint", "resolve"]

# ---------------------------------------------------------------------------
# Plans (docs/plan-format.md; the reader is tui/core/plan.c)

_TOP_KEYS = ("version", "model", "rules", "frozen", "estimate", "batchnorm",
             "train", "stages", "lr_scale", "layer_decay", "no_decay")
_MODEL_KEYS = ("path", "format", "fingerprint", "tensors", "parameters")
_POLICIES = ("freeze-stats", "train")
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}\Z")


class _PlanLoader(yaml.SafeLoader):
    """YAML as tui's reader types it: a plain scalar is a string, except
    plain decimal digits (an integer) and true/false (a boolean). No YAML
    1.1 timestamps, sexagesimals, nulls or merge keys, so a tensor name
    reads back as the name tui wrote."""
    yaml_implicit_resolvers = {}


_PlanLoader.add_implicit_resolver("tag:yaml.org,2002:bool",
                                  re.compile(r"^(?:true|false)$"), list("tf"))
_PlanLoader.add_implicit_resolver("tag:yaml.org,2002:int",
                                  re.compile(r"^[0-9]+$"), list("0123456789"))


@dataclass(frozen=True)
class Rule:
    """One rule: kind is "freeze", "unfreeze" or "invert" (pattern None);
    line and col say where the plan file has it (0 when made in code)."""
    kind: str
    pattern: Optional[str] = None
    line: int = 0
    col: int = 0

    def describe(self):
        return "invert" if self.kind == "invert" else \
            "%s: %s" % (self.kind, self.pattern)


@dataclass(frozen=True)
class Plan:
    """What apply_plan and resolve read from a plan file. frozen is None
    when the plan has no frozen: list; fingerprint None when it has none
    (a hand-written plan). stages (stages.Stage, empty when unstaged),
    lr_scale and no_decay (stages.LrRule) and layer_decay (the factor, or
    None) are the staged-training keys (tui_plan.stages)."""
    path: str
    model_path: str
    fingerprint: Optional[str] = None
    rules: Tuple[Rule, ...] = ()
    frozen: Optional[Tuple[str, ...]] = None
    batchnorm: str = "freeze-stats"
    stages: tuple = ()
    lr_scale: tuple = ()
    layer_decay: Optional[float] = None
    no_decay: tuple = ()

    def where(self, rule):
        return "%s:%d:%d" % (self.path, rule.line, rule.col) if rule.line \
            else self.path

    def stage_starts(self, steps_per_epoch=None):
        """Each stage's first step: stages.stage_starts."""
        from . import stages
        return stages.stage_starts(self, steps_per_epoch)

    def stage_at(self, step, steps_per_epoch=None):
        """The stage of a 0-based step: stages.stage_at."""
        from . import stages
        return stages.stage_at(self, step, steps_per_epoch)

    def stage_sets(self, tensors, aliases=None, allow_empty=False,
                   strict=True, fingerprint=None):
        """Each stage's frozen names on a tensor list: stages.stage_sets."""
        from . import stages
        return stages.stage_sets(self, tensors, aliases, allow_empty, strict,
                                 fingerprint)

    def lr_scales(self, tensors, aliases=None):
        """Every parameter's layer id, lr scale and no_decay flag:
        stages.lr_scales."""
        from . import stages
        return stages.lr_scales(self, tensors, aliases)


def _check_keys(path, what, value, allowed):
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise PlanError("%s: unknown key '%s'%s (expected one of: %s)"
                        % (path, unknown[0], what, ", ".join(allowed)))


def _plain_str(path, value, what):
    if not isinstance(value, str):
        raise PlanError("%s: expected a string for %s, found %r"
                        % (path, what, value))
    if "\0" in value:
        raise PlanError("%s: a NUL character in %s" % (path, what))
    return value


def _node_marks(root, key):
    """(line, col) of each item of the sequence under `key` of a composed
    YAML mapping, 1-based; empty when there is none."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for k, v in root.value:
        if getattr(k, "value", None) == key and \
                isinstance(v, yaml.SequenceNode):
            return [(it.start_mark.line + 1, it.start_mark.column + 1)
                    for it in v.value]
    return []


def _check_duplicates(path, node):
    """Duplicate keys anywhere in a composed YAML document are errors, as
    in tui's reader (PyYAML would keep the last one)."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for k, v in node.value:
            key = getattr(k, "value", None)
            if key in seen:
                raise PlanError("%s:%d:%d: duplicate key '%s'"
                                % (path, k.start_mark.line + 1,
                                   k.start_mark.column + 1, key))
            seen.add(key)
            _check_duplicates(path, v)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_duplicates(path, v)


def _read_rules(path, raw, marks):
    if not isinstance(raw, list):
        raise PlanError("%s: expected a list for 'rules'" % path)
    rules = []
    for k, item in enumerate(raw):
        line, col = marks[k] if k < len(marks) else (0, 0)
        at = "%s:%d:%d" % (path, line, col) if line else path
        if not isinstance(item, dict) or len(item) != 1:
            raise PlanError("%s: expected a one-key mapping for a rule "
                            "('- freeze: PATTERN', '- unfreeze: PATTERN' "
                            "or '- invert: true')" % at)
        (kind, value), = item.items()
        if kind == "invert":
            if value is not True:
                raise PlanError("%s: write 'invert: true' or drop the rule"
                                % at)
            rules.append(Rule("invert", None, line, col))
        elif kind in ("freeze", "unfreeze"):
            pattern = _plain_str(at, value, "'%s'" % kind)
            if not pattern:
                raise PlanError("%s: empty pattern for '%s'" % (at, kind))
            rules.append(Rule(kind, pattern, line, col))
        else:
            raise PlanError("%s: unknown rule '%s' (expected one of: "
                            "freeze, unfreeze, invert)" % (at, kind))
    return tuple(rules)


def load_plan(path):
    """Reads a version 1 plan file; returns a Plan. Raises PlanError
    naming the file (and the line of a bad rule) when it is not one: as
    in tui, an unknown or duplicate key, a value of the wrong type, a bad
    rule or fingerprint is an error, and so is a bad stages:, lr_scale:,
    layer_decay: or no_decay: ("PATH:LINE:COL: ..." as tui says it). The
    estimate: and train: sections are not read (but train.max_steps and
    train.epochs bound the stages, as in tui)."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise PlanError("%s: %s" % (path, e.strerror)) from None
    loader = _PlanLoader(text)
    try:
        root = loader.get_single_node()
        _check_duplicates(path, root)
        doc = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as e:
        raise PlanError("%s: not a YAML plan: %s" % (path, e)) from None
    finally:
        loader.dispose()
    if not isinstance(doc, dict):
        raise PlanError("%s: not a tui plan (expected a mapping that starts "
                        "with 'version: 1')" % path)
    version = doc.get("version")
    if type(version) is not int or version != 1:
        raise PlanError("%s: plan version %r is not supported (this reads "
                        "version 1)" % (path, version))
    _check_keys(path, "", doc, _TOP_KEYS)
    model = doc.get("model")
    if not isinstance(model, dict) or "path" not in model:
        raise PlanError("%s: missing required key 'path' in 'model'" % path)
    _check_keys(path, " in 'model'", model, _MODEL_KEYS)
    fp = model.get("fingerprint")
    if fp is not None and not (isinstance(fp, str) and _FINGERPRINT.match(fp)):
        raise PlanError("%s: expected 'sha256:' and 64 lower-case hex digits "
                        "for 'fingerprint'" % path)
    if "rules" not in doc and "frozen" not in doc:
        raise PlanError("%s: a plan needs 'rules' or 'frozen' (or both)"
                        % path)
    rules = ()
    if "rules" in doc:
        rules = _read_rules(path, doc["rules"], _node_marks(root, "rules"))
    frozen = None
    if "frozen" in doc:
        if not isinstance(doc["frozen"], list):
            raise PlanError("%s: expected a list for 'frozen'" % path)
        frozen = tuple(_plain_str(path, n, "a frozen name")
                       for n in doc["frozen"])
    policy = doc.get("batchnorm", "freeze-stats")
    if policy not in _POLICIES:
        raise PlanError("%s: batchnorm must be freeze-stats or train, not %r"
                        % (path, policy))
    from .stages_read import read_stage_keys
    return Plan(path, _plain_str(path, model["path"], "'path'"), fp, rules,
                frozen, policy, **read_stage_keys(path, root))


# ---------------------------------------------------------------------------
# What a plan means on a list of names (tui/core/plan_resolve.c)

def fingerprint(tensors):
    """The plan fingerprint of the model tensors (parameters and buffers),
    given as (name, dtype, shape) triples with safetensors dtype names
    ("F32", "BF16", "I64", ...): "sha256:" and 64 hex digits."""
    lines = sorted((_encode(n), "%s\t%s" % (dt, ",".join(map(str, shape))))
                   for n, dt, shape in tensors)
    h = hashlib.sha256()
    for name, rest in lines:
        h.update(name + b"\t" + rest.encode() + b"\n")
    return "sha256:" + h.hexdigest()


def _some(names, k=10):
    names = list(names)
    shown = ", ".join(names[:k])
    return shown + (" and %d more" % (len(names) - k) if len(names) > k
                    else "")


_WRAPPERS = ("module", "_orig_mod", "_fsdp_wrapped_module")


def _strip_wrappers(name):
    """The name without wrapper segments: leading `module.` and
    `_orig_mod.` (DistributedDataParallel, DataParallel, torch.compile),
    and `_orig_mod.` or `_fsdp_wrapped_module.` anywhere before the last
    segment (a compiled submodule, FSDP)."""
    segs = name.split(".")
    i = 0
    while i < len(segs) - 1 and segs[i] in ("module", "_orig_mod"):
        i += 1
    kept = [s for s in segs[i:-1]
            if s not in ("_orig_mod", "_fsdp_wrapped_module")]
    return ".".join(kept + segs[-1:])


def _wrapper_hint(names, known):
    """A sentence for plan names that carry wrapper prefixes the model's
    names lack, or ""."""
    hits = [n for n in names if _strip_wrappers(n) != n
            and _strip_wrappers(n) in known]
    if not hits:
        return ""
    return (" The plan's names carry wrapper prefixes (%s): it was made on "
            "a checkpoint saved from a wrapped model (DDP, torch.compile, "
            "FSDP); apply it to the wrapped model, or make it again with "
            "tui on the unwrapped state_dict." % hits[0])


class _Names:
    """The model tensors resolve() works on: names in order, kinds, and
    the tie groups (each parameter name -> the index of its group)."""

    def __init__(self, tensors, aliases):
        items = tensors.items() if isinstance(tensors, dict) else tensors
        self.kind = {}
        for item in items:
            name, kind = item[0], item[1]
            if kind in ("parameter", "buffer"):
                self.kind[name] = kind
        self.names = list(self.kind)
        self.params = [n for n in self.names if self.kind[n] == "parameter"]
        self.unit = {n: k for k, n in enumerate(self.params)}
        self.members = {k: [n] for k, n in enumerate(self.params)}
        for group in aliases or ():
            group = [n for n in group if n in self.unit]
            if len(group) < 2:
                continue
            into = self.unit[group[0]]
            for n in group[1:]:
                old = self.unit[n]
                if old == into:
                    continue
                for m in self.members.pop(old):
                    self.unit[m] = into
                    self.members[into].append(m)

    def names_of(self, units):
        return {n for u in units for n in self.members[u]}


def _from_list(plan, ns, strict):
    """The units the frozen list names; raises (strict) or warns about
    names the model lacks."""
    missing = [n for n in plan.frozen if n not in ns.kind]
    if missing:
        msg = ("%s: the model lacks %d name(s) the plan freezes: %s."
               % (plan.path, len(missing), _some(missing)))
        hint = _wrapper_hint(missing, ns.kind)
        if strict:
            raise PlanError(msg + (hint or " Make the plan again with tui on "
                                   "this model's checkpoint, or pass "
                                   "strict=False to apply the names it "
                                   "has."))
        _warn(msg + " Applied the names it has." + hint)
    return {ns.unit[n] for n in plan.frozen if n in ns.unit}


def _from_rules(plan, ns, allow_empty):
    """The units the rules freeze, resolved in order from everything
    trainable."""
    frozen = set()
    for rule in plan.rules:
        if rule.kind == "invert":
            frozen = set(ns.members) - frozen
            continue
        try:
            pattern = compile_pattern(rule.pattern)
        except PatternError as e:
            raise PlanError("%s: pattern '%s': %s"
                            % (plan.where(rule), rule.pattern, e)) from None
        hit = [ns.names[i] for i in pattern.select(ns.names)]
        if not hit:
            msg = ("%s: rule '%s' matches nothing in this model"
                   % (plan.where(rule), rule.describe()))
            if not allow_empty:
                hint = ""
                if any(w + "." in rule.pattern for w in _WRAPPERS):
                    hint = (" (its pattern names a wrapper prefix: apply "
                            "the plan to the wrapped model)")
                raise PlanError(msg + hint + "; fix or drop the rule, or "
                                "pass allow_empty=True")
            _warn(msg)
        units = {ns.unit[n] for n in hit if n in ns.unit}
        if rule.kind == "freeze":
            frozen |= units
        else:
            frozen -= units
    return frozen


def _warn_changes(plan, ns, listed, ruled, head):
    """Warns about the parameters on which two frozen sets (units)
    differ."""
    changed = ns.names_of(listed ^ ruled)
    if changed:
        _warn("%s: %s: %s" % (plan.path, head,
                              _some(n for n in ns.params if n in changed)))


def resolve(plan, tensors, aliases=None, allow_empty=False, strict=True,
            fingerprint=None):
    """The parameter names a plan freezes on a list of model tensors, as a
    set (every name of a tied parameter included).

    plan: a Plan (load_plan) or a plan file's path. tensors: (name, kind)
    pairs or a {name: kind} mapping, kind "parameter" or "buffer" (other
    kinds are left out). aliases: groups of parameter names that are one
    parameter (tied weights). fingerprint: the model's (fingerprint());
    None when unknown, which never equals the plan's.

    Raises PlanError when the plan cannot be applied: a pattern that does
    not compile, a rule that matches nothing (unless allow_empty), names
    of a frozen list that the model lacks (strict; buffers are accepted),
    a frozen list made for another model with no rules to say what to do
    with the names it never saw (strict). Otherwise issues PlanWarning for
    what it did in strict's stead."""
    if not isinstance(plan, Plan):
        plan = load_plan(plan)
    ns = _Names(tensors, aliases)
    has_rules = bool(plan.rules)
    same = plan.fingerprint is not None and plan.fingerprint == fingerprint
    if plan.frozen is not None and (same or (plan.fingerprint is None
                                             and not has_rules)):
        frozen = _from_list(plan, ns, strict)
        if has_rules:  # the list is used: tell when edited rules disagree
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PlanWarning)
                try:
                    ruled = _from_rules(plan, ns, True)
                except PlanError:
                    ruled = frozen
            _warn_changes(plan, ns, frozen, ruled, "its rules give another "
                          "frozen set than its frozen list, which is used "
                          "(delete the frozen: list to use the rules); "
                          "names that differ")
    elif has_rules or plan.frozen is None:
        frozen = _from_rules(plan, ns, allow_empty)
        if plan.frozen is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PlanWarning)
                listed = _from_list(plan, ns, False)
            why = ("it has no fingerprint" if plan.fingerprint is None
                   else "it was made for another model: the fingerprint "
                   "differs")
            _warn_changes(plan, ns, listed, frozen, "its rules were resolved "
                          "on this model (%s) and give another frozen set "
                          "than its frozen list (the rules win); names that "
                          "differ" % why)
    else:
        theirs = "this model's fingerprint is unknown" if fingerprint is None \
            else "this model's is %s" % fingerprint
        msg = ("%s: the plan was made for another model (its fingerprint is "
               "%s, %s) and has no rules, so it cannot say whether this "
               "model's other parameters should train"
               % (plan.path, plan.fingerprint, theirs))
        if strict:
            raise PlanError(msg + ". Make the plan again with tui on this "
                            "model's checkpoint, add rules: to it, or pass "
                            "strict=False to apply its frozen list as is.")
        _warn(msg + "; applied its frozen list as is.")
        frozen = _from_list(plan, ns, False)
    return ns.names_of(frozen)
