#!/usr/bin/python3
"""test_apply_plan.py: python/tui_plan/'s apply_plan against tui's plans.

For resnet18, mobilenet_v3_small, efficientnet_b0 and the small
VisionTransformer (the $FIX/models state_dict fixtures), makes plans with
tui (a pattern, a preset, a pattern then --invert), builds the same
torchvision model in Python, applies the plan and checks:

- every named_parameters() requires_grad equals `trainable` in
  `tui --list --json --plan P CHECKPOINT`, both on a model in the
  checkpoint's dtype (fingerprint equal: the frozen list) and on an fp32
  one (fingerprint differs: the rules resolved again; a preset's rule
  that matches nothing there is a PlanError unless allow_empty);
- the returned list is exactly the trainable parameters (the same
  objects), in named_parameters() order;
- with batchnorm: freeze-stats, after model.train() and a forward pass a
  norm layer is in eval mode exactly when none of its own parameters
  train;
- freeze-stats: a frozen BatchNorm keeps its running stats through a
  forward pass in train mode (after a second train() too), a trainable
  one (and a half-frozen one) moves; with batchnorm: train the frozen one
  moves too;
- hand-written rules-only plans (no fingerprint) freeze what tui does;
- torch.save(model)/torch.load, pickle and copy.deepcopy work after
  apply_plan, every copy keeps the policy, and each copy's policy is its
  own (re-applying a plan to one leaves the others as they were);
- a second plan fully replaces the first (freezing, held norm layers,
  no duplicate hooks);
- strict in both directions: a frozen list naming what the model lacks
  raises PlanError listing the names (strict=False applies the rest), a
  buffer name is accepted, a rule that matches nothing raises naming
  it, a list-only plan made for another model (even one more parameter)
  raises (strict=False applies it with a warning); a file that is not a
  plan raises PlanError; a refused plan leaves the model untouched;
- wrapper prefixes: a DataParallel-like `.module`, a `_orig_mod`
  (torch.compile) and an `_fsdp_wrapped_module` submodule take an
  unwrapped plan with a PlanWarning; a plan made on a `module.`
  checkpoint fits the wrapped model and tells an unwrapped one why not;
- load_plan reads back names that YAML 1.1 would read as numbers,
  dates, booleans or nulls if tui wrote them plain;
- tied weights: TinyBertMLM (tests/fixtures/gen_models.py, decoder tied
  to the word embeddings) takes a plan made with `--freeze
  cls.predictions.decoder` on bert_mlm_tied_sd.pt and freezes the shared
  weight, as do a hand-written list and rule naming the alias;
- the norm rule is the trainer's: on a model with BatchNorm2d(affine=False)
  (not held: no parameters), a frozen and a half-frozen BatchNorm2d, a
  tracked InstanceNorm2d and a GroupNorm, the layers kept in eval are
  those `tui --headless` keeps (report.json frozen_norm_layers), when
  this build has the trainer.

Env: TUI, FIX. Prints "test_apply_plan: N passed, N failed".
"""
import copy
import io
import json
import os
import pickle
import sys
import tempfile
import warnings

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import tui_plan  # noqa: E402
from checks import check, tui  # noqa: E402

MODELS = os.path.join(checks.FIX, "models")
nn = torch.nn
# what apply_plan warns about is checked where it matters (quiet())
warnings.simplefilter("ignore", tui_plan.PlanWarning)


def tui_trainable(plan, ckpt):
    """name -> trainable for the parameters of `tui --list --json --plan`."""
    return dict(checks.tui_parameters("--plan", plan, ckpt))


def make_vit():
    import gen_models
    return gen_models.make_vit()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def hand_written(path, ckpt, body):
    """A plan without fingerprint: version, model.path and `body`."""
    return write(path, "version: 1\nmodel: {path: %s}\n%s"
                 % (json.dumps(ckpt), body))


def all_params(model):
    """name -> Parameter for every name, tied aliases included."""
    out = {}
    for mname, m in model.named_modules(remove_duplicate=False):
        for k, p in m._parameters.items():
            if p is not None:
                out[(mname + "." if mname else "") + k] = p
    return out


def raises(fn, *args, **kw):
    """The PlanError fn raises, or None."""
    try:
        fn(*args, **kw)
    except tui_plan.PlanError as e:
        return e
    return None


