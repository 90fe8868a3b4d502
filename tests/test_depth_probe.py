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


def test_variance_law_predicts_linear_growth_and_flags_what_is_not_linear():
    rows = [  # placement "lin": ||x_L||^2 = 1 + 0.5 L exactly; "geo": ||x_L|| doubles per block
        dict(placement=p, seed=0, depth=d, signal=(1 + 0.5 * d) ** 0.5 if p == "lin" else 2.0**d)
        for p in ("lin", "geo")
        for d in (1, 3, 9, 27)
    ]
    law = depth_probe_mod.variance_law(rows, fit=(1, 3))
    assert [(r["placement"], r["depth"]) for r in law] == [("lin", 9), ("lin", 27), ("geo", 9), ("geo", 27)]
    lin = [r for r in law if r["placement"] == "lin"]
    assert all(r["c"] == pytest.approx(0.5) and r["off"] == pytest.approx(1.0) for r in lin)
    geo = [r for r in law if r["placement"] == "geo"]  # c = (64 - 4) / 2 = 30: sqrt(4 + 30 * 8) at L = 9
    assert geo[0]["predicted"] == pytest.approx(244**0.5) and geo[0]["off"] == pytest.approx(512 / 244**0.5)
    summary = {r["placement"]: r for r in depth_probe_mod.law_summary(law, tolerance=0.1)}
    assert (summary["lin"]["held"], summary["lin"]["seeds"]) == (1, 1)
    assert summary["geo"]["held"] == 0 and summary["geo"]["lowest"] > 30


def test_variance_law_leaves_a_shrinking_stream_without_a_prediction():
    rows = [dict(placement="b", seed=s, depth=d, signal=1.0 / d) for s in (0, 1) for d in (1, 2, 10)]
    law = depth_probe_mod.variance_law(rows, fit=(1, 2))  # c = (1/4 - 1) / 1 < 0: 1 + c * 9 < 0 at L = 10
    assert [r["off"] for r in law] == [None, None]
    (summary,) = depth_probe_mod.law_summary(law)
    assert summary["held"] == 0 and summary["seeds"] == 2


def test_gradient_gap_compares_one_placement_with_the_rest_per_seed():
    rows = [
        dict(placement=p, seed=s, depth=d, grad_ratio=v * (s + 1))
        for s in (0, 1)
        for d in (1, 9)
        for p, v in (("b", 1e6 if d == 9 else 1.0), ("x", 2.0), ("y", 8.0))
    ]
    gaps = depth_probe_mod.gradient_gap(rows, depth=9, odd="b")
    assert [(g["seed"], g["gap"], g["spread"]) for g in gaps] == [(0, 1e6 / 8, 4.0), (1, 1e6 / 8, 4.0)]
