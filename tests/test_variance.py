"""Var(x_l) through depth: BN linear, no normalisation exponential, SkipInit constant; De & Smith's -1/2."""

import math

import pytest
import torch

from resnet_edu.measure.variance import VARIANTS, variance_growth, variance_through_depth


def test_bn_grows_linearly_skipinit_stays_and_no_normalisation_doubles():
    x = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    rows = variance_through_depth(x, depth=12, width=8)
    var = lambda label: [r["var_x"] for r in rows if r["model"] == label]
    skip, bn = var("no normalisation + SkipInit"), var("BatchNorm")
    assert skip == pytest.approx([skip[0]] * 12)  # F starts at exactly 0: x_{l+1} = relu(x_l) = x_l
    rates = {r["model"]: r for r in variance_growth(rows)}
    assert rates["no normalisation"]["ratio_per_block"] > 1.5  # ~2 per block
    # BN: each block adds a unit-variance branch, halved on average by the ReLU after the addition
    assert all(0.1 < b - a < 1.0 for a, b in zip(bn, bn[1:]))
    assert rates["no normalisation + SkipInit"]["branch_exponent"] is None  # the branch is exactly zero


def test_every_variant_and_seed_and_the_seed_sets_the_weights():
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    rows = variance_through_depth(x, depth=4, width=4, seeds=(0, 1))
    assert len(rows) == len(VARIANTS) * 2 * 4 and list(dict.fromkeys(r["model"] for r in rows)) == list(
        VARIANTS
    )
    bn = {s: [r["var_x"] for r in rows if r["model"] == "BatchNorm" and r["seed"] == s] for s in (0, 1)}
    assert bn[0] != bn[1]
    single = variance_through_depth(x, depth=4, width=4, seeds=(1,))
    assert [r["var_x"] for r in single if r["model"] == "BatchNorm"] == bn[1]
    rates = [r for r in variance_growth(rows) if r["model"] == "BatchNorm"]
    assert all(-1 < r["branch_exponent"] < 0 and math.isfinite(r["intercept"]) for r in rates)


def test_variance_growth_recovers_de_and_smiths_exponent_on_known_rows():
    rows = [
        dict(model="bn", seed=s, block=b, var_x=(b + 1.0) * (s + 1), var_branch=1.0 * (s + 1))
        for s in (0, 1)
        for b in range(8)
    ]
    out = variance_growth(rows)
    assert out[0]["linear_slope"] == pytest.approx(1.0) and out[1]["linear_slope"] == pytest.approx(2.0)
    # share sqrt(var_branch / var_x) = (l + 1)^(-1/2): De & Smith's 1/sqrt(l)
    assert [r["branch_exponent"] for r in out] == pytest.approx([-0.5, -0.5])
