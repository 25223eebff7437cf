#!/bin/sh
# example_short.sh: the Fashion-MNIST example pipeline (example/run.sh,
# `make example`) shortened: tiny data (4 and 8 images per class, 1 seed,
# 20 test images per class), 4 pretraining steps, 3 steps per fine-tune.
#
# Checks what the pipeline makes, independently of its own summary:
# the converted files (shapes, dtypes, labels 0-4 with K of each, the K=4
# draw the start of the K=8 draw, no image shared between pretraining and
# fine-tuning data); the pretrained weights (same names, shapes and
# fingerprint as the initial ones, but trained); the plans tui wrote
# (frozen sets: nothing, exactly the stem+stage1 parameters, exactly the
# stem+stage1+stage2 parameters, all but fc; the train: section kept);
# the trained weights (frozen tensors and frozen BatchNorm statistics
# bitwise equal to the start, trainable ones changed); the results (8 runs, accuracies in [0, 1], measured
# gradient bytes equal to the plan's estimate, optimizer bytes equal to
# it less 4 bytes per trainable tensor) and the --doc update.
#
# Env: TUI (the binary), PYTHON. Skipped (0 failed) without a trainer.
# Prints "example_short: N passed, N failed"; exits 1 on any failure.
TUI=${TUI:-build/tui}
PY=${PYTHON:-/usr/bin/python3}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0
if [ ! -x "$TUI" ]; then
    echo "example_short: missing $TUI"
    echo "example_short: 0 passed, 1 failed"
    exit 1
fi
if [ ! -f "$(dirname "$TUI")/libtui-train.so" ] && [ -z "$TUI_TRAIN_LIB" ]; then
    echo "example_short: skipped (no-trainer): no trainer in this build (TORCH=off)"
    echo "example_short: 0 passed, 0 failed"
    exit 0
fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "example_short: dataset-fashion-mnist is not installed (make deps)"
    echo "example_short: 0 passed, 1 failed"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/example_short.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
W=$tmp/w

ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}
same() {
    if [ "$2" = "$3" ]; then ok; else bad "$1" "got [$2] want [$3]"; fi
}

# --- the pipeline ---------------------------------------------------------
printf '# x\n<!-- example:begin -->\nold\n<!-- example:end -->\ntail\n' \
    > "$tmp/doc.md"
start=$(date +%s)
# One thread: the short run gains nothing from two, and under ASan's leak
# checker a trainer that ran libtorch's OpenMP threads crashes at exit.
if TUI=$TUI PYTHON=$PY TUI_THREADS=1 sh "$ROOT/example/run.sh" --short --doc "$tmp/doc.md" \
    "$W" > "$tmp/out" 2>&1; then
    ok
else
    bad "run.sh --short" "exit status $?"
    sed 's/^/    | /' "$tmp/out" | tail -n 20
fi
end=$(date +%s)
echo "example_short: run.sh --short took $((end - start)) s"
for n in full freeze1 freeze2 head; do
    for k in 4 8; do
        for f in "$n"_k${k}_s0.plan.yaml runs/"$n"_k${k}_s0/report.json \
                 runs/"$n"_k${k}_s0/model.ts.pt \
                 runs/"$n"_k${k}_s0/weights.safetensors; do
            if [ -s "$W/$f" ]; then ok; else bad "output" "no $f"; fi
        done
    done
done

# --- the converted data, through tui itself ------------------------------
shape() { # FILE TENSOR: "dtype shape" from tui --list --json
    "$TUI" --list --json "$1" | "$PY" -c "import json,sys
d = json.load(sys.stdin)
t = [t for t in d['tensors'] if t['name'] == sys.argv[1]][0]
print(t['dtype'], ','.join(map(str, t['shape'])))" "$2"
}
same "k4 images" "$(shape "$W/data/finetune_k4_s0.safetensors" images)" \
    "F32 20,1,28,28"
same "k4 labels" "$(shape "$W/data/finetune_k4_s0.safetensors" labels)" \
    "I64 20"
same "k8 images" "$(shape "$W/data/finetune_k8_s0.safetensors" images)" \
    "F32 40,1,28,28"
same "test images" "$(shape "$W/data/test.safetensors" images)" \
    "F32 100,1,28,28"
same "pretrain images" "$(shape "$W/data/pretrain_train.safetensors" images)" \
    "F32 200,1,28,28"

# Python checks over the files (numpy; example/st.py reads them).
check_py() { # NAME SCRIPT: the script prints "ok" or a reason
    r=$(cd "$ROOT/example" && "$PY" -c "$2" "$W" 2>&1)
    if [ "$r" = ok ]; then ok; else bad "$1" "$r"; fi
}
check_py "labels" '
import sys, numpy as np
from st import st_load
w = sys.argv[1] + "/data/"
for f, k in (("finetune_k4_s0", 4), ("finetune_k8_s0", 8), ("test", 20),
             ("pretrain_train", 40), ("pretrain_val", 10)):
    y = st_load(w + f + ".safetensors")[0]["labels"]
    c = np.bincount(y, minlength=5)
    if y.min() < 0 or y.max() > 4 or list(c) != [k] * 5:
        print(f, "label counts", list(c)); sys.exit()
print("ok")'
check_py "draws" '
import sys, numpy as np
from st import st_load
w = sys.argv[1] + "/data/"
a = st_load(w + "finetune_k4_s0.safetensors")[0]
b = st_load(w + "finetune_k8_s0.safetensors")[0]
p = st_load(w + "pretrain_train.safetensors")[0]["images"]
if not (a["images"] == b["images"][:20]).all():
    print("the K=4 draw is not the start of the K=8 draw"); sys.exit()
