#!/usr/bin/python3
"""test_seed_parity.py: tui's patterns and presets against the seed recipes.

The seed article (shared/seed/freeze-layers-article.txt) freezes by
substring over `model.named_parameters()`:

    def top_n_layer_freeze(model, N):
        for n, p in model.named_parameters():
            if f".embeddings" in n: p.requires_grad = False
        for i in range(0, N, 1):
            for n, p in model.named_parameters():
                if f'encoder.layer.{i}.' in n: p.requires_grad = False

and `"layer1.0." in n` for a resnet18. Here the recipe runs verbatim on
real nn.Modules (a module tree carrying bert-base-uncased's real 206
parameter names on the meta device, torchvision's resnet18, the fixtures'
tiny BertModel) and its frozen set is compared with `tui --list --json`
after the matching tui operation:

  (a) bert-base-uncased: --preset bert-embeddings-first-n:n=N for
      N in 0, 1, 3, 6, 11, 12;
  (b) resnet18: --freeze layer1.0 vs "layer1.0." in n, --freeze layer1
      vs "layer1." in n;
  (c) a 24-layer BERT-like name list: encoder.layer.{0..5} freezes
      layers 0-5 only, where the naive substring "encoder.layer.1" also
      catches 10-19 (the trap) and the class [0-5]* catches 10-23;
  (d) a bare BertModel (names without "bert."): the recipe's
      ".embeddings" misses "embeddings.*"; the preset freezes them
      (documented divergence: the preset is the recipe's intent).

Env: TUI, FIX. Prints "test_seed_parity: N passed, N failed".
"""
import json
import os
import struct
import sys
import tempfile

import torch
import torch.nn as nn
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check  # noqa: E402

FIX = checks.FIX


def diff(got, want):
    got, want = set(got), set(want)
    return "extra %s; missing %s" % (sorted(got - want)[:6],
                                    sorted(want - got)[:6])


# ---------------------------------------------------------------------------
# the seed recipes, verbatim

def top_n_layer_freeze(model, N):
    for n, p in model.named_parameters():
        if f".embeddings" in n:  # noqa: F541 (verbatim)
            p.requires_grad = False
    for i in range(0, N, 1):
        for n, p in model.named_parameters():
            if f'encoder.layer.{i}.' in n:
                p.requires_grad = False


def substring_freeze(model, sub):
    for n, p in model.named_parameters():
        if sub in n:
            p.requires_grad = False


def frozen_of(model):
    return [n for n, p in model.named_parameters() if not p.requires_grad]


def unfreeze_all(model):
    for p in model.parameters():
        p.requires_grad = True


# ---------------------------------------------------------------------------
# tui

def tui_list(*args):
    """Runs tui --list --json ARGS; returns (frozen params, all params)."""
    ps = checks.tui_parameters(*args)
    return [n for n, trainable in ps if not trainable], [n for n, _ in ps]


def module_from_names(tensors):
    """An nn.Module whose named_parameters() are `tensors` (name, shape),
    in order, on the meta device (no memory)."""
    root = nn.Module()
    for name, shape in tensors:
        *path, leaf = name.split(".")
        m = root
        for seg in path:
            if not hasattr(m, seg):
                m.add_module(seg, nn.Module())
            m = getattr(m, seg)
        m.register_parameter(leaf, nn.Parameter(
            torch.empty(shape, device="meta")))
    return root


def write_header_only(path, tensors):
    """A safetensors file of F32 tensors (name, shape) with the data area a
    hole, laid out as the writer does (sorted by name within one dtype)."""
    hdr, off = {}, 0
    for name, shape in sorted(tensors, key=lambda t: t[0].encode()):
        size = 4
        for d in shape:
            size *= d
        hdr[name] = {"dtype": "F32", "shape": list(shape),
                     "data_offsets": [off, off + size]}
        off += size
    js = json.dumps(hdr).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        f.truncate(8 + len(js) + off)


# ---------------------------------------------------------------------------

