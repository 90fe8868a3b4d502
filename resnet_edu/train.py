"""Training: the one loop that steps an optimiser in this library.

`fit` trains on batches from `loader.DeviceLoader` (the dataset resident on the device), writes an
atomic checkpoint after every finished epoch, resumes bit-exactly from one, raises
`TrainingDiverged` (carrying the partial `History`) on a NaN/inf loss, calls per-step callbacks
(for example `gradflow.GradientRecorder`), and runs unchanged under `torchrun`
(DistributedDataParallel). Every result carries the configuration, seed and device behind it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .checkpoints import load_checkpoint, save_checkpoint
from .config import TrainConfig, lr_at
from .data import ImageSet
from .loader import DeviceLoader
from .records import History, run_meta
from .tensors import loss_sums, model_device, preserved

__all__ = ["Step", "TrainConfig", "TrainingDiverged", "evaluate", "fit", "lr_at", "train_step"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite. `history` holds the epochs finished before (and its meta the
    step that diverged); the last checkpoint, if any, is the last good epoch."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


@dataclass(frozen=True)
class Step:
    """What a `fit` callback sees after every optimiser step; tensors stay on the device."""

    step: int  # 0-based optimiser step just taken, counted over the whole run
    epoch: int  # 0-based epoch
    lr: float  # learning rate of this step
    stats: torch.Tensor  # [loss sum, correct, count] of this step's batch (no host sync)
    model: nn.Module  # the model being trained (not its DDP or compiled wrapper)


Callback = Callable[[Step], None]


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.SGD:
    """SGD with (Nesterov) momentum and weight decay on every parameter, as in He et al. 2015;
    the fused kernel on CUDA (one launch for all parameters)."""
    return torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0,
        weight_decay=cfg.weight_decay, fused=True if device.type == "cuda" else None,
    )  # fmt: skip


def autocast_for(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast to bf16 or fp16 for those precisions, else a no-op context (fp32)."""
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtypes[precision])


def train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *, lr: float,
    label_smoothing: float = 0.0, autocast: contextlib.AbstractContextManager | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:  # fmt: skip
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


