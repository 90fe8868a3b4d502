"""Blocks: each placement computes what Identity Mappings Fig. 4 draws, and prints in that order."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu.nets.blocks import PLACEMENTS, MLPBlock, PadShortcut, ResidualBlock, scale_branches
from resnet_edu.nets.models import block_stack


def test_option_a_pads_with_zeros_and_subsamples():
    x = torch.randn(2, 4, 8, 8)
    y = PadShortcut(4, 8, 2)(x)
    assert y.shape == (2, 8, 4, 4)
    assert torch.equal(y[:, 2:6], x[:, :, ::2, ::2])
    assert y[:, :2].abs().sum() == 0 and y[:, 6:].abs().sum() == 0


def test_block_is_branch_plus_identity():
    torch.manual_seed(0)
    block = ResidualBlock(8, 8, placement="full_preact").eval()
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(block(x), block.branch(x) + x)
    post = ResidualBlock(8, 8).eval()
    assert torch.allclose(post(x), torch.relu(post.branch(x) + x))


def test_plain_block_has_no_addition():
    torch.manual_seed(0)
    plain = ResidualBlock(8, 8, shortcut=False).eval()
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(plain(x), torch.relu(plain.branch(x)))


def test_skipinit_starts_as_identity():
    block = ResidualBlock(4, 4, placement="full_preact", skipinit=True, norm=False)
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(block(x), x)


EXPECTED_ORDER = {  # Identity Mappings, Fig. 4: the branch, then what follows the addition
    "original": (["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"], ["ReLU"]),
    "bn_after_addition": (["Conv2d", "BatchNorm2d", "ReLU", "Conv2d"], ["BatchNorm2d", "ReLU"]),
    "relu_before_addition": (["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"], []),
    "relu_only_preact": (["ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d"], []),
    "full_preact": (["BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Conv2d"], []),
}


def kinds(module: nn.Module) -> list[str]:
    children = list(module.children()) if isinstance(module, nn.Sequential) else [module]
    return [type(m).__name__ for m in children if not isinstance(m, nn.Identity)]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_branch_lists_its_layers_in_computation_order(placement):
    block = ResidualBlock(4, 4, placement=placement)
    branch, after = EXPECTED_ORDER[placement]
    assert kinds(block.branch) == branch and kinds(block.after_addition) == after
    printed = [line.split(": ")[1].split("(")[0] for line in str(block.branch).splitlines()[1:-1]]
    assert printed == branch  # print(block) reads like the figure


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_forward_is_what_follows_the_addition_of_branch_and_skip(placement):
    torch.manual_seed(0)
    block = ResidualBlock(4, 8, stride=2, placement=placement).train()
    x = torch.randn(3, 4, 6, 6)
    by_hand = block.after_addition(block.branch(x) + block.skip(x))
    assert torch.allclose(block(x), by_hand)


def test_full_preact_computes_bn_relu_conv_twice_by_hand():
    torch.manual_seed(0)
    block = ResidualBlock(4, 4, placement="full_preact").eval()
    b = block.branch
    with torch.no_grad():
        for bn in (b.bn1, b.bn2):
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 2)
    x = torch.randn(2, 4, 5, 5)

    def bn(m, t):
        return (t - m.running_mean[:, None, None]) / (m.running_var[:, None, None] + m.eps).sqrt() * m.weight[
            :, None, None
        ] + m.bias[:, None, None]

    f = F.conv2d(
        F.relu(bn(b.bn2, F.conv2d(F.relu(bn(b.bn1, x)), b.conv1.weight, padding=1))),
        b.conv2.weight,
        padding=1,
    )
    assert torch.allclose(block(x), x + f, atol=1e-5)


def test_zero_gamma_in_the_last_bn_makes_the_block_the_identity():
    """F = 0 when the branch's last BN has gamma = 0 (Goyal et al. 2017; zero_init_residual)."""
    block = ResidualBlock(4, 4, placement="original").train()
    nn.init.zeros_(block.branch.bn2.weight)
    nn.init.zeros_(block.branch.bn2.bias)
    x = torch.relu(torch.randn(2, 4, 5, 5))  # a block input after a ReLU, as inside a network
    assert torch.equal(block(x), x)


def test_skip_scale_multiplies_only_the_shortcut():
    torch.manual_seed(0)
    block = ResidualBlock(4, 4, placement="full_preact", skip_scale=0.5).eval()
    x = torch.randn(2, 4, 5, 5)
    assert torch.allclose(block(x), block.branch(x) + 0.5 * x)


def test_mlp_block_interface_matches_the_residual_block():
    torch.manual_seed(0)
    res, plain = MLPBlock(6, act="tanh", shortcut=True), MLPBlock(6, act="tanh")
    x = torch.randn(3, 6)
    assert torch.allclose(res(x), res.branch(x) + x) and torch.equal(plain.skip(x), torch.zeros(()))
    assert kinds(res.branch) == ["Linear", "Tanh"]


def test_non_positive_sizes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        ResidualBlock(0, 4)
    with pytest.raises(ValueError, match="width"):
        MLPBlock(0)


def test_scale_branches_halves_the_block_output_with_a_half_shortcut():
    x = torch.randn(4, 8, 6, 6, dtype=torch.float64)
    plain = block_stack(1, placement="full_preact", seed=3)
    halved = scale_branches(block_stack(1, placement="full_preact", seed=3, skip_scale=0.5), 0.5)
    assert torch.allclose(halved(x), 0.5 * plain(x), rtol=0, atol=1e-14)  # 0.5 x + 0.5 F(x)
    assert sum(p.numel() for p in halved.parameters()) == sum(p.numel() for p in plain.parameters())
