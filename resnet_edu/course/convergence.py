"""Figures of lesson 07: gradient flow against the steps to a training loss, the first-order picture
along the trajectory, the Jacobian spectra of deep linear stacks, and sharpness at matched loss.

Each function takes the rows that `measure.convergence` or `measure.jacobians` returned and returns
the Figure; the lesson saves it with `plots.save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..training.records import Record
from . import plots

MARKERS = "osD^v<>p*h"


def dose_response(runs: Sequence[Record], fits: Sequence[Record], *, above: float, max_steps: int) -> Figure:
    """Left: steps to the target loss against the gradient ratio at initialisation, one point per run
    (colour: lambda, marker: depth; runs that never reached the target sit on the dashed line at
    `max_steps`), and the power law of `fits` (mean exponent over seeds) drawn from `above` on.
    Right: the Hessian's top eigenvalue where each run reached the target, against depth."""
    df = pd.DataFrame(list(runs))
    scales = sorted(df.skip_scale.unique())
    depths = sorted(df.depth.unique())
    colours = dict(zip(scales, plt.cm.viridis(np.linspace(0, 0.9, len(scales)))))
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8), layout="constrained")
    for (scale, depth), part in df.groupby(["skip_scale", "depth"]):
        steps = part.steps.astype(float).fillna(max_steps)
        marker = MARKERS[depths.index(depth) % len(MARKERS)]
        left.scatter(part.grad_ratio, steps, color=colours[scale], marker=marker, s=28)
    left.axhline(max_steps, color="grey", ls="--", lw=0.8)
    left.text(1.05, max_steps * 1.05, "not reached: plotted here", fontsize=8, color="grey")
    handles = [Line2D([], [], ls="", marker="o", color=colours[s], label=f"λ={s:g}") for s in scales]
    handles += [
        Line2D([], [], ls="", marker=MARKERS[i % len(MARKERS)], color="grey", label=f"depth {d}")
        for i, d in enumerate(depths)
    ]
    k = [f["exponent"] for f in fits if not math.isnan(f["exponent"])]
    fit_rows = df[(df.grad_ratio >= above) & df.reached]
    if k and len(fit_rows):
        xs = np.geomspace(above, fit_rows.grad_ratio.max(), 20)
        kk = float(np.mean(k))
        c = np.exp(np.mean(np.log(fit_rows.steps.astype(float)) - kk * np.log(fit_rows.grad_ratio)))
        (fit,) = left.plot(xs, c * xs**kk, "k-", lw=1, label=f"fit above ρ = {above:g}: steps ∝ ρ^{kk:.2f}")
        handles.append(fit)
    left.axvline(above, color="grey", lw=0.8, ls=":")
    left.text(above * 1.05, left.get_ylim()[0] * 1.1, f"ρ = {above:g}", fontsize=8, color="grey")
    left.set(
        xlim=(1, None),
        xscale="log",
        yscale="log",
        xlabel="gradient ratio at initialisation, ρ = ||dE/dx_0|| / ||dE/dx_L|| (log)",
        ylabel="full-batch steps to the target loss (log)",
        title="Gradient flow at initialisation against the steps to train",
    )
    left.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the axes
    reached = df[df.reached & df.top_eigenvalue.notna()]
    for scale, part in reached.groupby("skip_scale"):
        plots.mean_band(
            right, part, "depth", "top_eigenvalue", log=True, color=colours[scale], label=f"λ={scale:g}"
        )
    right.set(
        yscale="log",
        xlabel="depth (blocks)",
        ylabel="Hessian top eigenvalue at the target loss (log)",
        title="Sharpness at matched training loss (mean ± sd over seeds)",
    )
    right.legend(fontsize=8)
    return fig


def trajectory(probes: Sequence[Record], *, tolerance: float = 0.1, target: float | None = None) -> Figure:
    """`probe_step` rows along training, per model (mean over seeds, band min..max): the training
    loss, the measured decrease of one step over its first-order prediction (grey band: within
    `tolerance` of 1), and the effective smoothness ||g' - g|| / (lr ||g||). A run stops probing when it
    reaches the `target` loss (dotted), so late steps may hold fewer seeds than the legend's most."""
    df = pd.DataFrame(list(probes))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), layout="constrained")
    keys = (
        ("loss", "training cross-entropy"),
        ("ratio", "measured / first-order decrease"),
        ("smoothness", "||g' - g|| / (lr ||g||) (log)"),
    )
    for k, (model, part) in enumerate(df.groupby("model", sort=False)):
        seeds = part.seed.nunique()
        for ax, (key, _) in zip(axes, keys):
            stats = part.groupby("step")[key].agg(["mean", "min", "max"])
            ax.plot(stats.index, stats["mean"], color=f"C{k}", label=f"{model} (up to {seeds} seeds)")
            ax.fill_between(stats.index, stats["min"], stats["max"], color=f"C{k}", alpha=0.2, lw=0)
    axes[1].axhspan(
        1 - tolerance, 1 + tolerance, color="grey", alpha=0.15, lw=0, label=f"within {tolerance:.0%} of 1"
    )
    if target is not None:
        axes[0].axhline(target, color="grey", ls=":", lw=1, label=f"target {target:g}")
    axes[1].set_ylim(-1, 1.5)
    axes[2].set_yscale("log")
    for ax, (_, label) in zip(axes, keys):
        ax.set(xlabel="full-batch step", ylabel=label)
    axes[0].legend(fontsize=8)
    axes[1].legend(handles=axes[1].get_legend_handles_labels()[0][-1:], fontsize=8)
    axes[0].set_title("Training loss")
    axes[1].set_title("Does a step lower the loss by lr ||g||^2?")
    axes[2].set_title("How much the gradient turns across one step")
    return fig


def spectra(rows: Sequence[Record]) -> Figure:
    """`measure.jacobians.spectra` rows: the geometric mean (left; e^-depth is a straight line on these
    axes) and the mean (right) of the squared singular values against depth, measured (dots, one per
    seed) and predicted (line), per kind."""
    df = pd.DataFrame(list(rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    for ax, key, title in (
        (axes[0], "gm_sq", "Geometric mean of the squared singular values"),
        (axes[1], "mean_sq", "Mean of the squared singular values"),
    ):
        ylabel = "geometric mean of σ² (log)" if key == "gm_sq" else "mean of σ²"
        for k, (kind, part) in enumerate(df.groupby("kind", sort=False)):
            ax.scatter(part.depth, part[key], color=f"C{k}", s=16, label=f"{kind}: measured")
            line = part.groupby("depth")[f"predicted_{key}"].first()
            ax.plot(line.index, line.values, color=f"C{k}", lw=1, label=f"{kind}: predicted")
        ax.set(yscale="log" if key == "gm_sq" else "linear", xlabel="layers", ylabel=ylabel, title=title)
        ax.legend(fontsize=8)
    return fig