def quiet(fn, *args, **kw):
    """fn(...) with PlanWarnings recorded: (result, [warning texts])."""
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always", tui_plan.PlanWarning)
        out = fn(*args, **kw)
    return out, [str(w.message) for w in ws
                 if issubclass(w.category, tui_plan.PlanWarning)]


def norm_modes_wrong(model, x):
    """After train() and a forward pass: the norm layers whose mode is not
    the trainer's rule (eval exactly when it has running stats and own
    parameters, all frozen)."""
    model.train()
    with torch.no_grad():
        model(x)
    wrong = []
    for n, m in model.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            own = list(m.parameters(recurse=False))
            if m.training != any(p.requires_grad for p in own):
                wrong.append(n)
    return wrong


def same_grad(model, want):
    return [n for n, p in model.named_parameters()
            if p.requires_grad != want.get(n)]


def in_order(got, model):
    expect = [p for _, p in model.named_parameters() if p.requires_grad]
    return len(got) == len(expect) and all(a is b for a, b in
                                           zip(got, expect))


# model name -> (constructor, checkpoint, its dtype, input, [(label, ops)])
CASES = [
    ("resnet18", torchvision.models.resnet18, "resnet18_sd.pt",
     torch.float32, (2, 3, 32, 32), [
         ("pattern", ["--freeze", "layer1", "--freeze", "layer2.*.bn?"]),
         ("preset", ["--preset", "resnet-backbone:k=1"]),
         ("invert", ["--freeze", "layer4", "--invert"]),
     ]),
    ("mobilenet_v3_small",
     lambda: torchvision.models.mobilenet_v3_small(num_classes=10),
     "mobilenet_v3_small_bf16.pt", torch.bfloat16, (2, 3, 32, 32), [
         ("pattern", ["--freeze", "features.{0..3}"]),
         ("preset", ["--preset", "bitfit"]),
         ("invert", ["--preset", "head-only", "--invert"]),
     ]),
    ("efficientnet_b0",
     lambda: torchvision.models.efficientnet_b0(num_classes=10),
     "efficientnet_b0_fp16.pt", torch.float16, (2, 3, 32, 32), [
         ("pattern", ["--freeze", "features.{0..4}"]),
         ("preset", ["--preset", "head-only"]),
         ("invert", ["--freeze", "**.bias", "--invert"]),
     ]),
    ("vit_tiny", make_vit, "vit_tiny_sd.pt", torch.float32, (2, 3, 32, 32), [
        ("pattern", ["--freeze", "encoder.layers.encoder_layer_0",
                     "--freeze", "class_token", "--freeze", "conv_proj"]),
        ("preset", ["--preset", "norms-only"]),
        ("invert", ["--freeze", "re:ln", "--invert"]),
    ]),
]


def check_model(tmp, mname, ctor, ckpt_rel, dtype, shape, plans):
    ckpt = os.path.join(MODELS, ckpt_rel)
    x = torch.randn(*shape)
    for label, ops in plans:
        what = "%s %s (%s)" % (mname, label, " ".join(ops))
        plan = os.path.join(tmp, "%s_%s.yaml" % (mname, label))
        tui(*ops, "-o", plan, ckpt)
        want = tui_trainable(plan, ckpt)
        model = ctor().to(dtype)
        got = tui_plan.apply_plan(model, plan)
        named = list(model.named_parameters())
        check(sorted(want) == sorted(n for n, _ in named),
              what + ": tui's parameters are named_parameters()")
        check(not same_grad(model, want),
              what + ": requires_grad == tui's trainable",
              same_grad(model, want)[:6])
        nt = sum(want.values())
        check(0 < nt < len(want),
              what + ": the plan freezes some and trains some (%d of %d)"
              % (nt, len(want)))
        check(in_order(got, model),
              what + ": returns the trainable parameters in order")
        wrong = norm_modes_wrong(model.float(), x)
        check(not wrong, what + ": after train() and a forward, exactly the "
              "fully frozen BatchNorms are in eval", wrong[:6])
        if dtype == torch.float32:
            continue
        # an fp32 model: another fingerprint, so the rules are resolved
        model = ctor()
        err = raises(tui_plan.apply_plan, model, plan)
        if err is not None:
            check("matches nothing" in str(err) and "allow_empty=True"
                  in str(err) and all(p.requires_grad
                                      for p in model.parameters()),
                  what + ": fp32 model: a rule that matches nothing is "
                  "refused, the model untouched", str(err))
            got, ws = quiet(tui_plan.apply_plan, model, plan,
                            allow_empty=True)
            check(any("matches nothing" in w for w in ws),
                  what + ": allow_empty=True warns about the rule", ws)
        check(not same_grad(model, want),
              what + ": fp32 model (rules resolved again): requires_grad "
              "== tui's trainable", same_grad(model, want)[:6])


