"""Networks built from `blocks`, a name registry, and parameter/MAC counts.

One generic `ResNet` class covers the CIFAR ResNets of He et al. 2015 (Sec. 4.2: depth 6n+2,
widths 16-32-64), ResNet18 as the CIFAR community uses it (3x3 stem, no max-pool, widths
64-128-256-512), their plain twins (`shortcut=False`) and their pre-activation versions.
Every named model is a one-line builder over it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from .blocks import PREACT_PLACEMENTS, MLPBlock, ResidualBlock, conv3x3, norm_layer
from .modules import hooks, model_device, preserved


class ResNet(nn.Module):
    """Stem, stages of `ResidualBlock`s, global average pool, linear classifier.

    `depths[i]` blocks of width `widths[i]`; every stage after the first halves the resolution.
    Extra keywords (shortcut, option, placement, norm, skip_scale, skipinit) go to every block.
    """

    def __init__(
        self,
        *,
        depths: tuple[int, ...] = (3, 3, 3),
        widths: tuple[int, ...] = (16, 32, 64),
        num_classes: int = 10,
        in_channels: int = 3,
        placement: str = "original",
        norm: bool = True,
        **block_kw,
    ):
        super().__init__()
        whole = all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in (*depths, *widths))
        if not whole or not depths or len(depths) != len(widths) or min(depths) <= 0 or min(widths) <= 0:
            raise ValueError(
                f"depths and widths must be equally long, positive whole numbers, got {depths} and {widths}"
            )
        preact = placement in PREACT_PLACEMENTS
        # A pre-activation net's first block normalises its own input, so the stem is a bare conv.
        stem = [conv3x3(in_channels, widths[0])]
        if not preact:
            stem += [norm_layer(widths[0], norm), nn.ReLU()]
        self.stem = nn.Sequential(*stem)
        stages, in_ch = [], widths[0]
        for i, (depth, width) in enumerate(zip(depths, widths)):
            blocks = []
            for j in range(depth):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(
                    ResidualBlock(in_ch, width, stride=stride, placement=placement, norm=norm, **block_kw)
                )
                in_ch = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        # Identity Mappings: after the last addition, one more BN + ReLU before pooling.
        self.head_act = nn.Sequential(norm_layer(in_ch, norm), nn.ReLU()) if preact else nn.Identity()
        self.fc = nn.Linear(in_ch, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B, classes)
        x = self.stages(self.stem(x))  # (B, C, 8, 8) for three stages
        x = self.head_act(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)  # (B, C)
        return self.fc(x)


def init_weights(model: nn.Module) -> None:
    """He (Kaiming) normal initialisation for convolutions, as in He et al. 2015 Sec. 3.4."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def cifar_resnet(
    depth: int,
    *,
    width: int = 16,
    option: str = "A",
    shortcut: bool = True,
    placement: str = "original",
    norm: bool = True,
    skip_scale: float = 1.0,
    skipinit: bool = False,
    num_classes: int = 10,
    in_channels: int = 3,
) -> ResNet:
    """ResNet of depth 6n+2 for CIFAR (He et al. 2015, Sec. 4.2): three stages of n blocks of widths
    `width`, 2 `width`, 4 `width` (16-32-64 in the paper), option A shortcuts by default."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(
        depths=(n, n, n),
        widths=(width, 2 * width, 4 * width),
        option=option,
        shortcut=shortcut,
        placement=placement,
        norm=norm,
        skip_scale=skip_scale,
        skipinit=skipinit,
        num_classes=num_classes,
        in_channels=in_channels,
    )


def resnet18(
    *,
    width: int = 64,
    option: str = "B",
    shortcut: bool = True,
    placement: str = "original",
    norm: bool = True,
    num_classes: int = 10,
    in_channels: int = 3,
) -> ResNet:
    """ResNet18 for 32x32 images: 3x3 stem, no max-pool, 2-2-2-2 blocks of widths 64-128-256-512 (for
    `width` 64), option B projections."""
    return ResNet(
        depths=(2, 2, 2, 2),
        widths=(width, 2 * width, 4 * width, 8 * width),
        option=option,
        shortcut=shortcut,
        placement=placement,
        norm=norm,
        num_classes=num_classes,
        in_channels=in_channels,
    )


class SimpleCNN(nn.Module):
    """The small CNN a learner writes first: three conv-ReLU-maxpool stages and a 2-layer classifier.

    No BatchNorm and no shortcuts: the baseline of the seed experiment (lesson 06).
    """

    def __init__(self, *, width: int = 32, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width <= 0:
            raise ValueError(f"width must be a positive whole number, got {width!r}")
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, w, 16, 16)
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 2w, 8, 8)
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, 4w, 4, 4)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(4 * w * 16, 256), nn.ReLU(), nn.Linear(256, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B, classes)
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Flatten, a linear embedding, `depth` `MLPBlock`s and a linear classifier (lesson 01).

    `init="naive"` draws weights from N(0, 0.01^2) (the small-Gaussian habit before Glorot/He);
    `init="he"` uses Kaiming normal, std = sqrt(2 / fan_in); `init="xavier"` std = sqrt(1 / fan_in)
    (Glorot & Bengio 2010, the choice for tanh). `head_norm` adds a BatchNorm before the classifier;
    `skip_scale` is lambda in every block's x_{l+1} = F(x_l) + lambda x_l (with `shortcut=True`).
    """

    def __init__(
        self,
        *,
        depth: int = 10,
        width: int = 128,
        in_features: int = 3 * 32 * 32,
        num_classes: int = 10,
        act: str = "relu",
        init: str = "he",
        norm: bool = False,
        shortcut: bool = False,
        skip_scale: float = 1.0,
        head_norm: bool = False,
    ):
        super().__init__()
        if init not in ("he", "naive", "xavier"):
            raise ValueError(f"unknown init {init!r}; use 'he', 'xavier' or 'naive'")
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width))
        self.blocks = nn.Sequential(
            *[
                MLPBlock(width, act=act, norm=norm, shortcut=shortcut, skip_scale=skip_scale)
                for _ in range(depth)
            ]
        )
        # A BN before the classifier (as pre-activation nets end, He et al. 2016) keeps the logits of a
        # residual MLP, whose stream grows with depth, at the scale of a plain one: a fair start.
        self.head_norm = nn.BatchNorm1d(width) if head_norm else nn.Identity()
        self.fc = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                if init == "he":
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                elif init == "xavier":  # std = sqrt(1 / fan_in): keeps tanh near its linear regime
                    nn.init.normal_(m.weight, std=m.in_features**-0.5)
                else:
                    nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B, classes)
        return self.fc(self.head_norm(self.blocks(self.embed(x))))


