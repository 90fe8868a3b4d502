"""Measurements inside a network: gradient norms, forward statistics, shattering, lesions, sharpness.

Every probe returns tidy long-form records (a list of dicts, one row per layer or block) ready for
`pandas.DataFrame(rows)` and seaborn, and leaves the model as it found it: hooks are removed in a
`finally`, training flags and BatchNorm buffers are restored, `.grad` is never touched.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

Record = dict[str, Any]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def weight_grad_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
    train: bool = True, label: str | None = None,
) -> list[Record]:  # fmt: skip
    """||dL/dW|| for every parameter, in forward (registration) order.

    Rows: model, index, name, kind ("weight" for tensors with >= 2 dims, else "bias/norm"),
    numel, grad_norm. sqrt(sum grad_norm^2) is the global norm `clip_grad_norm_` reports.
    """
    raise NotImplementedError


def activation_grad_norms(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
    train: bool = True, label: str | None = None,
) -> list[Record]:  # fmt: skip
    """||dL/dx_l|| for the input x_l of every block l of `residual_blocks(model)`, plus the last output.

    Identity Mappings Eq. 5: dE/dx_l = dE/dx_L (1 + d/dx_l sum F), so with shortcuts the norm stays
    flat across depth; without them it shrinks or grows geometrically.
    Rows: model, block (0..L, L = the last block's output), name, grad_norm, grad_rms.
    """
    raise NotImplementedError


def forward_stats(
    model: nn.Module, x: torch.Tensor, *, train: bool = True, label: str | None = None
) -> list[Record]:
    """Variance of x_l, of the residual branch F(x_l) and of the skip h(x_l) for every block.

    Rows: model, block, name, var_x, var_branch, var_skip, var_out. With BN and identity skips
    var_x grows about linearly with depth (De & Smith 2020); SkipInit keeps it at var_x of block 0.
    """
    raise NotImplementedError


def gradient_shattering(
    model: nn.Module, x0: torch.Tensor, *, n_points: int = 256, radius: float = 1.0, output: int = 0,
    max_lag: int = 32, seed: int = 0, train: bool = False, label: str | None = None,
) -> list[Record]:  # fmt: skip
    """Correlation of input-gradients along a 1-D sweep of inputs (Balduzzi et al. 2017, Sec. 2).

    Inputs x(t) = x0 + t v for t in [-radius, radius] (v a seeded unit-variance Gaussian direction);
    g(t) = d f_output / dx at x(t). Rows, one per lag k = 0..max_lag: autocorr (autocorrelation of
    the scalar directional derivative <g(t), v>, Balduzzi Fig. 2) and cosine (mean cosine similarity
    of the full gradients g(t_i), g(t_{i+k})). Shattered gradients decorrelate at small lags.
    """
    raise NotImplementedError


def lesion_study(
    model: nn.Module, data: Any, *, batch_size: int = 500, label: str | None = None
) -> list[Record]:
    """Test accuracy with each single block removed at test time (Veit et al. 2016, Sec. 4).

    A residual block's output becomes after_addition(skip(x)) (branch dropped, shortcut kept); a
    plain block becomes the identity where its input and output shapes agree, else it is marked
    `skipped` and evaluated unchanged. Done by a forward hook replacing the output, removed after.
    `data` is an `ImageSet` or a pair (x, y) of float inputs and labels. BN in eval mode.
    Rows: model, block (-1 = baseline, nothing removed), name, removed, skipped, accuracy, loss.
    """
    raise NotImplementedError


def hessian_top_eigenvalue(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
    iters: int = 100, tol: float = 1e-5, seed: int = 0, train: bool = False,
) -> float:  # fmt: skip
    """Largest-magnitude eigenvalue of the loss Hessian by power iteration on Hessian-vector products.

    Hv = d/dtheta <dL/dtheta, v> by double backprop (Pearlmutter 1994); no Hessian is formed.
    """
    raise NotImplementedError


def hessian_trace(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
    n_samples: int = 100, seed: int = 0, train: bool = False,
) -> float:  # fmt: skip
    """Hutchinson's estimate tr(H) ~ mean_v v^T H v with Rademacher v (Hutchinson 1989)."""
    raise NotImplementedError


def sharpness(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: LossFn | None = None,
    iters: int = 100, n_samples: int = 100, seed: int = 0, train: bool = False, label: str | None = None,
) -> Record:  # fmt: skip
    """One record: model, top_eigenvalue, trace, loss, seed (for the eigenvalue comparison plots)."""
    raise NotImplementedError
