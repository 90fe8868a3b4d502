import math

import pytest
import torch

from resnet_edu import experiments as ex


def test_growth_rates_per_seed_with_intercept_and_branch_exponent():
    rows = [dict(model="bn", seed=s, block=b, var_x=(b + 1.0) * (s + 1), var_branch=1.0 * (s + 1))
            for s in (0, 1) for b in range(8)]  # fmt: skip
    rows += [dict(model="skip", seed=0, block=b, var_x=2.0, var_branch=0.0) for b in range(8)]
    out = ex.growth_rates(rows)
    assert [(r["model"], r["seed"]) for r in out] == [("bn", 0), ("bn", 1), ("skip", 0)]
    assert out[0]["linear_slope"] == pytest.approx(1.0) and out[0]["intercept"] == pytest.approx(1.0)
    assert out[1]["linear_slope"] == pytest.approx(2.0) and out[1]["intercept"] == pytest.approx(2.0)
    # share sqrt(var_branch / var_x) = (l + 1)^(-1/2): De & Smith's 1/sqrt(l)
    assert out[0]["branch_exponent"] == pytest.approx(-0.5) and out[1]["branch_exponent"] == pytest.approx(
        -0.5
    )
    assert out[2]["branch_exponent"] is None and out[2]["linear_slope"] == 0.0


def test_variance_through_depth_over_seeds():
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    rows = ex.variance_through_depth(x, depth=4, width=4, seeds=(0, 1))
    assert len(rows) == 2 * 3 * 4 and {r["seed"] for r in rows} == {0, 1}
    bn = {s: [r["var_x"] for r in rows if r["model"] == "BatchNorm" and r["seed"] == s] for s in (0, 1)}
    assert bn[0] != bn[1]  # another seed, other weights
    single = ex.variance_through_depth(x, depth=4, width=4, seed=1)
    assert [r["var_x"] for r in single if r["model"] == "BatchNorm"] == bn[1]
    rates = [r for r in ex.growth_rates(rows) if r["model"] == "BatchNorm"]
    assert all(-1 < r["branch_exponent"] < 0 and math.isfinite(r["intercept"]) for r in rates)
