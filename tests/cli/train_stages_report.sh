#!/bin/sh
# train_stages_report.sh: what `tui --headless` shows of a staged plan
# (docs/training.md "Progress and the report", issue 15 item 4): the
# progress names the stage, and the report (stdout and report.json) has
# one line / item per stage with its trainable parameters and the
# gradient and optimizer bytes measured after its last step, against the
# stage's estimate.
#
# The plans: tests/parity/test_stages_train.py's three resnet18 stages
# (fc; then layer3 at its own lr; then everything), cut to 2 steps each
# at batch 4, under AdamW and under SGD with momentum. Checks, per plan:
#   1. every progress line says "stage K/3", K the metrics' stage + 1
#      (1, 1, 2, 2, 3, 3);
#   2. three report lines "stage K (K+1/3), steps A-B: ..." in order, no
#      "DIFFERENT", and no run-wide "gradients: measured" line;
#   3. each stage's trainable count equals `--summary --json`'s
#      stages[K].trainable_numel (and tensors);
#   4. its measured gradient bytes equal 4 x trainable (fp32) and what
#      PyTorch holds (sum of grad.nbytes after a backward with that
#      stage's tensors requiring grad, the TorchScript module loaded in
#      /usr/bin/python3 torch);
#   5. its measured optimizer bytes equal DESIGN.md's per-element rule
#      (AdamW 8, momentum 4 bytes an element) and PyTorch's optimizer
#      state after one step, less AdamW's float32 `step` tensors; the
#      estimate beside it equals PyTorch's state with them;
#   6. report.json's "stages" hold the same figures, and its run-wide
#      gradient_bytes / optimizer_bytes are stage 0's (the estimate's).
# Then (AdamW) --max-steps 3 (stage 2 "not reached"), --resume to the
# end: the stage lines equal the uninterrupted run's (stage 0's figures
# come from the checkpoint). A last stage that only freezes fc again:
# the run goes on (it has no lr group), its line counts what trains, and
# its optimizer bytes are the state kept for fc (DIFFERENT, documented).
# A plan without stages: no "stage" in its progress or report, the
# run-wide lines as before.
# Env: TUI, FIX, PYTHON. Prints "train_stages_report: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin train_stages_report
PY=${PYTHON:-/usr/bin/python3}
cli_abs_paths
T=$FIX/train
cli_require "$T/resnet18.ts.pt" "$T/resnet18.init.safetensors" \
    "$T/images.safetensors"
cli_require_trainer
here=$(cd "$(dirname "$0")" && pwd)
tmp=$cli_tmp

# plan FILE OPTIMIZER STAGED: the staged resnet18 plan (STAGED 0: the
# same without stages).
plan() {
    cat >"$1" <<EOF
version: 1
model:
  path: $T/resnet18.init.safetensors
rules:
- freeze: "**"
- unfreeze: "fc"
batchnorm: freeze-stats
train:
  model: $T/resnet18.ts.pt
  init: $T/resnet18.init.safetensors
  data: {train: $T/images.safetensors, inputs: images, targets: labels, val_fraction: 0.1}
  loss: cross_entropy
  optimizer: $2
  schedule: {name: constant}
  batch_size: 4
  max_steps: 6
  device: cpu
  seed: 7
  log_every: 1
EOF
    [ "$3" = 1 ] && cat >>"$1" <<EOF
stages:
- steps: 2
- unfreeze: [layer3]
  steps: 2
  lr: 5.0e-4
- unfreeze: ["**"]
  lr: 1.0e-4
EOF
    return 0
}

# run NAME PLAN ARGS...: trains into $tmp/NAME; $tmp/NAME.out, .err, rc.
run() {
    n=$1
    p=$2
    shift 2
    "$TUI" --headless --plan "$p" --device cpu -o "$tmp/$n" "$@" \
        >"$tmp/$n.out" 2>"$tmp/$n.err" </dev/null
    rc=$?
}

# count PYTHON-OUTPUT: each "PASS ..." line one pass, each "FAIL ..." one
# failure (printed), nothing at all one failure.
count() {
    if [ -z "$1" ]; then
        cli_fail "$2" "the check printed nothing"
        return
    fi
    printf '%s\n' "$1" | while IFS= read -r l; do
        case $l in PASS*) ;; *) printf '%s\n' "$l" ;; esac
    done
    np=$(printf '%s\n' "$1" | grep -c '^PASS')
    nf=$(printf '%s\n' "$1" | grep -c '^FAIL')
    passed=$((passed + np))
    failed=$((failed + nf))
    if [ "$np" -eq 0 ] && [ "$nf" -eq 0 ]; then
        cli_fail "$2" "no check ran: $(printf '%s\n' "$1" | tail -n 3)"
    fi
}

cat >"$tmp/check.py" <<'PY'
import json, os, re, sys
sys.path.insert(0, os.path.join(sys.argv[1], "..", "train"))
import torch
import torch.nn.functional as F
import reference

here, T, out, summary, opt = sys.argv[1:6]


def check(ok, what, why=""):
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else ": " + str(why)))


