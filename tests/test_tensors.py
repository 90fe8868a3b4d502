import numpy as np
import pytest
import torch
from torch import nn

from resnet_edu.data import synthetic_cifar, tensors
from resnet_edu.nets.models import cifar_resnet


def test_as_batch_is_seeded_normalised_and_mixes_classes():
    data = synthetic_cifar(5, seed=0)
    x, y = tensors.random_batch(data, 20, seed=3)
    x2, y2 = tensors.random_batch(data, 20, seed=3)
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert len(set(y.tolist())) > 3


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
    from resnet_edu.measure import landscape, lesions

    torch.manual_seed(0)
    model = cifar_resnet(8, width=2).double().eval()  # another dtype than the float32 images
    data = synthetic_cifar(1)
    rows = lesions.lesion_study(model, data)
    assert len(rows) == 1 + 3 and all(0 <= r["accuracy"] <= 1 for r in rows)
    surface = landscape.random_line(model, data, steps=3)
    assert surface.loss.shape == (3,) and np.isfinite(surface.loss).all()
