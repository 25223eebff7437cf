#!/usr/bin/python3
"""test_export_fts.py: `tui --export fts` against FinetuningScheduler's own
semantics (speediedan/finetuning-scheduler, src/finetuning_scheduler/).

The export is read back as FTS reads it and run through FTS's rules, here
in Python, on the names model.named_parameters() would list (the
parameters of `tui --list --json`, a tied duplicate, `tied_to`, left out):

  load_yaml_schedule   yaml.load with UniqueKeyLoader (SafeLoader, a
                       duplicate key raises)
  _validate_schedule_keys  int keys, zero-based, contiguous
  _parse_phase         max_transition_epoch defaults to -1; an entry that
                       is a named parameter is itself, any other is
                       re.compile(p) and takes the names it re.match-es;
                       one that matches nothing raises
  _parse_phase_lr      phase 0's lr is dropped (so the export must not
                       write one); later phases default to base_max_lr
                       1e-5 and must float()
  _validate_phases_disjoint  a name in two phases raises
  _validate_epoch_transitions  with epoch_transitions_only, every phase
                       needs max_transition_epoch >= 0
  should_transition / on_train_epoch_start  at the start of epoch E the
                       next phase begins when 0 <= mte <= E, one phase per
                       epoch start; base_ft_phase only thaws

That gives the trainable set and each group's lr at every epoch, which
must equal the plan's: stage k's set comes from tui's own operations
(`--plan P --freeze A --unfreeze B ... --list --json`, the stage's
freeze: then unfreeze: patterns after the stages before it), its start
from the cumulative `epochs:` of `--summary --json` ("stages", whose
trainable_tensors and lr must agree too). Plans: resnet18 (.pt and
safetensors), bert_tiny, a tied BERT, no stages, a run ended by
max_steps, and a safetensors file of names that trap a regex reading.
Refusals: steps:, a stage freezing again, lr_scale:, layer_decay:,
no_decay:, nothing trainable in stage 0: exit 2, one line naming the
plan, nothing on stdout, no -o plan written. The checker is also run on
damaged exports, which it must reject (the test can fail).

Env: TUI (default $BUILD/tui, else build/tui), FIX, BUILD.
Prints "test_export_fts: N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import re
import struct
import sys
import tempfile
from collections import Counter

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
if "TUI" not in os.environ and os.environ.get("BUILD"):
    os.environ["TUI"] = os.path.join(REPO, os.environ["BUILD"], "tui")
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, guarded, run_tui  # noqa: E402

NAME = "test_export_fts"
MODELS = os.path.join(checks.FIX, "models")
BASE_MAX_LR = 1e-5     # FinetuningScheduler(base_max_lr=1e-5)
TUI_LR = 1e-3          # train.optimizer.lr's default (docs/training.md)


def one_line(err):
    lines = err.decode("utf-8", "replace").strip("\n").split("\n")
    return len(lines) == 1 and lines[0].startswith("tui: ")


# ---------------------------------------------------------------------------
# FinetuningScheduler, as its source reads a schedule

class UniqueKeyLoader(yaml.SafeLoader):
    """fts_supporters.py: a duplicate key raises ValueError."""

    def construct_mapping(self, node, deep=False):
        seen = []
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(key)
            seen.append(key)
        return super().construct_mapping(node, deep)


class Misconfiguration(Exception):
    pass


def fts_parse(text, named):
    """The schedule as FTS validates it: {phase: {"params": resolved
    names, "mte": int, "lr": float or None}}. Raises Misconfiguration."""
    sched = yaml.load(text, Loader=UniqueKeyLoader)
    if not isinstance(sched, dict) or not sched:
        raise Misconfiguration("not a mapping of phases: %r" % (sched,))
    if any(type(k) is not int for k in sched):
        raise Misconfiguration("non-int phase keys %r" % list(sched))
    if sorted(sched) != list(range(len(sched))):
        raise Misconfiguration("keys not zero-based and contiguous")
    names = set(named)
    out = {}
    for d in sorted(sched):
        ph = sched[d]
        if d == 0 and "lr" in ph:
            raise Misconfiguration("phase 0 has an lr (FTS drops it)")
        lr = None
        if d > 0:
            lr = ph.get("lr", BASE_MAX_LR)
            if type(lr) is not float:  # FTS float()s a string; the plan's
                raise Misconfiguration(  # phases must be YAML floats
                    "phase %d lr %r is not a YAML float" % (d, lr))
        resolved = []
        for p in ph.get("params", []) or []:
            if p in names:
                resolved.append(p)
                continue
            rx = re.compile(r"%s" % p)
            hits = [n for n in named if rx.match(n)]
            if not hits:
                raise Misconfiguration("phase %d: %r matches nothing" %
                                       (d, p))
            resolved.extend(hits)
        mte = ph.get("max_transition_epoch", -1)
        if type(mte) is not int:
            raise Misconfiguration("phase %d mte %r" % (d, mte))
        out[d] = {"params": resolved, "mte": mte, "lr": lr}
    dups = [n for n, c in Counter(n for d in out for n in out[d]["params"])
            .items() if c > 1]
    if dups:
        raise Misconfiguration("phases are not disjoint: %s" % dups[:5])
    return out


def fts_run(phases, epochs):
    """Per epoch 0..epochs-1 (epoch_transitions_only=True): the active
    phase, the trainable names and each name's group lr (None: phase 0,
    the optimizer's)."""
    depth, trained, lr_of = 0, set(), {}
    for n in phases[0]["params"]:
        trained.add(n)
        lr_of[n] = None
    last = max(phases)
    run = []
    for e in range(epochs):
        mte = phases[depth]["mte"]
        if depth < last and 0 <= mte <= e:
            depth += 1
            for n in phases[depth]["params"]:
                trained.add(n)
                lr_of[n] = phases[depth]["lr"]
        run.append((depth, frozenset(trained), dict(lr_of)))
    return run


