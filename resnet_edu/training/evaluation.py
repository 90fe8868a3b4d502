"""The one evaluation loop: summed loss, correct predictions and count over batches, on the device.

`fit` evaluates its test set through `loss_sums`, and so do the lesion studies and every point of a
loss landscape. It never synchronises with the host: the caller reads the three numbers back once.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from ..data.loader import DeviceLoader
from ..data.sets import ImageSet
from ..data.tensors import Batches
from ..nets.modules import model_device, preserved


def loss_sums(
    model: nn.Module, data: Batches, *, autocast: contextlib.AbstractContextManager | None = None
) -> torch.Tensor:
    """[summed cross-entropy, correct, count] of `model` over the batches, as one tensor on the device.

    No host synchronisation: call `.tolist()` once at the end. The model's mode is the caller's choice
    (`preserved(model, False)` for BN running statistics).
    """
    sums, count = None, 0
    with torch.no_grad():
        for x, y in data:
            with autocast or contextlib.nullcontext():
                logits = model(x).float()  # (B, classes)
            loss = F.cross_entropy(logits, y, reduction="sum")
            batch = torch.stack([loss, (logits.argmax(1) == y).sum().float()])
            sums = batch if sums is None else sums + batch
            count += len(y)
    if sums is None:
        raise ValueError("no batches to evaluate: the data is empty")
    return torch.cat([sums, sums.new_full((1,), float(count))])


def evaluate(
    model: nn.Module, data: DeviceLoader | ImageSet, *, device: str | torch.device | None = None
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `data`, in eval mode (BN running statistics).

    `device` defaults to where the model's parameters are; an `ImageSet` is batched there.
    """
    device = torch.device(device) if device else model_device(model)
    model.to(device)
    if isinstance(data, ImageSet):
        data = DeviceLoader(data, batch_size=512, train=False, device=device)
    with preserved(model, False):
        loss_sum, correct, count = loss_sums(model, data).tolist()
    return loss_sum / count, correct / count
