#!/usr/bin/python3
"""test_plan_corpus.py: the C core and python/tui_plan/ resolve the
shared corpus alike.

Every pattern of tests/corpus/patterns.txt on every checkpoint of
tests/corpus/names.txt ($FIX-relative), resolved by tui and by
tui_plan.resolve on the names, kinds and tie groups ("tied_to") of
`tui --list --json CKPT`:

- the tie groups are those torch.load finds in the .pt files (one storage,
  offset, dtype, shape and strides);

- single rules: `tui --list --json --freeze PAT --allow-empty -o PLAN
  CKPT` freezes what tui_plan.resolve freezes for `- freeze: PAT`; the
  pattern matches as many tensors (parameters and buffers) as tui says;
  tui_plan.resolve reads PLAN (fingerprint equal: its frozen list) to the
  same set; and a matching PLAN read back by `tui --list --json --plan`
  gives it again;
- the plan fingerprint tui writes is tui_plan.fingerprint of the listing;
- hand-written rules-only plans (`version: 1`, `model: {path: CKPT}`,
  `rules:`), for every pattern that matches something: freeze PAT;
  freeze ** then unfreeze PAT; freeze PAT then invert; freeze PAT then
  unfreeze the next such pattern;
- compiling: the corpus patterns, the error table of docs/patterns.md and
  more bad and tricky patterns compile in both or fail in both, at the
  same column;
- the meaning of a plan (docs/plan-format.md's table): a list with or
  without rules, with the fingerprint of the checkpoint, another one or
  none, a name the checkpoint lacks, a buffer's name, a tied alias: the
  same frozen set or an error in both (strict=False where tui applies a
  list made for another checkpoint, which tui_plan refuses when strict).

The tui calls run two at a time. Env: TUI, FIX. Prints
"test_plan_corpus: N passed, N failed" last.
"""
import json
import os
import re
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import tui_plan  # noqa: E402
from checks import check, run_tui  # noqa: E402

# Against an ASan build the thousands of tui runs here skip the leak check
# at exit (about 50 ms each): this test is about what C and Python
# resolve; the leak checks run in the CLI tests over the same code.
try:
    with open(checks.TUI, "rb") as _f:
        if b"__asan_init" in _f.read():
            os.environ["ASAN_OPTIONS"] = os.environ.get(
                "ASAN_OPTIONS", "") + ":detect_leaks=0"
except OSError:
    pass  # main() says TUI is not built

# rules that match nothing are allowed here, and warned about
warnings.simplefilter("ignore", tui_plan.PlanWarning)

CORPUS = os.path.join(REPO, "tests", "corpus")

# Patterns that must fail in both (docs/patterns.md's error table first),
# and patterns that must compile in both: the edges of the language.
BAD = [
    "", "model.{a,b", "a}b", "a]b", "x.[0-9", "x.[z-a]", "{a,,b}",
    "l.{5..2}", "l.{..}", "l.x{0..5}", "a**", "abc\\", "a\\.b", "a..b",
    "re:(ab", "{a,b}" * 11, "a" * 4097,
    ".a", "a.", "{a,}", "{,a}", "{}", "[]", "[!]", "x{0..5}", "{0..5}x",
    "**x", "x.{1..2}y", "{0..99999999999999999999}", "re:", "re:*a",
    "re:a**", "re:a+?", "re:(?:a)", "re:a{256}", "re:(a{2}){2}",
    "re:" + "(" * 33 + "a" + ")" * 33, "re:[[:foo:]]", "re:[z-a]",
    "re:[a", "re:a\\", "re:\\1", "re:(a)|\\1", "re:a{1", "re:a{x}",
    "re:a{2,1}", "re:^*", "re:\\b*", "re:[[.ab.]]", "re:[[:digit:]-z]",
    "re:[a-b-c]", "re:x|*", "re:a{ 1}",
]
GOOD = [
    "[]x]", "[!]x]", "[a-]", "[\\]]", "a\\*b", "{a,b}" * 10,
    "bert.{embeddings,encoder.layer.{..2}}", "layer.{0..0}", "x.{..0}",
    "{9999999999999999999..}", "**.**.weight", "*.**", "a" * 4096,
    "re:[[:digit:]]+", "re:[]a]", "re:[^]a]", "re:[\\.]", "re:a{,2}",
    "re:a{,}", "re:()", "re:a|", "re:x)", "re:}", "re:\\d",
    "re:\\<layer", "re:weight\\>", "re:\\bbias", "re:\\Bias", "re:\\w+$",
    "re:(a)\\1", "re:[[.a.]-z]", "re:[[=b=]]", "re:a{255}", "re:(a{2})*",
    "re:" + "(" * 32 + "a" + ")" * 32, "re:$a", "re:a^",
]


