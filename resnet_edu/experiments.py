"""The small experiments the lessons run: functions that build seeded networks and return records.

Each function measures one effect and returns a list of dicts, one row per model / seed / block /
epoch, ready for `pandas.DataFrame(rows)` and `plots`. Notebooks and the CLI call these functions;
no experiment's logic lives only in a notebook.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import TrainConfig
from .data import ImageSet
from .models import MLP, ResNet, cifar_resnet, count_params
from .probes import activation_grad_norms, forward_stats
from .records import History, Record
from .train import TrainingDiverged, fit


def train_models(
    models: dict[str, Callable[[], nn.Module]], train: ImageSet, test: ImageSet | None, cfg: TrainConfig,
    *, seeds: Sequence[int] | None = None, out: str | os.PathLike | None = None, resume: bool = False,
    progress: bool = False, meta: dict | None = None,
) -> list[History]:  # fmt: skip
    """Train every model once per seed under the same `cfg`: same data, same steps, only the network
    (and the seed) differs, as in the degradation experiment of He et al. 2015 (Fig. 1, Fig. 6).

    The seed (default `cfg.seed`) governs initialisation (the model is built after
    `torch.manual_seed(seed)`), data order and augmentation. With `out`, each run's checkpoint and
    history go to `out/<label>[_s<seed>].pt/.json`. Each History's meta holds model, seed, params.
    """
    seeds = [cfg.seed] if seeds is None else list(seeds)
    histories = []
    for label, make in models.items():
        for seed in seeds:
            torch.manual_seed(seed)
            net = make()
            run_cfg = dataclasses.replace(cfg, seed=seed)
            stem = label if len(seeds) == 1 else f"{label}_s{seed}"
            ckpt = None if out is None else Path(out) / f"{stem}.pt"
            extra = {"params": count_params(net)} | (meta or {})
            try:
                h = fit(net, train, test, run_cfg, checkpoint=ckpt, resume=resume, progress=progress,
                        name=label, meta=extra)  # fmt: skip
            except TrainingDiverged as e:  # keep what was measured beside the last good checkpoint
                if out is not None and int(os.environ.get("RANK", "0")) == 0:
                    e.history.save(Path(out) / f"{stem}.json")
                raise
            if out is not None and int(os.environ.get("RANK", "0")) == 0:
                h.save(Path(out) / f"{stem}.json")
            histories.append(h)
    return histories


def history_rows(histories: Sequence[History]) -> list[Record]:
    """Long-form rows (model, seed, params + every epoch record) of several histories, for tables and
    `plots.plot_training_curves`, which draws the mean over seeds with a band."""
    return [dict(model=h.meta.get("model"), seed=h.meta.get("seed"), params=h.meta.get("params"), **r)
            for h in histories for r in h.records]  # fmt: skip


def seed_summary(rows: Sequence[Record], key: str, *, by: str = "model") -> list[Record]:
    """Per `by` group: mean, sd (sample), min and max over seeds of `key` at each run's last epoch,
    and the number of seeds. The spread every claimed effect is shown with."""
    last: dict[tuple, Record] = {}
    for r in rows:
        last[(r[by], r.get("seed"))] = r  # rows are in epoch order: the last one wins
    out = []
    for group in dict.fromkeys(k[0] for k in last):
        vals = torch.tensor([r[key] for k, r in last.items() if k[0] == group], dtype=torch.float64)
        sd = float(vals.std()) if len(vals) > 1 else 0.0
        out.append({by: group, "mean": float(vals.mean()), "sd": sd, "min": float(vals.min()),
                    "max": float(vals.max()), "seeds": len(vals)})  # fmt: skip
    return out


# ---- lesson 01: activation and initialisation of a plain MLP (He et al. 2015, Sec. 1) ---------------

MLP_VARIANTS: dict[str, dict[str, Any]] = {
    "sigmoid, naive init": dict(act="sigmoid", init="naive"),
    "sigmoid, He init": dict(act="sigmoid", init="he"),
    "ReLU, naive init": dict(act="relu", init="naive"),
    "ReLU, He init": dict(act="relu", init="he"),
    "ReLU, He init, BN": dict(act="relu", init="he", norm=True),
    "tanh, Xavier init": dict(act="tanh", init="xavier"),  # the blocks lessons 01 and 02 train
}

# The MLPs lessons 01 and 02 train: blocks tanh(W x + b) with Xavier init, std sqrt(1/n) (Glorot & Bengio
# 2010: tanh stays near its linear range, the gradient neither vanishes nor explodes at initialisation),
# no BN in the blocks and one BN before the classifier (`MLP(head_norm=True)`).
DEGRADATION_MLP: dict[str, Any] = dict(act="tanh", init="xavier", head_norm=True)


def degradation_mlps(
    depths: Sequence[int] = (3, 30), *, shortcuts: Sequence[bool] = (False,), width: int = 128,
    **overrides: Any,
) -> dict[str, Callable[[], nn.Module]]:  # fmt: skip
    """{label: builder} of `DEGRADATION_MLP`s ("plain MLP, 30 blocks", "residual MLP, 3 blocks", ...),
    plain before residual, for `train_models`; `overrides` change the regime (e.g. norm=True)."""
    kw = DEGRADATION_MLP | dict(width=width) | overrides
    return {f"{'residual' if sc else 'plain'} MLP, {d} blocks": partial(MLP, depth=d, shortcut=sc, **kw)
            for sc in shortcuts for d in depths}  # fmt: skip


def mlp_gradient_norms(
    x: torch.Tensor, y: torch.Tensor, *, depths: tuple[int, ...] = (5, 10, 20, 40),
    variants: dict[str, dict[str, Any]] = MLP_VARIANTS, width: int = 128, shortcut: bool = False,
    seed: int = 0,
) -> list[Record]:  # fmt: skip
    """||dL/dx_l|| at initialisation for every block l of MLPs of each depth and variant.

    Measured in float64 so that vanishing norms (1e-40 and below) do not underflow to zero.
    Rows: model (variant), depth, block, grad_norm, ratio (grad_norm / ||dL/dx_L||, 1 at the top).
    """
    rows = []
    for depth in depths:
        for label, kw in variants.items():
            torch.manual_seed(seed)
            net = MLP(depth=depth, width=width, in_features=x[0].numel(), shortcut=shortcut, **kw).double()
            recs = activation_grad_norms(net, x.double(), y, label=label)
            top = recs[-1]["grad_norm"]
            for r in recs:
                rows.append(dict(r, depth=depth, ratio=r["grad_norm"] / top if top > 0 else float("nan")))
    return rows


def mlp_gradient_factors(
    x: torch.Tensor, y: torch.Tensor, *, depth: int = 40, seeds: Sequence[int] = (0, 1, 2),
    variants: dict[str, dict[str, Any]] = MLP_VARIANTS, width: int = 128, shortcut: bool = False,
) -> list[Record]:  # fmt: skip
    """Per variant and seed: `factor`, the gradient's geometric growth per block toward the input (exp of
    minus the least-squares slope of log ratio against block: 1 flat, above 1 growing toward the input,
    below 1 vanishing), and `first`, ||dL/dx_0|| / ||dL/dx_L||, of `mlp_gradient_norms` at `depth`."""
    rows = []
    for seed in seeds:
        recs = mlp_gradient_norms(x, y, depths=(depth,), variants=variants, width=width, shortcut=shortcut,
                                  seed=seed)  # fmt: skip
        for label in variants:
            mine = [r for r in recs if r["model"] == label]
            b = torch.tensor([r["block"] for r in mine], dtype=torch.float64)
            ratio = torch.tensor([r["ratio"] for r in mine], dtype=torch.float64)
            rows.append(dict(model=label, seed=seed, depth=depth, factor=math.exp(-_slope(b, ratio.log())),
                             first=float(ratio[0])))  # fmt: skip
    return rows


def cifar_gradient_ratios(
    x: torch.Tensor, y: torch.Tensor, *, depth: int = 56, width: int = 4, seed: int = 0
) -> list[Record]:  # fmt: skip
    """`probes.activation_grad_norms` of plainN and resnetN (He et al. 2015, Sec. 4.2) at initialisation,
    each row with ratio = ||dL/dx_l|| / ||dL/dx_L|| (1 at the top), the axis of every gradient plot."""
    rows = []
    for shortcut, name in ((False, "plain"), (True, "resnet")):
        torch.manual_seed(seed)
        recs = activation_grad_norms(cifar_resnet(depth, width=width, shortcut=shortcut), x, y,
                                     label=f"{name}-{depth}")  # fmt: skip
        rows += [dict(r, depth=depth, ratio=r["grad_norm"] / recs[-1]["grad_norm"]) for r in recs]
    return rows


# ---- lesson 02: shortcuts ---------------------------------------------------------------------


def shortcut_param_counts(depths: tuple[int, ...] = (20, 32, 44, 56, 110), width: int = 16) -> list[Record]:
    """Parameters of CIFAR ResNets with option A (zero-pad) and option B (1x1 projection) shortcuts.

    He et al. 2015, Sec. 3.3 and Table 6: option A adds no parameters (ResNet-20: 0.27M).
    """
    rows = []
    for depth in depths:
        a = count_params(cifar_resnet(depth, width=width, option="A"))
        b = count_params(cifar_resnet(depth, width=width, option="B"))
        rows.append(dict(depth=depth, option_A=a, option_B=b, extra_B=b - a, extra_B_pct=100 * (b - a) / a))
    return rows


# ---- lesson 04: BatchNorm meets the shortcut ------------------------------------------------------

VARIANCE_VARIANTS = {  # lesson 04: the same single-stage residual net, three ways to tame Var(x_l)
    "BatchNorm": dict(norm=True),
    "no normalisation": dict(norm=False),
    "no normalisation + SkipInit": dict(norm=False, skipinit=True),
}


def variance_through_depth(
    x: torch.Tensor, *, depth: int = 32, width: int = 16, seed: int = 0, seeds: Sequence[int] | None = None
) -> list[dict]:
    """`probes.forward_stats` of one-stage residual nets (`depth` blocks of `width` channels, no
    downsampling) with BN, without normalisation and without normalisation but with SkipInit, once
    per seed (`seeds`, default `[seed]`); rows as `forward_stats` plus `seed`.

    De & Smith 2020, Sec. 3: with BN, Var(x_{l+1}) ~ Var(x_l) + c, so Var(x_l) grows linearly and the
    branch's share of the signal's scale sqrt(Var(F)/Var(x_l)) ~ 1/sqrt(c l); without normalisation it
    doubles per block (~2^l); a zero-initialised residual scale keeps it constant at initialisation.
    """
    rows = []
    for s in [seed] if seeds is None else seeds:
        for label, kw in VARIANCE_VARIANTS.items():
            torch.manual_seed(s)
            model = ResNet(depths=(depth,), widths=(width,), **kw)
            rows += [dict(r, seed=s) for r in forward_stats(model, x, train=True, label=label)]
    return rows


def growth_rates(records: list[dict], *, key: str = "var_x") -> list[dict]:
    """Per model (and seed, where rows have one): least-squares slope and intercept of `key` against
    block (linear growth), the geometric ratio per block exp(slope of log `key`) (exponential growth:
    2 when it doubles every block), first and last value, and, where rows carry `var_branch`,
    branch_exponent: the log-log slope of the branch's share of the scale sqrt(var_branch / var_x)
    against l + 1 (De & Smith 2020: -1/2 with BN; None where the branch is zero)."""
    rows = []
    for label, seed in dict.fromkeys((r["model"], r.get("seed")) for r in records):
        mine = [r for r in records if r["model"] == label and r.get("seed") == seed and r[key] > 0]
        b = torch.tensor([r["block"] for r in mine], dtype=torch.float64)
        v = torch.tensor([r[key] for r in mine], dtype=torch.float64)
        slope = _slope(b, v)
        row = dict(model=label) | ({} if seed is None else dict(seed=seed))
        row |= dict(linear_slope=slope, intercept=float(v.mean() - slope * b.mean()),
                    ratio_per_block=math.exp(_slope(b, v.log())), first=float(v[0]),
                    last=float(v[-1]))  # fmt: skip
        if all(r.get("var_branch", 0) > 0 for r in mine):
            share = torch.tensor([r["var_branch"] / r["var_x"] for r in mine], dtype=torch.float64).sqrt()
            row["branch_exponent"] = _slope((b + 1).log(), share.log())
        elif "var_branch" in mine[0]:
            row["branch_exponent"] = None
        rows.append(row)
    return rows


def _slope(x: torch.Tensor, y: torch.Tensor) -> float:
    """Least-squares slope of y against x."""
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