def part_a():
    """bert-base-uncased's real names: the preset equals the recipe."""
    folder = os.path.join(FIX, "synthetic", "bert-base-uncased")
    ckpt = os.path.join(folder, "model.safetensors")
    with open(os.path.join(folder, "expected.json")) as f:
        exp = json.load(f)
    tensors = [(t[0], t[2]) for t in exp["tensors"]]
    model = module_from_names(tensors)
    names = [n for n, _ in model.named_parameters()]
    check(names == [n for n, _ in tensors] and len(names) == 206,
          "bert-base: the module carries the 206 real names in order")
    _, tui_params = tui_list(ckpt)
    check(sorted(tui_params) == sorted(names),
          "bert-base: tui's parameters are the model's named_parameters()",
          diff(tui_params, names))
    for n in (0, 1, 3, 6, 11, 12):
        unfreeze_all(model)
        top_n_layer_freeze(model, n)
        want = frozen_of(model)
        got, _ = tui_list("--preset", "bert-embeddings-first-n:n=%d" % n, ckpt)
        check(sorted(got) == sorted(want),
              "bert-base: bert-embeddings-first-n:n=%d == top_n_layer_freeze"
              "(model, %d) (%d tensors)" % (n, n, len(want)), diff(got, want))
        # the recipe by its own counts: 5 embedding tensors, 16 per layer
        check(len(want) == 5 + 16 * n,
              "bert-base: recipe n=%d freezes 5 + 16n tensors" % n,
              "got %d" % len(want))
    # the same through plain patterns, as the editor would type them
    unfreeze_all(model)
    top_n_layer_freeze(model, 3)
    got, _ = tui_list("--freeze", "bert.embeddings",
                      "--freeze", "bert.encoder.layer.{0..2}", ckpt)
    check(sorted(got) == sorted(frozen_of(model)),
          "bert-base: --freeze bert.embeddings --freeze "
          "bert.encoder.layer.{0..2} == top_n_layer_freeze(model, 3)",
          diff(got, frozen_of(model)))


def part_b():
    """resnet18: a module pattern equals the recipe's dotted substring."""
    ckpt = os.path.join(FIX, "models", "resnet18_sd.pt")
    model = torchvision.models.resnet18()
    _, tui_params = tui_list(ckpt)
    names = [n for n, _ in model.named_parameters()]
    check(tui_params == names,
          "resnet18: tui's parameters are named_parameters(), in order",
          diff(tui_params, names))
    for pat, sub in (("layer1.0", "layer1.0."), ("layer1", "layer1."),
                     ("layer4.1.bn2", "layer4.1.bn2."), ("fc", "fc.")):
        unfreeze_all(model)
        substring_freeze(model, sub)
        want = frozen_of(model)
        got, _ = tui_list("--freeze", pat, ckpt)
        check(got == want and len(want) > 0,
              "resnet18: --freeze %s == '%s' in n (%d tensors)"
              % (pat, sub, len(want)), diff(got, want))


