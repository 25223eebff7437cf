#!/usr/bin/python3
"""test_plan_stages_py.py: python/tui_plan's staged plans (tui_plan.stages)
against the C core and the trainer (issue #15, item 5).

(a) Resolution, on resnet18, bert_tiny, vit_tiny (torchvision's ViT),
    a timm-named ViT-B/16 name set and bert_mlm_tied_sd.pt (a tied
    decoder), names, kinds and tie groups from `tui --list --json`:
    for several staged plans (rules on top of the previous stage, freeze
    then unfreeze, tensors frozen again, epochs, layer_decay, lr_scale,
    no_decay), plan.lr_scales() equals `tui --summary --json`'s lr
    (every parameter's layer id, lr scale bitwise, no_decay; the number
    of ids), plan.stage_sets() gives each stage the frozen set that tui
    gives (`tui --list --json` on the plan whose rules are the plan's
    followed by every stage's up to it) and the summary's counts (thaws,
    freezes, trainable tensors and numel, a tied parameter once), and
    each stage's length and lr read back as the summary prints them.
(b) Training: resnet18 (tests/fixtures/train, 12 steps in 3 stages, the
    plans of test_stages_train.py: SGD momentum with warmup and cosine;
    AdamW with layer_decay, lr_scale, no_decay), plus a plan that freezes
    again in stage 1 (half a BatchNorm and fc.weight) what stage 0
    trained and thaws it again in stage 2 (momentum, weight decay): a
    plain PyTorch loop using apply_plan, param_groups, plan.stage_at,
    enter_stage and set_lr gives every step's loss as
    `tui --headless` prints it, the trainer's stage of every step, and
    its final weights and buffers bitwise; for the first two also
    bitwise tests/train/reference_stages.py's add_param_group loop (the
    loop test_stages_train.py holds the trainer to).
(c) Bad input: every bad plan of a table (lengths, lrs, factors, scales,
    stage shapes, lengths past the run's end, unknown keys, patterns that
    do not compile, rules or patterns that match nothing, a stage that
    changes nothing) raises PlanError with the very line `tui --summary
    --plan` prints on exit 2; and the Python-only errors (stage_at on a
    plan in epochs without steps_per_epoch, enter_stage on no stage).

Run from the repository root: BUILD=build /usr/bin/python3 \
tests/parity/test_plan_stages_py.py. Env: TUI, FIX.
Prints "test_plan_stages_py: N passed, N failed".
"""
import json
import os
import sys
import tempfile
import warnings

import torch
import torch.nn.functional as F
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, HERE)
import checks  # noqa: E402
import reference  # noqa: E402
import reference_stages  # noqa: E402
import test_stages_train  # noqa: E402
import tui_plan  # noqa: E402
from checks import check  # noqa: E402

NAME = "test_plan_stages_py"
MODELS = os.path.join(checks.FIX, "models")
warnings.simplefilter("ignore", tui_plan.PlanWarning)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def listing(ckpt):
    """(tensors as (name, kind), tie groups, numel by name, alias names)
    of `tui --list --json CKPT`."""
    doc = checks.tui_json("--list", "--json", ckpt)
    tensors = [(t["name"], t["kind"]) for t in doc["tensors"]]
    groups = {}
    for t in doc["tensors"]:
        if t.get("tied_to"):
            groups.setdefault(t["tied_to"], [t["tied_to"]]).append(t["name"])
    numel = {t["name"]: t["numel"] for t in doc["tensors"]}
    alias = {t["name"] for t in doc["tensors"] if t.get("tied_to")}
    return tensors, list(groups.values()), numel, alias


def q(s):
    return json.dumps(s)


def tui_frozen(plan):
    """The parameters `tui --list --json --plan PLAN` shows frozen."""
    doc = checks.tui_json("--list", "--json", "--plan", plan)
    return {t["name"] for t in doc["tensors"]
            if t["kind"] == "parameter" and not t["trainable"]}


# ---------------------------------------------------------------------------
# (a) resolution against --summary --json and --list --json

