"""ipywidgets explorers for the lessons, with a static-figure fallback.

Where widgets cannot render (no ipywidgets, no IPython kernel: plain Python, headless execution)
every explorer returns a matplotlib Figure of its default view instead.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


def widgets_available() -> bool:
    """True inside a running IPython kernel with ipywidgets importable."""
    raise NotImplementedError


def gradient_explorer(
    depths: tuple[int, ...] = (8, 14, 20, 32, 44, 56), *, width: int = 4, batch_size: int = 32,
    seed: int = 0, data: Any = None, static: bool | None = None,
) -> Any:  # fmt: skip
    """A depth slider redrawing ||dL/dx_l|| per block for plainN and resnetN at initialisation.

    `data`: an ImageSet or (x, y); default a small `synthetic_cifar` batch. `static=True` forces the
    fallback figure (of the first depth... the deepest); None decides by `widgets_available()`.
    """
    raise NotImplementedError


def landscape_viewer(surface: Any, *, static: bool | None = None) -> Any:
    """Slice position, log scale and clipping controls over a 2-D `Surface` (or a saved `.npz` path)."""
    raise NotImplementedError
