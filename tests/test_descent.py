"""One gradient step against its Taylor prediction, on a quadratic where the answer is exact."""

import copy

import pytest
import torch

from helpers import quadratic
from resnet_edu.measure import descent
from resnet_edu.nets.models import cifar_resnet


def test_on_a_quadratic_the_second_order_formula_is_the_exact_decrease():
    model, x, y, loss_fn = quadratic()
    w = model.weight.detach().clone().T  # (4, 1)
    g = x.T @ (x @ w - y)  # the gradient in closed form
    g_sq, g_h_g = float((g * g).sum()), float(((x @ g) ** 2).sum())  # ||g||^2 and g^T X^T X g
    lrs = [1e-3, 0.01, 0.05, 0.1, 0.3]
    rows = descent.one_step_descent(model, x, y, lrs, loss_fn=loss_fn, label="quadratic")
    for r, lr in zip(rows, lrs):
        exact = lr * g_sq - lr**2 / 2 * g_h_g
        assert r["decrease"] == pytest.approx(exact, rel=1e-9, abs=1e-12)
        assert r["second_order"] == pytest.approx(exact, rel=1e-9, abs=1e-12)
        assert r["first_order"] == pytest.approx(lr * g_sq, rel=1e-12)
    assert rows[0]["curvature"] == pytest.approx(g_h_g / g_sq, rel=1e-12)
    assert torch.equal(model.weight.detach().T, w)  # the model is left where it was


def test_summary_finds_the_quadratic_models_best_step_and_where_first_order_fails():
    model, x, y, loss_fn = quadratic(1)
    kappa = descent.one_step_descent(model, x, y, [1e-3], loss_fn=loss_fn)[0]["curvature"]
    lrs = [f / kappa for f in (0.01, 0.05, 0.1, 0.3, 0.5, 1.0, 1.5, 2.5)]
    rows = [dict(r, seed=0) for r in descent.one_step_descent(model, x, y, lrs, loss_fn=loss_fn, label="q")]
    [s] = descent.descent_summary(rows, tolerance=0.1)
    assert s["predicted_best_lr"] == pytest.approx(1 / kappa)
    assert s["best_lr"] == pytest.approx(1 / kappa)  # exact for a quadratic: the grid holds 1 / kappa
    assert s["best_decrease"] == pytest.approx(s["predicted_best_decrease"], rel=1e-9)
    # ratio = 1 - lr kappa / 2: within 10% up to lr = 0.2 / kappa, so 0.1 / kappa is the last grid point
    assert s["first_order_holds_to"] == pytest.approx(0.1 / kappa)
    assert rows[-1]["decrease"] < 0  # beyond 2 / kappa the step raises the loss


def test_on_a_network_the_first_order_prediction_holds_for_small_steps_and_buffers_are_restored():
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4).double()
    before = copy.deepcopy(model.state_dict())
    x, y = torch.randn(16, 3, 8, 8, dtype=torch.float64), torch.arange(16) % 10
    rows = descent.one_step_descent(model, x, y, [1e-5, 1e-4, 10.0])
    assert rows[0]["ratio"] == pytest.approx(1, abs=1e-3)
    assert abs(rows[1]["ratio"] - 1) < abs(rows[2]["ratio"] - 1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_at_init_builds_each_model_per_seed_on_that_seeds_batch():
    from resnet_edu.data import synthetic_cifar
    from resnet_edu.data.tensors import random_batch

    data = synthetic_cifar(2)
    rows = descent.at_init({"r8": lambda: cifar_resnet(8, width=4)}, data, [0.01], [0, 1], batch=8)
    assert [(r["model"], r["seed"]) for r in rows] == [("r8", 0), ("r8", 1)]
    torch.manual_seed(1)
    x, y = random_batch(data, 8, seed=1)
    [want] = descent.one_step_descent(cifar_resnet(8, width=4), x, y, [0.01])
    assert rows[1]["decrease"] == pytest.approx(want["decrease"]) and rows[1]["grad_sq"] == pytest.approx(
        want["grad_sq"]
    )


def test_with_bn_in_training_mode_the_curvature_is_a_finite_difference_of_the_gradient_along_g():
    # a smooth net (tanh) with BN: the Hessian-vector product must use the step's batch and BN mode
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.Tanh(), torch.nn.Linear(8, 3)
    ).double()
    x, y = torch.randn(16, 6, dtype=torch.float64), torch.arange(16) % 3
    [row] = descent.one_step_descent(model, x, y, [1e-3])
    params = list(model.parameters())

    def grad_at(t, g=None):
        with torch.no_grad():
            saved = [p.clone() for p in params]
            for p, d in zip(params, g or [torch.zeros_like(p) for p in params]):
                p.add_(t * d)
        out = torch.autograd.grad(torch.nn.functional.cross_entropy(model.train()(x), y), params)
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
        return out

    g = grad_at(0.0)
    eps = 1e-5
    hg = [(a - b) / (2 * eps) for a, b in zip(grad_at(eps, g), grad_at(-eps, g))]
    g_sq = sum(float((d * d).sum()) for d in g)
    assert row["grad_sq"] == pytest.approx(g_sq, rel=1e-9)
    assert row["curvature"] == pytest.approx(
        sum(float((d * h).sum()) for d, h in zip(g, hg)) / g_sq, rel=1e-5
    )
    kappa_eval = descent.one_step_descent(model, x, y, [1e-3], train=False)[0]["curvature"]  # running stats
    assert abs(kappa_eval - row["curvature"]) > 1e-3 * abs(row["curvature"])


def test_quadratic_check_counts_seeds_whose_best_step_is_near_one_over_kappa():
    rows = [
        dict(model="a", seed=0, curvature=2.0, best_lr=0.3),  # 1/kappa = 0.5: within 3x
        dict(model="a", seed=1, curvature=2.0, best_lr=0.1),  # 5x below: outside
        dict(model="b", seed=0, curvature=-1.0, best_lr=0.1),  # no best step at all
    ]
    line = descent.quadratic_check(rows, factor=3.0)
    assert "a in 1 of 2 seeds (κ ≤ 0 in 0)" in line and "b in 0 of 1 seeds (κ ≤ 0 in 1)" in line


def test_quadratic_check_does_not_count_a_best_step_at_the_grid_s_edge():
    rows = [
        dict(model="a", seed=0, curvature=0.5, best_lr=1.0),  # 1/kappa = 2 is within 3x, but 1.0 is the edge
        dict(model="a", seed=1, curvature=2.0, best_lr=0.3),  # within 3x, inside the grid
    ]
    line = descent.quadratic_check(rows, factor=3.0, largest=1.0)
    assert "a in 1 of 2 seeds (κ ≤ 0 in 0; best at the largest step, not counted, in 1)" in line
    assert "a in 2 of 2 seeds" in descent.quadratic_check(rows, factor=3.0)  # without the edge: both count
