#!/usr/bin/python3
"""test_pickle_safety.py: tui never runs code from a pickle.

Builds, by hand from raw opcodes, pickles that call os.system,
posix.system, builtins.eval, builtins.exec, __builtin__.eval,
subprocess.Popen and nt.system through GLOBAL + REDUCE and through
STACK_GLOBAL + REDUCE (also with the names fetched from the memo, and
nested inside a state_dict), each trying to create a marker file. Each
goes into a zip laid out like torch.save (archive/data.pkl,
archive/version; one also TorchScript-shaped with constants.pkl).

For each: first proves the pickle is armed (Python's own pickle.loads,
in a child process, does create its marker), then runs `$TUI --list` on
the zip and checks: exit status 2, stderr names the refused global
("module.name"), and the marker file does not exist.
Ends with "test_pickle_safety: N passed, N failed".
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check  # noqa: E402


# --- raw opcodes -------------------------------------------------------------

def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def short_binunicode(s):
    b = s.encode()
    assert len(b) < 256
    return b"\x8c" + bytes([len(b)]) + b


def global_op(mod, name):
    return b"c" + mod.encode() + b"\n" + name.encode() + b"\n"


def stack_global_op(mod, name):
    # SHORT_BINUNICODE mod, MEMOIZE, SHORT_BINUNICODE name, MEMOIZE,
    # STACK_GLOBAL, MEMOIZE
    return (short_binunicode(mod) + b"\x94" + short_binunicode(name) + b"\x94"
            + b"\x93" + b"\x94")


def stack_global_memo_op(mod, name):
    # Strings stored in the memo first, STACK_GLOBAL fed from BINGETs.
    return (binunicode(mod) + b"q\x07" + b"0"      # BINPUT 7, POP
            + binunicode(name) + b"q\x08" + b"0"   # BINPUT 8, POP
            + b"h\x07" + b"h\x08" + b"\x93")       # BINGET 7, BINGET 8


def args_for(kind, marker):
    """The argument tuple (pickled) that makes `kind` create `marker`."""
    if kind == "shell":
        return binunicode("touch '%s'" % marker) + b"\x85"       # TUPLE1
    if kind == "python":
        return binunicode("open(%r, 'w').close()" % marker) + b"\x85"
    if kind == "argv":
        return (b"]" + binunicode("touch") + b"a" + binunicode(marker) + b"a"
                + b"\x85")                                         # ([..],)
    raise ValueError(kind)


def evil_pickle(style, mod, name, kind, marker, nested=False):
    if style == "global":
        head, call = b"\x80\x02", global_op(mod, name)
    elif style == "stack_global":
        head, call = b"\x80\x04", stack_global_op(mod, name)
    else:
        head, call = b"\x80\x04", stack_global_memo_op(mod, name)
    evil = call + args_for(kind, marker) + b"R"                     # REDUCE
    if not nested:
        return head + evil + b"."
    # OrderedDict() with {"weight": <evil>} set on it, like a state_dict.
    return (head + global_op("collections", "OrderedDict") + b")R"
            + b"(" + binunicode("encoder.layer.0.weight") + evil + b"u.")


def write_zip(path, pkl, torchscript=False):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        if torchscript:
            z.writestr("archive/constants.pkl", b"\x80\x02).")
            z.writestr("archive/code/__torch__.py", b"")
        z.writestr("archive/version", b"3\n")


# --- the cases -----------------------------------------------------------------
# (label, style, module, name, payload kind, armed on Linux, nested, ts)
CASES = [
    ("os_system_global", "global", "os", "system", "shell", True, False, False),
    ("posix_system_global", "global", "posix", "system", "shell", True, False, False),
    ("eval_global", "global", "builtins", "eval", "python", True, False, False),
    ("exec_global", "global", "builtins", "exec", "python", True, False, False),
    ("py2_eval_global", "global", "__builtin__", "eval", "python", True, False, False),
    ("popen_global", "global", "subprocess", "Popen", "argv", True, False, False),
    ("nt_system_global", "global", "nt", "system", "shell", False, False, False),
    ("os_system_stack", "stack_global", "os", "system", "shell", True, False, False),
    ("posix_system_stack", "stack_global", "posix", "system", "shell", True, False, False),
    ("eval_stack", "stack_global", "builtins", "eval", "python", True, False, False),
    ("popen_stack", "stack_global", "subprocess", "Popen", "argv", True, False, False),
    ("os_system_stack_memo", "memo", "os", "system", "shell", True, False, False),
    ("eval_stack_memo", "memo", "builtins", "eval", "python", True, False, False),
    ("os_system_nested", "global", "os", "system", "shell", True, True, False),
    ("eval_nested_stack", "stack_global", "builtins", "eval", "python", True, True, False),
    ("os_system_torchscript", "global", "os", "system", "shell", True, False, True),
]

ARM = ("import pickle, sys\n"
       "pickle.loads(open(sys.argv[1], 'rb').read())\n")


def wait_for(path, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return os.path.exists(path)


def run_case(work, case):
    label, style, mod, name, kind, armed, nested, ts = case
    d = os.path.join(work, label)
    os.mkdir(d)
    # 1. The pickle is armed: Python's pickle runs it.
    if armed:
        probe = os.path.join(d, "probe_marker")
        pf = os.path.join(d, "probe.pkl")
        with open(pf, "wb") as f:
            f.write(evil_pickle(style, mod, name, kind, probe, nested))
        subprocess.run([sys.executable, "-c", ARM, pf], cwd=d,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
        check(wait_for(probe, 5), "%s: armed (pickle.loads creates the marker)"
              % label)
    # 2. tui refuses it and runs nothing.
    marker = os.path.join(d, "pwned")
    path = os.path.join(d, "model.pt")
    write_zip(path, evil_pickle(style, mod, name, kind, marker, nested), ts)
    rc, _, err = checks.run_tui("--list", path, cwd=d, timeout=60)
    err = err.decode("utf-8", "replace")
    check(rc == 2, "%s: exit status 2" % label, "got %s: %s" % (rc, err.strip()))
    qual = "%s.%s" % (mod, name)
    check(qual in err, "%s: stderr names %s" % (label, qual), repr(err.strip()))
    time.sleep(0.2 if kind == "argv" else 0)
    check(not os.path.exists(marker), "%s: marker file not created" % label)


def main():
    if checks.missing_tui("test_pickle_safety"):
        return 1
    work = tempfile.mkdtemp(prefix="tui-pickle-")
    try:
        for case in CASES:
            run_case(work, case)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checks.finish("test_pickle_safety")


if __name__ == "__main__":
    sys.exit(main())
