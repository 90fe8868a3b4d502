"""Single-axes figures: what each draws, checked against the rows it was given, and the files it writes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from resnet_edu.course import plots  # noqa: E402
from resnet_edu.training.records import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def lines(ax) -> list:
    """The data lines of an Axes, in the order they were drawn (seaborn adds empty ones)."""
    return [line for line in ax.get_lines() if len(line.get_xdata())]


def test_gradient_norms_draw_the_mean_over_seeds_on_a_log_axis():
    rows = [
        dict(model=m, seed=s, block=b, grad_norm=f**b * (1 + s))
        for m, f in (("plain", 0.5), ("res", 1.0))
        for s in (0, 1)
        for b in range(4)
    ]
    ax = plots.plot_gradient_norms(rows)
    plain, res = lines(ax)[:2]
    assert ax.get_yscale() == "log" and np.allclose(plain.get_ydata(), [1.5 * 0.5**b for b in range(4)])
    assert np.allclose(res.get_ydata(), 1.5)


def test_training_curves_mean_and_band_over_seeds_from_histories():
    def run(seed, scale):
        recs = [
            dict(epoch=e, train_loss=scale / e, test_loss=scale / e + 0.1, train_acc=0.5, test_acc=None)
            for e in (1, 2, 3)
        ]
        return History(recs, {}, {"model": "m", "seed": seed})

    ax = plots.plot_training_curves([run(0, 1.0), run(1, 3.0)])
    train, test = lines(ax)
    assert train.get_linestyle() == "--" and np.allclose(train.get_ydata(), [2.0, 1.0, 2 / 3])
    assert np.allclose(test.get_ydata(), [2.1, 1.1, 2 / 3 + 0.1]) and "mean of 2 seeds" in train.get_label()
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    sd = pd.Series([1.0, 3.0]).std()  # sample sd of the two seeds at epoch 1
    assert np.isclose(band.max(), 2.0 + sd) and np.isclose(band.min(), (2 / 3) - sd / 3)
    assert all(float(t).is_integer() for t in ax.get_xticks() if 1 <= t <= 3)


def test_training_curves_of_labelled_rows_skip_epochs_without_a_test():
    rows = [
        dict(
            epoch=e,
            train_loss=1 / e,
            test_loss=1.2 / e,
            test_acc=None if e == 2 else 0.5,
            train_acc=1 - 1 / (e + 1),
        )
        for e in range(1, 4)
    ]
    ax = plots.plot_training_curves({"a": rows}, metric="acc")
    train, test = lines(ax)
    assert list(test.get_xdata()) == [1, 3] and np.allclose(train.get_ydata(), [0.5, 2 / 3, 0.75])


def test_with_stored_draws_the_stored_run_beside_and_keeps_chance_in_view():
    rows = [dict(epoch=e, train_loss=1 / e, test_loss=50.0 if e == 1 else 1.0) for e in (1, 2)]
    stored = {
        "records": [dict(r, train_loss=0.5 * r["train_loss"]) for r in rows],
        "label": "stored run (GPU)",
    }
    fig = plots.plot_with_stored(rows, stored, title="t", setting="quick", chance=np.log(10))
    mine, theirs = fig.axes
    assert theirs.get_title() == "stored run (GPU)" and np.allclose(lines(theirs)[0].get_ydata(), [0.5, 0.25])
    assert mine.get_ylim()[1] == pytest.approx(1.1 * np.log(10))  # the test loss of 50 is left out of view
    assert any(np.allclose(line.get_ydata(), np.log(10)) for line in mine.get_lines())  # chance, dotted
    assert len(plots.plot_with_stored(rows, None, title="t", setting="quick").axes) == 1


def test_shattering_and_eigenvalue_plots():
    shatter = [
        dict(model=m, lag=k, autocorr=r**k) for m, r in (("plain", 0.2), ("resnet", 0.9)) for k in range(4)
    ]
    ax = plots.plot_shattering(shatter)
    assert np.allclose(lines(ax)[1].get_ydata(), [0.9**k for k in range(4)])
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # right of the data
    eig = [{"model": "plain", "top_eigenvalue": 40.0}, {"model": "resnet", "top_eigenvalue": 4.0}]
    ax = plots.plot_eigenvalues(eig, log=True)
    assert [p.get_height() for p in ax.patches] == [40.0, 4.0] and ax.get_yscale() == "log"


def test_mean_band_of_log_values_is_a_geometric_mean():
    df = pd.DataFrame(dict(x=[0, 0, 1, 1], y=[1.0, 100.0, 10.0, 1000.0]))
    ax = plots.axes(None)
    plots.mean_band(ax, df, "x", "y", log=True)
    assert np.allclose(ax.get_lines()[0].get_ydata(), [10.0, 100.0])


def test_error_bars_start_at_zero_and_show_each_source():
    ours = [dict(model="original", epoch=1, test_acc=0.5), dict(model="full_preact", epoch=1, test_acc=0.6)]
    errors = {"paper": {"original": 6.61, "full_preact": 6.37}, "ours": ours}
    ax = plots.plot_error_bars(errors)
    widths = sorted(round(p.get_width(), 2) for p in ax.patches if p.get_width() > 0)
    assert widths == [6.37, 6.61, 40.0, 50.0]  # ours: 100 (1 - accuracy) at the last epoch
    assert ax.get_xlim()[0] == 0


def test_error_bars_average_each_seeds_last_epoch():
    """Three seeds' runs: the bar is the mean of each run's last-epoch error, not the last seed's."""
    rows = [
        dict(model="original", seed=s, epoch=e, test_acc=acc)
        for s, accs in enumerate([(0.1, 0.5), (0.1, 0.6), (0.1, 0.4)])
        for e, acc in enumerate(accs, 1)
    ]
    ax = plots.plot_error_bars({"ours": rows})
    assert [round(p.get_width(), 6) for p in ax.patches] == [50.0]  # (50 + 40 + 60) / 3, not 60


