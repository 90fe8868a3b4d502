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
loss the two-term formula is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn
from torch.func import functional_call

from .records import Record
from .tensors import preserved

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def one_step_descent(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, lrs: Sequence[float], *,
    loss_fn: LossFn = F.cross_entropy, train: bool = True, label: str | None = None,
) -> list[Record]:  # fmt: skip
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
                rows.append(dict(model=label, lr=lr, loss=float(loss), loss_after=after,
                                 decrease=float(loss) - after, first_order=first,
                                 second_order=first - lr**2 / 2 * g_h_g,
                                 ratio=(float(loss) - after) / first if first > 0 else math.nan,
                                 grad_sq=grad_sq, curvature=kappa))  # fmt: skip
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
        out.append(dict(model=model, seed=seed, grad_sq=grad_sq, curvature=kappa,
                        predicted_best_lr=1 / kappa if kappa > 0 else math.inf,
                        first_order_holds_to=max(holds) if holds else None, best_lr=best["lr"],
                        best_decrease=best["decrease"],
                        predicted_best_decrease=quadratic_best))  # fmt: skip
    return out


def plot_descent(rows: Sequence[Record], *, tolerance: float = 0.1) -> Figure:
    """`one_step_descent` rows (several models and seeds on one lr grid): the measured one-step
    decrease against lr beside its first-order prediction lr ||g||^2 (left, dashed), and their ratio
    (right; the band marks `tolerance` around 1, where the first order holds). Mean over seeds with
    min..max bands; the lr axes are logarithmic and shared."""
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame(list(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), sharex=True)
    for k, (model, part) in enumerate(df.groupby("model", sort=False)):
        color = f"C{k}"
        stats = part.groupby("lr")[["decrease", "first_order", "ratio"]].agg(["mean", "min", "max"])
        lr = stats.index
        seeds = part["seed"].nunique() if "seed" in part else 1
        label = f"{model}: measured ({seeds} seeds)"
        left.plot(lr, stats["decrease", "mean"], "o-", color=color, label=label)
        left.fill_between(lr, stats["decrease", "min"], stats["decrease", "max"], color=color, alpha=0.2)
        left.plot(lr, stats["first_order", "mean"], "--", color=color, label=f"{model}: lr ||g||^2")
        right.plot(lr, stats["ratio", "mean"], "o-", color=color, label=model)
        right.fill_between(lr, stats["ratio", "min"], stats["ratio", "max"], color=color, alpha=0.2)
    top = df["decrease"].max()  # a step that blows the loss up would hide the rest: clip the axes
    low, low_ratio = min(max(df["decrease"].min(), -top), -0.1 * top), max(min(df["ratio"].min(), -0.5), -2)
    left.set(xscale="log", ylim=(low, 1.5 * top), xlabel="learning rate of the one step",
             ylabel="loss before - loss after",
             title="One plain SGD step on a fixed batch (band: min to max over seeds)")  # fmt: skip
    left.axhline(0, color="grey", lw=0.8)
    right.axhspan(1 - tolerance, 1 + tolerance, color="grey", alpha=0.15, lw=0)
    right.axhline(1, color="grey", lw=0.8, ls=":")
    right.set(xscale="log", ylim=(low_ratio, 1.2),
              xlabel="learning rate of the one step", ylabel="measured / first-order prediction",
              title=f"Where the first order holds (grey: within {tolerance:.0%})")  # fmt: skip
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    return fig


def at_init(
    models: dict[str, Callable[[], nn.Module]], data, lrs: Sequence[float], seeds: Sequence[int], *,
    batch: int = 64, device: str | torch.device = "cpu",
) -> list[Record]:  # fmt: skip
    """`one_step_descent` of every model at initialisation, once per seed: the network built after
    `torch.manual_seed(seed)`, the fixed batch `tensors.random_batch(data, batch, seed=seed)` (the
    same for every model of that seed), both on `device`. Rows of `one_step_descent` with their seed."""
    from .tensors import random_batch

    rows = []
    for seed in seeds:
        x, y = (t.to(device) for t in random_batch(data, batch, seed=seed))
        for name, make in models.items():
            torch.manual_seed(seed)
            rows += [dict(r, seed=seed) for r in one_step_descent(make().to(device), x, y, lrs, label=name)]
    return rows
