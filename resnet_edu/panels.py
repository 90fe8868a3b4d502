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


def _mean_band(ax, df: pd.DataFrame, x: str, y: str, *, log: bool = False, **kw) -> None:
    """Mean of `y` over seeds at each `x` as a line with markers, mean ± sd as a band; with `log`,
    both taken of log10 `y` (a geometric mean and a band that stays positive on a log axis)."""
    g = (np.log10(df[y]) if log else df[y]).groupby(df[x])
    mean, sd = g.mean(), g.std().fillna(0.0)
    lo, mid, hi = (10**v if log else v for v in (mean - sd, mean, mean + sd))
    (line,) = ax.plot(mid.index, mid.values, "o-", ms=3, **kw)
    ax.fill_between(mid.index, lo, hi, color=line.get_color(), alpha=0.2, lw=0)


def variance_through_depth(rows: Sequence[Record], *, reference: str = "BatchNorm") -> Figure:
    """Three panels of `experiments.variance_through_depth` rows (mean ± sd over seeds as bands):
    Var(x_l) of every model on a log axis; the `reference` (BN) net's Var(x_l) on linear axes with
    its least-squares line; and its branch's share of the signal's scale sqrt(Var(F)/Var(x_l)) on
    log-log axes beside a pure 1/sqrt(l) (slope -1/2), De & Smith's (2020, Sec. 3) form."""
    df = pd.DataFrame(list(rows))
    df["seed"] = df["seed"] if "seed" in df else 0
    bn = df[df.model == reference].copy()
    rates = growth_rates(bn.to_dict("records"))
    slope = float(np.mean([r["linear_slope"] for r in rates]))
    intercept = float(np.mean([r["intercept"] for r in rates]))
    seeds = df.seed.nunique()
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(17, 4.5))
    for model, part in df.groupby("model", sort=False):
        _mean_band(left, part, "block", "var_x", log=True, label=model)
    left.set(yscale="log", title="Var(x_l) through depth at initialisation", xlabel="block l",
             ylabel="Var(x_l) (log scale; geometric mean)")  # fmt: skip
    _mean_band(mid, bn, "block", "var_x", label=f"{reference}: measured")
    ls = np.array(sorted(bn.block.unique()), dtype=float)
    mid.plot(ls, intercept + slope * ls, "k--", label=f"least squares: {intercept:.2f} + {slope:.3f} l")
    mid.set(title=f"{reference}: Var(x_l) on linear axes", xlabel="block l", ylabel="Var(x_l)",
            ylim=(0, None))  # fmt: skip
    bn["share"] = np.sqrt(bn.var_branch / bn.var_x)
    bn["l"] = bn.block + 1
    _mean_band(right, bn, "l", "share", log=True, label="measured sqrt(Var(F(x_l)) / Var(x_l))")
    right.plot(ls + 1, 1 / np.sqrt(ls + 1), "k--", label="1 / sqrt(l): slope -1/2 (no fit)")
    right.set(xscale="log", yscale="log", title=f"{reference}: the branch's share of the scale",
              xlabel="block l (counting from 1; log scale)", ylabel="std ratio (log scale)")  # fmt: skip
    for ax in (left, mid, right):
        ax.legend(fontsize=8)
    fig.suptitle(f"One stage of identical blocks at initialisation; bands: mean ± sd over {seeds} seeds")
    fig.tight_layout()
    return fig


