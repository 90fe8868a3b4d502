"""CIFAR-10 from any source, cached as uint8 tensors, and a loader that augments on the device.

Sources: torchvision's own format (downloaded where there is internet), an ImageFolder
directory (`train/<class>/*.jpg`, `test/<class>/*.jpg`) or a `.tar.gz` of one. The path comes
from an argument or the `RESNET_EDU_DATA` environment variable. The first load decodes every
image once and caches the result; later loads read one tensor file. Batching and augmentation on
the device live in `loader`.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_EXTS = {".jpg", ".jpeg", ".png"}
HOW_TO_GET = (
    "get CIFAR-10 with load_cifar10(download=True) where there is internet, or point "
    "RESNET_EDU_DATA (or --data) at a torchvision CIFAR-10 folder, an ImageFolder directory "
    "(train/<class>/, test/<class>/) or a .tar.gz of one"
)


class DataError(Exception):
    """A data problem the user can fix; its message is one line that says how."""


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 (N, 3, H, W), integer labels (N,), and the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = CLASSES

    def __len__(self) -> int:
        return len(self.labels)


# ---- sources ------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where decoded datasets and extracted archives live: $RESNET_EDU_CACHE or ~/.cache/resnet_edu."""
    return Path(os.environ.get("RESNET_EDU_CACHE", Path.home() / ".cache" / "resnet_edu"))


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
    data = _cached(folder, lambda: read_image_folder(folder))
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
    for cand in (path / split, *(p / split for p in sorted(path.iterdir()) if p.is_dir())):
        if cand.is_dir():
            return cand
    raise DataError(f"no '{split}' folder under {str(path)!r}: expected {split}/<class>/*.jpg")


def read_image_folder(folder: str | os.PathLike, size: int = 32) -> ImageSet:
    """Decode `folder/<class>/<image>` into an `ImageSet`; classes sorted as ImageFolder does."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"no class folders in {str(folder)!r}: expected {folder.name}/<class>/*.jpg")
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise DataError(f"class folder {str(folder / name)!r} holds no images")
        for f in files:
            try:
                with Image.open(f) as im:
                    pixels = np.array(im.convert("RGB"))  # (H, W, 3) uint8
            except (UnidentifiedImageError, OSError):
                raise DataError(f"cannot decode image {str(f)!r}: the file is corrupt") from None
            if pixels.shape[:2] != (size, size):
                h, w = pixels.shape[:2]
                raise DataError(f"image {str(f)!r} is {w}x{h}, expected {size}x{size}")
            images.append(torch.from_numpy(pixels).permute(2, 0, 1))
            labels.append(label)
    return ImageSet(torch.stack(images), torch.tensor(labels), tuple(classes))


def _cached(source: Path, decode) -> ImageSet:
    """Decode once, then load the uint8 tensors from a cache file keyed by the source's identity."""
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_mtime_ns}|v1".encode()).hexdigest()[:16]
    file = cache_dir() / f"imageset-{source.name}-{key}.pt"
    if file.exists():
        d = torch.load(file, weights_only=True)
        return ImageSet(d["images"], d["labels"], tuple(d["classes"]))
    data = decode()
    file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=file.parent, delete=False, suffix=".tmp") as tmp:
        torch.save({"images": data.images, "labels": data.labels, "classes": list(data.classes)}, tmp)
    os.replace(tmp.name, file)  # atomic: a crash never leaves half a cache file
    return data


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Safely extract a .tar(.gz) once and return the folder.

    Refuses members that would land outside `dest` (absolute paths, `..`), links and device files,
    so an archive cannot write anywhere else. A truncated or corrupt archive raises `DataError`.
    """
    archive = Path(archive)
    stat = archive.stat()
    key = hashlib.sha256(f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    dest = Path(dest) if dest else cache_dir() / f"{archive.name.split('.')[0]}-{key}"
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".extract-"))
    try:
        with tarfile.open(archive) as tar:
            for m in tar:
                _check_member(m, tmp)
                tar.extract(m, tmp, set_attrs=False)
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        _rmtree(tmp)
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot read archive {str(archive)!r}: it is corrupt or truncated ({why})") from None
    except DataError:
        _rmtree(tmp)
        raise
    (tmp / ".complete").touch()
    if dest.exists():
        _rmtree(dest)
    os.replace(tmp, dest)
    return dest


def _check_member(m: tarfile.TarInfo, target: Path) -> None:
    if m.issym() or m.islnk():
        raise DataError(f"unsafe archive: member {m.name!r} is a link; refusing to extract")
    if not (m.isfile() or m.isdir()):
        raise DataError(f"unsafe archive: member {m.name!r} is a device or special file; refusing to extract")
    dest = (target / m.name).resolve()
    if os.path.isabs(m.name) or not dest.is_relative_to(target.resolve()):
        raise DataError(f"unsafe archive: member {m.name!r} would land outside the target folder")


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


# ---- subsets and synthetic data -------------------------------------------------------------


def balanced_subset(data: ImageSet, n_per_class: int, *, seed: int = 0) -> ImageSet:
    """`n_per_class` images of every class, drawn without replacement with a seeded generator."""
    if n_per_class <= 0:
        raise DataError(f"a subset needs a positive number of images per class, got {n_per_class}")
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(len(data.classes)):
        idx = torch.nonzero(data.labels == c).flatten()
        if len(idx) < n_per_class:
            raise DataError(
                f"class {data.classes[c]!r} has {len(idx)} images, fewer than {n_per_class} asked"
            )
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


def check_labels(data: ImageSet) -> None:
    """Raise `DataError` when the set is empty or a label falls outside 0..len(classes)-1."""
    if len(data.labels) == 0:
        raise DataError("the dataset is empty")
    lo, hi = int(data.labels.min()), int(data.labels.max())
    if lo < 0 or hi >= len(data.classes):
        raise DataError(f"labels must lie in 0..{len(data.classes) - 1}, found {lo}..{hi}")
