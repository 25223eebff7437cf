"""st.py: read and write safetensors files with numpy only (no torch).

    st_save(path, {name: ndarray}, meta=None)   tensors sorted by name,
                                                data 8-byte aligned header
    st_load(path) -> ({name: ndarray}, meta)    copies, any layout

Only the dtypes the example uses: F32, I64 (and F64, I32, U8 for
completeness). Used by convert.py, model.py and results.py.
"""
import json
import struct

import numpy as np

_NP = {"F32": np.float32, "F64": np.float64, "I64": np.int64,
       "I32": np.int32, "U8": np.uint8}
_ST = {np.dtype(v).str: k for k, v in _NP.items()}


def st_save(path, tensors, meta=None):
    """Writes `tensors` (name -> ndarray) to `path` (not atomically)."""
    hdr = {}
    if meta:
        hdr["__metadata__"] = {k: str(v) for k, v in meta.items()}
    off = 0
    blobs = []
    for name in sorted(tensors):
        a = np.asarray(tensors[name])  # keeps 0-dim arrays 0-dim
        if not a.flags.c_contiguous:
            a = a.copy(order="C")
        code = _ST.get(a.dtype.newbyteorder("<").str)
        if code is None:
            raise ValueError(f"{path}: {name}: dtype {a.dtype} not supported")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        hdr[name] = {"dtype": code, "shape": list(a.shape),
                     "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def st_load(path):
    """Returns ({name: ndarray}, metadata dict) for the file at `path`."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > len(data) - 8:
        raise ValueError(f"{path}: header of {n} bytes, file of {len(data)}")
    hdr = json.loads(data[8:8 + n])
    meta = hdr.pop("__metadata__", {}) or {}
    out = {}
    for name, d in hdr.items():
        dt = np.dtype(_NP[d["dtype"]]).newbyteorder("<")
        a, b = d["data_offsets"]
        buf = data[8 + n + a:8 + n + b]
        out[name] = np.frombuffer(buf, dtype=dt).reshape(d["shape"]).copy()
    return out, meta
