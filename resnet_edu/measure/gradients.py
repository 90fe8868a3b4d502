"""Gradients through depth: ||dE/dx_l|| at the input x_l of every block, relative to the output.

Without shortcuts the gradient that reaches block l is a product of one Jacobian per block above it,
so it shrinks or grows geometrically with depth (He et al. 2015, Sec. 1; with BN it grows toward the
input, Yang et al. 2019). With identity shortcuts Identity Mappings' Eq. 5,
dE/dx_l = dE/dx_L (1 + d/dx_l sum_i F(x_i)), keeps a direct term that reaches every block unchanged.
`activation_grad_norms` measures one network; `gradient_ratios` every model and seed on one batch,
relative to the top; `gradient_growth` turns each run into one factor per block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.models import residual_blocks
from ..nets.modules import hooks, preserved
from ..training.records import Record
from ..training.seeded import Builders, over_seeds
from .trends import growth_rates

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def activation_grad_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = F.cross_entropy,
    train: bool = True,
    label: str | None = None,
) -> list[Record]:
    """||dL/dx_l|| for the input x_l of every block l of `residual_blocks(model)`, plus the last output.

    Rows: model, block (0..L; L is the last block's output x_L), name, grad_norm, grad_rms (the norm
    per element). `train=True`: BN uses the batch's statistics, as in the first training step.
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
    return [
        dict(
            model=label,
            block=i,
            name=n,
            grad_norm=float(g.norm()),
            grad_rms=float(g.norm()) / g.numel() ** 0.5,
        )
        for i, (n, g) in enumerate(zip(labels, grads))
    ]


def gradient_ratios(
    models: Builders,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    seeds: Sequence[int] = (0,),
    dtype: torch.dtype | None = None,
) -> list[Record]:
    """`activation_grad_norms` of every model at initialisation, once per seed, all on the batch (x, y).

    Each network is built after `torch.manual_seed(seed)` and moved to the batch's device (and to
    `dtype`, e.g. float64 so that gradients of 1e-60 do not underflow). Rows: model, seed, block,
    name, grad_norm, grad_rms, ratio = ||dE/dx_l|| / ||dE/dx_L|| (1 at the top; below 1 the gradient
    vanishes toward the input, above 1 it grows), to_output = the same per element.
    """
    x = x if dtype is None else x.to(dtype)

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        net = net.to(x.device) if dtype is None else net.to(x.device, dtype)
        rows = activation_grad_norms(net, x, y, label=name)
        top, top_rms = rows[-1]["grad_norm"], rows[-1]["grad_rms"]
        return [
            dict(
                r,
                ratio=r["grad_norm"] / top if top > 0 else math.nan,
                to_output=r["grad_rms"] / top_rms if top_rms > 0 else math.nan,
            )
            for r in rows
        ]

    return over_seeds(models, seeds, run)


def gradient_growth(rows: Sequence[Record]) -> list[Record]:
    """Per model and seed of `gradient_ratios` rows: factor, the gradient's geometric growth per block
    toward the input (1 flat, above 1 growing toward the input, below 1 vanishing; exp of minus the
    least-squares slope of log ratio against block), and first, ||dE/dx_0|| / ||dE/dx_L||."""
    rates = growth_rates(rows, "ratio")
    return [
        dict(
            model=r["model"],
            seed=r.get("seed"),
            factor=1 / r["ratio_per_block"],
            first=r["first"] / r["last"],
        )
        for r in rates
    ]


def gradient_ratios_after_steps(
    models: Builders,
    x: torch.Tensor,
    y: torch.Tensor,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: Sequence[int] = (0, 1),
    lr: float = 0.1,
    seeds: Sequence[int] = (0,),
    dtype: torch.dtype | None = None,
) -> list[Record]:
    """`gradient_ratios` on (x, y) at initialisation (step 0) and after each count in `steps` of plain
    SGD steps (learning rate `lr`, no momentum, one step on each of `batches` in turn). Rows as
    `gradient_ratios` plus step. Yang et al. (2019) report that BN's gradient explosion at
    initialisation largely disappears after a single step of SGD; this measures it on any network."""
    if max(steps) > len(batches):
        raise ValueError(f"{max(steps)} steps need as many batches, got {len(batches)}")
    x = x if dtype is None else x.to(dtype)

    def probe(net: nn.Module, step: int) -> list[Record]:
        rows = activation_grad_norms(net, x, y)
        top = rows[-1]["grad_norm"]
        return [dict(r, step=step, ratio=r["grad_norm"] / top if top > 0 else math.nan) for r in rows]

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        net = net.to(x.device) if dtype is None else net.to(x.device, dtype)
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
        rows = probe(net, 0) if 0 in steps else []
        for step, (bx, by) in enumerate(batches[: max(steps)], start=1):
            optimizer.zero_grad()
            F.cross_entropy(net(bx.to(x.device, x.dtype)), by.to(x.device)).backward()
            optimizer.step()
            rows += probe(net, step) if step in steps else []
        return rows

    return over_seeds(models, seeds, run)
