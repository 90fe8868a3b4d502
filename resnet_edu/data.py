"""CIFAR-10 from any source, cached as uint8 tensors that several processes can fill and share.

Sources: torchvision's own format (downloaded where there is internet), an ImageFolder
directory (`train/<class>/*.jpg`, `test/<class>/*.jpg`) or a `.tar.gz` of one. The path comes
from an argument or the `RESNET_EDU_DATA` environment variable. The first load decodes every
image once and caches the result; later loads read one tensor file. A cache file or extracted
archive is written aside and renamed into place under a lock, so no process ever sees half of one.
Batching and augmentation on the device live in `loader`.
"""

from __future__ import annotations

import contextlib
import hashlib
import numbers
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .archive import DataError, cache_dir, exclusive, extract_archive, os_error

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
MAX_PER_CLASS = 10_000  # synthetic images per class: CIFAR-10 has 6,000
HOW_TO_GET = (
    "get CIFAR-10 with load_cifar10(download=True) where there is internet, or point "
    "RESNET_EDU_DATA (or --data) at a torchvision CIFAR-10 folder, an ImageFolder directory "
    "(train/<class>/, test/<class>/) or a .tar.gz of one"
)


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 (N, 3, H, W), integer labels (N,), and the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.labels)


# ---- sources ------------------------------------------------------------------------------


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
        return _load_torchvision(cache_dir() / "cifar10", split, download=True)
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"data path {str(path)!r} does not exist: {HOW_TO_GET}")
    if path.is_file():
        if not path.name.endswith((".tar.gz", ".tgz", ".tar")):
            raise DataError(f"{str(path)!r} is a file but not a .tar.gz archive: {HOW_TO_GET}")
        path = extract_archive(path)
    if (path / "cifar-10-batches-py").is_dir():
        return _load_torchvision(path, split, download=False)
    folder = _find_split_dir(path, split)
    data = _cached(folder)
    missing = [c for c in CLASSES if c not in data.classes]
    if missing or len(data.classes) != len(CLASSES):
        extra = [c for c in data.classes if c not in CLASSES]
        found = f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        raise DataError(f"{str(folder)!r} is not CIFAR-10: class folders {found}")
    return data


def _load_torchvision(root: Path, split: str, download: bool) -> ImageSet:
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(str(root), train=split == "train", download=download)
    except Exception as e:  # network errors come in many types; each gets the same advice
        raise DataError(
            f"could not get CIFAR-10 via torchvision ({type(e).__name__}): {HOW_TO_GET}"
        ) from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return ImageSet(images, torch.tensor(ds.targets, dtype=torch.long), tuple(ds.classes))


def _find_split_dir(path: Path, split: str) -> Path:
    """`path/split`, also when an archive wrapped everything in one top folder."""
    tops = (p / split for p in sorted(path.iterdir()) if p.is_dir() and not p.name.startswith("."))
    for cand in (path / split, *tops):
        if cand.is_dir():
            return cand
    raise DataError(f"no '{split}' folder under {str(path)!r}: expected {split}/<class>/*.jpg")