def rules_only(tmp):
    """Hand-written plans without fingerprint: the rules are resolved."""
    cases = [
        ("resnet18", torchvision.models.resnet18, "resnet18_sd.pt",
         '- freeze: "**"\n- unfreeze: "layer4"\n- unfreeze: "fc"\n'),
        ("resnet18", torchvision.models.resnet18, "resnet18_sd.pt",
         '- freeze: "re:bn"\n- invert: true\n- unfreeze: "**.bias"\n'),
        ("vit_tiny", make_vit, "vit_tiny_sd.pt",
         '- freeze: "encoder.layers.*.mlp"\n- freeze: "class_token"\n'),
    ]
    for k, (mname, ctor, rel, rules) in enumerate(cases):
        ckpt = os.path.join(MODELS, rel)
        plan = hand_written(os.path.join(tmp, "rules%d.yaml" % k), ckpt,
                            "rules:\n" + rules)
        what = "rules-only %s %s" % (mname, rules.replace("\n", " "))
        want = tui_trainable(plan, ckpt)
        model = ctor()
        got = tui_plan.apply_plan(model, plan)
        check(not same_grad(model, want) and in_order(got, model),
              what + ": freezes what tui freezes", same_grad(model, want)[:6])
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = hand_written(os.path.join(tmp, "rules_empty.yaml"), ckpt,
                        'rules:\n- freeze: "layer1"\n- freeze: "layer9"\n')
    model = torchvision.models.resnet18()
    err = raises(tui_plan.apply_plan, model, plan)
    check(err is not None and "rules_empty.yaml:5:3: rule 'freeze: layer9' "
          "matches nothing" in str(err),
          "rules-only: a rule that matches nothing is named, with its line",
          str(err))
    tui_plan.apply_plan(model, plan, allow_empty=True)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    check(frozen and all(n.startswith("layer1.") for n in frozen),
          "rules-only: allow_empty=True applies the other rules")


def bn_stats(tmp):
    """freeze-stats keeps a frozen BN's running stats; train moves them."""
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = os.path.join(tmp, "bn.yaml")
    tui("--freeze", "conv1", "--freeze", "bn1", "--freeze", "layer1",
        "--freeze", "layer2.0.bn1.weight", "-o", plan, ckpt)
    with open(plan) as f:
        text = f.read()
    check("\nbatchnorm: freeze-stats\n" in text,
          "bn: tui writes batchnorm: freeze-stats")
    sd = torch.load(ckpt, map_location="cpu")
    names = ("bn1", "layer1.0.bn2", "layer2.0.bn1", "layer4.1.bn2")

    def forward(model):
        mods = dict(model.named_modules())
        before = {n: (mods[n].running_mean.clone(),
                      mods[n].num_batches_tracked.clone()) for n in names}
        model(torch.randn(2, 3, 32, 32))
        moved = {n: not torch.equal(before[n][0], mods[n].running_mean)
                 for n in names}
        counted = {n: int(mods[n].num_batches_tracked - before[n][1])
                   for n in names}
        training = {n: mods[n].training for n in names}
        return moved, counted, training

    def run(plan_path):
        torch.manual_seed(0)
        model = torchvision.models.resnet18()
        model.load_state_dict(sd)
        tui_plan.apply_plan(model, plan_path)
        model.train()
        return forward(model) + (model,)

    moved, counted, training, model = run(plan)
    check(not moved["bn1"] and not moved["layer1.0.bn2"],
          "bn freeze-stats: frozen BNs keep running_mean after a train-mode "
          "forward", moved)
    check(counted["bn1"] == 0 and not training["bn1"],
          "bn freeze-stats: frozen bn1 in eval, batches not counted",
          (counted, training))
    check(moved["layer4.1.bn2"] and counted["layer4.1.bn2"] == 1
          and training["layer4.1.bn2"],
          "bn freeze-stats: a trainable BN moves", (moved, counted))
    check(moved["layer2.0.bn1"] and training["layer2.0.bn1"],
          "bn freeze-stats: a half-frozen BN (weight only) still moves")
    model.eval()
    model.train(True)
    moved, counted, training = forward(model)
    check(not moved["bn1"] and not training["bn1"],
          "bn freeze-stats: after a second model.train() the frozen BN "
          "still runs in eval", (moved, training))

    plan_train = os.path.join(tmp, "bn_train.yaml")
    write(plan_train, text.replace("\nbatchnorm: freeze-stats\n",
                                   "\nbatchnorm: train\n"))
    tui("--summary", "--plan", plan_train, ckpt)  # still a valid plan
    moved, counted, training, _ = run(plan_train)
    check(moved["bn1"] and counted["bn1"] == 1 and training["bn1"],
          "bn train policy: the frozen BN follows train() and moves",
          (moved, counted, training))


