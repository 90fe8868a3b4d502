import pytest
import torch

from resnet_edu.measure import depth_probe as depth_probe_mod
from resnet_edu.measure.depth_probe import depth_probe
from resnet_edu.nets.models import block_stack


def test_switched_off_branches_leave_signal_and_gradient_unchanged():
    rows = depth_probe(
        ("full_preact", "relu_only_preact"), (1, 4), seeds=(0, 1), batch=2, size=4, skipinit=True
    )
    assert len(rows) == 2 * 2 * 2
    for r in rows:  # SkipInit's zero gain: x_L = x_0 exactly, so both ratios are exactly 1
        assert r["signal"] == pytest.approx(1.0, rel=1e-14)
        assert r["grad_ratio"] == pytest.approx(1.0, rel=1e-14)


def test_each_depth_is_the_prefix_of_one_stack_against_autograd():
    [row] = depth_probe(("original",), (3,), seeds=(5,), channels=4, size=4, batch=3)
    assert (row["placement"], row["seed"], row["depth"]) == ("original", 5, 3)
    net = block_stack(3, 4, placement="original", seed=5)  # the same three blocks, rebuilt
    gen = torch.Generator().manual_seed(5)
    x0 = torch.randn(3, 4, 4, 4, generator=gen, dtype=torch.float64)
    r = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    x0.requires_grad_(True)
    out = net(x0)
    (g0,) = torch.autograd.grad((r * out).sum(), x0)
    assert row["signal"] == pytest.approx(float(out.detach().norm() / x0.detach().norm()), rel=1e-12)
    assert row["grad_ratio"] == pytest.approx(float(g0.norm() / r.norm()), rel=1e-12)


def test_the_probe_is_deterministic_and_checks_its_depths():
    kw = dict(depths=(1, 2), seeds=(0,), channels=4, size=4, batch=2)
    assert depth_probe(("bn_after_addition",), **kw) == depth_probe(("bn_after_addition",), **kw)
    with pytest.raises(ValueError, match="positive"):
        depth_probe(depths=(0, 2))


def test_weight_layer_inputs_sees_raw_and_normalised_inputs():
    torch.manual_seed(0)
    x = 3.0 * torch.randn(16, 2, 5, 5)
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), torch.nn.BatchNorm2d(2), torch.nn.Conv2d(2, 2, 1))
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rows = depth_probe_mod.weight_layer_inputs(net, x)
    assert [r["name"] for r in rows] == ["0", "2"]
    assert rows[0]["rms"] == pytest.approx(float(x.pow(2).mean().sqrt()), rel=1e-6)  # the raw input
    assert rows[1]["rms"] == pytest.approx(1.0, abs=1e-3)  # a BN output in train mode: mean 0, variance 1
    assert not net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