def read_image_folder(folder: str | os.PathLike, size: int = 32) -> ImageSet:
    """Decode `folder/<class>/<image>` into an `ImageSet`; classes sorted as ImageFolder does."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    listing = _image_files(folder)
    if not listing:
        raise DataError(f"no class folders in {str(folder)!r}: expected {folder.name}/<class>/*.jpg")
    images, labels = [], []
    for label, (name, files) in enumerate(listing.items()):
        if not files:
            raise DataError(f"class folder {str(folder / name)!r} holds no images")
        for f in files:
            try:
                with Image.open(f.path) as im:
                    pixels = np.array(im.convert("RGB"))  # (H, W, 3) uint8
            except (UnidentifiedImageError, OSError):
                raise DataError(f"cannot decode image {f.path!r}: the file is corrupt") from None
            if pixels.shape[:2] != (size, size):
                h, w = pixels.shape[:2]
                raise DataError(f"image {f.path!r} is {w}x{h}, expected {size}x{size}")
            images.append(torch.from_numpy(pixels).permute(2, 0, 1))
            labels.append(label)
    return ImageSet(torch.stack(images), torch.tensor(labels), tuple(listing))


def _image_files(folder: Path) -> dict[str, list[os.DirEntry]]:
    """`{class: image files sorted by name}`; hidden folders and files (`.name`) are skipped."""
    visible = lambda e: not e.name.startswith(".")
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and visible(e))
    image = lambda e: visible(e) and os.path.splitext(e.name)[1].lower() in IMAGE_EXTS
    return {c: sorted(filter(image, os.scandir(folder / c)), key=lambda e: e.name) for c in classes}


# ---- the cache of decoded sets, safe when several processes fill it at once (archives: `archive`) ----


def _cached(folder: Path) -> ImageSet:
    """Decode once, then load the uint8 tensors from a cache file keyed by the folder's contents.

    One process decodes while others wait on a lock; an unreadable cache file is rebuilt with a warning.
    """
    files = _image_files(folder).items()  # a change to any image's name, size or time is a new key
    stats = [(c, f.name, s.st_size, s.st_mtime_ns) for c, fs in files for f in fs for s in [f.stat()]]
    key = hashlib.sha256(repr((str(folder.resolve()), stats, "v2")).encode()).hexdigest()[:16]
    file = cache_dir() / f"imageset-{folder.name}-{key}.pt"
    with contextlib.suppress(Exception):  # the common case: a finished cache file, read without the lock
        return _load_cache(file)
    with exclusive(file.with_suffix(".lock")):
        if file.exists():  # another process may have written it while this one waited
            try:
                return _load_cache(file)
            except Exception as e:  # a truncated or foreign file fails in many ways; each is rebuilt
                warnings.warn(
                    f"cache file {str(file)!r} is unreadable ({type(e).__name__}), rebuilding it",
                    stacklevel=3,
                )
                with contextlib.suppress(OSError):  # a folder we cannot write fails below with the reason
                    file.unlink()
        data, tmp = read_image_folder(folder), None
        try:  # write a temporary file, then rename: a crash or a full disk never leaves half a cache file
            fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                torch.save({"images": data.images, "labels": data.labels, "classes": list(data.classes)}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, file)
        except OSError as e:
            raise os_error(e, f"writing the cache file {str(file)!r}") from None
        finally:
            if tmp:
                Path(tmp).unlink(missing_ok=True)  # gone already after the rename
    return data


def _load_cache(file: Path) -> ImageSet:
    with warnings.catch_warnings():  # torch's remarks on a foreign file: ours below says what matters
        warnings.simplefilter("ignore")
        d = torch.load(file, weights_only=True)
    images, labels, classes = d.pop("images"), d.pop("labels"), d.pop("classes")
    ok = not d and images.dtype == torch.uint8 and images.dim() == 4 and labels.dtype == torch.long
    if not (ok and labels.shape == images.shape[:1] and all(isinstance(c, str) for c in classes)):
        raise ValueError("not an ImageSet cache")
    return ImageSet(images, labels, tuple(classes))


# ---- subsets and synthetic data -------------------------------------------------------------


def balanced_subset(data: ImageSet, n_per_class: int, *, seed: int = 0) -> ImageSet:
    """`n_per_class` images of every class, drawn without replacement with a seeded generator."""
    _check_count("n_per_class", n_per_class, len(data))
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
    _check_count("n_per_class", n_per_class, MAX_PER_CLASS)
    _check_count("num_classes", num_classes, 1000)
    _check_count("size", size, 1024)
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


def _check_count(name: str, value: int, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value <= limit:
        raise DataError(f"{name} must be a positive whole number no larger than {limit:,}, got {value!r}")


def check_labels(data: ImageSet) -> None:
    """Raise `DataError` when the set is empty or a label falls outside 0..len(classes)-1."""
    if len(data.labels) == 0:
        raise DataError("the dataset is empty")
    lo, hi = int(data.labels.min()), int(data.labels.max())
    if lo < 0 or hi >= len(data.classes):
        raise DataError(f"labels must lie in 0..{len(data.classes) - 1}, found {lo}..{hi}")
