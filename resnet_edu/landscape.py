"""Loss landscapes along filter-normalised random directions (Li et al. 2018, "Visualizing the Loss
Landscape of Neural Nets").

Every point sets the weights to exactly theta* + a d1 + b d2, computed from a saved copy (no
accumulated steps); the model is restored bit-identically afterwards, also when evaluation fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

Direction = dict[str, torch.Tensor]  # parameter (or buffer) name -> tensor of the same shape
BN_MODES = ("eval", "recalibrate")


@dataclass(frozen=True)
class Surface:
    """Loss (and accuracy) on a 1-D line or a 2-D grid; `loss[i, j]` is at (alphas[i], betas[j]).

    `meta` carries what produced it: kind, seed, grid, n_data, bn, keep_1d, model label.
    """

    alphas: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    betas: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write an `.npz` (arrays plus meta) and return its path."""
        raise NotImplementedError


def load_surface(path: str | Path) -> Surface:
    """Read a `Surface` written by `Surface.save`."""
    raise NotImplementedError


def random_direction(model: nn.Module, *, seed: int = 0, keep_1d: bool = False) -> Direction:
    """A filter-normalised Gaussian direction (Li et al. 2018, Sec. 4, Eq. 1).

    d ~ N(0, 1) from a seeded generator; each filter d_i (output-channel slice) of a weight is rescaled
    to ||theta_i||. 1-D parameters (biases, BN) get a zero direction, or with `keep_1d` are rescaled once
    to the parameter's norm. Buffers are not part of the direction.
    """
    raise NotImplementedError


def filter_normalize(direction: Direction, model: nn.Module, *, keep_1d: bool = False) -> Direction:
    """Rescale each filter of `direction` to the norm of the model's filter (a new dict)."""
    raise NotImplementedError


def evaluate_surface(
    model: nn.Module, data: Any, directions: list[Direction], coords: list[np.ndarray], *,
    bn: str = "eval", batch_size: int | None = None, fast: bool = True,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Loss and accuracy at theta* + sum_k c_k d_k for every point of the grid `coords` (row-major).

    `data`: an `ImageSet` (normalised, unaugmented) or a pair (x, y). `bn="eval"` uses the running
    statistics; `bn="recalibrate"` recomputes them from `data` at every point. `fast` folds BN into
    the convolutions and evaluates in channels_last under inference mode (same numbers to ~1e-5).
    """
    raise NotImplementedError


def interpolate(
    model_a: nn.Module, model_b: nn.Module, data: Any, *, steps: int = 25,
    span: tuple[float, float] = (-0.5, 1.5), bn: str = "eval", label: str | None = None,
) -> Surface:  # fmt: skip
    """1-D linear interpolation (1 - t) theta_a + t theta_b (Goodfellow et al. 2015), running BN
    statistics interpolated too."""
    raise NotImplementedError


def random_line(
    model: nn.Module, data: Any, *, steps: int = 51, span: float = 1.0, seed: int = 0,
    keep_1d: bool = False, bn: str = "eval", label: str | None = None,
) -> Surface:  # fmt: skip
    """1-D slice f(a) = L(theta* + a d) along one filter-normalised random direction, a in [-span, span]."""
    raise NotImplementedError


def random_plane(
    model: nn.Module, data: Any, *, grid: int = 51, span: float = 1.0, seed: int = 0,
    keep_1d: bool = False, bn: str = "eval", label: str | None = None,
) -> Surface:  # fmt: skip
    """2-D surface f(a, b) = L(theta* + a d1 + b d2) on a grid x grid over [-span, span]^2 (Li et al.
    2018, Eq. 1 and Fig. 5); d1 from `seed`, d2 from `seed + 1`."""
    raise NotImplementedError
