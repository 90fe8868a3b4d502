"""Figures for the course: one seaborn style, functions that take data and an optional `ax`.

Every plotting function returns the Axes it drew on; `save_figure` writes PNG and SVG files.
Records are the long-form rows of `probes`; surfaces are `landscape.Surface`s (or `.npz` paths).
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


def set_style() -> None:
    """The course's one look: seaborn "whitegrid", "notebook" context, colour-blind palette."""
    rc = {"figure.figsize": (6.4, 4.2), "axes.spines.top": False, "axes.spines.right": False}
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind", rc=rc)


def _axes(ax: Axes | None, **kw) -> Axes:
    return plt.subplots(**kw)[1] if ax is None else ax


def _frame(records: Any, hue: str) -> tuple[pd.DataFrame, str | None]:
    df = pd.DataFrame(records)
    return df, hue if hue in df and df[hue].notna().any() else None


def plot_gradient_norms(
    records: list[dict], *, y: str = "grad_norm", x: str = "block", hue: str = "model", log: bool = True,
    ax: Axes | None = None,
) -> Axes:  # fmt: skip
    """Gradient norm (or any per-block column, e.g. var_x of `forward_stats`) against depth, one line
    per model, log scale: vanishing gradients show as a straight falling line (He et al. 2015, Sec. 1).
    Several rows per point (seeds) draw their mean with a band of ± one standard deviation."""
    ax = _axes(ax)
    df, hue = _frame(records, hue)
    sns.lineplot(data=df, x=x, y=y, hue=hue, marker="o", errorbar="sd", ax=ax)
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
        return [dict(r, seed=h.meta.get("seed", i)) for i, h in enumerate(rows) for r in h.records]
    return rows


def plot_training_curves(
    histories: Any, *, metric: str = "loss", splits: tuple[str, ...] = ("train", "test"), band: str = "sd",
    ax: Axes | None = None,
) -> Axes:  # fmt: skip
    """Train (dashed) and test (solid) `metric` ("loss" or "acc") against epoch (He et al. 2015, Fig. 6).

    `histories`: a `History`, a list of Histories or of rows (epoch, train_loss, ..., optionally
    seed), or a dict {label: any of these}; `experiments.history_rows` output is grouped by model.
    Several seeds of one label draw their mean with a band: mean +- sd (`band="sd"`) or min..max
    (`band="range"`); the legend says how many seeds.
    """
    ax = _axes(ax)
    if not isinstance(histories, dict):
        rows = _records(histories)
        keyed = rows and "model" in rows[0] and rows[0]["model"] is not None
        histories = (
            {r["model"]: [q for q in rows if q["model"] == r["model"]] for r in rows}
            if keyed
            else {None: rows}
        )
    colors = sns.color_palette(n_colors=max(len(histories), 1))
    for color, (label, history) in zip(colors, histories.items()):
        df = pd.DataFrame(_records(history))
        n_seeds = df["seed"].nunique() if "seed" in df else 1
        for split, style in (("train", "--"), ("test", "-")):
            col = f"{split}_{metric}"
            if split not in splits or col not in df or df[col].isna().all():
                continue
            stats = df.dropna(subset=[col]).groupby("epoch")[col].agg(["mean", "std", "min", "max"])
            name = " ".join(str(p) for p in (label, split) if p is not None)
            name += f" (mean of {n_seeds} seeds)" if n_seeds > 1 else ""
            ax.plot(stats.index, stats["mean"], style, color=color, label=name)
            if n_seeds > 1:
                lo, hi = (stats["min"], stats["max"]) if band == "range" else (
                    stats["mean"] - stats["std"], stats["mean"] + stats["std"])  # fmt: skip
                ax.fill_between(stats.index, lo, hi, color=color, alpha=0.2, lw=0)
    ax.set(xlabel="epoch", ylabel={"acc": "accuracy"}.get(metric, metric))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.legend()
    return ax


def plot_with_stored(
    runs: Any, stored: dict | None, *, title: str, setting: str, metric: str = "loss",
    splits: tuple[str, ...] = ("train", "test"),
) -> Figure:  # fmt: skip
    """This run's curves (`plot_training_curves`) and, beside them when there is one, the stored
    paper-setting run of the same experiment (`records.load_results`), titled with its origin."""
    n = 2 if stored else 1
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 4.5), squeeze=False, layout="constrained")
    plot_training_curves(runs, metric=metric, splits=splits, ax=axes[0, 0])
    axes[0, 0].set_title(f"{title} ({setting} run, this machine)")
    if stored:
        plot_training_curves(stored["records"], metric=metric, splits=splits, ax=axes[0, 1])
        axes[0, 1].set_title(stored["label"])
    return fig


def as_surface(surface: Any):
    """A `landscape.Surface`, given one or the path of one saved with `Surface.save`."""
    if isinstance(surface, str | Path):
        from .landscape import Surface

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
    return "log10 loss" if log else "loss"


