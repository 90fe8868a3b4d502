"""Gradient flow during training: per-stage gradient norms recorded while a network trains.

`traced_fit` trains exactly like `train.fit` (same batches, schedule, optimiser step) and, every few
steps, records the batch loss and ||dL/dW|| of each stage. Lesson 04 uses it to watch an
unnormalised ResNet blow up; lesson 06 to answer "how does gradient flow affect convergence" for
ResNet18 against SimpleCNN (one SGD step lowers the loss by about lr * ||g||^2).
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch
from torch import nn

from .data import ImageSet
from .loader import DeviceLoader
from .train import History, TrainConfig, autocast_for, evaluate, lr_at, make_optimizer, run_meta, train_step


def stage_of(name: str) -> str:
    """The stage a parameter belongs to, for per-stage gradient norms: "stem", "stage1".., "head".

    ResNet: stem.*, stages.<i>.*, fc.*; SimpleCNN: features.<j>.* (conv j // 3 + 1), classifier.*.
    """
    parts = name.split(".")
    if parts[0] == "stages":
        return f"stage{int(parts[1]) + 1}"
    if parts[0] == "features":
        return f"stage{int(parts[1]) // 3 + 1}"
    if parts[0] in ("fc", "classifier", "head_act"):
        return "head"
    return parts[0]


def traced_fit(
    model: nn.Module, train: ImageSet, test: ImageSet | None, cfg: TrainConfig, *, every: int = 10,
    name: str | None = None,
) -> tuple[History, list[dict]]:  # fmt: skip
    """Train like `train.fit` (same batches, schedule, optimiser and step) and every `every` steps
    record the batch loss and the gradient norm ||dL/dW|| of each stage (`stage_of`) and of all weights.

    Returns (History, trace). Trace rows: model, step, epoch, lr, loss, group ("total" or a stage),
    grad_norm, weight_norm. A NaN/inf loss stops training instead of raising: the History's meta then
    says diverged=True and diverged_step (the first recorded step, or the epoch's last step, that saw it),
    and the trace ends there (loss = nan). The loss is read only on recorded steps, so a large `every`
    keeps the GPU pipeline as unsynchronised as `fit`'s.
    """
    device = cfg.resolved_device()
    torch.manual_seed(cfg.seed)
    loader = DeviceLoader(train, batch_size=cfg.batch_size, train=True, device=device, seed=cfg.seed,
                          augment=cfg.augment, channels_last=cfg.channels_last)  # fmt: skip
    model.to(device, memory_format=torch.channels_last if cfg.channels_last else torch.preserve_format)
    optimizer = make_optimizer(model, cfg)
    autocast = autocast_for(cfg, device)
    label = name or type(model).__name__
    history = History(config=dataclasses.asdict(cfg), meta=run_meta(cfg, device, label) | {"diverged": False})
    groups: dict[str, list[nn.Parameter]] = {}
    for pname, p in model.named_parameters():
        groups.setdefault(stage_of(pname), []).append(p)
    total, step, trace = cfg.epochs * len(loader), 0, []
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        loader.set_epoch(epoch)
        model.train()
        sums, t0 = torch.zeros(3, device=device), time.perf_counter()
        for x, y in loader:
            lr = lr_at(cfg, step, total)
            s = train_step(
                model, optimizer, x, y, lr=lr, label_smoothing=cfg.label_smoothing, autocast=autocast
            )
            sums += s
            if step % every == 0:  # the only host-device sync of the loop (a NaN persists until then)
                loss = float(s[0] / s[2])
                norms = {g: _norms(ps) for g, ps in groups.items()}
                norms["total"] = _norms([p for ps in groups.values() for p in ps])
                for g, (gn, wn) in norms.items():
                    trace.append(dict(model=label, step=step, epoch=epoch + 1, lr=lr, loss=loss, group=g,
                                      grad_norm=gn, weight_norm=wn))  # fmt: skip
                if not math.isfinite(loss):
                    history.meta.update(diverged=True, diverged_step=step)
                    break
            step += 1
        loss_sum, correct, count = sums.tolist()
        if not math.isfinite(loss_sum) and not history.meta["diverged"]:
            history.meta.update(diverged=True, diverged_step=step - 1)
        rec = dict(epoch=epoch + 1, train_loss=loss_sum / count, train_acc=correct / count,
                   test_loss=None, test_acc=None, lr=lr, time=0.0,
                   images_per_s=count / (time.perf_counter() - t0))  # fmt: skip
        if test is not None and not history.meta["diverged"]:
            rec["test_loss"], rec["test_acc"] = evaluate(model, test)
        rec["time"] = time.perf_counter() - start
        history.records.append(rec)
        if history.meta["diverged"]:
            break
    return history, trace


def divergence_summary(runs: dict[str, tuple[History, list[dict]]]) -> list[dict]:
    """One row per `traced_fit` run (label -> (History, trace)): whether and where it diverged.

    Row: model, diverged, diverged_step (None if it did not), first_loss and peak_loss (the largest
    finite recorded batch loss: how far it blew up before NaN/inf), final_train_loss (the last
    finished epoch's mean; None when the loss was NaN/inf there), final_test_acc (None when it
    diverged: no usable network to test), epochs (finished or cut short).
    """
    rows = []
    for label, (hist, trace) in runs.items():
        losses = [r["loss"] for r in trace if r["group"] == "total"]
        finite = [v for v in losses if math.isfinite(v)]
        last = hist.records[-1] if hist.records else {}
        train_loss = last.get("train_loss")
        if train_loss is not None and not math.isfinite(train_loss):
            train_loss = None
        rows.append(dict(model=label, diverged=hist.meta.get("diverged", False),
                         diverged_step=hist.meta.get("diverged_step"),
                         first_loss=losses[0] if losses else None, peak_loss=max(finite) if finite else None,
                         final_train_loss=train_loss, final_test_acc=last.get("test_acc"),
                         epochs=len(hist.records)))  # fmt: skip
    return rows


def _norms(params: list[nn.Parameter]) -> tuple[float, float]:
    """(||grad||, ||weight||) over a list of parameters, their tensors taken together."""
    grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
    gn = float(torch.stack(grads).norm()) if grads else 0.0
    return gn, float(torch.stack([p.detach().float().norm() for p in params]).norm())


def grad_flow_summary(trace: list[dict]) -> list[dict]:
    """Per model, from a `traced_fit` trace: mean gradient norm of the first and the last stage over
    the recorded steps, their ratio (how much of the gradient reaches the first layers), the mean
    total gradient norm, and the first and last recorded loss. (One SGD step lowers the loss by about
    lr * ||g||^2 to first order, so a larger total gradient means faster early progress.)"""
    rows = []
    for label in dict.fromkeys(r["model"] for r in trace):
        mine = [r for r in trace if r["model"] == label]
        stages = [g for g in dict.fromkeys(r["group"] for r in mine) if g != "total"]
        first, last = stages[0], stages[-1]
        mean = {g: _mean([r["grad_norm"] for r in mine if r["group"] == g]) for g in (first, last, "total")}
        totals = [r for r in mine if r["group"] == "total"]
        rows.append(dict(model=label, first_stage=first, last_stage=last, grad_first=mean[first],
                         grad_last=mean[last], first_over_last=mean[first] / mean[last],
                         grad_total=mean["total"], loss_start=totals[0]["loss"],
                         loss_end=totals[-1]["loss"]))  # fmt: skip
    return rows


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
