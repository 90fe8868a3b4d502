"""What the lessons train and measure: the networks of each experiment, named, ready for
`training.over_seeds` and the functions built on it.

Each entry is a {label: builder} dict (a builder takes no argument and returns a fresh network), so
every experiment runs through the same loop, "each model, each seed". The measurements themselves
live in `measure`; here are only the lessons' choices: which activations and initialisations
lesson 01 compares, which MLPs lessons 01 and 02 train, which CIFAR twins lessons 02, 04 and 06 probe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from ..data.sets import ImageSet, balanced_subset, downsample
from ..data.tensors import as_tensors
from ..measure.gradients import gradient_growth, gradient_ratios, gradient_ratios_after_steps
from ..measure.probes import shattering as probe_shattering
from ..nets.blocks import PLACEMENTS, scale_branches
from ..nets.models import MLP, build_model, cifar_resnet, count_macs, count_params
from ..training.config import TrainConfig
from ..training.records import Record
from .paper import CIFAR_RECIPE
from .plateaus import one_cpu_thread

Builders = dict[str, Callable[[], nn.Module]]

# ---- lessons 01 and 02: plain and residual MLPs -------------------------------------------------

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
# ... and how they train them: until the training loss levels off (`plateaus.train_to_plateau`), at a
# constant learning rate of 0.05 per batch of 128, at most 40 epochs, on 16x16 images and width 64
# (quick); the paper's recipe at its constant 0.1, at most 30 epochs, on 32x32 images (gpu and paper).
PLATEAU_CFG = TrainConfig(
    epochs=40, batch_size=128, lr=0.05, weight_decay=0.0, schedule="constant", augment=False
)
PLATEAU_CFG_GPU = dataclasses.replace(CIFAR_RECIPE, epochs=30, schedule="constant")
PLATEAU_SIZE, PLATEAU_WIDTH = 16, 64
# Lesson 02: a cap of 20 epochs fits its time budget; the plain 30-block net has levelled off by then, the
# residual nets are still falling and are compared where the cap stops them.
PLATEAU_CFG_SHORTCUTS = dataclasses.replace(PLATEAU_CFG, epochs=20)
# Lessons 01 and 02 train their nets again at a tenth of the learning rate (lesson 01's cap): at the shared
# rate the deep plain net stalls near chance, and part of that is the rate itself.
PLATEAU_CFG_SLOW = dataclasses.replace(PLATEAU_CFG, lr=PLATEAU_CFG.lr / 10)
PLATEAU_CFG_GPU_SLOW = dataclasses.replace(PLATEAU_CFG_GPU, lr=PLATEAU_CFG_GPU.lr / 10)


def degradation_mlps(
    depths: Sequence[int] = (3, 30),
    *,
    shortcuts: Sequence[bool] = (False,),
    width: int = 128,
    **overrides: Any,
) -> Builders:
    """{label: builder} of `DEGRADATION_MLP`s ("plain MLP, 30 blocks", "residual MLP, 3 blocks", ...),
    plain before residual, for `training.train_models`; `overrides` change the regime (e.g. norm=True)."""
    kw = DEGRADATION_MLP | dict(width=width) | overrides
    return {
        f"{'residual' if sc else 'plain'} MLP, {d} blocks": partial(MLP, depth=d, shortcut=sc, **kw)
        for sc in shortcuts
        for d in depths
    }


def mlp_variants(
    variants: dict[str, dict[str, Any]],
    *,
    depth: int,
    width: int = 128,
    in_features: int = 3 * 32 * 32,
    shortcut: bool = False,
) -> Builders:
    """{label: builder} of `depth`-block MLPs, one per variant (label -> MLP keywords; a variant's own
    `shortcut` wins over the argument)."""
    return {
        label: partial(
            MLP, depth=depth, width=width, in_features=in_features, **({"shortcut": shortcut} | kw)
        )
        for label, kw in variants.items()
    }


def plain_and_residual(variants: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every variant twice, as "plain, <label>" and "residual, <label>": the same MLP without and with
    identity shortcuts (He et al. 2015), for `mlp_gradient_norms` and `mlp_gradient_factors`."""
    return {
        f"{kind}, {label}": kw | {"shortcut": kind == "residual"}
        for kind in ("plain", "residual")
        for label, kw in variants.items()
    }


