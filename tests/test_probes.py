import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu import probes
from resnet_edu.data import synthetic_cifar
from resnet_edu.models import MLP, cifar_resnet, residual_blocks


def tiny(name: str) -> nn.Module:
    """resnet8 / plain8 of width 2: three blocks."""
    torch.manual_seed(0)
    return cifar_resnet(8, width=2, shortcut=name.startswith("resnet"))


def batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)


def no_hooks(model: nn.Module) -> bool:
    return all(
        not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks)
        for m in model.modules()
    )


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


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


def test_activation_grad_norms_match_autograd_on_mlp():
    torch.manual_seed(0)
    model = MLP(depth=4, width=16, in_features=3 * 16 * 16)
    x, y = batch()
    rows = probes.activation_grad_norms(model, x, y)
    assert [r["block"] for r in rows] == list(range(5)) and no_hooks(model)
    # by hand: run the blocks one by one, keeping every x_l
    xs = [model.embed(x)]
    for b in model.blocks:
        xs.append(b(xs[-1]))
    grads = torch.autograd.grad(F.cross_entropy(model.fc(xs[-1]), y), xs)
    for r, g in zip(rows, grads):
        assert r["grad_norm"] == pytest.approx(float(g.norm()), rel=1e-5)


def test_hooks_removed_even_after_an_error():
    model, (x, y) = tiny("resnet8"), batch()

    def broken_loss(out, target):
        raise RuntimeError("boom")

    for probe in (probes.activation_grad_norms, probes.weight_grad_norms):
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


def test_lesion_rows_and_no_side_effects():
    data = synthetic_cifar(3, size=16)
    model = tiny("resnet8")
    before = state(model)
    rows = probes.lesion_study(model, data, label="resnet8")
    assert [r["block"] for r in rows] == [-1, 0, 1, 2]
    assert all(r["removed"] for r in rows[1:]) and no_hooks(model) and model.training
    assert_same(before, state(model))
    plain = probes.lesion_study(tiny("plain8"), data)
    # plain-8: block 0 keeps its shape and becomes the identity; blocks 1, 2 change shape
    assert [r["skipped"] for r in plain[1:]] == [False, True, True]
    assert plain[2]["accuracy"] == plain[0]["accuracy"]  # a skipped block is evaluated unchanged


def test_lesion_of_a_residual_block_is_its_shortcut():
    model = tiny("resnet8").eval()
    x, _ = batch()
    block = residual_blocks(model)[1]
    handle = block.register_forward_hook(probes._lesion_hook({}))
    try:
        out = block(x[:, :2])  # width-2 stage input
    finally:
        handle.remove()
    assert torch.equal(out, F.relu(block.skip(x[:, :2])))