def ddp_wrap(tmp):
    """apply_plan on the bare model, then DistributedDataParallel (gloo, one
    process, as in docs/python.md's torchrun script): a step leaves the frozen ones and the held BNs'
    statistics unchanged and moves the rest, and after train() through the
    wrapper the frozen BNs still run in eval."""
    import socket
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = os.path.join(tmp, "ddp_wrap.yaml")
    tui("--freeze", "conv1", "--freeze", "bn1", "--freeze", "layer1", "-o",
        plan, ckpt)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                            rank=0, world_size=1)
    try:
        model = torchvision.models.resnet18()
        model.load_state_dict(torch.load(ckpt, map_location="cpu"))
        params = tui_plan.apply_plan(model, plan)
        before = {n: t.detach().clone() for n, t in model.state_dict().items()}
        ddp = DDP(model)
        trainable = [p for p in model.parameters() if p.requires_grad]
        check(len(params) == len(trainable) and
              {id(p) for p in params} == {id(p) for p in trainable},
              "ddp: apply_plan returns the trainable parameters, those DDP "
              "reduces", (len(params), len(trainable)))
        opt = torch.optim.SGD(params, lr=0.1)
        ddp.train()
        loss = ddp(torch.randn(4, 3, 32, 32)).sum()
        check(not model.bn1.training and model.layer2[0].bn1.training,
              "ddp: a forward after train() through the wrapper runs the "
              "frozen bn1 in eval, a trainable BN in train")
        loss.backward()
        opt.step()
        after = model.state_dict()
        frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
        changed = [n for n in frozen if not torch.equal(before[n], after[n])]
        check(frozen and not changed, "ddp: frozen parameters unchanged", changed)
        check(torch.equal(before["bn1.running_mean"], after["bn1.running_mean"]),
              "ddp: the frozen bn1's statistics unchanged")
        moved = [n for n, p in model.named_parameters() if p.requires_grad
                 and not torch.equal(before[n], after[n])]
        check(len(moved) == len(trainable), "ddp: every trainable parameter moved",
              len(moved))
        check(all(p.grad is None for p in model.parameters() if not p.requires_grad),
              "ddp: no gradient on a frozen parameter")
    finally:
        dist.destroy_process_group()


def bn_held(model):
    """BN name -> (runs in eval after train() and a forward, its
    running_mean unchanged by that forward)."""
    before = {n: m.running_mean.clone() for n, m in model.named_modules()
              if isinstance(m, nn.BatchNorm2d)}
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    mods = dict(model.named_modules())
    return {n: (not mods[n].training,
                torch.equal(before[n], mods[n].running_mean))
            for n in before}


def hooks_of(model):
    """How many tui_plan hooks each module has (those with any)."""
    out = {}
    for n, m in model.named_modules():
        k = sum(1 for h in m._forward_pre_hooks.values()
                if getattr(h, "__module__", "").startswith("tui_plan"))
        if k:
            out[n] = k
    return out


