import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import assert_same, batch, no_hooks, state, tiny
from resnet_edu.measure import probes
from resnet_edu.measure.gradients import activation_grad_norms
from resnet_edu.nets.models import residual_blocks


@pytest.mark.parametrize("name", ["resnet8", "plain8"])
def test_weight_grad_norms_match_autograd_and_clip(name):
    model, (x, y) = tiny(name), batch()
    before = state(model)
    rows = probes.weight_grad_norms(model, x, y, label=name)
    assert_same(before, state(model))  # BN running stats restored
    assert all(p.grad is None for p in model.parameters())
    model.train()
    F.cross_entropy(model(x), y).backward()
    named = dict(model.named_parameters())
    for r in rows:
        assert r["grad_norm"] == pytest.approx(float(named[r["name"]].grad.norm()), rel=1e-5, abs=1e-12)
    total = sum(r["grad_norm"] ** 2 for r in rows) ** 0.5
    assert total == pytest.approx(float(nn.utils.clip_grad_norm_(model.parameters(), 1e9)), rel=1e-5)
    assert {r["model"] for r in rows} == {name}


def test_hooks_removed_even_after_an_error():
    model, (x, y) = tiny("resnet8"), batch()

    def broken_loss(out, target):
        raise RuntimeError("boom")

    for probe in (activation_grad_norms, probes.weight_grad_norms):
        with pytest.raises(RuntimeError, match="boom"):
            probe(model, x, y, loss_fn=broken_loss)
        assert no_hooks(model)
    with pytest.raises(RuntimeError):
        probes.forward_stats(model, torch.randn(2, 5, 16, 16))  # wrong channel count
    assert no_hooks(model) and model.training


def test_forward_stats_rows_and_plain_skip():
    x, _ = batch()
    res, plain = tiny("resnet8"), tiny("plain8")
    rows = probes.forward_stats(res, x)
    assert len(rows) == len(residual_blocks(res)) == 3 and no_hooks(res)
    assert all(r["var_x"] > 0 and r["var_skip"] > 0 for r in rows)
    assert all(r["var_skip"] == 0 for r in probes.forward_stats(plain, x))


def test_gradient_shattering_lag_zero_is_one():
    model = tiny("resnet8")
    rows = probes.gradient_shattering(model, batch(1, seed=5)[0][0], n_points=16, max_lag=4)
    assert [r["lag"] for r in rows] == list(range(5))
    assert rows[0]["autocorr"] == pytest.approx(1.0) and rows[0]["cosine"] == pytest.approx(1.0)
    assert all(-1 - 1e-6 <= r["cosine"] <= 1 + 1e-6 for r in rows) and no_hooks(model)
