#!/usr/bin/python3
"""test_exports.py: `tui --export` against its consumers' own semantics.

Each consumer's rule is re-applied here, in Python, to the names
model.named_parameters() would list (the parameters of `tui --list
--json`, a tied duplicate left out: ties are read from the .pt's pickle
with a loader that imports nothing, and must be the ones tui reports as
`tied_to`), and must give exactly the plan's
trainable set (`tui --list --json --plan PLAN`):

  axolotl       Axolotl's freeze_layers_except (src/axolotl/utils/
                freeze.py): the range suffix is cut off, then
                re.sub(r"\\.(?!\\+)", "\\\\.", p), then re.match; an empty
                list freezes nothing (src/axolotl/train.py). A fully frozen
                plan must be refused. The list must be the shortest of its
                form: no entry could be folded into its parent's prefix.
  llamafactory  LLaMA-Factory's _setup_freeze_tuning (src/llamafactory/
                model/adapter.py): layer ids from freeze_trainable_layers
                (+n last, -n first, use_llama_pro strides), the substrings
                ".{idx}.{module}" and the extra modules, each validated
                against hidden_modules / non_hidden_modules as LLaMA-Factory
                does. A refused plan must really be inexpressible: a search
                here over every layer choice, with every usable module and
                extra module, finds no setting. The plans LLaMA-Factory
                itself makes (last/first n, llama-pro, modules, extras) on
                the Llama and BERT name sets must export to a setting that
                trains the same set.
  modules       get_submodule(path).parameters() (timm's freeze, Lightning's
                BaseFinetuning.freeze): a listed module freezes every
                parameter below it, a tied one included (its group); the
                `parameters:` names freeze themselves. Minimal: no listed
                module's parent, and no listed parameter's module, has only
                frozen parameters.
  names         the frozen parameter names, every tied name included, in
                listing order.

Plans: every checkpoint of tests/corpus/names.txt, under every preset that
applies there (`tui --presets CKPT`; also inverted) and every pattern of
tests/corpus/patterns.txt as `--freeze P`, `--freeze ** --unfreeze P` and
`--freeze P --invert` (all with --allow-empty), each written with -o and
exported from that plan file. Plans with the same frozen set are exported
once. Then a safetensors file written here with the names that trap an
export (a tensor that is also a module prefix, `layer1.0` beside
`layer1.0x`, regex metacharacters, quotes, backslashes, control
characters, empty segments), under every single name frozen, every single
name trainable and seeded random subsets. Against an ASan build (found as
tests/cli/limits.sh finds it) the cases are sampled, see SAN below.

Env: TUI (default $BUILD/tui, else build/tui), FIX, BUILD.
Prints "test_exports: N passed, N failed"; exits 1 on any failure.
"""
import concurrent.futures
import io
import json
import os
import pickle
import re
import sys
import tempfile
import zipfile
from collections import OrderedDict

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
if "TUI" not in os.environ and os.environ.get("BUILD"):
    os.environ["TUI"] = os.path.join(REPO, os.environ["BUILD"], "tui")
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

NAME = "test_exports"
WORKERS = 2


# Under ASan every run pays for the leak check at exit (about 50 ms here):
# the runs that only set up a case (resolve a set, reload a plan) skip it,
# and so does every export run but one in five; the pattern variants, the
# distinct sets (every other one), the random subsets of the tricky names
# and the LLaMA-Factory settings are sampled.
SAN = checks.sanitized(checks.TUI)
QUICK_ENV = dict(os.environ, ASAN_OPTIONS=os.environ.get(
    "ASAN_OPTIONS", "") + ":detect_leaks=0") if SAN else None
OUTCOMES = {}   # (format, "exported" / "refused") -> plans


def outcome(fmt, rc):
    key = (fmt, "exported" if rc == 0 else "refused")
    OUTCOMES[key] = OUTCOMES.get(key, 0) + 1


def one_line(err):
    lines = err.decode("utf-8", "replace").strip("\n").split("\n")
    return len(lines) == 1 and lines[0].startswith("tui: ")


def diff(got, want):
    got, want = set(got), set(want)
    return ["trains but should not: %s" % sorted(got - want)[:5],
            "should train but does not: %s" % sorted(want - got)[:5]]


