import numpy as np
import pytest
import torch
from torch import nn

from resnet_edu import tensors
from resnet_edu.data import synthetic_cifar
from resnet_edu.models import cifar_resnet


def test_as_batch_is_seeded_normalised_and_mixes_classes():
    data = synthetic_cifar(5, seed=0)
    x, y = tensors.random_batch(data, 20, seed=3)
    x2, y2 = tensors.random_batch(data, 20, seed=3)
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert len(set(y.tolist())) > 3


def test_loss_sums_equals_the_plain_mean_loss_and_accuracy():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    x, y = torch.randn(11, 5), torch.randint(0, 3, (11,))
    loss_sum, correct, count = tensors.loss_sums(model, tensors.batches(x, y, 4)).tolist()
    logits = model(x).detach()
    assert count == 11
    assert loss_sum / count == pytest.approx(float(nn.functional.cross_entropy(logits, y)), rel=1e-6)
    assert correct == int((logits.argmax(1) == y).sum())
    with pytest.raises(ValueError, match="empty"):
        tensors.loss_sums(model, [])


def test_hooks_are_removed_also_when_the_body_raises():
    model = cifar_resnet(8, width=2)
    seen = []
    with pytest.raises(RuntimeError):
        with tensors.hooks(model.stages, forward=lambda m, i, o: seen.append(o.shape)):
            model(torch.randn(2, 3, 8, 8))
            raise RuntimeError("boom")
    assert len(seen) == 3
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_preserved_restores_flags_and_running_statistics():
    model = cifar_resnet(8, width=2).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with tensors.preserved(model, True):
        assert model.training
        model(torch.randn(4, 3, 8, 8) * 5)  # train mode: BN running statistics move
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_data_follows_the_model_device_and_dtype():
    data = synthetic_cifar(1)
    model = cifar_resnet(8, width=2).double()
    x, y = tensors.as_tensors(data, like=model)
    assert x.device == tensors.model_device(model) and x.dtype == torch.float64 and len(y) == 10
    assert tensors.model_device(nn.ReLU()) == torch.device("cpu")  # parameter-free: the CPU
    with pytest.raises(ValueError, match="empty"):
        tensors.as_tensors((torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))


def test_measurements_take_device_and_dtype_from_the_model():
    """What would have caught lesson 05 on a GPU: data built elsewhere meets a model moved by `fit`."""
    from resnet_edu import landscape, probes

    torch.manual_seed(0)
    model = cifar_resnet(8, width=2).double().eval()  # another dtype than the float32 images
    data = synthetic_cifar(1)
    rows = probes.lesion_study(model, data)
    assert len(rows) == 1 + 3 and all(0 <= r["accuracy"] <= 1 for r in rows)
    surface = landscape.random_line(model, data, steps=3)
    assert surface.loss.shape == (3,) and np.isfinite(surface.loss).all()
