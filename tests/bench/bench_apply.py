#!/usr/bin/python3
"""bench_apply.py --build BUILD [--set DIR] [--runs N]: pattern apply, C
against Python, on the DeepSeek-V3-shaped set (91,991 names).

Runs BUILD/bench/bench_apply (tests/bench/bench_apply.c: formats_open,
tree_build, session_init, then session_apply_rule + session_undo, median
of N runs) and BUILD/bench/bench_pattern (pattern_match_table alone over
the same names, read from the set's index weight_map), then times the
Python route over the same names, median of N runs of each loop:

  seed:    for n in names: if "experts." in n: frozen.add(n)
           (and the same plain-string test for the other rules)
  fnmatch: for n in names: if fnmatchcase(n, GLOB): frozen.add(n)
  re:      for n in names: if RX.search(n): frozen.add(n)

RX is the exact equivalent of the tui pattern (ranges, subtree rule), so
its count must equal tui's; GLOB is the nearest fnmatch glob (its '*'
crosses dots, so it may match more). The seed test is what a training
script does by hand ("experts." also hits shared_experts).

Prints a Markdown table (tui apply ms next to the Python loop ms, and the
ratio) and writes it to BUILD/bench/apply.md. Not a pass/fail test: a
median over the 20 ms target is flagged; the exit status is 1 only when
the benchmark could not run or tui's count differs from the exact re.
"""
import argparse
import fnmatch
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

TARGET_APPLY_MS = 20.0

# tui rule -> (seed-style test, nearest fnmatch glob, exact regex)
RULES = [
    ("model.layers.{3..61}.mlp.experts.{0..127}",
     ('"experts." in n', lambda n: "experts." in n),
     "model.layers.*.mlp.experts.*",
     r"^model\.layers\.(?:[3-9]|[1-5][0-9]|6[01])\.mlp\.experts\."
     r"(?:[0-9]|[1-9][0-9]|1[01][0-9]|12[0-7])(?:\.|$)"),
    ("**.weight_scale_inv",
     ('n.endswith(".weight_scale_inv")',
      lambda n: n.endswith(".weight_scale_inv")),
     "*.weight_scale_inv",
     r"(?:^|\.)weight_scale_inv(?:\.|$)"),
    ("re:^lm_head",
     ('n.startswith("lm_head")', lambda n: n.startswith("lm_head")),
     "lm_head*",
     r"^lm_head"),
    ("**",
     ("True", lambda n: True),
     "*",
     r""),
]


def median_ms(fn, runs):
    fn()  # warm-up
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def loop_test(names, test):
    def run():
        frozen = set()
        for n in names:
            if test(n):
                frozen.add(n)
        return frozen
    return run


def loop_seed_experts(names):
    # Spelled out, as in the seed script (no lambda call per name).
    def run():
        frozen = set()
        for n in names:
            if "experts." in n:
                frozen.add(n)
        return frozen
    return run


def loop_fnmatch(names, glob):
    def run():
        frozen = set()
        for n in names:
            if fnmatch.fnmatchcase(n, glob):
                frozen.add(n)
        return frozen
    return run


def loop_re(names, rx):
    search = re.compile(rx).search

    def run():
        frozen = set()
        for n in names:
            if search(n):
                frozen.add(n)
        return frozen
    return run


def loop_invert(names):
    def run():
        frozen = set()
        for n in names:
            if n in frozen:
                frozen.discard(n)
            else:
                frozen.add(n)
        return frozen
    return run


def read_names(ds):
    idx = os.path.join(ds, "model.safetensors.index.json")
    with open(idx) as f:
        wm = json.load(f)["weight_map"]
    return list(wm)