err = open(out + ".err").read().splitlines()
prog = [l for l in err if l.startswith("epoch ")]
shown = [re.match(r"epoch \d+/\d+ stage (\d+)/(\d+) step (\d+)/6 ", l) for l in prog]
metr = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl")) if '"loss"' in l]
check(len(prog) == 6 and all(shown) and
      [int(m.group(1)) for m in shown] == [1, 1, 2, 2, 3, 3] ==
      [m["stage"] + 1 for m in metr] and all(m.group(2) == "3" for m in shown),
      opt + ": every progress line names its stage (1/3 1/3 2/3 2/3 3/3 3/3)",
      prog)

rep = open(out + ".out").read().splitlines()
pat = re.compile(
    r"^    stage (\d+) \((\d+)/3\), steps (\d+)-(\d+): trainable (\d+) parameters"
    r" in (\d+) tensors, estimate (\d+) in (\d+): (\w+); gradients measured"
    r" (\d+) bytes \([^)]*\), estimate (\d+): (\w+); optimizer state measured"
    r" (\d+) bytes \([^)]*\), estimate (\d+) of which (\d+) per-tensor"
    r" bookkeeping: (equal without it|DIFFERENT)$")
lines = [l for l in rep if l.startswith("    stage ")]
rows = [pat.match(l) for l in lines]
check(len(rows) == 3 and all(rows) and
      [(r.group(1), r.group(2), r.group(3), r.group(4)) for r in rows] ==
      [("0", "1", "1", "2"), ("1", "2", "3", "4"), ("2", "3", "5", "6")],
      opt + ": one report line per stage, in order, with its steps", lines)
check(any(l.startswith("  stages (" + opt + ", fp32): measured") for l in rep)
      and not any("DIFFERENT" in l or l.startswith("  gradients: ") for l in rep),
      opt + ": the stages heading, no DIFFERENT, no run-wide gradients line", rep)
if len(rows) != 3 or not all(rows):
    sys.exit()
st = [{"numel": int(r.group(5)), "tensors": int(r.group(6)),
       "e_numel": int(r.group(7)), "e_tensors": int(r.group(8)),
       "grads": int(r.group(10)), "e_grads": int(r.group(11)),
       "state": int(r.group(13)), "e_state": int(r.group(14)),
       "keep": int(r.group(15))} for r in rows]

sm = json.load(open(summary))["stages"]
check([(s["numel"], s["tensors"]) for s in st] ==
      [(s["e_numel"], s["e_tensors"]) for s in st] ==
      [(x["trainable_numel"], x["trainable_tensors"]) for x in sm],
      opt + ": each stage's trainable count is --summary --json's",
      ([(s["numel"], s["tensors"]) for s in st], sm))

# PyTorch's figures: the same module, each stage's tensors requiring grad
torch.manual_seed(0)
model = torch.jit.load(os.path.join(T, "resnet18.ts.pt"))
data, _ = reference.st_load(os.path.join(T, "images.safetensors"))
xb, yb = data["images"][:4], data["labels"][:4]
sets = [("fc.",), ("fc.", "layer3."), ("",)]
for k, pre in enumerate(sets):
    ps = []
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith(pre))
        p.grad = None
        if n.startswith(pre):
            ps.append(p)
    F.cross_entropy(model(xb), yb).backward()
    grads = sum(p.grad.nelement() * p.grad.element_size() for p in ps)
    o = (torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01) if opt == "adamw"
         else torch.optim.SGD(ps, lr=0.01, momentum=0.9))
    o.step()
    full = sum(v.nelement() * v.element_size() for s in o.state.values()
               for v in s.values() if torch.is_tensor(v))
    nostep = sum(v.nelement() * v.element_size() for s in o.state.values()
                 for kk, v in s.items() if torch.is_tensor(v) and kk != "step")
    numel = sum(p.numel() for p in ps)
    s = st[k]
    check(s["numel"] == numel and s["tensors"] == len(ps),
          f"{opt}: stage {k}: trainable {s['numel']} in {s['tensors']} is "
          f"PyTorch's", (numel, len(ps)))
    check(s["grads"] == 4 * s["numel"] == grads == s["e_grads"],
          f"{opt}: stage {k}: gradients measured {s['grads']} = 4 x trainable"
          f" = PyTorch's = the estimate", (4 * s["numel"], grads, s["e_grads"]))
    per = 8 if opt == "adamw" else 4
    check(s["state"] == per * s["numel"] == nostep and
          s["e_state"] == full == s["state"] + s["keep"] and
          s["keep"] == (4 * len(ps) if opt == "adamw" else 0),
          f"{opt}: stage {k}: optimizer state measured {s['state']} = "
          f"{per} x trainable = PyTorch's without step tensors; estimate "
          f"{s['e_state']} = PyTorch's", (per * s["numel"], nostep, full,
                                         s["e_state"], s["keep"]))

