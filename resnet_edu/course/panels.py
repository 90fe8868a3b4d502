"""Multi-panel figures of training runs (lessons 03-06): placements, SkipInit, lesions, training curves,
gradient flow and one SGD step, assembled from the single-axes functions in `plots`.

Each function takes what a lesson measured (records, `History`s, `landscape.Surface`s) and returns
the Figure, which the lesson saves with `plots.save_figure`. The measurements live in
`measure` and `training`; the single plots in `plots`; only the
arrangement of panels, titles and shared scales lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..data.sets import CHANCE
from ..training.records import History, Record
from . import plots

# ---- lesson 03: pre-activation blocks ----------------------------------------------------------


def placements(runs: Sequence[History], errors: Mapping[str, Any], *, title: str) -> Figure:
    """Training runs of the five placements: training loss per epoch (left, mean ± sd over seeds, its
    legend below the axes), the final training loss per placement (middle, mean ± sd and one dot per
    seed), and test error (right, `plots.plot_error_bars` of `errors`: pass the runs of one scale only,
    so that a toy run's errors do not share an axis with a paper's)."""

    final = pd.DataFrame([h.records[-1] | {"model": h.meta["model"], "seed": h.meta["seed"]} for h in runs])
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(19, 5.6), layout="constrained")
    plots.plot_training_curves(runs, splits=("train",), ax=left)
    left.set(title=title, ylabel="training cross-entropy")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    sns.barplot(final, y="model", x="train_loss", errorbar="sd", color="lightgrey", ax=mid)
    sns.stripplot(final, y="model", x="train_loss", color="k", size=4, legend=False, ax=mid)
    mid.set(
        title="final training loss: mean ± sd (bars), seeds (dots)",
        xlabel="training cross-entropy",
        ylabel="",
    )
    plots.plot_error_bars(errors, xlabel="test error (%), on the test images each source names", ax=right)
    right.set_title("test error by placement")
    return fig


# ---- lesson 04: BatchNorm meets the shortcut ---------------------------------------------------


def skipinit_training(
    histories: Sequence[History],
    trace: Sequence[Record],
    *,
    title: str,
    first_steps: int = 15,
) -> Figure:
    """Runs of `measure.gradflow.train_recorded` (its Histories and recorder rows, every=1): the first
    `first_steps` batch losses with the step where a run diverged (left), the training loss per epoch
    (the mean over each epoch's batches, no running window) of the runs that survive (middle) and their
    test accuracy per epoch (right), one colour per model and one line per seed: SkipInit (De & Smith
    2020). Dotted: chance, ln 10 and 1/10."""
    fig, (blow, loss_ax, acc_ax) = plt.subplots(1, 3, figsize=(15, 4.3))
    labels = list(dict.fromkeys(h.meta["model"] for h in histories))
    colors = dict(zip(labels, [f"C{k}" for k in (3, 0, 7, 1, 2, 4, 5, 6, 8, 9)]))
    epochs, drawn, marked = 0, set(), set()
    for hist in histories:
        label, seed = hist.meta["model"], hist.meta["seed"]
        rows = [r for r in trace if (r["model"], r["seed"]) == (label, seed)]
        color, first = colors[label], label not in drawn
        drawn.add(label)
        name = dict(label=label) if first else {}
        epochs = max(epochs, hist.config.get("epochs", 0))
        steps = [r for r in rows if r["group"] == "total"]
        head = [r for r in steps if r["loss"] < float("inf")][:first_steps]  # NaN and inf fail this test
        blow.plot([r["step"] for r in head], [r["loss"] for r in head], "o-", color=color, ms=3, **name)
        if hist.meta.get("diverged"):
            at = hist.meta["diverged_step"]
            named = {} if label in marked else dict(label=f"{label}: loss NaN/inf")  # once per model
            blow.axvline(at, color=color, ls=":", **named)
            marked.add(label)
        else:
            loss_ax.plot(hist.column("epoch"), hist.column("train_loss"), "o-", color=color, **name)
            acc_ax.plot(hist.column("epoch"), hist.column("test_acc"), "o-", color=color, **name)
    blow.set(
        yscale="log",
        xlabel="SGD step",
        ylabel="batch loss (log scale)",
        title=f"The first {first_steps} steps: blow-up",
    )
    loss_ax.axhline(np.log(1 / CHANCE), color="grey", lw=0.8, ls=":")
    loss_ax.set(
        xlabel="epoch",
        ylabel="training loss, epoch mean (log)",
        yscale="log",
        title="Training loss of the runs that stay finite\n(dotted: chance, ln 10)",
    )
    acc_ax.axhline(CHANCE, color="grey", lw=0.8, ls=":")
    acc_ax.set(
        xlabel="epoch",
        ylabel="test accuracy",
        title="Test accuracy (dotted: chance)",
        ylim=(0, None),
    )
    for ax in (loss_ax, acc_ax):
        ax.set_xticks(range(1, epochs + 1) if epochs <= 10 else ax.get_xticks())
    handles, names = blow.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def lesion(records: Sequence[Record]) -> Figure:
    """Test accuracy after deleting one block, per model: bars of the mean over seeds with ± sd
    whiskers, each seed's value as a dot, the baselines (nothing deleted; mean over seeds) dashed and
    chance dotted (Veit et al. 2016, Fig. 3). Records: `measure.lesions.lesion_runs` or `lesion_study`;
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
        ax.bar(
            xs,
            stats["mean"],
            width,
            yerr=stats["std"].fillna(0),
            color=color,
            alpha=0.6,
            capsize=2,
            error_kw=dict(ecolor="grey", lw=1),
            label=f"{model} (bars: mean ± sd over {mine.seed.nunique()} seeds)",
        )
        pos = dict(zip(blocks, xs))
        ax.plot(cut.block.map(pos), cut.accuracy, "o", color="k", mec="w", ms=5, zorder=3)  # above whiskers
        ax.axhline(mine[mine.block < 0].accuracy.mean(), color=color, ls="--", lw=1)
    ax.axhline(CHANCE, color="grey", lw=0.8, ls=":")
    down = set(df.block[df.kind == "downsampling"]) if "kind" in df else set()  # stage's first blocks
    ax.set(
        xticks=np.arange(len(blocks)),
        xticklabels=[f"{b}\ndown" if b in down else str(b) for b in blocks],
        xlabel="deleted block (0 = first; down: it changes the shape, a stage's first)",
        ylabel="test accuracy",
        ylim=(0, min(1.0, 1.4 * df.accuracy.max())),
        title="Test accuracy after deleting one block (dashed: nothing deleted; dots: seeds)",
    )
    ax.legend(fontsize=8)
    return fig


# ---- lesson 06: ResNet18 vs SimpleCNN --------------------------------------------------------


def training_curves(histories: Any, *, label: str) -> Figure:
    """Accuracy (left) and cross-entropy loss (right) per epoch, train dashed and test solid, one colour
    per model (He et al. 2015, Fig. 6), loss on a log axis so that an early, large test loss does not
    flatten the rest; `label`, the figure's title, names the run. `histories`: what
    `plots.plot_training_curves` takes; `training.history_rows` of several seeds draws mean ± sd bands.
    One legend below both panels, where it covers no curve."""
    if isinstance(histories, Mapping):
        histories = dict(histories)
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(12, 5.2), layout="constrained")
    plots.plot_training_curves(histories, metric="acc", ax=acc)
    plots.plot_training_curves(histories, metric="loss", ax=loss)
    acc.set(title="Accuracy (dashed: train, solid: test)", ylabel="accuracy")
    loss.set(title="Cross-entropy loss (dashed: train, solid: test)", ylabel="loss (log)", yscale="log")
    handles, labels = acc.get_legend_handles_labels()
    for ax in (acc, loss):
        ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=9)
    fig.suptitle(label)
    return fig