def persistence(tmp):
    """torch.save, pickle and deepcopy after apply_plan; each copy's
    policy is its own."""
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = os.path.join(tmp, "persist.yaml")
    tui("--freeze", "conv1", "--freeze", "bn1", "--freeze", "layer1",
        "-o", plan, ckpt)
    plan_train = write(os.path.join(tmp, "persist_train.yaml"), open(
        plan).read().replace("batchnorm: freeze-stats", "batchnorm: train"))
    model = torchvision.models.resnet18()
    tui_plan.apply_plan(model, plan)
    copies = {}
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    copies["torch.save"] = torch.load(buf)
    copies["pickle"] = pickle.loads(pickle.dumps(model))
    copies["deepcopy"] = copy.deepcopy(model)
    grads = {n: p.requires_grad for n, p in model.named_parameters()}
    for how, m in copies.items():
        check({n: p.requires_grad for n, p in m.named_parameters()} == grads,
              how + ": the copy keeps requires_grad")
        held = bn_held(m)
        check(held["bn1"] == (True, True) and held["layer1.0.bn1"] ==
              (True, True) and held["layer4.0.bn1"] == (False, False),
              how + ": the copy keeps its frozen BNs in eval after train()",
              held)
    # change one: the others keep their own policy
    tui_plan.apply_plan(copies["deepcopy"], plan_train)
    check(bn_held(copies["deepcopy"])["bn1"] == (False, False),
          "deepcopy: a plan applied to the copy changes the copy")
    for how, m in [("original", model), ("torch.save", copies["torch.save"]),
                   ("pickle", copies["pickle"])]:
        check(bn_held(m)["bn1"] == (True, True),
              how + ": unaffected by the plan applied to the deepcopy")
    tui_plan.apply_plan(model, plan_train)
    check(bn_held(copies["pickle"])["bn1"] == (True, True),
          "pickle: unaffected by a plan applied to the original")


def replace(tmp):
    """A second plan fully replaces the first."""
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    a = os.path.join(tmp, "replace_a.yaml")
    b = os.path.join(tmp, "replace_b.yaml")
    tui("--freeze", "layer1", "-o", a, ckpt)
    tui("--freeze", "layer4", "-o", b, ckpt)
    model = torchvision.models.resnet18()
    tui_plan.apply_plan(model, a)
    tui_plan.apply_plan(model, a)
    hooks = hooks_of(model)
    check(sorted(hooks) == sorted(n for n in dict(model.named_modules())
                                  if n.startswith("layer1.") and ".bn" in n)
          and set(hooks.values()) == {1},
          "replace: the same plan twice holds layer1's BNs, one hook each",
          hooks)
    tui_plan.apply_plan(model, b)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    check(frozen and all(n.startswith("layer4.") for n in frozen),
          "replace: the second plan's frozen set replaces the first's")
    held = bn_held(model)
    check(held["layer1.0.bn1"] == (False, False)
          and held["layer4.0.bn1"] == (True, True)
          and all(n.startswith("layer4.") for n in hooks_of(model)),
          "replace: layer1's BNs follow train() again, layer4's are held",
          (held, hooks_of(model)))
    write(b, open(b).read().replace("batchnorm: freeze-stats",
                                    "batchnorm: train"))
    tui_plan.apply_plan(model, b)
    check(not hooks_of(model) and bn_held(model)["layer4.0.bn1"] ==
          (False, False),
          "replace: batchnorm: train removes every hold")


