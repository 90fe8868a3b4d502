"""How high a loss surface's walls stand one filter-norm away from the trained weights (Li et al. 2018,
Sec. 4), measured along several random directions per network.

One random direction is one draw: along it a net's loss can rise far or hardly at all, so a comparison
of two nets along one direction each is decided as much by the draw as by the nets. `random_lines`
draws several filter-normalised directions per net, `wall_heights` averages the rise over them, one
row per model and seed (lesson 05).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from torch import nn

from ..training.records import Record
from .landscape import Surface, line_ends, random_line


def random_lines(
    nets: Mapping[tuple[str, int], nn.Module],
    data: Any,
    *,
    directions: int = 5,
    steps: int = 17,
    span: float = 1.0,
) -> dict[tuple[str, int, int], Surface]:
    """`landscape.random_line` of every net ({(model, seed): net}) along `directions` filter-normalised
    random directions, direction k of seed s drawn with seed 100 s + k (the twins of one seed share
    their draws): {(model, seed, k): Surface}."""
    return {
        (model, seed, k): random_line(net, data, steps=steps, span=span, seed=100 * seed + k, label=model)
        for (model, seed), net in nets.items()
        for k in range(directions)
    }


def wall_heights(lines: Mapping[tuple[str, int, int], Surface]) -> list[Record]:
    """Per model and seed, from `random_lines`: the loss at the centre, at the edge (mean of both ends,
    a = ±span) and the rise from one to the other (`landscape.line_ends`), each the mean over the
    directions, and how many directions that is."""
    ends = {}
    for (model, seed, _), surface in lines.items():
        [row] = line_ends({(model, seed): surface})
        ends.setdefault((model, seed), []).append(row)
    return [
        dict(model=model, seed=seed, directions=len(rows))
        | {key: statistics.fmean(r[key] for r in rows) for key in ("centre", "edge", "rise")}
        for (model, seed), rows in ends.items()
    ]


def plane_summary(planes: Mapping[tuple[str, int], Surface], *, below: float) -> list[Record]:
    """Per 2-D `landscape.random_plane` ({(model, seed): Surface}): the loss at the centre, the largest
    loss on the plane and `share_below`, the fraction of the grid whose loss is below `below` (ln 10,
    say: the loss of a uniform guess over ten classes), a measure of how wide the basin is."""
    rows = []
    for (model, seed), s in planes.items():
        centre = float(s.loss[s.loss.shape[0] // 2, s.loss.shape[1] // 2])
        share = float((s.loss < below).mean())
        rows.append(dict(model=model, seed=seed, centre=centre, max=float(s.loss.max()), share_below=share))
    return rows
