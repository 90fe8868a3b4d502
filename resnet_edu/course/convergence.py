"""Figures and tables of lesson 07: gradient flow against the steps to a training loss, the
first-order picture along the trajectory, the Jacobian spectra of deep linear stacks, and sharpness at
matched loss (which shortcut scale is flattest, against the plain net and the stability edge).

Each figure function takes the rows that `measure.convergence` or `measure.jacobians` returned and
returns the Figure; the lesson saves it with `plots.save_figure`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..measure.convergence import matched_pairs
from ..training.records import Record
from . import plots
from .stats import paired_margin, spread

MARKERS = "osD^v<>p*h"
COLOURS = ("#222222", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e")  # per lambda, smallest first


def _colours(scales: Sequence[float]) -> dict[float, str]:
    return {s: COLOURS[i % len(COLOURS)] for i, s in enumerate(sorted(scales))}


def dose_response(runs: Sequence[Record], fits: Sequence[Record], *, above: float, max_steps: int) -> Figure:
    """Steps to the target loss against the gradient ratio at initialisation, one point per run
    (colour: lambda, marker: depth; runs that never reached the target sit on the dashed line at
    `max_steps`), and the power law of `fits` (mean exponent over seeds) drawn from `above` on."""
    df = pd.DataFrame(list(runs))
    depths = sorted(df.depth.unique())
    colours = _colours(df.skip_scale.unique())
    fig, left = plt.subplots(figsize=(9, 4.8), layout="constrained")
    for (scale, depth), part in df.groupby(["skip_scale", "depth"]):
        steps = part.steps.astype(float).fillna(max_steps)
        marker = MARKERS[depths.index(depth) % len(MARKERS)]
        left.scatter(part.grad_ratio, steps, color=colours[scale], marker=marker, s=28)
    left.axhline(max_steps, color="grey", ls="--", lw=0.8)
    left.text(1.05, max_steps * 1.05, "not reached: plotted here", fontsize=8, color="grey")
    handles = [Line2D([], [], ls="", marker="o", color=c, label=f"λ={s:g}") for s, c in colours.items()]
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
    return fig


def fit_extent(runs: Sequence[Record], fits: Sequence[Record], *, above: float) -> str:
    """What a `measure.convergence.power_law` fit rests on: how many runs per seed, of which depths and
    shortcut scales (where these move with the ratio, the fit cannot tell them apart), and the rank
    correlation below `above`, over how many runs (a weak one is no proof of no relation)."""
    fitted = [r for r in runs if r["grad_ratio"] >= above and r["steps"] is not None]
    depths = sorted({r["depth"] for r in fitted})
    scales = ", ".join(f"{s:g}" for s in sorted({r["skip_scale"] for r in fitted}))
    n_fit, n_below = ([f[k] for f in fits] for k in ("n_fit", "n_below"))
    rank = spread([f["rank_below"] for f in fits], ".2f")
    return (
        f"fitted on {min(n_fit)}-{max(n_fit)} runs per seed, of depth {depths[0]}-{depths[-1]} "
        f"and λ in {{{scales}}}; below ρ = {above:g} the rank correlation of ρ and steps is {rank} "
        f"over {min(n_below)}-{max(n_below)} runs"
    )


def sharpness(runs: Sequence[Record], *, edge: float | None = None) -> Figure:
    """The Hessian's top eigenvalue where each run reached the target against depth, per lambda (mean
    ± sd over seeds), and the stability edge of the training steps (`measure.convergence.stability_edge`)."""
    df = pd.DataFrame(list(runs))
    colours = _colours(df.skip_scale.unique())
    fig, ax = plt.subplots(figsize=(7.5, 4.4), layout="constrained")
    reached = df[df.reached & df.top_eigenvalue.notna()]
    for scale, part in reached.groupby("skip_scale"):
        plots.mean_band(
            ax, part, "depth", "top_eigenvalue", log=True, color=colours[scale], label=f"λ={scale:g}"
        )
    if edge is not None:
        ax.axhline(edge, color="grey", ls="--", lw=1, label=f"(2 + 2β)/lr = {edge:.0f}: stability edge")
    ax.set(
        yscale="log",
        xlabel="depth (blocks)",
        ylabel="Hessian top eigenvalue at the target loss (log)",
        title="Sharpness at matched training loss (mean ± sd over seeds)",
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def flatter(runs: Sequence[Record], a: float, b: float = 0.0) -> tuple[int, int]:
    """(k, n): over the depths where the nets with shortcut scales `a` and `b` reached the target in
    every seed, in k of the n (depth, seed) pairs the `a` net has the smaller top eigenvalue there."""
    margins = [paired_margin(runs, "top_eigenvalue", nb, na) for na, nb in matched_pairs(runs, a, b)]
    return sum(m["wins"] for m in margins), sum(m["n"] for m in margins)


def by_depth(runs: Sequence[Record], *, edge: float) -> pd.DataFrame:
    """Per depth, over the runs that reached the target: the lambda with the fewest mean steps, the one
    with the smallest mean top eigenvalue, and every lambda whose mean top eigenvalue lies above `edge`."""
    df = pd.DataFrame([r for r in runs if r["reached"]])
    mean = df.astype({"steps": float}).groupby(["depth", "skip_scale"])[["steps", "top_eigenvalue"]].mean()
    out = {}
    for depth, part in mean.groupby(level="depth"):
        part = part.droplevel("depth")
        above = ", ".join(f"{s:g}" for s in part.index[part.top_eigenvalue > edge]) or "none"
        out[depth] = {
            "fewest steps: λ": f"{part.steps.idxmin():g}",
            "flattest: λ": f"{part.top_eigenvalue.idxmin():g}",
            f"λ above {edge:.0f}": above,
        }
    return pd.DataFrame(out).T.rename_axis("depth")


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
