"""Trends through depth: a known line and a known doubling are recovered exactly."""

import pytest
import torch

from resnet_edu.measure.trends import growth_rates, slope


def test_slope_is_the_least_squares_slope():
    x = torch.arange(5, dtype=torch.float64)
    assert slope(x, 3 * x - 2) == pytest.approx(3.0)
    assert slope(x, torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)) == pytest.approx(0.0)


def test_growth_rates_recovers_a_known_line_and_a_doubling_per_model_and_seed():
    rows = [dict(model="lin", seed=s, block=b, v=3.0 * (s + 1) + 2.0 * b) for s in (0, 1) for b in range(10)]
    rows += [dict(model="exp", seed=0, block=b, v=0.5 * 2.0**b) for b in range(10)]
    lin0, lin1, exp = growth_rates(rows, "v")
    assert [(r["model"], r["seed"]) for r in (lin0, lin1, exp)] == [("lin", 0), ("lin", 1), ("exp", 0)]
    assert lin0["linear_slope"] == pytest.approx(2.0) and lin0["intercept"] == pytest.approx(3.0)
    assert lin1["intercept"] == pytest.approx(6.0) and (lin0["first"], lin0["last"]) == (3.0, 21.0)
    assert exp["ratio_per_block"] == pytest.approx(2.0)


def test_rows_without_a_seed_and_non_positive_values():
    rows = [dict(model="m", block=b, v=float(b)) for b in range(6)]  # v = 0 at block 0 is left out
    (row,) = growth_rates(rows, "v")
    assert "seed" not in row and row["first"] == 1.0 and row["linear_slope"] == pytest.approx(1.0)
