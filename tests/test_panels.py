"""The multi-seed figures of lessons 04 and 05 draw from hand-made records."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from resnet_edu.course import panels  # noqa: E402
from resnet_edu.training.records import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


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


def test_skipinit_panel_draws_the_blow_up_and_only_the_runs_that_stay_finite():
    fine = [
        History(
            [dict(epoch=1, train_loss=2.0 - s, test_acc=0.2 + s)], {"epochs": 1}, {"model": "a", "seed": s}
        )
        for s in (0, 1)
    ]
    bad = History([], {"epochs": 1}, {"model": "b", "seed": 0, "diverged": True, "diverged_step": 1})
    trace = [
        dict(model="a", seed=s, group="total", step=i, loss=2.0 - 0.1 * i) for s in (0, 1) for i in range(3)
    ]
    trace += [
        dict(model="b", seed=0, group="total", step=0, loss=50.0),
        dict(model="b", seed=0, group="total", step=1, loss=float("nan")),
    ]
    fig = panels.skipinit_training([*fine, bad], trace, title="t")
    blow, loss_ax, acc_ax = fig.axes
    assert len(blow.lines) == 3 + 1  # every run's first steps, and b's divergence marked at its step
    assert [line.get_xdata()[0] for line in blow.lines if line.get_linestyle() == ":"] == [1]
    per_epoch = [list(line.get_ydata()) for line in loss_ax.lines if line.get_marker() == "o"]
    assert per_epoch == [[2.0], [1.0]]  # only the two finite runs of a, one point per epoch: no window
    assert [list(line.get_ydata()) for line in acc_ax.lines if line.get_marker() == "o"] == [[0.2], [1.2]]
    (legend,) = fig.legends  # one legend, below the panels
    assert any("NaN/inf" in t.get_text() for t in legend.get_texts())


def test_one_step_descent_panel_draws_measured_and_predicted_decrease_and_their_ratio():
    lrs = [1e-3, 1e-2, 0.1]
    rows = [
        dict(model=m, seed=s, lr=lr, decrease=g * lr * (1 - lr), first_order=g * lr, ratio=1 - lr)
        for m, g in (("a", 2.0), ("b", 1.0))
        for s in (0, 1)
        for lr in lrs
    ]
    fig = panels.one_step_descent(rows)
    left, right = fig.axes[:2]
    assert left.get_xscale() == "log" and right.get_xscale() == "log"
    measured = [line for line in left.lines if line.get_label().startswith("a: measured")]
    assert list(measured[0].get_xdata()) == lrs and list(measured[0].get_ydata()) == pytest.approx(
        [2.0 * lr * (1 - lr) for lr in lrs]
    )
    assert list(right.lines[0].get_ydata()) == pytest.approx([1 - lr for lr in lrs])


def test_gradient_flow_panel_shares_one_y_axis_between_models():
    import matplotlib

    matplotlib.use("Agg")
    from resnet_edu.course import panels

    rows = [
        dict(model=m, seed=0, step=t, group=g, grad_rms=0.1 * (t + 1), loss=2.0)
        for m in ("a", "b")
        for t in (0, 1)
        for g in ("stem", "head", "total")
    ]
    fig = panels.gradient_flow(rows)
    a, b, _ = fig.axes
    a.set_ylim(1e-3, 1)
    assert b.get_ylim() == a.get_ylim()


def test_training_curves_panel_draws_accuracy_and_a_log_loss_for_each_model():
    runs = [
        History(
            [
                dict(epoch=e, train_loss=k / e, test_loss=k / e + 0.5, train_acc=0.1 * e, test_acc=0.1 * e)
                for e in (1, 2)
            ],
            {},
            {"model": m, "seed": 0},
        )
        for m, k in (("a", 1.0), ("b", 2.0))
    ]
    fig = panels.training_curves(runs, label="both")
    acc, loss = fig.axes
    assert loss.get_yscale() == "log" and fig._suptitle.get_text() == "both"
    train_b = [line for line in loss.get_lines() if line.get_label() == "b train"][0]
    assert list(train_b.get_ydata()) == [2.0, 1.0] and train_b.get_linestyle() == "--"
    assert len(acc.get_lines()) == 4  # train and test of both models
    assert acc.get_legend() is None and loss.get_legend() is None  # one legend, outside the panels
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["a train", "a test", "b train", "b test"]


def test_placements_panel_draws_the_curves_the_final_losses_and_the_errors():
    runs = [
        History(
            [dict(epoch=1, train_loss=2.0, test_acc=0.5), dict(epoch=2, train_loss=v + s, test_acc=0.6)],
            {},
            {"model": m, "seed": s},
        )
        for m, v in (("original", 1.0), ("full_preact", 1.5))
        for s in (0, 1)
    ]
    errors = {"paper": {"original": 6.61, "full_preact": 6.37}}
    left, mid, right = panels.placements(runs, errors, title="placements").axes
    assert left.get_title() == "placements"
    bars = sorted(round(p.get_width(), 3) for p in mid.patches if p.get_width() > 0)
    assert bars == [1.5, 2.0]  # mean final training loss: (1 + 2) / 2 and (1.5 + 2.5) / 2
    assert sorted(round(p.get_width(), 2) for p in right.patches if p.get_width() > 0) == [6.37, 6.61]
