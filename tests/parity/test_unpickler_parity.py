#!/usr/bin/python3
"""test_unpickler_parity.py: tui's pickle reader against PyTorch's
torch.load(weights_only=True).

The local PyTorch is 1.13, whose weights_only unpickler lacks Counter,
builtins.set and the __builtin__ mapping, so "PyTorch accepts / refuses"
is decided here by EMULATING the unpickler of PyTorch 2.6 and later
(torch/_weights_only_unpickler.py as of PyTorch 2.9): the joined
"module.name" looked up in _get_allowed_globals() (below: ALLOWED plus
the dtypes and storage classes), the modules sys, os, posix and nt
blocked, GLOBAL's Python 2 names renamed first by torch/_utils.py's
NAME_MAPPING / IMPORT_MAPPING (so protocol 2's __builtin__.set is
builtins.set), NEWOBJ of a pybind11 class (torch.device) pending until
its BUILD and refused at STOP without one, BUILD only on tensors,
Parameters, OrderedDicts and allowlisted types, SETITEM only on dict /
OrderedDict / Counter, APPEND only on lists, persistent ids only
('storage', ...). The emulation is a subclass of CPython's pure-Python
pickle._Unpickler whose globals are stand-ins: nothing from the pickle
is imported or called.

Two deliberate differences, each checked as tui's own rule:
- protocol 4: current PyTorch refuses FRAME, STACK_GLOBAL, MEMOIZE...
  opcode by opcode; tui keeps protocol 4 readable, so a protocol-4
  pickle is judged as CPython reads it (a FRAME whose length disagrees
  with its opcodes is refused by CPython's framing, and by tui with
  "frame mismatch" and the offset);
- cycles: PyTorch loads a dict that holds itself; tui refuses it with
  "cyclic reference at offset N" (a checkpoint's names are a tree).

Each case is a file written with torch.save (some with data.pkl patched
and the zip rewritten) in a temporary folder; tui --list --json must
then exit 0 listing the tensors the emulation found (names and shapes),
or exit 2 with one stderr line naming the file, as the emulation
accepts or refuses. Ends with "test_unpickler_parity: N passed, N failed".
"""
import collections
import io
import json
import os
import pickle
import pickletools
import shutil
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

import torch  # noqa: E402

# --- the emulated allowlist (PyTorch 2.9 _get_allowed_globals) ---------------

BLOCKED = {"sys", "os", "posix", "nt"}
ALLOWED = {
    "collections.OrderedDict", "collections.Counter",
    "torch.nn.parameter.Parameter", "torch.serialization._get_layout",
    "torch.Size", "torch.Tensor", "torch.device", "_codecs.encode",
    "builtins.bytearray", "builtins.set", "builtins.complex",
    "torch.per_tensor_affine", "torch.per_tensor_symmetric",
    "torch.per_channel_affine", "torch.per_channel_symmetric",
    "torch.per_channel_affine_float_qparams",
    "torch._tensor._rebuild_from_type_v2",
} | {"torch._utils." + f for f in (
    "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor",
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
    "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor")} | {"torch." + s for s in (
    "DoubleStorage", "FloatStorage", "HalfStorage", "BFloat16Storage",
    "LongStorage", "IntStorage", "ShortStorage", "CharStorage",
    "ByteStorage", "BoolStorage", "ComplexDoubleStorage",
    "ComplexFloatStorage", "UntypedStorage", "float32", "float64",
    "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8",
    "bool", "complex64", "complex128")}
PYBIND11 = {"torch.device"}  # NEWOBJ of these waits for BUILD
IMPORT_MAPPING = {
    "__builtin__": "builtins", "copy_reg": "copyreg", "Queue": "queue",
    "repr": "reprlib", "_abcoll": "collections.abc", "UserDict": "collections",
    "UserList": "collections", "UserString": "collections", "whichdb": "dbm",
    "StringIO": "io", "cStringIO": "io",
}
NAME_MAPPING = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "reduce"): ("functools", "reduce"),
    ("__builtin__", "intern"): ("sys", "intern"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
}


class Refused(Exception):
    pass


class FakeTensor:
    def __init__(self, shape, sparse=False):
        self.shape = [int(d) for d in shape]
        self.sparse = sparse