def resolve_case(tmp, label, ckpt, body):
    path = write(os.path.join(tmp, label + ".yaml"),
                 "version: 1\nmodel: {path: %s}\n%s" % (q(ckpt), body))
    tensors, aliases, numel, alias = listing(ckpt)
    summary = checks.tui_json("--summary", "--json", "--plan", path)
    plan = tui_plan.load_plan(path)
    lr = plan.lr_scales(tensors, aliases)
    want = summary["lr"]["tensors"]
    got = {n: {"layer": v.layer, "lr_scale": v.lr_scale,
               "no_decay": v.no_decay} for n, v in lr.items()}
    check(got == want, f"{label}: every parameter's layer id, lr scale "
          "(bitwise) and no_decay as --summary --json",
          [(n, got.get(n), want.get(n)) for n in sorted(set(got) | set(want))
           if got.get(n) != want.get(n)])
    layers = max(v.layer for v in lr.values()) + 1 \
        if plan.layer_decay is not None else 0
    check(layers == summary["lr"]["layers"] and
          plan.layer_decay == summary["lr"]["layer_decay"],
          f"{label}: {layers} layer ids at factor {plan.layer_decay}",
          (layers, summary["lr"]["layers"], summary["lr"]["layer_decay"]))
    if not plan.stages:
        return
    sets = plan.stage_sets(tensors, aliases)
    rows = summary["stages"]
    check(len(sets) == len(rows) == len(plan.stages),
          f"{label}: {len(rows)} stages", (len(sets), len(rows)))
    params = [n for n, k in tensors if k == "parameter"]
    counted = [n for n in params if n not in alias]    # a tie group once
    mine = []
    for k, s in enumerate(sets):
        prev = sets[k - 1] if k else s
        train = [n for n in counted if n not in s]
        row = {"stage": k, "thaws": sum(n in prev and n not in s
                                        for n in counted),
               "freezes": sum(n not in prev and n in s for n in counted),
               "trainable_numel": sum(numel[n] for n in train),
               "trainable_tensors": len(train)}
        st = plan.stages[k]
        for key, v in (("steps", st.steps), ("epochs", st.epochs),
                       ("lr", st.lr)):
            if v is not None:
                row[key] = v
        mine.append(row)
    theirs = [{k: r[k] for k in r if k != "total_bytes"} for r in rows]
    check(mine == theirs, f"{label}: each stage's length, lr, thaws, "
          "freezes and trainable tensors and numel as --summary --json",
          [f"stage {i}: python {a} tui {b}" for i, (a, b) in
           enumerate(zip(mine, theirs)) if a != b])
    # the exact sets: the plan's rules, then every stage's up to k
    doc = yaml.safe_load(open(path))
    rules = [(next(iter(r)), next(iter(r.values()))) for r in doc["rules"]]
    bad = []
    for k, s in enumerate(sets):
        for r in plan.stages[k].rules:
            rules.append((r.kind, r.pattern))
        flat = write(os.path.join(tmp, f"{label}.flat{k}.yaml"),
                     "version: 1\nmodel: {path: %s}\nrules:\n%s" % (
                         q(ckpt), "".join("- %s: %s\n" % (kind, q(p))
                                          for kind, p in rules)))
        theirs = tui_frozen(flat)
        if set(s) != theirs:
            bad.append(f"stage {k}: python only {sorted(set(s) - theirs)[:4]},"
                       f" tui only {sorted(theirs - set(s))[:4]}")
    check(not bad, f"{label}: each stage's frozen set is tui's "
          f"({', '.join(str(len(s)) for s in sets)} frozen)", bad)
    print(f"{label}: {len(sets)} stages, {len(lr)} parameters, {layers} "
          "layer ids: sets, counts and lr scales equal tui's")


def timm_vit(tmp):
    names = ["cls_token", "pos_embed", "patch_embed.proj.weight",
             "patch_embed.proj.bias"]
    for i in range(12):
        for part in ("norm1.weight", "norm1.bias", "attn.qkv.weight",
                     "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                     "norm2.weight", "norm2.bias", "mlp.fc1.weight",
                     "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"):
            names.append(f"blocks.{i}.{part}")
    names += ["norm.weight", "norm.bias", "head.weight", "head.bias"]
    path = os.path.join(tmp, "vit_b16_timm.safetensors")
    reference.st_save(path, {n: torch.zeros(2, 2) if n.endswith("weight")
                             else torch.zeros(2) for n in names})
    return path