def mlp_gradient_norms(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    depths: Sequence[int] = (5, 10, 20, 40),
    variants: dict[str, dict[str, Any]] = MLP_VARIANTS,
    width: int = 128,
    shortcut: bool = False,
    seeds: Sequence[int] = (0,),
) -> list[Record]:
    """`measure.gradients.gradient_ratios` of MLPs of each depth and variant at initialisation, in float64
    (vanishing norms of 1e-60 do not underflow). Rows as `gradient_ratios` plus depth."""
    rows = []
    for depth in depths:
        mlps = mlp_variants(variants, depth=depth, width=width, in_features=x[0].numel(), shortcut=shortcut)
        with one_cpu_thread(x.device.type == "cpu"):
            ratios = gradient_ratios(mlps, x, y, seeds=seeds, dtype=torch.float64)
        rows += [dict(r, depth=depth) for r in ratios]
    return rows


def mlp_gradient_factors(x: torch.Tensor, y: torch.Tensor, *, depth: int = 40, **kw: Any) -> list[Record]:
    """Per variant and seed: `measure.gradients.gradient_growth` (factor per block toward the input, and
    ||dE/dx_0|| / ||dE/dx_L||) of `mlp_gradient_norms` at one `depth`."""
    return [dict(r, depth=depth) for r in gradient_growth(mlp_gradient_norms(x, y, depths=(depth,), **kw))]


def bn_gradients_after_sgd(
    x: torch.Tensor,
    y: torch.Tensor,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    *,
    depth: int = 40,
    width: int = 128,
    steps: Sequence[int] = (0, 1, 5),
    lr: float = 0.1,
    seeds: Sequence[int] = (0, 1, 2),
) -> list[Record]:
    """Lesson 01's plain ReLU MLP with BN in every block ("ReLU, He init, BN"), probed on (x, y) at
    initialisation and after each count in `steps` of plain SGD steps (`gradient_ratios_after_steps`, in
    float64): per seed and `when` ("at initialisation", "after 1 SGD step", ...), the factor per block
    toward the input and ||dE/dx_0|| / ||dE/dx_L|| of `gradient_growth`, plus step."""
    label = "ReLU, He init, BN"
    mlps = mlp_variants({label: MLP_VARIANTS[label]}, depth=depth, width=width, in_features=x[0].numel())
    with one_cpu_thread(x.device.type == "cpu"):
        rows = gradient_ratios_after_steps(
            mlps, x, y, batches, steps=steps, lr=lr, seeds=seeds, dtype=torch.float64
        )
    out = []
    for step in steps:
        when = "at initialisation" if step == 0 else f"after {step} SGD step{'s' * (step > 1)}"
        out += [
            dict(r, when=when, step=step) for r in gradient_growth([r for r in rows if r["step"] == step])
        ]
    return out


# ---- lesson 07: gradient flow against convergence -----------------------------------------------

# The MLPs of lesson 07's sweep: blocks x_{l+1} = ReLU(BN(W x_l)) + lambda x_l, He init, a BN before
# the classifier; lambda = 0 is the plain net. They train full-batch on one fixed subset of 8x8 images.
CONVERGENCE_MLP: dict[str, Any] = dict(act="relu", init="he", norm=True, head_norm=True, width=64)
CONVERGENCE_SIZE = 8


