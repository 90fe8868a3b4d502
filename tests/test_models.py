import pytest
import torch

from resnet_edu.nets.blocks import PLACEMENTS, ResidualBlock
from resnet_edu.nets.models import (
    MLP,
    build_model,
    cifar_resnet,
    count_macs,
    count_params,
    model_names,
    residual_blocks,
)

# He et al. 2015, Table 6 (option A shortcuts), in millions of parameters.
PAPER_PARAMS = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7}
QUICK = [n for n in model_names() if not n.endswith(("1202", "110"))]


@pytest.mark.parametrize("name", QUICK)
def test_every_model_forward_and_backward(name):
    model = build_model(name)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
    out.sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name,millions", PAPER_PARAMS.items())
def test_param_counts_match_paper_table6(name, millions):
    assert round(count_params(build_model(name)) / 1e6, 2) == pytest.approx(
        millions, abs=0.005 if millions < 1 else 0.05
    )


def test_resnet20_exact_count_and_resnet18_scale():
    # 0.27M in the paper; the exact count with BN affine parameters is 269,722
    # (the same as the akamaster/pytorch_resnet_cifar10 reproduction).
    assert count_params(build_model("resnet20")) == 269_722
    r18 = build_model("resnet18")
    assert 11.1e6 < count_params(r18) < 11.2e6
    assert 0.55e9 < count_macs(r18) < 0.56e9  # about 0.56 GMACs per 32x32 image


def test_macs_of_a_single_conv_by_hand():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_macs(conv) == 32 * 32 * 8 * 3 * 3 * 3


@pytest.mark.parametrize("depth", [20, 56])
def test_plain_twin_has_the_same_parameters_with_option_a(depth):
    # Option A shortcuts are parameter-free, so the plain twin has exactly the same parameters.
    assert count_params(build_model(f"resnet{depth}")) == count_params(build_model(f"plain{depth}"))


def test_shortcut_off_removes_exactly_the_projection_parameters():
    res, plain = build_model("resnet18"), build_model("plain18")
    shortcut_params = sum(
        p.numel() for b in residual_blocks(res) if b.shortcut is not None for p in b.shortcut.parameters()
    )
    assert shortcut_params > 0
    assert count_params(res) - count_params(plain) == shortcut_params
    names_res = {n for n, _ in res.named_parameters() if ".shortcut." not in n}
    assert names_res == {n for n, _ in plain.named_parameters()}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_every_placement_builds_a_working_net(placement):
    model = build_model("resnet20", width=4, placement=placement)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_mlp_depth_and_options():
    m = MLP(depth=5, width=16, act="sigmoid", init="naive", norm=True)
    assert len(residual_blocks(m)) == 5
    assert m(torch.randn(4, 3, 32, 32)).shape == (4, 10)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="known: .*resnet18"):
        build_model("resnet19")
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(21)
    with pytest.raises(ValueError, match="placement"):
        ResidualBlock(4, 4, placement="sideways")
    with pytest.raises(ValueError, match="option"):
        ResidualBlock(4, 8, stride=2, option="C")