def resolution(tmp):
    r18 = os.path.join(MODELS, "resnet18.safetensors")
    resolve_case(tmp, "resnet18-3stages", r18, """\
rules:
- freeze: "**"
- unfreeze: fc
stages:
- steps: 4
- unfreeze: layer4
  steps: 4
  lr: 1.0e-4
- freeze: [fc.bias, "layer4.1.bn2"]
  unfreeze: ["layer{2,3}", "layer4.1.bn2.bias"]
  lr: 3e-5
lr_scale:
- {"**": 1.0}
- {"fc.*": 10.0}
- {"layer4.1": 0.5}
layer_decay: {factor: 0.75}
no_decay: ["**.bias", "**.bn{1,2}.weight"]
""")
    resolve_case(tmp, "resnet18-epochs", r18, """\
rules:
- freeze: layer1
- freeze: "re:^layer2\\\\."
stages:
- epochs: 1
- freeze: ["layer3.{0..1}.bn*", fc.weight]
  epochs: 2
- unfreeze: ["re:^layer(1|2)\\\\.0\\\\."]
  epochs: 1
- unfreeze: ["**"]
  freeze: [conv1]
layer_decay: {factor: 0.5}
""")
    bert = os.path.join(MODELS, "bert_tiny.safetensors")
    resolve_case(tmp, "bert_tiny", bert, """\
rules:
- freeze: "**"
- unfreeze: pooler
stages:
- steps: 10
- unfreeze: "encoder.layer.{8..11}"
  steps: 20
  lr: 2e-5
- unfreeze: "**"
  freeze: embeddings.word_embeddings
lr_scale:
- {pooler: 5}
layer_decay: {factor: 0.65}
no_decay: ["**.bias", "**.LayerNorm.*"]
""")
    vit = os.path.join(MODELS, "vit_tiny.safetensors")
    resolve_case(tmp, "vit_tiny", vit, """\
rules:
- freeze: "**"
- unfreeze: heads
stages:
- steps: 3
- unfreeze: [encoder.layers.encoder_layer_1, encoder.ln]
  steps: 3
- unfreeze: "**"
  lr: 1.0e-5
layer_decay: {factor: 0.8}
no_decay: "**.bias"
""")
    resolve_case(tmp, "vit_b16_timm", timm_vit(tmp), """\
rules:
- freeze: "**"
- unfreeze: head
stages:
- steps: 100
- unfreeze: ["blocks.{8..11}", norm]
  steps: 100
  lr: 1.0e-4
- freeze: [head.bias]
  unfreeze: ["**"]
  lr: 1.0e-5
lr_scale:
- {"head.*": 10}
- {"blocks.11.**": 2}
layer_decay: {factor: 0.75}
no_decay: [cls_token, pos_embed, "**.bias", "**.norm*"]
""")
    tied = os.path.join(MODELS, "bert_mlm_tied_sd.pt")
    resolve_case(tmp, "bert_mlm_tied", tied, """\
rules:
- freeze: "**"
- unfreeze: cls
stages:
- steps: 5
- freeze: [bert.embeddings.word_embeddings]
  unfreeze: [bert.encoder.layer.1]
  steps: 5
- unfreeze: ["**"]
lr_scale:
- {cls.predictions.decoder: 3}
layer_decay: {factor: 0.75}
no_decay: [logit_scale]
""")
    resolve_case(tmp, "resnet18-lr-only", r18, """\
rules:
- freeze: layer1
lr_scale:
- {"layer{3,4}": 2.5}
- {"layer4.1": 3}
no_decay: ["**.bn*.*"]
""")

# ---------------------------------------------------------------------------
# (b) a Python loop with the helpers against the trainer


def make_opt(p, groups):
    """The plan's optimizer, its defaults as a user writes them."""
    if p.opt in ("sgd", "momentum"):
        return torch.optim.SGD(groups, lr=p.lr, momentum=p.momentum,
                               weight_decay=p.wd)
    cls = torch.optim.Adam if p.opt == "adam" else torch.optim.AdamW
    return cls(groups, lr=p.lr, betas=p.betas, eps=p.eps, weight_decay=p.wd)