def block_stack(
    n_blocks: int, channels: int = 8, *, placement: str = "full_preact", seed: int | None = 0, **block_kw
) -> nn.Sequential:
    """`n_blocks` same-shape `ResidualBlock`s (one stage of a CIFAR ResNet without its stem and head),
    He-initialised from `seed` (None: from torch's current random state), in float64 and train mode:
    the network of Identity Mappings' equations (lesson 03). Extra keywords go to every block (e.g.
    `skip_scale=0.5`, `skipinit=True`)."""
    if seed is not None:
        torch.manual_seed(seed)
    net = nn.Sequential(
        *[ResidualBlock(channels, channels, placement=placement, **block_kw) for _ in range(n_blocks)]
    )
    init_weights(net)
    return net.double()


# ---- the registry ---------------------------------------------------------------------------

CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)

MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet18": resnet18,
    "plain18": partial(resnet18, shortcut=False),
    "preact_resnet18": partial(resnet18, placement="full_preact"),
    "simplecnn": SimpleCNN,
}
for _d in CIFAR_DEPTHS:
    MODELS[f"resnet{_d}"] = partial(cifar_resnet, _d)
    MODELS[f"plain{_d}"] = partial(cifar_resnet, _d, shortcut=False)
    MODELS[f"preact_resnet{_d}"] = partial(cifar_resnet, _d, placement="full_preact")


def model_names() -> list[str]:
    """Every registered model name, in registry order."""
    return list(MODELS)


def build_model(name: str, **overrides) -> nn.Module:
    """Build a registered model; keywords override its defaults (for example `width=8`)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name](**overrides)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_size: tuple[int, ...] = (3, 32, 32)) -> int:
    """Multiply-accumulates of convolutions and linear layers for one image (BN, ReLU, adds ignored)."""
    total = 0

    def hook(m: nn.Module, inp, out) -> None:
        nonlocal total
        if isinstance(m, nn.Conv2d):
            k = math.prod(m.kernel_size) * m.in_channels // m.groups
            total += out[0].numel() * k
        else:
            total += m.in_features * m.out_features

    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    with hooks(layers, forward=hook), preserved(model, False), torch.no_grad():
        model(torch.zeros(1, *input_size, device=model_device(model)))
    return total


def residual_blocks(model: nn.Module) -> list[nn.Module]:
    """The model's blocks in forward order (ResidualBlock or MLPBlock), for probes and lesions."""
    return [m for m in model.modules() if isinstance(m, ResidualBlock | MLPBlock)]
