"""Gradient flow against convergence (measure.convergence) and its figures (course.convergence), on
problems whose answers are known in closed form: a quadratic, a scalar linear model, a stack of zeroed
branches whose gradient ratio is prod(lambda)."""

import math

import matplotlib
import pytest
import torch
from torch import nn

from helpers import half_squared_error, quadratic
from resnet_edu.course import convergence as figures
from resnet_edu.measure import convergence
from resnet_edu.nets.models import MLP

matplotlib.use("Agg")


def test_probe_step_on_a_quadratic_gives_the_exact_decrease_and_curvature():
    model, x, y, loss_fn = quadratic()
    w = model.weight.detach().clone().T
    h = x.T @ x  # the Hessian of 1/2 ||X w - y||^2
    g = x.T @ (x @ w - y)
    lr = 0.02
    row = convergence.probe_step(model, x, y, lr, loss_fn=loss_fn)
    g_sq = float((g * g).sum())
    assert row["grad_sq"] == pytest.approx(g_sq, rel=1e-10)
    assert row["decrease"] == pytest.approx(lr * g_sq - lr**2 / 2 * float(g.T @ h @ g), rel=1e-9)
    assert row["ratio"] == pytest.approx(row["decrease"] / (lr * g_sq), rel=1e-12)
    # g' - g = -lr H g, so the effective smoothness is ||H g|| / ||g||, whatever the step size
    assert row["smoothness"] == pytest.approx(float((h @ g).norm() / g.norm()), rel=1e-9)
    assert torch.equal(model.weight.detach().T, w)  # the model is left where it was


def test_train_to_loss_takes_the_steps_gradient_descent_takes_on_a_scalar_model():
    # L(w) = 1/2 (w - 3)^2 from w = 0: w_t - 3 = -3 (1 - lr)^t, so L_t = 4.5 (1 - lr)^(2t)
    model = nn.Linear(1, 1, bias=False).double()
    nn.init.zeros_(model.weight)
    x, y = torch.ones(1, 1, dtype=torch.float64), torch.full((1, 1), 3.0, dtype=torch.float64)
    lr, target = 0.1, 1e-3
    expected = math.ceil(math.log(target / 4.5) / (2 * math.log(1 - lr)))
    steps, loss, probes = convergence.train_to_loss(
        model,
        x,
        y,
        target=target,
        lr=lr,
        momentum=0.0,
        max_steps=500,
        probe_every=10,
        loss_fn=half_squared_error,
    )
    assert steps == expected
    assert loss <= target < 4.5 * (1 - lr) ** (2 * (expected - 1))
    assert [p["step"] for p in probes] == list(range(0, expected + 1, 10))
    nn.init.zeros_(model.weight)
    assert (
        convergence.train_to_loss(
            model, x, y, target=target, lr=lr, momentum=0.0, max_steps=5, loss_fn=half_squared_error
        )[0]
        is None
    )


@pytest.mark.parametrize("bad", [dict(target=0), dict(lr=-1), dict(max_steps=0), dict(momentum=1.0)])
def test_train_to_loss_rejects_settings_that_cannot_train(bad):
    model, x, y, loss_fn = quadratic()
    kw = dict(target=0.1, lr=0.01, max_steps=10, momentum=0.9) | bad
    with pytest.raises(ValueError):
        convergence.train_to_loss(model, x, y, loss_fn=loss_fn, **kw)


def test_gradient_ratio_of_zeroed_branches_is_the_product_of_the_shortcut_scales():
    net = MLP(depth=4, width=6, in_features=5, shortcut=True, skip_scale=0.5)
    for block in net.blocks:  # F(x) = ReLU(0 x + 0) = 0: each block multiplies by lambda
        nn.init.zeros_(block.branch.linear.weight)
        nn.init.zeros_(block.branch.linear.bias)
    x, y = torch.randn(16, 5), torch.randint(0, 10, (16,))
    assert convergence.gradient_ratio(net, x, y) == pytest.approx(0.5**4, rel=1e-5)


def _runs(exponent=0.7):
    rows = []
    for seed in range(3):
        for i, ratio in enumerate((1.5, 2.0, 3.0, 4.0, 6.0, 12.0, 50.0, 200.0, 900.0)):
            steps = 10 * ratio**exponent if ratio >= 5 else 40 - 5 * (i % 3)
            rows.append(
                dict(model=f"m{i}", seed=seed, grad_ratio=ratio, steps=None if ratio == 900 else steps)
            )
    return rows


def test_power_law_recovers_a_known_exponent_and_leaves_unreached_runs_out():
    fits = convergence.power_law(_runs(0.7), above=5.0)
    assert [f["seed"] for f in fits] == [0, 1, 2]
    for f in fits:
        assert f["exponent"] == pytest.approx(0.7, abs=1e-9)
        assert (f["n_fit"], f["unreached"], f["n_below"]) == (4, 1, 4)
        assert f["rank_below"] < 0  # below the threshold the made-up steps fall as the ratio grows


def test_spearman_against_hand_computed_values():
    assert convergence.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert convergence.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (0, 1.5, 1.5, 3) and (0, 1, 2, 3): 4.5 / sqrt(4.5 * 5)
    assert convergence.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert math.isnan(convergence.spearman([1, 2], [1, 2]))
    with pytest.raises(ValueError):
        convergence.spearman([1, 2, 3], [1, 2])


def test_trajectory_summary_takes_medians_and_counts_the_probes_that_held():
    probes = [
        dict(model="a", seed=0, ratio=r, smoothness=s) for r, s in ((1.0, 2.0), (0.95, 3.0), (0.2, 50.0))
    ]
    (row,) = convergence.trajectory_summary(probes, tolerance=0.1)
    assert (row["probes"], row["ratio"], row["smoothness"]) == (3, 0.95, 3.0)
    assert row["held"] == pytest.approx(2 / 3)


