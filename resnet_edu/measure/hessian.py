"""Curvature of the loss at a point: the Hessian's extreme eigenvalues and its trace, from
Hessian-vector products (Pearlmutter 1994), never forming the Hessian.

Power iteration gives the eigenvalue of largest magnitude; a few Lanczos steps give both ends of the
spectrum, so that |lambda_min / lambda_max| measures how far from convex the surface is at that
point (Li et al. 2018, Sec. 6, Fig. 7). Hutchinson's estimator gives the
trace with its standard error. None of these numbers is invariant to a reparametrisation that
leaves the function unchanged (Dinh et al. 2017): a rescaled BN net has another Hessian.
Every function leaves the model as it found it (training flags and BN buffers restored).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..data.sets import check_positive
from ..nets.modules import preserved
from ..training.records import Record

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Vector = list[torch.Tensor]  # one tensor per parameter


def _hvp_operator(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn
) -> tuple[float, Vector, Callable[[Vector], Vector]]:
    """Loss, parameters and v -> Hv by double backprop (Pearlmutter 1994): Hv = d<dL/dtheta, v>/dtheta."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)) or len(x) == 0 or len(x) != len(y):
        n = [len(t) if isinstance(t, torch.Tensor) else type(t).__name__ for t in (x, y)]
        raise ValueError(
            f"x and y must be tensors of one or more images and as many labels, got {n[0]} and {n[1]}"
        )
    if not params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters: its Hessian is empty")
    loss = loss_fn(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    params, grads = zip(*[(p, g) for p, g in zip(params, grads) if g is not None])

    def hvp(v: Vector) -> Vector:
        return [h.detach() for h in torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)]

    return float(loss.detach()), list(params), hvp


def _dot(a: Vector, b: Vector) -> torch.Tensor:
    return sum((u * w).sum() for u, w in zip(a, b))


def _power_iteration(params: Vector, hvp: Callable, iters: int, tol: float, seed: int) -> float:
    """v^T H v of the unit vector power iteration converges to; stops at a relative change < tol."""
    check_positive("iters (power iterations)", iters, whole=True)
    check_positive("tol", tol)
    g = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=g).to(p) for p in params]
    eig = 0.0
    for _ in range(iters):
        norm = _dot(v, v).sqrt()
        v = [u / norm for u in v]
        hv = hvp(v)
        new = float(_dot(v, hv))
        converged = abs(new - eig) <= tol * abs(new)
        eig, v = new, hv
        if converged:
            break
    return eig


def _lanczos(params: Vector, hvp: Callable, steps: int, seed: int) -> tuple[float, float]:
    """Smallest and largest Ritz values of `steps` Lanczos iterations with full reorthogonalisation
    (Golub & Van Loan, Sec. 10.1). Both lie inside the spectrum: the smallest is >= lambda_min and the
    largest <= lambda_max, and both extremes converge first."""
    check_positive("steps (Lanczos iterations)", steps, whole=True)
    g = torch.Generator().manual_seed(seed)
    flat = torch.cat([torch.randn(p.numel(), generator=g, dtype=torch.float64) for p in params])
    sizes, basis, alphas, betas = [p.numel() for p in params], [], [], []
    q = flat / flat.norm()
    for _ in range(min(steps, len(flat))):
        basis.append(q)
        v = [c.view_as(p).to(p) for c, p in zip(q.split(sizes), params)]
        w = torch.cat([h.flatten().double().cpu() for h in hvp(v)])
        alphas.append(float(w @ q))
        stack = torch.stack(basis)  # (k, P)
        w = w - stack.T @ (stack @ w)  # against every earlier vector, twice for stability
        w = w - stack.T @ (stack @ w)
        beta = float(w.norm())
        if beta < 1e-10 * max(abs(a) for a in alphas):  # an invariant subspace: the Ritz values are exact
            break
        betas.append(beta)
        q = w / beta
    k = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    off = torch.tensor(betas[: k - 1], dtype=torch.float64)
    t += torch.diag(off, 1) + torch.diag(off, -1)
    ritz = torch.linalg.eigvalsh(t)
    return float(ritz[0]), float(ritz[-1])


