"""Residual blocks and their variants: one block class, every variant a keyword.

He et al. 2015 ("Deep Residual Learning") write a block as  y = F(x) + x  (Eq. 1) or, when the
shape changes,  y = F(x) + W_s x  (Eq. 2). He et al. 2016 ("Identity Mappings") move BN and ReLU
in front of the weights so that the shortcut stays a pure identity. Both live in `ResidualBlock`
below; a plain block is the same block with `shortcut=False` (never a copied class).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

# Fig. 4 of Identity Mappings: where BN and ReLU sit relative to the addition.
PLACEMENTS = (
    "original",  # (a) conv-BN-ReLU-conv-BN, add, ReLU          (He et al. 2015)
    "bn_after_addition",  # (b) conv-BN-ReLU-conv, add, BN-ReLU
    "relu_before_addition",  # (c) conv-BN-ReLU-conv-BN-ReLU, add
    "relu_only_preact",  # (d) ReLU-conv-BN-ReLU-conv-BN, add
    "full_preact",  # (e) BN-ReLU-conv-BN-ReLU-conv, add        (He et al. 2016)
)
PREACT_PLACEMENTS = ("relu_only_preact", "full_preact")


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (BN follows it)."""
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias, used by projection shortcuts."""
    return nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)


def norm_layer(channels: int, norm: bool) -> nn.Module:
    """BatchNorm when `norm`, else the identity (for the unnormalised nets of lesson 04)."""
    return nn.BatchNorm2d(channels) if norm else nn.Identity()


class PadShortcut(nn.Module):
    """Option A (He et al. 2015, Sec. 4.2): subsample by `stride`, zero-pad the new channels.

    Parameter-free, so ResNet-20..110 keep the paper's parameter counts (Table 6).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


def make_shortcut(in_ch: int, out_ch: int, stride: int, option: str, norm: bool = True) -> nn.Module:
    """The skip path: identity when the shape is kept, else option "A" (pad) or "B" (1x1 conv + BN)."""
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    if option == "A":
        return PadShortcut(in_ch, out_ch, stride)
    if option == "B":
        return nn.Sequential(conv1x1(in_ch, out_ch, stride), norm_layer(out_ch, norm))
    raise ValueError(f"unknown shortcut option {option!r}; use 'A' (zero-pad) or 'B' (1x1 projection)")


def _seq(*layers: tuple[str, nn.Module]) -> nn.Sequential:
    """An `nn.Sequential` whose children carry the paper's names, in the order they compute."""
    return nn.Sequential(OrderedDict(layers))


def residual_branch(
    in_ch: int, out_ch: int, stride: int, placement: str, norm: bool
) -> tuple[nn.Module, nn.Module]:
    """(F, f): the residual branch and what follows the addition, for one placement of Fig. 4.

    Each branch lists its layers in the order they run, so `print(block)` reads like the figure.
    """
    conv1, conv2 = conv3x3(in_ch, out_ch, stride), conv3x3(out_ch, out_ch)
    bn = lambda ch: norm_layer(ch, norm)  # noqa: E731
    if placement == "original":  # (a)
        branch = _seq(
            ("conv1", conv1), ("bn1", bn(out_ch)), ("relu1", nn.ReLU()), ("conv2", conv2), ("bn2", bn(out_ch))
        )
        return branch, nn.ReLU()
    if placement == "bn_after_addition":  # (b)
        branch = _seq(("conv1", conv1), ("bn1", bn(out_ch)), ("relu1", nn.ReLU()), ("conv2", conv2))
        return branch, _seq(("bn2", bn(out_ch)), ("relu2", nn.ReLU()))
    if placement == "relu_before_addition":  # (c)
        branch = _seq(
            ("conv1", conv1),
            ("bn1", bn(out_ch)),
            ("relu1", nn.ReLU()),
            ("conv2", conv2),
            ("bn2", bn(out_ch)),
            ("relu2", nn.ReLU()),
        )
        return branch, nn.Identity()
    if placement == "relu_only_preact":  # (d)
        branch = _seq(
            ("relu1", nn.ReLU()),
            ("conv1", conv1),
            ("bn1", bn(out_ch)),
            ("relu2", nn.ReLU()),
            ("conv2", conv2),
            ("bn2", bn(out_ch)),
        )
        return branch, nn.Identity()
    if placement == "full_preact":  # (e): BN-ReLU before each weight layer, nothing after the addition
        branch = _seq(
            ("bn1", bn(in_ch)),
            ("relu1", nn.ReLU()),
            ("conv1", conv1),
            ("bn2", bn(out_ch)),
            ("relu2", nn.ReLU()),
            ("conv2", conv2),
        )
        return branch, nn.Identity()
    raise ValueError(f"unknown placement {placement!r}; known: {', '.join(PLACEMENTS)}")