def test_dose_response_is_deterministic_and_tags_depth_and_shortcut_scale():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 12, generator=gen), torch.randint(0, 10, (64,), generator=gen)
    nets = {
        f"{d}/{s}": (
            lambda d=d, s=s: MLP(
                depth=d, width=16, in_features=12, norm=True, shortcut=s > 0, skip_scale=s, head_norm=True
            )
        )
        for d in (2, 6)
        for s in (0.0, 1.0)
    }
    kw = dict(seeds=(0, 1), target=1.5, lr=0.05, max_steps=200, probe_every=5, sharpness_iters=5)
    runs, probes = convergence.dose_response(nets, x, y, **kw)
    again, _ = convergence.dose_response(nets, x, y, **kw)
    assert [r["steps"] for r in runs] == [r["steps"] for r in again]
    assert {(r["depth"], r["skip_scale"]) for r in runs} == {(2, 0.0), (2, 1.0), (6, 0.0), (6, 1.0)}
    assert all(r["reached"] and r["loss"] <= 1.5 and r["top_eigenvalue"] > 0 for r in runs)
    assert {p["model"] for p in probes} == set(nets) and all(p["step"] % 5 == 0 for p in probes)
    fig = figures.dose_response(runs, convergence.power_law(runs, above=1.0), above=1.0, max_steps=200)
    (left,) = fig.axes
    assert left.get_xscale() == left.get_yscale() == "log"
    fig = figures.sharpness(runs, edge=convergence.stability_edge(0.05))
    labels = [t.get_text() for t in fig.axes[0].get_legend().texts]
    assert fig.axes[0].get_yscale() == "log" and labels[-1].endswith("= 76: stability edge")
    fig = figures.trajectory(probes)
    assert len(fig.axes) == 3 and fig.axes[2].get_yscale() == "log"


def test_trajectory_summary_can_keep_only_the_steps_every_model_of_a_seed_was_probed_at():
    rows = [dict(model="short", seed=0, step=t, ratio=1.0, smoothness=1.0) for t in (0, 10)]
    rows += [
        dict(model="long", seed=0, step=t, ratio=r, smoothness=1.0)
        for t, r in ((0, 0.9), (10, 0.8), (20, 0.1))
    ]
    every = {r["model"]: r for r in convergence.trajectory_summary(rows)}
    common = {r["model"]: r for r in convergence.trajectory_summary(rows, common=True)}
    assert (every["long"]["probes"], every["long"]["ratio"]) == (3, 0.8)
    assert (common["long"]["probes"], common["long"]["ratio"]) == (2, pytest.approx(0.85))
    assert common["short"]["probes"] == 2


def test_the_stability_edge_of_heavy_ball_descent_on_a_quadratic():
    # x_{t+1} = x_t - lr h x_t + m (x_t - x_{t-1}): bounded just below (2 + 2m) / lr, growing just above
    lr, m = 0.05, 0.9
    edge = convergence.stability_edge(lr, m)
    assert edge == pytest.approx(76.0) and convergence.stability_edge(lr, 0.0) == pytest.approx(40.0)
    for h, bounded in ((0.99 * edge, True), (1.01 * edge, False)):
        prev = x = 1.0
        for _ in range(2000):
            x, prev = x - lr * h * x + m * (x - prev), x
        assert (abs(x) < 1.0) == bounded


def sweep_rows():
    """Made-up runs of two depths, three shortcut scales and two seeds: the top eigenvalue and steps."""
    top = {(4, 0.0): (50, 60), (4, 0.5): (30, 70), (4, 1.0): (10, 12), (8, 0.0): (90, 80), (8, 0.5): (95, 99)}
    top[(8, 1.0)] = (9, 11)
    steps = {0.0: 40, 0.5: 20, 1.0: 30}
    return [
        dict(
            model=f"d{d} l{s}",
            seed=k,
            depth=d,
            skip_scale=s,
            reached=True,
            steps=steps[s],
            top_eigenvalue=v[k],
        )
        for (d, s), v in top.items()
        for k in (0, 1)
    ]


def test_flatter_counts_depth_and_seed_pairs_where_a_scale_is_flatter_than_another():
    runs = sweep_rows()
    assert figures.flatter(runs, 1.0, 0.0) == (4, 4)
    assert figures.flatter(runs, 0.5, 0.0) == (1, 4)  # only depth 4, seed 0: 30 < 50


def test_by_depth_names_the_fastest_and_flattest_scale_and_those_above_the_edge():
    table = figures.by_depth(sweep_rows(), edge=75.0)
    assert list(table.index) == [4, 8]
    assert list(table.loc[8]) == ["0.5", "1", "0, 0.5"]
    assert list(table.loc[4]) == ["0.5", "1", "none"]


def test_fit_extent_names_the_runs_a_power_law_rests_on():
    runs = [
        dict(seed=0, depth=d, skip_scale=s, grad_ratio=r, steps=t)
        for d, s, r, t in ((8, 1.0, 2.0, 30), (8, 0.0, 3.0, 20), (16, 0.0, 9.0, 60), (32, 0.5, 20.0, 90))
    ] + [dict(seed=0, depth=4, skip_scale=0.8, grad_ratio=1.5, steps=40)]
    fits = convergence.power_law(runs, above=5.0)
    line = figures.fit_extent(runs, fits, above=5.0)
    assert line.startswith("fitted on 2-2 runs per seed, of depth 16-32 and λ in {0, 0.5}; ")
    assert line.endswith("below ρ = 5 the rank correlation of ρ and steps is -1.00 ± 0.00 over 3-3 runs")
