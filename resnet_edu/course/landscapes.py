"""Figures of loss landscapes (Li et al. 2018): contours, 3-D views and 1-D slices of surfaces, the
filter-normalisation demonstration, and the curvature bars beside them (lesson 05).

Surfaces are `measure.landscape.Surface`s or the paths of saved ones; the single-axes functions
take an optional `ax`, the multi-panel ones return the Figure, which the lesson saves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..measure.landscape import Surface
from ..training.records import Record
from . import plots


def as_surface(surface: Any):
    """A `landscape.Surface`, given one or the path of one saved with `Surface.save`."""
    if isinstance(surface, str | Path):
        return Surface.load(surface)
    return surface


def _values(surface: Any, log: bool, clip: float | None) -> np.ndarray:
    z = np.asarray(surface.loss, dtype=float)
    z = np.minimum(z, clip) if clip is not None else z
    return np.log10(np.maximum(z, 1e-12)) if log else z


def _grid(surface: Any) -> tuple[np.ndarray, np.ndarray]:
    if surface.betas is None:
        raise ValueError("a 1-D surface has no contour or 3-D view; use plot_landscape_slices")
    return np.meshgrid(surface.alphas, surface.betas, indexing="ij")  # loss[i, j] at (alphas[i], betas[j])


def _zlabel(log: bool) -> str:
    return "loss (log scale)" if log else "loss"


def _loss_ticks(axis: Any) -> None:
    """Label an axis that holds log10 loss with the loss itself (a tick at 0.5 reads 3.16): the reader
    sees losses, spaced on a log scale."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{10**v:.3g}"))


def plot_landscape_contour(
    surface: Any,
    *,
    levels: int = 30,
    log: bool = False,
    clip: float | None = None,
    filled: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Contour lines over a filled contour of a 2-D surface (Li et al. 2018, Fig. 5)."""
    ax, surface = plots.axes(ax), as_surface(surface)
    a, b = _grid(surface)
    z = _values(surface, log, clip)
    if filled:
        filled_cs = ax.contourf(a, b, z, levels=levels, cmap="viridis")
        bar = ax.figure.colorbar(filled_cs, ax=ax, label=_zlabel(log))
        if log:
            _loss_ticks(bar.ax.yaxis)
    ax.contour(a, b, z, levels=levels, colors="k" if filled else None, linewidths=0.5, alpha=0.6)
    ax.plot(0, 0, "w+" if filled else "k+", markersize=10)
    ax.set(
        xlabel="a (direction 1)", ylabel="b (direction 2)", aspect="equal", title=surface.meta.get("label")
    )
    return ax


def plot_landscape_3d(
    surface: Any,
    *,
    log: bool = False,
    clip: float | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """3-D view of a 2-D surface (Li et al. 2018, Fig. 1); `ax` must be a 3-D Axes when given.

    `vmin`/`vmax` fix the colour scale (in plotted units), so two surfaces side by side compare.
    """
    surface = as_surface(surface)
    if ax is None:
        ax = plt.figure().add_subplot(projection="3d")
    a, b = _grid(surface)
    z = _values(surface, log, clip)
    ax.plot_surface(a, b, z, cmap="viridis", vmin=vmin, vmax=vmax, linewidth=0, antialiased=True)
    ax.set(xlabel="a", ylabel="b", zlabel=_zlabel(log), title=surface.meta.get("label"))
    if log:
        _loss_ticks(ax.zaxis)
    return ax


def plot_landscape_slices(
    surface: Any, *, at: float = 0.0, log: bool = False, clip: float | None = None, ax: Axes | None = None
) -> Axes:
    """1-D curves: a line or interpolation as is, or a 2-D surface's slices b = at and a = at."""
    ax, surface = plots.axes(ax), as_surface(surface)
    z, label = _values(surface, log, clip), surface.meta.get("label")
    prefix = f"{label}: " if label else ""
    if surface.betas is None:
        ax.plot(surface.alphas, z, marker=".", label=label)
        xlabel = "t" if surface.meta.get("kind") == "interpolation" else "a"
    else:
        j, i = np.abs(surface.betas - at).argmin(), np.abs(surface.alphas - at).argmin()
        ax.plot(surface.alphas, z[:, j], label=f"{prefix}along a, b = {surface.betas[j]:.2f}")
        ax.plot(surface.betas, z[i, :], "--", label=f"{prefix}along b, a = {surface.alphas[i]:.2f}")
        xlabel = "step along the direction"
    ax.set(xlabel=xlabel, ylabel=_zlabel(log))
    if ax.get_legend_handles_labels()[1]:
        ax.legend()
    return ax


def filter_normalisation(demo: Mapping[str, Mapping[str, np.ndarray]], alphas: np.ndarray) -> Figure:
    """Loss along one direction for two parametrisations of the same function, one panel per kind of
    direction (`demo[kind][net] = losses at alphas`): raw directions differ, filter-normalised ones
    coincide (Li et al. 2018, Sec. 4)."""
    fig, axes = plt.subplots(1, len(demo), figsize=(6 * len(demo), 4.2), sharey=True, squeeze=False)
    for ax, (kind, curves) in zip(axes[0], demo.items()):
        for (label, loss), style in zip(curves.items(), ("-", "--", ":", "-.")):
            ax.plot(alphas, loss, style, marker=".", label=label)
        ax.set(
            title=f"{kind}: same function, two parametrisations",
            xlabel="step a along the direction",
            ylabel="training loss",
            yscale="log",
        )
        plain = FuncFormatter(lambda v, _: f"{v:.3g}")  # 1.6, 2, 3 rather than 2 x 10^0
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="both", labelleft=True, labelsize=8)  # both panels, though shared
        ax.legend()
    return fig