def parent(path):
    return path.rsplit(".", 1)[0] if "." in path else ""


def under(name, module):
    return module == "" or name.startswith(module + ".")


# ---------------------------------------------------------------------------
# ties: which parameter names are duplicates (named_parameters() skips them)

class _Call:
    """Any global of the pickle: calling it records the call, nothing
    runs. _rebuild_tensor_v2(storage, offset, size, stride, ...) becomes
    the tuple that identifies the tensor's memory."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        if self.name.endswith("_rebuild_tensor_v2"):
            return ("tensor", args[0], args[1], tuple(args[2]),
                    tuple(args[3]))
        if self.name.endswith("_rebuild_parameter"):
            return args[0]
        return ("call", self.name)


class _Loader(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        return _Call(module + "." + name)

    def persistent_load(self, pid):
        return ("storage", pid[1].name if isinstance(pid[1], _Call)
                else str(pid[1]), pid[2])


def tie_groups(path):
    """{alias name: first name} for a torch.save zip; {} otherwise."""
    if not zipfile.is_zipfile(path):
        return {}
    with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl")]
        if not pkl:
            return {}
        obj = _Loader(io.BytesIO(z.read(pkl[0]))).load()
    first, alias = {}, {}
    if not isinstance(obj, dict):
        return {}
    for name, t in obj.items():
        if isinstance(t, tuple) and t and t[0] == "tensor":
            key = t[1:]
            if key in first:
                alias[name] = first[key]
            else:
                first[key] = name
    return alias


# ---------------------------------------------------------------------------
# the consumers, re-applied

class AxolotlPattern:
    """src/axolotl/utils/freeze.py LayerNamePattern, verbatim in effect."""

    def __init__(self, pattern):
        m = re.match(r"^(.+)\[([0-9]*)(?::([0-9]*))?\]$", pattern)
        base = m.group(1) if m else pattern
        self.range = m is not None
        self.name_regex = re.compile(re.sub(r"\.(?!\+)", "\\.", base))

    def match(self, name):
        return self.name_regex.match(name) is not None


def axolotl_trainable(named, patterns):
    if not patterns:        # train.py: `if cfg.unfrozen_parameters:`
        return list(named)
    ps = [AxolotlPattern(p) for p in patterns]
    return [n for n in named if any(p.match(n) for p in ps)]


def axolotl_unescape(entry):
    body = entry[1:] if entry.startswith("^") else entry
    kind = body[-1]
    return re.sub(r"\\(.)", r"\1", body[:-1]), kind


def lf_module_sets(named):
    """hidden_modules, non_hidden_modules as _setup_freeze_tuning builds
    them; raises IndexError where it does."""
    hidden, non_hidden = set(), set()
    for name in named:
        if ".0." in name:
            hidden.add(name.split(".0.")[-1].split(".")[0])
        elif ".1." in name:
            hidden.add(name.split(".1.")[-1].split(".")[0])
        if re.search(r"\.\d+\.", name) is None:
            non_hidden.add(name.split(".")[-2])
    return hidden, non_hidden


def lf_layer_ids(num_layers, n, pro):
    if pro:
        if num_layers % n != 0:
            raise ValueError("num_layers not divisible")
        stride = num_layers // n
        return range(stride - 1, num_layers + stride - 1, stride)
    if n > 0:
        return range(max(0, num_layers - n), num_layers)
    return range(min(-n, num_layers))


def split_arg(arg):
    if isinstance(arg, str):
        return [item.strip() for item in arg.split(",")]
    return arg


def lf_trainable(named, num_layers, cfg):
    """The names _setup_freeze_tuning leaves trainable under cfg (the
    YAML mapping); raises ValueError where it would."""
    if cfg.get("finetuning_type") == "full":
        return list(named)
    if cfg.get("finetuning_type") != "freeze":
        raise ValueError("finetuning_type %r" % cfg.get("finetuning_type"))
    n = cfg.get("freeze_trainable_layers", 2)
    modules = split_arg(cfg.get("freeze_trainable_modules", "all"))
    extra = split_arg(cfg.get("freeze_extra_modules"))
    ids = lf_layer_ids(num_layers, n, cfg.get("use_llama_pro", False))
    hidden, non_hidden = lf_module_sets(named)
    subs = []
    for m in modules:
        if m != "all" and m not in hidden:
            raise ValueError("Module %s is not found" % m)
        for idx in ids:
            subs.append(".{:d}.{}".format(idx, m if m != "all" else ""))
    for m in extra or []:
        if m not in non_hidden:
            raise ValueError("Module %s is not found" % m)
        subs.append(m)
    return [x for x in named if any(s in x for s in subs)]


def layer_stack(params):
    """(path, layers): the module with numeric children holding the most
    parameter names, and its largest index + 1; (None, 0) when none."""
    top = {}
    for name in params:
        segs = name.split(".")
        for j in range(1, len(segs) - 1):
            if segs[j].isdigit() and str(int(segs[j])) == segs[j]:
                p = ".".join(segs[:j])
                top[p] = max(top.get(p, -1), int(segs[j]))
    size = {}
    for name in params:
        for p in top:
            if name.startswith(p + "."):
                size[p] = size.get(p, 0) + 1
    if not top:
        return None, 0
    best = max(top, key=lambda p: (size.get(p, 0), -params_index(params, p)))
    return best, top[best] + 1


def params_index(params, prefix):
    for i, n in enumerate(params):
        if n.startswith(prefix + "."):
            return i
    return len(params)


class LfIndex:
    """The substrings LLaMA-Factory tests, precomputed per name as bit
    masks over layer ids: bit i of all_[k] is `.{i}.` in name k, bit i of
    mod[m][k] is `.{i}.{m}` in it; ext[k] the extra modules in it."""

    def __init__(self, named, num_layers):
        self.named = named
        self.L = num_layers
        try:
            self.hidden, self.non_hidden = lf_module_sets(named)
            self.crash = False
        except IndexError:
            self.hidden, self.non_hidden, self.crash = set(), set(), True
        self.hidden = sorted(m for m in self.hidden
                             if m and "," not in m and m == m.strip())
        self.non_hidden = sorted(m for m in self.non_hidden
                                 if m and "," not in m and m == m.strip())
        self.all_ = [sum(1 << i for i in range(num_layers)
                         if ".%d." % i in x) for x in named]
        self.mod = {m: [sum(1 << i for i in range(num_layers)
                            if ".%d.%s" % (i, m) in x) for x in named]
                    for m in self.hidden}
        self.ext = [frozenset(e for e in self.non_hidden if e in x)
                    for x in named]

    def idsets(self):
        L = self.L
        yield 0
        for n in range(1, L + 1):
            yield sum(1 << i for i in lf_layer_ids(L, n, False))
            yield sum(1 << i for i in lf_layer_ids(L, -n, False))
            if L % n == 0:
                yield sum(1 << i for i in lf_layer_ids(L, n, True))

    def expressible(self, trainable):
        """A setting that trains exactly `trainable`, or None."""
        if self.crash:
            return None
        tr = [x in trainable for x in self.named]
        frozen = [k for k, t in enumerate(tr) if not t]
        bad_all = 0
        bad_mod = {m: 0 for m in self.hidden}
        bad_ext = set()
        for k in frozen:
            bad_all |= self.all_[k]
            for m in self.hidden:
                bad_mod[m] |= self.mod[m][k]
            bad_ext |= self.ext[k]
        ext_ok = set(self.non_hidden) - bad_ext
        for ids in self.idsets():
            use_all = ids and not (bad_all & ids)
            mods = [m for m in self.hidden if not (bad_mod[m] & ids)]
            if ids and not use_all and not mods:
                continue
            ok = True
            for k, t in enumerate(tr):
                if not t:
                    continue
                if use_all and self.all_[k] & ids:
                    continue
                if ids and not use_all and any(self.mod[m][k] & ids
                                               for m in mods):
                    continue
                if self.ext[k] & ext_ok:
                    continue
                ok = False
                break
            if ok:
                return ids, use_all, mods, ext_ok
        return None


def lf_reference_settings(named, L):
    """Settings as a user of LLaMA-Factory writes them."""
    hidden, non_hidden = lf_module_sets(named)
    mod_choices = [["all"]] + [[m] for m in sorted(hidden)][:4]
    if len(hidden) >= 2:
        mod_choices.append(sorted(hidden)[:2])
    ext_choices = [None] + [[e] for e in sorted(non_hidden)][:4]
    if len(non_hidden) >= 2:
        ext_choices.append(sorted(non_hidden)[:2])
    layer_choices = [(n, False) for n in (1, 2, 4, L, -1, -3, 0)]
    layer_choices += [(n, True) for n in (2, 4) if L % n == 0]
    for n, pro in layer_choices:
        for mods in mod_choices:
            for ext in ext_choices:
                cfg = {"finetuning_type": "freeze",
                       "freeze_trainable_layers": n,
                       "freeze_trainable_modules": ",".join(mods)}
                if ext:
                    cfg["freeze_extra_modules"] = ",".join(ext)
                if pro:
                    cfg["use_llama_pro"] = True
                yield cfg


# ---------------------------------------------------------------------------
# one checkpoint

class Ckpt:
    def __init__(self, label, path, tmp):
        self.label, self.path, self.tmp = label, path, tmp
        doc = checks.tui_json("--list", "--json", path)
        listed = [t for t in doc["tensors"] if t["kind"] == "parameter"]
        self.params = [t["name"] for t in listed]
        self.alias = tie_groups(path)
        told = {t["name"]: t["tied_to"] for t in listed if "tied_to" in t}
        check(told == self.alias, "%s: tui's tied_to are the pickle's ties"
              % label, "tui %s, pickle %s" % (told, self.alias))
        self.named = [n for n in self.params if n not in self.alias]
        self.stack, self.L = layer_stack(self.params)
        self.lf = LfIndex(self.named, self.L)

    def group(self, name):
        return self.alias.get(name, name)


def plan_ops(ck, patterns):
    rc, out, err = run_tui("--presets", ck.path)
    ops = []
    if check(rc == 0, "%s: tui --presets" % ck.label, err.decode()[:300]):
        name = None
        for line in out.decode().split("\n"):
            if line and not line.startswith(" "):
                name = line.split()[0]
            elif line.startswith("    here: would freeze") and name:
                ops.append(["--preset", name])
                ops.append(["--preset", name, "--invert"])
    check(len(ops) >= 4, "%s: some presets apply" % ck.label, ops)
    for k, p in enumerate(patterns):
        ops.append(["--freeze", p])
        if not SAN:
            ops.append(["--freeze", "**", "--unfreeze", p])
        if not SAN or k % 3 == 0:
            ops.append(["--freeze", p, "--invert"])
    return ops


def frozen_set(ck, ops):
    """The frozen parameter names after ops, or None and stderr."""
    rc, out, err = run_tui(ck.path, *ops, "--allow-empty", "--list",
                           "--json", env=QUICK_ENV)
    if rc != 0:
        return None, err
    doc = json.loads(out)
    return tuple(t["name"] for t in doc["tensors"]
                 if t["kind"] == "parameter" and not t["trainable"]), b""


def make_plan(ck, i, ops):
    """Writes the plan of ops with -o into its own folder (tui locks a
    folder while it saves there); its path, or None and stderr."""
    folder = os.path.join(ck.tmp, "%s-%d" % (ck.label, i))
    os.mkdir(folder)
    plan = os.path.join(folder, "plan.yaml")
    rc, _, err = run_tui(ck.path, *ops, "--allow-empty", "-o", plan,
                         env=QUICK_ENV)
    return (plan, b"") if rc == 0 else (None, err)


def run_exports(ck, plan, i=0):
    if plan is None:
        return None
    res = {"list": run_tui("--list", "--json", "--plan", plan, ck.path,
                           env=QUICK_ENV)}
    env = QUICK_ENV if i % 5 else None
    for fmt in ("names", "axolotl", "llamafactory", "modules"):
        res[fmt] = run_tui("--plan", plan, "--export", fmt, ck.path, env=env)
    return res


def check_axolotl(ck, what, trainable, res):
    rc, out, err = res
    named_tr = [n for n in ck.named if n in trainable]
    if not named_tr and ck.named:
        check(rc == 2 and one_line(err) and
              b"every parameter is frozen" in err,
              "%s: axolotl refuses a fully frozen plan" % what,
              "exit %s: %s" % (rc, err[:300]))
        return
    if not check(rc == 0, "%s: axolotl exit" % what, err[:300]):
        return
    pats = yaml.safe_load(out)["unfrozen_parameters"] or []
    got = axolotl_trainable(ck.named, pats)
    check(got == named_tr, "%s: axolotl trains the plan's set" % what,
          diff(got, named_tr))
    if len(named_tr) == len(ck.named):
        check(pats == [], "%s: axolotl: nothing frozen is []" % what, pats)
    bad = []
    for p in pats:
        path, kind = axolotl_unescape(p)
        if AxolotlPattern(p).range or kind not in "$.":
            bad.append("form: %s" % p)
        pm = parent(path)
        if all(n in trainable for n in ck.named if under(n, pm)):
            bad.append("%s: its parent %r trains whole" % (p, pm))
    check(not bad and len(set(pats)) == len(pats),
          "%s: axolotl list is the shortest" % what, bad)


def check_modules(ck, what, trainable, res):
    rc, out, err = res
    if not check(rc == 0, "%s: modules exit" % what, err[:300]):
        return
    doc = yaml.safe_load(out)
    mods, params = doc["modules"] or [], doc["parameters"] or []
    frozen = set()
    for m in mods:
        frozen |= {ck.group(x) for x in ck.params if under(x, m)}
    frozen |= {ck.group(x) for x in params}
    got = [n for n in ck.named if n not in frozen]
    want = [n for n in ck.named if n in trainable]
    check(got == want, "%s: modules freeze the plan's set" % what,
          diff(got, want))
    bad = []
    for m in mods:
        if m and all(x not in trainable
                     for x in ck.params if under(x, parent(m))):
            bad.append("module %r: its parent is frozen whole" % m)
        if not any(under(x, m) for x in ck.named):
            bad.append("module %r holds no named parameter" % m)
    for p in params:
        if all(x not in trainable for x in ck.params if under(x, parent(p))):
            bad.append("parameter %r: its module is frozen whole" % p)
        if p in ck.alias:
            bad.append("parameter %r is a tied duplicate" % p)
    check(not bad, "%s: modules list is minimal" % what, bad)


def check_llamafactory(ck, what, trainable, res):
    rc, out, err = res
    named_tr = [n for n in ck.named if n in trainable]
    if rc == 0:
        cfg = yaml.safe_load(out)
        m = re.search(r"num_hidden_layers: (\d+)", out.decode())
        L = int(m.group(1)) if m else 0
        if m:
            check(L == ck.L, "%s: llamafactory layer count" % what,
                  "export says %d, the stack %s has %d" % (L, ck.stack, ck.L))
        else:
            check(cfg.get("finetuning_type") == "full" or
                  cfg.get("freeze_trainable_layers") == 0,
                  "%s: llamafactory names num_hidden_layers" % what, out)
        try:
            got = lf_trainable(ck.named, L or 1, cfg)
        except (ValueError, IndexError) as e:
            check(False, "%s: LLaMA-Factory accepts the export" % what,
                  "%s: %s" % (e, out.decode()[:300]))
            return
        check(got == named_tr, "%s: llamafactory trains the plan's set"
              % what, diff(got, named_tr))
        return
    if not check(rc == 2 and one_line(err),
                 "%s: llamafactory refuses in one line" % what,
                 "exit %s: %s" % (rc, err[:300])):
        return
    if not named_tr:
        check(b"every parameter is frozen" in err,
              "%s: llamafactory refuses a fully frozen plan" % what, err)
        return
    found = ck.lf.expressible(set(named_tr))
    check(found is None, "%s: llamafactory refused an expressible plan"
          % what, "%s: %s" % (found, err[:300]))


def check_set(ck, what, frozen, res):
    trainable = set(ck.params) - set(frozen)
    for fmt in ("axolotl", "llamafactory", "modules"):
        outcome(fmt, res[fmt][0])
    rc, out, err = res["list"]
    if check(rc == 0, "%s: --list --plan" % what, err[:300]):
        got = [t["name"] for t in json.loads(out)["tensors"]
               if t["kind"] == "parameter" and not t["trainable"]]
        check(tuple(got) == frozen, "%s: the plan reloads its set" % what,
              diff(got, frozen))
    rc, out, err = res["names"]
    check(rc == 0 and out.decode().split("\n")[:-1] == list(frozen),
          "%s: names is the frozen list" % what, err[:300])
    check_axolotl(ck, what, trainable, res["axolotl"])
    check_modules(ck, what, trainable, res["modules"])
    check_llamafactory(ck, what, trainable, res["llamafactory"])


def test_ckpt(pool, ck, patterns):
    ops = plan_ops(ck, patterns)
    sets = pool.map(lambda o: frozen_set(ck, o), ops)
    firsts = {}
    for o, (frozen, err) in zip(ops, sets):
        if check(frozen is not None, "%s %s: applies" % (ck.label, o),
                 err[:300]):
            firsts.setdefault(frozen, o)
    todo = list(firsts.items())
    if SAN:
        todo = todo[::2]

    def export_one(i_kv):
        i, (frozen, o) = i_kv
        plan, err = make_plan(ck, i, o)
        return err, run_exports(ck, plan, i)
    results = pool.map(export_one, enumerate(todo))
    for (frozen, o), (err, res) in zip(todo, results):
        what = "%s %s" % (ck.label, " ".join(o))
        if check(res is not None, "%s: -o writes the plan" % what, err[:300]):
            check_set(ck, what, frozen, res)
    return len(ops), len(todo)


def write_plan(ck, path, frozen):
    with open(path, "w") as f:
        f.write("version: 1\nmodel:\n  path: %s\n" % json.dumps(ck.path))
        f.write("frozen: %s\n" % json.dumps(sorted(frozen)))


def test_lf_round_trip(pool, ck):
    """LLaMA-Factory's own settings, as plans: the export reproduces them."""
    cases, seen = [], set()
    for cfg in lf_reference_settings(ck.named, ck.L):
        want = lf_trainable(ck.named, ck.L, cfg)
        key = tuple(want)
        if not want or key in seen:
            continue
        seen.add(key)
        if SAN and len(seen) % 4:
            continue
        path = os.path.join(ck.tmp, "lf-%s-%d.yaml" % (ck.label, len(cases)))
        write_plan(ck, path, set(ck.params) - set(want)
                   - {a for a, f in ck.alias.items() if f in want})
        cases.append((cfg, want, path))
    results = pool.map(lambda c: run_tui("--plan", c[2], "--export",
                                         "llamafactory", env=QUICK_ENV),
                       cases)
    for (cfg, want, _), (rc, out, err) in zip(cases, results):
        what = "%s LLaMA-Factory %s" % (ck.label, json.dumps(cfg))
        if not check(rc == 0, "%s: exported" % what, err[:300]):
            continue
        got_cfg = yaml.safe_load(out)
        try:
            got = lf_trainable(ck.named, ck.L, got_cfg)
        except (ValueError, IndexError) as e:
            check(False, "%s: LLaMA-Factory accepts the export" % what, e)
            continue
        check(got == want, "%s: round trip" % what,
              diff(got, want) + [out.decode()[-300:]])
    return len(cases)


