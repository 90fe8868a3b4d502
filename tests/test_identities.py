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