def surface_slices(lines: Mapping[Any, Any]) -> Figure:
    """1-D loss curves along filter-normalised random directions (Li et al. 2018, Sec. 4): one colour
    per net (the Surface's meta label), the geometric mean of its curves (seeds, directions) as a line
    and x/÷ one sd (of log10 loss) as a band when several Surfaces share a label; log loss axis, so the
    floor and the walls both show."""
    surfaces = {k: as_surface(s) for k, s in lines.items()}
    df = pd.DataFrame(
        [
            dict(model=s.meta.get("label") or str(k), a=a, loss=v)
            for k, s in surfaces.items()
            for a, v in zip(s.alphas, s.loss)
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for model, part in df.groupby("model", sort=False):
        n = len(part) // part.a.nunique()
        plots.mean_band(ax, part, "a", "loss", log=True, label=f"{model} ({n} curve{'s' * (n > 1)})")
    ax.set(
        yscale="log",
        title="Loss along filter-normalised random directions\n"
        "(line: geometric mean of a net's curves; band: x/÷ one sd)",
        xlabel="step a (filter-normalised units)",
        ylabel="training loss (log scale)",
    )
    ax.legend()
    return fig


def shared_log_levels(surfaces: Mapping[str, Any], n: int = 21) -> np.ndarray:
    """`n` levels of log10 loss spanning every surface: one colour scale for all of them."""
    logs = np.log10(np.concatenate([as_surface(s).loss.ravel() for s in surfaces.values()]))
    return np.linspace(logs.min(), logs.max(), n)


def surface_contours(planes: Mapping[str, Any], *, line: float | None = None, line_name: str = "") -> Figure:
    """Filled contours of 2-D surfaces side by side on one log colour scale whose ticks read as losses
    (Li et al. 2018, Fig. 5); `line` draws the contour at that loss dashed in white (named in the title)."""
    levels = shared_log_levels(planes)
    fig, axes = plt.subplots(1, len(planes), figsize=(6.75 * len(planes), 5.2), squeeze=False)
    for ax, surf in zip(axes[0], planes.values()):
        surf = as_surface(surf)
        plot_landscape_contour(surf, levels=levels, log=True, ax=ax)
        title = f"{surf.meta['label']}: training loss"
        if line is not None:
            a, b = _grid(surf)
            ax.contour(a, b, _values(surf, True, None), levels=[np.log10(line)], colors="w", linestyles="--")
            title += f"\n(dashed: loss {line:.2f}{f', {line_name}' if line_name else ''})"
        ax.set(title=title, xlabel="a (direction 1)", ylabel="b (direction 2)")
    fig.tight_layout()
    return fig


def surface_3d(planes: Mapping[str, Any], *, elev: float = 55, azim: float = -45) -> Figure:
    """3-D views of log10 loss of 2-D surfaces with one vertical axis and colour scale (Li et al. 2018,
    Fig. 1), seen from above a corner (`elev`, `azim` in degrees) so that the walls do not hide the floor."""
    levels = shared_log_levels(planes)
    lo, hi = levels[0], levels[-1]
    fig = plt.figure(figsize=(6 * len(planes), 5))
    for k, surf in enumerate(planes.values()):
        surf = as_surface(surf)
        ax = fig.add_subplot(1, len(planes), k + 1, projection="3d")
        plot_landscape_3d(surf, log=True, vmin=lo, vmax=hi, ax=ax)
        ax.set(
            title=surf.meta["label"],
            xlabel="a",
            ylabel="b",
            zlabel="training loss (log scale)",
            zlim=(lo, hi),
        )
        ax.view_init(elev=elev, azim=azim)
    return fig


def sharpness(records: Sequence[Record]) -> Figure:
    """Per net, from `hessian.sharpness` records (one per net and seed): the top Hessian eigenvalue, the
    trace (each seed's dot with its ± standard error) and, where measured, |lambda_min / lambda_max|
    (Li et al. 2018, Fig. 7); bars are means over seeds, whiskers ± sd."""
    df = pd.DataFrame(list(records))
    keys = [
        ("top_eigenvalue", "Top Hessian eigenvalue (sharpest curvature)", "lambda (power iteration)"),
        ("trace", "Hessian trace (total curvature)", "trace (Hutchinson, dots ± s.e.)"),
    ]
    if "ratio" in df:
        keys.append(("ratio", "|lambda_min / lambda_max| (0: locally convex)", "ratio (Lanczos)"))
    models = list(dict.fromkeys(df.model))
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4))
    for ax, (key, title, ylabel) in zip(axes, keys):
        for k, model in enumerate(models):
            mine = df[df.model == model]
            sd = mine[key].std() if len(mine) > 1 else 0
            ax.bar(k, mine[key].mean(), yerr=sd, color=f"C{k}", alpha=0.7, capsize=4)
            err = mine["trace_se"] if key == "trace" else None
            ax.errorbar(
                np.full(len(mine), k) + np.linspace(-0.15, 0.15, len(mine)),
                mine[key],
                yerr=err,
                fmt="o",
                color="k",
                ms=3,
                lw=0.8,
            )
        ax.set(xticks=range(len(models)), xticklabels=models, title=title, ylabel=ylabel)
    seeds = df.seed.nunique()
    fig.suptitle(f"Curvature at the trained weights; bars: mean ± sd over {seeds} seeds, dots: seeds")
    fig.tight_layout()
    return fig