# ---------------------------------------------------------------------------
# the plan, as tui reads it

def named_params(ckpt):
    rc, out, err = run_tui("--list", "--json", ckpt)
    if rc != 0:
        raise RuntimeError("--list %s: %s" % (ckpt, err[:300]))
    return [t["name"] for t in json.loads(out)["tensors"]
            if t["kind"] == "parameter" and "tied_to" not in t]


def trainable(plan, ops):
    rc, out, err = run_tui("--list", "--json", "--plan", plan, *ops)
    if rc != 0:
        raise RuntimeError("--list --plan %s %s: %s" % (plan, ops, err[:300]))
    return {t["name"] for t in json.loads(out)["tensors"]
            if t["kind"] == "parameter" and "tied_to" not in t and
            t["trainable"]}


def as_list(v):
    return [] if v is None else v if isinstance(v, list) else [v]


def expected(plan):
    """Per stage: its trainable set, start epoch (None when lengths are
    not epochs), lr (None for stage 0), from the plan and tui."""
    with open(plan, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    rc, out, err = run_tui("--summary", "--json", "--plan", plan)
    if rc != 0:
        raise RuntimeError("--summary %s: %s" % (plan, err[:300]))
    summary = json.loads(out).get("stages") or [{"stage": 0}]
    train = doc.get("train") or {}
    base_lr = (train.get("optimizer") or {}).get("lr", TUI_LR)
    stages, ops, start = [], [], 0
    for k, st in enumerate(doc.get("stages") or [{}]):
        for p in as_list(st.get("freeze")):
            ops += ["--freeze", p]
        for p in as_list(st.get("unfreeze")):
            ops += ["--unfreeze", p]
        stages.append({"set": trainable(plan, ops), "start": start,
                       "lr": None if k == 0 else float(st.get("lr",
                                                              base_lr)),
                       "summary": summary[k]})
        start = start + st["epochs"] if "epochs" in st else None
    end = None
    if "max_steps" not in train:
        end = train.get("epochs", start)
    return stages, end


def compare(text, plan, named, stages, end):
    """The mismatches between the export, run as FTS runs it, and the
    plan's stages (empty: they agree)."""
    try:
        phases = fts_parse(text, named)
    except (Misconfiguration, ValueError, re.error, yaml.YAMLError) as e:
        return ["FTS refuses the export: %s" % e]
    bad = []
    if len(phases) != len(stages):
        return ["%d phases for %d stages" % (len(phases), len(stages))]
    for k, st in enumerate(stages):
        if phases[k]["lr"] != st["lr"]:
            bad.append("phase %d lr %r, stage lr %r" %
                       (k, phases[k]["lr"], st["lr"]))
        nxt = stages[k + 1]["start"] if k + 1 < len(stages) else end
        want = -1 if nxt is None else nxt
        if phases[k]["mte"] != want:
            bad.append("phase %d max_transition_epoch %r, want %r" %
                       (k, phases[k]["mte"], want))
        if len(st["set"]) != st["summary"].get("trainable_tensors",
                                                len(st["set"])):
            bad.append("stage %d: %d names trainable, --summary says %r" %
                       (k, len(st["set"]), st["summary"]))
    # epoch by epoch, as FTS runs it with epoch_transitions_only=True
    horizon = end if end is not None else (
        (stages[-1]["start"] or 0) + 3)
    for e, (depth, got, lr_of) in enumerate(fts_run(phases, horizon)):
        k = max(i for i, st in enumerate(stages)
                if st["start"] is not None and st["start"] <= e)
        if depth != k or got != stages[k]["set"]:
            bad.append("epoch %d: FTS in phase %d, plan in stage %d; "
                       "trains but should not %s, should but does not %s"
                       % (e, depth, k, sorted(got - stages[k]["set"])[:3],
                          sorted(stages[k]["set"] - got)[:3]))
            break
        for n, lr in lr_of.items():
            want = next(st["lr"] for st in stages if n in st["set"])
            if lr != want:
                bad.append("epoch %d: %s at lr %r, plan %r" %
                           (e, n, lr, want))
                break
    return bad


# ---------------------------------------------------------------------------
# plans

def make_plan(tmp, name, ckpt, ops, tail):
    path = os.path.join(tmp, name + ".yaml")
    rc, _, err = run_tui(ckpt, *ops, "-o", path)
    if rc != 0:
        raise RuntimeError("%s: %s" % (name, err[:300]))
    with open(path, "a", encoding="utf-8") as f:
        f.write(tail)
    return path


def write_safetensors(path, names):
    header, off = {}, 0
    for n in names:
        header[n] = {"dtype": "F32", "shape": [2], "data_offsets": [off,
                                                                 off + 8]}
        off += 8
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"\0" * off)