def strictness(tmp):
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = os.path.join(tmp, "strict.yaml")
    tui("--freeze", "layer4", "--freeze", "fc", "-o", plan, ckpt)
    with open(plan) as f:
        text = f.read()
    mobilenet = torchvision.models.mobilenet_v3_small(num_classes=10)
    err = raises(tui_plan.apply_plan, mobilenet, plan)
    check(err is not None and plan in str(err)
          and "rule 'freeze: layer4' matches nothing" in str(err)
          and "allow_empty=True" in str(err),
          "strict: a resnet18 plan on mobilenet: its rules (the fingerprint "
          "differs) name what matches nothing", str(err))
    check(all(p.requires_grad for p in mobilenet.parameters()),
          "strict: a refused plan leaves the model untouched")
    got = tui_plan.apply_plan(mobilenet, plan, allow_empty=True)
    check(len(got) == len(list(mobilenet.parameters())),
          "allow_empty=True: rules that match nothing freeze nothing")

    # a list-only plan (no rules) made for another model
    list_only = write(os.path.join(tmp, "list_only.yaml"),
                      text.replace('rules:\n- freeze: "layer4"\n'
                                   '- freeze: "fc"\n', ""))
    err = raises(tui_plan.apply_plan, mobilenet, list_only)
    check(err is not None and "made for another model" in str(err)
          and "strict=False" in str(err),
          "strict: a list-only plan made for another model is refused",
          str(err))
    got, ws = quiet(tui_plan.apply_plan, mobilenet, list_only, strict=False)
    check(len(got) == len(list(mobilenet.parameters()))
          and any("lacks 17 name(s)" in w and "layer4.0.conv1.weight" in w
                  for w in ws),
          "strict=False: applies what it can, warning with the count and "
          "the names", ws)
    bigger = torchvision.models.resnet18()
    bigger.extra = torch.nn.Linear(2, 2)
    err = raises(tui_plan.apply_plan, bigger, list_only)
    check(err is not None and "cannot say whether this model's other "
          "parameters should train" in str(err),
          "strict: a list-only plan never saw a parameter of the model "
          "(fingerprint differs): refused", str(err))
    r18 = torchvision.models.resnet18()
    tui_plan.apply_plan(r18, list_only)
    frozen = {n for n, p in r18.named_parameters() if not p.requires_grad}
    check(frozen == {n for n, _ in r18.named_parameters()
                     if n.startswith(("layer4.", "fc."))},
          "strict: the list-only plan on its own model (fingerprint equal)")

    # a name the model lacks, on the right model
    bogus = write(os.path.join(tmp, "bogus.yaml"), text.replace(
        "frozen:\n", "frozen:\n- layer5.0.conv1.weight\n"))
    err = raises(tui_plan.apply_plan, r18, bogus)
    check(err is not None and "lacks 1 name(s)" in str(err)
          and "layer5.0.conv1.weight" in str(err),
          "strict: PlanError names the unknown tensor", str(err))
    # naming a buffer is allowed (buffers are never trainable)
    buf = write(os.path.join(tmp, "buffer.yaml"), text.replace(
        "frozen:\n", "frozen:\n- bn1.running_mean\n"))
    got = tui_plan.apply_plan(r18, buf)
    want = [p for n, p in r18.named_parameters()
            if not n.startswith(("layer4.", "fc."))]
    check(len(got) == len(want) and all(a is b for a, b in zip(got, want)),
          "strict: a buffer in frozen is accepted")
    for name, body in [("version 2", "version: 2\nfrozen: []\n"),
                       ("typo", text.replace("frozen:", "frozn:")),
                       ("bad rule", text.replace("- freeze:", "- freez:")),
                       ("not yaml", "version: [1\n")]:
        err = raises(tui_plan.apply_plan, r18, write(
            os.path.join(tmp, "bad.yaml"), body))
        check(err is not None, "a bad plan file (%s) raises PlanError" % name)


class Wrap(nn.Module):
    """DataParallel/torch.compile/FSDP-like: the model under `attr`."""

    def __init__(self, attr, inner):
        super().__init__()
        setattr(self, attr, inner)
        self.attr = attr

    def forward(self, *a):
        return getattr(self, self.attr)(*a)