def run_helpers(plan_path):
    """The staged plan trained by a plain loop with tui_plan's helpers:
    returns losses, weights (parameters and buffers), the stage of every
    step and the optimizer."""
    torch._C._set_graph_executor_optimize(False)
    doc = yaml.safe_load(open(plan_path))
    p = reference.Plan(plan_path, device="cpu", doc=doc)
    model, _ = reference.setup_model(p, torch.device("cpu"))
    plan = tui_plan.load_plan(plan_path)
    model.train()                   # a TorchScript module: before the plan
    tui_plan.apply_plan(model, plan_path)
    opt = make_opt(p, tui_plan.param_groups(model, plan, p.lr, p.wd))
    data, _ = reference.st_load(p.data)
    x_all, y_all = data[p.inputs], data[p.targets]
    n_train = x_all.shape[0] - int(x_all.shape[0] * p.val_fraction)
    spe = (n_train + p.batch - 1) // p.batch
    total = p.max_steps if p.max_steps else p.epochs * spe
    torch.manual_seed(p.seed)
    stage, losses, seen, perm, perm_epoch = 0, [], [], None, -1
    for step in range(total):
        while stage < plan.stage_at(step, spe):
            stage += 1
            tui_plan.enter_stage(model, opt, plan, stage)
        seen.append(stage)
        epoch, pos = divmod(step, spe)
        if epoch != perm_epoch:
            g = torch.Generator()
            g.manual_seed(p.seed + epoch)
            perm, perm_epoch = torch.randperm(n_train, generator=g), epoch
        idx = perm[pos * p.batch:(pos + 1) * p.batch]
        tui_plan.set_lr(opt, lambda base: reference.lr_at(p, step, total, base))
        out = model(x_all[idx])
        loss = F.cross_entropy(out[0] if isinstance(out, tuple) else out,
                               y_all[idx])
        losses.append(loss.item())
        loss.backward()
        if p.clip > 0:
            torch.nn.utils.clip_grad_norm_(
                [q for g in opt.param_groups for q in g["params"]], p.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
    w = {k: t.detach().clone() for k, t in model.named_parameters()}
    w.update({k: t.detach().clone() for k, t in model.named_buffers()})
    return {"losses": losses, "weights": w, "stages": seen, "opt": opt,
            "model": model}


def train_case(tmp, label, plan, with_reference, extra=None):
    out = os.path.join(tmp, "run-" + label)
    env = dict(os.environ, TUI_THREADS=str(torch.get_num_threads()))
    rc, _, err = checks.run_tui("--headless", "--plan", plan, "--device", "cpu",
                                "-o", out, env=env, timeout=None)
    if not check(rc == 0, f"{label}: tui --headless exit 0",
                 err.decode(errors="replace")[-600:]):
        return
    mine = run_helpers(plan)
    steps = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))
             if '"loss"' in l]
    got = [float("%.9g" % x) for x in mine["losses"]]
    want = [s["loss"] for s in steps]
    check(got == want, f"{label}: every step's loss as the trainer's",
          [f"step {i + 1}: loop {a} tui {b}" for i, (a, b) in
           enumerate(zip(got, want)) if a != b] or (len(got), len(want)))
    check(mine["stages"] == [s.get("stage") for s in steps] ==
          [0] * 4 + [1] * 4 + [2] * 4, f"{label}: plan.stage_at gives the "
          "trainer's stage of every step", (mine["stages"],
                                            [s.get("stage") for s in steps]))
    tw, _ = reference.st_load(os.path.join(out, "weights.safetensors"))
    diff = [k for k in mine["weights"] if k not in tw or
            not torch.equal(tw[k], mine["weights"][k])]
    check(not diff and len(tw) == len(mine["weights"]),
          f"{label}: final weights and buffers bitwise the trainer's", diff)
    if with_reference:
        rc, so, se = checks.run_tui("--summary", "--json", "--plan", plan)
        ref = reference_stages.run_staged(plan, json.loads(so)["lr"])
        diff = [k for k in ref["weights"]
                if not torch.equal(ref["weights"][k], mine["weights"][k])]
        check(ref["losses"] == mine["losses"] and not diff and
              ref["stages"] == mine["stages"], f"{label}: bitwise "
              "reference_stages.py's add_param_group loop (losses, weights)",
              diff or [(a, b) for a, b in zip(ref["losses"], mine["losses"])
                       if a != b])
    if extra:
        extra(mine)
    print(f"{label}: 12 steps in 3 stages, the helper loop equals "
          f"tui --headless; last loss {got[-1] if got else '?'}")


