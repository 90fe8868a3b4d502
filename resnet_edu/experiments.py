"""The small experiments the lessons run: functions that return tidy records.

Each function builds its (seeded) networks, measures one effect and returns a list of dicts, one
row per model / block / epoch, ready for `pandas.DataFrame(rows)` and `plots`. Notebooks and the
CLI call these functions; no experiment's logic lives only in a notebook.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ResidualBlock
from .data import ImageSet
from .loader import normalize
from .models import MLP, ResNet, cifar_resnet, count_params
from .probes import activation_grad_norms, forward_stats
from .train import (
    History,
    TrainConfig,
    device_name,
    fit,
)

Record = dict[str, Any]


# ---- lessons 01-03 ------------------------------------------------------------------------


def save_results(
    records: list[Record], path: str | os.PathLike, *, config: dict | TrainConfig, seed: int, device: str
) -> Path:
    """Write a full run's records as JSON with the settings, seed, device and date beside them."""
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    payload = {
        "records": records, "config": config, "seed": seed, "device": device,
        "date": datetime.date.today().isoformat(),
    }  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1))
    return path


def load_results(path: str | os.PathLike) -> dict | None:
    """A saved full run (see `save_results`) with a plot label "full run (device, date)", else None."""
    path = Path(path)
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    payload["label"] = f"full run ({payload.get('device', '?')}, {payload.get('date', '?')})"
    return payload


def by_model(records: list[Record], key: str = "model") -> dict[str, list[Record]]:
    """Group rows by `key`, keeping first-seen order: {label: rows} for `plots.plot_training_curves`."""
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r[key], []).append(r)
    return groups


