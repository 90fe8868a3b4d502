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

from collections.abc import Sequence

import torch
from torch import nn

from ..nets.blocks import PLACEMENTS, ResidualBlock
from ..nets.models import block_stack
from ..nets.modules import hooks, preserved
from ..training.records import Record
from ..training.seeded import Builders, over_seeds


def depth_probe(
    placements: Sequence[str] = PLACEMENTS,
    depths: Sequence[int] = (1, 3, 9, 27, 54, 100, 200),
    *,
    channels: int = 8,
    size: int = 8,
    batch: int = 8,
    seeds: Sequence[int] = (0, 1, 2),
    **block_kw,
) -> list[Record]:
    """Signal growth and gradient ratio after each L in `depths` blocks, for every placement and seed.

    One stack of max(depths) blocks per (placement, seed) (`nets.block_stack`, He-initialised,
    float64, train-mode BN); the first L blocks are the stack of depth L. The input x_0 (`batch` x
    `channels` x `size` x `size`) and r are drawn from the seed, so every run gives the same rows.
    Extra keywords go to the blocks (e.g. `skipinit=True`). Rows: placement, seed, depth,
    signal (||x_L|| / ||x_0||), grad_ratio (||dE/dx_0|| / ||dE/dx_L||).
    """
    if not depths or min(depths) < 1:
        raise ValueError(f"depths must be positive block counts, got {tuple(depths)}")
    models = {
        p: (lambda p=p: block_stack(max(depths), channels, placement=p, seed=None, **block_kw))
        for p in placements
    }

    def run(net: nn.Module, placement: str, seed: int) -> list[Record]:
        gen = torch.Generator().manual_seed(seed)
        x0 = torch.randn(batch, channels, size, size, generator=gen, dtype=torch.float64)
        r = torch.randn(x0.shape, generator=gen, dtype=torch.float64)  # dE/dx_L, the same for every L
        x0.requires_grad_(True)
        xs = [x0]
        for block in net:
            xs.append(block(xs[-1]))  # (B, C, H, W) all the way
        rows = []
        for depth in sorted(depths):
            (g0,) = torch.autograd.grad((r * xs[depth]).sum(), x0, retain_graph=True)
            signal = float(xs[depth].detach().norm() / x0.detach().norm())
            rows.append(dict(depth=depth, signal=signal, grad_ratio=float(g0.norm() / r.norm())))
        return rows

    return [{"placement": r.pop("model"), **r} for r in over_seeds(models, seeds, run)]


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
    with hooks(layers, forward=hook), preserved(model, True), torch.no_grad():
        model(x)
    return rows


def conv_input_rms(models: Builders, x: torch.Tensor, *, seeds: Sequence[int] = (0,)) -> list[Record]:
    """`weight_layer_inputs` of every model at initialisation and seed, keeping the two convolutions of
    each residual block's branch. Rows: model, seed, block (0-based over the whole net), conv ("conv1"
    or "conv2"), name, rms."""

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        blocks = {
            n: i
            for i, (n, m) in enumerate((n, m) for n, m in net.named_modules() if isinstance(m, ResidualBlock))
        }
        rows = []
        for r in weight_layer_inputs(net, x):
            owner, _, conv = r["name"].rpartition(".branch.")
            if owner in blocks and conv in ("conv1", "conv2"):
                rows.append(dict(block=blocks[owner], conv=conv, name=r["name"], rms=r["rms"]))
        return rows

    return over_seeds(models, seeds, run)


def variance_law(rows: Sequence[Record], *, fit: tuple[int, int] = (1, 9)) -> list[Record]:
    """The linear-variance law, calibrated on two depths of `depth_probe` rows, predicting the others.

    If every block adds about the same variance c to the stream (a BN inside the branch fixes the
    branch's scale and nothing after the addition rescales the sum; De & Smith 2020, Sec. 3), then
    ||x_L||^2 grows linearly in L. Per placement and seed, c is read off the signal s at the two depths
    (a, b) of `fit`, c = (s_b^2 - s_a^2) / (b - a), and the law predicts s_L = sqrt(s_a^2 + c (L - a))
    at every depth beyond b: a prediction that fails where the law does not hold. Rows: placement,
    seed, depth, c, signal, predicted, off (signal / predicted, 1 where the law holds; None where the
    prediction is not positive).
    """
    a, b = fit
    signal = {(r["placement"], r["seed"], r["depth"]): r["signal"] for r in rows}
    out = []
    for placement, seed in dict.fromkeys((r["placement"], r["seed"]) for r in rows):
        s_a, s_b = signal[(placement, seed, a)], signal[(placement, seed, b)]
        c = (s_b**2 - s_a**2) / (b - a)
        for depth in sorted(d for p, s, d in signal if (p, s) == (placement, seed) and d > b):
            square = s_a**2 + c * (depth - a)
            predicted = square**0.5 if square > 0 else None
            measured = signal[(placement, seed, depth)]
            off = measured / predicted if predicted else None
            out.append(
                dict(placement=placement, seed=seed, depth=depth, c=c, signal=measured)
                | dict(predicted=predicted, off=off)
            )
    return out


def law_summary(law: Sequence[Record], *, tolerance: float = 0.15) -> list[Record]:
    """Per placement of `variance_law` rows: in how many seeds every prediction holds within
    `tolerance` (|off - 1| <= tolerance at every depth), and the smallest and largest off over depths
    and seeds. Rows: placement, held, seeds, lowest, highest."""
    out = []
    for placement in dict.fromkeys(r["placement"] for r in law):
        mine = [r for r in law if r["placement"] == placement]
        seeds = list(dict.fromkeys(r["seed"] for r in mine))
        offs = [r["off"] if r["off"] is not None else float("inf") for r in mine]
        held = sum(
            all(r["off"] is not None and abs(r["off"] - 1) <= tolerance for r in mine if r["seed"] == s)
            for s in seeds
        )
        out.append(
            dict(placement=placement, held=held, seeds=len(seeds), lowest=min(offs), highest=max(offs))
        )
    return out


def gradient_gap(rows: Sequence[Record], *, depth: int, odd: str = "bn_after_addition") -> list[Record]:
    """Per seed of `depth_probe` rows at `depth`: how far the `odd` placement's gradient ratio lies from
    the others. Rows: seed, gap (odd's ratio / the largest other's), spread (the largest other's / the
    smallest other's)."""
    out = []
    for seed in dict.fromkeys(r["seed"] for r in rows):
        at = {r["placement"]: r["grad_ratio"] for r in rows if r["seed"] == seed and r["depth"] == depth}
        others = [v for p, v in at.items() if p != odd]
        out.append(dict(seed=seed, gap=at[odd] / max(others), spread=max(others) / min(others)))
    return out