TRICKY = ["a.b", "a.b.c", "aXb.w", "layer1.0.w", "layer1.0x.w",
          "layer1.00.w", "m(x).w", "m[0].w", "m+.w", "d$.w", "back\\slash.w",
          'q"uote.w', "uni.\u00e9.w", "caret^.w", "brace{1}.w", "pipe|.w",
          "star*.w", "qm?.w", "x.1.y", "x.10.y", "sp ace.w", "k: v.w",
          "#hash.w", "head.w", "head.b"]

GOOD = [
    # name, checkpoint, ops that make stage 0, the plan's tail
    ("resnet_pt", "resnet18_sd.pt", ["--freeze", "**", "--unfreeze", "fc.*"],
     'stages:\n- epochs: 2\n- unfreeze: "layer4.**"\n  epochs: 3\n'
     '  lr: 1.0e-4\n- unfreeze: "layer3.**"\n  lr: 3.0e-5\n'
     'train:\n  epochs: 10\n  optimizer: {lr: 0.01}\n'),
    ("resnet_st", "resnet18.safetensors", ["--freeze", "layer*.**"],
     'stages:\n- epochs: 1\n- unfreeze: ["layer4.1.**", "layer4.0.bn*"]\n'
     '  epochs: 1\n  lr: 0.0005\n- freeze: "layer1.**"\n'
     '  unfreeze: ["layer4.**", "layer3.**"]\n  epochs: 2\n'
     '- unfreeze: "re:^layer[12]\\\\."\n  epochs: 4\n  lr: 2.0e-06\n'),
    ("bert", "bert_tiny.safetensors",
     ["--freeze", "**", "--unfreeze", "encoder.layer.11.**"],
     'stages:\n- epochs: 1\n- unfreeze: "encoder.layer.10.**"\n  epochs: 1\n'
     '- unfreeze: "encoder.layer.1.**"\n  epochs: 1\n  lr: 1.0e-05\n'
     '- unfreeze: "**"\n'),
    ("tied", "bert_mlm_tied_sd.pt",
     ["--freeze", "bert.**", "--freeze", "logit_scale"],
     'stages:\n- epochs: 3\n- unfreeze: "bert.embeddings.**"\n  epochs: 2\n'
     '- unfreeze: ["bert.**", "logit_scale"]\n'
     'train:\n  epochs: 7\n'),
    ("nostages", "bert_tiny.safetensors", ["--freeze", "embeddings.**"],
     'train:\n  epochs: 4\n  optimizer: {lr: 0.02}\n'),
    ("nostages_noend", "resnet18_sd.pt", ["--freeze", "layer1.**"], ''),
    ("max_steps", "resnet18_sd.pt", ["--freeze", "**", "--unfreeze", "fc.*"],
     'stages:\n- epochs: 2\n- unfreeze: "layer4.**"\n  epochs: 1\n'
     'train:\n  max_steps: 500\n'),
    ("tricky", "tricky.safetensors",
     ["--freeze", "**", "--unfreeze", "head.*"],
     'stages:\n- epochs: 1\n- unfreeze: ["a.**", "aXb.**", "layer1.0.**"]\n'
     '  epochs: 2\n- unfreeze: "**"\n  lr: 0.5\n  epochs: 1\n'),
]

