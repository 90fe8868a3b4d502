"""Gradient flow during training: per-stage gradient norms recorded by a `fit` callback.

`GradientRecorder` watches `train.fit` (the one training loop): every `every` steps it computes
||dL/dW|| and ||W|| of each stage in one fused call on the device and reads them back once, so
recording costs one host synchronisation per `every` steps. Lesson 04 uses it to watch an
unnormalised ResNet blow up; lesson 06 to relate gradient flow to convergence.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .records import History, Record
from .train import Step, TrainingDiverged, fit


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


class GradientRecorder:
    """A `fit` callback: every `every` steps, the batch loss and per-stage gradient and weight norms.

    `rows` (one per recorded step and group, group "total" for all parameters together): model,
    step, epoch (1-based), lr, loss, group, grad_norm, weight_norm. After the first non-finite loss
    nothing more is recorded (what follows is NaN).
    """

    def __init__(self, model: nn.Module, *, every: int = 10, label: str | None = None):
        if every <= 0:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.every, self.label, self.rows = every, label or type(model).__name__, []
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.groups = list(dict.fromkeys(stage_of(n) for n, _ in named))  # stages in forward order
        self.params = [p for _, p in named]
        group_of = [self.groups.index(stage_of(n)) for n, _ in named]
        self._index = torch.tensor(group_of)  # parameter -> its group
        self._stopped = False

    def __call__(self, s: Step) -> None:
        if self._stopped or s.step % self.every:
            return
        dev = self.params[0].device
        grads = [p.grad.detach() if p.grad is not None else torch.zeros((), device=dev) for p in self.params]
        squares = torch.stack([  # (2, P): squared gradient and weight norms, two fused kernels
            torch.stack(torch._foreach_norm(grads)).float() ** 2,
            torch.stack(torch._foreach_norm([p.detach() for p in self.params])).float() ** 2,
        ])  # fmt: skip
        per_group = squares.new_zeros(2, len(self.groups)).index_add_(1, self._index.to(dev), squares)
        norms = torch.cat([per_group, squares.sum(1, keepdim=True)], 1).sqrt()  # (2, groups + 1)
        loss = s.stats[0] / s.stats[2]
        values = torch.cat([loss.view(1).float(), norms.flatten()]).tolist()  # the one host sync
        loss, grad, weight = values[0], values[1 : 2 + len(self.groups)], values[2 + len(self.groups) :]
        for g, gn, wn in zip([*self.groups, "total"], grad, weight):
            self.rows.append(dict(model=self.label, step=s.step, epoch=s.epoch + 1, lr=s.lr, loss=loss,
                                  group=g, grad_norm=gn, weight_norm=wn))  # fmt: skip
        self._stopped = not math.isfinite(loss)


def divergence_summary(runs: dict[str, tuple[History, list[Record]]]) -> list[Record]:
    """One row per run (label -> (History, `GradientRecorder.rows`)): whether and where it diverged.

    Row: model, diverged, diverged_step (None if it did not), first_loss and peak_loss (the largest
    finite recorded batch loss: how far it blew up before NaN/inf), final_train_loss (the last
    finished epoch's mean, None if none finished), final_test_acc (None when it diverged: no usable
    network to test), epochs (finished).
    """
    rows = []
    for label, (hist, trace) in runs.items():
        losses = [r["loss"] for r in trace if r["group"] == "total"]
        finite = [v for v in losses if math.isfinite(v)]
        diverged = hist.meta.get("diverged", False)
        last = hist.records[-1] if hist.records else {}
        rows.append(dict(model=label, diverged=diverged, diverged_step=hist.meta.get("diverged_step"),
                         first_loss=losses[0] if losses else None, peak_loss=max(finite) if finite else None,
                         final_train_loss=last.get("train_loss"),
                         final_test_acc=None if diverged else last.get("test_acc"),
                         epochs=len(hist.records)))  # fmt: skip
    return rows


def grad_flow_summary(trace: list[dict]) -> list[dict]:
    """Per model, from `GradientRecorder` rows: mean gradient norm of the first and the last stage over
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


def fit_recorded(
    model: nn.Module, train, test, cfg, *, every: int = 10, name: str | None = None, **fit_kw
) -> tuple[History, list[Record]]:
    """`train.fit` with a `GradientRecorder`; returns (History, recorder rows). A divergence ends the
    run and is returned, not raised: the History's meta then says diverged=True and where."""
    recorder = GradientRecorder(model, every=every, label=name)
    try:
        history = fit(model, train, test, cfg, name=name, callbacks=[recorder], **fit_kw)
    except TrainingDiverged as e:
        history = e.history
    return history, recorder.rows
