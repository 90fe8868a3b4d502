"""Two architectures' training runs side by side, over seeds (lesson 06): a table of where each ends
and how fast it got there, and the epoch from which one stays ahead.

The statistics are `stats`'s (means, spreads, verdicts); here they are applied to `History`s.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import pandas as pd

from ..training.records import History, Record
from .stats import seed_summary, table

COLUMNS = {  # what each run contributes, and its heading
    "test_acc": "test acc",
    "train_acc": "train acc",
    "gap": "gap (train - test)",
    "train_loss": "train loss",
    "time": "wall (s)",
    "epoch_s": "s / epoch",
    "images_per_s": "train images/s",
}


SPECS = {"time": ".1f", "epoch_s": ".2f", "images_per_s": ",.0f"}  # the accuracies and losses: ".3f"


def _run(h: History, targets: Sequence[float]) -> Record:
    """One row per run: its last epoch, the generalisation gap (train accuracy minus test accuracy),
    seconds per epoch (evaluation included), its mean training throughput and the time and epoch at
    which its test accuracy first reached each target (None: not reached)."""
    last = h.records[-1]
    row = dict(model=h.meta.get("model"), seed=h.meta.get("seed")) | last
    row |= dict(gap=last["train_acc"] - last["test_acc"], epoch_s=last["time"] / len(h.records))
    row["images_per_s"] = statistics.fmean(h.column("images_per_s"))
    for t in targets:
        epoch = next((r["epoch"] for r in h.records if (r["test_acc"] or 0) >= t), None)
        row |= {f"time_{t}": h.time_to(t), f"epoch_{t}": epoch}
    return row


def per_run(histories: Sequence[History], *, targets: Sequence[float] = (0.8,)) -> list[Record]:
    """One row per run (model, seed): its last epoch, gap, epoch_s, images_per_s, and time_<t> and
    epoch_<t>, the wall time and epoch at which its test accuracy first reached each target t (None:
    not reached); rows for `stats.verdict`."""
    return [_run(h, targets) for h in histories]


def cost_line(histories: Sequence[History], macs: dict[str, float], a: str, b: str) -> str:
    """How much more arithmetic one image costs `a` than `b` (`macs`: multiply-accumulates per image
    per model), beside how many times fewer training images per second `a` processed (mean over seeds)."""
    speed = {s["model"]: s["mean"] for s in seed_summary(per_run(histories, targets=()), "images_per_s")}
    return (
        f"{a} does {macs[a] / macs[b]:.0f}x the multiply-accumulates per image of {b} "
        f"and trains on {speed[b] / speed[a]:.1f}x fewer images per second"
    )


def slow_starts(histories: Sequence[History], *, factor: float = 2.0) -> str:
    """The runs whose first epoch took more than `factor` times their median epoch (a one-off start-up
    cost that the cumulative times include), each with both durations; "none" when no run had one."""
    slow = []
    for h in histories:
        t = [r["time"] for r in h.records]
        each = [b - a for a, b in zip([0.0, *t], t)]
        median = statistics.median(each)
        if each[0] > factor * median:
            slow.append(
                f"{h.meta.get('model')} seed {h.meta.get('seed')} ({each[0]:.1f} s, median {median:.2f} s)"
            )
    return f"first epoch over {factor:g}x the run's median epoch: " + (", ".join(slow) or "none")


def seed_table(histories: Sequence[History], *, targets: Sequence[float] = (0.85, 0.9)) -> pd.DataFrame:
    """Per model, mean ± sd over its seeds of the final test and train accuracy, the gap, the final
    training loss, the wall time, the seconds per epoch and the training images per second, and the
    range over seeds of the time to each target test accuracy ("not reached" when no seed got there).
    Train accuracy is the one `fit` records: the running mean over the last epoch's augmented batches."""
    runs = per_run(histories, targets=targets)
    out = table(runs, list(COLUMNS), names=COLUMNS, spec=SPECS)
    out.insert(
        0, "epochs", [len(next(h for h in histories if h.meta.get("model") == m).records) for m in out.index]
    )
    out.insert(0, "seeds", [s["seeds"] for s in seed_summary(runs, "epoch")])
    for t in targets:
        times = {s["model"]: s for s in seed_summary(runs, f"time_{t}")}
        epochs = {s["model"]: s for s in seed_summary(runs, f"epoch_{t}")}
        out[f"time to {round(100 * t)}%"] = [
            _range(times.get(m), epochs.get(m), out.loc[m, "seeds"]) for m in out.index
        ]
    return out.rename_axis("model")


def _range(time: Record | None, epoch: Record | None, seeds: int) -> str:
    if time is None:
        return "not reached"
    text = f"{time['min']:.1f}-{time['max']:.1f} s (epoch {epoch['min']:.0f}-{epoch['max']:.0f})"
    return text + ("" if time["seeds"] == seeds else f", {time['seeds']} of {seeds} seeds")


def ahead_from(
    histories: Sequence[History], key: str, a: str, b: str, *, higher: bool = True
) -> list[int | None]:
    """Per seed, the first epoch from which `a` stays ahead of `b` in `key` to the end (None: not at
    the end either)."""
    runs = {(h.meta.get("model"), h.meta.get("seed")): h for h in histories}
    out = []
    for seed in [s for (m, s) in runs if m == a and (b, s) in runs]:
        pairs = zip(runs[(a, seed)].records, runs[(b, seed)].records)
        behind = [
            e for e, (ra, rb) in enumerate(pairs, 1) if (ra[key] - rb[key]) * (1 if higher else -1) <= 0
        ]
        last = len(runs[(a, seed)].records)
        out.append(None if behind and behind[-1] == last else (behind[-1] + 1 if behind else 1))
    return out