class Global:
    """A stand-in for an allowlisted global: calling it builds a value."""

    def __init__(self, path):
        self.path = path

    def __call__(self, *args):
        p = self.path
        if p == "collections.OrderedDict":
            return collections.OrderedDict(*args)
        if p == "collections.Counter":
            return collections.Counter(*args)
        if p in ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
                 "torch._utils._rebuild_tensor_v3"):
            return FakeTensor(args[2])
        if p in ("torch._utils._rebuild_parameter",
                 "torch.nn.parameter.Parameter"):
            return args[0]
        if p == "torch.Size":
            return tuple(args[0])
        if p == "torch._utils._rebuild_sparse_tensor":
            return FakeTensor(args[1][2], sparse=True)
        if p == "builtins.set":
            return set(*args)
        if p == "builtins.complex":
            return complex(*args)
        if p == "builtins.bytearray":
            return bytearray(*args)
        if p == "_codecs.encode" and isinstance(args[0], str):
            return args[0].encode(args[1] if len(args) > 1 else "utf-8")
        return Obj(p, args)


class Obj:
    def __init__(self, path, args):
        self.path, self.args, self.state = path, args, None


class Pending:
    def __init__(self, path, args):
        self.path, self.args = path, args


class Emulator(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data):
        super().__init__(io.BytesIO(data))
        self.pending = set()

    def resolve(self, module, name):
        full = module + "." + name
        if module in BLOCKED:
            raise Refused("blocked module " + full)
        if full not in ALLOWED:
            raise Refused("unsupported global " + full)
        return Global(full)

    def load_global(self):
        module = self.readline()[:-1].decode("utf-8")
        name = self.readline()[:-1].decode("utf-8")
        if (module, name) in NAME_MAPPING:
            module, name = NAME_MAPPING[(module, name)]
        elif module in IMPORT_MAPPING:
            module = IMPORT_MAPPING[module]
        self.append(self.resolve(module, name))
    dispatch[pickle.GLOBAL[0]] = load_global

    def load_stack_global(self):
        name = self.stack.pop()
        module = self.stack.pop()
        self.append(self.resolve(module, name))
    dispatch[pickle.STACK_GLOBAL[0]] = load_stack_global

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, Global):
            raise Refused("NEWOBJ of a non-allowlisted class")
        if cls.path in PYBIND11:
            obj = Pending(cls.path, args)
            self.pending.add(obj)
        else:
            obj = cls(*args)
        self.append(obj)
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, Pending):
            self.pending.discard(inst)
            inst = Obj(inst.path, inst.args)
            self.stack[-1] = inst
            for k, v in list(self.memo.items()):
                if v is self.stack[-1]:
                    self.memo[k] = inst
        if isinstance(inst, collections.OrderedDict):
            inst.__dict__.update(state)
        elif isinstance(inst, (FakeTensor, Obj)):
            pass
        else:
            raise Refused("BUILD on a %s" % type(inst).__name__)
    dispatch[pickle.BUILD[0]] = load_build

    def load_stop(self):
        if self.pending:
            raise Refused("Object created by NEWOBJ was not initialized by "
                          "BUILD")
        super().load_stop()
    dispatch[pickle.STOP[0]] = load_stop

    def persistent_load(self, pid):
        if type(pid) is not tuple or not pid or pid[0] != "storage":
            raise Refused("persistent id is not ('storage', ...)")
        return Obj("storage", pid)


def emulate(data):
    """("accept", {name: (shape, sparse)}) or ("refuse", reason)."""
    try:
        top = Emulator(data).load()
    except Refused as e:
        return "refuse", str(e)
    except Exception as e:  # CPython's own checks (framing, types)
        return "refuse", "%s: %s" % (type(e).__name__, e)
    found = {}

    def walk(v, path, seen):
        if id(v) in seen:
            return
        if isinstance(v, FakeTensor):
            found[path] = (v.shape, v.sparse)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, "%s.%s" % (path, k) if path else str(k),
                     seen | {id(v)})
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, "%s.%d" % (path, i) if path else str(i),
                     seen | {id(v)})
    walk(top, "", frozenset())
    return "accept", found


# --- writing the cases -------------------------------------------------------

def rewrite(path, member_suffix, fn):
    """Rewrites zip `path` with the member ending in member_suffix
    replaced by fn(old bytes)."""
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in items:
            if name.endswith(member_suffix):
                data = fn(data)
            z.writestr(name, data)


