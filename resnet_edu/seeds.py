"""Effects across seeds: the per-seed margin between two models, the form every claimed effect is
printed in ("a beats b in k of n seeds, margin mean ± sd").

Rows are long-form records with a model column, a seed column and the measured key, one row per
(model, seed); `experiments.seed_summary` gives each model's own mean and spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

Record = dict[str, Any]


def paired_margin(rows: Sequence[Record], key: str, a: str, b: str, *, by: str = "model") -> Record:
    """Per seed, the difference rows[a][key] - rows[b][key] of the two models' rows with that seed.

    Returns n (seeds both models have), wins (seeds where a's value is larger), mean and sd (sample)
    of the difference, its min and max, and the seeds. A seed only one model has is left out.
    """
    values: dict[tuple, float] = {(r[by], r.get("seed")): float(r[key]) for r in rows}
    seeds = [s for (m, s) in values if m == a and (b, s) in values]
    if not seeds:
        raise ValueError(f"no seed has rows for both {a!r} and {b!r}")
    diff = torch.tensor([values[(a, s)] - values[(b, s)] for s in seeds], dtype=torch.float64)
    sd = float(diff.std()) if len(diff) > 1 else 0.0
    return dict(n=len(seeds), wins=int((diff > 0).sum()), mean=float(diff.mean()), sd=sd,
                min=float(diff.min()), max=float(diff.max()), seeds=seeds)  # fmt: skip


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    t = torch.tensor(list(values), dtype=torch.float64)
    if len(t) == 0:
        raise ValueError("mean_sd of no values")
    return float(t.mean()), float(t.std()) if len(t) > 1 else 0.0
