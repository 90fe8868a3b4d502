"""Gradient flow during training: per-stage gradient norms recorded by a `fit` callback.

`GradientRecorder` watches `train.fit` (the one training loop): every `every` steps it computes
||dL/dW|| and ||W|| of each stage in one fused call on the device and reads them back once, so
recording costs one host synchronisation per `every` steps. Lesson 04 uses it to watch an
unnormalised ResNet blow up; lesson 06 to relate gradient flow to convergence.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from .config import TrainConfig
from .probes import activation_grad_norms
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
        squares = torch.stack([  # (2, P): squared gradient and weight norms, two fused kernels
            torch.stack(torch._foreach_norm(grads)).float() ** 2,
            torch.stack(torch._foreach_norm([p.detach() for p in self.params])).float() ** 2,
        ])  # fmt: skip
        per_group = squares.new_zeros(2, len(self.groups)).index_add_(1, self._index.to(dev), squares)
        norms = torch.cat([per_group, squares.sum(1, keepdim=True)], 1).sqrt()  # (2, groups + 1)
        loss = s.stats[0] / s.stats[2]
        values = torch.cat([loss.view(1).float(), norms.flatten()]).tolist()  # the one host sync
        loss, grad, weight = values[0], values[1 : 2 + len(self.groups)], values[2 + len(self.groups) :]
        for g, n, gn, wn in zip([*self.groups, "total"], self.numel, grad, weight):
            self.rows.append(dict(model=self.label, step=s.step, epoch=s.epoch + 1, lr=s.lr, loss=loss,
                                  group=g, numel=n, grad_norm=gn, grad_rms=gn / n**0.5,
                                  weight_norm=wn))  # fmt: skip
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


def grad_flow_summary(trace: Sequence[Record]) -> list[Record]:
    """Per model and stage (forward order), from `GradientRecorder` rows over steps and seeds: numel,
    the gradient per parameter grad_rms (mean over the recorded steps of each seed, then mean and sd
    over seeds), and share, the stage's mean part of ||g||^2 (grad_norm^2 / total^2): its part of the
    first-order decrease lr ||g||^2 of a plain SGD step. Norms alone would rank stages by their size
    (a 1,290-parameter head against a 500,000-parameter one); per parameter they compare."""
    rows = []
    for label in dict.fromkeys(r["model"] for r in trace):
        mine = [r for r in trace if r["model"] == label]
        total = {(r.get("seed"), r["step"]): r["grad_norm"] ** 2 for r in mine if r["group"] == "total"}
        for group in dict.fromkeys(r["group"] for r in mine if r["group"] != "total"):
            part = [r for r in mine if r["group"] == group]
            per_seed = list(_rms_per_seed(part).values())
            shares = [r["grad_norm"] ** 2 / total[(r.get("seed"), r["step"])] for r in part
                      if total[(r.get("seed"), r["step"])] > 0]  # fmt: skip
            rows.append(dict(model=label, stage=group, numel=part[0]["numel"], grad_rms=_mean(per_seed),
                             grad_rms_sd=statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0,
                             share=_mean(shares), seeds=len(per_seed)))  # fmt: skip
    return rows


def first_to_head(trace: Sequence[Record]) -> list[Record]:
    """Per model and seed, the per-parameter gradient (grad_rms, mean over the recorded steps) of the
    first stage over that of the last (the head), from `GradientRecorder` rows: far below 1 means
    starved first layers, whatever the stages' sizes."""
    rows = []
    for label in dict.fromkeys(r["model"] for r in trace):
        mine = [r for r in trace if r["model"] == label and r["group"] != "total"]
        groups = list(dict.fromkeys(r["group"] for r in mine))
        first, head = (_rms_per_seed([r for r in mine if r["group"] == g]) for g in (groups[0], groups[-1]))
        ends = dict(model=label, first=groups[0], head=groups[-1])
        rows += [dict(ends, seed=seed, ratio=first[seed] / head[seed]) for seed in first]
    return rows


def _rms_per_seed(part: Sequence[Record]) -> dict:
    """{seed: mean grad_rms over the recorded steps} of one model's rows of one stage."""
    return {
        s: _mean([r["grad_rms"] for r in part if r.get("seed") == s])
        for s in dict.fromkeys(r.get("seed") for r in part)
    }


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


def fit_recorded_seeds(
    models: Mapping[str, tuple[Callable[[], nn.Module], TrainConfig]], train, test, seeds: Sequence[int], *,
    every: int = 10, meta: dict | None = None, **fit_kw,
) -> tuple[list[History], list[Record]]:  # fmt: skip
    """`fit_recorded` for every model (name -> (builder, its config)) and seed: the network is built
    after `torch.manual_seed(seed)` and trained with its config's seed set to `seed`, so one seed means
    the same data order and augmentation for every model. Returns the Histories (meta: model, seed,
    params) and the recorder rows of all runs, each with its seed."""
    histories, rows = [], []
    for name, (make, cfg) in models.items():
        for seed in seeds:
            torch.manual_seed(seed)
            net = make()
            extra = {"params": sum(p.numel() for p in net.parameters() if p.requires_grad)} | (meta or {})
            run_cfg = dataclasses.replace(cfg, seed=seed)
            h, trace = fit_recorded(net, train, test, run_cfg, every=every, name=name, meta=extra, **fit_kw)
            histories.append(h)
            rows += [dict(r, seed=seed) for r in trace]
    return histories, rows


def activation_gradients(
    models: Mapping[str, Callable[[], nn.Module]], x: torch.Tensor, y: torch.Tensor, seeds: Sequence[int]
) -> list[Record]:
    """`probes.activation_grad_norms` (||dL/dx_l|| and its per-element RMS for the input x_l of every
    block, and the last block's output) of every model at initialisation, one network per seed (built
    after `torch.manual_seed(seed)`, moved to the batch's device), on the same batch: rows of `probes`
    plus seed and to_output, grad_rms relative to the last block's output (1 at the top; above 1 grows
    toward the input, below 1 vanishes). Compare models of one family, plain-N vs ResNet-N (Eq. 5 of He et al.
    2016: with shortcuts dE/dx_l = dE/dx_L (1 + ...))."""
    rows = []
    for name, make in models.items():
        for seed in seeds:
            torch.manual_seed(seed)
            recs = activation_grad_norms(make().to(x.device), x, y, label=name)
            top = recs[-1]["grad_rms"]
            rows += [dict(r, seed=seed, to_output=r["grad_rms"] / top if top > 0 else math.nan) for r in recs]
    return rows
