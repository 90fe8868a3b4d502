"""Gradient flow during training: per-stage gradient norms recorded by a `fit` callback.

`GradientRecorder` watches `training.fit` (the one training loop): every `every` steps it computes
||dL/dW|| and ||W|| of each stage in one fused call on the device and reads them back once, so
recording costs one host synchronisation per `every` steps. `train_recorded` trains every model and
seed with one; `stage_summary` and `first_to_head` reduce the trace to one row per model, seed and
stage. Lesson 04 uses it to watch an unnormalised ResNet blow up; lesson 06 to see which layers get
gradient. Gradients through depth at initialisation live in `gradients`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..data.sets import ImageSet
from ..training.config import TrainConfig
from ..training.fit import Step
from ..training.records import History, Record
from ..training.seeded import Builders, train_models


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
    step, epoch (1-based), lr, loss, group, numel (parameters in the group), grad_norm, grad_rms
    (grad_norm / sqrt(numel): the gradient per parameter, comparable between groups of different
    sizes), weight_norm. After the first non-finite loss nothing more is recorded (what follows is NaN).
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
        self.numel = [0] * len(self.groups)  # parameters per group, then all of them
        for p, k in zip(self.params, group_of):
            self.numel[k] += p.numel()
        self.numel.append(sum(self.numel))
        self._stopped = False

    def __call__(self, s: Step) -> None:
        if self._stopped or s.step % self.every:
            return
        dev = self.params[0].device
        grads = [p.grad.detach() if p.grad is not None else torch.zeros((), device=dev) for p in self.params]
        squares = torch.stack(  # (2, P): squared gradient and weight norms, two fused kernels
            [
                torch.stack(torch._foreach_norm(grads)).float() ** 2,
                torch.stack(torch._foreach_norm([p.detach() for p in self.params])).float() ** 2,
            ]
        )
        per_group = squares.new_zeros(2, len(self.groups)).index_add_(1, self._index.to(dev), squares)
        norms = torch.cat([per_group, squares.sum(1, keepdim=True)], 1).sqrt()  # (2, groups + 1)
        loss = s.stats[0] / s.stats[2]
        values = torch.cat([loss.view(1).float(), norms.flatten()]).tolist()  # the one host sync
        loss, grad, weight = values[0], values[1 : 2 + len(self.groups)], values[2 + len(self.groups) :]
        for g, n, gn, wn in zip([*self.groups, "total"], self.numel, grad, weight):
            self.rows.append(
                dict(
                    model=self.label,
                    step=s.step,
                    epoch=s.epoch + 1,
                    lr=s.lr,
                    loss=loss,
                    group=g,
                    numel=n,
                    grad_norm=gn,
                    grad_rms=gn / n**0.5,
                    weight_norm=wn,
                )
            )
        self._stopped = not math.isfinite(loss)


def train_recorded(
    models: Builders,
    train: ImageSet,
    test: ImageSet | None,
    cfg: TrainConfig | Mapping[str, TrainConfig],
    *,
    seeds: Sequence[int],
    every: int = 10,
    progress: bool = False,
    meta: dict | None = None,
) -> tuple[list[History], list[Record]]:
    """`training.train_models` with a `GradientRecorder` on every run: (Histories, recorder rows with
    model and seed). A run that diverges ends there and says so in its History (diverged, where);
    its trace stops at the first non-finite loss."""
    recorders: dict[tuple[str, int], GradientRecorder] = {}

    def callbacks(net: nn.Module, name: str, seed: int) -> list[GradientRecorder]:
        recorders[name, seed] = GradientRecorder(net, every=every, label=name)
        return [recorders[name, seed]]

    histories = train_models(
        models, train, test, cfg, seeds=seeds, progress=progress, callbacks=callbacks, meta=meta
    )
    trace = [dict(r, seed=seed) for (name, seed), rec in recorders.items() for r in rec.rows]
    return histories, trace


def divergence_summary(histories: Sequence[History], trace: Sequence[Record]) -> list[Record]:
    """One row per run (model and seed) of `train_recorded`: whether and where it diverged.

    Row: model, seed, diverged, diverged_step (None if it did not), first_loss and peak_loss (the
    largest finite recorded batch loss: how far it blew up before NaN/inf), final_train_loss (the last
    finished epoch's mean, None if none finished), final_test_acc (None when it diverged: no usable
    network to test), epochs (finished).
    """
    rows = []
    for h in histories:
        model, seed = h.meta.get("model"), h.meta.get("seed")
        losses = [
            r["loss"] for r in trace if (r["model"], r.get("seed")) == (model, seed) and r["group"] == "total"
        ]
        finite = [v for v in losses if math.isfinite(v)]
        diverged = h.meta.get("diverged", False)
        last = h.records[-1] if h.records else {}
        rows.append(
            dict(
                model=model,
                seed=seed,
                diverged=diverged,
                diverged_step=h.meta.get("diverged_step"),
                first_loss=losses[0] if losses else None,
                peak_loss=max(finite) if finite else None,
                final_train_loss=last.get("train_loss"),
                final_test_acc=None if diverged else last.get("test_acc"),
                epochs=len(h.records),
            )
        )
    return rows


def stage_summary(trace: Sequence[Record]) -> list[Record]:
    """Per model, seed and stage (forward order) of `GradientRecorder` rows, averaged over the recorded
    steps: numel, grad_rms (the gradient per parameter) and share, the stage's part of ||g||^2
    (grad_norm^2 / total^2): its part of the first-order decrease lr ||g||^2 of a plain SGD step.
    Norms alone would rank stages by their size (a 1,290-parameter head against a 500,000-parameter
    stage); per parameter they compare. `course.stats.summary` turns the seeds into mean ± sd."""
    rows = []
    for model, seed in dict.fromkeys((r["model"], r.get("seed")) for r in trace):
        mine = [r for r in trace if r["model"] == model and r.get("seed") == seed]
        total = {r["step"]: r["grad_norm"] ** 2 for r in mine if r["group"] == "total"}
        for group in dict.fromkeys(r["group"] for r in mine if r["group"] != "total"):
            part = [r for r in mine if r["group"] == group]
            shares = [r["grad_norm"] ** 2 / total[r["step"]] for r in part if total[r["step"]] > 0]
            rows.append(
                dict(
                    model=model,
                    seed=seed,
                    stage=group,
                    numel=part[0]["numel"],
                    grad_rms=_mean([r["grad_rms"] for r in part]),
                    share=_mean(shares) if shares else math.nan,
                )
            )
    return rows


def first_to_head(trace: Sequence[Record]) -> list[Record]:
    """Per model and seed, the per-parameter gradient (grad_rms, mean over the recorded steps) of the
    first stage over that of the last (the head), from `GradientRecorder` rows: far below 1 means
    starved first layers, whatever the stages' sizes."""
    rows = []
    summary = stage_summary(trace)
    for model, seed in dict.fromkeys((r["model"], r["seed"]) for r in summary):
        stages = [r for r in summary if (r["model"], r["seed"]) == (model, seed)]
        first, head = stages[0], stages[-1]
        rows.append(
            dict(
                model=model,
                seed=seed,
                first=first["stage"],
                head=head["stage"],
                ratio=first["grad_rms"] / head["grad_rms"],
            )
        )
    return rows


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)
