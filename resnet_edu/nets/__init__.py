"""Networks: residual blocks in the paper's order, the models built from them, and safe handling.

blocks   the residual block x_{l+1} = f(h(x_l) + F(x_l)), every variant a keyword
models   ResNet, its plain twin, ResNet18, SimpleCNN, MLP, the name registry, counts
modules  where a model lives; a mode that is restored; hooks that are removed
fold     BatchNorm folded into the convolution before it (fast evaluation)
"""

from .blocks import PLACEMENTS, ConstantScale, MLPBlock, ResidualBlock, scale_branches
from .fold import fold_bn
from .models import (
    MLP,
    ResNet,
    SimpleCNN,
    block_stack,
    build_model,
    cifar_resnet,
    count_macs,
    count_params,
    init_weights,
    model_names,
    residual_blocks,
    resnet18,
)
from .modules import hooks, model_device, model_dtype, preserved

__all__ = [
    "MLP",
    "PLACEMENTS",
    "ConstantScale",
    "MLPBlock",
    "ResNet",
    "ResidualBlock",
    "SimpleCNN",
    "block_stack",
    "build_model",
    "cifar_resnet",
    "count_macs",
    "count_params",
    "fold_bn",
    "hooks",
    "init_weights",
    "model_device",
    "model_dtype",
    "model_names",
    "preserved",
    "residual_blocks",
    "resnet18",
    "scale_branches",
]
