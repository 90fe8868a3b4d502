"""Each model, each seed: the one loop behind every experiment that claims an effect across seeds.

    for each model (in the order given):
        for each seed:
            torch.manual_seed(seed); net = build(); rows = run(net, name, seed)

`over_seeds` runs that loop and tags every row with the model and the seed; training, probes,
lesions and landscapes all go through it, so they share one loop order and one way to handle a
network that diverges: its run is kept, marked `diverged`, and the other runs go on. `train_models`
and `train_networks` are the training runs: the same data, steps and schedule for every model, only
the network and the seed differ, as in the degradation experiment of He et al. 2015 (Fig. 1, Fig. 6).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from ..data.sets import ImageSet
from ..nets.models import count_params
from .config import MAX_SEED, TrainConfig, env_int
from .fit import Callback, TrainingDiverged, fit
from .records import History, Record

Builders = Mapping[str, Callable[[], nn.Module]]  # model name -> a function that builds it
Run = Callable[[nn.Module, str, int], Any]  # (network, model name, seed) -> rows, one row or a History


def over_seeds(models: Builders, seeds: Sequence[int], run: Run, *, progress: bool = False) -> list[Record]:
    """For each model, for each seed: seed torch, build the network, `run(net, name, seed)`.

    The seed fixes the initial weights (the network is built right after `torch.manual_seed(seed)`);
    `run` passes it on to whatever else is random (data order, augmentation, directions). `run`
    returns rows (a list of dicts), one row (a dict) or a `History` (its epochs become rows). Returns
    every row with `model` and `seed` first, in model-then-seed order.
    """
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"over_seeds needs one or more distinct seeds, got {seeds}")
    whole = lambda s: isinstance(s, numbers.Integral) and not isinstance(s, bool) and 0 <= s <= MAX_SEED
    if not all(map(whole, seeds)):
        raise ValueError(f"seeds must be whole numbers in 0..{MAX_SEED}, got {seeds}")
    from tqdm.auto import tqdm

    rows: list[Record] = []
    with tqdm(total=len(models) * len(seeds), disable=not progress, unit="run") as bar:
        for name, build in models.items():
            for seed in seeds:
                bar.set_description(f"{name}, seed {seed}")
                torch.manual_seed(seed)
                out = run(build(), name, seed)
                if isinstance(out, History):
                    out = out.records
                rows += [_tagged(r, name, seed) for r in ([out] if isinstance(out, dict) else out)]
                bar.update()
    return rows


def _tagged(row: Record, name: str, seed: int) -> Record:
    """`row` with model and seed as its first columns (the run's own, whatever the row said)."""
    return {"model": name, "seed": seed} | {k: v for k, v in row.items() if k not in ("model", "seed")}


class Trained(NamedTuple):
    """A trained network and its History."""

    net: nn.Module
    history: History


def train_networks(
    models: Builders,
    train: ImageSet,
    test: ImageSet | None,
    cfg: TrainConfig | Mapping[str, TrainConfig],
    *,
    seeds: Sequence[int] | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    replace: bool = False,
    progress: bool = False,
    callbacks: Callable[[nn.Module, str, int], Sequence[Callback]] | None = None,
    meta: dict | None = None,
) -> dict[tuple[str, int], Trained]:
    """Train every model once per seed (default `cfg.seed`) under `cfg` (or `cfg[model]`, one config per
    model), its seed replaced by the run's; {(model, seed): Trained(net, history)}.

    A run that diverges ends there: its History keeps the epochs before and says diverged=True (and
    where); the other runs go on. With `out`, each run's checkpoint and history are written to
    `out/<model>[_s<seed>].pt/.json` (a diverged run's history beside its last good checkpoint).
    With `replace`, a run already in `out` is replaced only once the new run has written its first
    checkpoint: its history goes then, and a new run that diverges before leaves the old one whole.
    `callbacks(net, name, seed)` gives a run's per-step callbacks (e.g. a `GradientRecorder`). Each
    History's meta holds model, seed and params, plus `meta`.
    """
    configs = cfg if isinstance(cfg, Mapping) else dict.fromkeys(models, cfg)
    seeds = [next(iter(configs.values())).seed] if seeds is None else list(seeds)
    trained: dict[tuple[str, int], Trained] = {}

    def run(net: nn.Module, name: str, seed: int) -> History:
        stem = name if len(seeds) == 1 else f"{name}_s{seed}"
        checkpoint = None if out is None else Path(out) / f"{stem}.pt"
        extra = {"params": count_params(net)} | (meta or {})
        steps = callbacks(net, name, seed) if callbacks else ()
        run_cfg = dataclasses.replace(configs[name], seed=seed)
        old, wrote = None if out is None else Path(out) / f"{stem}.json", []

        def replaced() -> None:  # the first checkpoint is written: the old run's history goes now
            wrote.append(True)
            if replace:
                old.unlink(missing_ok=True)

        try:
            h = fit(
                net,
                train,
                test,
                run_cfg,
                checkpoint=checkpoint,
                resume=resume,
                progress=progress,
                name=name,
                callbacks=steps,
                meta=extra,
                on_checkpoint=replaced,
            )
        except TrainingDiverged as e:
            h = e.history
            h.meta["diverged_message"] = str(e)
            if replace and not wrote:  # nothing new to keep: the old run stays whole
                h.meta["diverged_message"] += f"; the run already in {str(out)!r} was kept"
                trained[name, seed] = Trained(net, h)
                return h
        if out is not None and env_int("RANK", 0) == 0:
            h.save(Path(out) / f"{stem}.json")
        trained[name, seed] = Trained(net, h)
        return h

    over_seeds(models, seeds, run)
    return trained


def train_models(models: Builders, train: ImageSet, test: ImageSet | None, cfg, **kw) -> list[History]:
    """`train_networks`, keeping only the Histories (model-then-seed order)."""
    return [t.history for t in train_networks(models, train, test, cfg, **kw).values()]


def diverged(histories: Sequence[History]) -> list[History]:
    """The runs among `histories` that diverged (their meta says so)."""
    return [h for h in histories if h.meta.get("diverged")]
