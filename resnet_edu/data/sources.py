"""CIFAR-10 from any source: a download (`downloads`: the Hugging Face Hub copy, else torchvision's),
torchvision's on-disk format, an ImageFolder directory (`train/<class>/*.jpg`, `test/<class>/*.jpg`)
or a `.tar.gz` of one.

The path comes from an argument or the `RESNET_EDU_DATA` environment variable. Archives are
extracted safely (`files`), image folders are decoded once and cached (`cache`). A source that cannot
be had raises `DataError` with a one-line fix; nothing here ever substitutes other data.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import downloads
from .cache import cached_image_folder
from .files import DataError, extract_archive
from .sets import CLASSES, ImageSet

HOW_TO_GET = (
    "get CIFAR-10 with load_cifar10(download=True) where there is internet (the Hugging Face Hub copy "
    "through `datasets`, else torchvision's download), or point "
    "RESNET_EDU_DATA (or --data) at a torchvision CIFAR-10 folder, an ImageFolder directory "
    "(train/<class>/, test/<class>/) or a .tar.gz of one"
)


def load_cifar10(
    root: str | os.PathLike | None = None, *, split: str = "train", download: bool = False
) -> ImageSet:
    """Load a CIFAR-10 split ("train" or "test") from `root`, $RESNET_EDU_DATA, or a download.

    Raises `DataError` with a one-line fix when no data can be had; never substitutes data.
    """
    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use 'train' or 'test'")
    root = root or os.environ.get("RESNET_EDU_DATA") or None  # an empty variable means unset
    if root is None:
        if not download:
            raise DataError(f"no CIFAR-10 source given: {HOW_TO_GET}")
        try:
            return downloads.download(split)
        except DataError as e:
            raise DataError(f"{e}: {HOW_TO_GET}") from None
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"data path {str(path)!r} does not exist: {HOW_TO_GET}")
    if path.is_file():
        if not path.name.endswith((".tar.gz", ".tgz", ".tar")):
            raise DataError(f"{str(path)!r} is a file but not a .tar.gz archive: {HOW_TO_GET}")
        path = extract_archive(path)
    if (path / "cifar-10-batches-py").is_dir():
        data = downloads.read_torchvision_folder(path, split)
        downloads.verify(data, split, complete=False)  # CIFAR-10's classes and shapes; any number of images
        return data
    folder = _find_split_dir(path, split)
    data = cached_image_folder(folder)
    missing = [c for c in CLASSES if c not in data.classes]
    if missing or len(data.classes) != len(CLASSES):
        extra = [c for c in data.classes if c not in CLASSES]
        found = f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        raise DataError(f"{str(folder)!r} is not CIFAR-10: class folders {found}")
    return data


def _find_split_dir(path: Path, split: str) -> Path:
    """`path/split`, also when an archive wrapped everything in one top folder."""
    tops = (p / split for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith("."))
    for cand in (path / split, *tops):
        if cand.is_dir():
            return cand
    raise DataError(f"no '{split}' folder under {str(path)!r}: expected {split}/<class>/*.jpg")