rj = json.load(open(os.path.join(out, "report.json")))
js = rj.get("stages") or []
want = [{"stage": k, "first_step": 2 * k + 1, "last_step": 2 * k + 2,
         "trainable_parameters": s["numel"], "trainable_tensors": s["tensors"],
         "gradient_bytes": s["grads"], "optimizer_bytes": s["state"],
         "estimate": {"trainable_parameters": s["e_numel"],
                      "trainable_tensors": s["e_tensors"],
                      "gradients": s["e_grads"], "optimizer_state": s["e_state"],
                      "bookkeeping": s["keep"]},
         "gradients_match": True, "optimizer_match_without_bookkeeping": True}
        for k, s in enumerate(st)]
check(js == want, opt + ": report.json's stages are the report's lines", js)
check(rj["gradient_bytes"] == st[0]["grads"] and
      rj["optimizer_bytes"] == st[0]["state"] and
      rj["estimate"]["gradients"] == st[0]["e_grads"] and
      rj["gradients_match"] is True, opt + ": report.json's run-wide figures "
      "are stage 0's", (rj["gradient_bytes"], rj["optimizer_bytes"]))
PY

for o in adamw momentum; do
    case $o in
        adamw) spec='{name: adamw, lr: 0.001, weight_decay: 0.01}' ;;
        *) spec='{name: momentum, lr: 0.01, momentum: 0.9}' ;;
    esac
    plan "$tmp/$o.yaml" "$spec" 1
    run "$o" "$tmp/$o.yaml"
    if [ "$rc" -ne 0 ]; then
        cli_fail "$o: the staged run" "exit $rc: $(tail -n 3 "$tmp/$o.err")"
        continue
    fi
    cli_pass
    if ! "$TUI" --summary --json --plan "$tmp/$o.yaml" >"$tmp/$o.summary" \
            2>"$tmp/$o.summary.err"; then
        cli_fail "$o: --summary --json" "$(head -n 2 "$tmp/$o.summary.err")"
        continue
    fi
    count "$("$PY" "$tmp/check.py" "$here" "$T" "$tmp/$o" "$tmp/$o.summary" \
        "$o" 2>&1)" "$o: the checks"
done

# --max-steps 3, then --resume: the same stage lines as the whole run
run part "$tmp/adamw.yaml" --max-steps 3
if [ "$rc" -eq 0 ] && grep -q '^    stage 2 (3/3): not reached (the run ended at step 3); estimate: trainable 11181642 parameters' "$tmp/part.out" &&
   grep -q '^    stage 1 (2/3), step 3: trainable 2104842 ' "$tmp/part.out"; then
    cli_pass
else
    cli_fail "--max-steps 3" "exit $rc: $(grep '^    stage' "$tmp/part.out" | cut -c 1-120)"
fi
run part "$tmp/adamw.yaml" --resume
grep '^    stage' "$tmp/part.out" >"$tmp/part.lines"
grep '^    stage' "$tmp/adamw.out" >"$tmp/whole.lines"
if [ "$rc" -eq 0 ] && [ -s "$tmp/whole.lines" ] &&
   cmp -s "$tmp/part.lines" "$tmp/whole.lines"; then
    cli_pass
else
    cli_fail "--resume" "exit $rc; stage lines differ from the whole run's: $(diff "$tmp/part.lines" "$tmp/whole.lines" | head -n 4 | cut -c 1-160)"
fi

# a last stage that only freezes (fc again): it trains (no group of its
# own to set an lr on), its count and gradients are the estimate's, and
# the optimizer keeps fc's state (as torch.optim does), which the
# estimate of a frozen tensor does not count: DIFFERENT, stage 1's bytes
sed 's|^- unfreeze: \["\*\*"\]$|- freeze: [fc]|' "$tmp/adamw.yaml" >"$tmp/refreeze.yaml"
run refreeze "$tmp/refreeze.yaml"
l2=$(grep '^    stage 2 ' "$tmp/refreeze.out")
case $rc/$l2 in
    "0/    stage 2 (3/3), steps 5-6: trainable 2099712 parameters in 15 tensors, estimate 2099712 in 15: equal; gradients measured 8398848 bytes (8.0 MiB), estimate 8398848: equal; optimizer state measured 16838736 bytes "*": DIFFERENT")
        cli_pass ;;
    *) cli_fail "a stage that freezes again" "exit $rc: $l2 $(tail -n 1 "$tmp/refreeze.err")" ;;
esac

# without stages: the report and progress as before
plan "$tmp/plain.yaml" '{name: adamw, lr: 0.001, weight_decay: 0.01}' 0
run plain "$tmp/plain.yaml" --max-steps 2
if [ "$rc" -eq 0 ] &&
   ! grep -qE 'stage [0-9]|stages \(' "$tmp/plain.out" "$tmp/plain.err" &&
   grep -q '^epoch 1/1 step 2/2 step loss ' "$tmp/plain.err" &&
   grep -q '^  gradients: measured 20520 bytes (20.0 KiB), estimate 20520 (20.0 KiB): equal$' "$tmp/plain.out" &&
   ! grep -q '"stages"' "$tmp/plain/report.json"; then
    cli_pass
else
    cli_fail "without stages" "exit $rc: $(grep -hE 'stage [0-9]|stages \(|gradients' "$tmp/plain.out" "$tmp/plain.err" | head -n 3)"
fi
cli_end
