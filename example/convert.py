#!/usr/bin/python3
"""convert.py OUTDIR: Fashion-MNIST (Debian's dataset-fashion-mnist) to
safetensors tensor files for the example (docs/example.md).

Every file holds "images" (F32 [N,1,28,28], normalised with the mean and
standard deviation of the pretraining images) and "labels" (I64 [N]).

  pretrain_train.safetensors  classes 0-4 (T-shirt/top, Trouser, Pullover,
                              Dress, Coat) from the training set
  pretrain_val.safetensors    other images of the same classes
  finetune_k{K}_s{S}.safetensors  classes 5-9 (Sandal, Shirt, Sneaker, Bag,
                              Ankle boot) relabelled 0-4, K images per
                              class drawn with seed S (the K=20 draw is
                              the first 20 of the K=100 draw of the same
                              seed); none of them is in pretrain_*
  test.safetensors            the official test set's images of classes
                              5-9, relabelled 0-4 (never trained on)

Options (the short CI run uses small numbers):
  --src DIR          the idx files (default /usr/share/datasets/fashion-mnist)
  --pretrain N       pretraining images per class (default 2400)
  --val N            validation images per class (default 200)
  --shots K,K        images per class for fine-tuning (default 20,100)
  --seeds S,S        draws (default 0,1,2)
  --test N           test images per class (default: all 1000)
  --skip-pretrain    do not write pretrain_*.safetensors (the demo); the
                     normalisation is the same
Needs only numpy (python3-numpy); deterministic.
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st import st_save  # noqa: E402

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path, ndim):
    """The array in an idx file (magic 0x0000080n, big-endian sizes)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack_from(">I", data, 0)
    if magic != 0x800 + ndim:
        raise SystemExit(f"convert: {path}: magic {magic:#x}, expected "
                         f"{0x800 + ndim:#x}")
    dims = struct.unpack_from(">" + "I" * ndim, data, 4)
    n = int(np.prod(dims))
    start = 4 + 4 * ndim
    if len(data) - start != n:
        raise SystemExit(f"convert: {path}: {len(data) - start} bytes of "
                         f"data, the header says {n}")
    return np.frombuffer(data, np.uint8, n, start).reshape(dims)


def per_class(labels, classes, rng):
    """{class: indices of that class in a seeded random order}."""
    out = {}
    for c in classes:
        idx = np.flatnonzero(labels == c)
        out[c] = idx[rng.permutation(len(idx))]
    return out


def pick(pool, classes, lo, hi):
    """Indices [lo, hi) of each class's pool, interleaved class by class."""
    return np.stack([pool[c][lo:hi] for c in classes], 1).reshape(-1)


def write(path, images, labels, idx, shift, mean, std, meta):
    x = (images[idx].astype(np.float32) / 255.0 - mean) / std
    st_save(path, {"images": x.reshape(-1, 1, 28, 28).astype(np.float32),
                   "labels": (labels[idx].astype(np.int64) - shift)},
            dict(meta, samples=len(idx), mean=f"{mean:.6f}",
                 std=f"{std:.6f}"))
    print(f"convert: {os.path.basename(path)}: {len(idx)} images")


def ints(s):
    return [int(v) for v in s.split(",") if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--pretrain", type=int, default=2400)
    ap.add_argument("--val", type=int, default=200)
    ap.add_argument("--shots", type=ints, default=[20, 100])
    ap.add_argument("--seeds", type=ints, default=[0, 1, 2])
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--skip-pretrain", action="store_true")
    a = ap.parse_args()
    src = lambda n: os.path.join(a.src, n)
    try:
        tr_x = read_idx(src("train-images-idx3-ubyte.gz"), 3)
        tr_y = read_idx(src("train-labels-idx1-ubyte.gz"), 1)
        te_x = read_idx(src("t10k-images-idx3-ubyte.gz"), 3)
        te_y = read_idx(src("t10k-labels-idx1-ubyte.gz"), 1)
    except OSError as e:
        raise SystemExit(f"convert: {e.filename}: {e.strerror} (install "
                         "Debian's dataset-fashion-mnist: make deps)")
    if len(tr_x) != len(tr_y) or len(te_x) != len(te_y):
        raise SystemExit("convert: images and labels differ in count")
    old, new = range(0, 5), range(5, 10)
    # The training set: 6000 images per class. Classes 0-4 give the
    # pretraining images (the first --pretrain of a seeded order) and the
    # validation images (the last --val); classes 5-9 the fine-tuning draws.
    pool = per_class(tr_y, old, np.random.RandomState(1234))
    n_max = min(len(pool[c]) for c in old)
    if a.pretrain < 1 or a.val < 1 or a.pretrain + a.val > n_max:
        raise SystemExit(f"convert: --pretrain + --val must be in 2..{n_max}")
    pre = pick(pool, old, 0, a.pretrain)
    val = pick(pool, old, n_max - a.val, n_max)
    pix = tr_x[pre].astype(np.float64) / 255.0
    mean, std = float(pix.mean()), float(pix.std())
    os.makedirs(a.outdir, exist_ok=True)
    out = lambda n: os.path.join(a.outdir, n)
    meta = {"source": "Fashion-MNIST train", "classes": ",".join(CLASSES[:5])}
    if not a.skip_pretrain:
        write(out("pretrain_train.safetensors"), tr_x, tr_y, pre, 0, mean,
              std, meta)
        write(out("pretrain_val.safetensors"), tr_x, tr_y, val, 0, mean,
              std, meta)
    meta = {"source": "Fashion-MNIST train", "classes": ",".join(CLASSES[5:])}
    kmax = max(a.shots)
    for s in a.seeds:
        draw = per_class(tr_y, new, np.random.RandomState(s))
        for k in a.shots:
            if k < 1 or k > kmax:
                raise SystemExit("convert: bad --shots")
            write(out(f"finetune_k{k}_s{s}.safetensors"), tr_x, tr_y,
                  pick(draw, new, 0, k), 5, mean, std,
                  dict(meta, shots=k, seed=s))
    tpool = per_class(te_y, new, np.random.RandomState(99))
    nt = min(a.test, min(len(tpool[c]) for c in new))
    meta = {"source": "Fashion-MNIST t10k", "classes": ",".join(CLASSES[5:])}
    write(out("test.safetensors"), te_x, te_y, np.sort(pick(tpool, new, 0, nt)),
          5, mean, std, meta)


if __name__ == "__main__":
    main()
