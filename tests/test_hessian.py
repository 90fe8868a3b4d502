import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu.measure import hessian
from resnet_edu.measure.rescaling import rescale_before_bn
from resnet_edu.nets.models import cifar_resnet


def tiny() -> nn.Module:
    """resnet8 of width 2: three blocks."""
    torch.manual_seed(0)
    return cifar_resnet(8, width=2)


def batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def quadratic_problem(n: int = 200, d: int = 5):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g) * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    y = torch.randn(n, 1, generator=g)
    model = nn.Linear(d, 1, bias=False)
    hessian = 2 * x.T @ x / n  # of mean((w.x - y)^2)
    return model, x, y, hessian


def test_top_eigenvalue_and_trace_of_a_quadratic():
    model, x, y, h = quadratic_problem()
    top = hessian.hessian_top_eigenvalue(model, x, y, loss_fn=F.mse_loss, iters=500, tol=1e-9)
    assert top == pytest.approx(float(torch.linalg.eigvalsh(h).max()), rel=0.01)
    tr = hessian.hessian_trace(model, x, y, loss_fn=F.mse_loss, n_samples=2000)
    assert tr == pytest.approx(float(h.trace()), rel=0.01)
    rec = hessian.sharpness(model, x, y, loss_fn=F.mse_loss, n_samples=10, label="lin")
    assert rec["model"] == "lin" and rec["top_eigenvalue"] == pytest.approx(top, rel=0.01)


def test_both_ends_of_an_indefinite_hessian():
    """mean(s_i (w.x_i)^2) with signs s_i = +-1 has the Hessian 2 X^T diag(s) X / n: both signs."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, generator=g) * torch.tensor([1.0, 2.0, 3.0, 4.0])
    s = torch.where(torch.arange(60) % 3 == 0, -1.0, 1.0)
    model = nn.Linear(4, 1, bias=False)
    h = 2 * x.T @ (s[:, None] * x) / len(x)
    exact = torch.linalg.eigvalsh(h)
    assert exact.min() < 0 < exact.max()

    def signed(out, target):
        return (target * out.squeeze(1) ** 2).mean()

    lo, hi = hessian.hessian_extreme_eigenvalues(model, x, s, loss_fn=signed, steps=4)  # 4 = dimension
    assert lo == pytest.approx(float(exact.min()), rel=1e-6)
    assert hi == pytest.approx(float(exact.max()), rel=1e-6)
    rec = hessian.sharpness(model, x, s, loss_fn=signed, iters=2000, n_samples=5, lanczos=10)
    assert rec["ratio"] == pytest.approx(abs(float(exact.min() / exact.max())), rel=1e-6)
    top = float(exact.abs().max())  # power iteration finds the largest MAGNITUDE
    assert abs(rec["top_eigenvalue"]) == pytest.approx(top, rel=1e-3)


def test_few_lanczos_steps_stay_inside_the_spectrum():
    """Ritz values of a partial run lie inside the spectrum: min >= lambda_min, max <= lambda_max."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(300, 40, generator=g) * torch.linspace(0.5, 3.0, 40)
    model = nn.Linear(40, 1, bias=False)
    exact = torch.linalg.eigvalsh(2 * x.T @ x / len(x))
    y = torch.zeros(300, 1)
    lo, hi = hessian.hessian_extreme_eigenvalues(model, x, y, loss_fn=F.mse_loss, steps=6)
    assert float(exact.min()) - 1e-6 <= lo < hi <= float(exact.max()) + 1e-6
    assert hi == pytest.approx(float(exact.max()), rel=0.15)  # the top converges first
    lo, hi = hessian.hessian_extreme_eigenvalues(model, x, y, loss_fn=F.mse_loss, steps=40)
    assert (lo, hi) == (
        pytest.approx(float(exact.min()), rel=1e-5),
        pytest.approx(float(exact.max()), rel=1e-5),
    )


def test_trace_standard_error_shrinks_like_one_over_root_n():
    model, x, y, _ = quadratic_problem()
    few = hessian.sharpness(model, x, y, loss_fn=F.mse_loss, iters=2, n_samples=50)
    many = hessian.sharpness(model, x, y, loss_fn=F.mse_loss, iters=2, n_samples=800)
    assert 0 < many["trace_se"] < few["trace_se"]
    assert few["trace_se"] / many["trace_se"] == pytest.approx(4.0, rel=0.4)  # sqrt(800 / 50)


def test_sharpness_runs_on_a_bn_net_and_restores_it():
    model, (x, y) = tiny(), batch()
    before = state(model)
    rec = hessian.sharpness(model, x, y, iters=5, n_samples=2, lanczos=5)
    assert all(math.isfinite(rec[k]) for k in ("top_eigenvalue", "trace", "min_eigenvalue", "ratio"))
    assert rec["trace_se"] >= 0 and rec["min_eigenvalue"] <= rec["max_eigenvalue"]
    after = state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training


def test_sharpness_matches_the_separate_estimates_and_the_plain_loss():
    model, (x, y) = tiny(), batch()
    rec = hessian.sharpness(model, x, y, iters=5, n_samples=3, seed=2)
    assert rec["top_eigenvalue"] == pytest.approx(
        hessian.hessian_top_eigenvalue(model, x, y, iters=5, seed=2)
    )
    assert rec["trace"] == pytest.approx(hessian.hessian_trace(model, x, y, n_samples=3, seed=2))
    with torch.no_grad():
        model.eval()
        assert rec["loss"] == pytest.approx(float(F.cross_entropy(model(x), y)), rel=1e-5)


def test_a_rescaled_twin_computes_the_same_loss_with_another_hessian():
    """Dinh et al. 2017: conv1 x 10 before BN is the same function, with the Hessian D^-1 H D^-1."""
    model, (x, y) = tiny(), batch()
    twin = rescale_before_bn(model, 10.0, block=1)
    a = hessian.sharpness(model, x, y, iters=3, n_samples=20, seed=0)
    b = hessian.sharpness(twin, x, y, iters=3, n_samples=20, seed=0)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert a["trace"] != pytest.approx(b["trace"], rel=1e-3)