def plot_landscape_contour(
    surface: Any, *, levels: int = 30, log: bool = False, clip: float | None = None, filled: bool = True,
    ax: Axes | None = None,
) -> Axes:  # fmt: skip
    """Contour lines over a filled contour of a 2-D surface (Li et al. 2018, Fig. 5)."""
    ax, surface = _axes(ax), as_surface(surface)
    a, b = _grid(surface)
    z = _values(surface, log, clip)
    if filled:
        filled_cs = ax.contourf(a, b, z, levels=levels, cmap="viridis")
        ax.figure.colorbar(filled_cs, ax=ax, label=_zlabel(log))
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
    return ax


def plot_landscape_slices(
    surface: Any, *, at: float = 0.0, log: bool = False, clip: float | None = None, ax: Axes | None = None
) -> Axes:
    """1-D curves: a line or interpolation as is, or a 2-D surface's slices b = at and a = at."""
    ax, surface = _axes(ax), as_surface(surface)
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


def plot_lesion(records: list[dict], *, hue: str = "model", ax: Axes | None = None) -> Axes:
    """Accuracy after deleting each single block, baselines dashed, `skipped` blocks left out (Veit et al.
    2016, Fig. 3)."""
    ax = _axes(ax)
    df, hue = _frame(records, hue)
    removed = df[df["block"] >= 0].copy()
    if "skipped" in removed:  # a plain block that changes shape was not deleted: leave its bar out
        removed.loc[removed["skipped"].astype(bool), "accuracy"] = np.nan
    sns.barplot(data=removed, x="block", y="accuracy", hue=hue, ax=ax)
    models = removed[hue].unique() if hue else [None]
    for color, model in zip(sns.color_palette(n_colors=len(models)), models):
        base = df[(df["block"] < 0) & ((df[hue] == model) if hue else True)]["accuracy"]
        if len(base):
            ax.axhline(float(base.iloc[0]), ls="--", color=color, lw=1)
    ax.set(xlabel="deleted block", ylabel="test accuracy", ylim=(0, 1))
    return ax


def plot_shattering(
    records: list[dict], *, y: str = "autocorr", hue: str = "model", ax: Axes | None = None
) -> Axes:
    """Correlation of gradients against the distance between inputs (Balduzzi et al. 2017, Fig. 2);
    several rows per lag (seeds) draw their mean with a band of ± one standard deviation."""
    ax = _axes(ax)
    df, hue = _frame(records, hue)
    sns.lineplot(data=df, x="lag", y=y, hue=hue, errorbar="sd", ax=ax)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="lag (neighbouring inputs apart)", ylabel=y)
    return ax


def plot_eigenvalues(
    records: list[dict], *, y: str = "top_eigenvalue", log: bool = False, ax: Axes | None = None
) -> Axes:
    """Bars of a sharpness measure (top Hessian eigenvalue or trace), one per model (Li et al. 2018)."""
    ax = _axes(ax)
    df, _ = _frame(records, "model")
    sns.barplot(data=df, x="model", y=y, hue="model", legend=False, ax=ax)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="", ylabel={"top_eigenvalue": "top Hessian eigenvalue", "trace": "Hessian trace"}.get(y, y))
    return ax


def save_figure(fig: Figure, name: str, directory: str | Path = "figures") -> Path:
    """Write `directory/name.png` (150 dpi) and `directory/name.svg`, creating the folder; return the PNG."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{name}.png"
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(png.with_suffix(".svg"), bbox_inches="tight")
    return png


def plot_error_bars(
    errors: dict[str, Any], *, metric: str = "test_acc", xlabel: str = "CIFAR-10 test error (%)",
    ax: Axes | None = None,
) -> Axes:  # fmt: skip
    """Grouped horizontal bars of test error (%), one group per model and one colour per source, each bar
    labelled with its value: a paper's numbers beside ours (He et al. 2016, Table 2, in lesson 03).

    `errors`: {source: {model: error %}} or {source: rows}; rows (`experiments.history_rows`, a stored
    run's "records") give 100 (1 - `metric`) at each model's last epoch. The first source (the
    reference, e.g. the paper) is grey. Bars start at 0, so their lengths compare honestly.
    """
    ax = _axes(ax)
    table: dict[str, dict[str, float]] = {}
    for source, values in errors.items():
        if not isinstance(values, dict):
            last = {r["model"]: r for r in values}  # rows are in epoch order: the last one wins
            values = {m: 100 * (1 - r[metric]) for m, r in last.items() if r.get(metric) is not None}
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
    top = max((v for values in table.values() for v in values.values()), default=1.0)
    ax.set(yticks=np.arange(len(models)), yticklabels=models, xlabel=xlabel, xlim=(0, 1.15 * top))
    ax.invert_yaxis()  # the first model on top
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize="small")  # below: bars fill the axes
    return ax
