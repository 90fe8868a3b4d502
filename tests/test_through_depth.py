"""Figures of quantities through depth: each checked against the rows it was drawn from."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from resnet_edu.course import through_depth  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def drawn(ax) -> list:
    """The solid data lines of an Axes, in the order they were drawn (seaborn adds empty ones)."""
    return [line for line in ax.get_lines() if len(line.get_xdata()) and line.get_linestyle() == "-"]


def test_gradient_norms_draw_each_variant_at_the_depth_and_the_first_block_over_depths():
    rows = [
        dict(model=m, seed=0, depth=d, block=b, ratio=f ** (d - b))
        for m, f in (("shrinks", 0.5), ("flat", 1.0))
        for d in (2, 4)
        for b in range(d + 1)
    ]
    left, right = through_depth.gradient_norms(rows, depth=4).axes
    shrinks = drawn(left)[0]
    assert np.allclose(shrinks.get_ydata(), [0.5**4, 0.5**3, 0.25, 0.5, 1.0]) and left.get_yscale() == "log"
    assert np.allclose(drawn(right)[0].get_ydata(), [0.25, 0.5**4])  # block 0 at depths 2 and 4
    legend = right.get_legend().get_bbox_to_anchor()
    assert left.get_legend() is None and legend.x0 > right.get_window_extent().x1 - 1  # right of the data
    (single,) = through_depth.gradient_norms([r for r in rows if r["depth"] == 4], depth=4).axes
    assert single.get_title().endswith("depth 4")
    assert [t.get_text() for t in single.get_legend().get_texts()] == ["shrinks", "flat"]


def test_skip_scale_draws_the_measured_ratio_beside_lambda_to_the_l():
    rows = [
        dict(lam=lam, depth=d, branch_gain=g, grad_ratio=lam**d * (1 + g))
        for g in (0.0, 0.1)
        for lam in (0.5, 2.0)
        for d in (1, 2, 4)
    ]
    fig = through_depth.skip_scale(rows)
    assert len(fig.axes) == 2
    dotted = [list(line.get_ydata()) for line in fig.axes[1].get_lines() if line.get_linestyle() == ":"]
    assert dotted == [[0.5, 0.25, 0.0625], [2.0, 4.0, 16.0]]  # lambda^L, not the measured values
    measured = drawn(fig.axes[1])[1]  # lambda = 2.0
    assert np.allclose(measured.get_ydata(), [2.2, 4.4, 17.6])


def test_depth_probe_draws_both_quantities_on_log_log_axes():
    rows = [
        dict(placement=p, seed=s, depth=d, grad_ratio=k * d, signal=d)
        for p, k in (("a", 1.0), ("b", 3.0))
        for s in (0, 1)
        for d in (1, 10, 100)
    ]
    left, right = through_depth.depth_probe(rows).axes
    assert left.get_xscale() == right.get_xscale() == "log" and left.get_yscale() == "log"
    b = drawn(left)[1]
    assert np.allclose(b.get_ydata(), [3.0, 30.0, 300.0])


def test_activation_gradients_are_drawn_relative_to_the_output():
    rows = [dict(model="m", seed=s, block=b, to_output=2.0 ** (2 - b)) for s in (0, 1) for b in range(3)]
    ax = through_depth.activation_gradients(rows).axes[0]
    assert np.allclose(drawn(ax)[0].get_ydata(), [4.0, 2.0, 1.0]) and "2 seeds" in ax.get_title()


def test_variance_panel_draws_the_fit_and_the_pure_reference():
    rows = [
        dict(model=m, seed=s, block=b, var_x=v, var_branch=1.0)
        for s in (0, 1)
        for b in range(6)
        for m, v in (("BatchNorm", 0.5 + 0.4 * b + 0.01 * s), ("no normalisation", 2.0**b))
    ]
    fig = through_depth.variance_through_depth(rows)
    assert len(fig.axes) == 3
    ref = [line for line in fig.axes[2].get_lines() if line.get_linestyle() == "--"][0]
    assert np.allclose(ref.get_ydata(), 1 / np.sqrt(np.arange(1, 7)))  # not fitted to the data
    level = [line for line in fig.axes[2].get_lines() if line.get_linestyle() == ":"][0]
    assert np.allclose(level.get_ydata(), 1)  # where the branch is as large as the skip
    fit = [line for line in fig.axes[1].get_lines() if line.get_linestyle() == "--"][0]
    assert np.allclose(fit.get_ydata(), 0.505 + 0.4 * np.arange(6))  # the mean of the two seeds' lines