def rethaw_checks(mine):
    """The optimizer of the re-thaw plan: bn2.weight kept its place and
    its momentum, split out of its stage-0 group into one of stage 2."""
    opt, model = mine["opt"], mine["model"]
    params = dict(model.named_parameters())
    where = {id(q): g for g in opt.param_groups for q in g["params"]}
    order = [q for g in opt.param_groups for q in g["params"]]
    names = {id(q): n for n, q in params.items()}
    l4 = [n for n in params if n.startswith("layer4.") or n.startswith("fc.")]
    first = [names[id(q)] for q in order[:len(l4)]]
    w, b = params["layer4.1.bn2.weight"], params["layer4.1.bn2.bias"]
    fc = params["fc.weight"]
    check(where[id(w)]["tui_stage"] == 2 and where[id(b)]["tui_stage"] == 0
          and where[id(fc)]["tui_stage"] == 2 and where[id(w)] is not
          where[id(b)] and where[id(w)]["lr"] == where[id(w)]["tui_scale"] *
          reference.lr_at(reference.Plan(PLANS["rethaw"], device="cpu"), 11,
                          12, 1.0e-4),
          "re-thaw: the tensors stage 1 froze again are in stage 2's lr, "
          "their own groups", [(k, where[id(v)]["tui_stage"]) for k, v in
                               (("w", w), ("b", b), ("fc", fc))])
    check(first == l4 and "momentum_buffer" in opt.state[w] and
          len(order) == len(params) == len(set(map(id, order))),
          "re-thaw: the optimizer's order is the trainer's (stage 0 first, "
          "each parameter once), the state kept", first[:3])


def groups_as_summary(plan_path):
    """A check for train_case: every param group's scale, lr and weight
    decay are what the summary's lr says for each of its parameters."""
    rc, so, se = checks.run_tui("--summary", "--json", "--plan", plan_path)
    info = json.loads(so)["lr"]["tensors"]
    p = reference.Plan(plan_path, device="cpu")

    def run(mine):
        names = {id(t): n for n, t in mine["model"].named_parameters()}
        bad, fresh = [], tui_plan.param_groups(
            mine["model"], plan_path, p.lr, p.wd)
        for g in mine["opt"].param_groups:
            for t in g["params"]:
                n = names[id(t)]
                wd = p.wd if t.dim() >= 2 and not info[n]["no_decay"] else 0.0
                if g["tui_scale"] != info[n]["lr_scale"] or \
                        g["weight_decay"] != wd:
                    bad.append((n, g["tui_scale"], g["weight_decay"]))
        for g in fresh:
            if g["lr"] != p.lr * g["tui_scale"] or g["tui_stage"] != 0:
                bad.append(("param_groups lr", g["lr"], g["tui_scale"]))
        check(not bad and len(fresh) < sum(len(g["params"]) for g in fresh),
              "the optimizer's groups: each parameter's lr scale and weight "
              "decay as --summary --json (neighbours share a group); "
              "param_groups' lr = lr x scale", bad)
    return run


