"""Two architectures trained over several seeds: per-seed verdicts with margins, and a seed table.

Lesson 06 trains ResNet18 and SimpleCNN with three seeds each (quick on the CPU, stored on the GPU)
and claims only what holds in every seed. `verdict` compares the two models seed by seed (the same
seed means the same data order and augmentation), `seed_table` gives each model's final accuracy,
generalisation gap and time to an accuracy as mean ± sd over seeds; `records.load_histories` reads a
stored run.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from .records import History, Record
from .seeds import mean_sd, paired_margin


def origin(histories: Sequence[History]) -> str:
    """Where a set of runs comes from, for a plot title: device, precision, data copy, date, seeds."""
    meta = histories[0].meta
    data = meta.get("data") and re.sub(r"\S*/", "", str(meta["data"]))  # the copy's name, not its folders
    seeds = sorted({h.meta.get("seed") for h in histories}, key=str)
    parts = (meta.get("device_name"), meta.get("precision"), data, meta.get("date"), f"seeds {seeds}")
    return ", ".join(str(p) for p in parts if p)


def _value(r: Record, key: str) -> float:
    """A record's `key`; "gap" is the generalisation gap, train accuracy minus test accuracy."""
    return r["train_acc"] - r["test_acc"] if key == "gap" else r[key]


def _at(h: History, key: str, epoch: int | None) -> float:
    return _value(h.records[-1] if epoch is None else h.records[epoch - 1], key)


def _pairs(histories: Sequence[History], a: str, b: str) -> list[tuple[History, History]]:
    """(a's run, b's run) for every seed both models were trained with."""
    runs = {(h.meta.get("model"), h.meta.get("seed")): h for h in histories}
    seeds = [s for (m, s) in runs if m == a and (b, s) in runs]
    return [(runs[(a, s)], runs[(b, s)]) for s in seeds]


def verdict(
    histories: Sequence[History], key: str, a: str, b: str, *, higher: bool = True, epoch: int | None = None
) -> Record:
    """Does model `a` end with a higher (`higher=True`) or lower `key` than model `b`, seed by seed?

    `key`: a record's column, or "gap" (train accuracy minus test accuracy). `epoch` (1-based) picks
    the epoch, default the last. Returns key, a, b, wins (seeds in which `a`
    is ahead), seeds, and the margin in `a`'s favour (mean, sd over seeds, smallest).
    """
    sign = 1 if higher else -1
    rows = [dict(model=m, seed=h.meta.get("seed"), v=sign * _at(h, key, epoch))
            for ha, hb in _pairs(histories, a, b) for m, h in ((a, ha), (b, hb))]  # fmt: skip
    if not rows:
        raise ValueError(f"no seed has runs of both {a!r} and {b!r}")
    m = paired_margin(rows, "v", a, b)
    return dict(key=key, a=a, b=b, higher=higher, epoch=epoch, wins=m["wins"], seeds=m["n"],
                margin=m["mean"], margin_sd=m["sd"], smallest=m["min"])  # fmt: skip


NAMES = {"gap": "generalisation gap (train acc - test acc)", "test_acc": "test accuracy",
         "train_acc": "train accuracy", "train_loss": "training loss", "test_loss": "test loss"}  # fmt: skip


def verdict_line(v: Record) -> str:
    """One sentence for a `verdict`: how many seeds it held in, with its margin."""
    when = "at the end" if v["epoch"] is None else f"after epoch {v['epoch']}"
    side = (("larger", "smaller") if v["key"] == "gap" else ("higher", "lower"))[0 if v["higher"] else 1]
    name = NAMES.get(v["key"], v["key"])
    return (f"{v['a']} has the {side} {name} {when} in {v['wins']} of {v['seeds']} seeds "
            f"(margin {v['margin']:.3f} ± {v['margin_sd']:.3f}, smallest {v['smallest']:.3f})")  # fmt: skip


def ahead_from(
    histories: Sequence[History], key: str, a: str, b: str, *, higher: bool = True
) -> list[int | None]:
    """Per seed, the first epoch from which `a` stays ahead of `b` in `key` to the end (None: not at
    the end either)."""
    sign = 1 if higher else -1
    out = []
    for ha, hb in _pairs(histories, a, b):
        ahead = [sign * (_value(ra, key) - _value(rb, key)) > 0 for ra, rb in zip(ha.records, hb.records)]
        first = None
        for e in range(len(ahead), 0, -1):  # walk back from the end while a is still ahead
            if not ahead[e - 1]:
                break
            first = e
        out.append(first)
    return out


def _mean_sd(values: list[float]) -> str:
    return "{:.3f} ± {:.3f}".format(*mean_sd(values))


def _time_to(runs: list[History], target: float) -> str:
    hits = [(h.time_to(target), next(r["epoch"] for r in h.records if (r["test_acc"] or 0) >= target))
            for h in runs if h.time_to(target) is not None]  # fmt: skip
    if not hits:
        return "not reached"
    times, epochs = [t for t, _ in hits], [e for _, e in hits]
    text = f"{min(times):.1f}-{max(times):.1f} s (epoch {min(epochs)}-{max(epochs)})"
    return text + ("" if len(hits) == len(runs) else f", {len(hits)} of {len(runs)} seeds")


def seed_table(histories: Sequence[History], *, targets: Sequence[float] = (0.85, 0.9)) -> list[Record]:
    """Per model, over its seeds (mean ± sd): final test and train accuracy, the generalisation gap
    (train accuracy minus test accuracy at the last epoch), final train loss, wall time, and the
    time to each target test accuracy (range over seeds, or "not reached").

    Train accuracy is the one `train.fit` records: the running mean over the last epoch's augmented
    batches.
    """
    rows = []
    for model in dict.fromkeys(h.meta.get("model") for h in histories):
        runs = [h for h in histories if h.meta.get("model") == model]
        last = [h.records[-1] for h in runs]
        row = {"model": model, "seeds": len(runs), "epochs": len(runs[0].records),
               "test acc": _mean_sd([r["test_acc"] for r in last]),
               "train acc": _mean_sd([r["train_acc"] for r in last]),
               "gap (train - test)": _mean_sd([r["train_acc"] - r["test_acc"] for r in last]),
               "train loss": _mean_sd([r["train_loss"] for r in last]),
               "wall (s)": f"{statistics.mean(r['time'] for r in last):.1f}"}  # fmt: skip
        row |= {f"time to {round(100 * t)}%": _time_to(runs, t) for t in targets}
        rows.append(row)
    return rows
