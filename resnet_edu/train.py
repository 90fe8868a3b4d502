"""Training: a frozen config, `fit`, `evaluate`, the learning-rate schedule as a pure function.

`fit` trains on batches from `loader.DeviceLoader` (the dataset resident on the device), writes an
atomic checkpoint after every finished epoch, resumes bit-exactly from one, stops with
`TrainingDiverged` on a NaN/inf loss, and runs unchanged under `torchrun` (DistributedDataParallel).
Every result (`History`) carries the configuration and seed that produced it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .data import ImageSet
from .loader import DeviceLoader

SCHEDULES = ("onecycle", "cosine", "step", "constant")
PRECISIONS = ("auto", "bf16", "fp32")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last checkpoint (if any) is the last good epoch."""


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
    precision: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 on CPU; or "bf16" / "fp32"
    channels_last: bool = False  # NHWC memory layout (faster convolutions on GPU tensor cores)
    compile: bool = False  # torch.compile the model (minutes of compile time, faster epochs)
    seed: int = 0  # seeds the model-independent RNGs and the loader's shuffling and augmentation
    eval_every: int = 1  # evaluate on the test set every this many epochs, and after the last
    device: str = "auto"  # "auto": cuda if available else cpu; or any torch device string

    def __post_init__(self) -> None:
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        if self.batch_size <= 0:
            raise ValueError(f"batch size must be positive, got {self.batch_size}")
        if self.lr < 0 or not math.isfinite(self.lr):
            raise ValueError(f"learning rate must be a finite number >= 0, got {self.lr}")
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

    def resolved_device(self) -> torch.device:
        """`device` with "auto" replaced by cuda (when available) or cpu."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


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


@dataclass
class History:
    """Per-epoch records, the config that produced them, and where/with what they were produced.

    Each record: epoch (1-based), train_loss, train_acc, test_loss, test_acc (None on epochs
    without evaluation), lr (at the epoch's last step), time (s, cumulative wall clock),
    images_per_s (training throughput of the epoch).
    """

    records: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def column(self, key: str) -> list:
        """One value per epoch, e.g. `h.column("test_acc")`."""
        return [r[key] for r in self.records]

    def best(self, key: str = "test_acc") -> float | None:
        """Highest value of an accuracy column (lowest of a loss column), None if never measured."""
        values = [v for v in self.column(key) if v is not None]
        if not values:
            return None
        return min(values) if "loss" in key else max(values)

    def time_to(self, acc: float, key: str = "test_acc") -> float | None:
        """First cumulative time (s) at which `key` reached `acc`, else None."""
        return next((r["time"] for r in self.records if r[key] is not None and r[key] >= acc), None)

    def to_dict(self) -> dict:
        return {"records": self.records, "config": self.config, "meta": self.meta}

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically (temporary file, then rename), so a crash never leaves half a file."""
        _atomic_write(Path(path), lambda f: f.write(json.dumps(self.to_dict(), indent=1).encode()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        d = json.loads(Path(path).read_text())
        return cls(d["records"], d["config"], d["meta"])


def summarize(history: History, target: float = 0.9) -> dict:
    """Best and final test accuracy, time to `target` accuracy, wall time and mean images/s."""
    last = history.records[-1] if history.records else {}
    speeds = history.column("images_per_s")
    return {
        "model": history.meta.get("model"),
        "best_test_acc": history.best("test_acc"),
        "final_test_acc": last.get("test_acc"),
        f"time_to_{round(100 * target)}": history.time_to(target),
        "wall_s": last.get("time"),
        "images_per_s": sum(speeds) / len(speeds) if speeds else None,
    }


# ---- one step, evaluation ----------------------------------------------------------------------


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.SGD:
    """SGD with (Nesterov) momentum and weight decay on every parameter, as in He et al. 2015."""
    return torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov and cfg.momentum > 0,
        weight_decay=cfg.weight_decay,
    )


def autocast_for(cfg: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast when asked for (or "auto" on CUDA), else a no-op context (fp32)."""
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    label_smoothing: float = 0.0,
    autocast: contextlib.AbstractContextManager | None = None,
) -> torch.Tensor:
    """One SGD step on the batch (x, y); returns [loss sum, correct, count] as a tensor (no sync)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast or contextlib.nullcontext():
        logits = model(x)  # (B, classes)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    correct = (logits.argmax(1) == y).sum().float()
    count = torch.full((), float(len(y)), device=x.device)  # a fill kernel, no host-to-device copy
    return torch.stack([loss.detach() * len(y), correct, count])


@torch.no_grad()
def _eval_sums(model: nn.Module, loader: DeviceLoader, autocast=None) -> torch.Tensor:
    """[loss sum, correct, count] over the loader (plain cross-entropy, no label smoothing)."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, device=loader.images.device)
    for x, y in loader:
        with autocast or contextlib.nullcontext():
            logits = model(x).float()
        sums[0] += F.cross_entropy(logits, y, reduction="sum")
        sums[1] += (logits.argmax(1) == y).sum()
        sums[2] += len(y)
    model.train(was_training)
    return sums


def evaluate(
    model: nn.Module, data: DeviceLoader | ImageSet, *, device: str | torch.device | None = None
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of `model` on `data`, in eval mode (BN running statistics).

    `device` defaults to where the model's parameters are; an `ImageSet` is batched there.
    """
    device = torch.device(device) if device else next(model.parameters()).device
    model.to(device)
    if isinstance(data, ImageSet):
        data = DeviceLoader(data, batch_size=512, train=False, device=device)
    loss_sum, correct, count = _eval_sums(model, data).tolist()
    return loss_sum / count, correct / count


# ---- fit ---------------------------------------------------------------------------------------


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
) -> History:
    """Train `model` in place with SGD under `cfg`; return its per-epoch `History`.

    `train`/`test` are `ImageSet`s (batched on the device here) or ready `DeviceLoader`s.
    `checkpoint`: written atomically after every finished epoch; with `resume=True` training
    continues from it (bit-identical to an uninterrupted run on the CPU), or starts fresh when
    the file does not exist yet. Under `torchrun` (WORLD_SIZE > 1) the model is wrapped in
    DistributedDataParallel, every rank trains on its shard, metrics are summed over ranks and only
    rank 0 writes the checkpoint. Raises `TrainingDiverged` on a NaN/inf loss.
    """
    from tqdm.auto import tqdm

    rank, world, device = _init_distributed(cfg)
    torch.manual_seed(cfg.seed)
    train_loader = _as_loader(train, cfg, device, rank, world, training=True)
    test_loader = None if test is None else _as_loader(test, cfg, device, rank, world, training=False)
    model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.preserve_format)
    optimizer = make_optimizer(model, cfg)
    meta = run_meta(cfg, device, name or type(model).__name__) | {"world_size": world}
    history = History(config=dataclasses.asdict(cfg), meta=meta)
    step, first_epoch = 0, 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        step, first_epoch = _load_checkpoint(Path(checkpoint), model, optimizer, history)
    net = model
    if world > 1:
        ids = [device] if device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if cfg.compile:
        net = torch.compile(net)
    autocast = autocast_for(cfg, device)
    total = cfg.epochs * len(train_loader)
    if total == 0:
        raise ValueError(
            f"{len(train_loader.labels)} training images do not fill one batch of {cfg.batch_size}"
        )
    elapsed = history.records[-1]["time"] if history.records else 0.0  # s, before this call
    start = time.perf_counter()
    bar = tqdm(
        total=total, initial=step, disable=not progress or rank != 0, unit="step", desc=name or "train"
    )
    for epoch in range(first_epoch, cfg.epochs):
        train_loader.set_epoch(epoch)
        net.train()
        sums = torch.zeros(3, device=device)  # [loss sum, correct, count] on this rank
        bad = torch.full((), -1, device=device)  # first step of the epoch with a non-finite loss
        t0 = time.perf_counter()
        for i, (x, y) in enumerate(train_loader):
            lr = lr_at(cfg, step, total)
            s = train_step(
                net, optimizer, x, y, lr=lr, label_smoothing=cfg.label_smoothing, autocast=autocast
            )
            bad = torch.where((bad < 0) & ~torch.isfinite(s[0]), i, bad)
            sums += s
            step += 1
            bar.update()
            if world == 1 and i % 50 == 49:  # sync now and then: stop early, show the running loss
                _check_finite(int(bad), epoch, len(train_loader), cfg)
                bar.set_postfix(loss=f"{float(sums[0] / sums[2]):.3f}")
        if world > 1:
            dist.all_reduce(sums)
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        _check_finite(int(bad), epoch, len(train_loader), cfg)  # waits for the device: times are exact
        train_s = time.perf_counter() - t0
        loss_sum, correct, count = sums.tolist()
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / count, "train_acc": correct / count,
               "test_loss": None, "test_acc": None, "lr": lr_at(cfg, step - 1, total)}  # fmt: skip
        if test_loader is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            test_sums = _eval_sums(model if world > 1 else net, test_loader, autocast)
            if world > 1:
                dist.all_reduce(test_sums)
            t_loss, t_correct, t_count = test_sums.tolist()
            rec.update(test_loss=t_loss / t_count, test_acc=t_correct / t_count)
        rec.update(time=elapsed + time.perf_counter() - start, images_per_s=count / train_s)
        history.records.append(rec)
        bar.set_postfix(loss=f"{rec['train_loss']:.3f}", test_acc=rec["test_acc"])
        if checkpoint is not None and rank == 0:
            _save_checkpoint(Path(checkpoint), model, optimizer, step, epoch + 1, history)
    bar.close()
    return history


