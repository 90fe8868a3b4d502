"""Training: the one loop that steps an optimiser in this library.

`fit` reads like a reference training script: for each epoch, `train_epoch` (a `step.train_step` per
batch), then `evaluate_epoch`
when the test set is due, then `epoch_record`, then a checkpoint. Around that it keeps the dataset on
the device (`data.loader.DeviceLoader`), writes an atomic checkpoint after every finished epoch and
resumes bit-exactly from one, raises `TrainingDiverged` (carrying the partial `History`) on a NaN/inf
loss, calls per-step callbacks (for example `measure.gradflow.GradientRecorder`), and runs unchanged
under `torchrun` (DistributedDataParallel). Every result carries the configuration, seed and device.
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
from torch import nn

from ..data.loader import DeviceLoader
from ..data.sets import ImageSet
from ..nets.modules import preserved
from .checkpoints import load_checkpoint, save_checkpoint
from .config import TrainConfig, env_int, lr_at
from .evaluation import loss_sums
from .records import History, Record, run_meta
from .step import autocast_for, make_optimizer, train_step


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


@dataclass(frozen=True)
class Loop:
    """What every step of one `fit` call shares."""

    net: nn.Module  # what steps: the model, or its DDP / compiled wrapper
    model: nn.Module  # the model itself, as callbacks see it
    optimizer: torch.optim.Optimizer
    cfg: TrainConfig
    total: int  # optimiser steps in the whole run
    world: int  # DDP ranks
    autocast: contextlib.AbstractContextManager
    scaler: torch.amp.GradScaler | None
    callbacks: Sequence[Callback]


def fit(
    model: nn.Module,
    train: DeviceLoader | ImageSet,
    test: DeviceLoader | ImageSet | None,
    cfg: TrainConfig,
    *,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    name: str | None = None,
    callbacks: Sequence[Callback] = (),
    meta: dict | None = None,
    on_checkpoint: Callable[[], None] | None = None,
) -> History:
    """Train `model` in place with SGD under `cfg`; return its per-epoch `History`.

    `train`/`test` are `ImageSet`s (batched on the device here) or ready `DeviceLoader`s.
    `checkpoint`: written atomically after every finished epoch; with `resume=True` training
    continues from it (bit-identical to an uninterrupted run on the CPU), or starts fresh when
    the file does not exist yet. `callbacks` are called after every optimiser step with a `Step`.
    `meta` adds to the history's description (for example the data source and the setting);
    `on_checkpoint()` is called after every checkpoint written.
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
    described = dict(model=name or type(model).__name__, seed=cfg.seed, precision=precision, world_size=world)
    history = History(config=dataclasses.asdict(cfg), meta=run_meta(device, **described | (meta or {})))
    step, first_epoch = 0, 0
    if resume and Path(checkpoint).exists():
        step, first_epoch = load_checkpoint(checkpoint, model, optimizer, history)
        if first_epoch > cfg.epochs:  # else the history would say epochs=N beside more than N records
            raise ValueError(
                f"cannot resume {str(checkpoint)!r} with epochs={cfg.epochs}: it has already finished "
                f"{first_epoch} epochs; ask for at least that many"
            )
    net = nn.parallel.DistributedDataParallel(model, device_ids=_ddp_ids(device)) if world > 1 else model
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    net = torch.compile(net) if cfg.compile else net
    autocast = autocast_for(precision, device)
    loop = Loop(net, model, optimizer, cfg, total, world, autocast, scaler, tuple(callbacks))
    elapsed = history.records[-1]["time"] if history.records else 0.0  # s, before this call
    start = time.perf_counter()
    bar = tqdm(
        total=total, initial=step, disable=not progress or rank != 0, unit="step", desc=name or "train"
    )
    try:
        for epoch in range(first_epoch, cfg.epochs):
            began = time.perf_counter()
            sums, step = train_epoch(loop, train_loader, epoch, step, history, bar)
            train_s = time.perf_counter() - began
            check_weights(model, epoch, step - 1, cfg, history)
            due = test_loader is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs)
            test_sums = evaluate_epoch(loop, test_loader) if due else None
            if test_sums is not None and not bool(torch.isfinite(test_sums[0])):
                diverge(history, epoch, step - 1, cfg, "the test loss became NaN/inf")
            wall = elapsed + time.perf_counter() - start
            history.records.append(
                epoch_record(epoch, sums, test_sums, lr_at(cfg, step - 1, total), wall, train_s)
            )
            bar.set_postfix(
                loss=f"{history.records[-1]['train_loss']:.3f}", test_acc=history.records[-1]["test_acc"]
            )
            if checkpoint is not None and rank == 0:  # outside the timed epoch
                save_checkpoint(checkpoint, model, optimizer, step, epoch + 1, history)
                if on_checkpoint is not None:
                    on_checkpoint()
    finally:
        bar.close()  # before any error line is printed
    return history


