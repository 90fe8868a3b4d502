"""Small helpers every measurement shares: data as tensors on the model's device, a model left as
it was found, hooks that are always removed, and the one evaluation loop.

`train`, `probes` and `landscape` all evaluate through `loss_sums`, which accumulates on the device
and never synchronises with the host: the caller reads the three numbers back once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .data import ImageSet
from .loader import normalize

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameter-free model)."""
    return next(model.parameters(), torch.empty(0)).device


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 for a parameter-free model)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


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


@contextmanager
def preserved(model: nn.Module, train: bool) -> Iterator[nn.Module]:
    """Put `model` in train or eval mode; afterwards restore every module's flag and every buffer."""
    flags = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    model.train(train)
    try:
        yield model
    finally:
        for m, flag in flags:
            m.training = flag
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)


@contextmanager
def hooks(
    modules: Iterable[nn.Module], *, forward: Callable | None = None, pre: Callable | None = None
) -> Iterator[None]:
    """Register a forward hook `forward(module, inputs, output)` and/or a pre-hook `pre(module, inputs)`
    on every module; all of them are removed on exit, also when the body raises."""
    handles = []
    try:
        for m in modules:
            if pre is not None:
                handles.append(m.register_forward_pre_hook(pre))
            if forward is not None:
                handles.append(m.register_forward_hook(forward))
        yield
    finally:
        for h in handles:
            h.remove()


def loss_sums(
    model: nn.Module, data: Batches, *, autocast: contextlib.AbstractContextManager | None = None
) -> torch.Tensor:
    """[summed cross-entropy, correct, count] of `model` over the batches, as one tensor on the device.

    The one evaluation loop of the library. No host synchronisation: call `.tolist()` once at the end.
    The model's mode is the caller's choice (`preserved(model, False)` for BN running statistics).
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


def random_batch(data: ImageSet, n: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random batch of `n` normalised images (n, 3, H, W) and labels (n,), for the probes."""
    if n <= 0:
        raise ValueError(f"a batch needs a positive number of images, got {n}")
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return normalize(data.images[idx]), data.labels[idx]