def read_corpus():
    with open(os.path.join(CORPUS, "patterns.txt")) as f:
        patterns = [ln.rstrip("\n") for ln in f
                    if ln.strip() and not ln.startswith("#")]
    with open(os.path.join(CORPUS, "names.txt")) as f:
        ckpts = [ln.split() for ln in f
                 if ln.strip() and not ln.startswith("#")]
    return patterns, [(label, os.path.join(checks.FIX, rel))
                      for label, rel in ckpts]


def frozen_of(listing):
    return {t["name"] for t in listing["tensors"]
            if t["kind"] == "parameter" and not t["trainable"]}


def torch_ties(path, params):
    """Parameter names that share one tensor (storage, offset, dtype,
    shape, strides) in a torch.save file, as sorted groups."""
    import torch
    sd = torch.load(path, map_location="cpu")
    groups = {}
    for n in params:
        t = sd[n]
        key = (t.storage().data_ptr(), t.storage_offset(), t.dtype,
               tuple(t.shape), t.stride())
        groups.setdefault(key, []).append(n)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


class Checkpoint:
    """One checkpoint's names as tui lists them, for tui_plan.resolve."""

    def __init__(self, label, path):
        self.label, self.path = label, path
        self.listing = checks.tui_json("--list", "--json", path)
        model = [t for t in self.listing["tensors"]
                 if t["kind"] in ("parameter", "buffer")]
        self.kinds = [(t["name"], t["kind"]) for t in model]
        self.names = [t["name"] for t in model]
        self.fingerprint = tui_plan.fingerprint(
            (t["name"], t["dtype"], t["shape"]) for t in model)
        groups = {}
        for t in model:
            if "tied_to" in t:
                groups.setdefault(t["tied_to"], [t["tied_to"]]).append(
                    t["name"])
        self.aliases = sorted(sorted(g) for g in groups.values())
        if path.endswith(".pt"):
            check(self.aliases == torch_ties(path, [
                n for n, k in self.kinds if k == "parameter"]),
                  label + ": tui's tie groups are torch.load's",
                  self.aliases)

    def resolve(self, plan, fingerprint=None, allow_empty=True):
        return tui_plan.resolve(plan, self.kinds, self.aliases,
                                allow_empty=allow_empty,
                                fingerprint=fingerprint)


def rules_plan(ckpt, rules):
    return tui_plan.Plan("<corpus>", ckpt.path, None,
                         tuple(tui_plan.Rule(k, p) for k, p in rules))


def hand_written(path, ckpt, rules):
    """Writes a rules-only plan without a fingerprint."""
    with open(path, "w") as f:
        f.write("version: 1\nmodel: {path: %s}\nrules:\n" %
                json.dumps(ckpt.path))
        for kind, pat in rules:
            f.write("- invert: true\n" if kind == "invert"
                    else "- %s: %s\n" % (kind, json.dumps(pat)))


def column_of(stderr):
    m = re.search(r"at column (\d+)", stderr)
    return int(m.group(1)) if m else None


def py_compile(pat):
    """None when pat compiles in Python, else the error's column."""
    try:
        tui_plan.compile_pattern(pat)
        return None
    except tui_plan.PatternError as e:
        return e.column


