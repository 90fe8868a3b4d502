"""Probes of one network at one point: weight gradients, forward statistics through depth, and
shattered gradients along a line of inputs.

Gradients through depth live in `gradients`, lesions in `lesions`, curvature in `hessian`. Every
probe returns tidy rows (a list of dicts, one per layer, block or lag) ready for
`pandas.DataFrame(rows)`, and leaves the model as it found it: hooks are removed, training flags and
BatchNorm buffers are restored, `.grad` is never touched (gradients come from `torch.autograd.grad`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.models import residual_blocks
from ..nets.modules import hooks, preserved
from ..training.records import Record
from ..training.seeded import Builders, over_seeds

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ---- gradients ------------------------------------------------------------------------------


def weight_grad_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = F.cross_entropy,
    train: bool = True,
    label: str | None = None,
) -> list[Record]:
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
    model: nn.Module,
    x0: torch.Tensor,
    *,
    n_points: int = 256,
    radius: float = 1.0,
    output: int = 0,
    max_lag: int = 32,
    seed: int = 0,
    train: bool = False,
    label: str | None = None,
) -> list[Record]:
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


def shattering(models: Builders, x0: torch.Tensor, *, seeds: Sequence[int] = (0,), **kw) -> list[Record]:
    """`gradient_shattering` of every model at initialisation, once per seed (the seed also draws the
    line's direction); keywords go to `gradient_shattering`. Rows: model, seed, lag, autocorr, cosine."""

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        return gradient_shattering(net.to(x0.device), x0, seed=seed, **kw)

    return over_seeds(models, seeds, run)
