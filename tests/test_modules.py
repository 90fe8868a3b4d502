"""Working on a network without changing it: device and dtype, a restored mode, hooks always removed."""

import pytest
import torch

from resnet_edu.nets import modules
from resnet_edu.nets.models import cifar_resnet


def test_hooks_are_removed_also_when_the_body_raises():
    model = cifar_resnet(8, width=2)
    seen = []
    with pytest.raises(RuntimeError):
        with modules.hooks(model.stages, forward=lambda m, i, o: seen.append(o.shape)):
            model(torch.randn(2, 3, 8, 8))
            raise RuntimeError("boom")
    assert len(seen) == 3
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_preserved_restores_flags_and_running_statistics():
    model = cifar_resnet(8, width=2).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with modules.preserved(model, True):
        assert model.training
        model(torch.randn(4, 3, 8, 8) * 5)  # train mode: BN running statistics move
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_model_device_and_dtype_follow_the_first_parameters():
    assert modules.model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert modules.model_dtype(torch.nn.Linear(2, 2).double()) == torch.float64
    empty = torch.nn.ReLU()
    assert modules.model_device(empty) == torch.device("cpu") and modules.model_dtype(empty) == torch.float32
