"""The papers' numbers in one table: what lessons, README and tests quote, each with its source.

Nothing here is measured by this library. A lesson that shows one of these numbers prints it from
here, next to the number its own run measured.
"""

from __future__ import annotations

import dataclasses
import math

from ..training.config import TrainConfig

# He et al. 2015, "Deep Residual Learning for Image Recognition", Table 6: CIFAR-10 test error (%)
# and parameters (millions) of the CIFAR ResNets (option A shortcuts).
TABLE6_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
TABLE6_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}
TABLE6_SOURCE = "He et al. 2015, Table 6"

# A public reproduction (akamaster/pytorch_resnet_cifar10, 200 epochs): CIFAR-10 test error (%).
REPRODUCTION_ERROR = {20: 8.27, 32: 7.37, 44: 6.90, 56: 6.61, 110: 6.32}

# He et al. 2015, Sec. 4.2: the CIFAR-10 recipe. 64k iterations of batch 128 on 45k/50k images are
# about 164-182 epochs; lr 0.1 divided by 10 at 32k and 48k iterations (half and three quarters).
CIFAR_RECIPE = TrainConfig(
    epochs=164,  # ~64k iterations of 128 images on 50k training images
    batch_size=128,  # images per SGD step
    lr=0.1,  # per batch of 128
    momentum=0.9,
    nesterov=False,
    weight_decay=1e-4,
    schedule="step",
    milestones=(0.5, 0.75),  # lr / 10 at 32k and 48k of 64k iterations
    warmup=0.0,
    augment=True,  # 4-pixel pad, random 32x32 crop, horizontal flip
)
CIFAR_RECIPE_SOURCE = "He et al. 2015, Sec. 4.2"


def recipe(epochs: int) -> TrainConfig:
    """`CIFAR_RECIPE` cut to `epochs` (its learning-rate steps at the same fractions of training): the
    gpu setting's short version of the paper's runs."""
    return dataclasses.replace(CIFAR_RECIPE, epochs=epochs)


# He et al. 2016, "Identity Mappings in Deep Residual Networks", Table 2 / Fig. 4: ResNet-110 CIFAR-10
# test error (%) by where BN and ReLU sit.
PLACEMENT_ERROR = {
    "original": 6.61,
    "bn_after_addition": 8.17,
    "relu_before_addition": 7.84,
    "relu_only_preact": 6.71,
    "full_preact": 6.37,
}
PLACEMENT_SOURCE = "He et al. 2016, Table 2"

# He et al. 2016, Table 1: constant scaling of the shortcut (ResNet-110): shortcut 0.5 alone fails to
# converge well; scaling both shortcut and F by 0.5 gives 12.35% (against 6.61% for the identity).
SCALING_BOTH_HALF_ERROR = 12.35
SCALING_SOURCE = "He et al. 2016, Table 1"

# He et al. 2016, Table 3: original -> full pre-activation, CIFAR-10 test error (%). The gain grows
# with depth (Sec. 4.2; Fig. 6 right: pre-activation also has the higher training loss on short nets).
PREACT_DEPTH_ERROR = {164: (5.93, 5.46), 1001: (7.61, 4.92)}

# Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets", Sec. 5: the surfaces' grid and data.
LI_GRID, LI_SPAN, LI_N_IMAGES = 51, 1.0, 10_000

# Common CIFAR ResNet18 (3x3 stem, no max-pool): ~11.2M parameters, ~0.56 GMACs per 32x32 image,
# 93-95% test accuracy in reproductions.
RESNET18_PARAMS_M, RESNET18_GMACS = 11.2, 0.56

# Jordan 2024, "94% on CIFAR-10 in 3.29 Seconds on a Single GPU" (airbench, arXiv 2404.00498, and its
# README), all on one A100: standard ResNet-18 training reaches 96.0% in about 7 minutes (about 2.1 s
# per epoch over about 200 epochs); airbench94, a much smaller network and recipe, 94.01% in 3.83 s.
AIRBENCH_SOURCE = "Jordan 2024 (airbench), one A100"
A100_RESNET18_TO_96_MIN = 7
A100_RESNET18_EPOCH_S = 2.1
AIRBENCH94_ACC, AIRBENCH94_S = 94.01, 3.83

# He et al. 2015, Table 3: ImageNet top-1 error (%, 10-crop) of ResNet-34 with shortcut options A (zero-pad),
# B (projections where the shape changes) and C (projections everywhere). Sec. 3.3 / 4.1: B is slightly
# better than A "because the zero-padded dimensions in A indeed have no residual learning".
SHORTCUT_OPTION_TOP1 = {"A": 25.03, "B": 24.52, "C": 24.19}
SHORTCUT_OPTION_SOURCE = "He et al. 2015, Table 3"

# Yang et al. 2019, "A Mean Field Theory of Batch Normalization": in a wide plain ReLU net with BN in every
# layer the squared gradient norm grows by pi / (pi - 1) per layer toward the input at initialisation
# (large-batch limit), so the norm by this factor per layer.
YANG_BN_RELU_GROWTH = math.sqrt(math.pi / (math.pi - 1))