def train_epoch(loop: Loop, loader: DeviceLoader, epoch: int, step: int, history: History, bar) -> tuple:
    """One pass over the training shard: a `train_step` per batch, the callbacks after each.

    Returns ([loss sum, correct, count] summed over ranks, the step count after the epoch). Checks
    the loss for NaN/inf every 50 steps (one host sync each) and at the end of the epoch.
    """
    loader.set_epoch(epoch)
    loop.net.train()
    device = loader.labels.device
    sums = torch.zeros(3, device=device)  # [loss sum, correct, count] on this rank
    bad = torch.full((), -1, device=device)  # first step of the epoch with a non-finite loss
    for i, (x, y) in enumerate(loader):
        lr = lr_at(loop.cfg, step, loop.total)
        s = train_step(
            loop.net,
            loop.optimizer,
            x,
            y,
            lr=lr,
            label_smoothing=loop.cfg.label_smoothing,
            autocast=loop.autocast,
            scaler=loop.scaler,
        )
        bad = torch.where((bad < 0) & ~torch.isfinite(s[0]), i, bad)
        sums += s
        for callback in loop.callbacks:
            callback(Step(step, epoch, lr, s, loop.model))
        step += 1
        bar.update()
        if loop.world == 1 and i % 50 == 49:  # sync now and then: stop early, show the running loss
            _check_finite(int(bad), epoch, len(loader), loop.cfg, history)
            bar.set_postfix(loss=f"{float(sums[0] / sums[2]):.3f}")
    if loop.world > 1:
        dist.all_reduce(sums)
        dist.all_reduce(bad, op=dist.ReduceOp.MAX)
    _check_finite(int(bad), epoch, len(loader), loop.cfg, history)  # waits for the device
    return sums, step


def evaluate_epoch(loop: Loop, loader: DeviceLoader) -> torch.Tensor:
    """[loss sum, correct, count] on the test set in eval mode (BN running statistics), over all ranks."""
    with preserved(loop.model, False):
        sums = loss_sums(loop.model if loop.world > 1 else loop.net, loader, autocast=loop.autocast)
    if loop.world > 1:
        dist.all_reduce(sums)
    return sums


def epoch_record(
    epoch: int,
    train_sums: torch.Tensor,
    test_sums: torch.Tensor | None,
    lr: float,
    wall_s: float,
    train_s: float,
) -> Record:
    """One row of the History: epoch (1-based), train_loss, train_acc, test_loss, test_acc (None when
    not evaluated), lr (at the epoch's last step), time (s since the run began), images_per_s."""
    loss_sum, correct, count = train_sums.tolist()
    test_loss = test_acc = None
    if test_sums is not None:
        t_loss, t_correct, t_count = test_sums.tolist()
        test_loss, test_acc = t_loss / t_count, t_correct / t_count
    return dict(
        epoch=epoch + 1,
        train_loss=loss_sum / count,
        train_acc=correct / count,
        test_loss=test_loss,
        test_acc=test_acc,
        lr=lr,
        time=wall_s,
        images_per_s=count / train_s,
    )


def _check_finite(bad_step: int, epoch: int, steps: int, cfg: TrainConfig, history: History) -> None:
    if bad_step >= 0:
        what = f"the loss became NaN/inf at epoch {epoch + 1}, step {bad_step + 1}/{steps}"
        diverge(history, epoch, epoch * steps + bad_step, cfg, what)


def check_weights(model: nn.Module, epoch: int, step: int, cfg: TrainConfig, history: History) -> None:
    """`TrainingDiverged` when a weight or a running statistic is NaN/inf (one host sync): a NaN
    momentum or a huge step can spoil the weights while every batch's loss still looked finite."""
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    if tensors and not bool(torch.stack([t.detach().isfinite().all() for t in tensors]).all()):
        diverge(history, epoch, step, cfg, f"the weights became NaN/inf in epoch {epoch + 1}")


def diverge(history: History, epoch: int, step: int, cfg: TrainConfig, what: str) -> None:
    """Mark `history` diverged at 0-based `epoch` and optimiser `step`; raise `TrainingDiverged`."""
    history.meta.update(diverged=True, diverged_epoch=epoch + 1, diverged_step=step)
    raise TrainingDiverged(
        f"training diverged: {what}; try a lower learning rate than {cfg.lr:g} "
        "(the last checkpoint holds the last good epoch)",
        history,
    )


def _init_distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins the process group when torchrun set WORLD_SIZE > 1."""
    device = cfg.resolved_device()
    if env_int("WORLD_SIZE", 1) <= 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", env_int("LOCAL_RANK", 0))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def _ddp_ids(device: torch.device) -> list | None:
    return [device] if device.type == "cuda" else None


def _as_loader(data, cfg: TrainConfig, device, rank: int, world: int, *, training: bool) -> DeviceLoader:
    if isinstance(data, DeviceLoader):
        return data
    if training and cfg.batch_size % world:
        raise ValueError(f"batch size {cfg.batch_size} must be divisible by the {world} DDP ranks")
    return DeviceLoader(
        data,
        batch_size=cfg.batch_size // world if training else 512,
        train=training,
        device=device,
        seed=cfg.seed,
        augment=training and cfg.augment,
        channels_last=cfg.resolved_channels_last(device),
        rank=rank,
        world_size=world,
    )