if abs(float(p.mean())) > 1e-3 or abs(float(p.std()) - 1) > 1e-3:
    print("pretraining images not normalised", p.mean(), p.std()); sys.exit()
ft = {x.tobytes() for x in b["images"]}
if any(x.tobytes() in ft for x in p):
    print("an image is in both pretraining and fine-tuning data"); sys.exit()
print("ok")'

# --- pretrained weights --------------------------------------------------
fp() { sed -n 's/^  fingerprint: //p' "$1"; }
"$TUI" "$W/init.safetensors" -o "$tmp/init.plan.yaml" 2>/dev/null
same "pretrained fingerprint" "$(fp "$W/full_k4_s0.plan.yaml")" \
    "$(fp "$tmp/init.plan.yaml")"
check_py "pretrained changed" '
import sys, numpy as np
from st import st_load
a = st_load(sys.argv[1] + "/init.safetensors")[0]
b = st_load(sys.argv[1] + "/pretrained.safetensors")[0]
if sorted(a) != sorted(b): print("names differ"); sys.exit()
if (a["stage3.0.conv2.weight"] == b["stage3.0.conv2.weight"]).all():
    print("stage3.0.conv2.weight unchanged by pretraining"); sys.exit()
print("ok")'

# --- plans ---------------------------------------------------------------
names() { "$TUI" --export names --plan "$1" 2>/dev/null | sort; }
params() { # the parameter names of the model whose prefix matches $1
    "$TUI" --list --json "$W/pretrained.safetensors" | "$PY" -c "import json,re,sys
for t in json.load(sys.stdin)['tensors']:
    if t['kind'] == 'parameter' and re.match(sys.argv[1], t['name']):
        print(t['name'])" "$1" | sort
}
same "full plan frozen" "$(names "$W/full_k4_s0.plan.yaml")" ""
same "freeze1 plan frozen" "$(names "$W/freeze1_k8_s0.plan.yaml")" \
    "$(params '(stem|stage1)\.')"
same "freeze2 plan frozen" "$(names "$W/freeze2_k4_s0.plan.yaml")" \
    "$(params '(stem|stage1|stage2)\.')"
same "head plan frozen" "$(names "$W/head_k8_s0.plan.yaml")" \
    "$(params '(?!fc\.)')"
for p in full freeze1 freeze2 head; do
    same "$p train section" \
        "$(sed -n 's/^  output: //p' "$W/${p}_k8_s0.plan.yaml")" \
        "runs/${p}_k8_s0"
    lr=0.002
    [ "$p" = head ] && lr=0.02
    same "$p learning rate" \
        "$(sed -n 's/^  optimizer: .*lr: \([0-9.e-]*\),.*/\1/p' "$W/${p}_k8_s0.plan.yaml")" \
        "$lr"
done

# --- trained weights: frozen equal, trainable changed ----------------------
check_py "frozen unchanged" '
import sys, numpy as np
from st import st_load
w = sys.argv[1]
init = st_load(w + "/finetune_init_s0.safetensors")[0]
def run(n): return st_load(w + "/runs/" + n + "/weights.safetensors")[0]
for k in (4, 8):
    h, f = run(f"head_k{k}_s0"), run(f"full_k{k}_s0")
    e1, e2 = run(f"freeze1_k{k}_s0"), run(f"freeze2_k{k}_s0")
    for n, v in init.items():
        body = not n.startswith("fc.")
        top = n.split(".")[0]
        if body and not (h[n] == v).all():
            print("head: changed", n); sys.exit()
        for e, fz, what in ((e1, ("stem", "stage1"), "freeze1"),
                            (e2, ("stem", "stage1", "stage2"), "freeze2")):
            if top in fz and not (e[n] == v).all():
                print(what, "changed", n); sys.exit()
            if n.endswith(".weight") and top not in fz and (e[n] == v).all():
                print(what, "unchanged", n); sys.exit()
        if n.endswith(".weight") and (f[n] == v).all():
            print("full: unchanged", n); sys.exit()
    if (h["fc.weight"] == init["fc.weight"]).all():
        print("head: fc unchanged"); sys.exit()
print("ok")'

# --- results ---------------------------------------------------------------
check_py "results.json" '
import sys, json
r = json.load(open(sys.argv[1] + "/results.json"))["runs"]
if len(r) != 8: print(len(r), "runs"); sys.exit()
for x in r:
    if not 0 <= x["test_accuracy"] <= 1 or x["test_images"] != 100:
        print(x["name"], "accuracy", x["test_accuracy"]); sys.exit()
    if x["gradient_bytes"] != x["estimate_gradients"]:
        print(x["name"], "gradients", x["gradient_bytes"],
              x["estimate_gradients"]); sys.exit()
    if x["optimizer_bytes"] != x["estimate_optimizer"] - 4 * x["trainable_tensors"]:
        print(x["name"], "optimizer", x["optimizer_bytes"],
              x["estimate_optimizer"]); sys.exit()
    if x["steps"] != 3 or not x["frozen_unchanged"]:
        print(x["name"], "steps or frozen check"); sys.exit()
t = {x["plan"]: x["trainable_parameters"] for x in r}
if not t["head"] == 325 < t["freeze2"] < t["freeze1"] < t["full"]:
    print("trainable parameters", t); sys.exit()
print("ok")'
rows=$(grep -c '^| .* | [48] | ' "$W/results.md")
same "table rows" "$rows" 8
if grep -q '^| head only' "$tmp/doc.md" && ! grep -q '^old$' "$tmp/doc.md" &&
   [ "$(tail -n 1 "$tmp/doc.md")" = tail ]; then ok; else
    bad "--doc" "the table is not between the markers of $tmp/doc.md"
fi

echo "example_short: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
