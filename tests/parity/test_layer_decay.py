#!/usr/bin/python3
"""test_layer_decay.py: a plan's stages and learning rates resolved on real
name sets (issue #15, core), read back through `tui --summary --json`.

  - layer_decay: every parameter's layer id and lr scale equal what timm's
    param_groups_layer_decay gives (timm/optim/_param_groups.py, with
    group_with_matcher from timm/models/_manipulate.py, written out below
    as timm has them, and each model's own group_matcher: ResNet's
    `stem=^conv1|bn1|maxpool, blocks=^layer(\\d+)\\.(\\d+)`, the
    VisionTransformer's `stem=^cls_token|reg_token|pos_embed|patch_embed,
    blocks=[^blocks\\.(\\d+), (^norm, MATCH_PREV_GROUP)]`), on
    torchvision's resnet18 (its parameter names) and a ViT-B/16 in
    timm's naming, at factors 0.75 and 0.65: 10 and 14 ids;
  - lr_scale: the last item that matches a tensor gives its factor, times
    the layer's;
  - stages: the tensors each stage thaws equal the names its unfreeze
    pattern covers (counted here from the names);
  - bad input, one line naming PLAN:LINE:COL, exit 2: an lr_scale
    pattern that matches nothing, a stage rule that matches nothing, a
    stage that changes nothing.
Prints "test_layer_decay: N passed, N failed".
"""
import json
import math
import os
import re
import sys
import tempfile
from collections import defaultdict
from itertools import chain

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
import reference  # noqa: E402
from checks import check  # noqa: E402

NAME = "test_layer_decay"
MATCH_PREV_GROUP = (99999,)


def group_with_matcher(names, group_matcher):
    """timm's group_with_matcher(..., reverse=True) for a dict matcher."""
    compiled = []
    for group_ordinal, (group_name, mspec) in enumerate(group_matcher.items()):
        if mspec is None:
            continue
        if isinstance(mspec, (tuple, list)):
            for sspec in mspec:
                compiled += [(re.compile(sspec[0]), (group_ordinal,), sspec[1])]
        else:
            compiled += [(re.compile(mspec), (group_ordinal,), None)]

    def _get_grouping(name):
        for match_fn, prefix, suffix in compiled:
            r = match_fn.match(name)
            if r:
                parts = (prefix, r.groups(), suffix)
                return tuple(map(float, chain.from_iterable(filter(None, parts))))
        return float('inf'),

    grouping = defaultdict(list)
    for k in names:
        grouping[_get_grouping(k)].append(k)
    layer_id_to_param = defaultdict(list)
    lid = -1
    for k in sorted(filter(lambda x: x is not None, grouping.keys())):
        if lid < 0 or k[-1] != MATCH_PREV_GROUP[0]:
            lid += 1
        layer_id_to_param[lid].extend(grouping[k])
    return {n: lid for lid, lm in layer_id_to_param.items() for n in lm}


def timm_scales(names, matcher, layer_decay, min_scale=0.0):
    """param_groups_layer_decay's lr_scale per parameter name."""
    layer_map = group_with_matcher(names, matcher)
    num_layers = max(layer_map.values()) + 1
    layer_max = num_layers - 1
    layer_scales = [max(min_scale, layer_decay ** (layer_max - i))
                    for i in range(num_layers)]
    return ({n: layer_map.get(n, layer_max) for n in names},
            {n: layer_scales[layer_map.get(n, layer_max)] for n in names},
            num_layers)


RESNET = dict(stem=r'^conv1|bn1|maxpool', blocks=r'^layer(\d+)\.(\d+)')
VIT = dict(stem=r'^cls_token|reg_token|pos_embed|patch_embed',
           blocks=[(r'^blocks\.(\d+)', None), (r'^norm', MATCH_PREV_GROUP)])


def vit_names(depth=12):
    """timm's VisionTransformer (vit_base_patch16_224) parameter names."""
    names = ["cls_token", "pos_embed", "patch_embed.proj.weight",
             "patch_embed.proj.bias"]
    for i in range(depth):
        for part in ("norm1.weight", "norm1.bias", "attn.qkv.weight",
                     "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                     "norm2.weight", "norm2.bias", "mlp.fc1.weight",
                     "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"):
            names.append(f"blocks.{i}.{part}")
    return names + ["norm.weight", "norm.bias", "head.weight", "head.bias"]


def write_plan(path, ckpt, body):
    with open(path, "w") as f:
        f.write(f"version: 1\nmodel: {{path: {ckpt}}}\nrules: []\n{body}")


def summary(plan):
    rc, out, err = checks.run_tui("--summary", "--json", "--plan", plan)
    if rc != 0:
        raise RuntimeError(err.decode(errors="replace"))
    return json.loads(out)


