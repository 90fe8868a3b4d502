"""Data as plain tensors for measurements: where the model is, in its dtype, in batches.

Training batches come from `loader.DeviceLoader`; probes, landscapes and lesions take a fixed set of
images as tensors instead. `as_tensors(data, like=model)` puts them on the model's device and in its
dtype, so a measurement never mixes devices (a net trained on a GPU, a float64 net).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ..nets.modules import model_device, model_dtype
from .loader import normalize
from .sets import ImageSet

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def as_tensors(
    data: Any, device: torch.device | str | None = None, *, like: nn.Module | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """An `ImageSet` (normalised, unaugmented) or a pair (x, y) -> float inputs and labels on `device`.

    `like=model` puts them where the model is, in its dtype: the data follows the model wherever it
    was trained (a GPU, float64), so a measurement never mixes devices.
    """
    if isinstance(data, ImageSet):
        x, y = normalize(data.images), data.labels
    else:
        x, y = data
    if len(y) == 0:
        raise ValueError("data is empty: at least one (image, label) pair is needed")
    if like is not None:
        device = model_device(like)
        x = x.to(model_dtype(like)) if x.is_floating_point() else x
    return x.to(device), y.to(device)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Batches:
    """(x, y) in consecutive chunks of `batch_size` (the last one may be shorter)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return zip(x.split(batch_size), y.split(batch_size))


def random_batch(data: ImageSet, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random batch of `n` normalised images (n, 3, H, W) and labels (n,), for the probes."""
    if n <= 0:
        raise ValueError(f"a batch needs a positive number of images, got {n}")
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return normalize(data.images[idx]), data.labels[idx]