def eager(tmp):
    """An eager model: the hook policy through the stages, .grad of a
    tensor frozen again cleared, the groups and their lrs."""
    from collections import OrderedDict
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(3, 4, 3), bn1=nn.BatchNorm2d(4),
        pool=nn.AdaptiveAvgPool2d(1), flat=nn.Flatten(), fc=nn.Linear(4, 2)))
    ckpt = os.path.join(tmp, "eager.safetensors")
    reference.st_save(ckpt, model.state_dict())
    path = write(os.path.join(tmp, "eager.yaml"), """\
version: 1
model: {path: %s}
rules:
- freeze: "**"
- unfreeze: fc
stages:
- steps: 2
- unfreeze: bn1
  steps: 2
  lr: 0.5
- freeze: fc.weight
  unfreeze: conv1
lr_scale:
- {fc: 2}
""" % q(ckpt))
    rc, _, err = checks.run_tui("--summary", "--plan", path)
    check(rc == 0, "eager plan: tui accepts it", err)
    plan = tui_plan.load_plan(path)
    tui_plan.apply_plan(model, path)
    groups = tui_plan.param_groups(model, plan, 0.1, 0.01)
    check([(len(g["params"]), g["lr"], g["weight_decay"]) for g in groups] ==
          [(1, 0.2, 0.01), (1, 0.2, 0.0)], "eager: param_groups for fc "
          "(lr x 2, weight decay on the matrix only)",
          [(len(g["params"]), g["lr"], g["weight_decay"]) for g in groups])
    opt = torch.optim.SGD(groups, lr=0.1, weight_decay=0.01)
    x = torch.randn(4, 3, 6, 6)
    model.train()
    rm = model.bn1.running_mean.clone()
    model(x).sum().backward()                  # grads left in place
    check(torch.equal(model.bn1.running_mean, rm),
          "eager: stage 0 holds the frozen BatchNorm in eval")
    thawed, refrozen = tui_plan.enter_stage(model, opt, plan, 1)
    g = opt.param_groups[-1]
    check(thawed == ["bn1.weight", "bn1.bias"] and not refrozen and
          len(opt.param_groups) == 3 and g["lr"] == 0.5 and
          g["weight_decay"] == 0.0 and g["tui_stage"] == 1 and
          model.bn1.weight.requires_grad, "eager: stage 1 thaws bn1 as one "
          "new group at its lr", (thawed, refrozen, len(opt.param_groups)))
    model(x).sum().backward()
    check(not torch.equal(model.bn1.running_mean, rm),
          "eager: stage 1 gives bn1 back to train mode")
    had = model.fc.weight.grad is not None
    thawed, refrozen = tui_plan.enter_stage(model, opt, plan, 2)
    check(had and thawed == ["conv1.weight", "conv1.bias"] and
          refrozen == ["fc.weight"] and model.fc.weight.grad is None and
          not model.fc.weight.requires_grad and
          [len(g["params"]) for g in opt.param_groups] == [1, 1, 2, 1, 1]
          and opt.param_groups[-1]["lr"] == 1.0 * 0.1,
          "eager: stage 2 freezes fc.weight again (its .grad cleared) and "
          "thaws conv1 at the run's lr", (thawed, refrozen,
                                          [len(g["params"]) for g in
                                           opt.param_groups]))
    tui_plan.set_lr(opt, lambda base: base * 0.5)
    check([g["lr"] for g in opt.param_groups] == [0.1, 0.1, 0.25, 0.05, 0.05],
          "eager: set_lr gives each group schedule(stage lr) x scale",
          [g["lr"] for g in opt.param_groups])


PLANS = {}


def training(tmp):
    lib = os.path.join(os.path.dirname(checks.TUI), "libtui-train.so")
    if not os.path.exists(lib) and not os.environ.get("TUI_TRAIN_LIB"):
        print(f"{NAME}: training skipped (no-trainer): no trainer in this "
              "build (TORCH=off)")
        return
    mk = test_stages_train.make_plan
    PLANS["momentum"] = mk(tmp, "momentum.yaml",
                           {"name": "momentum", "lr": 0.01, "momentum": 0.9},
                           {"name": "cosine", "warmup_steps": 2}, {})
    PLANS["adamw"] = mk(tmp, "adamw.yaml",
                        {"name": "adamw", "lr": 0.001, "weight_decay": 0.01},
                        {"name": "constant"},
                        {"layer_decay": {"factor": 0.75},
                         "lr_scale": [{"fc": 2.0}], "no_decay": ["**.bn*"]})
    PLANS["rethaw"] = mk(
        tmp, "rethaw.yaml",
        {"name": "momentum", "lr": 0.01, "momentum": 0.9,
         "weight_decay": 1.0e-4}, {"name": "linear_warmup", "warmup_steps": 3},
        {"rules": [{"freeze": "**"}, {"unfreeze": "layer4"},
                   {"unfreeze": "fc"}],
         "stages": [{"steps": 4},
                    {"freeze": ["layer4.1.bn2.weight", "fc.weight"],
                     "unfreeze": ["layer3"], "steps": 4, "lr": 5.0e-4},
                    {"unfreeze": ["**"], "lr": 1.0e-4}]})
    checks.guarded("momentum", lambda: train_case(
        tmp, "momentum", PLANS["momentum"], True))
    checks.guarded("adamw", lambda: train_case(
        tmp, "adamw+layer_decay", PLANS["adamw"], True,
        groups_as_summary(PLANS["adamw"])))
    checks.guarded("rethaw", lambda: train_case(
        tmp, "freeze-again+rethaw", PLANS["rethaw"], False, rethaw_checks))

