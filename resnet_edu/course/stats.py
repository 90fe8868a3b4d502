"""Effects across seeds: the one place where seeds become means, spreads, margins and sentences.

Every measurement returns rows with a model and a seed column (`training.over_seeds` tags them).
Here they are reduced the way every lesson prints them:

    seed_summary  one model's value over seeds: mean, sd, min, max (or geometric mean and spread)
    table         several keys per model as "mean ± sd" strings, ready to print
    verdict       does model a beat model b in every seed? "a ... b in k of n seeds (margin m ± s)"
    count         in how many seeds a model's value lies below (above) a threshold
    against       a measured value over seeds beside the number a theory predicts
    leaders       in how many seeds each model has the largest (smallest) value

A row set may hold several rows per (model, seed), such as one per epoch: then the last one counts,
the run's final value. Means and standard deviations are over seeds; sd is the sample standard
deviation (0 for a single seed).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..training.records import History, Record, history_rows

Key = str | tuple[str, ...]


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value), computed exactly (equal values give
    an sd of exactly 0)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_sd of no values")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def spread(values: Sequence[float], spec: str = ".3f") -> str:
    """ "mean ± sd" of `values`, each formatted with `spec`."""
    mean, sd = mean_sd(values)
    return f"{mean:{spec}} ± {sd:{spec}}"


def _group(row: Record, by: Key) -> tuple:
    return tuple(row[k] for k in by) if isinstance(by, tuple) else (row[by],)


def last_rows(rows: Sequence[Record], *, by: Key = "model") -> dict[tuple, Record]:
    """{(group..., seed): the last row of that run}: a run's final value (rows are in epoch order)."""
    last: dict[tuple, Record] = {}
    for r in rows:
        last[(*_group(r, by), r.get("seed"))] = r
    return last


def seed_summary(
    rows: Sequence[Record], key: str, *, by: Key = "model", geometric: bool = False
) -> list[Record]:
    """Per `by` group (a column, or a tuple of columns): mean, sd, min and max over seeds of `key` at
    each run's last row, and the number of seeds that have a value (None is left out). `geometric`:
    the mean and sd are of log10 `key`, and mean is reported as 10**mean (ratios multiply, so their
    typical value is a geometric mean)."""
    last = last_rows(_rows(rows), by=by)
    out = []
    for group in dict.fromkeys(k[:-1] for k in last):
        values = [float(r[key]) for k, r in last.items() if k[:-1] == group and r[key] is not None]
        if not values:  # no seed has a value (a run that diverged has no test accuracy)
            continue
        mean, sd = mean_sd([math.log10(v) for v in values] if geometric else values)
        names = by if isinstance(by, tuple) else (by,)
        out.append(
            dict(zip(names, group))
            | {"mean": 10**mean if geometric else mean, "sd": sd, "min": min(values), "max": max(values)}
            | {"seeds": len(values)}
        )
    return out


def _rows(rows: Sequence[Record] | Sequence[History]) -> Sequence[Record]:
    """Tidy rows, also when given Histories (their epochs, tagged with model and seed)."""
    return history_rows(rows) if rows and isinstance(rows[0], History) else rows


