#!/usr/bin/python3
"""test_ties.py: tied weights count as PyTorch counts them.

TinyBertMLM (tests/fixtures/gen_models.py) ties its decoder weight to the
word embeddings; torch.save(model.state_dict()) stores both names on one
storage (the fixture models/bert_mlm_tied_sd.pt). PyTorch is the
reference for every number here:

- the totals of `--list --json`, `--summary` and the estimate's
  parameters equal sum(p.numel() for p in model.parameters());
- freezing either name freezes both, and the trainable count then equals
  PyTorch's after setting requires_grad=False on that one Parameter;
- `--list --json` marks the duplicate with tied_to = the name that
  named_parameters() keeps;
- a plan freezing the decoder lists both names, and the frozen-parameter
  elements agree with PyTorch's;
- 200,000 names of one tensor (a hostile file) are handled in linear time.

Env: TUI, FIX. Prints "test_ties: N passed, N failed".
"""
import os
import re
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, tui, tui_json  # noqa: E402

NAME = "test_ties"
CKPT = os.path.join(checks.FIX, "models", "bert_mlm_tied_sd.pt")
DEC = "cls.predictions.decoder.weight"
EMB = "bert.embeddings.word_embeddings.weight"


def summary_numbers(text):
    """parameters, trainable and frozen element counts of --summary."""
    out = {}
    for key in ("parameters", "trainable", "frozen"):
        m = re.search(r"(?m)^%s +([0-9,]+)" % key, text)
        out[key] = int(m.group(1).replace(",", "")) if m else None
    return out


def main():
    if checks.missing_tui(NAME):
        return 1
    import gen_models
    torch.manual_seed(0)
    model = gen_models.TinyBertMLM()
    total = sum(p.numel() for p in model.parameters())
    names = [n for n, _ in model.named_parameters()]
    check(DEC not in names and EMB in names,
          "named_parameters() lists the tie once, under the embedding's name")

    doc = tui_json("--list", "--json", CKPT)
    check(doc["totals"]["parameter_numel"] == total,
          "--list --json parameter_numel = sum(model.parameters())",
          (doc["totals"]["parameter_numel"], total))
    check(doc["totals"]["tied"] == 1, "--list --json counts one tied name")
    tied = {t["name"]: t.get("tied_to") for t in doc["tensors"]
            if t.get("tied_to")}
    check(tied == {DEC: EMB}, "tied_to names the kept name", tied)
    s = summary_numbers(tui("--summary", CKPT).decode())
    check(s["parameters"] == total and s["trainable"] == total,
          "--summary parameters and trainable = PyTorch's", (s, total))

    for rule, which in ((["--freeze", "cls.predictions.decoder"], "decoder"),
                        (["--freeze", "bert.embeddings.word_embeddings"],
                         "embeddings")):
        m = gen_models.TinyBertMLM()
        dict(m.named_parameters())[EMB].requires_grad_(False)
        want_tr = sum(p.numel() for p in m.parameters() if p.requires_grad)
        want_fz = total - want_tr
        params = dict(checks.tui_parameters(*rule, CKPT))
        check(not params[DEC] and not params[EMB],
              "freezing the %s freezes both names" % which)
        s = summary_numbers(tui("--summary", *rule, CKPT).decode())
        check(s["trainable"] == want_tr and s["frozen"] == want_fz,
              "freezing the %s: --summary counts = PyTorch's" % which,
              (s, want_tr, want_fz))
        est = tui("--summary", *rule, CKPT).decode()
        m2 = re.search(r"trainable: ([0-9,]+) of ([0-9,]+) parameters", est)
        num = lambda g: int(m2.group(g).replace(",", ""))
        check(m2 is not None and num(1) == want_tr and num(2) == total,
              "freezing the %s: the estimate's counts = PyTorch's" % which,
              m2.group(0) if m2 else est[:300])

    with tempfile.TemporaryDirectory() as tmp:
        plan = os.path.join(tmp, "p.yaml")
        tui(CKPT, "--freeze", "cls.predictions.decoder", "-o", plan)
        text = open(plan).read()
        frozen = text.split("\nfrozen:\n", 1)[1].split("\nestimate:", 1)[0]
        listed = [ln[2:] for ln in frozen.splitlines() if ln.startswith("- ")]
        check(sorted(listed) == sorted([DEC, EMB]),
              "the plan lists every name of the frozen group", listed)
        m = re.search(r"trainable_parameters: ([0-9]+)", text)
        check(m is not None and int(m.group(1)) == total - 32000,
              "the plan's trainable_parameters = PyTorch's", text[:400])
        # a hostile file: 200,000 names on one tensor stay linear (a walk
        # of the whole group per name would be 4e10 steps)
        big = os.path.join(tmp, "ties.pt")
        t = torch.zeros(4)
        torch.save({"w%d" % i: t for i in range(200000)}, big)
        rc, out, err = checks.run_tui("--summary", "--freeze", "w1*",
                                      "--unfreeze", "w12", "--invert", big,
                                      timeout=120)
        s = summary_numbers(out.decode())
        check(rc == 0 and s["parameters"] == 4 and s["frozen"] == 4,
              "200,000 tied names: one parameter of 4 elements, frozen",
              (rc, s, err[-300:]))
    return checks.finish(NAME)


if __name__ == "__main__":
    sys.exit(main())