def member(path, suffix):
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.endswith(suffix):
                return z.read(n)
    return None


def op_at(data, opname, after=None):
    """Offset of the first opcode `opname` (after offset `after`)."""
    for op, arg, pos in pickletools.genops(data):
        if op.name == opname and (after is None or pos > after):
            return pos
    raise ValueError(opname)


def patch(old, new):
    def fn(data):
        assert old in data, (old, data[:200])
        return data.replace(old, new, 1)
    return fn


def to_newobj(build):
    """torch.device's REDUCE turned into NEWOBJ (with a BUILD of {})."""
    def fn(data):
        g = data.index(b"ctorch\ndevice\n")
        r = op_at(data, "REDUCE", g)
        return data[:r] + b"\x81" + (b"}b" if build else b"") + data[r + 1:]
    return fn


def frame_len(delta):
    def fn(data):
        f = op_at(data, "FRAME")
        n = int.from_bytes(data[f + 1:f + 9], "little") + delta
        return data[:f + 1] + n.to_bytes(8, "little") + data[f + 9:]
    return fn


def frame_into_string():
    """The frame made to end in the middle of the first string of 4 or
    more bytes: one read straddles the frame's end."""
    def fn(data):
        f = op_at(data, "FRAME")
        for op, arg, pos in pickletools.genops(data):
            if op.name == "SHORT_BINUNICODE" and len(arg) >= 4:
                n = pos + 4 - (f + 9)
                return data[:f + 1] + n.to_bytes(8, "little") + data[f + 9:]
        raise ValueError("no string")
    return fn


def sparse():
    return torch.sparse_coo_tensor(torch.tensor([[0, 1], [2, 0]]),
                                   torch.tensor([1.0, 2.0]), (2, 3))


class Frozen(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x)


def make_cases(d):
    """[(name, path, member, deviation)]: member is the pickle the
    emulation judges; deviation: None, or the text tui's own refusal must
    hold where tui and PyTorch differ on purpose, and who loads it."""
    w = torch.arange(6.0).reshape(2, 3)
    cases = []

    def save(name, obj, fix=None, proto=2, mem="data.pkl", dev=None):
        p = os.path.join(d, name + ".pt")
        torch.save(obj, p, pickle_protocol=proto)
        if fix:
            rewrite(p, mem, fix)
        cases.append((name, p, mem, dev))
        return p

    builtins_sd = {"w": w, "ids": {1, 2}, "z": 1 + 2j, "raw": bytearray(b"ab")}
    p = save("p2_builtins", builtins_sd)
    assert b"c__builtin__\nset\n" in member(p, "data.pkl")
    save("counter", {"w": w, "vocab": collections.Counter({"a": 2, "b": 1})})
    save("ordereddict", collections.OrderedDict([("w", w), ("b", w[0])]))
    save("moved_split", {"w": w},
         patch(b"ctorch._utils\n_rebuild_tensor_v2\n",
               b"ctorch\n_utils._rebuild_tensor_v2\n"))
    save("moved_split_bad", {"w": w},
         patch(b"ctorch._utils\n_rebuild_tensor_v2\n",
               b"ctorch._utils._rebuild_tensor_v2\n\n"))
    save("split_blocked", {"w": w},
         patch(b"ctorch._utils\n_rebuild_tensor_v2\n",
               b"cos\nsystem\n"))
    save("sparse", {"w": w, "sp": sparse()})
    save("sparse_param", {"w": w, "sp": torch.nn.Parameter(sparse())})
    save("device_reduce", {"w": w, "dev": torch.device("cpu")})
    save("device_newobj_build", {"w": w, "dev": torch.device("cpu")},
         to_newobj(True))
    save("device_newobj_nobuild", {"w": w, "dev": torch.device("cpu")},
         to_newobj(False))
    cyc = {"w": w}
    cyc["self"] = cyc
    save("cyclic_dict", cyc, dev=("cyclic reference at offset", "PyTorch"))
    lst = [w]
    lst.append(lst)
    save("cyclic_list", {"l": lst},
         dev=("cyclic reference at offset", "PyTorch"))
    save("proto4", {"w": w, "b": w[0]}, proto=4)
    # the frame ends at an opcode boundary: the rest is unframed, legal
    save("proto4_frame_boundary", {"w": w, "b": w[0]}, frame_len(-7),
         proto=4)
    # ... inside a string: CPython's framing refuses it
    save("proto4_frame_short", {"w": w, "b": w[0]}, frame_into_string(),
         proto=4)
    # ... between BININT1 and its operand byte: CPython reads the operand
    # from after the frame and goes on; tui refuses the opcode
    save("proto4_frame_operand", {"w": w, "b": w[0]}, frame_len(-15),
         proto=4, dev=("frame mismatch: opcode 0x4b at offset 187 runs past "
                       "the end of its frame", "CPython"))
    # past the end: CPython reads the short frame and goes on; current
    # PyTorch refuses every FRAME; tui names the mismatch
    frame_dev = ("frame mismatch: FRAME at offset 2 declares", "CPython")
    save("proto4_frame_long", {"w": w, "b": w[0]}, frame_len(+7), proto=4,
         dev=frame_dev)
    save("proto4_frame_huge", {"w": w, "b": w[0]}, frame_len(1 << 40),
         proto=4, dev=frame_dev)

    m = torch.jit.freeze(torch.jit.script(Frozen()).eval())
    p = os.path.join(d, "ts_frozen.pt")
    m.save(p)
    cases.append(("ts_frozen", p, "constants.pkl", None))
    q = os.path.join(d, "ts_evil_constants.pt")
    shutil.copy(p, q)
    rewrite(q, "constants.pkl",
            lambda data: b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo"
                         b"\x85R\x85.")
    cases.append(("ts_evil_constants", q, "constants.pkl", None))
    return cases