# ---------------------------------------------------------------------------
# (c) bad input: the C core's line, from Python


BAD = [
    # (label, stages/lr keys after `rules: [freeze: "**"]`, train: or None)
    ("steps 0", "stages:\n- steps: 0\n- unfreeze: fc\n"),
    ("steps negative", "stages:\n- steps: -3\n- unfreeze: fc\n"),
    ("steps quoted", "stages:\n- steps: \"4\"\n- unfreeze: fc\n"),
    ("steps float", "stages:\n- steps: 2.5\n- unfreeze: fc\n"),
    ("epochs list", "stages:\n- epochs: [1]\n- unfreeze: fc\n"),
    ("lr word", "stages:\n- steps: 2\n- unfreeze: fc\n  lr: abc\n"),
    ("lr zero", "stages:\n- steps: 2\n- unfreeze: fc\n  lr: 0\n"),
    ("lr negative", "stages:\n- steps: 2\n- unfreeze: fc\n  lr: -1e-3\n"),
    ("lr overflow", "stages:\n- steps: 2\n- unfreeze: fc\n  lr: 1e999\n"),
    ("lr .inf", "stages:\n- steps: 2\n- unfreeze: fc\n  lr: .inf\n"),
    ("factor 1.5", "layer_decay: {factor: 1.5}\n"),
    ("factor 0", "layer_decay:\n  factor: 0\n"),
    ("factor quoted", "layer_decay: {factor: \"0.5\"}\n"),
    ("layer_decay scalar", "layer_decay: 0.5\n"),
    ("layer_decay empty", "layer_decay: {}\n"),
    ("layer_decay typo", "layer_decay: {facter: 0.5}\n"),
    ("lr_scale empty", "lr_scale: []\n"),
    ("lr_scale zero", "lr_scale:\n- {fc: 0}\n"),
    ("lr_scale two keys", "lr_scale:\n- {fc: 2, conv1: 3}\n"),
    ("lr_scale mapping", "lr_scale: {fc: 2}\n"),
    ("lr_scale bad pattern", "lr_scale:\n- {\"fc{\": 2}\n"),
    ("no_decay empty", "no_decay: []\n"),
    ("no_decay list item", "no_decay: [[fc]]\n"),
    ("one stage", "stages:\n- steps: 3\n"),
    ("stages mapping", "stages: {steps: 3}\n"),
    ("stage not a mapping", "stages:\n- 5\n- unfreeze: fc\n"),
    ("stage 0 rules", "stages:\n- steps: 3\n  unfreeze: fc\n- unfreeze: fc\n"),
    ("stage 0 lr", "stages:\n- steps: 3\n  lr: 0.1\n- unfreeze: fc\n"),
    ("stage without rules", "stages:\n- steps: 3\n- steps: 3\n"),
    ("no length", "stages:\n- steps: 3\n- unfreeze: fc\n- unfreeze: \"**\"\n"),
    ("units mixed", "stages:\n- steps: 3\n- unfreeze: fc\n  epochs: 1\n"
     "- unfreeze: \"**\"\n"),
    ("steps and epochs", "stages:\n- steps: 3\n  epochs: 1\n- unfreeze: fc\n"),
    ("unknown stage key", "stages:\n- step: 3\n- unfreeze: fc\n"),
    ("empty unfreeze", "stages:\n- steps: 3\n- unfreeze: []\n"),
    ("empty pattern", "stages:\n- steps: 3\n- unfreeze: \"\"\n"),
    ("bad stage pattern", "stages:\n- steps: 3\n- unfreeze: [\"layer{1\"]\n"),
    ("past max_steps", "stages:\n- steps: 4\n- unfreeze: fc\n  steps: 4\n"
     "- unfreeze: \"**\"\ntrain: {max_steps: 6}\n"),
    ("last starts at the end", "stages:\n- steps: 6\n- unfreeze: fc\n"
     "train: {max_steps: 6}\n"),
    ("past epochs", "stages:\n- epochs: 2\n- unfreeze: fc\n"
     "train: {epochs: 2}\n"),
    # resolved on the checkpoint
    ("stage rule matches nothing", "stages:\n- steps: 3\n- unfreeze: [fc, "
     "nothing.here]\n"),
    ("stage changes nothing", "stages:\n- steps: 3\n- freeze: [fc]\n"),
    ("stage on buffers only", "stages:\n- steps: 3\n- unfreeze: "
     "\"**.running_mean\"\n"),
    ("lr_scale matches nothing", "lr_scale:\n- {fc: 2}\n- {\"nothing\": 2}\n"),
    ("no_decay matches nothing", "no_decay: [\"**.bias\", "
     "\"**.running_var\"]\n"),
]