def skipinit_training(
    runs: Mapping[Any, tuple[History, list[Record]]], *, title: str, first_steps: int = 15, smooth: int = 20
) -> Figure:
    """Runs of `gradflow.fit_recorded` (label or (label, seed) -> (History, rows), every=1): the first
    `first_steps` batch losses with the step where a run diverged (left), the running-mean loss of the
    runs that survive (middle) and their test accuracy per epoch (right), one colour per label and one
    line per seed: SkipInit (De & Smith 2020)."""
    fig, (blow, loss_ax, acc_ax) = plt.subplots(1, 3, figsize=(15, 4.3))
    labels = list(dict.fromkeys(k[0] if isinstance(k, tuple) else k for k in runs))
    colors = dict(zip(labels, [f"C{k}" for k in (3, 0, 7, 1, 2, 4, 5, 6, 8, 9)]))
    epochs, drawn = 0, set()
    for key, (hist, rows) in runs.items():
        label = key[0] if isinstance(key, tuple) else key
        color, first = colors[label], label not in drawn
        drawn.add(label)
        name = dict(label=label) if first else {}
        epochs = max(epochs, hist.config.get("epochs", 0))
        steps = [r for r in rows if r["group"] == "total"]
        finite = [r for r in steps if r["loss"] < float("inf")]  # NaN and inf fail this test
        head = finite[:first_steps]
        blow.plot([r["step"] for r in head], [r["loss"] for r in head], "o-", color=color, ms=3, **name)
        if hist.meta.get("diverged"):
            at = hist.meta["diverged_step"]
            blow.axvline(at, color=color, ls=":", **(dict(label=f"{label}: loss NaN/inf") if first else {}))
            if first:
                acc_ax.plot([], [], "x", color=color, label=f"{label}: diverged, no test accuracy")
        else:
            mean = pd.Series([r["loss"] for r in finite]).rolling(smooth, min_periods=1).mean()
            loss_ax.plot([r["step"] for r in finite], mean, color=color, lw=1, **name)
            acc_ax.plot(hist.column("epoch"), hist.column("test_acc"), "o-", color=color, **name)
    blow.set(yscale="log", xlabel="SGD step", ylabel="batch loss (log scale)",
             title=f"The first {first_steps} steps: blow-up")  # fmt: skip
    loss_ax.set(xlabel="SGD step", ylabel=f"batch loss (mean of {smooth} steps; log scale)", yscale="log",
                title="Training loss of the runs that stay finite")  # fmt: skip
    acc_ax.axhline(CHANCE, color="grey", lw=0.8, ls=":")
    acc_ax.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy (dotted: chance)", ylim=(0, None),
               xticks=range(1, epochs + 1) if epochs <= 10 else None)  # fmt: skip
    for ax in (blow, loss_ax, acc_ax):
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def lesion(records: Sequence[Record]) -> Figure:
    """Test accuracy after deleting one block, per model: bars of the mean over seeds with ± sd
    whiskers, each seed's value as a dot, the baselines (nothing deleted; mean over seeds) dashed and
    chance dotted (Veit et al. 2016, Fig. 3). Records: `lesions.lesion_runs` or `probes.lesion_study`;
    blocks that could not be deleted get no bar."""
    df = pd.DataFrame(list(records))
    df["seed"] = df["seed"] if "seed" in df else 0
    models = list(dict.fromkeys(df.model))
    blocks = sorted(b for b in df.block.unique() if b >= 0)
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(11, 4.3))
    for k, model in enumerate(models):
        mine, color = df[df.model == model], f"C{k}"
        cut = mine[(mine.block >= 0) & ~mine.skipped.astype(bool)]
        stats = cut.groupby("block").accuracy.agg(["mean", "std"]).reindex(blocks)
        xs = np.arange(len(blocks)) + (k - (len(models) - 1) / 2) * width
        ax.bar(xs, stats["mean"], width, yerr=stats["std"].fillna(0), color=color, alpha=0.75, capsize=2,
               label=f"{model} (bars: mean ± sd over {mine.seed.nunique()} seeds)")  # fmt: skip
        pos = dict(zip(blocks, xs))
        ax.plot(cut.block.map(pos), cut.accuracy, ".", color="k", ms=3)
        ax.axhline(mine[mine.block < 0].accuracy.mean(), color=color, ls="--", lw=1)
    ax.axhline(CHANCE, color="grey", lw=0.8, ls=":")
    ax.set(xticks=np.arange(len(blocks)), xticklabels=blocks, xlabel="deleted block (0 = first)",
           ylabel="test accuracy", ylim=(0, min(1.0, 1.4 * df.accuracy.max())),
           title="Test accuracy after deleting one block (dashed: nothing deleted; dots: seeds)")  # fmt: skip
    ax.legend(fontsize=8)
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