def tui_names(js, mem):
    out = {}
    for t in js["tensors"]:
        if mem == "constants.pkl" and not t["name"].startswith(
                "constants.pkl."):
            continue
        name = t["name"]
        if mem == "constants.pkl":
            name = name[len("constants.pkl."):]
        out[name] = (t["shape"], t.get("layout") == "sparse_coo")
    return out


def main():
    name = "test_unpickler_parity"
    if checks.missing_tui(name):
        return 1
    d = tempfile.mkdtemp(prefix="tui-unpickler-")
    try:
        for case, path, mem, dev in make_cases(d):
            verdict, info = emulate(member(path, mem))
            rc, out, err = run_tui("--list", "--json", path)
            lines = err.decode(errors="replace").strip().splitlines()
            if dev:
                check(verdict == "accept", "%s: %s loads it" % (case, dev[1]),
                      info)
                check(rc == 2 and len(lines) == 1 and path in lines[0] and
                      dev[0] in lines[0], case + ": tui refuses: " + dev[0],
                      lines)
                continue
            if verdict == "refuse":
                ok = (rc == 2 and len(lines) == 1 and path in lines[0] and
                      (mem != "constants.pkl" or "constants.pkl" in lines[0])
                      and not out)
                check(ok, "%s: refused as PyTorch does (%s)" % (case, info),
                      "rc %s, stderr %s" % (rc, lines))
                continue
            if not check(rc == 0, "%s: opened as PyTorch does" % case,
                         "rc %s, stderr %s" % (rc, lines)):
                continue
            got = tui_names(json.loads(out), mem)
            check(got == info, case + ": the tensors PyTorch finds",
                  ["pytorch %s" % sorted(info.items()),
                   "tui     %s" % sorted(got.items())])
            if case.startswith("sparse"):
                js = json.loads(out)
                sp = [t for t in js["tensors"] if t["name"] == "sp"]
                check(sp and sp[0]["kind"] == "other" and
                      not sp[0]["trainable"] and sp[0]["dtype"] == "F32",
                      case + ": sparse_coo is kind other, never trainable",
                      sp)
                rc2, sout, _ = run_tui("--summary", path)
                check(rc2 == 0 and b"sparse       1 sparse_coo tensor, kind "
                      b"other (never trainable): sp" in sout,
                      case + ": --summary names the sparse tensor",
                      sout.decode(errors="replace")[:400])
        # the frame refusals name the offset
        for case in ("proto4_frame_short", "proto4_frame_operand",
                     "proto4_frame_long", "proto4_frame_huge"):
            p = os.path.join(d, case + ".pt")
            rc, _, err = run_tui("--list", p)
            check(b"frame mismatch: " in err and b" at offset " in err,
                  case + ": 'frame mismatch' with the offset",
                  err.decode(errors="replace"))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return checks.finish(name)


if __name__ == "__main__":
    sys.exit(main())
