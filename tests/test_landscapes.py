"""Figures of loss landscapes: what each draws, checked against the surfaces it was given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from resnet_edu.course import landscapes, plots, widgets  # noqa: E402
from resnet_edu.measure.landscape import Surface  # noqa: E402

GRID = np.linspace(-1, 1, 7)
PLANE = Surface(GRID, 1 + np.add.outer(GRID**2, 2 * GRID**2), np.full((7, 7), 0.5), GRID, {"label": "bowl"})
LINE = Surface(GRID, 1 + GRID**2, np.full(7, 0.5), None, {"kind": "line", "label": "bowl"})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def written(fig, name, tmp_path) -> None:
    path = plots.save_figure(fig, name, tmp_path / "figs")
    assert path.suffix == ".png" and path.stat().st_size > 0 and path.with_suffix(".svg").stat().st_size > 0


def test_slices_and_sharpness_panels_with_seeds():
    a = np.linspace(-1, 1, 5)
    lines = {
        (m, s): Surface(a, 1 + k * a**2 + s, np.zeros(5), None, {"label": m})
        for k, m in ((1, "resnet"), (5, "plain"))
        for s in (0, 1)
    }
    fig = landscapes.surface_slices(lines)
    assert len(fig.axes[0].get_lines()) == 2  # one mean line per net
    recs = [
        dict(model=m, seed=s, top_eigenvalue=10.0 + s, trace=50.0, trace_se=2.0, ratio=0.1)
        for m in ("resnet", "plain")
        for s in (0, 1)
    ]
    assert len(landscapes.sharpness(recs).axes) == 3
    assert len(landscapes.sharpness([{k: v for k, v in r.items() if k != "ratio"} for r in recs]).axes) == 2


def test_landscape_plots(tmp_path):
    path = PLANE.save(tmp_path / "plane")
    fig, axes = plt.subplots(1, 2)
    landscapes.plot_landscape_contour(PLANE, ax=axes[0], log=True, clip=2.5)
    landscapes.plot_landscape_slices(path, ax=axes[1], at=0.0)
    assert len(axes[1].get_lines()) == 2
    written(fig, "contour", tmp_path)
    written(landscapes.plot_landscape_3d(PLANE).figure, "surface3d", tmp_path)
    written(landscapes.plot_landscape_slices(LINE).figure, "line", tmp_path)
    with pytest.raises(ValueError, match="1-D"):
        landscapes.plot_landscape_contour(LINE)


def colorbar_label(fig) -> str:
    return next(ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>")


def test_the_surface_viewer_defaults_to_a_log_colour_scale():
    grid = np.linspace(-1, 1, 5)
    plane = Surface(grid, 1 + 100 * np.add.outer(grid**2, grid**2), np.zeros((5, 5)), grid, {})
    fig = widgets.landscape_viewer(plane, static=True)
    assert colorbar_label(fig) == "loss (log scale)"
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>")
    assert bar.yaxis.get_major_formatter()(1.0, 0) == "10"  # the ticks read as losses, not log10 losses
    assert colorbar_label(widgets.landscape_viewer(plane, log=False, static=True)) == "loss"
    plt.close("all")


def test_slices_through_a_plane_are_its_rows_and_columns(tmp_path):
    path = PLANE.save(tmp_path / "plane")
    ax = landscapes.plot_landscape_slices(path, at=0.0)
    along_a, along_b = ax.get_lines()
    assert np.allclose(along_a.get_ydata(), PLANE.loss[:, 3]) and np.allclose(
        along_b.get_ydata(), PLANE.loss[3, :]
    )
    log = landscapes.plot_landscape_slices(LINE, log=True)
    assert np.allclose(log.get_lines()[0].get_ydata(), np.log10(LINE.loss))


def test_the_mean_slice_is_the_geometric_mean_over_seeds():
    a = np.linspace(-1, 1, 5)
    lines = {("m", s): Surface(a, (1 + a**2) * 10.0**s, np.zeros(5), None, {"label": "m"}) for s in (0, 2)}
    (mean,) = [
        line for line in landscapes.surface_slices(lines).axes[0].get_lines() if line.get_marker() == "o"
    ]
    assert np.allclose(mean.get_ydata(), (1 + a**2) * 10.0)  # sqrt(1 * 100) = 10 times the shape


def test_contours_of_two_surfaces_share_one_colour_scale():
    steep = Surface(GRID, 100 * PLANE.loss, PLANE.accuracy, GRID, {"label": "steep"})
    fig = landscapes.surface_contours({"bowl": PLANE, "steep": steep})
    levels = [ax.collections[0].levels for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert (
        np.allclose(levels[0], levels[1])
        and np.isclose(levels[0][0], 0)
        and np.isclose(levels[0][-1], np.log10(400))
    )


def test_sharpness_bars_are_the_seed_means():
    recs = [
        dict(model=m, seed=s, top_eigenvalue=v + s, trace=50.0, trace_se=2.0)
        for m, v in (("a", 10.0), ("b", 4.0))
        for s in (0, 1)
    ]
    top = landscapes.sharpness(recs).axes[0]
    assert [round(p.get_height(), 6) for p in top.patches] == [10.5, 4.5]
