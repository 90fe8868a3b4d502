"""Gradients through depth: against autograd, the ratio axis, and growth factors of known slope."""

import math

import pytest
import torch
from torch import nn

from resnet_edu.course import experiments as ex
from resnet_edu.measure.gradients import activation_grad_norms, gradient_growth, gradient_ratios
from resnet_edu.nets.models import MLP, cifar_resnet


def test_activation_grad_norms_match_autograd_block_by_block():
    torch.manual_seed(0)
    net = MLP(depth=3, width=8, in_features=12, norm=False).double()
    x, y = torch.randn(5, 12, dtype=torch.float64), torch.randint(0, 10, (5,))
    rows = activation_grad_norms(net, x, y, label="mlp")
    # by hand: the input of every block and the last block's output, gradients by autograd
    h = net.embed(x)
    inputs = [h]
    for block in net.blocks:
        h = block(h)
        inputs.append(h)
    loss = nn.functional.cross_entropy(net.fc(net.head_norm(h)), y)
    grads = torch.autograd.grad(loss, inputs)
    assert [r["block"] for r in rows] == [0, 1, 2, 3] and rows[-1]["name"] == "blocks.2.out"
    assert [r["grad_norm"] for r in rows] == pytest.approx([float(g.norm()) for g in grads])
    assert rows[0]["grad_rms"] == pytest.approx(float(grads[0].norm()) / grads[0].numel() ** 0.5)


def test_a_network_without_blocks_is_refused():
    with pytest.raises(ValueError, match="no ResidualBlock"):
        activation_grad_norms(nn.Linear(3, 10), torch.randn(2, 3), torch.tensor([0, 1]))


def test_gradient_ratios_are_one_at_the_top_for_every_model_and_seed():
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    rows = gradient_ratios(ex.twins(8, width=2), x, y, seeds=(0, 1))
    assert list(dict.fromkeys((r["model"], r["seed"]) for r in rows)) == [
        ("plain-8", 0),
        ("plain-8", 1),
        ("resnet-8", 0),
        ("resnet-8", 1),
    ]
    top = max(r["block"] for r in rows)
    assert [r["ratio"] for r in rows if r["block"] == top] == pytest.approx([1.0] * 4)
    assert [r["to_output"] for r in rows if r["block"] == top] == pytest.approx([1.0] * 4)
    plain = [r["ratio"] for r in rows if r["model"] == "plain-8"]
    assert plain[: len(plain) // 2] != plain[len(plain) // 2 :]  # another seed, another network


def test_the_same_seed_builds_the_same_network():
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    torch.manual_seed(3)
    by_hand = activation_grad_norms(cifar_resnet(8, width=2, shortcut=False), x, y)
    rows = gradient_ratios({"p": lambda: cifar_resnet(8, width=2, shortcut=False)}, x, y, seeds=(3,))
    assert [r["grad_norm"] for r in rows] == [r["grad_norm"] for r in by_hand]


def test_gradient_growth_recovers_a_known_factor():
    rows = [dict(model="m", seed=0, block=b, ratio=1.5 ** (4 - b)) for b in range(5)]  # 1 at the top
    (row,) = gradient_growth(rows)
    assert row["factor"] == pytest.approx(1.5) and row["first"] == pytest.approx(1.5**4)


def test_gradient_factors_follow_the_theory_of_each_regime():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(128, 3, 4, 4, generator=g), torch.randint(0, 10, (128,), generator=g)
    variants = {k: ex.MLP_VARIANTS[k] for k in ("sigmoid, He init", "ReLU, He init, BN", "tanh, Xavier init")}
    rows = ex.mlp_gradient_factors(x, y, depth=20, seeds=(0, 1), variants=variants, width=128)
    assert [(r["model"], r["seed"]) for r in rows] == [(m, s) for m in variants for s in (0, 1)]
    mean = {m: sum(r["factor"] for r in rows if r["model"] == m) / 2 for m in variants}
    assert mean["sigmoid, He init"] < 0.5  # about 0.25 sqrt(2) per layer
    assert mean["ReLU, He init, BN"] == pytest.approx(
        math.sqrt(math.pi / (math.pi - 1)), rel=0.1
    )  # Yang 2019
    assert 0.85 < mean["tanh, Xavier init"] < 1.02  # a mild shrink
    assert all(r["first"] > 10 for r in rows if r["model"] == "ReLU, He init, BN")  # grows toward the input


def test_gradient_ratios_after_steps_are_unchanged_at_zero_learning_rate_and_change_after_a_real_step():
    from resnet_edu.measure.gradients import gradient_ratios_after_steps

    torch.manual_seed(0)
    x, y = torch.randn(32, 3, 4, 4), torch.randint(0, 10, (32,))
    batches = [(torch.randn(32, 3, 4, 4), torch.randint(0, 10, (32,))) for _ in range(2)]
    mlp = {"bn": lambda: MLP(depth=6, width=16, in_features=48, act="relu", norm=True)}
    frozen = gradient_ratios_after_steps(mlp, x, y, batches, steps=(0, 2), lr=0.0)
    first = {r["step"]: r["ratio"] for r in frozen if r["block"] == 0}
    assert set(first) == {0, 2} and first[2] == pytest.approx(first[0])  # no step taken: the same net
    moved = gradient_ratios_after_steps(mlp, x, y, batches, steps=(0, 1), lr=0.5)
    first = {r["step"]: r["ratio"] for r in moved if r["block"] == 0}
    assert first[1] != pytest.approx(first[0], rel=1e-3)
    with pytest.raises(ValueError):
        gradient_ratios_after_steps(mlp, x, y, batches, steps=(3,))


def test_bn_gradients_after_sgd_start_at_yang_s_growth_and_label_each_probe():
    torch.manual_seed(0)
    x, y = torch.randn(64, 3, 4, 4), torch.randint(0, 10, (64,))
    batches = [(torch.randn(64, 3, 4, 4), torch.randint(0, 10, (64,)))]
    rows = ex.bn_gradients_after_sgd(x, y, batches, depth=20, width=64, steps=(0, 1), seeds=(0,))
    assert [r["when"] for r in rows] == ["at initialisation", "after 1 SGD step"]
    assert rows[0]["factor"] == pytest.approx(math.sqrt(math.pi / (math.pi - 1)), rel=0.1)
