#!/usr/bin/python3
"""test_apply_plan.py: python/tui_plan.py's apply_plan against tui's plans.

For resnet18, mobilenet_v3_small, efficientnet_b0 and the small
VisionTransformer (the $FIX/models state_dict fixtures), makes plans with
tui (a pattern, a preset, a pattern then --invert), builds the same
torchvision model in Python, applies the plan and checks:

- every named_parameters() requires_grad equals `trainable` in
  `tui --list --json --plan P CHECKPOINT`;
- the returned list is exactly the trainable parameters (the same
  objects), in named_parameters() order;
- with batchnorm: freeze-stats, a norm layer is in eval mode after
  model.train() exactly when none of its own parameters train;
- strict: a plan naming tensors the model lacks raises PlanError (and
  strict=False applies what it can); naming a buffer is allowed; a file
  that is not a plan raises PlanError;
- freeze-stats: a frozen BatchNorm keeps its running stats through a
  forward pass in train mode, a trainable one (and a half-frozen one)
  moves; with batchnorm: train the frozen one moves too.

Env: TUI, FIX. Prints "test_apply_plan: N passed, N failed".
"""
import os
import sys
import tempfile

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import tui_plan  # noqa: E402
from checks import check, tui  # noqa: E402

MODELS = os.path.join(checks.FIX, "models")


def tui_trainable(plan, ckpt):
    """name -> trainable for the parameters of `tui --list --json --plan`."""
    return dict(checks.tui_parameters("--plan", plan, ckpt))


def make_vit():
    import gen_models
    return gen_models.make_vit()


# model name -> (constructor, checkpoint, [(label, tui operations)])
CASES = [
    ("resnet18", torchvision.models.resnet18, "resnet18_sd.pt", [
        ("pattern", ["--freeze", "layer1", "--freeze", "layer2.*.bn?"]),
        ("preset", ["--preset", "resnet-backbone:k=1"]),
        ("invert", ["--freeze", "layer4", "--invert"]),
    ]),
    ("mobilenet_v3_small",
     lambda: torchvision.models.mobilenet_v3_small(num_classes=10),
     "mobilenet_v3_small_bf16.pt", [
         ("pattern", ["--freeze", "features.{0..3}"]),
         ("preset", ["--preset", "bitfit"]),
         ("invert", ["--preset", "head-only", "--invert"]),
     ]),
    ("efficientnet_b0",
     lambda: torchvision.models.efficientnet_b0(num_classes=10),
     "efficientnet_b0_fp16.pt", [
         ("pattern", ["--freeze", "features.{0..4}"]),
         ("preset", ["--preset", "head-only"]),
         ("invert", ["--freeze", "**.bias", "--invert"]),
     ]),
    ("vit_tiny", make_vit, "vit_tiny_sd.pt", [
        ("pattern", ["--freeze", "encoder.layers.encoder_layer_0",
                     "--freeze", "class_token", "--freeze", "conv_proj"]),
        ("preset", ["--preset", "norms-only"]),
        ("invert", ["--freeze", "re:ln", "--invert"]),
    ]),
]

NORMS = (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm,
         torch.nn.GroupNorm)


