import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from resnet_edu import plots  # noqa: E402
from resnet_edu.landscape import Surface  # noqa: E402

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


def test_set_style_and_gradient_norms(tmp_path):
    plots.set_style()
    rows = [
        {"model": m, "block": b, "grad_norm": s**b}
        for m, s in (("plain", 0.5), ("resnet", 1.0))
        for b in range(5)
    ]
    ax = plots.plot_gradient_norms(rows)
    assert ax.get_yscale() == "log" and len(ax.get_lines()) >= 2
    written(ax.figure, "grad", tmp_path)


def test_training_curves_accept_history_list_and_dict(tmp_path):
    rows = [
        dict(
            epoch=e,
            train_loss=1 / e,
            train_acc=1 - 1 / (e + 1),
            test_loss=1.2 / e,
            test_acc=None if e == 2 else 0.5,
        )
        for e in range(1, 4)
    ]

    class History:  # stands in for records.History
        records = rows

    ax = plots.plot_training_curves(rows)
    assert len(ax.get_lines()) == 2
    ax = plots.plot_training_curves({"a": History(), "b": rows}, metric="acc")
    assert len(ax.get_lines()) == 4
    written(ax.figure, "curves", tmp_path)


def test_landscape_plots(tmp_path):
    path = PLANE.save(tmp_path / "plane")
    fig, axes = plt.subplots(1, 2)
    plots.plot_landscape_contour(PLANE, ax=axes[0], log=True, clip=2.5)
    plots.plot_landscape_slices(path, ax=axes[1], at=0.0)
    assert len(axes[1].get_lines()) == 2
    written(fig, "contour", tmp_path)
    written(plots.plot_landscape_3d(PLANE).figure, "surface3d", tmp_path)
    written(plots.plot_landscape_slices(LINE).figure, "line", tmp_path)
    with pytest.raises(ValueError, match="1-D"):
        plots.plot_landscape_contour(LINE)


def test_lesion_shattering_and_eigenvalue_plots(tmp_path):
    lesion = [
        {"model": m, "block": b, "accuracy": a}
        for m, a in (("plain", 0.1), ("resnet", 0.8))
        for b in (-1, 0, 1)
    ]
    written(plots.plot_lesion(lesion).figure, "lesion", tmp_path)
    shatter = [
        {"model": m, "lag": k, "autocorr": r**k}
        for m, r in (("plain", 0.2), ("resnet", 0.9))
        for k in range(4)
    ]
    written(plots.plot_shattering(shatter).figure, "shatter", tmp_path)
    eig = [{"model": "plain", "top_eigenvalue": 40.0}, {"model": "resnet", "top_eigenvalue": 4.0}]
    written(plots.plot_eigenvalues(eig, log=True).figure, "eig", tmp_path)


def test_training_curves_have_whole_epoch_ticks():
    import matplotlib

    matplotlib.use("Agg")
    from resnet_edu.plots import plot_training_curves

    rows = [{"epoch": e, "train_loss": 2.0 / e, "test_loss": 2.1 / e} for e in (1, 2, 3)]
    ax = plot_training_curves(rows)
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_error_bars_start_at_zero_and_show_each_source():
    ours = [dict(model="original", epoch=1, test_acc=0.5), dict(model="full_preact", epoch=1, test_acc=0.6)]
    errors = {"paper": {"original": 6.61, "full_preact": 6.37}, "ours": ours}
    ax = plots.plot_error_bars(errors)
    widths = sorted(round(p.get_width(), 2) for p in ax.patches if p.get_width() > 0)
    assert widths == [6.37, 6.61, 40.0, 50.0]  # ours: 100 (1 - accuracy) at the last epoch
    assert ax.get_xlim()[0] == 0