def prefixes(tmp):
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = os.path.join(tmp, "prefix.yaml")
    tui("--freeze", "layer1", "--freeze", "fc", "-o", plan, ckpt)
    want = tui_trainable(plan, ckpt)
    wraps = [
        ("module.", lambda m: Wrap("module", m)),
        ("_orig_mod.", lambda m: Wrap("_orig_mod", m)),
        ("module._orig_mod.", lambda m: Wrap("module", Wrap("_orig_mod", m))),
    ]
    for label, wrap in wraps:
        inner = torchvision.models.resnet18()
        got, ws = quiet(tui_plan.apply_plan, wrap(inner), plan)
        check(any("wrapper prefixes" in w and label in w for w in ws),
              "prefix %s: a PlanWarning says it stripped it" % label, ws)
        check(not same_grad(inner, want) and in_order(got, inner),
              "prefix %s: the wrapped model freezes what the plan says"
              % label, same_grad(inner, want)[:6])
    inner = torchvision.models.resnet18()
    inner.layer1 = Wrap("_fsdp_wrapped_module", inner.layer1)
    got, ws = quiet(tui_plan.apply_plan, inner, plan)
    frozen = {n for n, p in inner.named_parameters() if not p.requires_grad}
    check(ws and len(frozen) == len(want) - sum(want.values())
          and all(n.startswith(("layer1._fsdp_wrapped_module.", "fc."))
                  for n in frozen),
          "prefix _fsdp_wrapped_module. (mid-name): stripped, with a warning",
          (ws, sorted(frozen)[:4]))
    _, ws = quiet(tui_plan.apply_plan, torchvision.models.resnet18(), plan)
    check(not ws, "no prefix: no warning", ws)

    # a plan made on a checkpoint saved from a DDP model
    sd = torch.load(ckpt, map_location="cpu")
    ddp = os.path.join(tmp, "ddp_sd.pt")
    torch.save({"module." + k: v for k, v in sd.items()}, ddp)
    ddp_plan = os.path.join(tmp, "ddp.yaml")
    tui("--freeze", "module.layer1", "-o", ddp_plan, ddp)
    err = raises(tui_plan.apply_plan, torchvision.models.resnet18(), ddp_plan)
    check(err is not None and "wrapper prefix" in str(err),
          "prefix: a module. plan on an unwrapped model says why", str(err))
    inner = torchvision.models.resnet18()
    _, ws = quiet(tui_plan.apply_plan, Wrap("module", inner), ddp_plan)
    frozen = {n for n, p in inner.named_parameters() if not p.requires_grad}
    check(not ws and frozen and all(n.startswith("layer1.") for n in frozen),
          "prefix: a module. plan fits the wrapped model as is", ws)


def tied(tmp):
    import gen_models
    ckpt = os.path.join(MODELS, "bert_mlm_tied_sd.pt")
    plan = os.path.join(tmp, "tied.yaml")
    tui(ckpt, "--freeze", "cls.predictions.decoder", "-o", plan)
    want = tui_trainable(plan, ckpt)
    lists = [("tui's plan", plan),
             ("a hand-written list", hand_written(
                 os.path.join(tmp, "tied_list.yaml"), ckpt,
                 "frozen:\n- cls.predictions.decoder.weight\n")),
             ("a hand-written rule", hand_written(
                 os.path.join(tmp, "tied_rule.yaml"), ckpt,
                 'rules:\n- freeze: "cls.predictions.decoder"\n'))]
    for label, p in lists:
        check(tui_trainable(p, ckpt) == want,
              "tied: tui reads %s alike" % label)
        torch.manual_seed(0)
        model = gen_models.TinyBertMLM()
        shared = model.bert.embeddings.word_embeddings.weight
        check(model.cls.predictions.decoder.weight is shared,
              "tied: the decoder weight is the word embeddings")
        got = tui_plan.apply_plan(model, p)
        params = all_params(model)
        check(sorted(params) == sorted(want),
              "tied: tui's parameters are every name of the model")
        check(not shared.requires_grad
              and all(params[n].requires_grad == t for n, t in want.items()),
              "tied: %s freezes the shared weight, as tui" % label)
        check(in_order(got, model) and all(q is not shared for q in got),
              "tied: the shared weight is not returned")


# names that YAML 1.1 or 1.2 would read as something else if written plain
ODD_NAMES = ["1_000", "0x1F", "1e5", "yes", "No", "~", "null", ".inf", "1:20",
             "2001-12-14", "2001-12-14t21:59:43.10-05:00", "0o17", "+1", ".5",
             "-", "a: b", "#x", "<<", "=", "off", "12:30:45", ".NaN", "0",
             "-0", "'x", '"x', "[x", "{x", "? x", "x #y", " x", "x ", "\u00e9"]


def odd_names(tmp):
    """load_plan reads back every name tui writes."""
    from reference import st_save
    ckpt = os.path.join(tmp, "odd.safetensors")
    st_save(ckpt, {n: torch.zeros(1) for n in ODD_NAMES})
    plan = os.path.join(tmp, "odd.yaml")
    tui(ckpt, "--freeze", "re:.", "-o", plan)
    frozen = tui_plan.load_plan(plan).frozen
    check(sorted(frozen) == sorted(ODD_NAMES),
          "odd names: load_plan reads back the names tui wrote",
          sorted(set(map(repr, frozen)) ^ set(map(repr, ODD_NAMES))))