def test_lf_exact(ck):
    """The default setting comes back as itself."""
    for n in (2, 4):
        cfg = {"finetuning_type": "freeze", "freeze_trainable_layers": n,
               "freeze_trainable_modules": "all"}
        want = lf_trainable(ck.named, ck.L, cfg)
        path = os.path.join(ck.tmp, "lf-exact-%s-%d.yaml" % (ck.label, n))
        write_plan(ck, path, set(ck.params) - set(want))
        rc, out, err = run_tui("--plan", path, "--export", "llamafactory")
        got = yaml.safe_load(out) if rc == 0 else None
        check(got == dict(cfg, freeze_extra_modules=None),
              "%s: last %d layers export as themselves" % (ck.label, n),
              out.decode() + err.decode())


TRICKY = ["a.b", "a.b.c", "a.b.d", "layer1.0.w", "layer1.0x.w",
          "layer1.00.w", "m(x).w", "m[0].w", "m+.w", "p.+q", "d$.w",
          "back\\slash.w", 'q"uote.w', "uni.\u00e9.w", "caret^.w",
          "brace{1}.w", "pipe|.w", "star*.w", "qm?.w", "end[3]",
          "x.1.y", "x.10.y", "x.1.yz", "a..b", ".z", "ctl\x01.w",
          "c1\u0085.w", "sp ace.w", "k: v.w", "#hash.w", "x.0.y"]


