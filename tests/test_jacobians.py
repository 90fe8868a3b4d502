"""Jacobian spectra of deep linear stacks (measure.jacobians) against what theory knows exactly:
orthogonal stacks, E ln chi^2_1, the Wishart log-determinant, and a prediction that must fail when
the measurement is off."""

import math

import pytest
import torch

from resnet_edu.course import convergence as figures
from resnet_edu.measure import jacobians


def test_an_orthogonal_stack_has_every_singular_value_one():
    jac = jacobians.linear_jacobian(12, 32, kind="orthogonal", seed=3)
    assert torch.allclose(torch.linalg.svdvals(jac), torch.ones(32, dtype=torch.float64), atol=1e-10)


def test_the_jacobian_is_the_product_of_the_layers_last_first():
    layers = jacobians.linear_layers(3, 5, kind="residual", seed=1)
    assert torch.allclose(
        jacobians.linear_jacobian(3, 5, kind="residual", seed=1), layers[2] @ layers[1] @ layers[0]
    )


def test_log_det_of_a_one_by_one_gaussian_is_e_ln_chi_square_one():
    # E ln(w^2), w ~ N(0, 1): psi(1/2) + ln 2 = -gamma - ln 2, about -1.2704
    assert jacobians.log_det_gaussian(1) == pytest.approx(-0.5772156649 - math.log(2), abs=1e-9)


def test_log_det_gaussian_matches_a_monte_carlo_mean():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(20_000, 6, 6, generator=gen, dtype=torch.float64) / math.sqrt(6)
    samples = torch.linalg.slogdet(w.transpose(1, 2) @ w).logabsdet
    se = float(samples.std()) / math.sqrt(len(samples))
    assert abs(float(samples.mean()) - jacobians.log_det_gaussian(6)) < 4 * se


def test_spectra_meet_their_predictions_and_the_check_fails_on_a_wrong_measurement():
    rows = jacobians.spectra((2, 8, 16), width=128, seeds=(0, 1))  # the lesson's width
    line, held = jacobians.prediction_check(rows)
    assert held and "in all 12 runs" in line
    plain = [r for r in rows if r["kind"] == "plain"]
    assert all(r["small"] > 0.1 for r in plain if r["depth"] >= 8)  # most directions squashed
    assert all(r["small"] == 0 for r in rows if r["kind"] == "residual" and r["depth"] >= 8)
    assert [r["predicted_mean_sq"] for r in rows if r["kind"] == "residual"][::2] == [
        1.5**2,
        (9 / 8) ** 8,
        (17 / 16) ** 16,
    ]
    off = [dict(r, gm_sq=r["gm_sq"] * math.exp(0.2 * r["depth"])) for r in rows]
    assert not jacobians.prediction_check(off)[1]
    assert len(figures.spectra(rows).axes) == 2


@pytest.mark.parametrize("bad", [dict(kind="sideways"), dict(depth=0), dict(width=0)])
def test_bad_stacks_are_refused(bad):
    with pytest.raises(ValueError):
        jacobians.linear_layers(**(dict(depth=2, width=4) | bad))
