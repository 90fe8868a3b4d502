"""CIFAR-10 wherever it comes from, kept as uint8 tensors and batched on the device.

files    atomic writes, locks and safe extraction: nothing is ever seen half-written
sets     ImageSet, class-balanced subsets, synthetic stand-ins, downsampling
cache    ImageFolder directories decoded once into a cache several processes share
sources  load_cifar10 from a torchvision folder, an ImageFolder, an archive or a download
loader   DeviceLoader: shuffle, crop, flip and normalise on the device
tensors  a fixed set of images as tensors on the model's device, for measurements
"""

from .cache import read_image_folder
from .files import DataError, atomic_write, cache_dir, extract_archive, write_json, write_npz
from .loader import MEAN, STD, DeviceLoader, crop, flip, normalize, random_crop, random_flip
from .sets import CHANCE, CLASSES, ImageSet, balanced_subset, downsample, synthetic_cifar
from .sources import load_cifar10
from .tensors import as_tensors, batches, random_batch

__all__ = [
    "CHANCE",
    "CLASSES",
    "MEAN",
    "STD",
    "DataError",
    "DeviceLoader",
    "ImageSet",
    "as_tensors",
    "atomic_write",
    "balanced_subset",
    "batches",
    "cache_dir",
    "crop",
    "downsample",
    "extract_archive",
    "flip",
    "load_cifar10",
    "normalize",
    "random_batch",
    "random_crop",
    "random_flip",
    "read_image_folder",
    "synthetic_cifar",
    "write_json",
    "write_npz",
]
