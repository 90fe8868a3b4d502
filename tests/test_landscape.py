import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu.data import synthetic_cifar
from resnet_edu.data.loader import normalize
from resnet_edu.measure import landscape as L
from resnet_edu.nets.models import MLP, cifar_resnet


def trained_like(seed: int = 0, **kw) -> nn.Module:
    """resnet8 of width 2 with non-trivial BN statistics and affine parameters (as after training)."""
    torch.manual_seed(seed)
    model = cifar_resnet(8, width=2, **kw)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    return model


DATA = synthetic_cifar(2, size=16)  # 20 images, class-balanced


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_identical(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    for k in before:
        assert torch.equal(after[k], before[k]) and after[k].stride() == before[k].stride(), k


def plain_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    training = model.training
    model.eval()
    with torch.no_grad():
        loss = float(F.cross_entropy(model(x), y))
    model.train(training)
    return loss


def test_direction_filter_norms_and_zero_biases():
    model = trained_like()
    d = L.random_direction(model, seed=3)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(d[name].flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
            assert (d[name] < 0).any() and (d[name] > 0).any()  # zero-mean Gaussian, not uniform [0, 1]
        else:
            assert not d[name].any(), name  # biases and BN parameters: zero direction
    again, other = L.random_direction(model, seed=3), L.random_direction(model, seed=4)
    assert all(torch.equal(d[k], again[k]) for k in d) and not torch.equal(d["fc.weight"], other["fc.weight"])


def test_keep_1d_normalises_once_and_survives_zero_bn_biases():
    torch.manual_seed(0)
    fresh = cifar_resnet(8, width=2)  # BN biases are all zero here
    d = L.random_direction(fresh, keep_1d=True)
    params = dict(fresh.named_parameters())
    for name, p in params.items():
        assert torch.isfinite(d[name]).all(), name
        if p.dim() == 1:
            assert float(d[name].norm()) == pytest.approx(float(p.detach().norm()), rel=1e-5, abs=1e-12)
    surface = L.random_line(fresh, DATA, steps=3, keep_1d=True)
    assert np.isfinite(surface.loss).all()


@pytest.mark.parametrize("fast", [True, False])
def test_surface_origin_is_the_plain_loss(fast):
    model = trained_like()
    x, y = normalize(DATA.images), DATA.labels
    surface = L.random_plane(model, DATA, grid=3, span=0.5, fast=fast)
    assert surface.loss.shape == surface.accuracy.shape == (3, 3)
    assert surface.loss[1, 1] == pytest.approx(plain_loss(model, x, y), rel=1e-5)
    assert model.training  # left in the mode it came in


def test_points_are_exact_and_row_major():
    model = trained_like()
    d1, d2 = L.random_direction(model, seed=0), L.random_direction(model, seed=1)
    alphas, betas = np.array([-0.5, 0.25]), np.array([0.0, 0.4, 0.8])
    loss, _ = L.evaluate_surface(model, DATA, [d1, d2], [alphas, betas])
    assert loss.shape == (2, 3)
    moved = trained_like()
    with torch.no_grad():
        for n, p in moved.named_parameters():
            p.copy_(p + alphas[0] * d1[n] + betas[2] * d2[n])
    assert loss[0, 2] == pytest.approx(plain_loss(moved, normalize(DATA.images), DATA.labels), rel=1e-4)


@pytest.mark.parametrize("bn", ["eval", "recalibrate"])
def test_model_bit_identical_after_a_surface(bn):
    model = trained_like()
    before = state(model)
    flags = [m.training for m in model.modules()]
    L.random_plane(model, DATA, grid=2, bn=bn)
    assert_identical(model, before)
    assert flags == [m.training for m in model.modules()]
    assert all(p.requires_grad for p in model.parameters())


def test_model_restored_when_evaluation_raises():
    model = trained_like()
    before, calls = state(model), []

    def fail_on_third(module, inputs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("evaluation failed")

    handle = model.fc.register_forward_pre_hook(fail_on_third)
    try:
        for fast in (True, False):
            calls.clear()
            with pytest.raises(RuntimeError, match="evaluation failed"):
                L.random_plane(model, DATA, grid=3, fast=fast, bn="recalibrate")
            assert_identical(model, before)
    finally:
        handle.remove()


def test_recalibrate_recomputes_bn_statistics():
    model = trained_like()
    x, y = normalize(DATA.images), DATA.labels
    surface = L.random_line(model, (x, y), steps=1, span=0.0, bn="recalibrate")
    # at the origin, recalibrated statistics are those of the data: train-mode BN over the whole set
    ref = trained_like()
    for m in ref.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    with torch.no_grad():
        ref.train()(x)
    assert surface.loss[0] == pytest.approx(plain_loss(ref, x, y), rel=1e-4)


def test_interpolation_endpoints_include_bn_statistics():
    a, b = trained_like(0), trained_like(1)
    x, y = normalize(DATA.images), DATA.labels
    surface = L.interpolate(a, b, (x, y), steps=3, span=(0.0, 1.0))
    assert surface.loss[0] == pytest.approx(plain_loss(a, x, y), rel=1e-5)
    assert surface.loss[2] == pytest.approx(plain_loss(b, x, y), rel=1e-4)
    assert surface.betas is None and surface.meta["kind"] == "interpolation"


def test_mlp_surface_and_bad_bn_mode():
    torch.manual_seed(0)
    model = MLP(depth=2, width=8, in_features=3 * 16 * 16)
    surface = L.random_line(model, DATA, steps=3)
    assert surface.loss[1] == pytest.approx(plain_loss(model, normalize(DATA.images), DATA.labels), rel=1e-5)
    with pytest.raises(ValueError, match="bn mode"):
        L.random_line(model, DATA, steps=3, bn="train")


def test_save_and_load_round_trip(tmp_path):
    surface = L.random_plane(trained_like(), DATA, grid=2, seed=7, label="resnet8")
    path = surface.save(tmp_path / "sub" / "plane")
    back = L.Surface.load(path)
    assert path.suffix == ".npz" and back.meta == surface.meta
    assert {"seed", "grid", "n_data", "bn"} <= back.meta.keys() and back.meta["seed"] == 7
    assert back.meta["n_data"] == len(DATA) and back.meta["bn"] == "eval"
    for field in ("alphas", "betas", "loss", "accuracy"):
        np.testing.assert_array_equal(getattr(back, field), getattr(surface, field))
    line = L.Surface.load(L.random_line(trained_like(), DATA, steps=2).save(tmp_path / "line.npz"))
    assert line.betas is None


def test_directions_for_another_model_and_empty_grids_are_refused():
    torch.manual_seed(0)
    small, big = cifar_resnet(8, width=4), cifar_resnet(14, width=4)
    foreign = L.random_direction(big, seed=0)
    with pytest.raises(ValueError, match="does not have"):
        L.evaluate_surface(small, DATA, [foreign], [np.zeros(1)])
    d = L.random_direction(small, seed=0)
    name = next(iter(d))
    with pytest.raises(ValueError, match="has shape"):
        L.evaluate_surface(small, DATA, [d | {name: torch.zeros(())}], [np.zeros(1)])
    with pytest.raises(ValueError, match="points per axis.* must be a positive whole number"):
        L.random_plane(small, DATA, grid=0)
    with pytest.raises(ValueError, match="points per axis.* must be a positive whole number"):
        L.random_line(small, DATA, steps=-1)
