"""Training settings: a frozen `TrainConfig` with units, and the learning-rate schedule as a pure function.

Variants are made with `dataclasses.replace(cfg, lr=0.05)`; the paper's CIFAR recipe is
`paper.CIFAR_RECIPE`.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass

import torch

SCHEDULES = ("onecycle", "cosine", "step", "constant")
MAX_SEED = 2**32 - 1  # the loader seeds torch.Generator with seed * 100_003 + epoch: this fits in 64 bits
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting, with its unit. Make variants with `dataclasses.replace(cfg, lr=0.05)`."""

    epochs: int = 30  # passes over the training set
    batch_size: int = 128  # images per optimiser step, summed over all DDP ranks
    lr: float = 0.1  # peak learning rate, per batch of `batch_size`
    momentum: float = 0.9  # SGD momentum (Nesterov when `nesterov`), dimensionless
    nesterov: bool = True  # Nesterov momentum
    weight_decay: float = 5e-4  # L2 penalty coefficient added to every parameter's gradient
    label_smoothing: float = 0.0  # probability mass spread uniformly over the classes, in [0, 1)
    schedule: str = "onecycle"  # "onecycle" (linear up, linear down), "cosine", "step", "constant"
    warmup: float = 0.2  # fraction of all steps spent warming up linearly ("onecycle", "cosine" only)
    milestones: tuple[float, ...] = (0.5, 0.75)  # "step": lr/10 at each; < 1: fraction of steps, else epoch
    augment: bool = True  # random crop (pad 4) and horizontal flip (He et al. 2015, Sec. 4.2)
    precision: str = "auto"  # "auto": see `resolved_precision`; or "bf16" / "fp16" / "fp32"
    channels_last: bool | None = None  # NHWC memory layout (tensor cores); None: on for CUDA, off on CPU
    compile: bool = False  # torch.compile the model (minutes of compile time, faster epochs)
    seed: int = 0  # seeds the model-independent RNGs and the loader's shuffling and augmentation
    eval_every: int = 1  # evaluate on the test set every this many epochs, and after the last
    device: str = "auto"  # "auto": cuda if available else cpu; or any torch device string

    def __post_init__(self) -> None:
        if not isinstance(self.milestones, (tuple, list)):
            raise ValueError(f"milestones must be a tuple of numbers, got {self.milestones!r}")
        for name in ("epochs", "batch_size", "eval_every", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        for name in ("lr", "momentum", "weight_decay", "label_smoothing", "warmup", *self.milestones):
            value = getattr(self, name) if isinstance(name, str) else name
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                what = name if isinstance(name, str) else f"milestone {name!r} of {self.milestones}"
                raise ValueError(f"{what} must be a finite number, got {value!r}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.batch_size <= 0:
            raise ValueError(f"batch size must be positive, got {self.batch_size}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must lie in 0..{MAX_SEED} (2**32 - 1), got {self.seed}")
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"momentum must lie in [0, 1], got {self.momentum}")
        if any(m <= 0 for m in self.milestones):
            raise ValueError(f"milestones must be positive (fractions < 1 or epochs), got {self.milestones}")
        if self.lr < 0 or not math.isfinite(self.lr):
            raise ValueError(f"learning rate must be a finite number >= 0, got {self.lr}")
        if self.lr > torch.finfo(torch.float32).max:  # the optimiser applies it in float32
            raise ValueError(f"learning rate {self.lr:g} does not fit in float32 (max about 3.4e38)")
        if self.weight_decay < 0:
            raise ValueError(f"weight decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; known: {', '.join(SCHEDULES)}")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of training in [0, 1), got {self.warmup}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; known: {', '.join(PRECISIONS)}")
        if self.eval_every <= 0:
            raise ValueError(f"eval_every must be positive, got {self.eval_every}")
        if not isinstance(self.device, str):
            raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError, ValueError):
                raise ValueError(f"unknown device {self.device!r}; use auto, cpu, cuda or cuda:N") from None

    def resolved_device(self) -> torch.device:
        """`device` with "auto" replaced by cuda (when available) or cpu; a one-line ValueError for a
        device this machine does not have."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(self.device)
        if device.type == "mps" and torch.backends.mps.is_available():
            return device
        if device.type not in ("cpu", "cuda"):  # meta holds no numbers; mps, xla, ...: not in this torch
            raise ValueError(f"device {self.device!r} cannot train here; use cpu or cuda (cuda:N)")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} asked for, but this machine has no CUDA GPU (use cpu)")
        if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
            raise ValueError(
                f"device {self.device!r} does not exist: {torch.cuda.device_count()} GPU(s) here"
            )
        return device

    def resolved_channels_last(self, device: torch.device | str | None = None) -> bool:
        """`channels_last`, with None replaced by True on CUDA (NHWC feeds the tensor cores) and False
        on the CPU."""
        if self.channels_last is not None:
            return self.channels_last
        device = torch.device(device) if device is not None else self.resolved_device()
        return device.type == "cuda"

    def resolved_precision(self, device: torch.device | str | None = None) -> str:
        """`precision` with "auto" replaced by what `device` runs natively: bf16 on GPUs of compute
        capability 8.0 or higher (A100, H100), fp16 with a gradient scaler below that (T4, V100: cuDNN
        has no bf16 convolutions there, though torch reports bf16 "supported" by emulation), fp32 on
        the CPU."""
        if self.precision != "auto":
            return self.precision
        device = torch.device(device) if device is not None else self.resolved_device()
        if device.type != "cuda":
            return "fp32"
        return "bf16" if torch.cuda.get_device_capability(device)[0] >= 8 else "fp16"


def env_int(name: str, default: int) -> int:
    """The whole number >= 0 in environment variable `name` (torchrun's RANK, WORLD_SIZE, LOCAL_RANK), or
    `default` when unset or empty; a ValueError naming the variable otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"environment variable {name}={raw!r} must be a whole number >= 0")
    return int(raw)


def lr_at(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """Learning rate for optimiser step `step` (0-based) of `total_steps`.

    onecycle: (step+1)/w * lr during the w = round(warmup * total) warm-up steps, then linear
    decay lr * (total - step) / (total - w). cosine: same warm-up, then
    lr * (1 + cos(pi * (step - w) / (total - w))) / 2. step: lr divided by 10 at every milestone
    passed (He et al. 2015: at 32k and 48k of 64k iterations, i.e. 0.5 and 0.75). constant: lr.
    """
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "step":
        per_epoch = total_steps / cfg.epochs
        marks = [m * total_steps if m < 1 else m * per_epoch for m in cfg.milestones]
        return cfg.lr * 0.1 ** sum(step >= round(m) for m in marks)
    w = round(cfg.warmup * total_steps)
    if step < w:
        return cfg.lr * (step + 1) / w
    t = (step - w) / max(total_steps - w, 1)  # 0 at the peak, -> 1 at the end
    if cfg.schedule == "onecycle":
        return cfg.lr * (1 - t)
    return cfg.lr * (1 + math.cos(math.pi * t)) / 2
