"""ImageFolder directories (`<class>/<image>.jpg`) decoded once into a uint8 cache file that several
processes can fill and share.

The first load decodes every image and writes one tensor file, keyed by every image's class, name,
size and time, under `files.cache_dir()`; later loads read that file in a fraction of a second. One
process decodes while the others wait on a lock; the file is written aside and renamed into place, so
nobody ever sees half of one; an unreadable cache file is rebuilt with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from pathlib import Path

import torch

from .files import DataError, atomic_write, cache_dir, exclusive, os_error, sweep_leftovers
from .sets import ImageSet

IMAGE_EXTS = {".jpg", ".jpeg", ".png"}


def read_image_folder(folder: str | os.PathLike, size: int = 32) -> ImageSet:
    """Decode `folder/<class>/<image>` into an `ImageSet`; classes sorted as ImageFolder does."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    listing = image_files(folder)
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
            except Image.DecompressionBombError as e:  # declares millions of pixels: refused before decoding
                raise DataError(f"image {f.path!r} is far too large: {e}".split(" could be ")[0]) from None
            if pixels.shape[:2] != (size, size):
                h, w = pixels.shape[:2]
                raise DataError(f"image {f.path!r} is {w}x{h}, expected {size}x{size}")
            images.append(torch.from_numpy(pixels).permute(2, 0, 1))
            labels.append(label)
    return ImageSet(torch.stack(images), torch.tensor(labels), tuple(listing))


def image_files(folder: Path) -> dict[str, list[os.DirEntry]]:
    """`{class: image files sorted by name}`; hidden folders and files (`.name`) are skipped."""
    visible = lambda e: not e.name.startswith(".")
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and visible(e))
    image = lambda e: visible(e) and os.path.splitext(e.name)[1].lower() in IMAGE_EXTS
    return {c: sorted(filter(image, os.scandir(folder / c)), key=lambda e: e.name) for c in classes}


def cached_image_folder(folder: Path) -> ImageSet:
    """`read_image_folder(folder)`, decoded once and then read from a cache file keyed by its contents."""
    files = image_files(folder).items()  # a change to any image's name, size or time is a new key
    stats = [(c, f.name, s.st_size, s.st_mtime_ns) for c, fs in files for f in fs for s in [f.stat()]]
    key = hashlib.sha256(repr((str(folder.resolve()), stats, "v2")).encode()).hexdigest()[:16]
    file = cache_dir() / f"imageset-{folder.name}-{key}.pt"
    sweep_leftovers(cache_dir())
    counts = {c: len(fs) for c, fs in files}
    with contextlib.suppress(Exception):  # the common case: a finished cache file, read without the lock
        return read_imageset(file, counts)
    with exclusive(file.with_suffix(".lock")):
        if file.exists():  # another process may have written it while this one waited
            try:
                return read_imageset(file, counts)
            except (
                Exception
            ) as e:  # truncated, foreign or poisoned: each fails in its own way; each is rebuilt
                warnings.warn(
                    f"cache file {str(file)!r} is unreadable ({type(e).__name__}), rebuilding it",
                    stacklevel=3,
                )
                with contextlib.suppress(OSError):  # a folder we cannot write fails below with the reason
                    file.unlink()
        return write_imageset(file, read_image_folder(folder))


def write_imageset(file: Path, data: ImageSet) -> ImageSet:
    """Write `data` as a cache file, atomically (a crash or a full disk never leaves half of one)."""
    state = {"images": data.images, "labels": data.labels, "classes": list(data.classes)}
    try:
        atomic_write(file, lambda f: torch.save(state, f))
    except OSError as e:
        raise os_error(e, f"writing the cache file {str(file)!r}") from None
    return data


def read_imageset(file: Path, counts: dict[str, int] | None = None) -> ImageSet:
    """A cache file written by `write_imageset`; ValueError (or the loader's own error) for anything else,
    also for one whose classes and images per class are not `counts` ({class: images}) when given."""
    with warnings.catch_warnings():  # torch's remarks on a foreign file: ours above says what matters
        warnings.simplefilter("ignore")
        d = torch.load(file, weights_only=True)
    images, labels, classes = d.pop("images"), d.pop("labels"), d.pop("classes")
    ok = not d and images.dtype == torch.uint8 and images.dim() == 4 and labels.dtype == torch.long
    if not (ok and labels.shape == images.shape[:1] and all(isinstance(c, str) for c in classes)):
        raise ValueError("not an ImageSet cache")
    found = dict(zip(classes, torch.bincount(labels, minlength=len(classes)).tolist()))
    if counts is not None and (
        found != counts or len(found) != len(classes) or images.shape[-2:] != (32, 32)
    ):
        raise ValueError("the cache does not hold the folder's images")
    return ImageSet(images, labels, tuple(classes))
