import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from resnet_edu import widgets  # noqa: E402
from resnet_edu.landscape import Surface  # noqa: E402


def colorbar_label(fig) -> str:
    return next(ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>")


def test_the_surface_viewer_defaults_to_a_log_colour_scale():
    grid = np.linspace(-1, 1, 5)
    plane = Surface(grid, 1 + 100 * np.add.outer(grid**2, grid**2), np.zeros((5, 5)), grid, {})
    fig = widgets.landscape_viewer(plane, static=True)
    assert colorbar_label(fig) == "log10 loss"
    assert colorbar_label(widgets.landscape_viewer(plane, log=False, static=True)) == "loss"
    plt.close("all")
