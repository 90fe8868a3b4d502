"""Figures for the course: one seaborn style, functions that take data and an optional `ax`.

Every plotting function returns the Axes it drew on; `save_figure` writes PNG and SVG files.
Records are the long-form rows of `probes`; surfaces are `landscape.Surface`s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def set_style() -> None:
    """The course's one look: seaborn "whitegrid", "notebook" context, colour-blind palette."""
    raise NotImplementedError


def plot_gradient_norms(
    records: list[dict], *, y: str = "grad_norm", x: str = "block", hue: str = "model",
    log: bool = True, ax: Axes | None = None,
) -> Axes:  # fmt: skip
    """Gradient norm (or any per-block column, e.g. var_x) against depth, one line per model."""
    raise NotImplementedError


def plot_training_curves(histories: Any, *, metric: str = "loss", ax: Axes | None = None) -> Axes:
    """Train (dashed) and test (solid) `metric` ("loss" or "acc") against epoch.

    `histories`: a History (with `.records`), a list of dicts (epoch, train_loss, train_acc,
    test_loss, test_acc), or a dict {label: either} for several models.
    """
    raise NotImplementedError


def plot_landscape_contour(
    surface: Any, *, levels: int = 30, log: bool = False, clip: float | None = None,
    filled: bool = True, ax: Axes | None = None,
) -> Axes:  # fmt: skip
    """Contour lines (over a filled contour) of a 2-D surface (Li et al. 2018, Fig. 5)."""
    raise NotImplementedError


def plot_landscape_3d(
    surface: Any, *, log: bool = False, clip: float | None = None, ax: Axes | None = None
) -> Axes:
    """3-D surface plot of a 2-D surface; `ax` must be a 3-D Axes when given."""
    raise NotImplementedError


def plot_landscape_slices(
    surface: Any, *, at: float = 0.0, log: bool = False, clip: float | None = None, ax: Axes | None = None
) -> Axes:
    """1-D curves: a 1-D surface as is, or the two axis slices of a 2-D surface through b = at / a = at."""
    raise NotImplementedError


def plot_lesion(records: list[dict], *, hue: str = "model", ax: Axes | None = None) -> Axes:
    """Accuracy after deleting each block, baseline as a dashed line (Veit et al. 2016, Fig. 3)."""
    raise NotImplementedError


def plot_shattering(records: list[dict], *, y: str = "autocorr", hue: str = "model", ax: Axes | None = None) -> Axes:
    """Gradient autocorrelation against lag (Balduzzi et al. 2017, Fig. 2)."""
    raise NotImplementedError


def plot_eigenvalues(records: list[dict], *, y: str = "top_eigenvalue", ax: Axes | None = None) -> Axes:
    """Bars of a sharpness measure (top Hessian eigenvalue or trace), one per model."""
    raise NotImplementedError


def save_figure(fig: Figure, name: str, directory: str | Path = "figures") -> Path:
    """Write `directory/name.png` (and `.svg`), creating the folder; return the PNG path."""
    raise NotImplementedError
