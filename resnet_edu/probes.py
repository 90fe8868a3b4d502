"""Measurements inside a network: gradient norms, forward statistics, shattering, lesions (the
Hessian's curvature lives in `hessian`).

Every probe returns tidy long-form records (a list of dicts, one row per layer or block) ready for
`pandas.DataFrame(rows)` and seaborn, and leaves the model as it found it: hooks are removed in a
`finally`, training flags and buffers (BatchNorm running statistics) are restored, `.grad` is never
touched (gradients come from `torch.autograd.grad`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .models import residual_blocks
from .tensors import as_tensors, batches, hooks, loss_sums, preserved

Record = dict[str, Any]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---- gradients ------------------------------------------------------------------------------


def weight_grad_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn = F.cross_entropy,
    train: bool = True, label: str | None = None,
) -> list[Record]:  # fmt: skip
    """||dL/dW|| for every trainable parameter, in registration (forward) order.

    Rows: model, index, layer (index of the last weight tensor so far), name, kind ("weight" for
    tensors with >= 2 dims, else "bias/norm"), numel, grad_norm. sqrt(sum grad_norm^2) is the global
    norm that `torch.nn.utils.clip_grad_norm_` reports. `train=True`: BN uses batch statistics, as in
    the first training step.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    with preserved(model, train):
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    rows, layer = [], -1
    for i, ((name, p), g) in enumerate(zip(named, grads)):
        kind = "weight" if p.dim() >= 2 else "bias/norm"
        layer += kind == "weight"
        norm = 0.0 if g is None else float(g.norm())
        row = dict(index=i, layer=max(layer, 0), name=name, kind=kind, numel=p.numel(), grad_norm=norm)
        rows.append(dict(model=label, **row))
    return rows


def activation_grad_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn = F.cross_entropy,
    train: bool = True, label: str | None = None,
) -> list[Record]:  # fmt: skip
    """||dL/dx_l|| for the input x_l of every block l of `residual_blocks(model)`, plus the last output.

    Identity Mappings Eq. 5: dE/dx_l = dE/dx_L (1 + d/dx_l sum_i F(x_i)), so with shortcuts the norm
    stays flat across depth; without them it shrinks or grows geometrically with depth.
    Rows: model, block (0..L; L is the last block's output x_L), name, grad_norm, grad_rms.
    """
    blocks = residual_blocks(model)
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no ResidualBlock or MLPBlock to probe")
    names = {m: n for n, m in model.named_modules()}
    seen: list[torch.Tensor] = []
    with (
        hooks(blocks, pre=lambda m, inp: seen.append(inp[0])),
        hooks(blocks[-1:], forward=lambda m, inp, out: seen.append(out)),
        preserved(model, train),
    ):
        loss = loss_fn(model(x.detach().requires_grad_(True)), y)
        grads = torch.autograd.grad(loss, seen)
    labels = [names[b] for b in blocks] + [f"{names[blocks[-1]]}.out"]
    norms = [float(g.norm()) for g in grads]
    return [
        dict(model=label, block=i, name=n, grad_norm=v, grad_rms=v / g.numel() ** 0.5)
        for i, (n, v, g) in enumerate(zip(labels, norms, grads))
    ]


# ---- forward statistics ---------------------------------------------------------------------


