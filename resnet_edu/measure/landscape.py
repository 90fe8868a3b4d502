"""Loss landscapes along filter-normalised random directions (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets").

Every point sets the weights to exactly theta* + a d1 + b d2, computed from a saved copy (no
accumulated steps); the grid is walked in plain row-major order; the model is restored bit-identically
afterwards, also when evaluation fails. Loss is measured on one fixed, unaugmented set (use
`data.balanced_subset`), BN in eval mode unless `bn="recalibrate"`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.files import read_npz, write_npz
from ..data.sets import ImageSet, check_positive, finite_pair, generator
from ..data.tensors import as_tensors, batches
from ..nets.fold import fold_bn
from ..nets.modules import preserved
from ..training.evaluation import loss_sums

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
        f = read_npz(path, ("alphas", "betas", "loss", "accuracy", "meta"), "a stored Surface")
        betas = f["betas"] if f["betas"].size else None
        grid = (len(f["alphas"]),) if betas is None else (len(f["alphas"]), len(betas))
        meta = json.loads(str(f["meta"])) if f["meta"].dtype.kind == "U" else None  # ours: a JSON string
        if f["loss"].shape != grid or f["accuracy"].shape != grid or not isinstance(meta, dict):
            raise ValueError(f"{str(path)!r} is not a stored Surface (its arrays or meta do not fit)")
        return cls(f["alphas"], f["loss"], f["accuracy"], betas, meta)


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
    g = generator(seed)
    d = {
        n: torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device) for n, p in model.named_parameters()
    }
    return filter_normalize(d, model, keep_1d=keep_1d)


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
    model: nn.Module,
    data: Any,
    directions: list[Direction],
    coords: list[np.ndarray],
    *,
    bn: str = "eval",
    batch_size: int = 128,
    fast: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
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
    if fast and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    targets = dict(model.named_parameters()) | dict(model.named_buffers())
    _check_directions(directions, targets)
    moves = {  # tensor name -> [(k, d_k)]: the directions that move it (checked once, not per point)
        n: [(k, d[n]) for k, d in enumerate(directions) if n in d and bool(d[n].any())] for n in targets
    }
    moves = {n: steps for n, steps in moves.items() if steps}
    shape = tuple(len(c) for c in coords)
    loss, acc = np.zeros(shape), np.zeros(shape)
    with preserved(model, False), _restored(model) as theta:  # flags, buffers and parameters come back
        net, refresh = fold_bn(model) if fast else (model, lambda: None)
        for index in itertools.product(*[range(n) for n in shape]):
            _move_to(targets, theta, moves, [float(c[i]) for c, i in zip(coords, index)])
            loss[index], acc[index] = _loss_and_accuracy(
                model, net, refresh, x, y, bn=bn, batch_size=batch_size
            )
    return loss, acc


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """A copy of every parameter and buffer (theta*); the parameters are copied back on exit."""
    saved = {n: t.detach().clone() for n, t in (*model.named_parameters(), *model.named_buffers())}
    try:
        yield saved
    finally:
        with torch.no_grad():
            for n, p in model.named_parameters():
                p.copy_(saved[n])


@torch.no_grad()
def _move_to(
    targets: dict[str, torch.Tensor], theta: dict[str, torch.Tensor], moves: dict, point: Sequence[float]
):
    """Set every moving tensor to theta* + sum_k point[k] d_k, computed afresh from theta* (no drift)."""
    for name, steps in moves.items():
        value = theta[name]
        for k, d in steps:
            value = value.add(d, alpha=point[k])
        targets[name].copy_(value)


@torch.inference_mode()
def _loss_and_accuracy(model, net, refresh, x, y, *, bn: str, batch_size: int) -> tuple[float, float]:
    """Mean loss and accuracy of the model's current weights on (x, y): one host sync per point."""
    if bn == "recalibrate":
        _recalibrate(model, x, batch_size)
    refresh()  # the folded network follows the weights just set
    total, correct, count = loss_sums(net, batches(x, y, batch_size)).tolist()
    return total / count, correct / count


def _check_directions(directions: list[Direction], targets: dict[str, torch.Tensor]) -> None:
    """Every direction entry must name a parameter or buffer of the model and have its shape."""
    for k, d in enumerate(directions):
        unknown = [n for n in d if n not in targets]
        if unknown:
            raise ValueError(
                f"directions[{k}] names {unknown[0]!r}, which the model does not have "
                f"(a direction made for another architecture?)"
            )
        bad = [n for n in d if tuple(d[n].shape) != tuple(targets[n].shape)]
        if bad:
            n = bad[0]
            raise ValueError(
                f"directions[{k}][{n!r}] has shape {tuple(d[n].shape)}, "
                f"the model's has {tuple(targets[n].shape)}"
            )


