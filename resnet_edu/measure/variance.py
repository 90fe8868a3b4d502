"""The signal's variance through depth at initialisation: BatchNorm, no normalisation, SkipInit.

De & Smith 2020, Sec. 3: in a residual stage with BN in every branch, Var(x_{l+1}) ~ Var(x_l) + c,
so Var(x_l) grows linearly with depth and the branch's share of the signal's scale
sqrt(Var(F(x_l)) / Var(x_l)) falls like 1/sqrt(c l): deep blocks start close to the identity.
Without normalisation each He-initialised branch doubles the variance (~2^l); a zero-initialised
scalar on every branch (SkipInit) keeps it at Var(x_0). Lesson 04 measures all three.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nets.models import ResNet
from ..training.records import Record
from ..training.seeded import over_seeds
from .probes import forward_stats
from .trends import growth_rates, slope

VARIANTS = {  # one single-stage residual net, three ways to tame Var(x_l)
    "BatchNorm": dict(norm=True),
    "no normalisation": dict(norm=False),
    "no normalisation + SkipInit": dict(norm=False, skipinit=True),
}


def variance_through_depth(
    x: torch.Tensor, *, depth: int = 32, width: int = 16, seeds: Sequence[int] = (0,)
) -> list[Record]:
    """`probes.forward_stats` (Var of x_l, of the branch F(x_l) and of the skip, per block) of one-stage
    residual nets of `depth` blocks of `width` channels (no downsampling), in train mode, for each of
    `VARIANTS` and seed."""
    models = {
        label: (lambda kw=kw: ResNet(depths=(depth,), widths=(width,), **kw))
        for label, kw in VARIANTS.items()
    }

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        return forward_stats(net, x, train=True, label=name)

    return over_seeds(models, seeds, run)


def variance_growth(rows: Sequence[Record]) -> list[Record]:
    """Per model and seed of `variance_through_depth` rows: `trends.growth_rates` of Var(x_l) (linear
    slope c, intercept, ratio per block, first, last) and branch_exponent, the log-log slope of the
    branch's share of the scale sqrt(var_branch / var_x) against l + 1 (De & Smith: -1/2 with BN; None
    where a branch is zero, as under SkipInit at initialisation)."""
    out = []
    for rate in growth_rates(rows, "var_x"):
        mine = [r for r in rows if r["model"] == rate["model"] and r.get("seed") == rate.get("seed")]
        exponent = None
        if all(r["var_branch"] > 0 for r in mine):
            b = torch.tensor([r["block"] for r in mine], dtype=torch.float64)
            share = torch.tensor([r["var_branch"] / r["var_x"] for r in mine], dtype=torch.float64).sqrt()
            exponent = slope((b + 1).log(), share.log())
        out.append(rate | {"branch_exponent": exponent})
    return out
