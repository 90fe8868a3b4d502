"""One optimiser step: SGD as He et al. 2015 train, autocast for the GPU's precision, a loss scaler for fp16.

`train_step` is what `fit` calls for every batch, and what the benchmark times; it returns the batch's
[loss sum, correct, count] as a tensor on the device, so the loop never waits for the host.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.SGD:
    """SGD with (Nesterov) momentum and weight decay on every parameter, as in He et al. 2015;
    the fused kernel on CUDA (one launch for all parameters)."""
    return torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov and cfg.momentum > 0,
        weight_decay=cfg.weight_decay,
        fused=True if device.type == "cuda" else None,
    )


def autocast_for(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast to bf16 or fp16 for those precisions, else a no-op context (fp32)."""
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtypes[precision])


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    label_smoothing: float = 0.0,
    autocast: contextlib.AbstractContextManager | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """One SGD step on the batch (x, y); returns [loss sum, correct, count] as a tensor (no sync).

    `scaler` (fp16): the loss is scaled before backward and steps with inf/NaN gradients are skipped.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast or contextlib.nullcontext():
        logits = model(x)  # (B, classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    correct = (logits.argmax(1) == y).sum().float()
    count = torch.full((), float(len(y)), device=x.device)  # a fill kernel, no host-to-device copy
    return torch.stack([loss.detach() * len(y), correct, count])