def write_tricky(path):
    """A safetensors file whose names are the regex, YAML and tree traps."""
    import struct
    head = {n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i,
                                                            4 * i + 4]}
            for i, n in enumerate(TRICKY)}
    raw = json.dumps(head).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + bytes(4 * len(TRICKY)))


def test_tricky(pool, tmp):
    """Names that are both a tensor and a prefix, regex metacharacters,
    quotes, control characters, empty segments: every single name frozen,
    every single name trainable, and seeded random subsets."""
    import random
    path = os.path.join(tmp, "tricky.safetensors")
    write_tricky(path)
    ck = Ckpt("tricky", path, tmp)
    check(ck.params == TRICKY, "tricky: the names read back", ck.params)
    rnd = random.Random(11)
    sets = [[n] for n in TRICKY] + [[m for m in TRICKY if m != n]
                                    for n in TRICKY]
    sets += [[n for n in TRICKY if rnd.random() < 0.5]
             for _ in range(10 if SAN else 40)]
    sets += [[], list(TRICKY)]
    seen, todo = set(), []
    for fz in sets:
        key = tuple(n for n in ck.params if n in fz)
        if key in seen:
            continue
        seen.add(key)
        folder = os.path.join(tmp, "tricky-%d" % len(todo))
        os.mkdir(folder)
        plan = os.path.join(folder, "plan.yaml")
        write_plan(ck, plan, fz)
        todo.append((key, plan))
    results = pool.map(lambda ikv: run_exports(ck, ikv[1][1], ikv[0]),
                       enumerate(todo))
    for (frozen, _), res in zip(todo, results):
        check_set(ck, "tricky frozen %s" % json.dumps(frozen)[:200], frozen,
                  res)
    return len(todo)


