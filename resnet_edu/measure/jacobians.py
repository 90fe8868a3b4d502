"""The input-output Jacobian's singular values at initialisation, where random-matrix theory gives the
answer before the run (dynamical isometry: Saxe et al. 2014; Pennington et al. 2017).

A deep *linear* network's Jacobian is the product of its weight matrices. With L Gaussian layers of
variance 1/d (Glorot's and He's scale for a linear net) the mean squared singular value stays 1 at
every depth, but the spectrum spreads: as d grows the squared singular values follow the Fuss-Catalan
law: a few grow toward (L+1)^(L+1) / L^L, about e (L+1), while their geometric mean falls like e^-L
(exactly: `log_det_gaussian`). A gradient step then moves a few directions of the input-output map
fast and the rest hardly at all. A residual linear stack, x_{l+1} = x_l + W_l x_l / sqrt(L), keeps a
mean of (1 + 1/L)^L <= e and a geometric mean near 1 at every depth. An orthogonal stack has every
singular value exactly 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..training.records import Record

KINDS = ("plain", "residual", "orthogonal")


def linear_layers(depth: int, width: int, *, kind: str = "plain", seed: int = 0) -> list[torch.Tensor]:
    """The `depth` (width x width) layer Jacobians of a random linear stack, in float64.

    plain: W_l ~ N(0, 1/width); residual: I + W_l / sqrt(depth); orthogonal: Haar-random Q_l.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be positive, got {depth} and {width}")
    g = torch.Generator().manual_seed(seed)
    eye = torch.eye(width, dtype=torch.float64)
    layers = []
    for _ in range(depth):
        w = torch.randn(width, width, generator=g, dtype=torch.float64) / math.sqrt(width)
        if kind == "residual":
            w = eye + w / math.sqrt(depth)
        elif kind == "orthogonal":
            q, r = torch.linalg.qr(w)
            w = q * torch.sign(torch.diagonal(r))  # Haar measure (Mezzadri 2007)
        layers.append(w)
    return layers


def product(layers: Sequence[torch.Tensor]) -> torch.Tensor:
    """The input-output Jacobian of a stack of layer Jacobians: their product, last layer first."""
    return torch.linalg.multi_dot(list(layers)[::-1]) if len(layers) > 1 else layers[0]


def linear_jacobian(depth: int, width: int, *, kind: str = "plain", seed: int = 0) -> torch.Tensor:
    """The input-output Jacobian of `linear_layers(depth, width, kind=kind, seed=seed)`."""
    return product(linear_layers(depth, width, kind=kind, seed=seed))


def log_det_gaussian(width: int) -> float:
    """E ln det(W^T W) for a (width x width) matrix of N(0, 1/width) entries, exactly: W^T W is a
    Wishart matrix, and its log-determinant's mean is sum_k [psi((d - k + 1) / 2) + ln(2 / d)]."""
    k = torch.arange(1, width + 1, dtype=torch.float64)
    return float((torch.digamma((width - k + 1) / 2) + math.log(2 / width)).sum())


def predicted(kind: str, depth: int, width: int) -> tuple[float, float]:
    """(mean, geometric mean) of the squared singular values that theory gives for a stack of `kind`,
    `depth` and `width`. The geometric mean is exp(E ln det(J^T J) / width): for a plain stack exactly
    exp(depth * log_det_gaussian(width) / width), about e^-depth; for a residual one about e^(-1/width)
    at every depth (ln det(I + A) = tr A - tr A^2 / 2 + ..., and E tr A^2 = 1 / depth per layer)."""
    if kind == "plain":
        return 1.0, math.exp(depth * log_det_gaussian(width) / width)
    if kind == "residual":
        return (1 + 1 / depth) ** depth, math.exp(-1 / width)
    return 1.0, 1.0


def spectra(
    depths: Sequence[int],
    *,
    width: int = 128,
    seeds: Sequence[int] = (0, 1, 2),
    kinds: Sequence[str] = ("plain", "residual"),
) -> list[Record]:
    """Per kind, depth and seed: the squared singular values of `linear_jacobian`, summarised.

    Rows: kind, depth, seed, mean_sq, gm_sq (geometric mean, from the layers' log-determinants),
    max_sq, min_sq, small (fraction of squared singular values below 0.01: directions a step barely
    moves), predicted_mean_sq, predicted_gm_sq.
    """
    rows = []
    for kind in kinds:
        for depth in depths:
            mean_p, gm_p = predicted(kind, depth, width)
            for seed in seeds:
                layers = linear_layers(depth, width, kind=kind, seed=seed)
                sq = torch.linalg.svdvals(product(layers)) ** 2
                # ln det(J^T J) = 2 sum_l ln|det W_l|, exact where the SVD of the product is not (it
                # cannot resolve singular values below about 1e-16 of the largest)
                log_det = 2 * sum(float(torch.linalg.slogdet(w).logabsdet) for w in layers)
                rows.append(
                    dict(
                        kind=kind,
                        depth=depth,
                        seed=seed,
                        mean_sq=float(sq.mean()),
                        gm_sq=math.exp(log_det / width),
                        max_sq=float(sq.max()),
                        min_sq=float(sq.min()),
                        small=float((sq < 0.01).double().mean()),
                        predicted_mean_sq=mean_p,
                        predicted_gm_sq=gm_p,
                    )
                )
    return rows


def prediction_check(
    rows: Sequence[Record], *, per_layer: float = 0.05, residual: float = 0.1
) -> tuple[str, bool]:
    """How far `spectra`'s geometric means lie from `predicted`, in ln(sigma^2): for the plain stacks
    per layer (their prediction is about -depth), for the residual ones in all (theirs is about 0).

    Returns (a line naming the largest errors and the number of runs, whether every plain run is within
    `per_layer` and every residual run within `residual`).
    """
    worst = {}
    for kind in ("plain", "residual"):
        errors = [
            abs(math.log(r["gm_sq"] / r["predicted_gm_sq"])) / (r["depth"] if kind == "plain" else 1)
            for r in rows
            if r["kind"] == kind
        ]
        if errors:
            worst[kind] = max(errors)
    if not worst:
        raise ValueError("prediction_check needs plain or residual rows of `spectra`")
    parts = {
        "plain": "plain within {:.3f} per layer",
        "residual": "residual within {:.3f} over the whole stack",
    }
    line = ", ".join(parts[k].format(v) for k, v in worst.items())
    held = worst.get("plain", 0) <= per_layer and worst.get("residual", 0) <= residual
    return f"ln(measured / predicted geometric mean): {line}, in all {len(rows)} runs", held
