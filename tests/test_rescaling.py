"""Why filter normalisation: a rescaled twin computes the same function; raw and normalised lines."""

import numpy as np
import pytest
import torch

from resnet_edu.data import synthetic_cifar
from resnet_edu.measure import rescaling as L
from resnet_edu.nets.models import cifar_resnet


def test_rescale_before_bn_keeps_the_function_and_changes_the_weights():
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    model.train()
    model(torch.randn(32, 3, 8, 8))  # non-trivial running statistics
    twin = L.rescale_before_bn(model, 10.0, block=1)
    x = torch.randn(8, 3, 8, 8)
    for train in (False, True):
        model.train(train), twin.train(train)
        assert torch.allclose(model(x), twin(x), atol=1e-4)
    w, w2 = model.stages[1][0].branch.conv1.weight, twin.stages[1][0].branch.conv1.weight
    assert torch.allclose(w2, 10 * w)


def test_raw_direction_has_the_weights_norm_and_no_filter_normalisation():
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    d = L.raw_direction(model, seed=3)
    params = dict(model.named_parameters())
    norm_w = torch.stack([p.detach().norm() for p in params.values() if p.dim() >= 2]).norm()
    assert float(torch.stack([t.norm() for t in d.values()]).norm()) == pytest.approx(float(norm_w), rel=1e-5)
    assert all(not d[n].any() for n, p in params.items() if p.dim() < 2)
    assert torch.equal(d["fc.weight"], L.raw_direction(model, seed=3)["fc.weight"])


def test_every_block_can_be_rescaled_and_the_demo_shows_raw_lines_differ_and_normalised_ones_agree():
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4).eval()
    data = synthetic_cifar(2, size=8)
    twin = L.rescale_before_bn(model, 10.0, block=None)
    convs = [
        (m.branch.conv1.weight, t.branch.conv1.weight)
        for m, t in zip(model.modules(), twin.modules())
        if hasattr(m, "branch") and hasattr(m.branch, "conv1")
    ]
    assert len(convs) == 3 and all(torch.allclose(b, 10 * a) for a, b in convs)
    alphas, demo, gap = L.rescaling_demo(model, data, factor=10.0, steps=5, span=0.5)
    assert gap < 1e-3 and list(alphas) == pytest.approx([-0.5, -0.25, 0.0, 0.25, 0.5])
    apart = lambda kind: np.abs(np.subtract(*demo[kind].values())).max()
    assert apart("filter-normalised") < 1e-4  # the same function, the same picture
    assert apart("raw direction") > 100 * apart("filter-normalised")  # the raw direction is fooled
    assert not model.training  # the model is left as it was


def test_curve_gaps_is_the_largest_relative_difference_per_kind():
    demo = {
        "raw": {"a": np.array([1.0, 2.0, 4.0]), "b": np.array([1.0, 3.0, 2.0])},
        "fn": {"a": np.ones(3), "b": np.ones(3)},
    }
    assert L.curve_gaps(demo) == {"raw": 1.0, "fn": 0.0}  # |4 - 2| / 2 at the last point