REFUSED = [
    # name, checkpoint, ops, tail, what the message must say
    ("steps", "resnet18_sd.pt", ["--freeze", "**", "--unfreeze", "fc.*"],
     'stages:\n- steps: 100\n- unfreeze: "layer4.**"\n', "in steps"),
    ("refreeze", "resnet18_sd.pt", ["--freeze", "**", "--unfreeze", "fc.*"],
     'stages:\n- epochs: 1\n- unfreeze: "layer4.**"\n  epochs: 1\n'
     '- freeze: "fc.bias"\n  unfreeze: "layer3.**"\n',
     "stage 2 freezes again 1 parameter"),
    ("lr_scale", "resnet18_sd.pt", ["--freeze", "layer1.**"],
     'lr_scale:\n- {"fc.*": 10.0}\n', "lr_scale:"),
    ("layer_decay", "resnet18_sd.pt", ["--freeze", "layer1.**"],
     'layer_decay: {factor: 0.75}\n', "layer_decay:"),
    ("no_decay", "bert_tiny.safetensors", ["--freeze", "embeddings.**"],
     'no_decay: ["**.bias"]\n', "no_decay:"),
    ("empty_stage0", "resnet18_sd.pt", ["--freeze", "**"],
     'stages:\n- epochs: 1\n- unfreeze: "fc.*"\n',
     "stage 0 trains no parameter"),
    ("all_frozen", "bert_tiny.safetensors", ["--freeze", "**"], '',
     "every parameter is frozen"),
]


def ckpt_path(tmp, ck):
    return os.path.join(tmp, ck) if ck == "tricky.safetensors" else \
        os.path.join(MODELS, ck)


def test_good(tmp, case, folder=""):
    name, ck, ops, tail = case
    ckpt = ckpt_path(tmp, ck)
    if folder:
        os.mkdir(os.path.join(tmp, folder))
    plan = make_plan(os.path.join(tmp, folder), name, ckpt, ops, tail)
    named = named_params(ckpt)
    stages, end = expected(plan)
    rc, out, err = run_tui("--plan", plan, "--export", "fts")
    if not check(rc == 0 and not err, "%s: exported" % name,
                 "exit %s: %s" % (rc, err[:300])):
        return
    text = out.decode("utf-8")
    check(not compare(text, plan, named, stages, end),
          "%s: FTS run on the export trains the plan's stages" % name,
          compare(text, plan, named, stages, end))
    sched = yaml.safe_load(text)
    listed = [n for d in sched for n in sched[d]["params"] or []]
    check(all(n in named for n in listed),
          "%s: every entry is an exact named_parameters() name" % name,
          [n for n in listed if n not in named])
    if name == "tied":
        check("cls.predictions.decoder.weight" not in listed and
              "bert.embeddings.word_embeddings.weight" in
              (sched[1]["params"] or []),
              "tied: the tie group is listed once, under its first name",
              text[-600:])
    if name == "tricky":
        # read as regexes, these names would take others (a.b takes
        # a.b.c and aXb.w, layer1.0 takes layer1.0x.w and layer1.00.w)
        check(any(_compiles(n) and re.match(n, m)
                  for n in listed for m in named if m != n),
              "tricky: the names do trap a regex reading", listed)
    # the same export with -o: the plan is written, the view identical
    out_plan = os.path.join(tmp, name + ".again.yaml")
    rc2, out2, _ = run_tui("--plan", plan, "--export", "fts", "-o",
                           out_plan)
    check(rc2 == 0 and out2 == out and os.path.exists(out_plan),
          "%s: with -o the same export and the plan written" % name)
    guarded("%s damaged" % name, lambda: test_damaged(
        name, text, plan, named, stages, end))


