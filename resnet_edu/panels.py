"""Multi-panel figures of lessons 04-06, assembled from the single-axes functions in `plots`.

Each function takes what a lesson measured (records, `History`s, `landscape.Surface`s) and returns
the Figure, which the lesson saves with `plots.save_figure`. The measurements live in
`experiments`, `probes`, `landscape` and `gradflow`; the single plots in `plots`; only the
arrangement of panels, titles and shared scales lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import plots
from .experiments import growth_rates
from .records import History, Record

CHANCE = 0.1  # accuracy of guessing one of CIFAR-10's ten classes


# ---- lesson 04: BatchNorm meets the shortcut ---------------------------------------------------


def variance_through_depth(rows: Sequence[Record], *, reference: str = "BatchNorm") -> Figure:
    """Var(x_l) through depth for every model (left) and, for the `reference` (BN) net, the branch's
    share Var(F(x_l)) / Var(x_l) beside 1 / (Var(x_0) + c l) with the fitted slope c (right).

    De & Smith 2020, Sec. 3: with BN the share falls like 1/l. Rows: `experiments.variance_through_depth`.
    """
    bn = pd.DataFrame([r for r in rows if r["model"] == reference])
    slope = growth_rates([r for r in rows if r["model"] == reference])[0]["linear_slope"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.3))
    plots.plot_gradient_norms(list(rows), y="var_x", ax=left)
    left.set(title="Var(x_l) through depth at initialisation", ylabel="Var(x_l) (log scale)",
             xlabel="block l")  # fmt: skip
    right.loglog(bn.block + 1, bn.var_branch / bn.var_x, "o-", label="measured Var(F(x_l)) / Var(x_l)")
    right.loglog(bn.block + 1, bn.var_branch / (bn.var_x.iloc[0] + slope * bn.block), "k--",
                 label="Var(F(x_l)) / (Var(x_0) + c l), c = fitted slope")  # fmt: skip
    right.set(title=f"{reference} ResNet: the branch's share of the signal", xlabel="block l + 1 (log scale)",
              ylabel="Var(branch) / Var(input) (log scale)")  # fmt: skip
    right.legend()
    return fig


def skipinit_training(
    runs: Mapping[str, tuple[History, list[Record]]], *, title: str, first_steps: int = 15, smooth: int = 20
) -> Figure:
    """Runs of `gradflow.fit_recorded` (label -> (History, rows), every=1): the first `first_steps` batch
    losses with the step where a run diverged (left), the running-mean loss of the runs that survive
    (middle) and their test accuracy per epoch (right): SkipInit (De & Smith 2020)."""
    fig, (blow, loss_ax, acc_ax) = plt.subplots(1, 3, figsize=(15, 4.3))
    colors = [f"C{k}" for k in (3, 0, 7, 1, 2, 4, 5, 6, 8, 9)]
    epochs = 0
    for (label, (hist, rows)), color in zip(runs.items(), colors):
        epochs = max(epochs, hist.config.get("epochs", 0))
        steps = [r for r in rows if r["group"] == "total"]
        finite = [r for r in steps if r["loss"] < float("inf")]  # NaN and inf fail this test
        head = finite[:first_steps]
        blow.plot([r["step"] for r in head], [r["loss"] for r in head], "o-", color=color, label=label)
        if hist.meta.get("diverged"):
            at = hist.meta["diverged_step"]
            blow.axvline(at, color=color, ls=":", label=f"{label}: loss NaN at step {at}")
            acc_ax.plot([], [], "x", color=color, label=f"{label}: diverged, no test accuracy")
        else:
            mean = pd.Series([r["loss"] for r in finite]).rolling(smooth, min_periods=1).mean()
            loss_ax.plot([r["step"] for r in finite], mean, color=color, label=label)
            acc_ax.plot(hist.column("epoch"), hist.column("test_acc"), "o-", color=color, label=label)
    blow.set(yscale="log", xlabel="SGD step", ylabel="batch loss (log scale)",
             title=f"The first {first_steps} steps: blow-up")  # fmt: skip
    loss_ax.set(xlabel="SGD step", ylabel=f"batch loss (mean of {smooth} steps)",
                title="Training loss of the runs that survive")  # fmt: skip
    acc_ax.axhline(CHANCE, color="grey", lw=0.8, ls=":")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy (dotted: chance)", ylim=(0, None),
               xticks=range(1, epochs + 1) if epochs <= 10 else None)  # fmt: skip
    for ax in (blow, loss_ax, acc_ax):
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def lesion(records: Sequence[Record]) -> Figure:
    """Test accuracy after deleting one block, per model, baselines dashed and chance dotted
    (Veit et al. 2016, Fig. 3). Records: `probes.lesion_study`."""
    fig, ax = plt.subplots(figsize=(11, 4.3))
    plots.plot_lesion(list(records), ax=ax)
    ax.set(title="Test accuracy after deleting one block (dashed: nothing deleted)",
           xlabel="deleted block (0 = first)", ylabel="test accuracy")  # fmt: skip
    ax.axhline(CHANCE, color="grey", lw=0.8, ls=":")
    ax.set_ylim(0, min(1.0, 1.4 * max(r["accuracy"] for r in records)))
    return fig


# ---- lesson 05: loss landscapes (Li et al. 2018) ------------------------------------------------


def filter_normalisation(demo: Mapping[str, Mapping[str, np.ndarray]], alphas: np.ndarray) -> Figure:
    """Loss along one direction for two parametrisations of the same function, one panel per kind of
    direction (`demo[kind][net] = losses at alphas`): raw directions differ, filter-normalised ones
    coincide (Li et al. 2018, Sec. 4)."""
    fig, axes = plt.subplots(1, len(demo), figsize=(6 * len(demo), 4.2), sharey=True, squeeze=False)
    for ax, (kind, curves) in zip(axes[0], demo.items()):
        for (label, loss), style in zip(curves.items(), ("-", "--", ":", "-.")):
            ax.plot(alphas, loss, style, marker=".", label=label)
        ax.set(title=f"{kind}: same function, two parametrisations", xlabel="step a along the direction",
               ylabel="training loss", yscale="log")  # fmt: skip
        ax.legend()
    return fig


def surface_slices(lines: Mapping[str, Any]) -> Figure:
    """1-D loss curves along one filter-normalised random direction, one per net (Li et al. 2018,
    Sec. 4)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for surf in lines.values():
        plots.plot_landscape_slices(surf, ax=ax)
    ax.set(title="Loss along one filter-normalised random direction",
           xlabel="step a (filter-normalised units)", ylabel="training loss")  # fmt: skip
    return fig


