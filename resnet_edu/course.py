"""Course plumbing: the three settings, a lesson's start, its data, and running the notebooks headless.

Settings (RESNET_EDU_SETTING=quick|gpu|paper, reported by `setting().name`):
  quick  the default on a CPU: every lesson in at most a few minutes on 2 cores, small subsets;
  gpu    the default on CUDA: all of CIFAR-10, sized for a Colab T4;
  paper  never automatic: the paper-scale runs whose records go to `results/`.
In `gpu` and `paper` a missing CIFAR-10 is an error; only `quick` falls back to synthetic images.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import DataError, ImageSet, balanced_subset, load_cifar10, synthetic_cifar
from .loader import downsample

ROOT = Path(__file__).resolve().parents[1]  # the clone's root when installed in editable mode
SETTINGS = ("quick", "gpu", "paper")
LESSONS = (
    "01_vanishing_gradients",
    "02_residual_learning",
    "03_preactivation_blocks",
    "04_batchnorm_and_shortcuts",
    "05_loss_landscapes",
    "06_resnet18_vs_simplecnn",
)
# Quick-setting data of each lesson: (training images per class, test images per class, image size).
QUICK_DATA = {"01": (200, 50, 32), "02": (200, 50, 32), "03": (100, 30, 32), "04": (200, 100, 16),
              "05": (200, 50, 16), "06": (60, 50, 32)}  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """Which setting a lesson runs in, and on which device."""

    name: str  # "quick", "gpu" or "paper"
    device: str  # "cpu" or "cuda"

    def pick(self, quick, gpu, paper=None):
        """The value for this setting: `epochs = S.pick(3, 30, 160)` (`paper` defaults to `gpu`)."""
        return {"quick": quick, "gpu": gpu, "paper": gpu if paper is None else paper}[self.name]


def setting() -> Setting:
    """RESNET_EDU_SETTING when set, else gpu on CUDA and quick on a CPU."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = os.environ.get("RESNET_EDU_SETTING") or ("gpu" if device == "cuda" else "quick")
    if name not in SETTINGS:
        raise ValueError(f"RESNET_EDU_SETTING={name!r} is not a setting; use one of {', '.join(SETTINGS)}")
    return Setting(name, device)


def project_dir(name: str) -> Path:
    """`figures/` or `results/` of the clone when there is one, else of the working directory.

    RESNET_EDU_FIGURES moves `figures/` elsewhere (the tests do, so running them leaves the clone
    clean); stored results are always read from the clone.
    """
    if name == "figures" and os.environ.get("RESNET_EDU_FIGURES"):
        return Path(os.environ["RESNET_EDU_FIGURES"])
    base = ROOT if (ROOT / "pyproject.toml").exists() else Path.cwd()
    return base / name


