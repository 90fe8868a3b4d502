"""Gradient flow against convergence: the gradient ratio at initialisation, the steps a network then
needs to reach a training loss, and how well the first-order picture holds along the whole way.

A gradient step lowers the loss by about eta ||g||^2 (`descent`); a network whose gradient grows or
shrinks geometrically through depth hands most of its layers a gradient of the wrong size, and no one
step size suits all of them. `dose_response` measures both ends of that argument on every network
of a sweep (depth, shortcut scale lambda): the ratio ||dE/dx_0|| / ||dE/dx_L|| at initialisation
(`gradients`), then the full-batch steps to a target training loss, and at that loss the Hessian's top
eigenvalue, so that sharpness is compared at *matched loss* rather than after equal epochs.
`power_law` fits steps ~ ratio^k per seed. `probe_step` follows the trajectory: at the current
weights, one plain step of size eta against eta ||g||^2, and how much the gradient turns across it,
||g(theta - eta g) - g(theta)|| / (eta ||g||), a one-step version of the effective smoothness of
Santurkar et al. 2018. `stability_edge` is the top Hessian eigenvalue above which full-batch descent
with momentum cannot be stable on a quadratic (Cohen et al. 2021: training hovers near it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..nets.models import residual_blocks
from ..nets.modules import preserved
from ..training.records import Record
from ..training.seeded import Builders, over_seeds
from .gradients import LossFn, activation_grad_norms
from .hessian import hessian_top_eigenvalue

MOMENTUM = 0.9  # heavy-ball momentum of `train_to_loss`


def stability_edge(lr: float, momentum: float = MOMENTUM) -> float:
    """(2 + 2 momentum) / lr: on a quadratic, full-batch heavy-ball descent diverges along every Hessian
    eigenvalue above this (2 / lr without momentum); Cohen et al. 2021 find the top eigenvalue of
    full-batch training rising to it and hovering there, the "edge of stability"."""
    return (2 + 2 * momentum) / lr


def probe_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, *, loss_fn: LossFn = F.cross_entropy
) -> Record:
    """At the model's current weights, on (x, y) with BN in training mode: one plain gradient step of
    size `lr`, measured and predicted, and the gradient on both sides of it. The model is unchanged.

    Keys: loss, grad_sq (||g||^2), decrease (measured), first_order (lr ||g||^2), ratio (decrease /
    first_order: 1 where the first order holds), smoothness (||g' - g|| / (lr ||g||), g' the gradient
    after the step: the curvature the step met, 0 on a linear loss, the eigenvalue on a quadratic
    along an eigenvector).
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    with preserved(model, True):
        loss = loss_fn(model(x), y)
        g = [d.detach() for d in torch.autograd.grad(loss, params)]
        stepped = {n: (p.detach() - lr * d).requires_grad_(True) for (n, p), d in zip(named, g)}
        after = loss_fn(functional_call(model, stepped, (x,)), y)
        g2 = torch.autograd.grad(after, list(stepped.values()))
    grad_sq = float(sum((d * d).sum() for d in g))
    change = float(sum(((a - b) ** 2).sum() for a, b in zip(g2, g))) ** 0.5
    first = lr * grad_sq
    decrease = float(loss.detach()) - float(after.detach())
    return dict(
        loss=float(loss.detach()),
        grad_sq=grad_sq,
        decrease=decrease,
        first_order=first,
        ratio=decrease / first if first > 0 else math.nan,
        smoothness=change / (lr * grad_sq**0.5) if grad_sq > 0 else math.nan,
    )


def train_to_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    target: float,
    lr: float,
    momentum: float = MOMENTUM,
    max_steps: int = 300,
    probe_every: int = 0,
    loss_fn: LossFn = F.cross_entropy,
) -> tuple[int | None, float, list[Record]]:
    """Full-batch SGD (heavy-ball `momentum`, no weight decay, no noise: the steps are a property of the
    network and the seed alone) until the training loss on (x, y) is at most `target`.

    Returns (steps taken, None if the target was not reached within `max_steps` or the loss stopped
    being finite; the last loss; every `probe_every` steps a `probe_step` row with its `step`). The
    model is left at its last weights, in training mode.
    """
    if not (target > 0 and lr > 0 and max_steps > 0 and 0 <= momentum < 1):
        raise ValueError(
            "need target > 0, lr > 0, max_steps > 0 and 0 <= momentum < 1; "
            f"got {target}, {lr}, {max_steps}, {momentum}"
        )
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    model.train()
    probes: list[Record] = []
    for step in range(max_steps + 1):
        if probe_every and step % probe_every == 0:
            probes.append(dict(step=step, **probe_step(model, x, y, lr, loss_fn=loss_fn)))
        loss = loss_fn(model(x), y)
        value = float(loss.detach())
        if not math.isfinite(value):
            return None, value, probes
        if value <= target:
            return step, value, probes
        if step == max_steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return None, value, probes