def shared_log_levels(surfaces: Mapping[str, Any], n: int = 21) -> np.ndarray:
    """`n` levels of log10 loss spanning every surface: one colour scale for all of them."""
    logs = np.log10(np.concatenate([plots.as_surface(s).loss.ravel() for s in surfaces.values()]))
    return np.linspace(logs.min(), logs.max(), n)


def surface_contours(planes: Mapping[str, Any]) -> Figure:
    """Filled contours of log10 loss of 2-D surfaces side by side on one colour scale (Li et al. 2018,
    Fig. 5)."""
    levels = shared_log_levels(planes)
    fig, axes = plt.subplots(1, len(planes), figsize=(6.75 * len(planes), 5.2), squeeze=False)
    for ax, surf in zip(axes[0], planes.values()):
        surf = plots.as_surface(surf)
        plots.plot_landscape_contour(surf, levels=levels, log=True, ax=ax)
        ax.set(title=f"{surf.meta['label']}: log10 training loss", xlabel="a (direction 1)",
               ylabel="b (direction 2)")  # fmt: skip
    fig.tight_layout()
    return fig


def surface_3d(planes: Mapping[str, Any]) -> Figure:
    """3-D views of log10 loss of 2-D surfaces with one vertical axis and colour scale (Li et al. 2018,
    Fig. 1)."""
    levels = shared_log_levels(planes)
    lo, hi = levels[0], levels[-1]
    fig = plt.figure(figsize=(6 * len(planes), 5))
    for k, surf in enumerate(planes.values()):
        surf = plots.as_surface(surf)
        ax = fig.add_subplot(1, len(planes), k + 1, projection="3d")
        plots.plot_landscape_3d(surf, log=True, vmin=lo, vmax=hi, ax=ax)
        ax.set(title=surf.meta["label"], xlabel="a", ylabel="b", zlabel="log10 training loss", zlim=(lo, hi))
    return fig


def sharpness(records: Sequence[Record]) -> Figure:
    """Top Hessian eigenvalue (left) and Hessian trace (right) per net, from `probes.sharpness`
    (sharpness as in Li et al. 2018; power iteration and Hutchinson's estimator)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    plots.plot_eigenvalues(list(records), y="top_eigenvalue", ax=left)
    plots.plot_eigenvalues(list(records), y="trace", ax=right)
    left.set_title("Top Hessian eigenvalue (sharpest curvature)")
    right.set_title("Hessian trace (total curvature)")
    return fig


# ---- lesson 06: ResNet18 vs SimpleCNN --------------------------------------------------------


def training_curves(histories: Mapping[str, History], *, label: str) -> Figure:
    """Accuracy (left) and cross-entropy loss (right) per epoch, train dashed and test solid, one colour
    per model (He et al. 2015, Fig. 6); `label`, the figure's title, names the run."""
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(12, 4.6))
    plots.plot_training_curves(dict(histories), metric="acc", ax=acc)
    plots.plot_training_curves(dict(histories), metric="loss", ax=loss)
    acc.set(title="Accuracy (dashed: train, solid: test)", ylabel="accuracy")
    loss.set(title="Cross-entropy loss (dashed: train, solid: test)", ylabel="loss")
    fig.suptitle(label)
    return fig


def gradient_flow(rows: Sequence[Record], *, smooth: int = 5) -> Figure:
    """Per model, the gradient norm of every stage against the SGD step (one panel each), and the batch
    loss of all models (last panel). Rows: `gradflow.fit_recorded` / `GradientRecorder.rows`."""
    df = pd.DataFrame(list(rows))
    models = list(dict.fromkeys(df.model))
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(5.3 * (len(models) + 1), 4.3))
    for ax, name in zip(axes, models):
        mine = df[(df.model == name) & (df.group != "total")]
        for stage, part in mine.groupby("group", sort=False):
            ax.plot(part.step, part.grad_norm, label=stage)
        ax.set(yscale="log", title=f"{name}: gradient norm per stage", xlabel="SGD step",
               ylabel="||dL/dW_stage|| (log scale)")  # fmt: skip
        ax.legend(fontsize=8)
    for name in models:
        total = df[(df.model == name) & (df.group == "total")]
        axes[-1].plot(total.step, total.loss.rolling(smooth, min_periods=1).mean(), label=name)
    axes[-1].set(title=f"Training loss (batch, running mean of {smooth})", xlabel="SGD step",
                 ylabel="cross-entropy")  # fmt: skip
    axes[-1].legend()
    return fig
