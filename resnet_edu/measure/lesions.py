"""Lesion studies (Veit et al. 2016, Sec. 4, Fig. 3): delete one block at test time and see what is left.

A residual block's output becomes after_addition(skip(x)) (the branch dropped, the shortcut kept); a
plain block becomes the identity where its input and output shapes agree. If the blocks of a ResNet
behave like an ensemble of shallower paths, deleting one costs a little; in a plain net, whose every
block feeds the next, it breaks the chain. `lesion_study` deletes each block of one trained network
in turn, `lesion_runs` trains every model and seed and studies each, and `lesion_summary` reduces a
run to the numbers a lesson prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..data.sets import CHANCE, ImageSet
from ..data.tensors import as_tensors, batches
from ..nets.models import build_model, residual_blocks
from ..nets.modules import hooks, preserved
from ..training.config import TrainConfig
from ..training.evaluation import loss_sums
from ..training.fit import fit
from ..training.records import History, Record
from ..training.seeded import over_seeds


def _deleting(state: dict) -> Callable:
    """Forward hook deleting a block: keep the shortcut (residual) or pass x through (plain, same shape)."""

    def hook(m: nn.Module, inputs: tuple, out: torch.Tensor) -> torch.Tensor | None:
        xl = inputs[0]
        state["downsamples"] = out.shape != xl.shape
        if m.shortcut is not None:  # ResidualBlock or MLPBlock with a shortcut
            return m.after_addition(m.skip(xl))
        if out.shape == xl.shape:  # a plain block
            return xl
        state["skipped"] = True  # a plain block that changes the shape cannot be deleted
        return None

    return hook


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, float]:
    loss_sum, correct, count = loss_sums(model, batches(x, y, batch_size)).tolist()
    return correct / count, loss_sum / count


def lesion_study(
    model: nn.Module, data: Any, *, batch_size: int = 500, label: str | None = None
) -> list[Record]:
    """Test accuracy with each single block removed at test time, BN in eval mode.

    A forward hook replaces the block's output and is removed afterwards; the model is never edited.
    A plain block whose shape changes is evaluated unchanged and marked `skipped`. `data`: an
    `ImageSet` or a pair (x, y). Rows: model, block (-1 = baseline, nothing removed), name, kind
    ("baseline", "first block", "downsampling": a block that changes the shape, a stage's first, or
    "other"), removed, skipped, accuracy, loss.
    """
    x, y = as_tensors(data, like=model)
    names = {m: n for n, m in model.named_modules()}
    with preserved(model, False):
        acc, loss = _accuracy(model, x, y, batch_size)
        rows = [
            dict(
                model=label,
                block=-1,
                name="baseline",
                kind="baseline",
                removed=False,
                skipped=False,
                accuracy=acc,
                loss=loss,
            )
        ]
        for i, block in enumerate(residual_blocks(model)):
            state = {"skipped": False}
            with hooks([block], forward=_deleting(state)):
                acc, loss = _accuracy(model, x, y, batch_size)
            skipped = state["skipped"]
            kind = "first block" if i == 0 else "downsampling" if state["downsamples"] else "other"
            rows.append(
                dict(
                    model=label,
                    block=i,
                    name=names[block],
                    kind=kind,
                    removed=not skipped,
                    skipped=skipped,
                    accuracy=acc,
                    loss=loss,
                )
            )
    return rows


def lesion_runs(
    names: Sequence[str],
    train: ImageSet,
    test: ImageSet,
    cfg: TrainConfig,
    *,
    seeds: Sequence[int],
    width: int = 16,
    progress: bool = False,
) -> tuple[list[Record], list[History]]:
    """For every model name and seed: build it (`width`), train it with `fit` under `cfg` (its seed
    replaced), then `lesion_study` on `test`. Returns the lesion rows (model, seed, ...) and the
    Histories."""
    histories: list[History] = []

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        histories.append(
            fit(net, train, test, dataclasses.replace(cfg, seed=seed), progress=progress, name=name)
        )
        return lesion_study(net, test, label=name)

    models = {name: (lambda name=name: build_model(name, width=width)) for name in names}
    return over_seeds(models, seeds, run), histories


def lesion_summary(
    rows: Sequence[Record], *, chance: float = CHANCE, leave_out: Sequence[str] = ()
) -> list[Record]:
    """One row per (model, seed) of `lesion_runs` (or `lesion_study`) rows: baseline accuracy,
    deletable blocks, mean_acc over them, kept = mean_acc / baseline, the worst and best deletions
    (block, accuracy and, where the rows say, kind), and halved: deletions that lose more than half of
    the baseline's margin above chance (accuracy below chance + (baseline - chance) / 2).
    `leave_out`: kinds of block (e.g. "downsampling", which a plain net cannot lose) not counted, so
    that a ResNet and its plain twin are averaged over the same blocks."""
    out = []
    for model, seed in dict.fromkeys((r["model"], r.get("seed")) for r in rows):
        mine = [r for r in rows if r["model"] == model and r.get("seed") == seed]
        base = next(r["accuracy"] for r in mine if r["block"] < 0)
        cut = [r for r in mine if r["block"] >= 0 and not r["skipped"] and r.get("kind") not in leave_out]
        if not cut:
            raise ValueError(f"{model!r} (seed {seed}) has no block that could be deleted")
        worst, best = min(cut, key=lambda r: r["accuracy"]), max(cut, key=lambda r: r["accuracy"])
        mean = sum(r["accuracy"] for r in cut) / len(cut)
        halved = sum(r["accuracy"] < chance + (base - chance) / 2 for r in cut)
        out.append(
            dict(
                model=model,
                seed=seed,
                baseline=base,
                deletable=len(cut),
                mean_acc=mean,
                kept=mean / base if base > 0 else float("nan"),
                worst_block=worst["block"],
                worst_acc=worst["accuracy"],
                worst_kind=worst.get("kind"),
                best_block=best["block"],
                best_acc=best["accuracy"],
                halved=halved,
            )
        )
    return out
