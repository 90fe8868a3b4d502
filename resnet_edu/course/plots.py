"""Figures for the course: one seaborn style, functions that take data and an optional `ax`.

Every plotting function returns the Axes it drew on; `save_figure` writes PNG and SVG files.
Records are the tidy rows of `measure` and `training`; surfaces are `measure.landscape.Surface`s (or
`.npz` paths). Figures of several panels are in `panels`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

MARKERS = "osD^vPX*"  # one per line, cycled: the palette has colours too close to tell apart alone


def set_style() -> None:
    """The course's one look: seaborn "whitegrid", "notebook" context, colour-blind palette."""
    rc = {"figure.figsize": (6.4, 4.2), "axes.spines.top": False, "axes.spines.right": False}
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind", rc=rc)


def axes(ax: Axes | None, **kw) -> Axes:
    return plt.subplots(**kw)[1] if ax is None else ax


def _frame(records: Any, hue: str) -> tuple[pd.DataFrame, str | None]:
    df = pd.DataFrame(records)
    return df, hue if hue in df and df[hue].notna().any() else None


def plot_gradient_norms(
    records: list[dict],
    *,
    y: str = "grad_norm",
    x: str = "block",
    hue: str = "model",
    log: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Gradient norm (or any per-block column, e.g. var_x of `forward_stats`) against depth, one line
    per model, log scale: vanishing gradients show as a straight falling line (He et al. 2015, Sec. 1).
    Several rows per point (seeds) draw their mean with a band of ± one standard deviation."""
    ax = axes(ax)
    df, hue = _frame(records, hue)
    names = df[hue].unique()  # a marker per line too: some palette colours are close
    markers = {name: MARKERS[k % len(MARKERS)] for k, name in enumerate(names)}
    sns.lineplot(data=df, x=x, y=y, hue=hue, style=hue, markers=markers, dashes=False, errorbar="sd", ax=ax)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="block (input x_l)" if x == "block" else x, ylabel=y.replace("_", " "))
    return ax


def _records(history: Any) -> list[dict]:
    """Rows of a History, of a list of Histories (one per seed; rows get its seed) or a list of rows."""
    if hasattr(history, "records"):
        return list(history.records)
    rows = list(history)
    if rows and hasattr(rows[0], "records"):
        return [
            dict(r, model=h.meta.get("model"), seed=h.meta.get("seed", i))
            for i, h in enumerate(rows)
            for r in h.records
        ]
    return rows


def plot_training_curves(
    histories: Any,
    *,
    metric: str = "loss",
    splits: tuple[str, ...] = ("train", "test"),
    band: str = "sd",
    ax: Axes | None = None,
) -> Axes:
    """Train (dashed) and test (solid) `metric` ("loss" or "acc") against epoch (He et al. 2015, Fig. 6);
    one split alone is drawn solid. Each label has its own marker as well as its own colour.

    `histories`: a `History`, a list of Histories or of rows (epoch, train_loss, ..., optionally
    seed), or a dict {label: any of these}; `training.history_rows` output is grouped by model.
    Several seeds of one label draw their mean with a band: mean +- sd (`band="sd"`) or min..max
    (`band="range"`); the legend says how many seeds.
    """
    ax = axes(ax)
    if not isinstance(histories, dict):
        rows = _records(histories)
        keyed = rows and "model" in rows[0] and rows[0]["model"] is not None
        histories = (
            {r["model"]: [q for q in rows if q["model"] == r["model"]] for r in rows}
            if keyed
            else {None: rows}
        )
    colors = sns.color_palette(n_colors=max(len(histories), 1))
    for k, (color, (label, history)) in enumerate(zip(colors, histories.items())):
        df = pd.DataFrame(_records(history))
        n_seeds = df["seed"].nunique() if "seed" in df else 1
        marker = MARKERS[k % len(MARKERS)]  # close palette colours still differ by marker
        for split, style in (("train", "--" if len(splits) > 1 else "-"), ("test", "-")):
            col = f"{split}_{metric}"
            if split not in splits or col not in df or df[col].isna().all():
                continue
            stats = df.dropna(subset=[col]).groupby("epoch")[col].agg(["mean", "std", "min", "max"])
            name = " ".join(str(p) for p in (label, split) if p is not None)
            name += f" (mean of {n_seeds} seeds)" if n_seeds > 1 else ""
            ax.plot(stats.index, stats["mean"], style, color=color, marker=marker, ms=4, label=name)
            if n_seeds > 1:
                lo, hi = (
                    (stats["min"], stats["max"])
                    if band == "range"
                    else (stats["mean"] - stats["std"], stats["mean"] + stats["std"])
                )
                ax.fill_between(stats.index, lo, hi, color=color, alpha=0.2, lw=0)
    ax.set(xlabel="epoch", ylabel={"acc": "accuracy"}.get(metric, metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.legend()
    return ax


def plot_with_stored(
    runs: Any,
    stored: dict | None,
    *,
    title: str,
    setting: str,
    metric: str = "loss",
    splits: tuple[str, ...] = ("train", "test"),
    ylabel: str | None = None,
    chance: float | None = None,
) -> Figure:
    """This run's curves (`plot_training_curves`) and, beside them when there is one, the stored
    paper-setting run of the same experiment (`training.load_results`), titled with its origin.
    `chance`: a dotted line at the loss of a uniform guess (ln 10), kept in view on the first panel,
    whose top leaves out the first test losses when they are far higher."""
    n = 2 if stored else 1
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 4.5), squeeze=False, layout="constrained")
    plot_training_curves(runs, metric=metric, splits=splits, ax=axes[0, 0])
    axes[0, 0].set_title(f"{title} ({setting} run, this machine)")
    if stored:
        plot_training_curves(stored["records"], metric=metric, splits=splits, ax=axes[0, 1])
        axes[0, 1].set_title(stored["label"])
    for ax in axes[0]:
        ax.set_ylabel(ylabel or ax.get_ylabel())
        if chance is not None:
            ax.axhline(chance, color="grey", lw=0.8, ls=":")
    if chance is not None:
        train = [r[f"train_{metric}"] for r in _records(runs)]
        axes[0, 0].set_ylim(0, max(1.2 * max(train), 1.1 * chance))
    return fig


def plot_shattering(
    records: list[dict], *, y: str = "autocorr", hue: str = "model", ax: Axes | None = None
) -> Axes:
    """Correlation of gradients against the distance between inputs (Balduzzi et al. 2017, Fig. 2);
    several rows per lag (seeds) draw their mean with a band of ± one standard deviation."""
    ax = axes(ax, figsize=(8.4, 4.2), layout="constrained")
    df, hue = _frame(records, hue)
    sns.lineplot(data=df, x="lag", y=y, hue=hue, errorbar="sd", ax=ax)
    ax.axhline(0, color="k", lw=0.5)
    if ax.get_legend() is not None:  # outside, right: the bands fill the axes
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1))
    seeds = df["seed"].nunique() if "seed" in df else 1
    ax.set(
        title=f"Autocorrelation of df/dt along a line of inputs ({seeds} seeds, band ± sd)",
        xlabel="lag (points apart on the line)",
        ylabel={"autocorr": "autocorrelation of df/dt"}.get(y, y),
    )
    return ax


def plot_eigenvalues(
    records: list[dict], *, y: str = "top_eigenvalue", log: bool = False, ax: Axes | None = None
) -> Axes:
    """Bars of a sharpness measure (top Hessian eigenvalue or trace), one per model (Li et al. 2018)."""
    ax = axes(ax)
    df, _ = _frame(records, "model")
    sns.barplot(data=df, x="model", y=y, hue="model", legend=False, ax=ax)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="", ylabel={"top_eigenvalue": "top Hessian eigenvalue", "trace": "Hessian trace"}.get(y, y))
    return ax


def mean_band(ax, df: pd.DataFrame, x: str, y: str, *, log: bool = False, **kw) -> None:
    """Mean of `y` over seeds at each `x` as a line with markers, mean ± sd as a band; with `log`,
    both taken of log10 `y` (a geometric mean and a band that stays positive on a log axis)."""
    g = (np.log10(df[y]) if log else df[y]).groupby(df[x])
    mean, sd = g.mean(), g.std().fillna(0.0)
    lo, mid, hi = (10**v if log else v for v in (mean - sd, mean, mean + sd))
    (line,) = ax.plot(mid.index, mid.values, "o-", ms=3, **kw)
    ax.fill_between(mid.index, lo, hi, color=line.get_color(), alpha=0.2, lw=0)


def save_figure(fig: Figure, name: str, directory: str | Path = "figures") -> Path:
    """Write `directory/name.png` (150 dpi) and `directory/name.svg`, creating the folder; return the PNG."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{name}.png"
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(png.with_suffix(".svg"), bbox_inches="tight")
    return png


def plot_error_bars(
    errors: dict[str, Any],
    *,
    metric: str = "test_acc",
    xlabel: str = "CIFAR-10 test error (%)",
    ax: Axes | None = None,
) -> Axes:
    """Grouped horizontal bars of test error (%), one group per model and one colour per source, each bar
    labelled with its value: a paper's numbers beside ours (He et al. 2016, Table 2, in lesson 03).

    `errors`: {source: {model: error %}} or {source: rows}; rows (`training.history_rows`, a stored
    run's "records") give 100 (1 - `metric`) at each run's last epoch, averaged over a model's seeds. The
    first source (the reference, e.g. the paper) is grey. Bars start at 0, so their lengths compare honestly;
    sources given as rows also get one dot per run, so the spread over seeds shows.
    """
    ax = axes(ax)
    table: dict[str, dict[str, float]] = {}
    seeds: dict[str, dict[str, list[float]]] = {}  # each run's error, where rows give them
    for source, values in errors.items():
        if not isinstance(values, dict):  # each run's last row (rows come in epoch order), then the mean
            last = {(r["model"], r.get("seed")): r for r in values if r.get(metric) is not None}
            per_model: dict[str, list[float]] = {}
            for (m, _), r in last.items():
                per_model.setdefault(str(m), []).append(100 * (1 - r[metric]))
            values, seeds[source] = {m: float(np.mean(v)) for m, v in per_model.items()}, per_model
        table[source] = {str(m): float(v) for m, v in values.items()}
    models = list(dict.fromkeys(m for values in table.values() for m in values))
    height = 0.8 / max(len(table), 1)
    colors = ["grey", *sns.color_palette(n_colors=max(len(table) - 1, 1))]
    for i, (color, (source, values)) in enumerate(zip(colors, table.items())):
        ys = np.arange(len(models)) + (i - (len(table) - 1) / 2) * height
        widths = [values.get(m, np.nan) for m in models]  # a model this source lacks gets no bar
        bars = ax.barh(ys, widths, height=height, color=color, label=source)
        labels = ["" if np.isnan(w) else f"{w:.2f}" for w in widths]
        ax.bar_label(bars, labels=labels, padding=3, fontsize="small")
        for y, m in zip(ys, models):  # one dot per seed: the spread the mean hides
            runs = seeds.get(source, {}).get(m, [])
            ax.plot(runs, [y] * len(runs), "o", color="k", mec="w", ms=4, zorder=3)
    runs = [v for per in seeds.values() for vs in per.values() for v in vs]
    top = max([v for values in table.values() for v in values.values()] + runs or [1.0])
    ax.set(yticks=np.arange(len(models)), yticklabels=models, xlabel=xlabel, xlim=(0, 1.15 * top))
    ax.invert_yaxis()  # the first model on top
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize="small")  # below: bars fill the axes
    return ax