def as_batch(data: ImageSet, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random batch of `n` normalised images (n, 3, H, W) and labels (n,) for the probes."""
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return normalize(data.images[idx]), data.labels[idx]


def mlp(depth: int, *, width: int = 128, head_norm: bool = True, **kw) -> nn.Module:
    """`models.MLP` with a BatchNorm before the classifier (as pre-activation nets end, He et al. 2016).

    The head norm keeps the logits of a residual MLP (whose stream grows with depth) at the scale of a
    plain one, so that plain and residual nets start from the same loss and compare fairly.
    """
    net = MLP(depth=depth, width=width, **kw)
    if not head_norm:
        return net
    return nn.Sequential(net.embed, net.blocks, nn.BatchNorm1d(width), net.fc)


# Lesson 01: activation and initialisation of a plain MLP (He et al. 2015, Sec. 1; Glorot & Bengio 2010).
MLP_VARIANTS: dict[str, dict[str, Any]] = {
    "sigmoid, naive init": dict(act="sigmoid", init="naive"),
    "sigmoid, He init": dict(act="sigmoid", init="he"),
    "ReLU, naive init": dict(act="relu", init="naive"),
    "ReLU, He init": dict(act="relu", init="he"),
    "ReLU, He init, BN": dict(act="relu", init="he", norm=True),
}


def mlp_gradient_norms(
    x: torch.Tensor, y: torch.Tensor, *, depths: tuple[int, ...] = (5, 10, 20, 40),
    variants: dict[str, dict[str, Any]] = MLP_VARIANTS, width: int = 128, shortcut: bool = False,
    seed: int = 0,
) -> list[Record]:  # fmt: skip
    """||dL/dx_l|| at initialisation for every block l of MLPs of each depth and variant.

    Measured in float64 so that vanishing norms (1e-40 and below) do not underflow to zero.
    Rows: model (variant), depth, block, grad_norm, ratio (grad_norm / ||dL/dx_L||, 1 at the top).
    """
    rows = []
    for depth in depths:
        for label, kw in variants.items():
            torch.manual_seed(seed)
            net = MLP(depth=depth, width=width, in_features=x[0].numel(), shortcut=shortcut, **kw).double()
            recs = activation_grad_norms(net, x.double(), y, label=label)
            top = recs[-1]["grad_norm"]
            for r in recs:
                rows.append(dict(r, depth=depth, ratio=r["grad_norm"] / top if top > 0 else float("nan")))
    return rows


def train_models(
    models: dict[str, Callable[[], nn.Module]], train: ImageSet, test: ImageSet | None, cfg: TrainConfig,
    *, progress: bool = False,
) -> list[Record]:  # fmt: skip
    """Train each model (built after `torch.manual_seed(cfg.seed)`) under the same `cfg`.

    The degradation experiment of He et al. 2015 (Fig. 1, Fig. 6): same data, same steps, only
    the network differs. Rows: model, params, epoch, train_loss, train_acc, test_loss, test_acc, time.
    """
    rows = []
    for label, make in models.items():
        torch.manual_seed(cfg.seed)
        net = make()
        hist = fit(net, train, test, cfg, progress=progress, name=label)
        n = count_params(net)
        rows += [dict(model=label, params=n, **r) for r in hist.records]
    return rows


def final_rows(records: list[Record]) -> list[Record]:
    """The last epoch's row of every model (for tables and bar charts)."""
    return [rows[-1] for rows in by_model(records).values()]


def shortcut_param_counts(depths: tuple[int, ...] = (20, 32, 44, 56, 110), width: int = 16) -> list[Record]:
    """Parameters of CIFAR ResNets with option A (zero-pad) and option B (1x1 projection) shortcuts.

    He et al. 2015, Sec. 3.3 and Table 6: option A adds no parameters (ResNet-20: 0.27M).
    """
    rows = []
    for depth in depths:
        a = count_params(cifar_resnet(depth, width=width, option="A"))
        b = count_params(cifar_resnet(depth, width=width, option="B"))
        rows.append(dict(depth=depth, option_A=a, option_B=b, extra_B=b - a, extra_B_pct=100 * (b - a) / a))
    return rows


# Lesson 03: pre-activation (He et al. 2016, "Identity Mappings in Deep Residual Networks").


def block_stack(
    n_blocks: int, channels: int = 8, *, placement: str = "full_preact", seed: int = 0, **kw
) -> nn.Sequential:
    """`n_blocks` same-shape `ResidualBlock`s (one stage of a CIFAR ResNet), float64, train mode."""
    torch.manual_seed(seed)
    blocks = [ResidualBlock(channels, channels, placement=placement, **kw) for _ in range(n_blocks)]
    for b in blocks:
        for m in b.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return nn.Sequential(*blocks).double()


def unrolled_sum_errors(net: nn.Sequential, x: torch.Tensor) -> list[Record]:
    """How far x_L is from x_l + sum_{i=l}^{L-1} F(x_i) (Identity Mappings Eq. 4), for every l.

    Exact (rounding only) for pre-activation blocks; the ReLU after the addition of the original
    block breaks it. Rows: l, L, abs_error (max |difference|), rel_error (abs_error / max |x_L|).
    """
    with torch.no_grad():
        xs, fs = [x], []
        for block in net:
            fs.append(block.branch(xs[-1]))
            xs.append(block(xs[-1]))
        big_l = len(net)
        scale = float(xs[-1].abs().max())
        rows = []
        for i in range(big_l):
            err = float((xs[-1] - xs[i] - sum(fs[i:])).abs().max())
            rows.append(dict(l=i, L=big_l, abs_error=err, rel_error=err / scale))
    return rows


def gradient_decomposition(net: nn.Sequential, x: torch.Tensor, *, seed: int = 0) -> list[Record]:
    """Identity Mappings Eq. 5 checked against autograd for E = <r, x_L> (r a seeded random tensor).

    dE/dx_l = dE/dx_L + dE/dx_L * d/dx_l sum_{i>=l} F(x_i): a direct term that reaches every block
    unchanged, plus a term through the branches. Rows: l, direct_norm, branch_norm, total_norm
    (autograd's ||dE/dx_l||), abs_error (max |direct + branch - autograd|).
    """
    r = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    rows = []
    for i in range(len(net)):
        xl = net[:i](x).detach().requires_grad_(True)
        h, branch_sum = xl, 0
        for block in net[i:]:
            branch_sum = branch_sum + block.branch(h)
            h = block(h)
        (total,) = torch.autograd.grad((r * h).sum(), xl, retain_graph=True)
        (through_branches,) = torch.autograd.grad((r * branch_sum).sum(), xl)  # r = dE/dx_L
        err = float((r + through_branches - total).abs().max())
        rows.append(dict(l=i, direct_norm=float(r.norm()), branch_norm=float(through_branches.norm()),
                         total_norm=float(total.norm()), abs_error=err))  # fmt: skip
    return rows


def skip_scale_gradients(
    lambdas: tuple[float, ...] = (0.5, 1.0, 1.5), depths: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    *, branch_gain: float = 0.0, channels: int = 4, size: int = 8, seed: int = 0,
) -> list[Record]:  # fmt: skip
    """||dE/dx_0|| / ||dE/dx_L|| for x_{l+1} = lambda x_l + g F(x_l), against lambda^L (Identity Mappings,
    Eq. 7: a scaled shortcut multiplies the gradient by prod lambda).

    With `branch_gain` g = 0 the branches are off and the ratio is exactly lambda^L; a small g adds the
    branch terms. Full pre-activation blocks (no ReLU after the addition), float64, E = <r, x_L>.
    Rows: lam, depth, branch_gain, grad_ratio, predicted (lambda^L).
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, size, size, generator=gen, dtype=torch.float64)
    rows = []
    for lam in lambdas:
        for depth in depths:
            net = block_stack(depth, channels, skip_scale=lam, skipinit=True, seed=seed)
            with torch.no_grad():
                for b in net:
                    b.gain.fill_(branch_gain)
            x0 = x.clone().requires_grad_(True)
            out = net(x0)
            r = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=out.dtype)
            (g0,) = torch.autograd.grad((r * out).sum(), x0)
            rows.append(dict(lam=lam, depth=depth, branch_gain=branch_gain,
                             grad_ratio=float(g0.norm() / r.norm()), predicted=lam**depth))  # fmt: skip
    return rows


# Identity Mappings Table 2 / Fig. 4: ResNet-110 CIFAR-10 test error (%) by activation placement.
PAPER_PLACEMENT_ERRORS = {
    "original": 6.61,
    "bn_after_addition": 8.17,
    "relu_before_addition": 7.84,
    "relu_only_preact": 6.71,
    "full_preact": 6.37,
}


def downsample(data: ImageSet, size: int) -> ImageSet:
    """The images average-pooled to `size` x `size` (a cheap CPU stand-in; the nets are size-agnostic)."""
    images = F.adaptive_avg_pool2d(data.images.float(), size).round().to(torch.uint8)
    return ImageSet(images, data.labels, data.classes)


def result_device(cfg: TrainConfig) -> str:
    """Name of the device a config trains on, for `save_results`."""
    return device_name(cfg.resolved_device())


# ---- lessons 04-06 ----------------------------------------------------------------------------
# Lesson 04 (BatchNorm meets the shortcut), 05 (loss landscapes), 06 (ResNet18 vs SimpleCNN).

VARIANCE_VARIANTS = {  # lesson 04: the same single-stage residual net, three ways to tame Var(x_l)
    "BatchNorm": dict(norm=True),
    "no normalisation": dict(norm=False),
    "no normalisation + SkipInit": dict(norm=False, skipinit=True),
}


def variance_through_depth(x: torch.Tensor, *, depth: int = 32, width: int = 16, seed: int = 0) -> list[dict]:
    """`probes.forward_stats` of one-stage residual nets (`depth` blocks of `width` channels, no
    downsampling) with BN, without normalisation and without normalisation but with SkipInit.

    De & Smith 2020, Sec. 3: with BN, Var(x_{l+1}) ~ Var(x_l) + 1, so Var(x_l) grows linearly and the
    branch's share Var(F)/Var(x_l) ~ 1/l; without normalisation it doubles per block (~2^l); a
    zero-initialised residual scale keeps it constant at initialisation. Rows as `forward_stats`.
    """
    rows = []
    for label, kw in VARIANCE_VARIANTS.items():
        torch.manual_seed(seed)
        model = ResNet(depths=(depth,), widths=(width,), **kw)
        rows += forward_stats(model, x, train=True, label=label)
    return rows


def growth_rates(records: list[dict], *, key: str = "var_x") -> list[dict]:
    """Per model: least-squares slope of `key` against block (linear growth) and the geometric ratio
    per block exp(slope of log `key`) (exponential growth: 2 when it doubles every block)."""
    rows = []
    for label in dict.fromkeys(r["model"] for r in records):
        pts = [(r["block"], r[key]) for r in records if r["model"] == label and r[key] > 0]
        b = torch.tensor([p[0] for p in pts], dtype=torch.float64)
        v = torch.tensor([p[1] for p in pts], dtype=torch.float64)
        rows.append(dict(model=label, linear_slope=_slope(b, v), ratio_per_block=math.exp(_slope(b, v.log())),
                         first=float(v[0]), last=float(v[-1])))  # fmt: skip
    return rows


def _slope(x: torch.Tensor, y: torch.Tensor) -> float:
    """Least-squares slope of y against x."""
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())


def load_compare_results(directory: str | os.PathLike) -> dict[str, History]:
    """Saved `History` JSON files of a full comparison run (lesson 06), keyed by model name.

    Reads every `*.json` in `directory` that holds records, config and meta (files of other shapes are
    skipped); an absent directory gives {}. The notebook's full setting writes them there.
    """
    out: dict[str, History] = {}
    for path in sorted(Path(directory).glob("*.json")) if Path(directory).is_dir() else []:
        try:
            h = History.load(path)
        except (ValueError, KeyError, TypeError):
            continue
        if h.records:
            out[h.meta.get("model") or path.stem] = h
    return out
