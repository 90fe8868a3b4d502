"""Loss landscapes along filter-normalised random directions (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets").

Every point sets the weights to exactly theta* + a d1 + b d2, computed from a saved copy (no
accumulated steps); the grid is walked in plain row-major order; the model is restored bit-identically
afterwards, also when evaluation fails. Loss is measured on one fixed, unaugmented set (use
`data.balanced_subset`), BN in eval mode unless `bn="recalibrate"`.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data import ImageSet
from .fold import fold_bn
from .models import residual_blocks
from .records import write_npz
from .tensors import as_tensors, batches, loss_sums, preserved

Direction = dict[str, torch.Tensor]  # parameter (or buffer) name -> tensor of the same shape
BN_MODES = ("eval", "recalibrate")


@dataclass(frozen=True)
class Surface:
    """Loss and accuracy on a line or a grid; `loss[i, j]` is at (alphas[i], betas[j]).

    `meta` carries what produced it: kind, seed, grid, span, n_data, bn, keep_1d, label, seconds.
    """

    alphas: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    betas: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write an `.npz` atomically: the arrays plus `meta` as JSON (seed, grid, data size, BN mode)."""
        betas = np.array([]) if self.betas is None else self.betas
        meta = np.array(json.dumps(self.meta))
        return write_npz(
            path, alphas=self.alphas, betas=betas, loss=self.loss, accuracy=self.accuracy, meta=meta
        )

    @classmethod
    def load(cls, path: str | Path) -> Surface:
        """Read a `Surface` written by `save`."""
        with np.load(Path(path), allow_pickle=False) as f:
            betas = f["betas"] if f["betas"].size else None
            return cls(f["alphas"], f["loss"], f["accuracy"], betas, json.loads(str(f["meta"])))


# ---- directions -----------------------------------------------------------------------------


def filter_normalize(direction: Direction, model: nn.Module, *, keep_1d: bool = False) -> Direction:
    """Rescale each filter d_i (output-channel slice) to the norm of the model's filter theta_i (Li et
    al. 2018, Sec. 4): d_i <- d_i ||theta_i|| / ||d_i||. Parameters with <= 1 dimension (biases, BN)
    get zero, or with `keep_1d` are rescaled once as a whole. Never divides by zero."""
    params, out = dict(model.named_parameters()), {}
    for name, d in direction.items():
        w = params[name].detach()
        dims = [-1] + [1] * (d.dim() - 1)
        if w.dim() >= 2:
            scale = w.flatten(1).norm(dim=1) / d.flatten(1).norm(dim=1).clamp_min(1e-30)
            out[name] = d * scale.view(dims)
        elif keep_1d:
            out[name] = d * (w.norm() / d.norm().clamp_min(1e-30))
        else:
            out[name] = torch.zeros_like(d)
    return out


def random_direction(model: nn.Module, *, seed: int = 0, keep_1d: bool = False) -> Direction:
    """A filter-normalised Gaussian direction: d ~ N(0, I) (zero mean) from a seeded generator, then
    `filter_normalize`. Covers every parameter; buffers are not part of it."""
    g = torch.Generator().manual_seed(seed)
    d = {
        n: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device) for n, p in model.named_parameters()
    }
    return filter_normalize(d, model, keep_1d=keep_1d)


# ---- evaluation -----------------------------------------------------------------------------


