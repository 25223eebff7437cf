#!/usr/bin/python3
"""bench_list.py --build BUILD: `tui --list --json` against the Python route.

Makes (once, cached in BUILD/bench/) real checkpoints: torchvision
vit_b_16's state_dict with torch.save (346 MB), the same as safetensors,
resnet18's state_dict and a TorchScript resnet18. Then, for each file,
with the page cache warm (one warm-up run first), the median of RUNS runs
of the whole-process wall time and peak RSS (os.wait4's ru_maxrss) of

  tui --list --json FILE > /dev/null
  /usr/bin/python3 -c "import torch; torch.load(FILE) ...; print(listing)"

(TorchScript: torch.jit.load; safetensors: Python has no safetensors
package here, so its route is reading the JSON header with json), the
ratios, and the bytes tui reads as a share of the file (TUI_STATS=1 makes
tui print `stats: read_bytes=N reads=K open_ms=X` on stderr). Also the
open time of the DeepSeek-V3-shaped synthetic set, if present.

The whole-process time of the Python route includes starting Python and
`import torch` (about 0.8 s here), which a user in a notebook has already
paid; so an in-process column times the route alone: one Python process
imports torch, runs the route once to warm up, then RUNS more times
(stdout to /dev/null), and reports the median of those (perf_counter
around the load and the listing). Its ratio is against tui's whole
process, start included.

Prints a Markdown table and writes it to BUILD/bench/list.md. Not a
pass/fail test: results below the targets are flagged, and the exit
status is 0 unless the benchmark itself could not run.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY_TORCH = "/usr/bin/python3"  # Debian's Python, the one with torch

TARGET_SPEEDUP = 20.0     # on the 300+ MB torch zip
TARGET_READ_SHARE = 0.01  # bytes read / file size
TARGET_DS_MS = 400.0
TARGET_DS_MB = 200.0

ROUTE_TORCH = r"""
import sys, torch
sd = torch.load(sys.argv[1], map_location='cpu')
for k, v in sd.items():
    print(k, list(v.shape), v.dtype)
"""

ROUTE_JIT = r"""
import sys, torch
m = torch.jit.load(sys.argv[1], map_location='cpu')
for k, v in list(m.named_parameters()) + list(m.named_buffers()):
    print(k, list(v.shape), v.dtype)