def read_list(path):
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f
                if ln.strip() and not ln.startswith("#")]


def main():
    if checks.missing_tui(NAME):
        return 1
    names = read_list(os.path.join(REPO, "tests", "corpus", "names.txt"))
    patterns = read_list(os.path.join(REPO, "tests", "corpus",
                                      "patterns.txt"))
    check(len(names) >= 8 and len(patterns) >= 50, "the corpora are there")
    stats = []
    with tempfile.TemporaryDirectory(prefix="test_exports.") as tmp, \
            concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for line in names:
            label, rel = line.split()
            path = os.path.join(checks.FIX, rel)
            if not check(os.path.exists(path), "%s: %s exists" % (label, path)):
                continue
            ck = None

            def load():
                nonlocal ck
                ck = Ckpt(label, path, tmp)
            if not checks.guarded("%s: reading" % label, load):
                continue
            if label == "bert-tied":
                check(ck.alias == {"cls.predictions.decoder.weight":
                                   "bert.embeddings.word_embeddings.weight"},
                      "bert-tied: the tie is found", ck.alias)
            checks.guarded(
                "%s: plans" % label,
                lambda: stats.append((label,) + test_ckpt(pool, ck,
                                                          patterns)))
            if label in ("llama2", "llama3", "bert-base", "bert-tiny"):
                check(ck.L == {"llama2": 32, "llama3": 32, "bert-base": 12,
                               "bert-tiny": 12}[label],
                      "%s: the layer stack" % label, (ck.stack, ck.L))
            if label in ("llama2", "bert-base"):
                checks.guarded("%s: LLaMA-Factory settings" % label,
                               lambda: stats.append(
                                   (label + " lf", test_lf_round_trip(pool,
                                                                      ck))))
                checks.guarded("%s: default settings" % label,
                               lambda: test_lf_exact(ck))
        checks.guarded("tricky names", lambda: stats.append(
            ("tricky", test_tricky(pool, tmp))))
    for s in stats:
        print("  %s: %s" % (s[0], " / ".join(map(str, s[1:]))))
    print("  " + ", ".join("%s %s %d" % (f, k, n)
                           for (f, k), n in sorted(OUTCOMES.items())))
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