@torch.no_grad()
def _recalibrate(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    """Recompute every BN's running statistics as the exact average over `x` (momentum None)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        for xb in x.split(batch_size):
            model(xb)
    finally:
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
            m.eval()


def evaluate_surface(
    model: nn.Module, data: Any, directions: list[Direction], coords: list[np.ndarray], *,
    bn: str = "eval", batch_size: int = 128, fast: bool = True,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Loss and accuracy at theta* + sum_k c_k d_k for every point of the grid `coords` (row-major).

    `data`: an `ImageSet` or a pair (x, y). `bn="eval"` uses the running statistics; `"recalibrate"`
    recomputes them from `data` at every point. `fast` folds BN into the convolutions and evaluates in
    channels_last under inference mode (the same numbers to about 1e-6). Directions may hold buffers
    (running statistics), which then move with the point. Returns arrays of shape (len(c) for c in coords).
    """
    if bn not in BN_MODES:
        raise ValueError(f"unknown bn mode {bn!r}; use one of {BN_MODES}")
    if len(directions) != len(coords):
        raise ValueError(f"{len(directions)} directions but {len(coords)} coordinate arrays")
    x, y = as_tensors(data, like=model)
    targets = dict(model.named_parameters()) | dict(model.named_buffers())
    _check_directions(directions, targets)
    names = [n for n in targets if any(n in d and bool(d[n].any()) for d in directions)]
    saved = {n: t.detach().clone() for n, t in targets.items()}  # theta*, and the restore point
    shape = tuple(len(c) for c in coords)
    loss, acc = np.zeros(shape), np.zeros(shape)
    with preserved(model, False):  # restores flags and buffers; parameters restored below
        try:
            net, refresh = fold_bn(model) if fast else (model, lambda: None)
            if fast and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            for index in itertools.product(*[range(n) for n in shape]):
                with torch.no_grad():
                    for n in names:
                        value = saved[n]
                        for d, c, i in zip(directions, coords, index):
                            value = value.add(d[n], alpha=float(c[i])) if n in d else value
                        targets[n].copy_(value)
                with torch.inference_mode():
                    if bn == "recalibrate":
                        _recalibrate(model, x, batch_size)
                    refresh()
                    total, correct, count = loss_sums(net, batches(x, y, batch_size)).tolist()  # one sync
                loss[index], acc[index] = total / count, correct / count
        finally:
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(saved[n])
    return loss, acc


def _check_directions(directions: list[Direction], targets: dict[str, torch.Tensor]) -> None:
    """Every direction entry must name a parameter or buffer of the model and have its shape."""
    for k, d in enumerate(directions):
        unknown = [n for n in d if n not in targets]
        if unknown:
            raise ValueError(f"directions[{k}] names {unknown[0]!r}, which the model does not have "
                             f"(a direction made for another architecture?)")  # fmt: skip
        bad = [n for n in d if tuple(d[n].shape) != tuple(targets[n].shape)]
        if bad:
            n = bad[0]
            raise ValueError(f"directions[{k}][{n!r}] has shape {tuple(d[n].shape)}, "
                             f"the model's has {tuple(targets[n].shape)}")  # fmt: skip


def _surface(model, data, directions, coords, meta, *, bn, batch_size, fast) -> Surface:
    start = time.perf_counter()
    loss, acc = evaluate_surface(model, data, directions, coords, bn=bn, batch_size=batch_size, fast=fast)
    seconds = time.perf_counter() - start
    meta = dict(
        meta,
        n_data=len(data) if isinstance(data, ImageSet) else len(data[1]),
        bn=bn,
        seconds=seconds,
        points=loss.size,
    )
    return Surface(coords[0], loss, acc, coords[1] if len(coords) > 1 else None, meta)


def _axis(span: float, n: int) -> np.ndarray:
    """n points over [-span, span]; the middle one exactly 0 when n is odd (a single point is 0)."""
    if n <= 0:
        raise ValueError(f"a surface needs a positive number of points per axis (grid/steps), got {n}")
    axis = np.linspace(-span, span, n) if n > 1 else np.zeros(1)
    axis[n // 2] = 0.0 if n % 2 else axis[n // 2]
    return axis


def interpolate(
    model_a: nn.Module, model_b: nn.Module, data: Any, *, steps: int = 25,
    span: tuple[float, float] = (-0.5, 1.5), bn: str = "eval", batch_size: int = 128, fast: bool = True,
    label: str | None = None,
) -> Surface:  # fmt: skip
    """1-D linear interpolation theta_a + t (theta_b - theta_a) (Goodfellow et al. 2015; Li et al. 2018,
    Sec. 3), running BN statistics interpolated too; t = 0 is model_a, t = 1 model_b."""
    a = dict(model_a.named_parameters()) | dict(model_a.named_buffers())
    b = dict(model_b.named_parameters()) | dict(model_b.named_buffers())
    if a.keys() != b.keys():
        raise ValueError(
            "the two models have different parameters; interpolate between the same architecture"
        )
    d = {n: (b[n] - a[n]).detach() for n in a if a[n].is_floating_point()}
    ts = np.linspace(span[0], span[1], steps)
    meta = dict(kind="interpolation", seed=None, grid=steps, span=list(span), keep_1d=True, label=label)
    return _surface(model_a, data, [d], [ts], meta, bn=bn, batch_size=batch_size, fast=fast)


def random_line(
    model: nn.Module, data: Any, *, steps: int = 51, span: float = 1.0, seed: int = 0, keep_1d: bool = False,
    bn: str = "eval", batch_size: int = 128, fast: bool = True, label: str | None = None,
) -> Surface:  # fmt: skip
    """1-D slice f(a) = L(theta* + a d) along one filter-normalised random direction, a in [-span, span]."""
    d = random_direction(model, seed=seed, keep_1d=keep_1d)
    meta = dict(kind="line", seed=seed, grid=steps, span=span, keep_1d=keep_1d, label=label)
    coords = [_axis(span, steps)]
    return _surface(model, data, [d], coords, meta, bn=bn, batch_size=batch_size, fast=fast)


def random_plane(
    model: nn.Module, data: Any, *, grid: int = 51, span: float = 1.0, seed: int = 0, keep_1d: bool = False,
    bn: str = "eval", batch_size: int = 128, fast: bool = True, label: str | None = None,
) -> Surface:  # fmt: skip
    """2-D surface f(a, b) = L(theta* + a d1 + b d2) on a grid x grid over [-span, span]^2 (Li et al.
    2018, Eq. 1 and Fig. 5); d1 from `seed`, d2 from `seed + 1`."""
    dirs = [random_direction(model, seed=seed + k, keep_1d=keep_1d) for k in range(2)]
    meta = dict(kind="plane", seed=seed, grid=grid, span=span, keep_1d=keep_1d, label=label)
    coords = [_axis(span, grid)] * 2
    return _surface(model, data, dirs, coords, meta, bn=bn, batch_size=batch_size, fast=fast)


# ---- why filter normalisation: a rescaled but identical network (lesson 05) ----------------


def rescale_before_bn(model: nn.Module, factor: float = 10.0, *, block: int = 0) -> nn.Module:
    """A copy of `model` whose `block`-th residual block has conv1 scaled by `factor`, with the BN after
    it adjusted (running mean x factor, running variance and eps x factor^2): the same function in
    train and eval mode, different weights (Li et al. 2018, Sec. 4: why filter normalisation)."""
    twin = copy.deepcopy(model)
    branch = residual_blocks(twin)[block].branch  # layers in computation order
    names = [n for n, _ in branch.named_children()]
    conv, bn = branch.conv1, branch[names.index("conv1") + 1]
    if not isinstance(bn, nn.BatchNorm2d):
        raise ValueError("rescale_before_bn needs a block whose conv1 is followed by BatchNorm")
    with torch.no_grad():
        conv.weight.mul_(factor)
        bn.running_mean.mul_(factor)
        bn.running_var.mul_(factor**2)
    bn.eps *= factor**2
    return twin


def raw_direction(model: nn.Module, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """A Gaussian direction over the weights (>= 2-D parameters; others zero) WITHOUT filter
    normalisation, scaled as a whole to the norm of those weights (Li et al. 2018, Sec. 4)."""
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    d = {n: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device) for n, p in params.items()}
    d = {n: t if params[n].dim() >= 2 else torch.zeros_like(t) for n, t in d.items()}
    norm_d = torch.stack([t.norm() for t in d.values()]).norm()
    norm_w = torch.stack([p.detach().norm() for p in params.values() if p.dim() >= 2]).norm()
    return {n: t * (norm_w / norm_d) for n, t in d.items()}
