"""Figures of quantities through depth, mostly at initialisation: gradients, the signal's variance, a
scaled shortcut's factor and the five placements through hundreds of blocks (lessons 01-04, 06).

Each function takes the rows a measurement returned and returns the Figure, which the lesson saves
with `Start.save_figure`; single-axes plotting lives in `plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..measure.trends import growth_rates
from ..training.records import Record
from . import plots


def gradient_norms(rows: Sequence[Record], *, depth: int) -> Figure:
    """`course.experiments.mlp_gradient_norms` rows: ||dE/dx_l|| / ||dE/dx_L|| per block of the
    `depth`-block nets (left), and the ratio that reaches the first block against depth (right, when
    the rows hold several depths); log axes, one line per variant."""
    depths = sorted({r["depth"] for r in rows})
    fig, axes = plt.subplots(
        1,
        2 if len(depths) > 1 else 1,
        figsize=(15 if len(depths) > 1 else 10, 4.5),
        squeeze=False,
        layout="constrained",
    )
    left = axes[0, 0]
    plots.plot_gradient_norms([r for r in rows if r["depth"] == depth], y="ratio", ax=left)
    left.axhline(1, color="k", lw=0.5)
    left.set(
        title=f"Gradient per block at initialisation, depth {depth}",
        xlabel=f"block l (0 = first, {depth} = output)",
        ylabel="||dE/dx_l|| / ||dE/dx_L||  (log)",
    )
    if len(depths) > 1:
        right = axes[0, 1]
        plots.plot_gradient_norms([r for r in rows if r["block"] == 0], x="depth", y="ratio", ax=right)
        right.set(
            title="Gradient reaching the first block",
            xlabel="depth L (blocks)",
            ylabel="||dE/dx_0|| / ||dE/dx_L||  (log)",
        )
        right.get_legend().remove()
    handles, labels = left.get_legend_handles_labels()
    left.get_legend().remove()  # one legend, outside the data, right of the last panel
    axes[0, -1].legend(handles, labels, title="model", loc="upper left", bbox_to_anchor=(1.02, 1))
    return fig


def skip_scale(rows: Sequence[Record]) -> Figure:
    """`measure.identities.skip_scale_gradients` rows of several branch gains, one panel each:
    ||dE/dx_0|| / ||dE/dx_L|| against depth per lambda (lines) beside lambda^L (dotted)."""
    gains = list(dict.fromkeys(r["branch_gain"] for r in rows))
    fig, axes = plt.subplots(1, len(gains), figsize=(6.5 * len(gains), 4.5), sharey=True, squeeze=False)
    for ax, gain in zip(axes[0], gains):
        mine = [dict(r, model=f"lambda = {r['lam']}") for r in rows if r["branch_gain"] == gain]
        plots.plot_gradient_norms(mine, x="depth", y="grad_ratio", ax=ax)
        depths = sorted({r["depth"] for r in mine})
        for lam in dict.fromkeys(r["lam"] for r in mine):
            ax.plot(depths, [lam**d for d in depths], "k:", lw=1)
        ax.set(
            title=f"branch gain {gain}: measured (lines) vs lambda^L (dotted)",
            xlabel="depth L (blocks)",
            ylabel="||dE/dx_0|| / ||dE/dx_L||  (log)",
        )
        if ax.get_legend() is not None:
            ax.get_legend().set_title("shortcut scale")
    return fig


def depth_probe(rows: Sequence[Record]) -> Figure:
    """`measure.depth_probe.depth_probe` rows: the gradient ratio (left) and the signal growth (right)
    after L blocks, one line per placement, mean ± sd over seeds, log-log axes."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), layout="constrained")
    seeds = len({r["seed"] for r in rows})
    for ax, y, label in zip(
        axes, ("grad_ratio", "signal"), ("||dE/dx_0|| / ||dE/dx_L||", "||x_L|| / ||x_0||")
    ):
        plots.plot_gradient_norms(rows, x="depth", y=y, hue="placement", ax=ax)
        ax.set(
            xscale="log",
            xlabel="blocks L (log)",
            ylabel=f"{label}  (log)",
            title=f"{label} at initialisation, {seeds} seeds",
        )
    return fig


def variance_through_depth(rows: Sequence[Record], *, reference: str = "BatchNorm") -> Figure:
    """Three panels of `measure.variance.variance_through_depth` rows (mean ± sd over seeds as bands):
    Var(x_l) of every model on a log axis; the `reference` (BN) net's Var(x_l) on linear axes with
    its least-squares line; and its branch's share of the signal's scale sqrt(Var(F)/Var(x_l)) on
    log-log axes beside a pure 1/sqrt(l) (slope -1/2), De & Smith's (2020, Sec. 3) form."""
    df = pd.DataFrame(list(rows))
    df["seed"] = df["seed"] if "seed" in df else 0
    bn = df[df.model == reference].copy()
    rates = growth_rates(bn.to_dict("records"), "var_x")
    slope = float(np.mean([r["linear_slope"] for r in rates]))
    intercept = float(np.mean([r["intercept"] for r in rates]))
    seeds = df.seed.nunique()
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(17, 4.5))
    for model, part in df.groupby("model", sort=False):
        plots.mean_band(left, part, "block", "var_x", log=True, label=model)
    left.set(
        yscale="log",
        title="Var(x_l) through depth at initialisation",
        xlabel="block l",
        ylabel="Var(x_l) (log scale; geometric mean)",
    )
    plots.mean_band(mid, bn, "block", "var_x", label=f"{reference}: measured")
    ls = np.array(sorted(bn.block.unique()), dtype=float)
    mid.plot(ls, intercept + slope * ls, "k--", label=f"least squares: {intercept:.2f} + {slope:.3f} l")
    mid.set(
        title=f"{reference}: Var(x_l) on linear axes", xlabel="block l", ylabel="Var(x_l)", ylim=(0, None)
    )
    bn["share"] = np.sqrt(bn.var_branch / bn.var_x)
    bn["l"] = bn.block + 1
    plots.mean_band(right, bn, "l", "share", log=True, label="measured sqrt(Var(F(x_l)) / Var(x_l))")
    right.plot(ls + 1, 1 / np.sqrt(ls + 1), "k--", label="1 / sqrt(l): slope -1/2 (no fit)")
    right.axhline(1, color="grey", ls=":", lw=1, label="1: branch as large as the skip")
    right.set(
        xscale="log",
        yscale="log",
        title=f"{reference}: the branch's share of the scale",
        xlabel="block l (counting from 1; log scale)",
        ylabel="std ratio (log scale)",
    )
    for ax in (left, mid, right):
        ax.legend(fontsize=8)
    fig.suptitle(f"One stage of identical blocks at initialisation; bands: mean ± sd over {seeds} seeds")
    fig.tight_layout()
    return fig


def activation_gradients(rows: Sequence[Record]) -> Figure:
    """`measure.gradients.gradient_ratios` rows of several models and seeds: the per-element gradient
    RMS dL/dx_l relative to the last block's output, per block, mean ± sd over seeds, log axis."""
    ax = plots.plot_gradient_norms(rows, y="to_output")
    ax.axhline(1, color="grey", lw=0.8, ls=":")
    seeds = len({r["seed"] for r in rows})
    ax.set(
        title=f"At initialisation, mean of {seeds} seeds (band: ± sd)",
        ylabel="RMS dL/dx_l / RMS dL/dx_L (log)",
    )
    return ax.figure
