"""Course plumbing: the quick/full setting, data for the lessons, and running the notebooks headless.

Quick (default on a CPU) runs every lesson in minutes on small subsets; full (default on a GPU,
or RESNET_EDU_FULL=1) runs the paper-scale experiments. RESNET_EDU_FULL=0 forces quick.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import DataError, ImageSet, balanced_subset, load_cifar10, synthetic_cifar

ROOT = Path(__file__).resolve().parents[1]  # the clone's root when installed in editable mode
LESSONS = (
    "01_vanishing_gradients",
    "02_residual_learning",
    "03_preactivation_blocks",
    "04_batchnorm_and_shortcuts",
    "05_loss_landscapes",
    "06_resnet18_vs_simplecnn",
)


@dataclass(frozen=True)
class Setting:
    """Which setting a lesson runs in, and on which device."""

    full: bool
    device: str

    @property
    def name(self) -> str:
        return "full" if self.full else "quick"

    def pick(self, quick, full):
        """`quick` in the quick setting, `full` in the full one: `steps = S.pick(100, 5000)`."""
        return full if self.full else quick


def setting() -> Setting:
    """Full on a GPU or with RESNET_EDU_FULL=1; quick on a CPU or with RESNET_EDU_FULL=0."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    flag = os.environ.get("RESNET_EDU_FULL")
    full = flag == "1" if flag in ("0", "1") else device == "cuda"
    return Setting(full=full, device=device)


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
    n_train: int | None = None, n_test: int | None = None, *, seed: int = 0, download: bool = True
) -> tuple[ImageSet, ImageSet, str]:
    """CIFAR-10 train/test sets for a lesson, `n_*` images per class (None: all), and a source line.

    Where no CIFAR-10 can be had, falls back to `synthetic_cifar` and says so in the source line,
    which lessons print as a banner; library functions never substitute data silently.
    """
    try:
        train = load_cifar10(split="train", download=download)
        test = load_cifar10(split="test", download=download)
        source = f"CIFAR-10 from {os.environ.get('RESNET_EDU_DATA') or 'torchvision download'}"
    except DataError as e:
        n = max(n_train or 100, n_test or 100)
        train, test = synthetic_cifar(n, seed=seed), synthetic_cifar(n, seed=seed, split="test")
        source = f"!!! SYNTHETIC DATA, not CIFAR-10: {e}"
    if n_train is not None:
        train = balanced_subset(train, n_train, seed=seed)
    if n_test is not None:
        test = balanced_subset(test, n_test, seed=seed)
    return train, test, source


def run_lessons(
    names: list[str] | None = None,
    *,
    out: str | os.PathLike = "executed",
    directory: str | os.PathLike | None = None,
    full: bool | None = None,
    timeout: int = 1800,
    progress: bool = True,
) -> list[dict]:
    """Execute lesson notebooks headless; write executed copies to `out`; one record per lesson.

    A failing lesson raises `RuntimeError` naming the notebook and the cell's error, after its
    partly executed copy has been written for inspection.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    directory = Path(directory) if directory else ROOT / "notebooks"
    known = sorted(p.stem for p in directory.glob("*.ipynb"))
    names = names or known
    unknown = [n for n in names if not any(lesson.startswith(n) for lesson in known)]
    if unknown:
        raise ValueError(f"unknown lesson {unknown[0]!r}; known: {', '.join(known)}")
    chosen = [lesson for lesson in known if any(lesson.startswith(n) for n in names)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env_before = dict(os.environ)
    if full is not None:
        os.environ["RESNET_EDU_FULL"] = "1" if full else "0"
    os.environ["RESNET_EDU_HEADLESS"] = "1"  # widgets fall back to static figures in the copies
    records = []
    try:
        for name in tqdm(chosen, desc="lessons", disable=not progress):
            path = directory / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            run_in = {"metadata": {"path": str(path.parent)}}
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=run_in)
            start = time.perf_counter()
            try:
                client.execute()
            except CellExecutionError as e:
                nbformat.write(nb, out / f"{name}.ipynb")
                why = f"{e.ename}: {e.evalue}"
                raise RuntimeError(
                    f"lesson {name} failed: {why} (executed copy: {out / name}.ipynb)"
                ) from None
            nbformat.write(nb, out / f"{name}.ipynb")
            records.append({"lesson": name, "seconds": round(time.perf_counter() - start, 1)})
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return records
