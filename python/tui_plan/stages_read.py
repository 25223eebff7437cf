"""tui_plan.stages_read: a plan's stages:, lr_scale:, layer_decay: and
no_decay: keys read and checked as the C reader does
(tui/core/plan_stages.c), on the composed YAML nodes so that positions
and plain-versus-quoted scalars are known as the C reader knows them.
load_plan calls read_stage_keys; tui_plan.stages resolves what it reads."""

import math
from dataclasses import dataclass
from typing import Optional

import yaml

from .errors import PatternError, PlanError
from .pattern import _encode, compile_pattern

__all__ = ["Stage", "LrRule", "read_stage_keys"]

MAX_STAGES = 1024            # PLAN_MAX_STAGES
_U64_UNSET = 2 ** 64 - 1     # PLAN_UNSET: not a length


@dataclass(frozen=True)
class Stage:
    """One stage: rules (freeze rules first, then unfreeze rules, each a
    plan.Rule, in file order), its length (steps or epochs, at most one;
    both None for a last stage that runs to the end), lr (None: the run's
    lr) and where the plan file has it."""
    rules: tuple = ()
    steps: Optional[int] = None
    epochs: Optional[int] = None
    lr: Optional[float] = None
    line: int = 0
    col: int = 0


@dataclass(frozen=True)
class LrRule:
    """An `lr_scale:` item (scale a float) or a `no_decay:` pattern
    (scale None), and where the plan file has it."""
    pattern: str
    scale: Optional[float] = None
    line: int = 0
    col: int = 0


class _Doc:
    def __init__(self, path):
        self.path = path

    def error(self, node, msg):
        if node is None:
            return PlanError("%s: %s" % (self.path, msg))
        return PlanError("%s:%d:%d: %s" % (self.path, node.start_mark.line + 1,
                                           node.start_mark.column + 1, msg))


