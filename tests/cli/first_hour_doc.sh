#!/bin/sh
# first_hour_doc.sh: docs/first-hour.md, the new-user pass, is true. Every
# ```console block of the page is run: a line "$ CMD" runs CMD (sh, in a
# sandbox folder, stdout and stderr together), and the lines after it, up
# to the next "$ " line, are what it must print: exactly, except that a
# line "..." stands for any number of lines and "…" inside a line for any
# text; a last line "[exit N]" is its exit status. Blocks marked
# ```console trainer run only where this build has the trainer.
#
# The sandbox holds what the page names: resnet18.pt (resnet18_sd.pt),
# bert.safetensors (bert_tiny), shards/ (vit_tiny_sharded_st), README.md,
# train.yaml (example/pretrain.train.yaml), the MLP training fixture
# (plan_mlp.yaml and its files), the hand-written plans of the page;
# `tui` is $TUI.
#
# Env: TUI, FIX, PYTHON. Prints "first_hour_doc: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin first_hour_doc
cli_abs_paths
PY=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
M=$FIX/models
cli_require "$ROOT/docs/first-hour.md" "$M/resnet18_sd.pt" \
    "$M/bert_tiny.safetensors" "$M/vit_tiny_sharded_st/model.safetensors.index.json" \
    "$FIX/train/plan_mlp.yaml"
S=$cli_tmp/s
mkdir -p "$S/bin"
ln -s "$TUI" "$S/bin/tui"
ln -s "$M/resnet18_sd.pt" "$S/resnet18.pt"
ln -s "$M/bert_tiny.safetensors" "$S/bert.safetensors"
ln -s "$M/vit_tiny_sharded_st" "$S/shards"
cp "$ROOT/README.md" "$S/README.md"
cp "$ROOT/example/pretrain.train.yaml" "$S/train.yaml"
for f in mlp.ts.pt mlp.init.safetensors mlp.safetensors plan_mlp.yaml; do
    cp "$FIX/train/$f" "$S/"
done
printf 'version: 1\nmodel:\n  path: resnet18.pt\nrule:\n  - freeze: layer1\n' >"$S/typo.yaml"
printf 'version: 1\nrules:\n  - freeze: layer1\n' >"$S/nomodel.yaml"
printf 'version: 1\nmodel:\n  path: resnet18.pt\n' >"$S/norules.yaml"
printf 'version: 1\nmodel:\n  path: bert.safetensors\nrules:\n  - freeze: "*LayerNorm*"\n' >"$S/ln.yaml"
trainer=0
if [ -f "$(dirname "$TUI")/libtui-train.so" ] || [ -n "$TUI_TRAIN_LIB" ]; then
    trainer=1
fi
TUI_PRESETS_DIR=$ROOT/presets
export TUI_PRESETS_DIR
unset NO_COLOR TUI_THREADS
"$PY" - "$ROOT/docs/first-hour.md" "$S" "$trainer" >"$cli_tmp/report" <<'PYEOF'
import os, re, subprocess, sys
doc, sandbox, trainer = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
env = dict(os.environ, PATH=os.path.join(sandbox, "bin") + os.pathsep + os.environ["PATH"],
           TUI_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
blocks, cur, kind = [], None, None
for line in open(doc, encoding="utf-8").read().split("\n"):
    if cur is None:
        m = re.match(r"^```console( trainer)?\s*$", line)
        if m:
            cur, kind = [], "trainer" if m.group(1) else "plain"
    elif line.startswith("```"):
        blocks.append((kind, cur)); cur = None
    else:
        cur.append(line)
def match(want, got):
    """want lines ('...' any lines, '…' any text) against got lines."""
    if not want:
        return not got
    if want[0] == "...":
        return any(match(want[1:], got[i:]) for i in range(len(got) + 1))
    if not got:
        return False
    pat = "^" + ".*".join(re.escape(p) for p in want[0].split("…")) + "$"
    return re.match(pat, got[0]) is not None and match(want[1:], got[1:])
passed = failed = skipped = 0
for kind, lines in blocks:
    if kind == "trainer" and not trainer:
        skipped += 1
        continue
    cmds, i = [], 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            cmd, out = lines[i][2:], []
            i += 1
            while i < len(lines) and not lines[i].startswith("$ "):
                out.append(lines[i]); i += 1
            cmds.append((cmd, out))
        else:
            i += 1
    for cmd, want in cmds:
        while want and want[-1] == "":
            want.pop()
        rc_want = None
        if want and re.match(r"^\[exit \d+\]$", want[-1]):
            rc_want = int(want.pop()[6:-1])
        p = subprocess.run(["sh", "-c", cmd], cwd=sandbox, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        got = p.stdout.decode("utf-8", "replace").rstrip("\n").split("\n")
        if got == [""]:
            got = []
        ok = match(want, got) and (rc_want is None or rc_want == p.returncode)
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL %s: exit %d%s" % (cmd, p.returncode,
                  "" if rc_want is None else " (want %d)" % rc_want))
            for l in got[:15]:
                print("    got  | " + l)
            for l in want[:15]:
                print("    want | " + l)
print("RESULT %d %d %d" % (passed, failed, skipped))
PYEOF
grep -v '^RESULT' "$cli_tmp/report"
set -- $(sed -n 's/^RESULT //p' "$cli_tmp/report")
if [ $# -ne 3 ]; then
    cli_fail "checker" "did not finish"
else
    passed=$((passed + $1))
    failed=$((failed + $2))
    [ "$3" = 0 ] || cli_skip no-trainer "$3 trainer block(s) not run (no trainer in this build)"
    if [ $(($1 + $2)) -ge 15 ]; then cli_pass; else
        cli_fail "page" "only $(($1 + $2)) commands checked"
    fi
fi
cli_end
