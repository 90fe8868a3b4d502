import pytest
import torch

from resnet_edu.measure import identities as ident
from resnet_edu.nets.models import block_stack


def test_unrolled_sum_is_exact_for_preactivation_only():
    x = torch.randn(4, 8, 6, 6, dtype=torch.float64)
    pre = ident.unrolled_sum_errors(block_stack(5, placement="full_preact"), x)
    orig = ident.unrolled_sum_errors(block_stack(5, placement="original"), x)
    assert max(r["rel_error"] for r in pre) < 1e-12
    assert min(r["rel_error"] for r in orig[:-1]) > 1e-2  # l = L-1 is one ReLU away, also broken
    assert [r["l"] for r in pre] == list(range(5))


def test_gradient_decomposition_matches_autograd_for_preactivation():
    x = torch.randn(4, 8, 6, 6, dtype=torch.float64)
    rows = ident.gradient_decomposition(block_stack(4, placement="full_preact"), x)
    assert max(r["rel_error"] for r in rows) < 1e-12
    assert len({round(r["direct_norm"], 9) for r in rows}) == 1  # the same dE/dx_L reaches every block
    orig = ident.gradient_decomposition(block_stack(4, placement="original"), x)
    assert max(r["rel_error"] for r in orig) > 1e-2


def test_skip_scale_multiplies_gradient_by_lambda_to_the_depth():
    rows = ident.skip_scale_gradients(lambdas=(0.5, 1.5), depths=(1, 3, 6))
    for r in rows:
        assert r["grad_ratio"] == pytest.approx(r["lam"] ** r["depth"], rel=1e-12)
    small = ident.skip_scale_gradients(lambdas=(1.0,), depths=(8,), branch_gain=0.05)
    assert small[0]["grad_ratio"] != pytest.approx(1.0, rel=1e-9)  # the branches now add a little


def test_skip_scale_seeds_gives_one_row_per_seed_and_lambda_with_the_offset():
    from resnet_edu.measure.identities import skip_scale_gradients, skip_scale_seeds

    rows = skip_scale_seeds((0.5, 1.0), 4, branch_gain=0.0, seeds=(0, 1))
    assert [(r["seed"], r["lam"]) for r in rows] == [(0, 0.5), (0, 1.0), (1, 0.5), (1, 1.0)]
    assert all(abs(r["off"] - 1) < 1e-12 for r in rows)  # branches off: exactly lambda^L
    (with_branch,) = skip_scale_gradients((0.5,), (4,), branch_gain=0.3, seed=1)
    (seeded,) = [r for r in skip_scale_seeds((0.5,), 4, branch_gain=0.3, seeds=(1,))]
    assert seeded["off"] == with_branch["grad_ratio"] / 0.5**4 and seeded["off"] != 1.0
