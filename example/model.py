#!/usr/bin/python3
"""model.py: the example's network, a small residual CNN with BatchNorm
for 1x28x28 images and 5 classes (docs/example.md).

    stem     conv 3x3 (1 -> 16) + BatchNorm + ReLU              28x28
    stage1   one residual block, 16 channels, stride 2          14x14
    stage2   one residual block, 32 channels, stride 2           7x7
    stage3   one residual block, 64 channels, stride 2           4x4
    pool     global average
    fc       linear 64 -> 5

A block is conv-bn-relu-conv-bn plus the input (through a 1x1 conv + bn,
`down`, as every block changes the size), then ReLU. Tensor names:
stem.conv.weight, stem.bn.{weight,bias,running_mean,running_var,
num_batches_tracked}, stage2.0.conv1.weight, stage2.0.down.0.weight, ...,
fc.weight, fc.bias.

    model.py init OUTDIR [--seed S]
        OUTDIR/model.ts.pt (torch.jit.script of the network, the trainer's
        module) and OUTDIR/init.safetensors (the same initial weights,
        by name)
    model.py head IN OUT [--seed S]
        OUT = the weights IN with fc.weight and fc.bias drawn afresh the
        way nn.Linear initialises them (torch.manual_seed(S)): the
        fine-tuning start, the pretrained body with a new head
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st import st_load, st_save  # noqa: E402

WIDTHS = (16, 32, 64)
CLASSES = 5


class Stem(nn.Module):
    def __init__(self, cout):
        super().__init__()
        self.conv = nn.Conv2d(1, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Identity()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride,
                                                bias=False),
                                      nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.down(x))


class Net(nn.Module):
    def __init__(self, widths=WIDTHS, classes=CLASSES):
        super().__init__()
        w1, w2, w3 = widths
        self.stem = Stem(w1)
        self.stage1 = nn.Sequential(Block(w1, w1, 2))
        self.stage2 = nn.Sequential(Block(w1, w2, 2))
        self.stage3 = nn.Sequential(Block(w2, w3, 2))
        self.fc = nn.Linear(w3, classes)

    def forward(self, x):
        h = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def state_arrays(module):
    return {k: v.detach().cpu().numpy() for k, v in
            module.state_dict().items()}


def cmd_init(a):
    os.makedirs(a.outdir, exist_ok=True)
    torch.manual_seed(a.seed)
    net = Net()
    torch.jit.script(net).save(os.path.join(a.outdir, "model.ts.pt"))
    st_save(os.path.join(a.outdir, "init.safetensors"), state_arrays(net),
            {"model": "example/model.py Net", "seed": a.seed})
    n = sum(p.numel() for p in net.parameters())
    print(f"model: {n} parameters; wrote model.ts.pt and init.safetensors "
          f"in {a.outdir}")


def cmd_head(a):
    tensors, meta = st_load(a.input)
    w = tensors.get("fc.weight")
    if w is None or "fc.bias" not in tensors:
        raise SystemExit(f"model: {a.input}: no fc.weight / fc.bias")
    torch.manual_seed(a.seed)
    fc = nn.Linear(w.shape[1], w.shape[0])
    tensors["fc.weight"] = fc.weight.detach().numpy()
    tensors["fc.bias"] = fc.bias.detach().numpy()
    st_save(a.output, tensors, dict(meta, head_seed=a.seed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("head")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    {"init": cmd_init, "head": cmd_head}[a.cmd](a)


if __name__ == "__main__":
    main()