def gradient_ratio(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """||dE/dx_0|| / ||dE/dx_L|| on (x, y), BN in training mode: the input of the first block against
    the output of the last (1: the gradient arrives unchanged; far above or below: it grew or shrank)."""
    rows = activation_grad_norms(model, x, y)
    return rows[0]["grad_norm"] / rows[-1]["grad_norm"]


def dose_response(
    models: Builders,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    target: float,
    lr: float,
    max_steps: int = 300,
    probe_every: int = 0,
    sharpness_iters: int = 0,
    progress: bool = True,
) -> tuple[list[Record], list[Record]]:
    """Every model, every seed: `gradient_ratio` at initialisation, then `train_to_loss`.

    Returns (runs, probes). runs: one row per model and seed with depth (blocks), skip_scale (lambda;
    0 for a plain net), grad_ratio, steps (None: not reached), reached, loss (the last) and
    top_eigenvalue: with `sharpness_iters`, the Hessian's eigenvalue of largest magnitude at the step
    the target was reached (None if it was not or without `sharpness_iters`). probes: the
    `probe_step` rows (model, seed, step, ...) taken every `probe_every` steps.
    """

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        net = net.to(x.device)
        ratio = gradient_ratio(net, x, y)  # a net without blocks fails here, with a clear message
        blocks = residual_blocks(net)
        shape = dict(
            depth=len(blocks), skip_scale=blocks[0].skip_scale if blocks[0].shortcut is not None else 0.0
        )
        steps, loss, probes = train_to_loss(
            net, x, y, target=target, lr=lr, max_steps=max_steps, probe_every=probe_every
        )
        top = None
        if sharpness_iters and steps is not None:
            top = hessian_top_eigenvalue(net, x, y, iters=sharpness_iters, seed=seed, train=True)
        row = dict(
            kind="run",
            **shape,
            grad_ratio=ratio,
            steps=steps,
            reached=steps is not None,
            loss=loss,
            top_eigenvalue=top,
        )
        return [row] + [dict(kind="probe", **p) for p in probes]

    rows = over_seeds(models, seeds, run, progress=progress)
    runs = [{k: v for k, v in r.items() if k != "kind"} for r in rows if r["kind"] == "run"]
    probes = [{k: v for k, v in r.items() if k != "kind"} for r in rows if r["kind"] == "probe"]
    return runs, probes


def trajectory_summary(
    probes: Sequence[Record], *, tolerance: float = 0.1, common: bool = False
) -> list[Record]:
    """Per model and seed, over its `probe_step` rows: the median of ratio (measured / first-order
    decrease) and of smoothness, and `held`, the fraction of probes whose ratio lies within `tolerance`
    of 1. Medians, because one probe at a loss spike should not decide a run. `common`: only the steps
    at which every model of that seed was probed, so that the runs are compared over the same stretch
    of training (a run stops probing when it reaches its target)."""
    steps: dict = {}
    for r in probes if common else ():
        steps.setdefault(r["seed"], {}).setdefault(r["model"], set()).add(r["step"])
    shared = {seed: set.intersection(*by_model.values()) for seed, by_model in steps.items()}
    out = []
    for key in dict.fromkeys((r["model"], r["seed"]) for r in probes):
        mine = [r for r in probes if (r["model"], r["seed"]) == key]
        mine = [r for r in mine if r["step"] in shared[key[1]]] if common else mine
        ratios = torch.tensor([r["ratio"] for r in mine], dtype=torch.float64)
        smooth = torch.tensor([r["smoothness"] for r in mine], dtype=torch.float64)
        out.append(
            dict(
                model=key[0],
                seed=key[1],
                probes=len(mine),
                ratio=float(ratios.quantile(0.5)),  # the midpoint of the two middle values when even
                smoothness=float(smooth.quantile(0.5)),
                held=float(((ratios - 1).abs() <= tolerance).double().mean()),
            )
        )
    return out


def power_law(
    rows: Sequence[Record], *, above: float, x: str = "grad_ratio", y: str = "steps"
) -> list[Record]:
    """Per seed: the least-squares fit log y = log c + k log x over the reached runs with x >= `above`,
    and Spearman's rank correlation of x and y over the runs below it (where the law is not expected to
    hold). Runs that never reached the target rank last in y and are left out of the fit.

    Rows: seed, exponent (k; nan with fewer than 2 points), n_fit, unreached (runs above `above` that
    never reached the target), rank_below (Spearman's; nan with fewer than 3 runs), n_below.
    """
    out = []
    for seed in sorted({r["seed"] for r in rows}):
        mine = [r for r in rows if r["seed"] == seed]
        fit = [r for r in mine if r[x] >= above and r[y] is not None]
        k = math.nan
        if len({r[x] for r in fit}) >= 2:
            lx = torch.tensor([math.log(r[x]) for r in fit], dtype=torch.float64)
            ly = torch.tensor([math.log(max(r[y], 1)) for r in fit], dtype=torch.float64)
            lx = lx - lx.mean()
            k = float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())
        below = [r for r in mine if r[x] < above]
        out.append(
            dict(
                seed=seed,
                exponent=k,
                n_fit=len(fit),
                unreached=sum(r[x] >= above and r[y] is None for r in mine),
                rank_below=spearman(
                    [r[x] for r in below], [math.inf if r[y] is None else r[y] for r in below]
                ),
                n_below=len(below),
            )
        )
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (ties share their mean rank); nan with fewer than 3 pairs or a
    constant sequence."""
    if len(a) != len(b):
        raise ValueError(f"spearman needs sequences of one length, got {len(a)} and {len(b)}")
    if len(a) < 3:
        return math.nan
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float((ra * ra).sum() * (rb * rb).sum()) ** 0.5
    return float((ra * rb).sum()) / den if den > 0 else math.nan


def _ranks(values: Sequence[float]) -> torch.Tensor:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = torch.zeros(len(values), dtype=torch.float64)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2
        i = j + 1
    return ranks


def matched_pairs(runs: Sequence[Record], a: float = 1.0, b: float = 0.0) -> list[tuple[str, str]]:
    """(model with shortcut scale `a`, model with `b`) at every depth where both reached the target in
    every seed: the pairs whose sharpness at the target can be compared seed by seed."""
    done: dict[tuple[int, float], str] = {}
    for r in runs:
        key = (r["depth"], r["skip_scale"])
        mine = [q for q in runs if q["model"] == r["model"]]
        if all(q["reached"] for q in mine):
            done[key] = r["model"]
    depths = sorted({d for d, _ in done})
    return [(done[(d, a)], done[(d, b)]) for d in depths if (d, a) in done and (d, b) in done]
