"""The lessons' networks: the degradation MLPs, the variants of lesson 01, the CIFAR twins, option B."""

import pytest
import torch
from torch import nn

from resnet_edu.course import experiments as ex
from resnet_edu.nets.models import MLP, ResNet


def kinds(module: nn.Module) -> list[str]:
    return [type(m).__name__ for m in module]


def test_degradation_mlps_are_tanh_xavier_without_bn_in_the_blocks():
    makers = ex.degradation_mlps((2, 5), shortcuts=(False, True), width=16)
    assert list(makers) == [
        "plain MLP, 2 blocks",
        "plain MLP, 5 blocks",
        "residual MLP, 2 blocks",
        "residual MLP, 5 blocks",
    ]
    net = makers["plain MLP, 5 blocks"]()
    assert isinstance(net, MLP) and len(net.blocks) == 5 and isinstance(net.head_norm, nn.BatchNorm1d)
    assert kinds(net.blocks[0].branch) == ["Linear", "Identity", "Tanh"]  # tanh(W x + b): no BN inside
    assert (
        net.blocks[0].shortcut is None and makers["residual MLP, 2 blocks"]().blocks[0].shortcut is not None
    )
    w = net.blocks[0].branch.linear.weight
    assert float(w.detach().std()) == pytest.approx(16**-0.5, rel=0.2)  # Xavier: std sqrt(1 / fan_in)
    with_bn = ex.degradation_mlps((3,), norm=True, width=8)["plain MLP, 3 blocks"]()
    assert kinds(with_bn.blocks[0].branch) == ["Linear", "BatchNorm1d", "Tanh"]


def test_the_slow_plateau_configs_differ_from_theirs_only_by_a_tenth_of_the_rate():
    import dataclasses

    for slow, base in ((ex.PLATEAU_CFG_SLOW, ex.PLATEAU_CFG), (ex.PLATEAU_CFG_GPU_SLOW, ex.PLATEAU_CFG_GPU)):
        assert slow.lr == pytest.approx(base.lr / 10)
        assert dataclasses.replace(slow, lr=base.lr) == base


def test_mlp_variants_build_the_asked_depth_and_input():
    nets = ex.mlp_variants(ex.MLP_VARIANTS, depth=4, width=8, in_features=12)
    assert list(nets) == list(ex.MLP_VARIANTS)
    net = nets["ReLU, He init, BN"]()
    assert (
        len(net.blocks) == 4
        and net.embed[1].in_features == 12
        and kinds(net.blocks[0].branch)[1] == "BatchNorm1d"
    )


def test_mlp_gradient_norms_vanish_for_sigmoid_and_stay_flat_with_he_and_bn():
    x, y = torch.randn(32, 3, 4, 4), torch.randint(0, 10, (32,))
    rows = ex.mlp_gradient_norms(x, y, depths=(20,), width=32)
    first = {r["model"]: r["ratio"] for r in rows if r["block"] == 0}
    top = [r["ratio"] for r in rows if r["block"] == 20]
    assert top == pytest.approx([1.0] * len(ex.MLP_VARIANTS)) and {r["depth"] for r in rows} == {20}
    assert 0 < first["sigmoid, naive init"] < 1e-20  # float64: tiny but not underflowed to 0
    assert first["sigmoid, He init"] < 1e-3
    assert 0.1 < first["ReLU, He init"] < 10  # He et al. 2015b: variance-preserving for ReLU
    assert first["ReLU, He init, BN"] > 2  # plain BN nets' gradients grow with depth (Yang et al. 2019)


def test_named_and_twins_build_registered_and_plain_or_residual_nets():
    nets = ex.named("plain20", "resnet20", width=4)
    assert list(nets) == ["plain20", "resnet20"] and isinstance(nets["plain20"](), ResNet)
    twins = ex.twins(14, width=2)
    plain, res = (twins[k]() for k in ("plain-14", "resnet-14"))
    assert plain.stages[0][0].shortcut is None and res.stages[0][0].shortcut is not None


def test_shortcut_param_counts_match_the_paper_and_projection_sizes():
    (row,) = ex.shortcut_param_counts(depths=(20,))
    assert row["option_A"] == 269_722  # He et al. 2015, Table 6: 0.27M
    # option B: two 1x1 projections with BN, 16->32 and 32->64 channels
    assert row["extra_B"] == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)
    assert row["extra_B_pct"] == pytest.approx(100 * row["extra_B"] / 269_722)


def test_twin_gradient_ratios_and_shattering_match_the_measures_they_wrap():
    from resnet_edu.measure.gradients import gradient_ratios
    from resnet_edu.measure.probes import shattering

    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    rows = ex.twin_gradient_ratios(x, y, depth=8, width=2, seeds=(0,))
    assert rows == gradient_ratios(ex.twins(8, width=2), x, y, seeds=(0,))
    assert {r["model"] for r in rows} == {"plain-8", "resnet-8"}
    kw = dict(n_points=8, max_lag=2)
    got = ex.shattering(["plain20"], x[:1], width=2, seeds=(1,), **kw)
    assert got == shattering(ex.named("plain20", width=2), x[:1], seeds=(1,), **kw)
