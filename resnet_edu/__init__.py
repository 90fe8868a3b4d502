"""resnet_edu: the companion library of the resnet-edu course on deep residual learning.

Modules, one idea each, in reading order (the lesson that uses each first in brackets):
  blocks       residual blocks: F, the skip path and what follows the addition, in paper order (02, 03)
  models       networks built from the blocks, the name registry, parameter and MAC counts (01, 02)
  data         CIFAR-10 sources and the uint8 cache; loader: batches and augmentation on the device
  tensors      data on the model's device, hooks that are always removed, the one evaluation loop
  config       TrainConfig and the learning-rate schedule; paper: the papers' numbers and recipe
  train        fit, the one training loop (callbacks, checkpoints, DDP); checkpoints; records: History
  experiments  the small seeded experiments of the lessons (01, 02, 04); seeds: effects across seeds
  identities   Eq. 4, 5, 7 checked numerically; depth_probe: placements through depth at init (03)
  probes       gradient and activation measurements (01, 02, 04); lesions: lesion studies over seeds (04)
  hessian      Hessian eigenvalues and trace from Hessian-vector products (05)
  gradflow     per-stage gradient norms recorded while fit trains (04, 06); descent: one step vs eta |g|^2
  compare      two architectures over seeds: verdicts, seed tables, stored runs (06)
  landscape    filter-normalised directions and loss surfaces (05); fold: BN folded into convs
  plots        single-axes figures; panels: the lessons' multi-panel figures; widgets: explorers
  course       the quick/gpu/paper settings, a lesson's start, running the notebooks headless
  reproduce    the papers' runs as a resumable queue; bench: benchmarks; cli + commands: the CLI
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
