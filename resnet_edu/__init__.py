"""resnet_edu: the companion library of the resnet-edu course on deep residual learning.

Modules, one idea each: `blocks` (residual blocks), `models` (networks and the name registry),
`data` (CIFAR-10 sources and the on-device loader).
"""

from .blocks import MLPBlock, ResidualBlock
from .data import DataError, DeviceLoader, ImageSet, balanced_subset, load_cifar10, synthetic_cifar
from .models import build_model, count_macs, count_params, model_names, residual_blocks

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DeviceLoader",
    "ImageSet",
    "MLPBlock",
    "ResidualBlock",
    "balanced_subset",
    "build_model",
    "count_macs",
    "count_params",
    "load_cifar10",
    "model_names",
    "residual_blocks",
    "synthetic_cifar",
]
