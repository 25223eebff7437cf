#!/usr/bin/python3
"""test_spectrum_select.py: the `spectrum` preset against Spectrum's own
selection code, from the same scores.

Spectrum (cognitivecomputations/spectrum, spectrum.py at 0ed1756) picks
what to train in three steps, copied below as it wrote them:
  get_weight_types (lines 54-62): a module with a weight, bias or inv_freq
      has the type "the name after its first all-digit part", else its
      whole name; sort_weight_types (lines 76-83) orders them;
  calculate_snr_for_layer (lines 85-126): for each type in that order,
      every module whose name holds the type (`layer_type in name`) and
      has a weight gets {'type': layer_type, 'snr': its score}, a later
      type overwriting an earlier one's claim (a dict keyed by module);
  generate_unfrozen_params_yaml (lines 184-210): per type, sorted by
      score, highest first (Python's stable sort), int(len * top / 100)
      kept, and ^lm_head.weight$ and ^model.embed_tokens.weight$ always.
Axolotl reads that list with freeze_layers_except (axolotl/utils/
freeze.py, LayerNamePattern): each entry a regex with its dots literal,
matched at the start of a parameter name (re.match).

Here the scores are tui's own (`tui --rank snr --json`, cached), fed
both to that code and, through the cache, to `--preset spectrum:top=N`;
the parameters each leaves trainable must be the same, for top = 1, 10,
25, 33, 50, 75, 99 and 100, by score and (scale_invariant=1) by snr,
on a Llama-like model of 12 layers (layers 10 and 11 sort before 2 as
text; norms all score Inf, so they tie; two layers' q_proj are copies,
a tie of finite scores) and a Qwen2-like one (q/k/v biases), written as
safetensors (names sorted) and as torch.save (module order). Then the
preset without a cache: one line naming the command, exit 2.

Env: TUI, TUI_CACHE_DIR is set to a temporary folder.
Prints "test_spectrum_select: N passed, N failed".
"""
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
import checks  # noqa: E402
from checks import check, run_tui  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

TOPS = (1, 10, 25, 33, 50, 75, 99, 100)


# --- a Llama-like model (module structure as transformers builds it) ---

class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))