def check_model(tmp, mname, ctor, ckpt_rel, plans):
    ckpt = os.path.join(MODELS, ckpt_rel)
    for label, ops in plans:
        what = "%s %s (%s)" % (mname, label, " ".join(ops))
        plan = os.path.join(tmp, "%s_%s.yaml" % (mname, label))
        tui(*ops, "-o", plan, ckpt)
        want = tui_trainable(plan, ckpt)
        model = ctor()
        got = tui_plan.apply_plan(model, plan)
        named = list(model.named_parameters())
        check(sorted(want) == sorted(n for n, _ in named),
              what + ": tui's parameters are named_parameters()")
        bad = [n for n, p in named if p.requires_grad != want.get(n)]
        check(not bad, what + ": requires_grad == tui's trainable", bad[:6])
        nt = sum(want.values())
        check(0 < nt < len(want),
              what + ": the plan freezes some and trains some (%d of %d)"
              % (nt, len(want)))
        expect = [p for n, p in named if want.get(n)]
        check(len(got) == len(expect)
              and all(a is b for a, b in zip(got, expect)),
              what + ": returns the trainable parameters in order")
        model.train()
        wrong = []
        for n, m in model.named_modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                own = list(m.parameters(recurse=False))
                if m.training != any(p.requires_grad for p in own):
                    wrong.append(n)
        check(not wrong, what + ": after train(), exactly the fully frozen "
              "BatchNorms are in eval", wrong[:6])


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

    def run(plan_path):
        torch.manual_seed(0)
        model = torchvision.models.resnet18()
        model.load_state_dict(sd)
        tui_plan.apply_plan(model, plan_path)
        model.train()
        mods = dict(model.named_modules())
        names = ("bn1", "layer1.0.bn2", "layer2.0.bn1", "layer4.1.bn2")
        before = {n: (mods[n].running_mean.clone(),
                      mods[n].num_batches_tracked.clone()) for n in names}
        model(torch.randn(4, 3, 64, 64))
        moved = {n: not torch.equal(before[n][0], mods[n].running_mean)
                 for n in names}
        counted = {n: int(mods[n].num_batches_tracked - before[n][1])
                   for n in names}
        training = {n: mods[n].training for n in names}
        return moved, counted, training, model

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
    check(not dict(model.named_modules())["bn1"].training,
          "bn freeze-stats: a second model.train() keeps the frozen BN in eval")

    plan_train = os.path.join(tmp, "bn_train.yaml")
    with open(plan_train, "w") as f:
        f.write(text.replace("\nbatchnorm: freeze-stats\n",
                             "\nbatchnorm: train\n"))
    tui("--summary", "--plan", plan_train, ckpt)  # still a valid plan
    moved, counted, training, _ = run(plan_train)
    check(moved["bn1"] and counted["bn1"] == 1 and training["bn1"],
          "bn train policy: the frozen BN follows train() and moves",
          (moved, counted, training))


def strictness(tmp):
    ckpt = os.path.join(MODELS, "resnet18_sd.pt")
    plan = os.path.join(tmp, "strict.yaml")
    tui("--freeze", "layer4", "--freeze", "fc", "-o", plan, ckpt)
    model = torchvision.models.mobilenet_v3_small(num_classes=10)
    try:
        tui_plan.apply_plan(model, plan)
        check(False, "strict: resnet18 plan on mobilenet raises PlanError")
    except tui_plan.PlanError as e:
        msg = str(e)
        check("lacks 17 name(s)" in msg and "fc.bias" in msg
              and plan in msg,
              "strict: PlanError names the plan, the count and the names", msg)
    check(all(p.requires_grad for p in model.parameters()),
          "strict: a refused plan leaves the model untouched")
    got = tui_plan.apply_plan(model, plan, strict=False)
    check(len(got) == len(list(model.parameters())),
          "strict=False: the names it has (none) are frozen, the rest train")
    # a name the model lacks, on the right model
    r18 = torchvision.models.resnet18()
    with open(plan) as f:
        text = f.read()
    bogus = os.path.join(tmp, "bogus.yaml")
    with open(bogus, "w") as f:
        f.write(text.replace("frozen:\n", "frozen:\n- layer5.0.conv1.weight\n"))
    try:
        tui_plan.apply_plan(r18, bogus)
        check(False, "strict: one unknown name raises PlanError")
    except tui_plan.PlanError as e:
        check("layer5.0.conv1.weight" in str(e),
              "strict: PlanError names the unknown tensor", str(e))
    # naming a buffer is allowed (buffers are never trainable)
    buf = os.path.join(tmp, "buffer.yaml")
    with open(buf, "w") as f:
        f.write(text.replace("frozen:\n", "frozen:\n- bn1.running_mean\n"))
    got = tui_plan.apply_plan(r18, buf)
    want = [p for n, p in r18.named_parameters()
            if not n.startswith(("layer4.", "fc."))]
    check(len(got) == len(want) and all(a is b for a, b in zip(got, want)),
          "strict: a buffer in frozen is accepted")
    notplan = os.path.join(tmp, "notplan.yaml")
    with open(notplan, "w") as f:
        f.write("version: 2\nfrozen: []\n")
    try:
        tui_plan.apply_plan(r18, notplan)
        check(False, "a version 2 file raises PlanError")
    except tui_plan.PlanError:
        check(True, "")


def main():
    if checks.missing_tui("test_apply_plan"):
        return 1
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="apply_plan.") as tmp:
        jobs = [(lambda c=c: check_model(tmp, *c)) for c in CASES]
        jobs += [lambda: bn_stats(tmp), lambda: strictness(tmp)]
        for i, job in enumerate(jobs):
            checks.guarded("job %d" % i, job)
    return checks.finish("test_apply_plan")


if __name__ == "__main__":
    sys.exit(main())