def _hutchinson(params: Vector, hvp: Callable, n_samples: int, seed: int) -> tuple[float, float]:
    """Mean of v^T H v over Rademacher vectors v, an unbiased estimate of tr(H) (Hutchinson 1989),
    and its standard error (sample sd / sqrt(n_samples); 0 for a single sample)."""
    check_positive("n_samples (Rademacher vectors)", n_samples, whole=True)
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n_samples):
        v = [(torch.randint(0, 2, p.shape, generator=g) * 2 - 1).to(p) for p in params]
        samples.append(float(_dot(v, hvp(v))))
    t = torch.tensor(samples, dtype=torch.float64)
    se = float(t.std() / n_samples**0.5) if n_samples > 1 else 0.0
    return float(t.mean()), se


def hessian_top_eigenvalue(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = F.cross_entropy,
    iters: int = 100,
    tol: float = 1e-5,
    seed: int = 0,
    train: bool = False,
) -> float:
    """The eigenvalue of largest MAGNITUDE of the loss Hessian (power iteration on Hessian-vector
    products); it is lambda_max when the positive curvature dominates, as near a minimum.

    No Hessian is formed and no `torch.eig` is needed (PyHessian's failure on torch 2). The Rayleigh
    quotient v^T H v of the final unit vector v is returned; iteration stops when it changes < tol.
    """
    with preserved(model, train):
        _, params, hvp = _hvp_operator(model, x, y, loss_fn)
        return _power_iteration(params, hvp, iters, tol, seed)


def hessian_extreme_eigenvalues(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = F.cross_entropy,
    steps: int = 30,
    seed: int = 0,
    train: bool = False,
) -> tuple[float, float]:
    """(lambda_min, lambda_max) of the loss Hessian estimated by `steps` Lanczos iterations: the
    estimates lie inside the true range, so |lambda_min / lambda_max| from them is never too large
    when lambda_min < 0 < lambda_max."""
    with preserved(model, train):
        _, params, hvp = _hvp_operator(model, x, y, loss_fn)
        return _lanczos(params, hvp, steps, seed)


def hessian_trace(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = F.cross_entropy,
    n_samples: int = 100,
    seed: int = 0,
    train: bool = False,
) -> float:
    """Hutchinson's estimate tr(H) ~ mean over Rademacher v of v^T H v (Hutchinson 1989)."""
    with preserved(model, train):
        _, params, hvp = _hvp_operator(model, x, y, loss_fn)
        return _hutchinson(params, hvp, n_samples, seed)[0]


def sharpness(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss_fn: LossFn = F.cross_entropy,
    iters: int = 100,
    n_samples: int = 100,
    seed: int = 0,
    train: bool = False,
    lanczos: int = 0,
    label: str | None = None,
) -> Record:
    """One record: model, top_eigenvalue (largest in magnitude, by power iteration), trace, trace_se
    (its standard error), loss, seed, n_samples (for `plots.plot_eigenvalues`). With `lanczos` > 0
    also min_eigenvalue and max_eigenvalue from that many Lanczos steps and ratio |lambda_min /
    lambda_max| (0 for a locally convex surface; Li et al. 2018, Fig. 7 maps it over the plane).

    One forward/backward graph serves every estimate and the loss.
    """
    with preserved(model, train):
        loss, params, hvp = _hvp_operator(model, x, y, loss_fn)
        top = _power_iteration(params, hvp, iters, 1e-5, seed)
        trace, trace_se = _hutchinson(params, hvp, n_samples, seed)
        ends = {}
        if lanczos > 0:
            lo, hi = _lanczos(params, hvp, lanczos, seed)
            ends = dict(min_eigenvalue=lo, max_eigenvalue=hi, ratio=abs(lo / hi) if hi else float("inf"))
    return dict(
        model=label,
        top_eigenvalue=top,
        trace=trace,
        trace_se=trace_se,
        loss=loss,
        seed=seed,
        n_samples=n_samples,
        **ends,
    )