class Norms(nn.Module):
    """Every case of the trainer's norm rule."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.bn_plain = nn.BatchNorm2d(4, affine=False)  # no parameters
        self.bn = nn.BatchNorm2d(4)
        self.bn_half = nn.BatchNorm2d(4)
        self.inorm = nn.InstanceNorm2d(4, affine=True,
                                       track_running_stats=True)
        self.gn = nn.GroupNorm(2, 4)  # parameters, no running stats
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        x = self.bn_half(self.bn(self.bn_plain(self.conv(x))))
        return self.head(self.gn(self.inorm(x)).mean((2, 3)))


def norm_rule(tmp):
    torch.manual_seed(0)
    model = Norms()
    script = os.path.join(tmp, "norms.ts.pt")
    torch.jit.script(model).save(script)
    from reference import st_save
    st_save(os.path.join(tmp, "norms_data.safetensors"),
            {"x": torch.randn(16, 4, 4, 4), "y": torch.randint(0, 3, (16,))})
    plan = hand_written(
        os.path.join(tmp, "norms.yaml"), "norms.ts.pt",
        'rules:\n- freeze: "**"\n- unfreeze: "conv"\n'
        '- unfreeze: "bn_half.bias"\n- unfreeze: "head"\n'
        "batchnorm: freeze-stats\n"
        "train:\n  model: norms.ts.pt\n"
        "  data: {train: norms_data.safetensors, inputs: x, targets: y}\n"
        "  loss: cross_entropy\n  optimizer: {name: sgd, lr: 0.1}\n"
        "  batch_size: 8\n  max_steps: 2\n  device: cpu\n  seed: 0\n")
    tui_plan.apply_plan(model, plan)
    before = {n: m.running_mean.clone() for n, m in model.named_modules()
              if getattr(m, "running_mean", None) is not None}
    model.train()
    model(torch.randn(8, 4, 4, 4))
    mods = dict(model.named_modules())
    held = sorted(n for n, m in mods.items() if n and not m.training)
    check(held == ["bn", "inorm"],
          "norm rule: eval after train() for the frozen BatchNorm2d and the "
          "tracked InstanceNorm2d only (not affine=False, half-frozen, "
          "GroupNorm)", held)
    moved = {n: not torch.equal(before[n], mods[n].running_mean)
             for n in before}
    check(moved == {"bn_plain": True, "bn": False, "bn_half": True,
                    "inorm": False},
          "norm rule: BatchNorm2d(affine=False) trains its stats, the held "
          "layers keep theirs", moved)
    if not os.path.exists(os.path.join(os.path.dirname(checks.TUI),
                                       "libtui-train.so")):
        print("test_apply_plan: skipped (no-trainer): no trainer in this "
              "build: the norm rule is not compared with tui --headless")
        return
    out = os.path.join(tmp, "norms_run")
    rc, _, err = checks.run_tui("--headless", "--plan", plan, "-o", out)
    if not check(rc == 0, "norm rule: tui --headless trains the model",
                 err.decode(errors="replace")):
        return
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    check(report["frozen_norm_layers"] == len(held)
          and report["norm_stats_unchanged"],
          "norm rule: tui --headless keeps as many norm layers in eval (%d)"
          % len(held), report)


def main():
    if checks.missing_tui("test_apply_plan"):
        return 1
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="apply_plan.") as tmp:
        jobs = [(c[0], lambda c=c: check_model(tmp, *c)) for c in CASES]
        jobs += [("rules_only", lambda: rules_only(tmp)),
                 ("bn_stats", lambda: bn_stats(tmp)),
                 ("persistence", lambda: persistence(tmp)),
                 ("replace", lambda: replace(tmp)),
                 ("strictness", lambda: strictness(tmp)),
                 ("prefixes", lambda: prefixes(tmp)),
                 ("tied", lambda: tied(tmp)),
                 ("odd_names", lambda: odd_names(tmp)),
                 ("norm_rule", lambda: norm_rule(tmp)),
                 ("ddp_wrap", lambda: ddp_wrap(tmp))]
        for label, job in jobs:
            checks.guarded(label, job)
    return checks.finish("test_apply_plan")


if __name__ == "__main__":
    sys.exit(main())
