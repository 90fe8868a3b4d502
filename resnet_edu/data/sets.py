"""Image sets in memory: uint8 images with labels, class-balanced subsets, synthetic stand-ins.

An `ImageSet` is what every source in `sources` returns and what `loader.DeviceLoader` batches:
images as uint8 (N, 3, H, W), four times smaller than floats, normalised only on the device.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from .files import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CHANCE = 1 / len(CLASSES)  # accuracy of guessing one of CIFAR-10's ten classes
MAX_PER_CLASS = 10_000  # synthetic images per class: CIFAR-10 has 6,000


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 (N, 3, H, W), integer labels (N,), and the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.labels)


def balanced_subset(data: ImageSet, n_per_class: int, *, seed: int = 0) -> ImageSet:
    """`n_per_class` images of every class, drawn without replacement with a seeded generator."""
    check_count("n_per_class", n_per_class, len(data))
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(len(data.classes)):
        idx = torch.nonzero(data.labels == c).flatten()
        if len(idx) < n_per_class:
            name, n = data.classes[c], len(idx)
            raise DataError(f"n_per_class: class {name!r} has {n} images, fewer than {n_per_class} asked")
        picks.append(idx[torch.randperm(len(idx), generator=g)[:n_per_class]])
    idx = torch.cat(picks).sort().values
    return ImageSet(data.images[idx], data.labels[idx], data.classes)


def downsample(data: ImageSet, size: int) -> ImageSet:
    """The images average-pooled to `size` x `size` (a cheap CPU stand-in; the nets are size-agnostic)."""
    images = torch.nn.functional.adaptive_avg_pool2d(data.images.float(), size).round().to(torch.uint8)
    return ImageSet(images, data.labels, data.classes)


def synthetic_cifar(
    n_per_class: int = 100, *, num_classes: int = 10, size: int = 32, seed: int = 0, split: str = "train"
) -> ImageSet:
    """CIFAR-shaped uint8 images a network can learn: each class a smooth colour pattern plus noise.

    `seed` fixes the class patterns; `split` ("train" or "test") draws fresh noise around the same
    patterns, so a test split measures generalisation to the train split's classes.
    For tests and for lessons run where no CIFAR-10 can be had (they say so with a banner).
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not abs(seed) < 2**62:
        raise DataError(f"seed must be a whole number below 2**62 in size, got {seed!r}")
    check_count("n_per_class", n_per_class, MAX_PER_CLASS)
    check_count("num_classes", num_classes, 1000)
    check_count("size", size, 1024)
    if n_per_class * num_classes * 3 * size**2 > 2**30:
        asked = f"n_per_class={n_per_class}, num_classes={num_classes}, size={size}"
        raise DataError(f"{asked} would make over 1 GiB of images; ask for fewer or smaller ones")
    g = torch.Generator().manual_seed(seed)
    # One low-frequency template per class: a 4x4 colour grid upsampled to size x size.
    coarse = torch.rand(num_classes, 3, 4, 4, generator=g)
    templates = torch.nn.functional.interpolate(
        coarse, size=(size, size), mode="bilinear", align_corners=False
    )
    g = torch.Generator().manual_seed(seed * 2 + (split == "test"))  # the split's own noise
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    noise = 0.25 * torch.randn(len(labels), 3, size, size, generator=g)
    shift = 0.2 * (torch.rand(len(labels), 1, 1, 1, generator=g) - 0.5)  # brightness jitter
    images = (templates[labels] + noise + shift).clamp(0, 1)
    perm = torch.randperm(len(labels), generator=g)
    classes = tuple(f"pattern{i}" for i in range(num_classes))
    return ImageSet((images[perm] * 255).round().to(torch.uint8), labels[perm], classes)


def check_count(name: str, value: int, limit: int) -> None:
    """A `DataError` naming `name` unless `value` is a whole number in 1..limit."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value <= limit:
        raise DataError(f"{name} must be a positive whole number no larger than {limit:,}, got {value!r}")


def check_positive(name: str, value, *, whole: bool = False) -> None:
    """A `ValueError` naming `name` unless `value` is a positive finite number (a whole one with `whole`):
    NaN, inf, bools, strings and, with `whole`, fractions are refused."""
    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a positive {'whole' if whole else 'finite'} number, got {value!r}")


def generator(seed: int) -> torch.Generator:
    """A CPU `torch.Generator` seeded with `seed`; a `ValueError` naming the seed when torch cannot take it
    (a fraction, or a number outside -2**63..2**64-1)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed must be a whole number in -2**63..2**64-1, got {seed!r}")
    return torch.Generator().manual_seed(int(seed))


def finite_pair(name: str, value) -> tuple[float, float]:
    """`value` as two finite floats (a range's ends); a `ValueError` naming `name` otherwise."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in pair):
        raise ValueError(f"{name} must be two finite numbers (from, to), got {value!r}")
    return float(pair[0]), float(pair[1])


def check_labels(data: ImageSet) -> None:
    """Raise `DataError` when the set is empty or a label falls outside 0..len(classes)-1."""
    if len(data.labels) == 0:
        raise DataError("the dataset is empty")
    lo, hi = int(data.labels.min()), int(data.labels.max())
    if lo < 0 or hi >= len(data.classes):
        raise DataError(f"labels must lie in 0..{len(data.classes) - 1}, found {lo}..{hi}")
