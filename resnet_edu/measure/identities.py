"""The identities of Identity Mappings (He et al. 2016), checked numerically.

Eq. 4: x_L = x_l + sum_{i=l}^{L-1} F(x_i) for blocks with nothing after the addition.
Eq. 5: dE/dx_l = dE/dx_L (1 + d/dx_l sum_i F(x_i)), checked against autograd.
Eq. 6-8: a shortcut scaled by lambda, x_{l+1} = lambda x_l + F(x_l) (Eq. 6), gives
x_L = (prod lambda) x_l + sum F-hat (Eq. 7) and multiplies the direct gradient term by prod lambda (Eq. 8).
Each function returns tidy records (one dict per block or depth). Errors are relative L2 errors,
||measured - predicted|| / ||measured||, so every table reads on one scale. Eq. 4 and Eq. 7 are
code checks that can fail (the original block breaks Eq. 4); Eq. 5's split of autograd's gradient
into a direct and a branch term holds by construction: it checks the code, not the paper.
The networks are `nets.block_stack`s: same-shape blocks in float64.
"""

from __future__ import annotations

import torch
from torch import nn

from ..nets.models import block_stack
from ..training.records import Record


def unrolled_sum_errors(net: nn.Sequential, x: torch.Tensor) -> list[Record]:
    """How far x_L is from x_l + sum_{i=l}^{L-1} F(x_i) (Identity Mappings Eq. 4), for every l.

    Exact (rounding only) for pre-activation blocks; the ReLU after the addition of the original
    block breaks it. Rows: l, L, rel_error (||x_L - x_l - sum F|| / ||x_L||, L2 over the batch).
    """
    with torch.no_grad():
        xs, fs = [x], []
        for block in net:
            fs.append(block.branch(xs[-1]))
            xs.append(block(xs[-1]))
        big_l = len(net)
        scale = float(xs[-1].norm())
        rows = []
        for i in range(big_l):
            err = float((xs[-1] - xs[i] - sum(fs[i:])).norm())
            rows.append(dict(l=i, L=big_l, rel_error=err / scale))
    return rows


def gradient_decomposition(net: nn.Sequential, x: torch.Tensor, *, seed: int = 0) -> list[Record]:
    """Identity Mappings Eq. 5 checked against autograd for E = <r, x_L> (r a seeded random tensor).

    dE/dx_l = dE/dx_L + dE/dx_L * d/dx_l sum_{i>=l} F(x_i): a direct term that reaches every block
    unchanged, plus a term through the branches. Rows: l, direct_norm, branch_norm, total_norm
    (autograd's ||dE/dx_l||), rel_error (||direct + branch - autograd|| / ||autograd||).
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
        err = float((r + through_branches - total).norm() / total.norm())
        rows.append(
            dict(
                l=i,
                direct_norm=float(r.norm()),
                branch_norm=float(through_branches.norm()),
                total_norm=float(total.norm()),
                rel_error=err,
            )
        )
    return rows


def skip_scale_gradients(
    lambdas: tuple[float, ...] = (0.5, 1.0, 1.5),
    depths: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    *,
    branch_gain: float = 0.0,
    channels: int = 4,
    size: int = 8,
    seed: int = 0,
) -> list[Record]:
    """||dE/dx_0|| / ||dE/dx_L|| for x_{l+1} = lambda x_l + g F(x_l), against lambda^L (Identity Mappings,
    Eq. 8: a scaled shortcut multiplies the direct gradient term by prod lambda).

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
                    b.branch.gain.weight.fill_(branch_gain)
            x0 = x.clone().requires_grad_(True)
            out = net(x0)
            r = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=out.dtype)
            (g0,) = torch.autograd.grad((r * out).sum(), x0)
            rows.append(
                dict(
                    lam=lam,
                    depth=depth,
                    branch_gain=branch_gain,
                    grad_ratio=float(g0.norm() / r.norm()),
                    predicted=lam**depth,
                )
            )
    return rows


def skip_scale_seeds(
    lambdas: tuple[float, ...] = (0.5, 1.0, 1.5),
    depth: int = 32,
    *,
    branch_gain: float = 0.1,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> list[Record]:
    """`skip_scale_gradients` after `depth` blocks, once per seed (each seed its own blocks and input),
    with off = grad_ratio / lambda^L: how far the branches move the gradient from Eq. 8's direct term.
    Rows: as `skip_scale_gradients`, plus seed and off."""
    rows = []
    for seed in seeds:
        for r in skip_scale_gradients(lambdas, (depth,), branch_gain=branch_gain, seed=seed):
            rows.append(dict(r, seed=seed, off=r["grad_ratio"] / r["predicted"]))
    return rows
