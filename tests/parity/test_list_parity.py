#!/usr/bin/python3
"""test_list_parity.py: `tui --list --json` against what PyTorch saved.

For every fixture in $FIX/models/MANIFEST.txt (made by
tests/fixtures/gen_models.py) runs `$TUI --list --json PATH` and compares
the listing with PATH.expected.json, which the generator computed in
Python from the objects it saved. Compared exactly: the format, the
totals, the set of names, per tensor shape / dtype / numel / bytes /
kind / trainable, the tensor order for torch.save files (TorchScript and
sharded safetensors sets only as a set), the shard files, the safetensors
header metadata and a training checkpoint's epoch and step. Then
`$TUI --list PATH` (text) must exit 0 and print every tensor name.

One check per fixture per aspect; every mismatch is reported with the
fixture, the tensor and both values. Ends with
"test_list_parity: N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

FIELDS = ("shape", "dtype", "numel", "bytes", "kind", "trainable")
TOTALS = ("tensors", "parameters", "parameter_numel", "bytes")


def first_line(b):
    s = b.decode("utf-8", "replace").strip().splitlines()
    return s[0] if s else ""


def compare_tensors(rel, exp, got, ordered):
    en = [e["name"] for e in exp["tensors"]]
    gn = [t.get("name") for t in got.get("tensors", [])]
    eset, gset = set(en), set(gn)
    probs = ["missing: %s" % n for n in en if n not in gset]
    probs += ["unexpected: %s" % n for n in gn if n not in eset]
    if len(gn) != len(gset):
        dups = sorted({n for n in gn if gn.count(n) > 1})
        probs += ["listed twice: %s" % n for n in dups]
    check(not probs, "%s: tensor names (%d expected, %d listed)"
          % (rel, len(en), len(gn)), probs)

    if ordered:
        probs = []
        if not (eset - gset or gset - eset):
            for i, (a, b) in enumerate(zip(en, gn)):
                if a != b:
                    probs.append("position %d: expected %s, listed %s"
                                 % (i, a, b))
                    break
        else:
            probs.append("name sets differ (see above)")
        check(not probs, "%s: tensor order (file order)" % rel, probs)

    gmap = {t.get("name"): t for t in got.get("tensors", [])}
    for field in FIELDS:
        probs = []
        for e in exp["tensors"]:
            g = gmap.get(e["name"])
            if g is None:
                continue
            if field not in g:
                probs.append("%s: no '%s' field" % (e["name"], field))
            elif g[field] != e[field] or type(g[field]) != type(e[field]):
                probs.append("%s: %s expected %s, listed %s"
                             % (e["name"], field, json.dumps(e[field]),
                                json.dumps(g[field])))
        check(not probs, "%s: per-tensor %s" % (rel, field), probs)
    # ties: the same names marked, pointing at the same first name
    want = {e["name"]: e["tied_to"] for e in exp["tensors"] if "tied_to" in e}
    have = {n: t["tied_to"] for n, t in gmap.items() if "tied_to" in t}
    check(want == have, "%s: tied names" % rel,
          ["expected %s, listed %s" % (json.dumps(want), json.dumps(have))])


def compare_one(models, rel):
    path = os.path.join(models, rel.rstrip("/"))
    with open(path + ".expected.json") as f:
        exp = json.load(f)
    rc, out, err = run_tui("--list", "--json", path)
    if rc != 0:
        check(False, "%s: tui --list --json exit %s" % (rel, rc),
              [first_line(err)])
        return
    try:
        got = json.loads(out)
    except ValueError as e:
        check(False, "%s: output is not JSON (%s)" % (rel, e),
              [out[:200].decode("utf-8", "replace")])
        return
    check(isinstance(got, dict), "%s: JSON object" % rel)
    if not isinstance(got, dict):
        return

    check(got.get("format") == exp["format"],
          "%s: format" % rel,
          ["expected %r, listed %r" % (exp["format"], got.get("format"))])

    gt = got.get("totals", {})
    probs = ["%s expected %s, listed %s" % (k, exp["totals"][k], gt.get(k))
             for k in TOTALS if gt.get(k) != exp["totals"][k]]
    check(not probs, "%s: totals" % rel, probs)

    # Order is the file's order for torch.save files (sharded .bin sets
    # too: shards are read in shard order). TorchScript archives and
    # sharded safetensors are compared as sets; a single safetensors
    # file's order is its header's (the writer's sorted order).
    sharded = rel.endswith("/")
    ordered = exp["format"] == "pytorch" or (
        exp["format"] == "safetensors" and not sharded)
    compare_tensors(rel, exp, got, ordered)

    # Files: every expected file (a shard, or the single file) is listed.
    gfiles = {os.path.basename(str(p)) for p in got.get("files", [])}
    probs = ["not in files: %s" % os.path.basename(p)
             for p in exp["files"] if os.path.basename(p) not in gfiles]
    check(not probs, "%s: files" % rel, probs)

    # Metadata: safetensors header metadata exactly; a training
    # checkpoint's epoch and step.
    gm = got.get("metadata", {})
    if exp["format"] == "safetensors" and not sharded:
        check(gm == exp["metadata"], "%s: header metadata" % rel,
              ["expected %s, listed %s" % (json.dumps(exp["metadata"]),
                                           json.dumps(gm))])
    elif "epoch" in exp["metadata"]:
        probs = ["%s expected %r, listed %r" % (k, exp["metadata"][k], gm.get(k))
                 for k in ("epoch", "step") if gm.get(k) != exp["metadata"][k]]
        check(not probs, "%s: checkpoint metadata" % rel, probs)

    # Text mode: exit 0, every tensor name printed.
    rc, out, err = run_tui("--list", path)
    text = out.decode("utf-8", "replace")
    probs = [] if rc == 0 else ["exit %s: %s" % (rc, first_line(err))]
    probs += ["name not printed: %s" % e["name"] for e in exp["tensors"]
              if e["name"] not in text]
    check(not probs, "%s: tui --list (text)" % rel, probs)


def main():
    models = os.path.join(checks.FIX, "models")
    manifest = os.path.join(models, "MANIFEST.txt")
    ok = os.path.isfile(manifest) and os.access(checks.TUI, os.X_OK)
    check(ok, "fixtures and binary present (%s, %s)" % (manifest, checks.TUI))
    if ok:
        with open(manifest) as f:
            entries = [ln.strip() for ln in f if ln.strip()]
        check(len(entries) >= 20, "manifest lists the fixture set",
              ["%d entries" % len(entries)])
        for rel in entries:
            compare_one(models, rel)
    return checks.finish("test_list_parity")


if __name__ == "__main__":
    sys.exit(main())