def convergence_task(
    data: ImageSet, n_per_class: int, *, size: int = CONVERGENCE_SIZE, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lesson 07's training set as one full batch: `n_per_class` images of every class of `data`,
    average-pooled to `size` x `size`, normalised, on `device`."""
    return as_tensors(downsample(balanced_subset(data, n_per_class), size), device)


def scaled_mlps(depths: Sequence[int], scales: Sequence[float], *, in_features: int) -> Builders:
    """{"depth d, lambda=s": builder} for every depth and shortcut scale lambda (0: no shortcut)."""
    return {
        f"depth {d}, λ={s:g}": partial(
            MLP, depth=d, in_features=in_features, shortcut=s > 0, skip_scale=s, **CONVERGENCE_MLP
        )
        for d in depths
        for s in scales
    }


# ---- lessons 02, 04 and 06: CIFAR networks --------------------------------------------------------


def named(*names: str, **overrides: Any) -> Builders:
    """{name: builder} of registered models (`nets.build_model`), e.g. named("plain20", "plain56")."""
    return {name: partial(build_model, name, **overrides) for name in names}


def twins(depth: int, *, width: int = 16) -> Builders:
    """{"plain-<depth>": builder, "resnet-<depth>": builder}: a CIFAR net of He et al. 2015 (Sec. 4.2)
    without and with shortcuts, the same layers otherwise."""
    return {
        f"{kind}-{depth}": partial(cifar_resnet, depth, width=width, shortcut=shortcut)
        for kind, shortcut in (("plain", False), ("resnet", True))
    }


def twin_gradient_ratios(
    x: torch.Tensor, y: torch.Tensor, *, depth: int = 56, width: int = 4, seeds: Sequence[int] = (0, 1, 2)
) -> list[Record]:
    """`measure.gradients.gradient_ratios` of `twins(depth, width=width)` at initialisation on (x, y), run
    on one CPU thread (`plateaus.one_cpu_thread`): lesson 02's probe of the paper's CIFAR nets."""
    with one_cpu_thread(x.device.type == "cpu"):
        return gradient_ratios(twins(depth, width=width), x, y, seeds=seeds)


def shattering(
    names: Sequence[str], x: torch.Tensor, *, width: int = 8, seeds: Sequence[int] = (0, 1, 2), **kw: Any
) -> list[Record]:
    """`measure.probes.shattering` (Balduzzi et al. 2017) of the registered nets `names` at `width`,
    at initialisation, on one CPU thread; `kw` goes to it (n_points, max_lag)."""
    with one_cpu_thread(x.device.type == "cpu"):
        return probe_shattering(named(*names, width=width), x, seeds=seeds, **kw)


def scaled_shortcuts(depth: int = 20, *, width: int = 16) -> Builders:
    """{label: builder} of Identity Mappings' constant scaling (He et al. 2016, Table 1) on the original
    ResNet-`depth`: "identity" x_{l+1} = f(x_l + F), "shortcut 0.5" f(0.5 x_l + F) and "both 0.5"
    f(0.5 x_l + 0.5 F), a gate frozen at one half."""
    net = partial(build_model, f"resnet{depth}", width=width)
    return {
        "identity": net,
        "shortcut 0.5": partial(net, skip_scale=0.5),
        "both 0.5": lambda: scale_branches(net(skip_scale=0.5), 0.5),
    }


def placements(depth: int = 20, *, width: int = 16, which: Sequence[str] = PLACEMENTS) -> Builders:
    """{placement: builder} of ResNet-`depth` with each placement of BN and ReLU of Identity Mappings'
    Fig. 4 in `which` (default all five, `nets.PLACEMENTS`)."""
    return {p: partial(build_model, f"resnet{depth}", width=width, placement=p) for p in which}


def normalisations(name: str = "resnet20", *, width: int = 16) -> Builders:
    """{label: builder} of one registered net three ways (lesson 04): without normalisation, without it
    but with SkipInit (a zero-initialised scalar on every branch, De & Smith 2020), and with BN."""
    net = partial(build_model, name, width=width)
    return {
        "no normalisation": partial(net, norm=False),
        "no normalisation + SkipInit": partial(net, norm=False, skipinit=True),
        "BatchNorm (reference)": partial(net, norm=True),
    }


def sizes(shapes: Sequence[tuple[str, int]]) -> list[Record]:
    """Parameters (millions) and multiply-accumulates per 32x32 image (millions) of registered models
    at the given widths: [(name, width), ...]."""
    rows = []
    for name, width in shapes:
        net = build_model(name, width=width)
        rows.append(
            {
                "model": name,
                "width": width,
                "params (M)": count_params(net) / 1e6,
                "MMACs / image": count_macs(net) / 1e6,
            }
        )
    return rows


def shortcut_param_counts(depths: Sequence[int] = (20, 32, 44, 56, 110), width: int = 16) -> list[Record]:
    """Parameters of CIFAR ResNets with option A (zero-pad) and option B (1x1 projection) shortcuts.

    He et al. 2015, Sec. 3.3 and Table 6: option A adds no parameters (ResNet-20: 0.27M).
    """
    rows = []
    for depth in depths:
        a = count_params(cifar_resnet(depth, width=width, option="A"))
        b = count_params(cifar_resnet(depth, width=width, option="B"))
        rows.append(dict(depth=depth, option_A=a, option_B=b, extra_B=b - a, extra_B_pct=100 * (b - a) / a))
    return rows