def gradient_flow(rows: Sequence[Record], *, y: str = "grad_rms", smooth: int = 5) -> Figure:
    """Per model, the gradient per parameter (`y`, default grad_rms = ||dL/dW_stage|| / sqrt(numel)) of
    every stage against the SGD step (one panel each, one shared log axis), mean over seeds; and the
    batch loss of all models (last panel). Rows: `measure.gradflow.train_recorded` recorder rows."""
    df = pd.DataFrame(list(rows))
    models = list(dict.fromkeys(df.model))
    fig, axes = plt.subplots(1, len(models) + 1, figsize=(5.3 * (len(models) + 1), 5), layout="constrained")
    for ax in axes[1 : len(models)]:  # one y-axis for every model's panel: the gradients compare
        ax.sharey(axes[0])
    seeds = df["seed"].nunique() if "seed" in df else 1
    stages = list(dict.fromkeys(df.group[df.group != "total"]))  # one colour per stage name in every panel
    colours = dict(zip(stages, sns.color_palette(n_colors=len(stages))))
    for ax, name in zip(axes, models):
        mine = df[(df.model == name) & (df.group != "total")]
        for stage, part in mine.groupby("group", sort=False):
            ax.plot(*zip(*part.groupby("step")[y].mean().items()), label=stage, color=colours[stage])
        ax.set(
            yscale="log",
            title=f"{name}: gradient per parameter, per stage\n(mean of {seeds} seeds)",
            xlabel="SGD step",
            ylabel="||dL/dW_stage|| / sqrt(parameters) (log)",
        )
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)  # below the axes
    for name in models:
        total = df[(df.model == name) & (df.group == "total")].groupby("step").loss.mean()
        axes[-1].plot(total.index, total.rolling(smooth, min_periods=1).mean(), label=name)
    axes[-1].set(
        title=f"Batch loss\n(mean of {seeds} seeds, running mean of {smooth})",
        xlabel="SGD step",
        ylabel="cross-entropy",
    )
    axes[-1].legend()
    return fig


