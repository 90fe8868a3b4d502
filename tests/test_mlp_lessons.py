"""The helpers behind lessons 01 and 02: the degradation MLPs, gradient factors, CIFAR gradient ratios."""

import math

import pytest
import torch
from torch import nn

from resnet_edu import experiments as ex
from resnet_edu import paper
from resnet_edu.blocks import MLPBlock, ResidualBlock
from resnet_edu.models import MLP


def kinds(module: nn.Module) -> list[str]:
    return [type(m).__name__ for m in module]


def test_degradation_mlps_are_tanh_xavier_without_bn_in_the_blocks():
    makers = ex.degradation_mlps((2, 5), shortcuts=(False, True), width=16)
    assert list(makers) == ["plain MLP, 2 blocks", "plain MLP, 5 blocks", "residual MLP, 2 blocks",
                            "residual MLP, 5 blocks"]  # fmt: skip
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


def test_zero_gamma_of_the_last_bn_makes_a_residual_block_the_identity():
    torch.manual_seed(0)
    block = ResidualBlock(4, 4).train()
    x = torch.relu(torch.randn(3, 4, 5, 5))  # a block's input comes out of a ReLU
    assert (block(x) - x).abs().max() > 0.1
    nn.init.zeros_(block.branch.bn2.weight)
    assert torch.equal(block(x), x)
    mlp_block = MLPBlock(6, act="tanh", norm=True, shortcut=True).train()
    nn.init.zeros_(mlp_block.branch.norm.weight)
    z = torch.randn(5, 6)
    assert torch.equal(mlp_block(z), z)  # x + tanh(0) = x


def test_gradient_factors_follow_the_formulas():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 3, 4, 4, generator=g), torch.randint(0, 10, (128,), generator=g)
    variants = {k: ex.MLP_VARIANTS[k] for k in ("sigmoid, He init", "ReLU, He init, BN", "tanh, Xavier init")}
    rows = ex.mlp_gradient_factors(x, y, depth=20, seeds=(0, 1), variants=variants, width=128)
    assert [(r["model"], r["seed"]) for r in rows] == [(m, s) for s in (0, 1) for m in variants]
    mean = {m: sum(r["factor"] for r in rows if r["model"] == m) / 2 for m in variants}
    assert mean["sigmoid, He init"] < 0.5  # about 0.25 sqrt(2) per layer
    assert mean["ReLU, He init, BN"] == pytest.approx(paper.YANG_BN_RELU_GROWTH, rel=0.1)  # Yang et al. 2019
    assert 0.85 < mean["tanh, Xavier init"] < 1.02  # a mild shrink
    first = [r["first"] for r in rows if r["model"] == "ReLU, He init, BN"]
    assert all(f > 10 for f in first)  # grows toward the input


def test_a_factor_is_the_geometric_rate_of_the_ratio():
    assert paper.YANG_BN_RELU_GROWTH == pytest.approx(math.sqrt(math.pi / (math.pi - 1)))
    x, y = torch.randn(16, 3, 4, 4), torch.randint(0, 10, (16,))
    variants = {"ReLU, He init, BN": ex.MLP_VARIANTS["ReLU, He init, BN"]}
    (row,) = ex.mlp_gradient_factors(x, y, depth=6, seeds=(0,), variants=variants, width=16)
    ratios = [r["ratio"] for r in ex.mlp_gradient_norms(x, y, depths=(6,), variants=variants, width=16)]
    b = torch.arange(7, dtype=torch.float64)
    logs = torch.tensor(ratios, dtype=torch.float64).log()
    slope = ((b - b.mean()) * (logs - logs.mean())).sum() / ((b - b.mean()) ** 2).sum()
    assert row["factor"] == pytest.approx(math.exp(-float(slope))) and row["first"] == pytest.approx(
        ratios[0]
    )


def test_cifar_gradient_ratios_are_one_at_the_top():
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    rows = ex.cifar_gradient_ratios(x, y, depth=8, width=2)
    assert {r["model"] for r in rows} == {"plain-8", "resnet-8"}
    tops = [r for r in rows if r["block"] == max(q["block"] for q in rows)]
    assert [r["ratio"] for r in tops] == pytest.approx([1.0, 1.0])
    assert all(r["ratio"] > 0 and r["depth"] == 8 for r in rows)