def decay_case(tmp, label, ckpt, names, matcher, factor, want_layers):
    plan = os.path.join(tmp, f"{label}-{factor}.yaml")
    write_plan(plan, ckpt, f"layer_decay: {{factor: {factor}}}\n")
    got = summary(plan)["lr"]
    ids, scales, n = timm_scales(names, matcher, factor)
    check(got["layers"] == n == want_layers,
          f"{label} x{factor}: {got['layers']} layer ids, timm {n}, want {want_layers}")
    t = got["tensors"]
    bad = [(k, t.get(k), ids[k], scales[k]) for k in names
           if k not in t or t[k]["layer"] != ids[k] or
           not math.isclose(t[k]["lr_scale"], scales[k], rel_tol=1e-12)]
    check(len(t) == len(names) and not bad,
          f"{label} x{factor}: every parameter's layer id and lr scale as timm's",
          bad[:6])


def main():
    if checks.missing_tui(NAME):
        return 1
    with tempfile.TemporaryDirectory(prefix="layer_decay.") as tmp:
        r18 = torchvision.models.resnet18()
        rck = os.path.join(tmp, "resnet18.safetensors")
        reference.st_save(rck, r18.state_dict())
        rnames = [n for n, _ in r18.named_parameters()]
        vck = os.path.join(tmp, "vit.safetensors")
        vnames = vit_names()
        reference.st_save(vck, {n: torch.zeros(2) for n in vnames})
        for f in (0.75, 0.65):
            checks.guarded(f"resnet18 {f}", lambda f=f: decay_case(
                tmp, "resnet18", rck, rnames, RESNET, f, 10))
            checks.guarded(f"vit {f}", lambda f=f: decay_case(
                tmp, "vit", vck, vnames, VIT, f, 14))

        # lr_scale: the last matching item wins, times the layer's scale
        plan = os.path.join(tmp, "scale.yaml")
        write_plan(plan, rck, "layer_decay: {factor: 0.75}\nlr_scale:\n"
                   "- {\"layer4\": 2}\n- {\"layer4.1\": 3}\n")
        t = summary(plan)["lr"]["tensors"]
        _, base, _ = timm_scales(rnames, RESNET, 0.75)
        want = {n: base[n] * (3 if n.startswith("layer4.1.") else
                              2 if n.startswith("layer4.") else 1)
                for n in rnames}
        bad = [n for n in rnames if not math.isclose(t[n]["lr_scale"], want[n],
                                                     rel_tol=1e-12)]
        check(not bad, "lr_scale: the last matching item, times the layer's", bad[:5])

        # stages: what each thaws, counted from the names
        plan = os.path.join(tmp, "stages.yaml")
        with open(plan, "w") as f:
            f.write(f"version: 1\nmodel: {{path: {rck}}}\nrules:\n"
                    "- freeze: \"**\"\n- unfreeze: fc\nstages:\n- steps: 10\n"
                    "- unfreeze: [layer4]\n  steps: 10\n  lr: 1.0e-4\n"
                    "- unfreeze: [\"**\"]\n")
        st = summary(plan)["stages"]
        l4 = sum(n.startswith("layer4.") for n in rnames)
        check([s["thaws"] for s in st] == [0, l4, len(rnames) - l4 - 2],
              "stages: each thaws what its pattern covers",
              ([s["thaws"] for s in st], l4, len(rnames)))
        check([s["trainable_tensors"] for s in st] == [2, 2 + l4, len(rnames)],
              "stages: trainable tensors per stage", [s["trainable_tensors"] for s in st])
        check(st[1].get("lr") == 1e-4 and st[1].get("steps") == 10,
              "stages: length and lr read back", st[1])

        def bad_plan(label, text, where, what):
            p = os.path.join(tmp, label + ".yaml")
            with open(p, "w") as f:
                f.write(text)
            rc, out, err = checks.run_tui("--summary", "--plan", p)
            err = err.decode(errors="replace")
            check(rc == 2 and not out and err.count("\n") == 1 and
                  f"{p}:{where}:" in err and what in err,
                  f"bad plan ({label}): one line at {where}, exit 2", err)

        head = f"version: 1\nmodel: {{path: {rck}}}\nrules:\n- freeze: \"**\"\n"
        bad_plan("lr-nothing", head + "lr_scale:\n- {\"nothing.here\": 2}\n",
                 "6:3", "lr_scale pattern 'nothing.here' matches no parameter")
        bad_plan("stage-nothing", head + "stages:\n- steps: 5\n- unfreeze: "
                 "[nothing]\n", "7:14", "matches nothing")
        bad_plan("stage-same", head + "stages:\n- steps: 5\n- freeze: [fc]\n",
                 "7:3", "stage 1 changes nothing")
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