def surface_slices(lines: Mapping[Any, Any]) -> Figure:
    """1-D loss curves along one filter-normalised random direction (Li et al. 2018, Sec. 4): one colour
    per net (the Surface's meta label), the geometric mean over seeds as a line and x/÷ one sd (of log10
    loss) as a band when several Surfaces share a label; log loss axis, so the floor and the walls both
    show."""
    surfaces = {k: plots.as_surface(s) for k, s in lines.items()}
    df = pd.DataFrame([dict(model=s.meta.get("label") or str(k), a=a, loss=v)
                       for k, s in surfaces.items() for a, v in zip(s.alphas, s.loss)])  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for model, part in df.groupby("model", sort=False):
        n = len(part) // part.a.nunique()
        _mean_band(ax, part, "a", "loss", log=True, label=f"{model} ({n} seed{'s' * (n > 1)})")
    ax.set(yscale="log", title="Loss along a filter-normalised random direction per seed\n"
           "(line: geometric mean over seeds; band: x/÷ one sd)",
           xlabel="step a (filter-normalised units)", ylabel="training loss (log scale)")  # fmt: skip
    ax.legend()
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
    """Per net, from `hessian.sharpness` records (one per net and seed): the top Hessian eigenvalue, the
    trace (each seed's dot with its ± standard error) and, where measured, |lambda_min / lambda_max|
    (Li et al. 2018, Fig. 7); bars are means over seeds, whiskers ± sd."""
    df = pd.DataFrame(list(records))
    keys = [("top_eigenvalue", "Top Hessian eigenvalue (sharpest curvature)", "lambda (power iteration)"),
            ("trace", "Hessian trace (total curvature)", "trace (Hutchinson, dots ± s.e.)")]  # fmt: skip
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
            ax.errorbar(np.full(len(mine), k) + np.linspace(-0.15, 0.15, len(mine)), mine[key], yerr=err,
                        fmt="o", color="k", ms=3, lw=0.8)  # fmt: skip
        ax.set(xticks=range(len(models)), xticklabels=models, title=title, ylabel=ylabel)
    seeds = df.seed.nunique()
    fig.suptitle(f"Curvature at the trained weights; bars: mean ± sd over {seeds} seeds, dots: seeds")
    fig.tight_layout()
    return fig


# ---- lesson 06: ResNet18 vs SimpleCNN --------------------------------------------------------


def training_curves(histories: Any, *, label: str) -> Figure:
    """Accuracy (left) and cross-entropy loss (right) per epoch, train dashed and test solid, one colour
    per model (He et al. 2015, Fig. 6), loss on a log axis so that an early, large test loss does not
    flatten the rest; `label`, the figure's title, names the run. `histories`: what
    `plots.plot_training_curves` takes; `experiments.history_rows` of several seeds draws mean ± sd bands."""
    if isinstance(histories, Mapping):
        histories = dict(histories)
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(12, 4.6))
    plots.plot_training_curves(histories, metric="acc", ax=acc)
    plots.plot_training_curves(histories, metric="loss", ax=loss)
    acc.set(title="Accuracy (dashed: train, solid: test)", ylabel="accuracy")
    loss.set(title="Cross-entropy loss (dashed: train, solid: test)", ylabel="loss (log)", yscale="log")
    fig.suptitle(label)
    return fig


def gradient_flow(rows: Sequence[Record], *, y: str = "grad_rms", smooth: int = 5) -> Figure:
    """Per model, the gradient per parameter (`y`, default grad_rms = ||dL/dW_stage|| / sqrt(numel)) of
    every stage against the SGD step (one panel each, one shared log axis), mean over seeds; and the
    batch loss of all models (last panel). Rows: `gradflow.fit_recorded(_seeds)` recorder rows."""
    df = pd.DataFrame(list(rows))
    models = list(dict.fromkeys(df.model))
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(5.3 * (len(models) + 1), 4.3))
    for ax in axes[1 : len(models)]:  # one y-axis for every model's panel: the gradients compare
        ax.sharey(axes[0])
    seeds = df["seed"].nunique() if "seed" in df else 1
    for ax, name in zip(axes, models):
        mine = df[(df.model == name) & (df.group != "total")]
        for stage, part in mine.groupby("group", sort=False):
            ax.plot(*zip(*part.groupby("step")[y].mean().items()), label=stage)
        ax.set(yscale="log", title=f"{name}: gradient per parameter, per stage\n(mean of {seeds} seeds)",
               xlabel="SGD step", ylabel="||dL/dW_stage|| / sqrt(parameters) (log)")  # fmt: skip
        ax.legend(fontsize=8)
    for name in models:
        total = df[(df.model == name) & (df.group == "total")].groupby("step").loss.mean()
        axes[-1].plot(total.index, total.rolling(smooth, min_periods=1).mean(), label=name)
    axes[-1].set(title=f"Batch loss\n(mean of {seeds} seeds, running mean of {smooth})", xlabel="SGD step",
                 ylabel="cross-entropy")  # fmt: skip
    axes[-1].legend()
    return fig