def plot_plateaus(
    histories: Any, ends: list[dict], *, classes: int | None = None, ax: Axes | None = None
) -> Axes:
    """Each run's training loss against epoch, a thin line per seed and one colour per model, with a dot
    where it reached its plateau (`course.plateaus.plateaus` rows in `ends`; a hollow dot where the run
    met the cap first). Runs of different lengths are never averaged, so no mean jumps where one seed
    stops. `classes`: a dotted line at ln(classes), the loss of a uniform guess. The legend sits outside."""
    ax = axes(ax, figsize=(8.4, 4.2), layout="constrained")
    rows = _records(histories)
    models = list(dict.fromkeys(r["model"] for r in rows))
    palette = sns.color_palette(n_colors=len(models) + 1)  # vermilion (4th) sits too close to orange (2nd)
    for color, model in zip(palette[:3] + palette[4:], models):  # for thin lines: skip it
        mine = [r for r in rows if r["model"] == model]
        for i, seed in enumerate(dict.fromkeys(r["seed"] for r in mine)):
            run = [r for r in mine if r["seed"] == seed]
            n = len({r["seed"] for r in mine})
            label = f"{model} ({n} seed{'s' * (n > 1)})" if i == 0 else None
            ax.plot([r["epoch"] for r in run], [r["train_loss"] for r in run], color=color, lw=1, label=label)
        for e in (e for e in ends if e["model"] == model):
            face = color if e["reached"] else "white"
            ax.plot(e["epoch"], e["plateau"], "o", color=color, markerfacecolor=face, ms=7, zorder=3)
    if classes is not None:
        ax.axhline(np.log(classes), color="grey", lw=0.8, ls=":", label=f"chance, ln {classes}")
    ax.set(xlabel="epoch", ylabel="training loss (cross-entropy)", ylim=(0, None))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small", title="dot: plateau")
    return ax