def _surface(model, data, directions, coords, meta, **evaluation) -> Surface:
    """`evaluate_surface` timed, as a `Surface` whose meta says what produced it."""
    start = time.perf_counter()
    loss, acc = evaluate_surface(model, data, directions, coords, **evaluation)
    n_data = len(data) if isinstance(data, ImageSet) else len(data[1])
    meta |= dict(n_data=n_data, bn=evaluation.get("bn", "eval"), seconds=time.perf_counter() - start)
    return Surface(coords[0], loss, acc, coords[1] if len(coords) > 1 else None, meta | {"points": loss.size})


def _axis(span: float, n: int) -> np.ndarray:
    """n points over [-span, span]; the middle one exactly 0 when n is odd (a single point is 0)."""
    check_positive("grid (points per axis)", n, whole=True)
    if span != 0:  # 0: every point at the trained weights; NaN, inf and negative spans are refused
        check_positive("span", span)
    axis = np.linspace(-span, span, n) if n > 1 else np.zeros(1)
    axis[n // 2] = 0.0 if n % 2 else axis[n // 2]
    return axis


def interpolate(
    model_a: nn.Module,
    model_b: nn.Module,
    data: Any,
    *,
    steps: int = 25,
    span: tuple[float, float] = (-0.5, 1.5),
    label: str | None = None,
    **evaluation,
) -> Surface:
    """1-D linear interpolation theta_a + t (theta_b - theta_a) (Goodfellow et al. 2015; Li et al. 2018,
    Sec. 3), running BN statistics interpolated too; t = 0 is model_a, t = 1 model_b. Other keywords
    (bn, batch_size, fast) go to `evaluate_surface`."""
    a = dict(model_a.named_parameters()) | dict(model_a.named_buffers())
    b = dict(model_b.named_parameters()) | dict(model_b.named_buffers())
    if a.keys() != b.keys():
        raise ValueError(
            "the two models have different parameters; interpolate between the same architecture"
        )
    d = {n: (b[n] - a[n]).detach() for n in a if a[n].is_floating_point()}
    check_positive("steps", steps, whole=True)
    ts = np.linspace(*finite_pair("span", span), steps)
    meta = dict(kind="interpolation", seed=None, grid=steps, span=list(span), keep_1d=True, label=label)
    return _surface(model_a, data, [d], [ts], meta, **evaluation)


def random_line(
    model: nn.Module,
    data: Any,
    *,
    steps: int = 51,
    span: float = 1.0,
    seed: int = 0,
    keep_1d: bool = False,
    label: str | None = None,
    **evaluation,
) -> Surface:
    """1-D slice f(a) = L(theta* + a d) along one filter-normalised random direction, a in [-span, span].
    Other keywords (bn, batch_size, fast) go to `evaluate_surface`."""
    d = random_direction(model, seed=seed, keep_1d=keep_1d)
    meta = dict(kind="line", seed=seed, grid=steps, span=span, keep_1d=keep_1d, label=label)
    return _surface(model, data, [d], [_axis(span, steps)], meta, **evaluation)


def random_plane(
    model: nn.Module,
    data: Any,
    *,
    grid: int = 51,
    span: float = 1.0,
    seed: int = 0,
    keep_1d: bool = False,
    label: str | None = None,
    **evaluation,
) -> Surface:
    """2-D surface f(a, b) = L(theta* + a d1 + b d2) on a grid x grid over [-span, span]^2 (Li et al.
    2018, Eq. 1 and Fig. 5); d1 from `seed`, d2 from `seed + 1`. Other keywords (bn, batch_size,
    fast) go to `evaluate_surface`."""
    dirs = [random_direction(model, seed=seed + k, keep_1d=keep_1d) for k in range(2)]
    meta = dict(kind="plane", seed=seed, grid=grid, span=span, keep_1d=keep_1d, label=label)
    return _surface(model, data, dirs, [_axis(span, grid)] * 2, meta, **evaluation)


def line_ends(lines: dict[Any, Surface]) -> list[dict]:
    """Per 1-D `random_line` ({(model, seed): Surface}): the loss at the centre (the trained weights),
    at the edge (the mean of both ends, a = ±span), and the rise from one to the other: how high the
    walls stand one filter-norm away."""
    rows = []
    for (model, seed), s in lines.items():
        centre, edge = float(s.loss[len(s.loss) // 2]), float((s.loss[0] + s.loss[-1]) / 2)
        rows.append(dict(model=model, seed=seed, centre=centre, edge=edge, rise=edge - centre))
    return rows