def single(tmp, pool, ckpt, patterns):
    """Each pattern as one rule, through tui's command line, its plan file
    and (when it matches) the plan read back."""
    def run(k):  # a folder each: tui locks a folder while it saves a plan
        folder = os.path.join(tmp, "%s_%d" % (ckpt.label, k))
        os.mkdir(folder)
        plan = os.path.join(folder, "plan.yaml")
        return plan, run_tui("--list", "--json", "--freeze", patterns[k],
                             "--allow-empty", "-o", plan, ckpt.path)
    nonempty = []
    for k, (plan, (rc, out, err)) in enumerate(pool.map(run,
                                                        range(len(patterns)))):
        pat, err = patterns[k], err.decode(errors="replace")
        what = "%s %r" % (ckpt.label, pat)
        if rc != 0:
            col = column_of(err)
            check(col is not None and py_compile(pat) == col,
                  what + ": fails to compile in both, at the same column",
                  (err.strip(), py_compile(pat)))
            continue
        want = frozen_of(json.loads(out))
        got = ckpt.resolve(rules_plan(ckpt, [("freeze", pat)]))
        check(got == want, what + ": tui_plan freezes what tui freezes",
              ["tui only: %s" % sorted(want - got)[:5],
               "python only: %s" % sorted(got - want)[:5]])
        m = re.search(r"matched ([\d,]+) tensors?\b", err)
        n = len(tui_plan.compile_pattern(pat).select(ckpt.names))
        check(m and int(m.group(1).replace(",", "")) == n,
              what + ": matches as many tensors in both", (err.strip(), n))
        check(ckpt.resolve(plan, ckpt.fingerprint, False) == want,
              what + ": tui_plan reads tui's plan (its frozen list) alike")
        if k == 0:
            check(tui_plan.load_plan(plan).fingerprint == ckpt.fingerprint,
                  ckpt.label + ": tui_plan.fingerprint is tui's")
        if n:
            nonempty.append((k, plan, want))

    def reread(item):
        return run_tui("--list", "--json", "--plan", item[1], ckpt.path)
    for (k, _, want), (rc, out, err) in zip(nonempty,
                                            pool.map(reread, nonempty)):
        check(rc == 0 and frozen_of(json.loads(out)) == want,
              "%s %r: the plan read back by tui freezes the same"
              % (ckpt.label, patterns[k]), err.decode(errors="replace"))
    return [patterns[k] for k, _, _ in nonempty]


def hand_written_plans(tmp, pool, ckpt, pats):
    """Rules-only plans without fingerprint, one and two rules."""
    cases = []
    for k, pat in enumerate(pats):
        nxt = pats[(k + 1) % len(pats)]
        cases += [[("freeze", pat)],
                  [("freeze", "**"), ("unfreeze", pat)],
                  [("freeze", pat), ("invert", None)],
                  [("freeze", pat), ("unfreeze", nxt)]]

    def run(k):
        plan = os.path.join(tmp, "%s_hw%d.yaml" % (ckpt.label, k))
        hand_written(plan, ckpt, cases[k])
        return plan, run_tui("--list", "--json", "--allow-empty", "--plan",
                             plan, ckpt.path)
    for rules, (plan, (rc, out, err)) in zip(cases,
                                             pool.map(run, range(len(cases)))):
        what = "%s %s" % (ckpt.label, " ".join(
            "invert" if p is None else "%s %r" % (kind, p)
            for kind, p in rules))
        if not check(rc == 0, what + ": tui reads the hand-written plan",
                     err.decode(errors="replace").strip()):
            continue
        want = frozen_of(json.loads(out))
        got = ckpt.resolve(plan)
        check(got == want, what + ": tui_plan freezes what tui freezes",
              ["tui only: %s" % sorted(want - got)[:5],
               "python only: %s" % sorted(got - want)[:5]])


def compile_agreement(pool, ckpt, patterns):
    pats = BAD + GOOD + patterns

    def run(pat):
        return run_tui("--list", "--json", "--freeze", pat, "--allow-empty",
                       ckpt.path)
    for pat, (rc, _, err) in zip(pats, pool.map(run, pats)):
        err = err.decode(errors="replace").strip()
        what = "compile %r" % (pat if len(pat) < 60 else pat[:57] + "...")
        c_col = column_of(err) if rc != 0 else None
        check((rc == 0) == (pat not in BAD),
              what + ": tui %s it" % ("refuses" if pat in BAD else "takes"),
              err)
        check(py_compile(pat) == c_col,
              what + ": tui_plan agrees (error column %s)" % c_col,
              (err, py_compile(pat)))


