"""Lesion studies across seeds (Veit et al. 2016, Sec. 4, Fig. 3): train a residual net and its plain
twin once per seed, delete one block at a time at test time, and summarise what each net keeps.

The single study is `probes.lesion_study`; here it is repeated per seed and reduced to the numbers a
lesson prints: the baseline, the mean accuracy over the blocks that can be deleted, the share of the
baseline that mean keeps, and the most and least harmful deletions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from .config import TrainConfig
from .data import ImageSet
from .models import build_model
from .probes import lesion_study
from .records import History
from .train import fit

Record = dict[str, Any]
CHANCE = 0.1  # accuracy of guessing one of CIFAR-10's ten classes


def lesion_runs(
    names: Sequence[str], train: ImageSet, test: ImageSet, cfg: TrainConfig, *, seeds: Sequence[int],
    width: int = 16, progress: bool = False,
) -> tuple[list[Record], list[History]]:  # fmt: skip
    """For every seed and model name: build it after `torch.manual_seed(seed)`, train it with `fit`
    under `cfg` (its seed replaced), then `probes.lesion_study` on `test`. Returns the lesion rows
    (with a `seed` column) and the histories (meta: model, seed)."""
    rows: list[Record] = []
    histories = []
    for seed in seeds:
        for name in names:
            torch.manual_seed(seed)
            model = build_model(name, width=width)
            run_cfg = dataclasses.replace(cfg, seed=seed)
            histories.append(fit(model, train, test, run_cfg, progress=progress, name=name))
            rows += [dict(r, seed=seed) for r in lesion_study(model, test, label=name)]
    return rows, histories


def lesion_summary(rows: Sequence[Record], *, chance: float = CHANCE) -> list[Record]:
    """One row per (model, seed) of `lesion_runs` (or `lesion_study`) rows: baseline accuracy,
    deletable blocks, mean_acc over them, kept = mean_acc / baseline, the worst and best deletions
    (block and accuracy), and halved: deletions that lose more than half of the baseline's margin
    above chance (accuracy below chance + (baseline - chance) / 2)."""
    out = []
    for model, seed in dict.fromkeys((r["model"], r.get("seed")) for r in rows):
        mine = [r for r in rows if r["model"] == model and r.get("seed") == seed]
        base = next(r["accuracy"] for r in mine if r["block"] < 0)
        cut = [r for r in mine if r["block"] >= 0 and not r["skipped"]]
        if not cut:
            raise ValueError(f"{model!r} (seed {seed}) has no block that could be deleted")
        worst, best = min(cut, key=lambda r: r["accuracy"]), max(cut, key=lambda r: r["accuracy"])
        mean = sum(r["accuracy"] for r in cut) / len(cut)
        halved = sum(r["accuracy"] < chance + (base - chance) / 2 for r in cut)
        out.append(dict(model=model, seed=seed, baseline=base, deletable=len(cut), mean_acc=mean,
                        kept=mean / base if base > 0 else float("nan"), worst_block=worst["block"],
                        worst_acc=worst["accuracy"], best_block=best["block"], best_acc=best["accuracy"],
                        halved=halved))  # fmt: skip
    return out