def table(
    rows: Sequence[Record] | Sequence[History],
    keys: Sequence[str],
    *,
    by: Key = "model",
    spec: str | dict[str, str] = ".3f",
    names: dict[str, str] | None = None,
    beside: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """One row per `by` group (a column or a tuple of columns) and one column per key: "mean ± sd" over
    seeds at each run's last row ("value (1 run)" where only one run has a value).

    `names` renames the columns ({key: heading}); `spec` formats the numbers (e.g. ".3g", or one per
    key: {key: spec}); `beside` adds columns of other numbers ({heading: {group: value}}), such as a
    paper's."""
    rows = _rows(rows)
    columns = {}
    group = (lambda s: tuple(s[k] for k in by)) if isinstance(by, tuple) else (lambda s: s[by])
    for key in keys:
        f = spec.get(key, ".3f") if isinstance(spec, dict) else spec
        cells = {
            group(s): f"{s['mean']:{f}} ± {s['sd']:{f}}" if s["seeds"] > 1 else f"{s['mean']:{f}} (1 run)"
            for s in seed_summary(rows, key, by=by)
        }  # one run has no spread: say so rather than print ± 0
        columns[(names or {}).get(key, key)] = cells
    out = pd.DataFrame(columns)
    if isinstance(by, tuple):
        out.index.names = list(by)
    for heading, values in (beside or {}).items():
        out[heading] = pd.Series(values)
    return out


def pivot(
    rows: Sequence[Record], key: str, index: str, columns: str, *, geometric: bool = False
) -> pd.DataFrame:
    """The mean over seeds of `key` (geometric with `geometric`): `index` down, `columns` across."""
    summary = seed_summary(rows, key, by=(index, columns), geometric=geometric)
    table = pd.DataFrame(summary).pivot(index=index, columns=columns, values="mean")
    return table.loc[list(dict.fromkeys(s[index] for s in summary))]  # rows in first-seen order


def paired_margin(rows: Sequence[Record], key: str, a: str, b: str, *, by: str = "model") -> Record:
    """Per seed, the difference rows[a][key] - rows[b][key] of the two models' last rows with that seed.

    Returns n (seeds both models have), wins (seeds where a's value is larger), mean and sd (sample)
    of the difference, its min and max, and the seeds. A seed only one model has is left out.
    """
    values = {(k[0], k[-1]): float(r[key]) for k, r in last_rows(rows, by=by).items()}
    seeds = [s for (m, s) in values if m == a and (b, s) in values]
    if not seeds:
        raise ValueError(f"no seed has rows for both {a!r} and {b!r}")
    diff = [values[(a, s)] - values[(b, s)] for s in seeds]
    mean, sd = mean_sd(diff)
    extremes = dict(min=min(diff), max=max(diff), seeds=seeds)
    return dict(n=len(seeds), wins=sum(d > 0 for d in diff), mean=mean, sd=sd) | extremes


@dataclass(frozen=True)
class Verdict:
    """Model `a` against model `b` on `key`, seed by seed: `wins` of `n` seeds go a's way, by `margin`
    (mean over seeds, in a's favour) ± `margin_sd`, the smallest margin being `smallest`."""

    a: str
    b: str
    key: str
    says: str  # the relation, e.g. "ends above", "has the lower training loss than"
    wins: int
    n: int
    margin: float
    margin_sd: float
    smallest: float
    spec: str = ".3f"

    @property
    def holds(self) -> bool:  # a is ahead in every seed
        return self.wins == self.n

    @property
    def within_spread(self) -> bool:  # the mean margin is no larger than its seed-to-seed sd
        return abs(self.margin) <= self.margin_sd

    def line(self) -> str:
        """ "a says b in k of n seeds (margin m ± s, smallest x)"."""
        f = self.spec
        return (
            f"{self.a} {self.says} {self.b} in {self.wins} of {self.n} seeds "
            f"(margin {self.margin:{f}} ± {self.margin_sd:{f}}, smallest {self.smallest:{f}})"
        )

    def __str__(self) -> str:
        return self.line()


def verdict(
    rows: Sequence[Record] | Sequence[History],
    key: str,
    a: str,
    b: str,
    *,
    higher: bool = True,
    says: str | None = None,
    spec: str = ".3f",
    by: str = "model",
) -> Verdict:
    """Does model `a` end with a higher (`higher=True`) or lower `key` than model `b`, seed by seed?

    `rows`: tidy rows with `by` and seed columns, or Histories (their epochs; `key` may then also be
    "gap", train accuracy minus test accuracy). The margin is a - b (higher) or b - a (lower), so a
    positive margin means a is ahead. `says` words the relation (default "has a higher KEY than").
    """
    rows = _rows(rows)
    if key == "gap":
        rows = [dict(r, gap=r["train_acc"] - r["test_acc"]) for r in rows]
    m = paired_margin(rows, key, *((a, b) if higher else (b, a)), by=by)  # positive: a is ahead
    more, less = ("larger", "smaller") if key == "gap" else ("higher", "lower")
    says = says or f"has a {more if higher else less} {NAMES.get(key, key)} than"
    return Verdict(a, b, key, says, m["wins"], m["n"], m["mean"], m["sd"], m["min"], spec)


NAMES = {
    "gap": "generalisation gap (train acc - test acc)",
    "test_acc": "test accuracy",
    "train_acc": "train accuracy",
    "train_loss": "training loss",
    "test_loss": "test loss",
    "to_output": "gradient ratio, first block / output",
}


def count(
    rows: Sequence[Record] | Sequence[History],
    key: str,
    model: str,
    *,
    below: float | None = None,
    above: float | None = None,
    by: str = "model",
) -> tuple[int, int]:
    """(k, n): in k of its n seeds the model's last `key` lies below `below` (or above `above`; with
    both, between them)."""
    values = [r[key] for k, r in last_rows(_rows(rows), by=by).items() if k[0] == model]
    if not values:
        raise ValueError(f"no rows of {model!r}")
    hits = [(below is None or v < below) and (above is None or v > above) for v in values]
    return sum(hits), len(hits)


def against(
    rows: Sequence[Record],
    key: str,
    model: str,
    predicted: float,
    *,
    source: str,
    spec: str = ".3f",
    by: str = "model",
) -> str:
    """A measured value over seeds beside the value a theory predicts, and how far apart they are in
    units of the seed-to-seed standard deviation: a prediction that could fail, checked."""
    (s,) = [s for s in seed_summary(rows, key, by=by) if s[by] == model]
    off = abs(s["mean"] - predicted)
    distance = f"{off / s['sd']:.1f} sd apart" if s["sd"] > 0 else f"{off:{spec}} apart"
    return (
        f"{model}: {key} {s['mean']:{spec}} ± {s['sd']:{spec}} over {s['seeds']} seeds; "
        f"{source} predicts {predicted:{spec}} ({distance})"
    )


def leaders(rows: Sequence[Record], key: str, *, by: str = "model", largest: bool = True) -> dict[str, int]:
    """In how many seeds each `by` value has the largest (or smallest) `key` at its last row:
    {name: seeds it leads}, every name listed, zeros included."""
    last = last_rows(_rows(rows), by=by)
    counts = {k[0]: 0 for k in last}
    for seed in dict.fromkeys(k[-1] for k in last):
        group = {k[0]: r[key] for k, r in last.items() if k[-1] == seed}
        counts[(max if largest else min)(group, key=group.get)] += 1
    return counts


def conclude(finding: Verdict | str, *, shows: str, limit: str, holds: bool | None = None) -> str:
    """Print and return an experiment's closing line, computed from its numbers:

        conclusion: <finding>: <shows>. Limit: <limit>.

    when the finding holds in every seed (a `Verdict`'s own `holds`, else `holds`), and otherwise
    "... : not in every seed, so this run does not show that <shows>. Limit: ...". `shows` is the claim
    in plain words ("the deeper plain net trains worse"), `limit` what the run cannot say."""
    held = finding.holds if holds is None and isinstance(finding, Verdict) else bool(holds)
    claim = shows if held else f"not in every seed, so this run does not show that {shows}"
    line = f"conclusion: {finding}: {claim}. Limit: {limit.rstrip('.')}."
    print(line)
    return line
