"""Why loss landscapes need filter-normalised directions (Li et al. 2018, Sec. 4).

A convolution followed by BatchNorm is scale invariant: multiply its weights by 10, adjust the BN's
running statistics, and the network computes the same function. A raw random direction is then a tiny
step for the rescaled layer and a large one elsewhere, so the same function gets another picture; a
filter-normalised direction scales with each filter and gets the same picture. `rescale_before_bn`
builds such a twin, `raw_direction` the naive direction, and `rescaling_demo` draws both lines
through both copies (lesson 05).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.tensors import as_tensors
from ..nets.models import residual_blocks
from ..nets.modules import preserved
from .landscape import evaluate_surface, random_line


def rescale_before_bn(model: nn.Module, factor: float = 10.0, *, block: int | None = 0) -> nn.Module:
    """A copy of `model` whose `block`-th residual block (None: every block) has conv1 scaled by
    `factor`, with the BN after it adjusted (running mean x factor, running variance and eps x
    factor^2): the same function in train and eval mode, different weights (Li et al. 2018, Sec. 4:
    why filter normalisation)."""
    twin = copy.deepcopy(model)
    blocks = residual_blocks(twin)
    for b in blocks if block is None else [blocks[block]]:
        branch = b.branch  # layers in computation order
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


def rescaling_demo(
    model: nn.Module, data: Any, *, factor: float = 10.0, steps: int = 15, span: float = 0.5, seed: int = 7
) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]], float]:
    """Why filter normalisation (Li et al. 2018, Sec. 4): `model` and its `rescale_before_bn` twin
    (conv1 of every block x `factor`: the same function) along one raw direction and one
    filter-normalised direction. Returns (alphas, {kind: {net: losses}}, the largest output difference
    between the two copies on `data`, which is rounding only)."""
    twin = rescale_before_bn(model, factor, block=None)
    x, _ = as_tensors(data, like=model)
    with torch.no_grad(), preserved(model, False), preserved(twin, False):
        difference = float((model(x) - twin(x)).abs().max())
    raw = raw_direction(model, seed=seed)  # the same raw direction for both copies
    demo: dict[str, dict[str, np.ndarray]] = {"raw direction": {}, "filter-normalised": {}}
    for label, net in (("original", model), (f"conv1 of every block x{factor:g}", twin)):
        line = random_line(net, data, steps=steps, span=span, seed=seed)
        demo["raw direction"][label] = evaluate_surface(net, data, [raw], [line.alphas])[0]
        demo["filter-normalised"][label] = line.loss
    return line.alphas, demo, difference


def curve_gaps(demo: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """Per kind of direction in `rescaling_demo`'s output, the largest relative difference between the
    two copies' loss curves, max |l1 - l2| / min(l1, l2): near 0 where the picture ignores the
    rescaling (filter-normalised), large where it does not (raw)."""
    gaps = {}
    for kind, curves in demo.items():
        first, second = (np.asarray(c, dtype=float) for c in curves.values())
        gaps[kind] = float((np.abs(first - second) / np.minimum(first, second)).max())
    return gaps
