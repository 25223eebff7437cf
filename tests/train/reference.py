"""reference.py: the Python training loop `tui --headless` must equal.

Shared by tests/parity/test_train_parity.py, tests/bench/bench_train.py and
tests/gpu/gpu_check.py. It reads the same plan, TorchScript module, initial
weights and data files as the trainer and does, in plain PyTorch, what
docs/training.md specifies:

  - torch.manual_seed(seed) once; epoch e visits the training rows in the
    order torch.randperm(n_train, generator=torch.Generator().manual_seed(
    seed + e)); the last floor(n * val_fraction) rows are validation;
  - the frozen list sets requires_grad = False; with batchnorm
    freeze-stats, a norm module with running stats whose parameters are all
    frozen stays in eval mode;
  - torch.optim SGD / Adam / AdamW with two groups: weight decay on tensors
    of 2+ dims only; the learning rate set each step from the schedule;
  - clip_grad_norm_ when clip_grad_norm > 0; zero_grad(set_to_none=True);
  - an evaluation after each epoch and at the end.

The module runs with the graph executor's optimizations off, like the
trainer, so both run the interpreter with eager autograd.
"""
import json
import math
import os
import struct
import time

import torch
import torch.nn.functional as F

ST_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16,
             "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32,
             "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
             "BOOL": torch.bool}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}


