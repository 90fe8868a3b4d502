"""One gradient step against its Taylor prediction: how much gradient turns into how much descent.

A plain SGD step theta' = theta - eta g (no momentum, no weight decay) on one fixed batch lowers
the loss by

    L(theta) - L(theta') = eta ||g||^2 - (eta^2 / 2) g^T H g + O(eta^3),

so to first order the decrease is eta ||g||^2 = eta sum_layers ||g_layer||^2: every layer whose
gradient vanished adds nothing, which is how gradient flow enters convergence. The second-order term,
set by the curvature along the gradient kappa = g^T H g / ||g||^2 (lesson 05's Hessian, seen along
one direction), cancels half of the first at eta = 1 / kappa and all of it at eta = 2 / kappa. So the
first-order prediction holds for eta << 1 / kappa, the best step of the quadratic model is eta = 1 /
kappa, gaining ||g||^2 / (2 kappa), and beyond 2 / kappa the step raises the loss. On a quadratic
loss the two-term formula is exact. H is taken on the step's own batch with BN in the same (training)
mode, so on a smooth loss the two agree; a ReLU net's loss along g is smooth only between the points
where some unit switches on or off, which the Hessian at theta cannot see (`quadratic_check`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..data.sets import ImageSet
from ..data.tensors import random_batch
from ..nets.modules import preserved
from ..training.records import Record
from ..training.seeded import Builders, over_seeds
from .gradients import LossFn


def one_step_descent(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    lrs: Sequence[float],
    *,
    loss_fn: LossFn = F.cross_entropy,
    train: bool = True,
    label: str | None = None,
) -> list[Record]:
    """For every learning rate: the measured decrease of the loss on (x, y) after one plain gradient
    step from the model's current weights, beside its first- and second-order predictions.

    The model is left unchanged (the stepped weights are only used through `torch.func`; BN buffers
    restored). `train=True`: BN normalises with the batch's statistics, as during training.
    Rows: model, lr, loss, loss_after, decrease (measured), first_order (lr ||g||^2), second_order
    (first_order - lr^2/2 g^T H g), ratio (decrease / first_order: 1 where the first order holds),
    grad_sq (||g||^2), curvature (kappa = g^T H g / ||g||^2).
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    with preserved(model, train):
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        g = [d.detach() for d in grads]
        hg = torch.autograd.grad(grads, params, grad_outputs=g, allow_unused=True)  # H g
        grad_sq = float(sum((d * d).sum() for d in g))
        g_h_g = float(sum((d * h).sum() for d, h in zip(g, hg) if h is not None))
        kappa = g_h_g / grad_sq if grad_sq > 0 else math.nan
        rows = []
        with torch.no_grad():
            for lr in lrs:
                stepped = {n: p.detach() - lr * d for (n, p), d in zip(named, g)}
                after = float(loss_fn(functional_call(model, stepped, (x,)), y))
                first = lr * grad_sq
                rows.append(
                    dict(
                        model=label,
                        lr=lr,
                        loss=float(loss),
                        loss_after=after,
                        decrease=float(loss) - after,
                        first_order=first,
                        second_order=first - lr**2 / 2 * g_h_g,
                        ratio=(float(loss) - after) / first if first > 0 else math.nan,
                        grad_sq=grad_sq,
                        curvature=kappa,
                    )
                )
    return rows


def descent_summary(rows: Sequence[Record], *, tolerance: float = 0.1) -> list[Record]:
    """Per model (and seed, when the rows carry one), from `one_step_descent` rows on one lr grid:
    ||g||^2, kappa, the predicted best step 1 / kappa, the largest lr at which the measured decrease is
    within `tolerance` of the first-order prediction (`first_order_holds_to`, None if at none), the
    measured best lr of the grid, its decrease, and the decrease the quadratic model predicts at its
    best step, ||g||^2 / (2 kappa)."""
    out = []
    keys = list(dict.fromkeys((r["model"], r.get("seed")) for r in rows))
    for model, seed in keys:
        mine = [r for r in rows if r["model"] == model and r.get("seed") == seed]
        mine.sort(key=lambda r: r["lr"])
        kappa, grad_sq = mine[0]["curvature"], mine[0]["grad_sq"]
        holds = [r["lr"] for r in mine if abs(r["ratio"] - 1) <= tolerance]
        # the first lr where it fails ends the range: larger steps that agree again by chance do not count
        fails = [r["lr"] for r in mine if abs(r["ratio"] - 1) > tolerance]
        holds = [lr for lr in holds if not fails or lr < fails[0]]
        best = max(mine, key=lambda r: r["decrease"])
        quadratic_best = grad_sq / (2 * kappa) if kappa > 0 else math.inf
        out.append(
            dict(
                model=model,
                seed=seed,
                grad_sq=grad_sq,
                curvature=kappa,
                predicted_best_lr=1 / kappa if kappa > 0 else math.inf,
                first_order_holds_to=max(holds) if holds else None,
                best_lr=best["lr"],
                best_decrease=best["decrease"],
                predicted_best_decrease=quadratic_best,
            )
        )
    return out


def quadratic_check(summary: Sequence[Record], *, factor: float = 3.0, largest: float | None = None) -> str:
    """Does the quadratic model find the best step? Per model, over `descent_summary` rows: in how many
    seeds its best step 1 / kappa lies within `factor` of the measured best step of the grid, and in how
    many kappa <= 0 (the quadratic model then has no best step and promises at least eta ||g||^2).
    `largest`: the grid's largest step; a best step there is only a lower bound and is not counted."""
    parts = []
    for model in dict.fromkeys(r["model"] for r in summary):
        mine = [r for r in summary if r["model"] == model]
        edge = [largest is not None and r["best_lr"] >= largest for r in mine]
        near = sum(
            1 / factor <= r["best_lr"] * r["curvature"] <= factor and not e for r, e in zip(mine, edge)
        )
        flat = sum(r["curvature"] <= 0 for r in mine)
        at_edge = f"; best at the largest step, not counted, in {sum(edge)}" if any(edge) else ""
        parts.append(f"{model} in {near} of {len(mine)} seeds (κ ≤ 0 in {flat}{at_edge})")
    return f"the quadratic model's best step 1/κ lies within {factor:g}x of the measured best: " + ", ".join(
        parts
    )


def at_init(
    models: Builders,
    data: ImageSet,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    batch: int = 64,
    device: str | torch.device = "cpu",
) -> list[Record]:
    """`one_step_descent` of every model at initialisation, once per seed: the network built after
    `torch.manual_seed(seed)`, on the fixed batch `data.random_batch(data, batch, seed=seed)` (the same
    for every model of that seed), both on `device`. Rows of `one_step_descent` with model and seed."""

    def run(net: nn.Module, name: str, seed: int) -> list[Record]:
        x, y = (t.to(device) for t in random_batch(data, batch, seed=seed))
        return one_step_descent(net.to(device), x, y, lrs, label=name)

    return over_seeds(models, seeds, run)