@torch.no_grad()
def forward_stats(
    model: nn.Module, x: torch.Tensor, *, train: bool = True, label: str | None = None
) -> list[Record]:
    """Variance of x_l, of the residual branch F(x_l) and of the skip h(x_l) for every block.

    Rows: model, block, name, var_x, var_branch, var_skip, var_out. With BN and identity skips var_x
    grows about linearly with depth (De & Smith 2020, Sec. 3); SkipInit keeps it near var_x of block 0.
    """
    names = {m: n for n, m in model.named_modules()}
    rows: list[Record] = []

    def hook(block: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        xl, var = inputs[0], lambda t: float(t.float().var(correction=0)) if t.numel() > 1 else 0.0
        stats = dict(
            var_x=var(xl), var_branch=var(block.branch(xl)), var_skip=var(block.skip(xl)), var_out=var(out)
        )
        rows.append(dict(model=label, block=len(rows), name=names[block], **stats))

    with hooks(residual_blocks(model), forward=hook), preserved(model, train):
        model(x)
    return rows


def gradient_shattering(
    model: nn.Module, x0: torch.Tensor, *, n_points: int = 256, radius: float = 1.0, output: int = 0,
    max_lag: int = 32, seed: int = 0, train: bool = False, label: str | None = None,
) -> list[Record]:  # fmt: skip
    """Correlation of input-gradients along a 1-D sweep of inputs (Balduzzi et al. 2017, Sec. 2).

    Inputs x(t) = x0 + t v for n_points values of t in [-radius, radius], v a seeded N(0, 1) direction;
    g(t) = d f_output / dx at x(t). Rows, one per lag k = 0..max_lag: autocorr (autocorrelation of the
    scalar derivative df/dt = <g(t), v>, as for the 1-D inputs of Balduzzi Fig. 2) and cosine (mean
    cosine similarity of the full gradients g(t_i), g(t_{i+k})). Shattered gradients decorrelate fast.
    """
    x0 = x0.squeeze(0) if x0.dim() == 4 else x0  # (C, H, W)
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(x0.shape, generator=g).to(x0)
    t = torch.linspace(-radius, radius, n_points, device=x0.device, dtype=x0.dtype)
    xs = (x0 + t.view(-1, *[1] * x0.dim()) * v).requires_grad_(True)  # (n, C, H, W)
    with preserved(model, train):
        (grad,) = torch.autograd.grad(model(xs)[:, output].sum(), xs)
    grad = grad.flatten(1)  # (n, D)
    s = grad @ v.flatten()  # df/dt, (n,)
    s = s - s.mean()
    unit = F.normalize(grad, dim=1)
    rows = []
    for k in range(min(max_lag, n_points - 1) + 1):
        auto = (s[: n_points - k] * s[k:]).mean() / (s.pow(2).mean() + 1e-30)
        cos = (unit[: n_points - k] * unit[k:]).sum(1).mean()
        rows.append(dict(model=label, lag=k, autocorr=float(auto), cosine=float(cos)))
    return rows


# ---- lesions --------------------------------------------------------------------------------


def _lesion_hook(state: dict) -> Callable:
    """Forward hook deleting a block: keep the shortcut (residual) or pass x through (plain, same shape)."""

    def hook(m: nn.Module, inputs: tuple, out: torch.Tensor) -> torch.Tensor | None:
        xl = inputs[0]
        if m.shortcut is not None:  # ResidualBlock or MLPBlock with a shortcut
            return m.after_addition(m.skip(xl))
        if out.shape == xl.shape:  # a plain block
            return xl
        state["skipped"] = True  # a plain block that changes the shape cannot be deleted
        return None

    return hook


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    loss_sum, correct, count = loss_sums(model, batches(x, y, batch_size)).tolist()
    return correct / count, loss_sum / count


def lesion_study(
    model: nn.Module, data: Any, *, batch_size: int = 500, label: str | None = None
) -> list[Record]:
    """Test accuracy with each single block removed at test time (Veit et al. 2016, Sec. 4, Fig. 3).

    A residual block's output becomes after_addition(skip(x)) (branch dropped, shortcut kept); a plain
    block becomes the identity where input and output shapes agree, else it is evaluated unchanged and
    marked `skipped`. A forward hook replaces the output and is removed afterwards; the model is never
    edited. `data`: an `ImageSet` or a pair (x, y). BN in eval mode.
    Rows: model, block (-1 = baseline, nothing removed), name, removed, skipped, accuracy, loss.
    """
    x, y = as_tensors(data, like=model)
    names = {m: n for n, m in model.named_modules()}
    rows = []
    with preserved(model, False):
        acc, loss = _accuracy(model, x, y, batch_size)
        rows.append(
            dict(
                model=label, block=-1, name="baseline", removed=False, skipped=False, accuracy=acc, loss=loss
            )
        )
        for i, block in enumerate(residual_blocks(model)):
            state = {"skipped": False}
            with hooks([block], forward=_lesion_hook(state)):
                acc, loss = _accuracy(model, x, y, batch_size)
            skipped = state["skipped"]
            rows.append(dict(model=label, block=i, name=names[block], removed=not skipped, skipped=skipped,
                             accuracy=acc, loss=loss))  # fmt: skip
    return rows
