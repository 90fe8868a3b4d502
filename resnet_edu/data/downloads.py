"""CIFAR-10 over the network, from the fastest source that answers, verified and cached.

1. the Hugging Face Hub copy (`uoft-cs/cifar10`: parquet files, features `img`, an Image, and `label`,
   a ClassLabel with CIFAR-10's ten names) through `datasets`, which Colab preinstalls: seconds;
2. torchvision's download from the original host, throttled since mid-2026 (torchvision issue 9536:
   57 minutes for 162 MB).

Each source has a deadline, after which it gives up with one line that names the next option; each
shows a progress bar, checks counts, shapes and classes against CIFAR-10's, and is cached under
`files.cache_dir()` (set RESNET_EDU_CACHE to a folder on Google Drive to keep it across Colab
sessions), so the next run reads one file.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import read_imageset, write_imageset
from .files import DataError, cache_dir, os_error
from .sets import CLASSES, ImageSet

HUB_DATASET = "uoft-cs/cifar10"
COUNTS = {"train": 50_000, "test": 10_000}  # CIFAR-10's images per split (5,000 and 1,000 per class)
DEADLINE_S = 600  # per source, for the download; decoding and caching come after
TORCHVISION_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def download(split: str, *, deadline_s: float = DEADLINE_S, progress: bool = True) -> ImageSet:
    """The `split` of CIFAR-10 from the first source that works: the cache, the Hugging Face Hub (when
    `datasets` is importable), torchvision's download. One `DataError` naming every attempt when none
    does."""
    failed = []
    for name, fetch in (("the Hugging Face Hub", from_hub), ("torchvision's download", from_torchvision)):
        try:
            return fetch(split, deadline_s=deadline_s, progress=progress)
        except DataError as e:
            failed.append(str(e))
            if progress and name == "the Hugging Face Hub":
                print(f"CIFAR-10: {e}; trying torchvision's download next", flush=True)
    raise DataError("; ".join(failed))


def from_hub(
    split: str,
    *,
    dataset: str = HUB_DATASET,
    deadline_s: float = DEADLINE_S,
    progress: bool = True,
    complete: bool = True,
) -> ImageSet:
    """CIFAR-10 from a dataset in the Hugging Face Hub copy's format (`dataset`: a Hub name, or a local
    folder of its parquet files; default `HUB_DATASET`), decoded to uint8 and cached.
    `complete=False` accepts fewer images than CIFAR-10 has (small local copies in tests)."""
    dataset = dataset or HUB_DATASET
    cached = _cache_file("hub", dataset, split)
    if cached.exists():
        return read_imageset(cached)
    try:
        import datasets
    except ImportError:
        raise DataError(
            "the Hugging Face `datasets` package is not installed (pip install datasets)"
        ) from None
    try:
        ds = within(deadline_s, lambda: datasets.load_dataset(dataset, split=split), "the Hugging Face Hub")
    except DataError:
        raise
    except Exception as e:  # offline, unknown name, a network error: each means "not from the Hub"
        raise DataError(
            f"the Hugging Face Hub gave no {dataset} ({type(e).__name__}: {str(e)[:120]})"
        ) from None
    if set(ds.features) != {"img", "label"}:
        raise DataError(f"{dataset!r} has features {sorted(ds.features)}, not CIFAR-10's img and label")
    classes = tuple(ds.features["label"].names)
    arrays = ds.with_format("numpy")
    images, labels = [], []
    from tqdm.auto import tqdm

    for start in tqdm(range(0, len(ds), 5000), desc=f"decoding CIFAR-10 {split}", disable=not progress):
        chunk = arrays[start : start + 5000]
        images.append(torch.from_numpy(np.stack(chunk["img"])).permute(0, 3, 1, 2))  # (n, 32, 32, 3) -> NCHW
        labels.append(torch.as_tensor(chunk["label"], dtype=torch.long))
    data = ImageSet(torch.cat(images).contiguous(), torch.cat(labels), classes)
    verify(data, split, complete=complete)
    return write_imageset(cached, data)


def from_torchvision(
    split: str,
    *,
    root: str | Path | None = None,
    deadline_s: float = DEADLINE_S,
    progress: bool = True,
    complete: bool = True,
) -> ImageSet:
    """CIFAR-10 through torchvision's download into `root` (default: the cache), read from its
    `cifar-10-batches-py` pickles, verified."""
    root = Path(root) if root else cache_dir() / "cifar10"
    if not (root / "cifar-10-batches-py" / TORCHVISION_FILES[split][0]).exists():
        from torchvision.datasets import CIFAR10

        what = "torchvision's download of CIFAR-10 from its original host"
        try:
            within(deadline_s, lambda: CIFAR10(str(root), train=split == "train", download=True), what)
        except (OSError, RuntimeError, ValueError) as e:  # network errors of many kinds: the same advice
            raise DataError(f"{what} failed ({type(e).__name__})") from None
    data = read_torchvision_folder(root, split)
    verify(data, split, complete=complete)
    return data


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, numbers and numpy arrays, nothing else: a batch file that asks for
    anything more is not CIFAR-10 and never runs code."""

    SAFE = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.SAFE:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return _ArraysOnly(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise DataError(
            f"{str(path)!r} is not a CIFAR-10 batch file ({str(e) or type(e).__name__})"
        ) from None
    except OSError as e:
        raise os_error(e, f"reading {str(path)!r}") from None


def read_torchvision_folder(root: str | Path, split: str) -> ImageSet:
    """A split from torchvision's on-disk format, `root/cifar-10-batches-py/{data_batch_1..5, test_batch,
    batches.meta}`: pickled dicts with `data` (N, 3072) uint8 and `labels`, read without running code."""
    folder = Path(root) / "cifar-10-batches-py"
    images, labels = [], []
    for name in TORCHVISION_FILES[split]:
        batch = _unpickle(folder / name)
        if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
            raise DataError(f"{str(folder / name)!r} is not a CIFAR-10 batch file (no data and labels)")
        images.append(torch.as_tensor(np.asarray(batch["data"], dtype=np.uint8)).view(-1, 3, 32, 32))
        labels.append(torch.as_tensor(batch["labels"], dtype=torch.long))
    meta = _unpickle(folder / "batches.meta")
    classes = tuple(meta.get("label_names", ())) if isinstance(meta, dict) else ()
    return ImageSet(torch.cat(images), torch.cat(labels), classes)


def verify(data: ImageSet, split: str, *, complete: bool = True) -> None:
    """A `DataError` unless `data` looks like CIFAR-10's `split`: its ten classes in order, 32x32 RGB
    uint8 images, a label per image in 0..9 and, with `complete`, every image (50,000 or 10,000, as
    many of each class)."""
    if tuple(data.classes) != CLASSES:
        raise DataError(f"the classes are {list(data.classes)}, not CIFAR-10's {list(CLASSES)}")
    if data.images.dtype != torch.uint8 or tuple(data.images.shape[1:]) != (3, 32, 32):
        raise DataError(f"images of {tuple(data.images.shape[1:])} {data.images.dtype}, not 3x32x32 uint8")
    if len(data.labels) != len(data.images) or (
        len(data.labels) and not 0 <= int(data.labels.min()) <= int(data.labels.max()) < 10
    ):
        raise DataError("the labels do not match the images or fall outside 0..9")
    per_class = torch.bincount(data.labels, minlength=10).tolist()
    if complete and (len(data) != COUNTS[split] or len(set(per_class)) != 1):
        raise DataError(f"{len(data)} {split} images ({per_class} per class), CIFAR-10 has {COUNTS[split]}")


def within(seconds: float, work: Callable[[], Any], what: str) -> Any:
    """`work()`, or a `DataError` when it has not finished after `seconds` (it may go on in the
    background; nothing it writes is used). Its own exceptions come through as they are."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True, name=what)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DataError(f"{what} did not finish within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def downloaded_from(split: str) -> str:
    """Which source `download(split)` reads now: the Hub copy when it is cached, else torchvision's."""
    if _cache_file("hub", HUB_DATASET, split).exists():
        return f"the Hugging Face Hub copy {HUB_DATASET}"
    return "torchvision's download"


def _cache_file(source: str, name: str, split: str) -> Path:
    import hashlib

    key = hashlib.sha256(f"{source}|{name}|v1".encode()).hexdigest()[:12]
    return cache_dir() / f"cifar10-{source}-{key}-{split}.pt"
