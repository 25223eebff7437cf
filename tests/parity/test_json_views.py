#!/usr/bin/python3
"""test_json_views.py: `--summary --json`, `--tree --json` and
`--presets --json` against the text views and `--list --json`.

For a few fixtures and plans: every key that docs/cli.md documents is
present (and documented there: the key tables of "JSON forms of the other
views"), and the numbers equal what `--list --json` gives (totals, the
frozen and trainable sums) and what the text views print (the summary's
counts and memory table, the tree's lines, the presets' "here:" lines).
Ends with "test_json_views: N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, tui, tui_json  # noqa: E402

NAME = "test_json_views"
DOC = os.path.join(HERE, "..", "..", "docs", "cli.md")
SUMMARY = ("checkpoint", "format", "files", "tensors", "parameters",
           "buffers", "tied", "parameter_numel", "bytes", "trainable",
           "frozen", "memory")
COUNT = ("numel", "tensors")
MEMORY = ("optimizer", "precision", "before", "after")
PARTS = ("weights", "master", "gradients", "optimizer", "bookkeeping",
         "buffers", "total", "trainable_numel", "trainable_tensors")
TREE = ("checkpoint", "depth", "nodes")
NODE = ("path", "name", "depth", "state", "children", "tensors",
        "parameters", "buffers", "param_numel", "frozen_numel",
        "frozen_tensors", "bytes")
PRESETS = ("checkpoint", "presets")
PRESET = ("name", "user", "shadows", "description", "params")
PARAM = ("name", "default", "min", "max", "help")
HERE_KEYS = ("fits", "matched_tensors", "empty_rules", "frozen_tensors",
             "frozen_numel")
MARK = {"[x]": "frozen", "[ ]": "trainable", "[~]": "partial",
        "[b]": "buffer"}

CASES = [
    ("resnet18.safetensors", ["--freeze", "fc"]),
    ("resnet18.safetensors", ["--freeze", "layer1.**", "--optimizer", "sgd"]),
    ("bert_tiny.safetensors", ["--freeze", "embeddings.**",
                               "--precision", "bf16"]),
    ("bert_mlm_tied_sd.pt", ["--freeze", "bert.embeddings.**"]),
    ("mobilenet_v3_small_train.pt", []),
]


def num(s):
    return int(s.replace(",", ""))


def documented_keys():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^### The JSON forms of the other views$(.*?)^## ",
                  text, re.S | re.M)
    body = m.group(1) if m else ""
    return set(re.findall(r"^\| `([a-z_]+)`", body, re.M)) | set(
        re.findall(r"`([a-z_]+)`", body))


def has_keys(label, obj, keys, doc):
    check(isinstance(obj, dict) and all(k in obj for k in keys),
          "%s: keys" % label,
          [k for k in keys if not isinstance(obj, dict) or k not in obj])
    check(all(k in doc for k in keys), "%s: keys documented in "
          "docs/cli.md" % label, [k for k in keys if k not in doc])


def list_sums(lst):
    fz = tr = ft = 0
    seen = set()
    for t in lst["tensors"]:
        if t["kind"] != "parameter":
            continue
        if not t["trainable"]:
            ft += 1
        if "tied_to" in t:
            continue
        if t["trainable"]:
            tr += t["numel"]
        else:
            fz += t["numel"]
        seen.add(t["name"])
    return fz, tr, ft


def test_summary(ckpt, ops, doc):
    label = "summary %s %s" % (os.path.basename(ckpt), " ".join(ops))
    js = tui_json("--summary", "--json", *ops, ckpt)
    lst = tui_json("--list", "--json", *ops, ckpt)
    text = tui("--summary", *ops, ckpt).decode()
    has_keys(label, js, SUMMARY, doc)
    has_keys(label + " trainable", js["trainable"], COUNT, doc)
    has_keys(label + " memory", js["memory"], MEMORY, doc)
    for side in ("before", "after"):
        has_keys(label + " " + side, js["memory"][side], PARTS, doc)
    tot = lst["totals"]
    for k in ("tensors", "parameters", "parameter_numel", "bytes"):
        check(js[k] == tot[k], "%s: %s = --list's" % (label, k),
              "%s vs %s" % (js[k], tot[k]))
    check(js["tied"] == tot.get("tied", 0), label + ": tied = --list's")
    fz, tr, ft = list_sums(lst)
    check((js["frozen"]["numel"], js["trainable"]["numel"],
           js["frozen"]["tensors"]) == (fz, tr, ft),
          label + ": frozen/trainable = --list's",
          "%s vs %s" % ((js["frozen"], js["trainable"]), (fz, tr, ft)))
    m = re.search(r"^tensors +(\d+) \((\d+) parameters?, (\d+) buffers?\)",
                  text, re.M)
    check(m is not None and tuple(map(int, m.groups())) == (
        js["tensors"], js["parameters"], js["buffers"]),
        label + ": tensors line", m.group(0) if m else text[:300])
    for key in ("trainable", "frozen"):
        m = re.search(r"^%s +([\d,]+) .* in (\d+) tensors?" % key, text, re.M)
        check(m is not None and (num(m.group(1)), int(m.group(2))) == (
            js[key]["numel"], js[key]["tensors"]),
            "%s: %s line" % (label, key), m.group(0) if m else "")
    m = re.search(r"optimizer (\S+), precision (\S+)", text)
    check(m is not None and m.groups() == (js["memory"]["optimizer"],
                                            js["memory"]["precision"]),
          label + ": optimizer and precision")
    for part in ("weights", "master", "gradients", "optimizer", "buffers",
                 "total"):
        m = re.search(r"^  %s +([\d,]+) +\S+ \S+ +([\d,]+) " % part, text,
                      re.M)
        got = (js["memory"]["before"][part], js["memory"]["after"][part])
        check(m is not None and tuple(map(num, m.groups())) == got,
              "%s: memory %s" % (label, part),
              "%s vs %s" % (m.group(0) if m else None, got))


def test_tree(ckpt, ops, doc, depth):
    dargs = [] if depth is None else ["--depth", str(depth)]
    label = "tree %s %s %s" % (os.path.basename(ckpt), " ".join(ops), dargs)
    js = tui_json("--tree", "--json", *dargs, *ops, ckpt)
    text = tui("--tree", *dargs, *ops, ckpt).decode().splitlines()
    summ = tui_json("--summary", "--json", *ops, ckpt)
    has_keys(label, js, TREE, doc)
    nodes = js["nodes"]
    for n in nodes[:3]:
        has_keys(label + " node", n, NODE, doc)
    root = nodes[0]
    check(root["path"] == "" and root["depth"] == 0, label + ": root first")
    check((root["param_numel"], root["frozen_numel"], root["bytes"],
           root["tensors"]) == (summ["parameter_numel"],
                                summ["frozen"]["numel"], summ["bytes"],
                                summ["tensors"]),
          label + ": root = --summary's totals")
    check(js["depth"] == depth, label + ": depth", js["depth"])
    if depth is not None:
        check(all(n["depth"] <= depth for n in nodes), label + ": depth cut")
    shown = nodes if depth == 0 else nodes[1:]
    check(len(shown) == len(text), label + ": one text line a node",
          "%d nodes, %d lines" % (len(shown), len(text)))
    bad = []
    for n, line in zip(shown, text):
        m = re.match(r"^(\[.\]) +(\S+?)/?  ([\d,]+) params?", line)
        name = n["name"] if n["depth"] else "(model)"
        if not m or MARK[m.group(1)] != n["state"] or \
                m.group(2) != name or num(m.group(3)) != n["param_numel"]:
            bad.append("%s | %s" % (line, n))
    check(not bad, label + ": text lines = nodes", bad)


def test_presets(ckpt, doc):
    label = "presets %s" % (os.path.basename(ckpt) if ckpt else "(none)")
    args = [ckpt] if ckpt else []
    js = tui_json("--presets", "--json", *args)
    text = tui("--presets", *args).decode()
    has_keys(label, js, PRESETS, doc)
    names = re.findall(r"^(\S+)", text, re.M)
    check([p["name"] for p in js["presets"]] == names, label + ": names",
          "%s vs %s" % ([p["name"] for p in js["presets"]], names))
    for p in js["presets"]:
        has_keys(label + " " + p["name"], p, PRESET, doc)
        for q in p["params"]:
            has_keys(label + " param", q, PARAM, doc)
    if not ckpt:
        check(js["checkpoint"] is None and
              all("here" not in p for p in js["presets"]),
              label + ": no here without a checkpoint")
        return
    heres = re.findall(r"^    here: (.*)$", text, re.M)
    check(len(heres) == len(js["presets"]), label + ": a here line each")
    lst = tui_json("--list", "--json", ckpt)
    check(js["parameter_numel"] == lst["totals"]["parameter_numel"],
          label + ": parameter_numel = --list's")
    bad = []
    for p, line in zip(js["presets"], heres):
        h = p.get("here", {})
        has_keys(label + " here", h, HERE_KEYS if "error" not in h else
                 ("error",), doc)
        m = re.match(r"would freeze (\d+) tensors?, ([\d,]+) param", line)
        if m and (int(m.group(1)), num(m.group(2))) != (
                h.get("frozen_tensors"), h.get("frozen_numel")):
            bad.append("%s: %s | %s" % (p["name"], line, h))
        if ("does not fit" in line) != (h.get("fits") is False):
            bad.append("%s: %s | %s" % (p["name"], line, h))
        if ("match" in line and "nothing" in line) != (
                (h.get("empty_rules") or 0) > 0):
            bad.append("%s: %s | %s" % (p["name"], line, h))
    check(not bad, label + ": here = the text's", bad)


def main():
    if checks.missing_tui(NAME):
        return 1
    doc = documented_keys()
    check(len(doc) > 20, "docs/cli.md documents the JSON views",
          sorted(doc))
    models = os.path.join(checks.FIX, "models")
    for f, ops in CASES:
        path = os.path.join(models, f)
        if not check(os.path.exists(path), "fixture " + f):
            continue
        checks.guarded("summary " + f, lambda: test_summary(path, ops, doc))
        for depth in (None, 0, 1, 2):
            checks.guarded("tree " + f,
                           lambda: test_tree(path, ops, doc, depth))
    for f in (None, "resnet18.safetensors", "bert_tiny.safetensors"):
        path = os.path.join(models, f) if f else None
        checks.guarded("presets %s" % f, lambda: test_presets(path, doc))
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
