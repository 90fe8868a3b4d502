"""Residual blocks and their variants: one block class, every variant a keyword.

He et al. 2015 ("Deep Residual Learning") write a block as  y = F(x) + x  (Eq. 1) or, when the
shape changes,  y = F(x) + W_s x  (Eq. 2). He et al. 2016 ("Identity Mappings") move BN and ReLU
in front of the weights so that the shortcut stays a pure identity. Both live in `ResidualBlock`
below; a plain block is the same block with `shortcut=False` (never a copied class).
"""

from __future__ import annotations

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


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions, a skip path and an addition: x_{l+1} = f(h(x_l) + F(x_l)).

    Keywords:
      shortcut    False gives the plain block: the same layers without the addition.
      option      "A" zero-pad or "B" 1x1 projection when the shape changes.
      placement   where BN/ReLU sit, one of `PLACEMENTS` (Identity Mappings, Fig. 4).
      norm        False drops every BatchNorm (lesson 04).
      skip_scale  lambda in x_{l+1} = lambda * x_l + F(x_l) (Identity Mappings, Eq. 6).
      skipinit    multiply F by a learnable scalar that starts at 0 (De & Smith 2020, Fixup idea).
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
        if placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {placement!r}; known: {', '.join(PLACEMENTS)}")
        self.placement, self.skip_scale = placement, skip_scale
        self.conv1 = conv3x3(in_ch, out_ch, stride)
        self.conv2 = conv3x3(out_ch, out_ch)
        # Pre-activation (e) normalises the block's input; the others normalise conv outputs.
        self.bn1 = norm_layer(in_ch if placement == "full_preact" else out_ch, norm)
        self.bn2 = norm_layer(out_ch, norm)
        self.shortcut = make_shortcut(in_ch, out_ch, stride, option, norm) if shortcut else None
        self.gain = nn.Parameter(torch.zeros(())) if skipinit else None

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x) (for a plain block: everything before the last activation)."""
        p = self.placement
        if p == "full_preact":
            out = self.conv1(F.relu(self.bn1(x)))
            out = self.conv2(F.relu(self.bn2(out)))
        elif p == "relu_only_preact":
            out = F.relu(self.bn1(self.conv1(F.relu(x))))
            out = self.bn2(self.conv2(out))
        else:
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.conv2(out)
            if p == "original":
                out = self.bn2(out)
            elif p == "relu_before_addition":
                out = F.relu(self.bn2(out))
        return out if self.gain is None else self.gain * out

    def after_addition(self, x: torch.Tensor) -> torch.Tensor:
        """The activation f applied after the addition (identity for pre-activation blocks)."""
        if self.placement == "original":
            return F.relu(x)
        if self.placement == "bn_after_addition":
            return F.relu(self.bn2(x))
        return x

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut path h(x_l), scaled by lambda (zero for a plain block)."""
        if self.shortcut is None:
            return torch.zeros((), device=x.device, dtype=x.dtype)
        return self.skip_scale * self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W) -> (B, C_out, H/s, W/s)
        out = self.branch(x)
        if self.shortcut is not None:  # a plain block skips the addition (no add of zeros)
            out = out + self.skip(x)
        return self.after_addition(out)


class MLPBlock(nn.Module):
    """One fully connected layer, x -> act(BN(W x)), with an optional identity shortcut.

    The smallest network in which lesson 01 shows vanishing gradients: sigmoid vs ReLU,
    naive vs He initialisation, with and without BatchNorm.
    """

    def __init__(self, width: int, *, act: str = "relu", norm: bool = False, shortcut: bool = False):
        super().__init__()
        acts = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh()}
        if act not in acts:
            raise ValueError(f"unknown activation {act!r}; known: {', '.join(acts)}")
        self.linear = nn.Linear(width, width, bias=not norm)
        self.norm = nn.BatchNorm1d(width) if norm else nn.Identity()
        self.act = acts[act]
        self.shortcut = nn.Identity() if shortcut else None  # as in ResidualBlock: a module or None

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) = act(BN(W x))."""
        return self.act(self.norm(self.linear(x)))

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """The identity shortcut (zero for a plain block), the same interface as `ResidualBlock.skip`."""
        return torch.zeros((), device=x.device, dtype=x.dtype) if self.shortcut is None else x

    def after_addition(self, x: torch.Tensor) -> torch.Tensor:
        """Nothing follows the addition in this block."""
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, width) -> (B, width)
        return self.branch(x) + x if self.shortcut is not None else self.branch(x)
