"""checks.py: the harness shared by the parity tests (tests/parity/*.py).

It lives in tests/parity/lib/ so that tests/run.sh, which runs every
tests/parity/*.py as a test, does not run it. A test imports it with

    HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(HERE, "lib"))
    import checks
    from checks import check

Module values (read at import):
  TUI   $TUI, else <repo>/build/tui: the binary under test.
  FIX   $FIX, else <repo>/build/fixtures: the generated fixtures.
  TUI_PRESETS_DIR in os.environ is set to <repo>/presets when unset, so
  that `--preset` works in tui's child processes.

Counting:
  check(ok, what, detail="")  counts one passed check when ok is true,
      else one failed check and prints "FAIL what", then the detail
      indented: a list or tuple one item a line (the first 8, then
      "... and N more"), anything else as str() (600 characters at most);
      an empty detail prints nothing. Returns ok as a bool.
  guarded(label, fn)  calls fn(); when it raises an Exception, counts one
      failed check "LABEL raised" with the exception's type and text and
      goes on. Returns True when fn returned, False when it raised.
  finish(name)  prints "NAME: N passed, N failed" (the line tests/run.sh
      parses) and returns the exit status: 1 if any check failed, else 0.
  abort(name, why)  for a test that cannot start: prints why, then
      "NAME: 0 passed, 1 failed"; returns 1.
  missing_tui(name)  returns 0 when TUI is an executable file; else
      prints "NAME: TUI is not built" as abort() does and returns 1.

Running tui (every argument a string; TUI is prepended):
  run_tui(*args, timeout=120, cwd=None, env=None)  returns
      (exit status, stdout bytes, stderr bytes); the status is None and
      stderr says so when tui ran past timeout seconds (None: no limit).
  tui(*args, timeout=None)  returns stdout (bytes) of a run that exited 0;
      raises RuntimeError naming the arguments, the status and stderr
      otherwise (a timeout included).
  tui_json(*args, timeout=None)  tui(*args) parsed as JSON; raises
      RuntimeError as tui() does, ValueError when stdout is not JSON.
  tui_parameters(*args)  runs `tui --list --json ARGS` and returns its
      parameters (kind "parameter"), in listing order, as a list of
      (name, trainable) pairs; raises as tui_json() does.
"""
import json
import os
import subprocess

_REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
    __file__)), "..", "..", ".."))

TUI = os.environ.get("TUI", os.path.join(_REPO, "build", "tui"))
FIX = os.environ.get("FIX", os.path.join(_REPO, "build", "fixtures"))
os.environ.setdefault("TUI_PRESETS_DIR", os.path.join(_REPO, "presets"))

MAX_SHOWN = 8      # detail lines printed per failed check
MAX_DETAIL = 600   # characters printed per detail line

_passed = 0
_failed = 0


def check(ok, what, detail=""):
    global _passed, _failed
    if ok:
        _passed += 1
        return True
    _failed += 1
    print("FAIL %s" % what)
    if isinstance(detail, (list, tuple)):
        lines = list(detail)
        for d in lines[:MAX_SHOWN]:
            print("    " + str(d)[:MAX_DETAIL])
        if len(lines) > MAX_SHOWN:
            print("    ... and %d more" % (len(lines) - MAX_SHOWN))
    elif detail:
        print("    " + str(detail)[:MAX_DETAIL])
    return False


def guarded(label, fn):
    try:
        fn()
    except Exception as e:  # one failed check, then go on
        check(False, "%s raised" % label, "%s: %s" % (type(e).__name__, e))
        return False
    return True


def finish(name):
    print("%s: %d passed, %d failed" % (name, _passed, _failed))
    return 1 if _failed else 0


def abort(name, why):
    print(why)
    print("%s: 0 passed, 1 failed" % name)
    return 1


def missing_tui(name):
    if os.access(TUI, os.X_OK):
        return 0
    return abort(name, "%s: %s is not built" % (name, TUI))


def sanitized(path=None):
    """True for an ASan build (as tests/cli/limits.sh tells it)."""
    try:
        with open(path or TUI, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def run_tui(*args, timeout=120, cwd=None, env=None):
    try:
        p = subprocess.run([TUI, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=cwd,
                           env=env)
    except subprocess.TimeoutExpired:
        return None, b"", b"timed out after %ds" % timeout
    return p.returncode, p.stdout, p.stderr


def tui(*args, timeout=None):
    rc, out, err = run_tui(*args, timeout=timeout)
    if rc != 0:
        raise RuntimeError("tui %s: exit %s: %s" % (
            " ".join(args), rc, err.decode(errors="replace")))
    return out


def tui_json(*args, timeout=None):
    return json.loads(tui(*args, timeout=timeout))


def tui_parameters(*args):
    doc = tui_json("--list", "--json", *args)
    return [(t["name"], t["trainable"]) for t in doc["tensors"]
            if t["kind"] == "parameter"]
