"""resnet_edu: the companion library of the resnet-edu course on deep residual learning.

Modules, one idea each, in reading order:
  blocks       residual blocks and their variants (shortcut on/off, option A/B, Fig. 4 placements)
  models       networks built from the blocks, the name registry, parameter and MAC counts
  data         CIFAR-10 sources, the uint8 cache, the on-device loader with batched augmentation
  train        TrainConfig, fit, evaluate, History, checkpoints, DistributedDataParallel
  probes       gradient and activation measurements, lesions, Hessian sharpness
  landscape    filter-normalised directions and loss surfaces (Li et al. 2018)
  gradflow     per-stage gradient norms recorded while a network trains
  plots        the course's figures; widgets: ipywidgets explorers with static fallbacks
  experiments  the small experiments the lessons run
  course       quick/full setting, lesson data, running the notebooks headless
  bench        benchmarks against the usual tutorial tools; cli: argument parsing only
"""

from .blocks import MLPBlock, ResidualBlock
from .data import DataError, ImageSet, balanced_subset, load_cifar10, synthetic_cifar
from .loader import DeviceLoader
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