def _check_finite(bad_step: int, epoch: int, steps: int, cfg: TrainConfig) -> None:
    if bad_step >= 0:
        raise TrainingDiverged(
            f"training diverged: the loss became NaN/inf at epoch {epoch + 1}, step {bad_step + 1}/{steps}; "
            f"try a lower learning rate than {cfg.lr:g} (the last checkpoint holds the last good epoch)"
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
        seed=cfg.seed, augment=training and cfg.augment, channels_last=cfg.channels_last, rank=rank,
        world_size=world,
    )  # fmt: skip


def device_name(device: torch.device | str) -> str:
    """Human-readable name of the GPU or CPU behind `device`."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    return platform.processor() or platform.machine()


def run_meta(cfg: TrainConfig, device: torch.device, model: str | None = None) -> dict:
    """Where and with what a result was produced: seed, device, library versions, model name."""
    import torchvision

    return {
        "model": model, "seed": cfg.seed, "device": str(device), "device_name": device_name(device),
        "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
        "python": platform.python_version(),
    }  # fmt: skip


# ---- checkpoints -------------------------------------------------------------------------------


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}", suffix=".tmp", delete=False
    ) as f:
        try:
            write(f)
        except BaseException:
            f.close()
            os.unlink(f.name)
            raise
    os.replace(f.name, path)  # atomic on POSIX and Windows: readers see the old or the new file


def _save_checkpoint(path: Path, model: nn.Module, optimizer, step: int, epoch: int, history: History):
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
        "history": history.to_dict(), "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }  # fmt: skip
    _atomic_write(path, lambda f: torch.save(state, f))


def _load_checkpoint(path: Path, model: nn.Module, optimizer, history: History) -> tuple[int, int]:
    """Restore model, optimiser, RNGs and records; return (step, finished epochs)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...: all mean "not our checkpoint"
        raise ValueError(
            f"cannot resume: {str(path)!r} is not a readable checkpoint ({type(e).__name__})"
        ) from None
    saved = state["history"]["config"]
    changed = [k for k, v in history.config.items() if k not in ("epochs", "eval_every", "device", "compile")
               and saved.get(k) != v]  # fmt: skip
    if changed:
        raise ValueError(f"cannot resume from {str(path)!r}: it was trained with other {', '.join(changed)}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    history.records[:] = state["history"]["records"]
    torch.set_rng_state(state["rng_cpu"])
    if state["rng_cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng_cuda"])
    return state["step"], state["epoch"]


def load_weights(model: nn.Module, path: str | os.PathLike) -> History:
    """Load a checkpoint's weights into `model`; return the history it was saved with."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    h = state["history"]
    return History(h["records"], h["config"], h["meta"])