"""

ROUTE_ST = r"""
import sys, json, struct
with open(sys.argv[1], 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    h = json.loads(f.read(n))
for k, v in h.items():
    if k != '__metadata__':
        print(k, v['shape'], v['dtype'])
"""

# The route's code run RUNS times inside one process that has already
# imported torch (and json): prints the median ms of the runs after a
# warm-up. argv: ROUTE_CODE FILE RUNS.
INPROC = r"""
import os, sys, time, statistics, json, struct, torch
code, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
prog = compile(code, '<route>', 'exec')
out = open(os.devnull, 'w')
def once():
    sys.argv = ['route', path]
    real, sys.stdout = sys.stdout, out
    try:
        t0 = time.perf_counter()
        exec(prog, {'__name__': '__route__'})
        return time.perf_counter() - t0
    finally:
        sys.stdout = real
once()
print('%.3f' % (statistics.median(once() for _ in range(runs)) * 1e3))
"""


def bench_inproc(route, path, runs):
    """The route's median ms inside one warm Python process, or None."""
    p = subprocess.run([PY_TORCH, "-c", INPROC, route, path, str(runs)],
                       capture_output=True, text=True)
    try:
        return float(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


MAKE = r"""
import os, sys, importlib.util, torch, torchvision
spec = importlib.util.spec_from_file_location('gen_models', sys.argv[3])
gm = importlib.util.module_from_spec(spec); spec.loader.exec_module(gm)
what, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
tmp = out + '.tmp'
if what == 'vit_b_16_sd.pt':
    torch.save(torchvision.models.vit_b_16().state_dict(), tmp)
elif what == 'vit_b_16.safetensors':
    gm.write_safetensors(tmp, torchvision.models.vit_b_16().state_dict(),
                         {'format': 'pt'})
elif what == 'resnet18_sd.pt':
    torch.save(torchvision.models.resnet18().state_dict(), tmp)
elif what == 'resnet18_ts.pt':
    m = torchvision.models.resnet18().eval()
    for n, p in m.named_parameters():
        if n.startswith(('conv1.', 'bn1.', 'layer1.')):
            p.requires_grad_(False)
    torch.jit.save(torch.jit.script(m), tmp)
os.replace(tmp, out)
"""

# (file, Python route, route label)
FILES = [
    ("vit_b_16_sd.pt", ROUTE_TORCH, "torch.load"),
    ("vit_b_16.safetensors", ROUTE_ST, "json header"),
    ("resnet18_sd.pt", ROUTE_TORCH, "torch.load"),
    ("resnet18_ts.pt", ROUTE_JIT, "torch.jit.load"),
]
BIG = "vit_b_16_sd.pt"  # the 300+ MB file the speed target is about


GNU_TIME = "/usr/bin/time"


def measure(argv, env=None, rss_wrap=False):
    """Runs argv once; returns (exit status, wall s, peak RSS bytes, stderr).

    The RSS is os.wait4's ru_maxrss. Linux counts in it the memory of the
    process that forked the child (before its exec), so a child of this
    Python process never shows less than this process's RSS. With
    rss_wrap, the command runs under GNU time, which is small and reports
    its own child's ru_maxrss (from wait4) in a file: that is the RSS
    then returned; the wall time then includes GNU time's start."""
    with tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss_out:
        run = argv
        if rss_wrap:
            run = [GNU_TIME, "-f", "%M", "-o", rss_out.name] + argv
        t0 = time.perf_counter()
        p = subprocess.Popen(run, stdout=subprocess.DEVNULL, stderr=err,
                             stdin=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
        rss = ru.ru_maxrss * 1024
        if rss_wrap:
            got = rss_out.read().strip().splitlines()
            rss = int(got[-1]) * 1024 if got and got[-1].isdigit() else None
    return p.returncode, wall, rss, text


def bench(argv, runs, env=None):
    """Warm-up, then the median wall (plain runs) and peak RSS (runs under
    GNU time when it is there) of `runs` runs each, or an error."""
    rc, _, _, err = measure(argv, env)
    if rc != 0:
        return {"error": "exit %d: %s" % (rc, (err.strip().splitlines()
                                                or [""])[-1][:120])}
    walls, rss = [], []
    wrap = os.access(GNU_TIME, os.X_OK)
    for _ in range(runs):
        rc, w, r, err = measure(argv, env)
        if rc != 0:
            return {"error": "exit %d on a later run" % rc}
        walls.append(w)
        if not wrap:
            rss.append(r)
    for _ in range(runs if wrap else 0):
        rc, _, r, err = measure(argv, env, rss_wrap=True)
        if rc != 0 or r is None:
            return {"error": "exit %d under %s" % (rc, GNU_TIME)}
        rss.append(r)
    return {"wall": statistics.median(walls), "rss": statistics.median(rss)}


def rss_floor():
    """The RSS that wait4 reports for /bin/true started from here."""
    _, _, r, _ = measure(["/bin/true"])
    return r


def tui_stats(tui, path):
    env = dict(os.environ, TUI_STATS="1")
    rc, _, _, err = measure([tui, "--list", "--json", path], env)
    m = re.search(r"stats: read_bytes=(\d+) reads=(\d+) open_ms=([0-9.]+)", err)
    if rc != 0 or not m:
        return None
    return {"read_bytes": int(m.group(1)), "reads": int(m.group(2)),
            "open_ms": float(m.group(3))}


def make_files(cache):
    gen = os.path.join(ROOT, "tests", "fixtures", "gen_models.py")
    os.makedirs(cache, exist_ok=True)
    for name, _, _ in FILES:
        out = os.path.join(cache, name)
        if os.path.exists(out):
            continue
        print("bench: making %s" % out, file=sys.stderr)
        subprocess.run([PY_TORCH, "-c", MAKE, name, out, gen], check=True)


def dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for dirpath, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    return total


def mb(x):
    return x / 1e6


def flag(ok):
    return "ok" if ok else "**BELOW TARGET**"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    runs = max(5, a.runs)
    build = os.path.abspath(a.build)
    tui = os.path.join(build, "tui")
    if not os.access(tui, os.X_OK):
        print("bench: %s not found; run `make` first" % tui)
        return 1
    cache = os.path.join(build, "bench")
    make_files(cache)

    lines = []
    notes = []
    lines.append("# tui --list benchmark")
    lines.append("")
    lines.append("%s, %s, %d CPUs, %s; median of %d runs after one warm-up "
                 "(page cache warm); RSS is peak (ru_maxrss)."
                 % (time.strftime("%Y-%m-%d %H:%M"), platform.machine(),
                    os.cpu_count() or 0, platform.release(), runs))
    lines.append("")
    lines.append("| file | size MB | tui ms | tui RSS MB | Python route | "
                 "Python ms | Python RSS MB | speedup | RSS ratio | "
                 "in-process Python ms | speedup vs in-process | "
                 "tui read | reads | open ms | flags |")
    lines.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
                 "---:|---:|---:|---|")

    for name, route, label in FILES:
        path = os.path.join(cache, name)
        size = os.path.getsize(path)
        t = bench([tui, "--list", "--json", path], runs)
        p = bench([PY_TORCH, "-c", route, path], runs)
        st = tui_stats(tui, path)
        flags = []
        cells = [name, "%.1f" % mb(size)]
        if "error" in t:
            cells += ["error", "", ]
            notes.append("%s: tui %s" % (name, t["error"]))
            flags.append("tui failed")
        else:
            cells += ["%.1f" % (t["wall"] * 1e3), "%.1f" % mb(t["rss"])]
        cells.append(label)
        if "error" in p:
            cells += ["error", ""]
            notes.append("%s: Python route %s" % (name, p["error"]))
        else:
            cells += ["%.1f" % (p["wall"] * 1e3), "%.1f" % mb(p["rss"])]
        if "error" not in t and "error" not in p:
            speed = p["wall"] / t["wall"]
            cells += ["%.1fx" % speed, "%.1fx" % (p["rss"] / t["rss"])]
            if name == BIG:
                flags.append("speed %s (>= %.0fx)"
                             % (flag(speed >= TARGET_SPEEDUP), TARGET_SPEEDUP))
        else:
            cells += ["", ""]
        inproc = bench_inproc(route, path, runs)
        if inproc is None:
            cells += ["error", ""]
            notes.append("%s: the in-process Python route failed" % name)
        elif "error" in t:
            cells += ["%.1f" % inproc, ""]
        else:
            cells += ["%.1f" % inproc,
                      "%.1fx" % (inproc / (t["wall"] * 1e3))]
        if st:
            share = st["read_bytes"] / size
            cells += ["%.3f%%" % (share * 100), str(st["reads"]),
                      "%.1f" % st["open_ms"]]
            flags.append("read %s (< 1%%)" % flag(share < TARGET_READ_SHARE))
        else:
            cells += ["n/a", "n/a", "n/a"]
            notes.append("%s: no `stats:` line with TUI_STATS=1" % name)
        cells.append("; ".join(flags))
        lines.append("| " + " | ".join(cells) + " |")

    ds = os.path.join(build, "fixtures", "synthetic", "deepseek-v3")
    lines.append("")
    if os.path.isdir(ds):
        t = bench([tui, "--list", "--json", ds], runs)
        st = tui_stats(tui, ds)
        lines.append("| DeepSeek-V3-shaped set (163 shards, sparse) | tui ms | "
                     "tui RSS MB | open ms | read | flags |")
        lines.append("|---|---:|---:|---:|---:|---|")
        if "error" in t:
            lines.append("| %s | error | | | | %s |" % (ds, t["error"]))
        else:
            ok_ms = t["wall"] * 1e3 < TARGET_DS_MS
            ok_mb = mb(t["rss"]) < TARGET_DS_MB
            lines.append("| deepseek-v3 (%d shards) | %.1f | %.1f | %s | %s | "
                         "wall %s (< %.0f ms); RSS %s (< %.0f MB) |"
                         % (sum(n.endswith(".safetensors") for n in os.listdir(ds)),
                            t["wall"] * 1e3,
                            mb(t["rss"]),
                            "%.1f" % st["open_ms"] if st else "n/a",
                            "%.2f MB" % mb(st["read_bytes"]) if st else "n/a",
                            flag(ok_ms), TARGET_DS_MS, flag(ok_mb),
                            TARGET_DS_MB))
    else:
        notes.append("DeepSeek-V3-shaped set skipped: %s is absent (made by "
                     "tests/fixtures/gen_synthetic.py; run `make fixtures`)"
                     % ds)

    lines.append("")
    lines.append("Targets: >= %.0fx faster than the Python route on %s; "
                 "tui reads < 1%% of each file; DeepSeek-V3 set < %.0f ms "
                 "and < %.0f MB." % (TARGET_SPEEDUP, BIG, TARGET_DS_MS,
                                     TARGET_DS_MB))
    lines.append("Python ms and RSS are a whole process: starting Python "
                 "and `import torch` included. In-process Python ms is the "
                 "route alone in a process that has already imported torch "
                 "(median of %d runs after a warm-up); tui's side is always "
                 "its whole process." % runs)
    lines.append("The safetensors Python route reads the JSON header with "
                 "`json` (no safetensors package here), so it does not "
                 "import torch.")
    if os.access(GNU_TIME, os.X_OK):
        lines.append("Peak RSS is the child's ru_maxrss from wait4 in GNU "
                     "time (%s), which forks it from a small process; wall "
                     "times come from separate plain runs." % GNU_TIME)
    else:
        lines.append("Peak RSS is os.wait4's ru_maxrss of a child of this "
                     "Python process, which Linux never reports below the "
                     "parent's RSS: /bin/true shows %.1f MB here."
                     % mb(rss_floor()))
    for n in notes:
        lines.append("- " + n)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(cache, "list.md"), "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