def _compiles(p):
    try:
        re.compile(p)
        return True
    except re.error:
        return False


def test_damaged(name, text, plan, named, stages, end):
    """The checker must reject a schedule that differs from the plan."""
    sched = yaml.safe_load(text)
    last = max(sched)
    damages = []
    s = yaml.safe_load(text)
    if len(s[0]["params"]) > 1:
        s[0]["params"] = s[0]["params"][1:]
        damages.append(("a name dropped from phase 0", s))
    if last > 0:
        s = yaml.safe_load(text)
        s[0]["max_transition_epoch"] = s[0]["max_transition_epoch"] + 1
        damages.append(("phase 0 one epoch longer", s))
        s = yaml.safe_load(text)
        s[1]["params"] = s[1]["params"] + [s[0]["params"][0]]
        damages.append(("a name in two phases", s))
        s = yaml.safe_load(text)
        s[last]["lr"] = s[last]["lr"] * 2
        damages.append(("the last phase's lr doubled", s))
        s = yaml.safe_load(text)
        s[1]["params"] = [p.rsplit(".", 1)[0] if "." in p else p
                          for p in s[1]["params"]]
        damages.append(("phase 1's names cut to their module", s))
    for what, s in damages:
        check(compare(yaml.safe_dump(s), plan, named, stages, end),
              "%s: the checker rejects the export with %s" % (name, what))


def test_refused(tmp, case):
    name, ck, ops, tail, says = case
    plan = make_plan(tmp, "r_" + name, ckpt_path(tmp, ck), ops, tail)
    rc, out, err = run_tui("--plan", plan, "--export", "fts")
    msg = err.decode("utf-8", "replace")
    check(rc == 2 and one_line(err) and out == b"" and
          msg.startswith("tui: %s: " % plan) and says in msg,
          "%s: refused in one line naming the plan (%s)" % (name, says),
          "exit %s, %d bytes out: %s" % (rc, len(out), msg[:300]))
    out_plan = os.path.join(tmp, "r_%s.out.yaml" % name)
    rc, out, err = run_tui("--plan", plan, "--export", "fts", "-o",
                           out_plan)
    check(rc == 2 and out == b"" and not os.path.exists(out_plan),
          "%s: with -o nothing is written" % name,
          "exit %s: %s" % (rc, err[:300]))


def main():
    if checks.missing_tui(NAME):
        return 1
    with tempfile.TemporaryDirectory(prefix="export_fts.") as tmp:
        write_safetensors(os.path.join(tmp, "tricky.safetensors"), TRICKY)
        for case in GOOD:
            guarded(case[0], lambda c=case: test_good(tmp, c))
        # the plan's path is in the output's first comment: a folder
        # name with YAML line breaks (\n, U+0085, U+2028) and bytes that
        # are not UTF-8 must not end the comment or spoil the file
        weird = "we\nird\u0085x\u2028y"
        if sys.getfilesystemencoding() == "utf-8":
            weird += "\udcff"  # the byte 0xff (surrogateescape)
        guarded("weird folder", lambda: test_good(
            tmp, ("weird",) + GOOD[0][1:], folder=weird))
        for case in REFUSED:
            guarded(case[0], lambda c=case: test_refused(tmp, c))
        rc, _, err = run_tui("--export", "bogus",
                             os.path.join(MODELS, "resnet18_sd.pt"))
        check(rc == 2 and b"fts" in err,
              "an unknown format's message lists fts", err[:300])
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
