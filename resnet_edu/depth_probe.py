"""What each placement of BN and ReLU does over depth, at initialisation: signal growth and gradient ratio.

Identity Mappings (He et al. 2016) trains the five placements of Fig. 4 on ResNet-110 (54 blocks) and
finds the gaps grow with depth (Table 3: ResNet-164, ResNet-1001). A few CPU epochs of a 20-layer net
cannot show that; a deterministic probe can. For a stack of same-shape blocks of one placement
(float64, BatchNorm with batch statistics, as in training) it measures, after L blocks,

    signal growth   ||x_L|| / ||x_0||
    gradient ratio  ||dE/dx_0|| / ||dE/dx_L||   for E = <r, x_L> (r a seeded random tensor, dE/dx_L = r),

how much the forward signal and the backward gradient change on their way through L blocks. An
activation on the shortcut path compounds block after block; a clean identity path does not.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .blocks import PLACEMENTS
from .identities import block_stack

Record = dict[str, Any]


def depth_probe(
    placements: Sequence[str] = PLACEMENTS, depths: Sequence[int] = (1, 3, 9, 27, 54, 100, 200), *,
    channels: int = 8, size: int = 8, batch: int = 8, seeds: Sequence[int] = (0, 1, 2), **block_kw,
) -> list[Record]:  # fmt: skip
    """Signal growth and gradient ratio after each L in `depths` blocks, for every placement and seed.

    One stack of max(depths) blocks per (placement, seed) (`identities.block_stack`, He-initialised,
    float64, train-mode BN); the first L blocks are the stack of depth L. The input x_0 (`batch` x
    `channels` x `size` x `size`) and r are drawn from the seed, so every run gives the same rows.
    Extra keywords go to the blocks (e.g. `skipinit=True`). Rows: placement, seed, depth,
    signal (||x_L|| / ||x_0||), grad_ratio (||dE/dx_0|| / ||dE/dx_L||).
    """
    if not depths or min(depths) < 1:
        raise ValueError(f"depths must be positive block counts, got {tuple(depths)}")
    rows = []
    for placement in placements:
        for seed in seeds:
            net = block_stack(max(depths), channels, placement=placement, seed=seed, **block_kw)
            gen = torch.Generator().manual_seed(seed)
            x0 = torch.randn(batch, channels, size, size, generator=gen, dtype=torch.float64)
            r = torch.randn(x0.shape, generator=gen, dtype=torch.float64)  # dE/dx_L, the same for every L
            x0.requires_grad_(True)
            xs = [x0]
            for block in net:
                xs.append(block(xs[-1]))  # (B, C, H, W) all the way
            for depth in sorted(depths):
                (g0,) = torch.autograd.grad((r * xs[depth]).sum(), x0, retain_graph=True)
                rows.append(dict(placement=placement, seed=seed, depth=depth,
                                 signal=float(xs[depth].detach().norm() / x0.detach().norm()),
                                 grad_ratio=float(g0.norm() / r.norm())))  # fmt: skip
    return rows


def geometric_means(rows: Sequence[Record], keys: Sequence[str] = ("grad_ratio", "signal")) -> list[Record]:
    """Per (placement, depth): the geometric mean over seeds of each of `keys` (ratios multiply, so
    their typical value is a geometric mean), and the number of seeds."""
    groups: dict[tuple, list[Record]] = {}
    for r in rows:
        groups.setdefault((r["placement"], r["depth"]), []).append(r)
    out = []
    for (placement, depth), group in groups.items():
        logs = {k: torch.tensor([g[k] for g in group], dtype=torch.float64).log().mean() for k in keys}
        out.append(
            dict(
                placement=placement,
                depth=depth,
                seeds=len(group),
                **{k: float(v.exp()) for k, v in logs.items()},
            )
        )
    return out


def leader_counts(rows: Sequence[Record], key: str, depth: int, *, largest: bool = True) -> dict[str, int]:
    """In how many seeds each placement has the largest (or smallest) `key` after `depth` blocks:
    {placement: seeds it leads}, every placement listed, zeros included."""
    by_seed: dict[Any, list[Record]] = {}
    for r in rows:
        if r["depth"] == depth:
            by_seed.setdefault(r["seed"], []).append(r)
    counts = {r["placement"]: 0 for r in rows}
    for group in by_seed.values():
        pick = max if largest else min
        counts[pick(group, key=lambda r: r[key])["placement"]] += 1
    return counts


def weight_layer_inputs(model: nn.Module, x: torch.Tensor) -> list[Record]:
    """The RMS of the input of every convolution and linear layer of `model`, in the order they run,
    for one forward pass in train mode (BN with batch statistics) without gradients.

    Identity Mappings, Sec. 4.2: in the original block the input of each block's first convolution is
    the un-normalised sum x_l + F(x_l); in full pre-activation every weight layer's input has just
    passed a BN. Rows: layer (0-based), name, rms (sqrt(mean(input^2))). The model is left as it was.
    """
    rows: list[Record] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        rows.append(dict(layer=len(rows), name=names[module], rms=float(inputs[0].pow(2).mean().sqrt())))

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    state = copy.deepcopy(model.state_dict())  # BN running statistics move in train mode
    was_training = model.training
    try:
        with torch.no_grad():
            model.train()(x)
    finally:
        for h in handles:
            h.remove()
        model.load_state_dict(state)
        model.train(was_training)
    return rows