class Rotary(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("inv_freq", torch.ones(4), persistent=False)


class Attn(nn.Module):
    def __init__(self, h, bias):
        super().__init__()
        self.q_proj = nn.Linear(h, h, bias=bias)
        self.k_proj = nn.Linear(h, h, bias=bias)
        self.v_proj = nn.Linear(h, h, bias=bias)
        self.o_proj = nn.Linear(h, h, bias=False)
        self.rotary_emb = Rotary()


class Mlp(nn.Module):
    def __init__(self, h, ff):
        super().__init__()
        self.gate_proj = nn.Linear(h, ff, bias=False)
        self.up_proj = nn.Linear(h, ff, bias=False)
        self.down_proj = nn.Linear(ff, h, bias=False)


class Layer(nn.Module):
    def __init__(self, h, ff, bias):
        super().__init__()
        self.self_attn = Attn(h, bias)
        self.mlp = Mlp(h, ff)
        self.input_layernorm = RMSNorm(h)
        self.post_attention_layernorm = RMSNorm(h)


class Inner(nn.Module):
    def __init__(self, v, h, ff, n, bias):
        super().__init__()
        self.embed_tokens = nn.Embedding(v, h)
        self.layers = nn.ModuleList(Layer(h, ff, bias) for _ in range(n))
        self.norm = RMSNorm(h)


class CausalLM(nn.Module):
    def __init__(self, v=40, h=16, ff=24, n=12, bias=False):
        super().__init__()
        self.model = Inner(v, h, ff, n, bias)
        self.lm_head = nn.Linear(h, v, bias=False)


def make_model(bias, seed):
    torch.manual_seed(seed)
    m = CausalLM(bias=bias)
    with torch.no_grad():
        for i, p in enumerate(m.parameters()):
            if p.ndim == 2:  # spread the scores: scaled columns, low rank
                p.copy_(torch.randn(p.shape) *
                        torch.linspace(0.2, 1 + i % 5, p.shape[1]))
            else:
                p.copy_(torch.randn(p.shape))
        m.model.layers[5].self_attn.q_proj.weight.copy_(
            m.model.layers[2].self_attn.q_proj.weight)
    return m


def write_safetensors(path, sd):
    hdr, data = {}, b""
    for name in sorted(sd):
        b = sd[name].detach().contiguous().numpy().astype("<f4").tobytes()
        hdr[name] = {"dtype": "F32", "shape": list(sd[name].shape),
                     "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


# --- Spectrum's selection, copied from spectrum.py (0ed1756) ---

class Spectrum:
    def __init__(self, model, top_percent):
        self.model = model
        self.top_percent = top_percent
        self.layer_snr = {}

    def get_weight_types(self):  # spectrum.py:54-62
        weight_types = set()
        for name, module in self.model.named_modules():
            parts = name.split('.')
            if any(hasattr(module, attr) for attr in ['weight', 'bias',
                                                        'inv_freq']):
                layer_index = next((i for i, part in enumerate(parts)
                                    if part.isdigit()), -1)
                weight_type = ('.'.join(parts[layer_index + 1:])
                               if layer_index != -1 else name)
                weight_types.add(weight_type)
        return list(weight_types)

    def sort_weight_types(self, weight_types):  # spectrum.py:76-83
        categories = {}
        for wt in weight_types:
            category = wt.split('.')[0]
            categories.setdefault(category, []).append(wt)
        sorted_categories = {k: sorted(v) for k, v in sorted(
            categories.items(), key=lambda item: item[0])}
        return [wt for sublist in sorted_categories.values()
                for wt in sublist]

    def calculate_snr_for_layer(self, layer_type, scores):
        # spectrum.py:85-126, the score taken from tui instead of svdvals
        layers = [(name, module) for name, module in
                  self.model.named_modules()
                  if layer_type in name and hasattr(module, 'weight')]
        for name, module in layers:
            self.layer_snr[name] = {'type': layer_type,
                                    'snr': scores[name + ".weight"]}

    def generate_unfrozen_params(self):  # spectrum.py:184-210, as a list
        top_percent = self.top_percent
        snr_data = self.layer_snr
        unfrozen_parameters = {}
        for layer_name, info in snr_data.items():
            layer_type = info['type']
            if layer_type not in unfrozen_parameters:
                unfrozen_parameters[layer_type] = []
            unfrozen_parameters[layer_type].append((layer_name, info['snr']))
        top_layers_by_type = {}
        for layer_type, layers in unfrozen_parameters.items():
            layers_sorted = sorted(layers, key=lambda x: x[1], reverse=True)
            num_top_layers = int(len(layers) * top_percent / 100)
            top_layers_by_type[layer_type] = [
                layer[0] for layer in layers_sorted[:num_top_layers]]
        out = ["^lm_head.weight$", "^model.embed_tokens.weight$"]
        for layer_type, layer_names in top_layers_by_type.items():
            out += layer_names
        return out


def axolotl_trainable(model, patterns):
    """freeze_layers_except's matching (axolotl/utils/freeze.py)."""
    regs = [re.compile(re.sub(r"\.(?!\+)", "\\.", p)) for p in patterns]
    return {name for name, _ in model.named_parameters()
            if any(r.match(name) is not None for r in regs)}


def spectrum_trainable(model, scores, top):
    sp = Spectrum(model, top)
    for layer_type in sp.sort_weight_types(sp.get_weight_types()):
        sp.calculate_snr_for_layer(layer_type, scores)
    return axolotl_trainable(model, sp.generate_unfrozen_params())


def tui_trainable(path, top, by_snr):
    arg = f"spectrum:top={top},scale_invariant={by_snr}"
    rc, out, err = run_tui("--list", "--json", path, "--preset", arg)
    if rc != 0:
        raise RuntimeError(f"--preset {arg}: exit {rc}: {err[-300:]}")
    j = json.loads(out)
    return {t["name"] for t in j["tensors"]
            if t["kind"] == "parameter" and t["trainable"]}


def one_model(tmp, label, bias, seed):
    m = make_model(bias, seed)
    sd = m.state_dict()
    for ext in ("safetensors", "pt"):
        path = os.path.join(tmp, f"{label}.{ext}")
        if ext == "pt":
            torch.save(sd, path)
        else:
            write_safetensors(path, sd)
        rc, out, err = run_tui("--rank", "snr", "--json", path)
        if not check(rc == 0, f"{label}.{ext}: --rank snr", err[-300:]):
            continue
        j = json.loads(out)
        got = {t["name"]: t for t in j["tensors"]}
        score = {n: math.inf if t["score"] is None else t["score"]
                 for n, t in got.items()}
        snr = {n: math.inf if t["snr"] is None else t["snr"]
               for n, t in got.items()}
        q2, q5 = (score.get(f"model.layers.{k}.self_attn.q_proj.weight")
                  for k in (2, 5))
        check(q2 is not None and q2 == q5,
              f"{label}.{ext}: the copied q_proj ties", f"{q2} {q5}")
        bad = []
        for by_snr, key in ((0, score), (1, snr)):
            for top in TOPS:
                try:
                    mine = tui_trainable(path, top, by_snr)
                except (RuntimeError, ValueError) as e:
                    bad.append(str(e))
                    continue
                want = spectrum_trainable(m, key, top)
                if mine != want:
                    bad.append(f"top={top} by_snr={by_snr}: only tui "
                               f"{sorted(mine - want)[:4]}, only Spectrum "
                               f"{sorted(want - mine)[:4]}")
        check(not bad, f"{label}.{ext}: the preset trains what Spectrum's "
              f"list does ({len(TOPS)} tops, by score and by snr)", bad)


def main():
    if checks.missing_tui("test_spectrum_select"):
        return 1
    tmp = tempfile.mkdtemp(prefix="test_spectrum_select.")
    os.environ["TUI_CACHE_DIR"] = os.path.join(tmp, "cache")
    try:
        one_model(tmp, "llama", False, 3)
        one_model(tmp, "qwen2", True, 4)
        # no cache: the preset says which command makes one
        os.environ["TUI_CACHE_DIR"] = os.path.join(tmp, "empty")
        path = os.path.join(tmp, "llama.pt")
        rc, out, err = run_tui("--list", path, "--preset", "spectrum")
        check(rc == 2 and out == b"" and err.count(b"\n") == 1 and
              b"tui --rank snr " + path.encode() in err,
              "no cache: one line naming --rank snr, exit 2",
              f"rc={rc} err={err[:300]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checks.finish("test_spectrum_select")


if __name__ == "__main__":
    sys.exit(main())