def fit(
    model: nn.Module, train: DeviceLoader | ImageSet, test: DeviceLoader | ImageSet | None, cfg: TrainConfig,
    *, checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
    name: str | None = None, callbacks: Sequence[Callback] = (), meta: dict | None = None,
) -> History:  # fmt: skip
    """Train `model` in place with SGD under `cfg`; return its per-epoch `History`.

    `train`/`test` are `ImageSet`s (batched on the device here) or ready `DeviceLoader`s.
    `checkpoint`: written atomically after every finished epoch; with `resume=True` training
    continues from it (bit-identical to an uninterrupted run on the CPU), or starts fresh when
    the file does not exist yet. `callbacks` are called after every optimiser step with a `Step`.
    `meta` adds to the history's description (for example the data source and the setting).
    Under `torchrun` (WORLD_SIZE > 1) the model is wrapped in DistributedDataParallel, every rank
    trains on its shard, metrics are summed over ranks and only rank 0 writes the checkpoint.
    Raises `TrainingDiverged`, carrying the partial history, on a NaN/inf loss.
    """
    from tqdm.auto import tqdm

    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path to resume from")
    rank, world, device = _init_distributed(cfg)
    torch.manual_seed(cfg.seed)
    train_loader = _as_loader(train, cfg, device, rank, world, training=True)
    test_loader = None if test is None else _as_loader(test, cfg, device, rank, world, training=False)
    total = cfg.epochs * len(train_loader)
    if total == 0:
        raise ValueError(
            f"{len(train_loader.labels)} training images do not fill one batch of {cfg.batch_size}"
        )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels once
    nhwc = cfg.resolved_channels_last(device)
    model.to(device, memory_format=torch.channels_last if nhwc else torch.preserve_format)
    optimizer = make_optimizer(model, cfg, device)
    precision = cfg.resolved_precision(device)
    history = History(config=dataclasses.asdict(cfg), meta=run_meta(
        device, model=name or type(model).__name__, seed=cfg.seed, precision=precision, world_size=world,
    ) | (meta or {}))  # fmt: skip
    step, first_epoch = 0, 0
    if resume and Path(checkpoint).exists():
        step, first_epoch = load_checkpoint(checkpoint, model, optimizer, history)
    net = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    if cfg.compile:
        net = torch.compile(net)
    autocast = autocast_for(precision, device)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    elapsed = history.records[-1]["time"] if history.records else 0.0  # s, before this call
    start = time.perf_counter()
    bar = tqdm(
        total=total, initial=step, disable=not progress or rank != 0, unit="step", desc=name or "train"
    )
    try:
        for epoch in range(first_epoch, cfg.epochs):
            train_loader.set_epoch(epoch)
            net.train()
            sums = torch.zeros(3, device=device)  # [loss sum, correct, count] on this rank
            bad = torch.full((), -1, device=device)  # first step of the epoch with a non-finite loss
            t0 = time.perf_counter()
            for i, (x, y) in enumerate(train_loader):
                lr = lr_at(cfg, step, total)
                s = train_step(net, optimizer, x, y, lr=lr, label_smoothing=cfg.label_smoothing,
                               autocast=autocast, scaler=scaler)  # fmt: skip
                bad = torch.where((bad < 0) & ~torch.isfinite(s[0]), i, bad)
                sums += s
                for callback in callbacks:
                    callback(Step(step, epoch, lr, s, model))
                step += 1
                bar.update()
                if world == 1 and i % 50 == 49:  # sync now and then: stop early, show the running loss
                    _check_finite(int(bad), epoch, len(train_loader), cfg, history)
                    bar.set_postfix(loss=f"{float(sums[0] / sums[2]):.3f}")
            if world > 1:
                dist.all_reduce(sums)
                dist.all_reduce(bad, op=dist.ReduceOp.MAX)
            _check_finite(int(bad), epoch, len(train_loader), cfg, history)  # waits for the device
            train_s = time.perf_counter() - t0
            loss_sum, correct, count = sums.tolist()
            rec = {"epoch": epoch + 1, "train_loss": loss_sum / count, "train_acc": correct / count,
                   "test_loss": None, "test_acc": None, "lr": lr_at(cfg, step - 1, total)}  # fmt: skip
            if test_loader is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
                with preserved(model, False):
                    test_sums = loss_sums(model if world > 1 else net, test_loader, autocast=autocast)
                if world > 1:
                    dist.all_reduce(test_sums)
                t_loss, t_correct, t_count = test_sums.tolist()
                rec.update(test_loss=t_loss / t_count, test_acc=t_correct / t_count)
            rec.update(time=elapsed + time.perf_counter() - start, images_per_s=count / train_s)
            history.records.append(rec)
            bar.set_postfix(loss=f"{rec['train_loss']:.3f}", test_acc=rec["test_acc"])
            if checkpoint is not None and rank == 0:  # outside the timed epoch
                save_checkpoint(checkpoint, model, optimizer, step, epoch + 1, history)
    finally:
        bar.close()  # before any error line is printed
    return history


def _check_finite(bad_step: int, epoch: int, steps: int, cfg: TrainConfig, history: History) -> None:
    if bad_step >= 0:
        history.meta.update(diverged=True, diverged_epoch=epoch + 1, diverged_step=epoch * steps + bad_step)
        raise TrainingDiverged(
            f"training diverged: the loss became NaN/inf at epoch {epoch + 1}, step {bad_step + 1}/{steps}; "
            f"try a lower learning rate than {cfg.lr:g} (the last checkpoint holds the last good epoch)",
            history,
        )


def _init_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when torchrun set WORLD_SIZE > 1."""
    device = cfg.resolved_device()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def _as_loader(data, cfg: TrainConfig, device, rank: int, world: int, *, training: bool) -> DeviceLoader:
    if isinstance(data, DeviceLoader):
        return data
    if training and cfg.batch_size % world:
        raise ValueError(f"batch size {cfg.batch_size} must be divisible by the {world} DDP ranks")
    return DeviceLoader(
        data, batch_size=cfg.batch_size // world if training else 512, train=training, device=device,
        seed=cfg.seed, augment=training and cfg.augment, channels_last=cfg.resolved_channels_last(device),
        rank=rank, world_size=world,
    )  # fmt: skip
