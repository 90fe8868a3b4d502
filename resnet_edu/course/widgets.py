"""ipywidgets explorers for the lessons, with a static-figure fallback.

Where widgets cannot render (no ipywidgets, no IPython kernel: plain Python, headless execution)
every explorer returns a matplotlib Figure of its default view instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..data.sets import ImageSet, synthetic_cifar
from ..data.tensors import as_tensors
from ..measure.gradients import gradient_ratios
from ..measure.identities import skip_scale_gradients
from . import landscapes, plots
from .experiments import twins


def widgets_available() -> bool:
    """True inside a running IPython kernel (Jupyter, Colab) with ipywidgets importable.

    False when RESNET_EDU_HEADLESS=1 (set by `course.run_lessons`): an executed copy keeps a
    static figure, which a saved notebook can show, instead of a widget that needs a live kernel.
    """
    if os.environ.get("RESNET_EDU_HEADLESS") == "1":
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _explorer(
    defaults: dict[str, Any],
    make_controls: Callable[[], dict[str, Any]],
    draw: Callable[..., Figure],
    static: bool | None,
) -> Any:
    """Widgets from `make_controls()` (name -> widget) redrawing `draw(**values)` below them; where
    widgets cannot render (or `static`), the Figure `draw(**defaults)`."""
    if static or (static is None and not widgets_available()):
        fig = draw(**defaults)
        plt.close(fig)  # returned for display once; closed so pyplot does not show it a second time
        return fig
    import ipywidgets as W
    from IPython.display import display

    controls, out = make_controls(), W.Output()

    def update(_: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            fig = draw(**{k: w.value for k, w in controls.items()})
            display(fig)
            plt.close(fig)

    for w in controls.values():
        w.observe(update, names="value")
    update()
    return W.VBox([W.HBox(list(controls.values())), out])


def gradient_explorer(
    depths: tuple[int, ...] = (8, 14, 20, 32, 44, 56),
    *,
    width: int = 4,
    batch_size: int = 32,
    seed: int = 0,
    data: Any = None,
    static: bool | None = None,
) -> Any:
    """A depth slider redrawing ||dE/dx_l|| / ||dE/dx_L|| (E: the loss) per block for plain and residual
    CIFAR nets at initialisation (`measure.gradients.gradient_ratios` of `experiments.twins`): the
    ratio axis of the lessons' other plots.

    Depths are 6n+2 (He et al. 2015, Sec. 4.2). `data`: an ImageSet or (x, y); default a batch of
    `synthetic_cifar`. `static=True` forces the fallback figure (the deepest net); None decides by
    `widgets_available()`.
    """
    data = data if data is not None else synthetic_cifar(-(-batch_size // 10), seed=seed)
    if isinstance(data, ImageSet):  # the first images only: never normalise a whole dataset for one batch
        data = ImageSet(data.images[:batch_size], data.labels[:batch_size], data.classes)
    x, y = as_tensors(data)
    x, y = x[:batch_size], y[:batch_size]
    cache: dict[int, list[dict]] = {}

    def draw(depth: int) -> Figure:
        if depth not in cache:
            cache[depth] = gradient_ratios(twins(depth, width=width), x, y, seeds=(seed,))
        fig, ax = plt.subplots()
        plots.plot_gradient_norms(cache[depth], y="ratio", ax=ax)
        ax.axhline(1, color="k", lw=0.5)
        blocks = (depth - 2) // 2  # 6n+2 layers: three stages of n two-convolution blocks
        ax.set(
            title=f"Gradient per block at initialisation, depth {depth} ({blocks} blocks)",
            xlabel="block l (0 = first)",
            ylabel="||dE/dx_l|| / ||dE/dx_L||  (log)",
        )
        return fig

    def make() -> dict[str, Any]:
        import ipywidgets as W

        return {"depth": W.SelectionSlider(options=list(depths), value=depths[-1], description="depth")}

    return _explorer({"depth": depths[-1]}, make, draw, static)


def skip_scale_explorer(
    depths: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 54),
    *,
    lam: float = 0.9,
    branch_gain: float = 0.0,
    seed: int = 0,
    static: bool | None = None,
) -> Any:
    """Sliders for the shortcut scale lambda and the branch gain g, redrawing ||dE/dx_0|| / ||dE/dx_L||
    against depth for x_{l+1} = lambda x_l + g F(x_l), with lambda^L dotted (Identity Mappings, Eq. 8;
    `identities.skip_scale_gradients`). 54 blocks is ResNet-110. `static=True` forces the fallback
    figure (the given `lam` and `branch_gain`); None decides by `widgets_available()`.
    """

    def draw(lam: float, branch_gain: float) -> Figure:
        rows = skip_scale_gradients((lam,), depths, branch_gain=branch_gain, seed=seed)
        rows = [dict(r, model=f"lambda = {lam:g}") for r in rows]
        fig, ax = plt.subplots(figsize=(7, 4.5))
        plots.plot_gradient_norms(rows, x="depth", y="grad_ratio", ax=ax)
        ax.plot(depths, [lam**d for d in depths], "k:", label="lambda^L")
        ax.set(
            title=f"lambda = {lam:g}, branch gain = {branch_gain:g}",
            xlabel="depth L (blocks)",
            ylabel="||dE/dx_0|| / ||dE/dx_L||  (log)",
        )
        ax.legend()
        return fig

    def make() -> dict[str, Any]:
        import ipywidgets as W

        return {
            "lam": W.FloatSlider(value=lam, min=0.5, max=1.5, step=0.01, description="lambda"),
            "branch_gain": W.FloatSlider(value=branch_gain, min=0.0, max=0.5, step=0.05, description="gain"),
        }

    return _explorer({"lam": lam, "branch_gain": branch_gain}, make, draw, static)


def landscape_viewer(surface: Any, *, log: bool = True, static: bool | None = None) -> Any:
    """Slice position, log scale and clipping over a `Surface` (or a saved `.npz` path): contour with the
    slice marked, beside the 1-D slices through it (Li et al. 2018, Figs. 3 and 5). The colour scale is
    log10 loss by default (`log`): on a linear scale the high walls hide the basin's floor."""
    surface = landscapes.as_surface(surface)
    lo, hi = float(np.min(surface.loss)), float(np.max(surface.loss))
    positions = [round(float(b), 4) for b in (surface.betas if surface.betas is not None else [0.0])]
    at0 = min(positions, key=abs)

    def draw(at: float, log: bool, clip: float) -> Figure:
        clip = None if clip >= hi else clip
        if surface.betas is None:
            fig, ax = plt.subplots()
            landscapes.plot_landscape_slices(surface, log=log, clip=clip, ax=ax)
            return fig
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        landscapes.plot_landscape_contour(surface, log=log, clip=clip, ax=left)
        left.axhline(at, color="w", ls="--")
        left.axvline(at, color="w", ls=":")
        landscapes.plot_landscape_slices(surface, at=at, log=log, clip=clip, ax=right)
        return fig

    def make() -> dict[str, Any]:
        import ipywidgets as W

        return {
            "at": W.SelectionSlider(options=positions, value=at0, description="slice at"),
            "log": W.Checkbox(value=log, description="log scale"),
            "clip": W.FloatSlider(value=hi, min=lo, max=hi, step=(hi - lo) / 100 or 1.0, description="clip"),
        }

    return _explorer({"at": at0, "log": log, "clip": hi}, make, draw, static)
