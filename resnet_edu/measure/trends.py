"""Trends through depth: how a per-block quantity grows or shrinks from block to block.

A plain net's gradient changes by about the same factor at every block (a straight line on a log
axis); Var(x_l) of a BN ResNet grows by about the same amount at every block (a straight line on a
linear axis). `growth_rates` fits both forms to each run's rows, so one number per model and seed
says which it is and how fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..training.records import Record


def slope(x: torch.Tensor, y: torch.Tensor) -> float:
    """Least-squares slope of y against x."""
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())


def growth_rates(rows: Sequence[Record], key: str, *, x: str = "block") -> list[Record]:
    """Per model (and seed, where rows have one), over the rows whose `key` is positive: the
    least-squares line of `key` against `x` (linear_slope, intercept: linear growth), the geometric
    ratio per step exp(slope of log `key`) (ratio_per_block: exponential growth, 2 when it doubles
    every block), and its first and last value."""
    out = []
    for model, seed in dict.fromkeys((r["model"], r.get("seed")) for r in rows):
        mine = [r for r in rows if r["model"] == model and r.get("seed") == seed and r[key] > 0]
        b = torch.tensor([r[x] for r in mine], dtype=torch.float64)
        v = torch.tensor([r[key] for r in mine], dtype=torch.float64)
        linear = slope(b, v)
        row = dict(model=model) | ({} if seed is None else dict(seed=seed))
        row |= dict(
            linear_slope=linear,
            intercept=float(v.mean() - linear * b.mean()),
            ratio_per_block=math.exp(slope(b, v.log())),
            first=float(v[0]),
            last=float(v[-1]),
        )
        out.append(row)
    return out