def lesson_data(
    n_train: int | None = None, n_test: int | None = None, *, seed: int = 0, path: str | None = None,
    download: bool = True, synthetic: bool = False, fallback: bool = True,
) -> tuple[ImageSet, ImageSet, str]:  # fmt: skip
    """CIFAR-10 train/test sets, `n_*` images per class (None: all), and a line naming the source.

    `path` (else $RESNET_EDU_DATA, else a download) is the source; `synthetic` asks for synthetic
    images outright. With `fallback`, a missing CIFAR-10 gives synthetic images and a source line
    starting with "!!!"; without it, the `DataError`. The CLI and the lessons both load through here.
    """
    source = None
    if not synthetic:
        try:
            train = load_cifar10(path, split="train", download=download)
            test = load_cifar10(path, split="test", download=download)
            source = f"CIFAR-10 from {path or os.environ.get('RESNET_EDU_DATA') or 'torchvision download'}"
        except DataError as e:
            if not fallback:
                raise
            source = f"!!! SYNTHETIC DATA, not CIFAR-10: {e}"
    if source is None or source.startswith("!!!"):
        n = max(n_train or 100, n_test or 100)
        train, test = synthetic_cifar(n, seed=seed), synthetic_cifar(min(n, 1000), seed=seed, split="test")
        source = source or f"synthetic CIFAR-shaped images ({n} per class), not CIFAR-10"
    if n_train is not None:
        train = balanced_subset(train, n_train, seed=seed)
    if n_test is not None:
        test = balanced_subset(test, min(n_test, len(test) // len(test.classes)), seed=seed)
    return train, test, source


@dataclass(frozen=True)
class Start:
    """What a lesson's first cell sets up: the setting, its data, where figures and results go."""

    setting: Setting
    train: ImageSet
    test: ImageSet
    source: str
    figures: Path
    results: Path

    @property
    def name(self) -> str:
        return self.setting.name

    @property
    def device(self) -> str:
        return self.setting.device

    def pick(self, quick, gpu, paper=None):
        """See `Setting.pick`."""
        return self.setting.pick(quick, gpu, paper)


def start(lesson: str, *, seed: int = 0) -> Start:
    """Set the course's plot style, seed torch, pick the setting, load the lesson's data and print
    what was chosen (a banner when the data is synthetic). Quick: the lesson's `QUICK_DATA` subset;
    gpu and paper: all of CIFAR-10, with no synthetic fallback."""
    from . import plots

    plots.set_style()
    torch.manual_seed(seed)
    s = setting()
    quick = s.name == "quick"
    n_train, n_test, size = QUICK_DATA[lesson[:2]] if quick else (None, None, 32)
    train, test, source = lesson_data(n_train, n_test, seed=seed, fallback=quick)
    if size != train.images.shape[-1]:
        train, test = downsample(train, size), downsample(test, size)
    print(f"setting: {s.name} on {s.device} (RESNET_EDU_SETTING=quick|gpu|paper chooses another)")
    print(("=" * 90 + f"\n{source}\n" + "=" * 90) if source.startswith("!!!") else source)
    print(f"{len(train)} training and {len(test)} test images of size {tuple(train.images.shape[1:])}")
    return Start(s, train, test, source, project_dir("figures"), project_dir("results"))


def run_lessons(
    names: list[str] | None = None, *, out: str | os.PathLike = "executed",
    directory: str | os.PathLike | None = None, setting: str | None = None, timeout: int = 1800,
    progress: bool = True,
) -> list[dict]:  # fmt: skip
    """Execute lesson notebooks headless in `setting` (default: `setting()`); write executed copies to
    `out`; one record per lesson.

    A failing lesson raises `RuntimeError` naming the notebook and the cell's error, after its
    partly executed copy has been written for inspection.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    directory = Path(directory) if directory else ROOT / "notebooks"
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no lessons folder {str(directory)!r}: run the lessons from a clone of the course repository"
        )
    if setting is not None and setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; use one of {', '.join(SETTINGS)}")
    known = sorted(p.stem for p in directory.glob("*.ipynb"))
    names = names or known
    unknown = [n for n in names if not any(lesson.startswith(n) for lesson in known)]
    if unknown or not known:
        raise ValueError(f"unknown lesson {(unknown or names)[0]!r}; known: {', '.join(known) or 'none'}")
    chosen = [lesson for lesson in known if any(lesson.startswith(n) for n in names)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env_before = dict(os.environ)
    if setting is not None:
        os.environ["RESNET_EDU_SETTING"] = setting
    os.environ["RESNET_EDU_HEADLESS"] = "1"  # widgets fall back to static figures in the copies
    records = []
    try:
        for name in tqdm(chosen, desc="lessons", disable=not progress):
            path = directory / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            client = NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            )
            begin = time.perf_counter()
            try:
                client.execute()
            except CellExecutionError as e:
                nbformat.write(nb, out / f"{name}.ipynb")
                raise RuntimeError(
                    f"lesson {name} failed: {e.ename}: {e.evalue} (executed copy: {out / name}.ipynb)"
                ) from None
            nbformat.write(nb, out / f"{name}.ipynb")
            records.append({"lesson": name, "seconds": round(time.perf_counter() - begin, 1)})
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return records