def test_save_figure_writes_png_and_svg(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = plots.save_figure(fig, "line", tmp_path / "figs")
    assert path == tmp_path / "figs" / "line.png" and path.read_bytes().startswith(b"\x89PNG")
    assert path.with_suffix(".svg").read_text().lstrip().startswith("<?xml")


def test_plateaus_draw_every_seed_unaveraged_with_a_dot_per_run_and_the_legend_outside():
    def run(model, seed, losses):
        records = [dict(epoch=i + 1, train_loss=v) for i, v in enumerate(losses)]
        return History(records=records, meta=dict(model=model, seed=seed))

    runs = [run("a", 0, [2.0, 1.0, 1.0]), run("a", 1, [2.0, 1.5, 1.2, 1.2]), run("b", 0, [2.2, 2.1])]
    ends = [
        dict(model="a", seed=0, epoch=3, plateau=1.0, reached=1.0),
        dict(model="a", seed=1, epoch=4, plateau=1.2, reached=1.0),
        dict(model="b", seed=0, epoch=2, plateau=2.15, reached=0.0),
    ]
    ax = plots.plot_plateaus(runs, ends, classes=10)
    drawn = lines(ax)
    curves = [line for line in drawn if len(line.get_xdata()) > 1 and line.get_linestyle() == "-"]
    assert [list(c.get_ydata()) for c in curves[:3]] == [[2.0, 1.0, 1.0], [2.0, 1.5, 1.2, 1.2], [2.2, 2.1]]
    dots = [line for line in drawn if line.get_marker() == "o"]
    assert [(d.get_xdata()[0], d.get_ydata()[0]) for d in dots] == [(3, 1.0), (4, 1.2), (2, 2.15)]
    assert dots[2].get_markerfacecolor() == "white"  # the run that met the cap first: a hollow dot
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a (2 seeds)", "b (1 seed)", "chance, ln 10"]
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # right of the axes