def meaning(tmp, ckpts):
    """Each cell of docs/plan-format.md's "What a plan means" table."""
    r18 = next(c for c in ckpts if c.path.endswith("resnet18_sd.pt"))
    tied = next(c for c in ckpts if c.aliases)
    stale = "sha256:" + "0" * 64
    cases = [  # (label, checkpoint, plan body after model.path, strict)
        ("a list, no fingerprint", r18, "frozen: [conv1.weight, fc.bias]\n",
         True),
        ("a list with a buffer's name", r18,
         "frozen: [conv1.weight, bn1.running_mean]\n", True),
        ("a list with a name the checkpoint lacks", r18,
         "frozen: [conv1.weight, fc2.bias]\n", True),
        ("a list and rules, no fingerprint (the rules)", r18,
         "rules: [{freeze: layer1}]\nfrozen: [conv1.weight]\n", True),
        ("a list and rules, its fingerprint (the list)", r18,
         "  fingerprint: %s\nrules: [{freeze: layer1}]\n"
         "frozen: [conv1.weight]\n" % r18.fingerprint, True),
        ("a list and rules, another fingerprint (the rules)", r18,
         "  fingerprint: %s\nrules: [{freeze: layer1}]\n"
         "frozen: [conv1.weight, fc2.bias]\n" % stale, True),
        ("a list only, another fingerprint", r18,
         "  fingerprint: %s\nfrozen: [conv1.weight]\n" % stale, False),
        ("rules only, another fingerprint", r18,
         "  fingerprint: %s\nrules: [{freeze: fc}, {invert: true}]\n"
         % stale, True),
        ("a list naming a tied alias", tied,
         "frozen: [%s]\n" % tied.aliases[0][-1], True),
        ("a rule naming a tied alias", tied,
         "rules: [{freeze: %s}]\n" % json.dumps(tied.aliases[0][-1]), True),
    ]
    for k, (label, ckpt, body, strict) in enumerate(cases):
        plan = os.path.join(tmp, "meaning%d.yaml" % k)
        with open(plan, "w") as f:
            f.write("version: 1\nmodel:\n  path: %s\n%s"
                    % (json.dumps(ckpt.path), body))
        rc, out, err = run_tui("--list", "--json", "--plan", plan, ckpt.path)
        got = resolve_or_error(ckpt, plan, strict)
        if rc == 0:
            check(got == frozen_of(json.loads(out)),
                  "meaning: %s: the same frozen set in both" % label, got)
        else:
            check(isinstance(got, tui_plan.PlanError),
                  "meaning: %s: an error in both" % label,
                  (err.decode(errors="replace").strip(), got))
        if not strict:
            check(isinstance(resolve_or_error(ckpt, plan, True),
                             tui_plan.PlanError),
                  "meaning: %s: tui_plan refuses it when strict" % label)


def resolve_or_error(ckpt, plan, strict):
    """tui_plan's frozen set for a plan file, or the PlanError."""
    try:
        return tui_plan.resolve(plan, ckpt.kinds, ckpt.aliases,
                                strict=strict, fingerprint=ckpt.fingerprint)
    except tui_plan.PlanError as e:
        return e


def main():
    if checks.missing_tui("test_plan_corpus"):
        return 1
    patterns, ckpts = read_corpus()
    with tempfile.TemporaryDirectory(prefix="plan_corpus.") as tmp, \
            ThreadPoolExecutor(2) as pool:
        loaded = []
        for label, path in ckpts:
            checks.guarded(label, lambda: loaded.append(
                Checkpoint(label, path)))
        check(any(c.aliases for c in loaded),
              "the corpus has tied weights (bert-tied)")
        for ckpt in loaded:
            found = []
            checks.guarded(ckpt.label + " single", lambda: found.extend(
                single(tmp, pool, ckpt, patterns)))
            if found:
                checks.guarded(ckpt.label + " hand-written", lambda:
                               hand_written_plans(tmp, pool, ckpt, found))
        if loaded:
            checks.guarded("compile", lambda: compile_agreement(
                pool, loaded[0], patterns))
            checks.guarded("meaning", lambda: meaning(tmp, loaded))
    return checks.finish("test_plan_corpus")


if __name__ == "__main__":
    sys.exit(main())