def _get(node, key):
    """The value node under `key` of a mapping node, or None."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _plain(node):
    return isinstance(node, yaml.ScalarNode) and node.style is None


def _shown(node):
    """The value as the C messages quote it ('%.40s')."""
    if not isinstance(node, yaml.ScalarNode):
        return "(a collection)"
    return _encode(node.value)[:40].decode("utf-8", "replace")


def _u64(node):
    """ynode_u64: a plain scalar of digits (a leading '+' allowed) that
    fits 64 bits, else None."""
    if not _plain(node):
        return None
    s = node.value[1:] if node.value.startswith("+") else node.value
    if not s or any(c not in "0123456789" for c in s):
        return None
    v = int(s)
    return v if v < 2 ** 64 else None


def _float_syntax(s):
    """[-+]?(digits[.digits?]|.digits)([eE][-+]?digits)? (ynode.c)."""
    i, n, digits = 0, len(s), 0
    if i < n and s[i] in "+-":
        i += 1
    while i < n and s[i] in "0123456789":
        i, digits = i + 1, digits + 1
    if i < n and s[i] == ".":
        i += 1
        while i < n and s[i] in "0123456789":
            i, digits = i + 1, digits + 1
    if not digits:
        return False
    if i < n and s[i] in "eE":
        i += 1
        if i < n and s[i] in "+-":
            i += 1
        if not (i < n and s[i] in "0123456789"):
            return False
        while i < n and s[i] in "0123456789":
            i += 1
    return i == n


def _double(node):
    """ynode_double: a plain scalar in the float syntax, as strtod reads
    it, else None (a value past the double range is infinite)."""
    if not _plain(node) or not _float_syntax(node.value):
        return None
    return float(node.value)


def _distance(a, b):
    """suggest_distance (suggest.c): optimal string alignment, ASCII
    letters compared without case."""
    a, b = _encode(a).lower(), _encode(b).lower()
    if len(a) > 255 or len(b) > 255:
        return None
    pp, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1,
                         prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and \
                    a[i - 2] == b[j - 1] and pp[j - 2] + 1 < cur[j]:
                cur[j] = pp[j - 2] + 1
        pp, prev = prev, cur
    return prev[-1]


def _check_keys(d, node, allowed):
    """ynode_check_keys: an unknown key is an error, with the closest
    allowed key when one is near."""
    for k, _ in node.value:
        key = getattr(k, "value", "")
        if key in allowed:
            continue
        limit, best, dist = min(max(len(_encode(key)) // 3, 1), 3), None, 0
        for cand in allowed:
            n = _distance(key, cand)
            if n is not None and n <= limit and (best is None or n < dist):
                best, dist = cand, n
        raise d.error(k, "unknown key '%s'%s (expected one of: %s)"
                      % (key, "; did you mean '%s'?" % best if best else "",
                         ", ".join(allowed)))


def _pattern(d, node, what):
    """read_pattern and pattern_ok: a non-empty scalar that compiles."""
    if not isinstance(node, yaml.ScalarNode):
        raise d.error(node, "expected a pattern (a string) for '%s'" % what)
    if not node.value:
        raise d.error(node, "empty pattern for '%s'" % what)
    try:
        compile_pattern(node.value)
    except PatternError as e:
        raise d.error(node, "pattern '%s': %s" % (node.value[:200], e)) \
            from None
    return node.value


def _items(node):
    return node.value if isinstance(node, yaml.SequenceNode) else [node]


def _mark(node):
    return node.start_mark.line + 1, node.start_mark.column + 1


def _positive(d, node, what):
    v = _double(node)
    if v is None or not (math.isfinite(v) and v > 0):
        raise d.error(node, "%s must be a finite number > 0, not '%s'"
                      % (what, _shown(node)))
    return v


def _read_stage(d, m, si):
    from .plan import Rule
    if not isinstance(m, yaml.MappingNode):
        raise d.error(m, "expected a mapping for stage %d (keys freeze, "
                      "unfreeze, steps or epochs, lr)" % si)
    _check_keys(d, m, ("freeze", "unfreeze", "steps", "epochs", "lr"))
    rules = []
    for kind in ("freeze", "unfreeze"):
        v = _get(m, kind)
        if v is None:
            continue
        if isinstance(v, yaml.SequenceNode) and not v.value:
            raise d.error(v, "empty list for '%s' (leave the key out "
                          "instead)" % kind)
        for it in _items(v):
            rules.append(Rule(kind, _pattern(d, it, kind), *_mark(it)))
    length = {}
    for key in ("steps", "epochs"):
        v = _get(m, key)
        if v is None:
            continue
        n = _u64(v)
        if n is None or n == 0 or n == _U64_UNSET:
            raise d.error(v, "'%s' must be a positive integer, not '%s'"
                          % (key, _shown(v)))
        length[key] = n
    lr_node = _get(m, "lr")
    lr = _positive(d, lr_node, "a stage's 'lr'") if lr_node is not None \
        else None
    if len(length) == 2:
        raise d.error(_get(m, "epochs"), "stage %d has both 'steps' and "
                      "'epochs' (give one)" % si)
    if si == 0 and (rules or lr_node is not None):
        raise d.error(m, "stage 0 is the plan's own frozen set: it takes no "
                      "freeze, unfreeze or lr (only its length)")
    if si > 0 and not rules:
        raise d.error(m, "stage %d changes nothing (give it 'freeze:' or "
                      "'unfreeze:' rules)" % si)
    return Stage(tuple(rules), length.get("steps"), length.get("epochs"), lr,
                 *_mark(m))


def _run_end(root):
    """train.max_steps and train.epochs when the plan has a train:
    section (each None when absent), or None without one."""
    tr = _get(root, "train")
    if tr is None:
        return None
    return tuple(_u64(_get(tr, k)) if _get(tr, k) is not None else None
                 for k in ("max_steps", "epochs"))


def _check_lengths(d, seq, stages, end):
    """One unit, only the last stage without a length, and every stage
    inside the run when train.max_steps / train.epochs say where it ends."""
    epochs, start = -1, 0
    for i, s in enumerate(stages):
        m = seq.value[i]
        length = s.steps if s.steps is not None else s.epochs
        e = int(s.epochs is not None)
        if length is None:
            if i + 1 < len(stages):
                raise d.error(m, "stage %d needs 'steps:' or 'epochs:' (only "
                              "the last stage may run to the end)" % i)
            break
        if epochs >= 0 and e != epochs:
            raise d.error(m, "stage %d counts in %s but stage 0 in %s (all "
                          "stages use one unit)"
                          % (i, "epochs" if e else "steps",
                             "epochs" if epochs else "steps"))
        epochs = e
        stop = end[1 if e else 0] if end is not None else None
        if length > _U64_UNSET - 1 - start:
            raise d.error(m, "stage %d ends past 2^64 %s"
                          % (i, "epochs" if e else "steps"))
        if stop is not None and (start >= stop or start + length > stop):
            raise d.error(m, "stage %d %s at %s %d, past the run's end "
                          "(train.%s: %d)"
                          % (i, "starts" if start >= stop else "ends",
                             "epoch" if e else "step",
                             start if start >= stop else start + length,
                             "epochs" if e else "max_steps", stop))
        start += length
    last = stages[-1]
    if last.steps is None and last.epochs is None and end is not None:
        stop = end[1 if epochs else 0]
        if stop is not None and start >= stop:
            raise d.error(seq.value[-1], "stage %d starts at %s %d, past the "
                          "run's end (train.%s: %d)"
                          % (len(stages) - 1, "epoch" if epochs else "step",
                             start, "epochs" if epochs else "max_steps",
                             stop))


def read_stage_keys(path, root):
    """The plan's stages:, lr_scale:, layer_decay: and no_decay: from its
    composed YAML root node, as a dict of Plan fields. Raises PlanError
    "PATH:LINE:COL: ..." as the C reader does (plan_read_stages)."""
    d = _Doc(path)
    out = {}
    seq = _get(root, "stages")
    if seq is not None:
        if not isinstance(seq, yaml.SequenceNode):
            raise d.error(seq, "expected a list of stages for 'stages'")
        if len(seq.value) < 2:
            raise d.error(seq, "'stages' needs at least two stages (stage 0 "
                          "is the plan's own frozen set; leave the key out "
                          "for an unstaged plan)")
        if len(seq.value) > MAX_STAGES:
            raise d.error(seq, "more than %d stages" % MAX_STAGES)
        stages = tuple(_read_stage(d, m, i) for i, m in enumerate(seq.value))
        _check_lengths(d, seq, stages, _run_end(root))
        out["stages"] = stages
    s = _get(root, "lr_scale")
    if s is not None:
        if not isinstance(s, yaml.SequenceNode) or not s.value:
            raise d.error(s, "expected a non-empty list of {PATTERN: SCALE} "
                          "for 'lr_scale'")
        items = []
        for it in s.value:
            if not isinstance(it, yaml.MappingNode) or len(it.value) != 1:
                raise d.error(it, "expected a one-key mapping {PATTERN: "
                              "SCALE} for an 'lr_scale' item")
            k, v = it.value[0]
            pat = _pattern(d, k, "lr_scale")
            items.append(LrRule(pat, _positive(d, v, "an lr_scale"),
                                *_mark(it)))
        out["lr_scale"] = tuple(items)
    m = _get(root, "layer_decay")
    if m is not None:
        if not isinstance(m, yaml.MappingNode):
            raise d.error(m, "expected {factor: F} for 'layer_decay'")
        _check_keys(d, m, ("factor",))
        f = _get(m, "factor")
        if f is None:
            raise d.error(m, "missing required key 'factor' in "
                          "'layer_decay'")
        v = _double(f)
        if v is None or not (0 < v <= 1):
            raise d.error(f, "'factor' must be a number in (0, 1], not '%s'"
                          % _shown(f))
        out["layer_decay"] = v
    s = _get(root, "no_decay")
    if s is not None:
        if isinstance(s, yaml.SequenceNode) and not s.value:
            raise d.error(s, "empty list for 'no_decay' (leave the key out "
                          "instead)")
        out["no_decay"] = tuple(LrRule(_pattern(d, it, "no_decay"), None,
                                       *_mark(it)) for it in _items(s))
    return out