def st_load(path):
    """A safetensors file as (dict name -> tensor, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, e in hdr.items():
        a, b = e["data_offsets"]
        dt = ST_DTYPES[e["dtype"]]
        buf = bytearray(raw[base + a:base + b])
        t = torch.frombuffer(buf, dtype=dt) if b > a else torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out, meta


def st_save(path, tensors, meta=None):
    """Writes a safetensors file (contiguous, sorted by name)."""
    hdr = {}
    if meta:
        hdr["__metadata__"] = meta
    off = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        b = t.numpy().tobytes() if t.dtype != torch.bfloat16 else \
            t.view(torch.int16).numpy().tobytes()
        hdr[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape),
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


class Plan:
    """The settings of a plan's train: section, with the trainer's defaults."""

    def __init__(self, path, device=None, max_steps=None, doc=None):
        if doc is None:
            import yaml
            with open(path) as f:
                doc = yaml.safe_load(f)
        d = os.path.dirname(path)
        tr = doc["train"]
        rel = lambda p: p if os.path.isabs(p) else os.path.join(d, p)
        self.model = rel(tr["model"])
        self.init = rel(tr["init"]) if "init" in tr else None
        data = tr["data"]
        self.data = rel(data["train"])
        self.val = rel(data["val"]) if "val" in data else None
        self.inputs, self.targets = data["inputs"], data["targets"]
        self.val_fraction = float(data.get("val_fraction", 0.0))
        self.loss = tr.get("loss", "cross_entropy")
        o = tr.get("optimizer", {})
        self.opt = o.get("name", "adamw")
        self.lr = float(o.get("lr", 1e-3))
        self.wd = float(o.get("weight_decay", 0.01 if self.opt == "adamw" else 0.0))
        self.momentum = float(o.get("momentum", 0.9 if self.opt == "momentum" else 0.0))
        self.betas = tuple(float(b) for b in o.get("betas", (0.9, 0.999)))
        self.eps = float(o.get("eps", 1e-8))
        s = tr.get("schedule", {})
        self.sched = s.get("name", "constant")
        self.warmup = int(s.get("warmup_steps", 0))
        self.clip = float(tr.get("clip_grad_norm", 0.0))
        self.batch = int(tr.get("batch_size", 32))
        self.epochs = int(tr.get("epochs", 1))
        self.max_steps = max_steps if max_steps is not None else int(tr.get("max_steps", 0))
        self.device = device or tr.get("device", "cuda")
        self.precision = tr.get("precision", "fp32")
        self.seed = int(tr.get("seed", 0))
        self.frozen = list(doc.get("frozen") or [])
        self.batchnorm = doc.get("batchnorm", "freeze-stats")


def lr_at(p, s, total, base=None):
    """The schedule's lr at step s (0-based), for the plan's lr or `base`
    (a stage's lr)."""
    lr = p.lr if base is None else base
    if p.sched == "constant":
        return lr
    if p.warmup > 0 and s < p.warmup:
        return lr * (s + 1.0) / p.warmup
    if p.sched == "linear_warmup":
        return lr
    span = max(total - p.warmup, 1)
    return lr * 0.5 * (1.0 + math.cos(math.pi * (s - p.warmup) / span))


def frozen_norms(model, frozen):
    """Module paths kept in eval mode under freeze-stats."""
    out = []
    for path, mod in model.named_modules():
        bufs = dict(mod.named_buffers(recurse=False))
        params = [n for n, _ in mod.named_parameters(recurse=False)]
        if "running_mean" not in bufs or not params:
            continue
        full = [(path + "." + n) if path else n for n in params]
        if all(f in frozen for f in full):
            out.append(path)
    return out


def set_mode(model, train, eval_paths):
    model.train(train)
    if train:
        mods = dict(model.named_modules())
        for pth in eval_paths:
            mods[pth].train(False)


def setup_model(plan, dev, module=None):
    """The plan's module (or `module`) on dev with the initial weights, the
    frozen set and the norm layers to keep in eval mode (returned)."""
    model = module.to(dev) if module is not None else \
        torch.jit.load(plan.model, map_location=dev)
    if plan.init:
        init, _ = st_load(plan.init)
        sd = dict(model.named_parameters())
        sd.update(dict(model.named_buffers()))
        with torch.no_grad():
            for n, t in init.items():
                sd[n].copy_(t)
    frozen = set(plan.frozen)
    for n, p in model.named_parameters():
        p.requires_grad_(n not in frozen and p.dtype.is_floating_point)
    eval_paths = frozen_norms(model, frozen) if plan.batchnorm != "train" else []
    return model, eval_paths


def make_optimizer(plan, model):
    """The plan's optimizer over the trainable parameters (no weight decay
    on 1-D ones), and those parameters."""
    trainable = [(n_, p) for n_, p in model.named_parameters() if p.requires_grad]
    decay = [p for n_, p in trainable if p.dim() >= 2]
    nodecay = [p for n_, p in trainable if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": plan.wd},
              {"params": nodecay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    return new_optimizer(plan, groups), [p for _, p in trainable]


def new_optimizer(plan, groups):
    """The plan's torch.optim optimizer over param groups `groups`."""
    if plan.opt in ("sgd", "momentum"):
        return torch.optim.SGD(groups, lr=plan.lr, momentum=plan.momentum)
    if plan.opt == "adam":
        return torch.optim.Adam(groups, lr=plan.lr, betas=plan.betas, eps=plan.eps)
    return torch.optim.AdamW(groups, lr=plan.lr, betas=plan.betas, eps=plan.eps)


def run(plan, on_step=None, module=None):
    """Trains per the plan; returns a dict: losses (per step), weights
    (name -> tensor, CPU), train_seconds, step_times and step_cpu (wall
    and process CPU seconds per step), steps, val_loss. `module` (an eager
    nn.Module with the same names) replaces the plan's TorchScript module,
    for the benchmark's eager column."""
    torch._C._set_graph_executor_optimize(False)
    dev = torch.device(plan.device)
    model, eval_paths = setup_model(plan, dev, module)
    data, _ = st_load(plan.data)
    x_all, y_all = data[plan.inputs], data[plan.targets]
    n = x_all.shape[0]
    if plan.val:
        vd, _ = st_load(plan.val)
        vx, vy, n_train = vd[plan.inputs], vd[plan.targets], n
    else:
        nv = int(n * plan.val_fraction)
        n_train = n - nv
        vx, vy = x_all[n_train:], y_all[n_train:]
    spe = (n_train + plan.batch - 1) // plan.batch
    total = plan.max_steps if plan.max_steps else plan.epochs * spe
    opt, params = make_optimizer(plan, model)

    def loss_of(out, y):
        if plan.loss == "cross_entropy":
            return F.cross_entropy(out, y)
        if plan.loss == "mse":
            return F.mse_loss(out, y.to(out.dtype))
        if plan.loss == "bce_with_logits":
            return F.binary_cross_entropy_with_logits(out, y.to(out.dtype))
        return out

    def forward(x, y):
        out = model(x, y) if plan.loss == "model" else model(x)
        if isinstance(out, tuple):
            out = out[0]
        return loss_of(out, y)

    def evaluate():
        set_mode(model, False, [])
        tot, rows = 0.0, 0
        with torch.no_grad():
            for s in range(0, vx.shape[0], plan.batch):
                xb = vx[s:s + plan.batch].to(dev)
                yb = vy[s:s + plan.batch].to(dev)
                tot += forward(xb, yb).item() * xb.shape[0]
                rows += xb.shape[0]
        set_mode(model, True, eval_paths)
        return tot / rows if rows else float("nan")

    torch.manual_seed(plan.seed)
    set_mode(model, True, eval_paths)
    losses, val_loss, secs, step_times, step_cpu = [], None, 0.0, [], []
    step, perm, perm_epoch = 0, None, -1
    while step < total:
        epoch, pos = divmod(step, spe)
        if epoch != perm_epoch:
            g = torch.Generator()
            g.manual_seed(plan.seed + epoch)
            perm = torch.randperm(n_train, generator=g)
            perm_epoch = epoch
        t0, c0 = time.perf_counter(), time.process_time()
        idx = perm[pos * plan.batch:(pos + 1) * plan.batch]
        xb, yb = x_all[idx].to(dev), y_all[idx].to(dev)
        lr = lr_at(plan, step, total)
        for grp in opt.param_groups:
            grp["lr"] = lr
        if plan.precision == "bf16":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = forward(xb, yb)
        else:
            loss = forward(xb, yb)
        lv = loss.item()
        loss.backward()
        if plan.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, plan.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        took = time.perf_counter() - t0
        secs += took
        step_times.append(took)
        step_cpu.append(time.process_time() - c0)
        losses.append(lv)
        step += 1
        if on_step:
            on_step(step, lv)
        if pos + 1 == spe and vx.shape[0] > 0:
            val_loss = evaluate()
    if vx.shape[0] > 0 and (total % spe != 0):
        val_loss = evaluate()
    weights = {n_: t.detach().cpu().clone() for n_, t in model.named_parameters()}
    weights.update({n_: t.detach().cpu().clone() for n_, t in model.named_buffers()})
    grad_bytes = sum(p.numel() * p.element_size() for p in params)
    state_bytes = 0
    for st in opt.state.values():
        for v in st.values():
            if torch.is_tensor(v):
                state_bytes += v.numel() * v.element_size()
    return {"losses": losses, "weights": weights, "train_seconds": secs,
            "step_times": step_times, "step_cpu": step_cpu,
            "steps": step, "val_loss": val_loss, "grad_bytes": grad_bytes,
            "state_bytes": state_bytes, "trainable_tensors": len(params)}
