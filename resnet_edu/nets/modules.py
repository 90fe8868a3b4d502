"""Working on a network without changing it: where its weights live, a mode that is always restored,
and hooks that are always removed.

Every measurement in `measure` and every count in `models` goes through these, so a probe leaves the
model exactly as it found it: training flags, BatchNorm running statistics and hooks included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameter-free model)."""
    return next(model.parameters(), torch.empty(0)).device


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 for a parameter-free model)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


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
