"""Where a training loss stops falling: a plateau found by a stated criterion, not a fixed budget.

He et al. (2015, Fig. 6) compare plain-20 and plain-56 once their training error has levelled off.
A run cut off while one curve is still falling shows slower training, not a higher floor. Here a
run's plateau is read off its recorded training loss: the first epoch at which the mean over the last
`window` epochs lies less than `tol` (a fraction) below the mean over the `window` epochs before it.
The plateau is that last mean (one epoch's loss is noisy; a mean of several is not). A run that never
meets the criterion has none (`reached` is False, and its last mean stands in).
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from ..data.sets import ImageSet
from ..nets.models import count_params
from ..training.config import TrainConfig
from ..training.fit import fit
from ..training.records import History, Record
from ..training.seeded import Builders, over_seeds


def plateau_epoch(values: Sequence[float], *, window: int = 5, tol: float = 0.02) -> int | None:
    """The first epoch count e (1-based) at which mean(values[e-w:e]) >= (1 - tol) * mean(values[e-2w:e-w]),
    that is, the last `window` epochs fell by less than the fraction `tol`; None when no epoch does."""
    if window <= 0 or not 0 <= tol < 1:
        raise ValueError(f"window must be positive and tol in [0, 1), got {window}, {tol}")
    for e in range(2 * window, len(values) + 1):
        before = statistics.fmean(values[e - 2 * window : e - window])
        last = statistics.fmean(values[e - window : e])
        if before - last < tol * before:
            return e
    return None


def plateaus(
    histories: Sequence[History], *, key: str = "train_loss", window: int = 5, tol: float = 0.02
) -> list[Record]:
    """Per run: model, seed, epoch (where `key` reached its plateau, else the run's last epoch),
    reached (1.0 or 0.0), plateau (the mean of `key` over the `window` epochs up to that epoch), final
    (`key` at the last epoch), epochs (the run's length), and the last epoch's test_loss and test_acc."""
    rows = []
    for h in histories:
        values = h.column(key)
        e = plateau_epoch(values, window=window, tol=tol)
        at = e or len(values)
        last = h.records[-1]
        rows.append(
            dict(
                model=h.meta.get("model"),
                seed=h.meta.get("seed"),
                epoch=at,
                reached=float(e is not None),
                plateau=statistics.fmean(values[max(0, at - window) : at]),
                final=values[-1],
                epochs=len(values),
                test_loss=last.get("test_loss"),
                test_acc=last.get("test_acc"),
            )
        )
    return rows


def train_to_plateau(
    models: Builders,
    train: ImageSet,
    test: ImageSet | None,
    cfg: TrainConfig,
    *,
    seeds: Sequence[int],
    chunk: int = 5,
    window: int = 5,
    tol: float = 0.02,
    meta: dict | None = None,
) -> list[History]:
    """Train every model once per seed, `chunk` epochs at a time, until its training loss meets the
    plateau criterion (`plateau_epoch`) or `cfg.epochs` (the cap) is reached; one History per run, in
    model-then-seed order, its epochs numbered on from chunk to chunk.

    Each chunk resumes `training.fit` from the previous chunk's checkpoint (weights, momentum, data
    order): the run is the one an uninterrupted fit would make, stopped early. Use a schedule that does
    not depend on the run's length ("constant"). The test set is evaluated after every epoch.
    On a CPU the runs use one thread (`one_cpu_thread`)."""
    histories = []

    def run(net, name: str, seed: int) -> History:
        described = dict(model=name, seed=seed, params=count_params(net)) | (meta or {})
        with tempfile.TemporaryDirectory(prefix="resnet-edu-plateau-") as folder:
            saved = Path(folder) / "run.pt"
            for i in range(-(-cfg.epochs // chunk)):
                part = dataclasses.replace(cfg, epochs=min((i + 1) * chunk, cfg.epochs), seed=seed)
                h = fit(net, train, test, part, checkpoint=saved, resume=True, progress=False, name=name)
                if plateau_epoch(h.column("train_loss"), window=window, tol=tol) is not None:
                    break
        h.meta |= described
        h.config["epochs"] = len(h.records)
        histories.append(h)
        return h

    with one_cpu_thread(cfg.resolved_device().type == "cpu"):
        over_seeds(models, seeds, run)
    return histories


@contextlib.contextmanager
def one_cpu_thread(active: bool = True) -> Iterator[None]:
    """Run the block on one CPU thread (when `active`), then restore torch's thread count. The lessons'
    small networks gain nothing from more threads, and on a busy machine threads that wait for each
    other made them several times slower."""
    threads = torch.get_num_threads()
    if active:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
