import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from resnet_edu.course import widgets  # noqa: E402
from resnet_edu.measure.landscape import Surface  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_widgets_need_a_kernel_and_headless_runs_never_get_them(monkeypatch):
    assert not widgets.widgets_available()  # plain Python: no IPython kernel to render them
    monkeypatch.setenv("RESNET_EDU_HEADLESS", "1")
    assert not widgets.widgets_available()


def test_moving_a_slider_redraws_with_its_value(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "widgets_available", lambda: True)
    drawn = []
    measure = widgets.skip_scale_gradients

    def recording(lambdas, depths, **kw):
        drawn.append((lambdas[0], kw["branch_gain"]))
        return measure(lambdas, depths, **kw)

    monkeypatch.setattr(widgets, "skip_scale_gradients", recording)
    box = widgets.skip_scale_explorer(depths=(1, 2), lam=0.9, branch_gain=0.0)
    lam, gain = box.children[0].children
    assert drawn == [(0.9, 0.0)]  # the first view
    lam.value = 1.2
    gain.value = 0.1
    assert drawn == [(0.9, 0.0), (1.2, 0.0), (1.2, 0.1)]


def test_gradient_explorer_falls_back_to_a_figure(tmp_path):
    fig = widgets.gradient_explorer(depths=(8, 14), width=2, batch_size=4)
    assert isinstance(fig, Figure) and len(fig.axes[0].get_lines()) >= 2
    fig.savefig(tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 0


def test_landscape_viewer_falls_back_to_a_figure():
    grid = np.linspace(-1, 1, 5)
    plane = Surface(grid, 1 + np.add.outer(grid**2, grid**2), np.zeros((5, 5)), grid, {})
    assert isinstance(widgets.landscape_viewer(plane), Figure)
    line = Surface(grid, 1 + grid**2, np.zeros(5), None, {})
    assert isinstance(widgets.landscape_viewer(line, static=True), Figure)


def test_widgets_build_when_asked(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(widgets, "widgets_available", lambda: True)
    grid = np.linspace(-1, 1, 3)
    box = widgets.landscape_viewer(Surface(grid, np.ones((3, 3)), np.zeros((3, 3)), grid, {}))
    assert type(box).__name__ == "VBox"


def test_skip_scale_explorer_draws_measured_lines_on_lambda_to_the_l():
    fig = widgets.skip_scale_explorer(depths=(1, 2, 4), lam=0.5, static=True)
    assert isinstance(fig, Figure)
    ys = [line.get_ydata() for line in fig.axes[0].get_lines() if len(line.get_ydata()) == 3]
    assert any(np.allclose(y, [0.5, 0.25, 0.0625]) for y in ys)  # branch gain 0: exactly lambda^L