class Gain(nn.Module):
    """A learnable scalar that multiplies the branch, initialised to `value` (SkipInit: 0)."""

    def __init__(self, value: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(float(value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x


class ConstantScale(nn.Module):
    """Multiply by a fixed number (no parameter): the frozen gate on F of Identity Mappings, Table 1
    ("constant scaling")."""

    def __init__(self, value: float):
        super().__init__()
        self.value = float(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value * x

    def extra_repr(self) -> str:
        return f"value={self.value:g}"


class ResidualBlock(nn.Module):
    """x_{l+1} = f(h(x_l) + F(x_l)): a residual branch F, a skip path h, and f after the addition.

    Keywords:
      shortcut    False gives the plain block: the same layers without the addition.
      option      "A" zero-pad or "B" 1x1 projection when the shape changes.
      placement   where BN/ReLU sit, one of `PLACEMENTS` (Identity Mappings, Fig. 4).
      norm        False drops every BatchNorm (lesson 04).
      skip_scale  lambda in x_{l+1} = lambda * x_l + F(x_l) (Identity Mappings, Eq. 6).
      skipinit    multiply F by a learnable scalar that starts at 0 (De & Smith 2020, Fixup idea).

    `block.branch` is F (an `nn.Sequential` in computation order), `block.after_addition` is f, and
    `block.skip(x)` is lambda h(x) (zero for a plain block).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        stride: int = 1,
        shortcut: bool = True,
        option: str = "A",
        placement: str = "original",
        norm: bool = True,
        skip_scale: float = 1.0,
        skipinit: bool = False,
    ):
        super().__init__()
        if in_ch <= 0 or out_ch <= 0:
            raise ValueError(f"channel counts must be positive, got in_ch={in_ch}, out_ch={out_ch}")
        self.placement, self.skip_scale = placement, skip_scale
        self.branch, self.after_addition = residual_branch(in_ch, out_ch, stride, placement, norm)
        if skipinit:
            self.branch.add_module("gain", Gain(0.0))
        self.shortcut = make_shortcut(in_ch, out_ch, stride, option, norm) if shortcut else None

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut path lambda h(x_l) (zero for a plain block)."""
        if self.shortcut is None:
            return torch.zeros((), device=x.device, dtype=x.dtype)
        return self.skip_scale * self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H/s, W/s)
        out = self.branch(x)  # F(x_l)
        if self.shortcut is not None:  # a plain block has no addition
            out = out + self.skip(x)  # F(x_l) + lambda h(x_l)
        return self.after_addition(out)


class MLPBlock(nn.Module):
    """One fully connected layer, F(x) = act(BN(W x)), with an optional shortcut: x_{l+1} = F(x_l) + lambda
    x_l with lambda = `skip_scale` (1: the identity; lesson 07 turns it down toward a plain block).

    The smallest network in which lesson 01 shows vanishing gradients: sigmoid vs ReLU,
    naive vs He initialisation, with and without BatchNorm. Same interface as `ResidualBlock`.
    """

    def __init__(
        self,
        width: int,
        *,
        act: str = "relu",
        norm: bool = False,
        shortcut: bool = False,
        skip_scale: float = 1.0,
    ):
        super().__init__()
        acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
        if act not in acts:
            raise ValueError(f"unknown activation {act!r}; known: {', '.join(acts)}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        norm_ = nn.BatchNorm1d(width) if norm else nn.Identity()
        self.branch = _seq(
            ("linear", nn.Linear(width, width, bias=not norm)), ("norm", norm_), ("act", acts[act]())
        )
        self.after_addition = nn.Identity()
        self.shortcut = nn.Identity() if shortcut else None
        self.skip_scale = skip_scale

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut lambda x (zero for a plain block)."""
        if self.shortcut is None:
            return torch.zeros((), device=x.device, dtype=x.dtype)
        return x if self.skip_scale == 1.0 else self.skip_scale * x

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, width) -> (B, width)
        return self.branch(x) + self.skip(x) if self.shortcut is not None else self.branch(x)


def scale_branches(model: nn.Module, value: float) -> nn.Module:
    """Append a `ConstantScale(value)` to the branch F of every `ResidualBlock` of `model`, in place, and
    return it. With `skip_scale=0.5` and `value=0.5` every block computes 0.5 x_l + 0.5 F(x_l), the case
    that trained to 12.35% error on ResNet-110 (Identity Mappings, Table 1); the weights are unchanged."""
    for m in model.modules():
        if isinstance(m, ResidualBlock):
            m.branch.add_module("scale", ConstantScale(value))
    return model
