"""resnet_edu: the companion library of the resnet-edu course on deep residual learning.

Five sub-packages whose imports run one way, each depending only on those before it:

    nets       residual blocks in the paper's order, the models built from them, safe handling
    data       CIFAR-10 from any source, cached as uint8, batched and augmented on the device
    training   TrainConfig, the one training loop `fit`, records, checkpoints, runs over seeds
    measure    probes of networks: gradients through depth, lesions, Hessians, loss landscapes
    course     a lesson's start and settings, the lessons' experiments, seed statistics, figures

and on top the command line (`cli`, `commands`, `bench`). The names below are the public ones; each
is importable from here (`from resnet_edu import build_model`) and from its sub-package. They are
loaded on first use, so `import resnet_edu` stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it (relative to this package)
PUBLIC = {
    # nets
    "ResidualBlock": "nets.blocks",
    "MLPBlock": "nets.blocks",
    "PLACEMENTS": "nets.blocks",
    "ResNet": "nets.models",
    "SimpleCNN": "nets.models",
    "MLP": "nets.models",
    "build_model": "nets.models",
    "model_names": "nets.models",
    "cifar_resnet": "nets.models",
    "resnet18": "nets.models",
    "block_stack": "nets.models",
    "count_params": "nets.models",
    "count_macs": "nets.models",
    "residual_blocks": "nets.models",
    # data
    "ImageSet": "data.sets",
    "DataError": "data.files",
    "load_cifar10": "data.sources",
    "balanced_subset": "data.sets",
    "synthetic_cifar": "data.sets",
    "downsample": "data.sets",
    "DeviceLoader": "data.loader",
    "as_tensors": "data.tensors",
    "random_batch": "data.tensors",
    # training
    "TrainConfig": "training.config",
    "fit": "training.fit",
    "evaluate": "training.evaluation",
    "TrainingDiverged": "training.fit",
    "History": "training.records",
    "over_seeds": "training.seeded",
    "train_models": "training.seeded",
    "history_rows": "training.records",
    # course
    "start": "course.settings",
    "run_lessons": "course.lessons",
    "check_runtime": "course.runtime",
    "verdict": "course.stats",
    "seed_summary": "course.stats",
}
SUBPACKAGES = ("nets", "data", "training", "measure", "course")

__all__ = sorted([*PUBLIC, *SUBPACKAGES])


def __getattr__(name: str):
    if name in PUBLIC:
        return getattr(importlib.import_module(f".{PUBLIC[name]}", __name__), name)
    if name in SUBPACKAGES or name in ("cli", "commands", "bench"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'resnet_edu' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
