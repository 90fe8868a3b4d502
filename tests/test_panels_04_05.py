"""The multi-seed figures of lessons 04 and 05 draw from hand-made records."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from resnet_edu import panels  # noqa: E402
from resnet_edu.landscape import Surface  # noqa: E402
from resnet_edu.records import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_variance_panel_draws_the_fit_and_the_pure_reference():
    rows = [dict(model=m, seed=s, block=b, var_x=v, var_branch=1.0)
            for s in (0, 1) for b in range(6)
            for m, v in (("BatchNorm", 0.5 + 0.4 * b + 0.01 * s), ("no normalisation", 2.0**b))]  # fmt: skip
    fig = panels.variance_through_depth(rows)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    ref = [line for line in fig.axes[2].get_lines() if line.get_linestyle() == "--"][0]
    assert np.allclose(ref.get_ydata(), 1 / np.sqrt(np.arange(1, 7)))  # not fitted to the data
    fit = [line for line in fig.axes[1].get_lines() if line.get_linestyle() == "--"][0]
    assert np.allclose(fit.get_ydata(), 0.505 + 0.4 * np.arange(6))  # the mean of the two seeds' lines


def test_lesion_panel_averages_seeds_and_leaves_skipped_blocks_out():
    rows = []
    for s, shift in ((0, 0.0), (1, 0.1)):
        rows.append(dict(model="resnet", seed=s, block=-1, skipped=False, accuracy=0.5 + shift))
        rows += [dict(model="resnet", seed=s, block=b, skipped=False, accuracy=0.4 + shift) for b in range(3)]
        rows.append(dict(model="plain", seed=s, block=-1, skipped=False, accuracy=0.4))
        rows += [dict(model="plain", seed=s, block=b, skipped=b == 1, accuracy=0.2) for b in range(3)]
    fig = panels.lesion(rows)
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 6) for b in bars[:3]] == [0.45] * 3  # mean of 0.4 and 0.5
    assert np.isnan(bars[4].get_height())  # plain block 1 could not be deleted


def test_skipinit_panel_takes_runs_keyed_by_label_and_seed():
    hist = History(config={"epochs": 1}, meta={}, records=[dict(epoch=1, test_acc=0.2)])
    bad = History(config={"epochs": 1}, meta={"diverged": True, "diverged_step": 1}, records=[])
    trace = [dict(group="total", step=i, loss=2.0 - 0.1 * i) for i in range(3)]
    runs = {("a", 0): (hist, trace), ("a", 1): (hist, trace), ("b", 0): (bad, trace[:1])}
    assert isinstance(panels.skipinit_training(runs, title="t"), Figure)


def test_slices_and_sharpness_panels_with_seeds():
    a = np.linspace(-1, 1, 5)
    lines = {(m, s): Surface(a, 1 + k * a**2 + s, np.zeros(5), None, {"label": m})
             for k, m in ((1, "resnet"), (5, "plain")) for s in (0, 1)}  # fmt: skip
    fig = panels.surface_slices(lines)
    assert len(fig.axes[0].get_lines()) == 2  # one mean line per net
    recs = [dict(model=m, seed=s, top_eigenvalue=10.0 + s, trace=50.0, trace_se=2.0, ratio=0.1)
            for m in ("resnet", "plain") for s in (0, 1)]  # fmt: skip
    assert len(panels.sharpness(recs).axes) == 3
    assert len(panels.sharpness([{k: v for k, v in r.items() if k != "ratio"} for r in recs]).axes) == 2