def run_c_apply(binary, ds, runs, tsv):
    p = subprocess.run([binary, "-r", str(runs), "-t", tsv, ds],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("bench_apply: exit %d: %s"
                           % (p.returncode, p.stderr.strip()))
    rows = {}
    with open(tsv) as f:
        for line in f:
            what, rule, matched, med, mn, undo = line.rstrip("\n").split("\t")
            rows[rule] = {"what": what, "matched": int(matched),
                          "median": float(med), "min": float(mn),
                          "undo": float(undo)}
    return p.stdout, rows


def run_c_match(binary, names_path, rule, runs):
    p = subprocess.run([binary, names_path, rule, str(runs)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    m = re.search(r"(\d+) matched, min ([0-9.]+) ms, median ([0-9.]+) ms",
                  p.stdout)
    if p.returncode != 0 or not m:
        return None
    return {"matched": int(m.group(1)), "median": float(m.group(3))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--set", default=None)
    ap.add_argument("--runs", type=int, default=25)
    a = ap.parse_args()
    runs = max(20, a.runs)
    build = os.path.abspath(a.build)
    cache = os.path.join(build, "bench")
    fix = os.environ.get("FIX") or os.path.join(build, "fixtures")
    ds = a.set or os.path.join(fix, "synthetic", "deepseek-v3")
    apply_bin = os.path.join(cache, "bench_apply")
    pattern_bin = os.path.join(cache, "bench_pattern")
    if not os.path.isdir(ds):
        print("bench_apply: %s is absent (run `make fixtures`)" % ds)
        return 1
    if not os.access(apply_bin, os.X_OK):
        print("bench_apply: %s not built (tests/bench/run.sh builds it)"
              % apply_bin)
        return 1
    os.makedirs(cache, exist_ok=True)

    names = read_names(ds)
    names_path = os.path.join(cache, "deepseek-v3-names.txt")
    with open(names_path, "w") as f:
        f.write("\n".join(names) + "\n")

    try:
        c_text, c_rows = run_c_apply(apply_bin, ds, runs,
                                     os.path.join(cache, "apply.tsv"))
    except RuntimeError as e:
        print(str(e))
        return 1

    lines = []
    notes = []
    bad = False
    lines.append("# Pattern apply benchmark (DeepSeek-V3-shaped set)")
    lines.append("")
    lines.append("%s, %s, %d CPUs, load %.2f at start, Python %s; %d names "
                 "from the index weight_map; median of %d runs after one "
                 "warm-up." % (time.strftime("%Y-%m-%d %H:%M"),
                               platform.machine(), os.cpu_count() or 0,
                               os.getloadavg()[0],
                               platform.python_version(), len(names), runs))
    lines.append("")
    lines.append("## tui in-process (tests/bench/bench_apply.c)")
    lines.append("")
    lines.extend(c_text.rstrip("\n").splitlines())
    lines.append("")
    lines.append("## tui apply against the Python loop")
    lines.append("")
    lines.append("| rule | tui tensors | tui apply ms | tui match-only ms | "
                 "Python seed loop | seed n | seed ms | ratio | "
                 "fnmatch ms (n) | re ms (n) | target < %.0f ms |"
                 % TARGET_APPLY_MS)
    lines.append("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for rule, (seed_src, seed_fn), glob, rx in RULES:
        c = c_rows.get(rule)
        if c is None:
            notes.append("%s: no row from bench_apply" % rule)
            bad = True
            continue
        cm = run_c_match(pattern_bin, names_path, rule, runs) \
            if os.access(pattern_bin, os.X_OK) else None
        if rule == RULES[0][0]:
            seed = loop_seed_experts(names)
        else:
            seed = loop_test(names, seed_fn)
        fm, rr = loop_fnmatch(names, glob), loop_re(names, rx)
        n_seed, n_fm, n_re = len(seed()), len(fm()), len(rr())
        ms_seed = median_ms(seed, runs)
        ms_fm = median_ms(fm, runs)
        ms_re = median_ms(rr, runs)
        if n_re != c["matched"]:
            bad = True
            notes.append("%s: tui matched %d, the exact re %d: MISMATCH"
                         % (rule, c["matched"], n_re))
        ok = c["median"] < TARGET_APPLY_MS
        lines.append("| `%s` | %d | %.2f | %s | `%s` | %d | %.2f | %.1fx | "
                     "%.2f (%d) | %.2f (%d) | %s |"
                     % (rule, c["matched"], c["median"],
                        "%.2f" % cm["median"] if cm else "n/a",
                        seed_src, n_seed, ms_seed, ms_seed / c["median"],
                        ms_fm, n_fm, ms_re, n_re,
                        "ok" if ok else "**OVER TARGET**"))
    c = c_rows.get("invert")
    if c:
        inv = loop_invert(names)
        ms_inv = median_ms(inv, runs)
        lines.append("| invert (toggle all) | %d | %.2f | n/a | "
                     "`toggle n in frozen` | %d | %.2f | %.1fx | | | %s |"
                     % (c["matched"], c["median"], len(inv()), ms_inv,
                        ms_inv / c["median"],
                        "ok" if c["median"] < TARGET_APPLY_MS
                        else "**OVER TARGET**"))
    lines.append("")
    lines.append("tui apply = session_apply_rule: compile, match every name, "
                 "update the frozen set and the tree's frozen totals, record "
                 "the undo step (the undo ms column above is session_undo). "
                 "match-only = pattern_match_table alone (bench_pattern). "
                 "ratio = Python seed-loop ms / tui apply ms. The Python "
                 "loops only fill a set. The fnmatch glob's `*` crosses "
                 "dots, so its count can differ; the re is the exact "
                 "equivalent and must match tui's count.")
    for n in notes:
        lines.append("- " + n)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(cache, "apply.md"), "w") as f:
        f.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