def bad_input(tmp):
    r18 = os.path.join(MODELS, "resnet18.safetensors")
    head = "version: 1\nmodel: {path: %s}\nrules:\n- freeze: \"**\"\n" % q(r18)
    tensors, aliases, _, _ = listing(r18)
    for i, (label, body) in enumerate(BAD):
        path = write(os.path.join(tmp, "bad%02d.yaml" % i), head + body)
        rc, out, err = checks.run_tui("--summary", "--plan", path)
        err = err.decode(errors="replace")
        line = err[len("tui: "):].rstrip("\n") if err.startswith("tui: ") \
            else err
        try:
            plan = tui_plan.load_plan(path)
            plan.stage_sets(tensors, aliases)
            plan.lr_scales(tensors, aliases)
            mine = None
        except tui_plan.PlanError as e:
            mine = str(e)
        check(rc == 2 and err.count("\n") == 1 and line.startswith(path + ":")
              and mine == line, f"bad plan ({label}): PlanError is tui's "
              "line", [f"tui ({rc}): {line}", f"python: {mine}"])
    # and the good plan they are made from passes in both
    good = write(os.path.join(tmp, "good.yaml"), head + BAD[0][1].replace(
        "steps: 0", "steps: 1"))
    rc, _, err = checks.run_tui("--summary", "--plan", good)
    plan = tui_plan.load_plan(good)
    check(rc == 0 and len(plan.stage_sets(tensors, aliases)) == 2,
          "the same plan with a good length: accepted by both", err)
    print(f"bad input: {len(BAD)} plans, each one line from tui and the "
          "same PlanError from tui_plan")

    # Python-only: epochs need steps_per_epoch; stage_at; enter_stage's k
    ep = write(os.path.join(tmp, "epochs.yaml"), head +
               "stages:\n- epochs: 2\n- unfreeze: fc\n  epochs: 1\n"
               "- unfreeze: layer4\n")
    plan = tui_plan.load_plan(ep)
    try:
        plan.stage_at(0)
        msg = None
    except tui_plan.PlanError as e:
        msg = str(e)
    check(msg is not None and "steps_per_epoch" in msg and ep in msg,
          "stage_at on a plan in epochs without steps_per_epoch: PlanError",
          msg)
    got = [plan.stage_at(s, 5) for s in (0, 9, 10, 14, 15, 10 ** 6)]
    check(got == [0, 0, 1, 1, 2, 2] and plan.stage_starts(5) == [0, 10, 15],
          "stage_at and stage_starts in epochs of 5 steps",
          (got, plan.stage_starts(5)))
    for bad in (-1, 1.5):
        try:
            plan.stage_at(bad, 5)
            msg = None
        except tui_plan.PlanError as e:
            msg = str(e)
        check(msg is not None, f"stage_at({bad!r}): PlanError", msg)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for k in (0, 3):
        try:
            tui_plan.enter_stage(model, opt, plan, k)
            msg = None
        except tui_plan.PlanError as e:
            msg = str(e)
        check(msg is not None and "no stage %d" % k in msg and
              all(p.requires_grad for p in model.parameters()) and
              len(opt.param_groups) == 1,
              f"enter_stage(k={k}) on a 3-stage plan: PlanError, nothing "
              "changed", msg)


def main():
    if checks.missing_tui(NAME):
        return 1
    with tempfile.TemporaryDirectory(prefix="plan_stages_py.") as tmp:
        checks.guarded("resolution", lambda: resolution(tmp))
        checks.guarded("bad input", lambda: bad_input(tmp))
        checks.guarded("eager", lambda: eager(tmp))
        checks.guarded("training", lambda: training(tmp))
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