def part_c(tmp):
    """24 layers: ranges name layers exactly; substrings and classes don't."""
    per_layer = ["attention.self.query.weight", "attention.self.query.bias",
                 "attention.output.dense.weight", "output.LayerNorm.weight"]
    tensors = [("bert.embeddings.word_embeddings.weight", [8, 4])]
    for i in range(24):
        tensors += [("bert.encoder.layer.%d.%s" % (i, s), [4, 4])
                    for s in per_layer]
    tensors.append(("classifier.weight", [2, 4]))
    ckpt = os.path.join(tmp, "bert24.safetensors")
    write_header_only(ckpt, tensors)
    model = module_from_names(tensors)

    def layer_of(n):
        parts = n.split(".")
        return int(parts[3]) if parts[1] == "encoder" else None

    got, _ = tui_list("--freeze", "bert.encoder.layer.{0..5}", ckpt)
    check(sorted({layer_of(n) for n in got}) == list(range(6))
          and len(got) == 6 * len(per_layer),
          "24 layers: encoder.layer.{0..5} freezes layers 0-5 only",
          "layers %s" % sorted({layer_of(n) for n in got}))
    unfreeze_all(model)
    for i in range(6):
        substring_freeze(model, "encoder.layer.%d." % i)
    check(sorted(got) == sorted(frozen_of(model)),
          "24 layers: {0..5} == the recipe's f'encoder.layer.{i}.' for i < 6",
          diff(got, frozen_of(model)))
    # the trap: without the trailing dot, "encoder.layer.1" catches 10-19
    unfreeze_all(model)
    for i in range(6):
        substring_freeze(model, "encoder.layer.%d" % i)
    naive = {layer_of(n) for n in frozen_of(model)}
    check(naive == set(range(6)) | set(range(10, 24)),
          "24 layers: the naive substring 'encoder.layer.{i}' (no dot) "
          "catches layers 10-23 too", "layers %s" % sorted(naive))
    check(not any(layer_of(n) in range(10, 16) for n in got),
          "24 layers: tui's {0..5} catches none of layers 10-15, "
          "the naive substring does")
    got, _ = tui_list("--freeze", "bert.encoder.layer.{10..15}", ckpt)
    check(sorted({layer_of(n) for n in got}) == list(range(10, 16)),
          "24 layers: {10..15} is layers 10-15")
    got, _ = tui_list("--freeze", "bert.encoder.layer.[0-5]*", ckpt)
    want = {i for i in range(24) if str(i)[0] in "012345"}
    check({layer_of(n) for n in got} == want,
          "24 layers: the class [0-5]* catches every layer starting 0-5 "
          "(10-23 too)", "layers %s" % sorted({layer_of(n) for n in got}))
    got, _ = tui_list("--freeze", "re:encoder\\.layer\\.1[0-5]\\.", ckpt)
    check(sorted({layer_of(n) for n in got}) == list(range(10, 16)),
          "24 layers: re:encoder\\.layer\\.1[0-5]\\. is layers 10-15")
    for n in (6, 20, 24):
        unfreeze_all(model)
        top_n_layer_freeze(model, n)
        got, _ = tui_list("--preset", "bert-embeddings-first-n:n=%d" % n, ckpt)
        check(sorted(got) == sorted(frozen_of(model)),
              "24 layers: bert-embeddings-first-n:n=%d == recipe" % n,
              diff(got, frozen_of(model)))


def part_d():
    """Bare BertModel names: the recipe misses the embeddings."""
    sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
    import gen_models  # TinyBert: BertModel's names, no "bert." prefix
    torch.manual_seed(4)
    model = gen_models.TinyBert()
    ckpt = os.path.join(FIX, "models", "bert_tiny_sd.pt")
    _, tui_params = tui_list(ckpt)
    check(tui_params == [n for n, _ in model.named_parameters()],
          "tiny BertModel: tui's parameters are named_parameters()")
    top_n_layer_freeze(model, 3)
    recipe = frozen_of(model)
    check(not any(n.startswith("embeddings.") for n in recipe),
          "tiny BertModel: the recipe's '.embeddings' misses embeddings.* "
          "(no dot before the first segment)")
    got, _ = tui_list("--preset", "bert-embeddings-first-n:n=3", ckpt)
    emb = [n for n, _ in model.named_parameters()
           if n.startswith("embeddings.")]
    check(sorted(got) == sorted(recipe + emb) and len(emb) == 5,
          "tiny BertModel: the preset freezes the recipe's set plus the "
          "5 embedding parameters", diff(got, recipe + emb))
    # with the recipe's intent spelt out, both agree
    substring_freeze(model, "embeddings.")
    check(sorted(got) == sorted(frozen_of(model)),
          "tiny BertModel: preset == recipe once embeddings.* is frozen too")


def main():
    if checks.missing_tui("test_seed_parity"):
        return 1
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="seed_parity.") as tmp:
        for part in (part_a, part_b, lambda: part_c(tmp), part_d):
            checks.guarded(getattr(part, "__name__", "part"), part)
    return checks.finish("test_seed_parity")


if __name__ == "__main__":
    sys.exit(main())