def one_step_descent(rows: Sequence[Record], *, tolerance: float = 0.1) -> Figure:
    """`one_step_descent` rows (several models and seeds on one lr grid): the measured one-step
    decrease against lr beside its first-order prediction lr ||g||^2 (left, dashed), and their ratio
    (right; the band marks `tolerance` around 1, where the first order holds). Mean over seeds with
    min..max bands; the lr axes are logarithmic and shared."""
    df = pd.DataFrame(list(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), sharex=True)
    for k, (model, part) in enumerate(df.groupby("model", sort=False)):
        color = f"C{k}"
        stats = part.groupby("lr")[["decrease", "first_order", "ratio"]].agg(["mean", "min", "max"])
        lr = stats.index
        seeds = part["seed"].nunique() if "seed" in part else 1
        label = f"{model}: measured ({seeds} seeds)"
        left.plot(lr, stats["decrease", "mean"], "o-", color=color, label=label)
        left.fill_between(lr, stats["decrease", "min"], stats["decrease", "max"], color=color, alpha=0.2)
        left.plot(lr, stats["first_order", "mean"], "--", color=color, label=f"{model}: lr ||g||^2")
        right.plot(lr, stats["ratio", "mean"], "o-", color=color, label=model)
        right.fill_between(lr, stats["ratio", "min"], stats["ratio", "max"], color=color, alpha=0.2)
    top = df["decrease"].max()  # a step that blows the loss up would hide the rest: clip the axes
    low, low_ratio = min(max(df["decrease"].min(), -top), -0.1 * top), max(min(df["ratio"].min(), -0.5), -2)
    left.set(
        xscale="log",
        ylim=(low, 1.5 * top),
        xlabel="learning rate of the one step",
        ylabel="loss before - loss after",
        title="One plain SGD step on a fixed batch\n(band: min to max over seeds; lines that leave go on)",
    )
    left.axhline(0, color="grey", lw=0.8)
    right.axhspan(1 - tolerance, 1 + tolerance, color="grey", alpha=0.15, lw=0)
    right.axhline(1, color="grey", lw=0.8, ls=":")
    right.set(
        xscale="log",
        ylim=(low_ratio, 1.2),
        xlabel="learning rate of the one step",
        ylabel="measured / first-order prediction",
        title=f"Where the first order holds\n(grey: within {tolerance:.0%})",
    )
    left.legend(fontsize=8, loc="lower left")  # small steps hug zero; large ones rise or plunge at the right
    right.legend(fontsize=8, loc="lower left")
    return fig
