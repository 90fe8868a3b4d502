"""A lesson's start: the three settings, the lesson's data, and where its figures and results go.

Settings (RESNET_EDU_SETTING=quick|gpu|paper, reported by `setting().name`):
  quick  the default on a CPU: every lesson in at most a few minutes on 2 cores, small subsets;
  gpu    the default on CUDA: all of CIFAR-10, sized for a Colab T4;
  paper  never automatic: the paper-scale runs whose records go to `results/`.
In `gpu` and `paper` a missing CIFAR-10 is an error; only `quick` falls back to synthetic images.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.downloads import downloaded_from
from ..data.files import DataError
from ..data.sets import ImageSet, balanced_subset, check_positive, downsample, synthetic_cifar
from ..data.sources import load_cifar10
from ..training.records import (
    History,
    history_rows,
    load_histories,
    load_results,
    origin,
    run_meta,
    save_results,
)

ROOT = Path(__file__).resolve().parents[2]  # the clone's root when installed in editable mode
STORED = Path(__file__).resolve().parent / "stored"  # the stored runs inside a built package
SETTINGS = ("quick", "gpu", "paper")
# Quick-setting data of each lesson: (training images per class, test images per class, image size).
QUICK_DATA = {
    "01": (200, 50, 32),
    "02": (200, 50, 32),
    "03": (100, 30, 32),
    "04": (200, 100, 16),
    "05": (200, 50, 16),
    "06": (60, 50, 32),
    "07": (50, 10, 8),
}


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
    """Where a lesson writes: "figures" or "results".

    Figures go to RESNET_EDU_FIGURES when set, else `executed/figures/` in a clone (git-ignored: a run
    never touches the README's tracked figures, which `make figures` refreshes) and `figures/` of the
    working directory outside one. Results (the paper setting's stored runs) go to the clone's
    `results/`, else to `results/` of the working directory.
    """
    if name == "figures" and os.environ.get("RESNET_EDU_FIGURES"):
        return Path(os.environ["RESNET_EDU_FIGURES"])
    if not in_clone():
        return Path.cwd() / name
    return ROOT / "executed" / "figures" if name == "figures" else ROOT / name


def in_clone() -> bool:
    """Whether this package is a clone's own (installed editable, or imported from the clone)."""
    return (ROOT / "pyproject.toml").exists() and (ROOT / "resnet_edu").is_dir()


def stored_dir() -> Path:
    """Where the stored paper-setting runs are read from: the clone's `results/`; outside a clone, the
    copy that travels inside the installed package (`course/stored/`, written by the build), so a
    lesson in Colab plots the same stored runs as one in a clone; else `results/` here."""
    if in_clone():
        return ROOT / "results"
    return STORED if STORED.is_dir() else Path.cwd() / "results"


def lesson_data(
    n_train: int | None = None,
    n_test: int | None = None,
    *,
    seed: int = 0,
    path: str | None = None,
    download: bool = True,
    synthetic: bool = False,
    fallback: bool = True,
) -> tuple[ImageSet, ImageSet, str]:
    """CIFAR-10 train/test sets, `n_*` images per class (None: all), and a line naming the source.

    `path` (else $RESNET_EDU_DATA, else a download) is the source; `synthetic` asks for synthetic
    images outright. With `fallback`, a missing CIFAR-10 gives synthetic images and a source line
    starting with "!!!"; without it, the `DataError`. The CLI and the lessons both load through here.
    """
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None:
            check_positive(name, n, whole=True)  # images per class; balanced_subset checks the upper end
    source = None
    if not synthetic:
        try:
            train = load_cifar10(path, split="train", download=download)
            test = load_cifar10(path, split="test", download=download)
            source = f"CIFAR-10 from {path or os.environ.get('RESNET_EDU_DATA') or downloaded_from('train')}"
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

    def resized(self, size: int) -> Start:
        """This start with its images average-pooled to `size` x `size` (a CPU-sized run: the nets are
        size-agnostic); the same start when they already have that size."""
        if size == self.train.images.shape[-1]:
            return self
        return dataclasses.replace(self, train=downsample(self.train, size), test=downsample(self.test, size))

    def train_networks(self, models, cfg, *, seeds, **kw) -> dict:
        """`training.train_networks` on this lesson's data, with the setting and data source in every
        History's meta, and progress bars outside the quick setting: {(model, seed): (net, History)}."""
        from ..training.seeded import train_networks

        meta = {"setting": self.name, "data": self.source}
        return train_networks(
            models,
            self.train,
            self.test,
            cfg,
            seeds=seeds,
            meta=meta,
            progress=kw.pop("progress", self.name != "quick"),
            **kw,
        )

    def train_models(self, models, cfg, *, seeds, **kw) -> list[History]:
        """`train_networks`, keeping only the Histories."""
        return [t.history for t in self.train_networks(models, cfg, seeds=seeds, **kw).values()]

    def save_figure(self, fig, name: str) -> None:
        """Write the figure to this lesson's figures folder as `name`.png and .svg, and show it now (so
        that what the cell prints next comes below it)."""
        import matplotlib.pyplot as plt

        from .plots import save_figure

        save_figure(fig, name, directory=self.figures)
        plt.show()

    def store(self, name: str, result, *, config=None, seeds=None) -> Path | None:
        """In the paper setting, keep `result` as the stored run `name` under `results/` (nothing in the
        other settings: they are what gets compared with it). Histories go to `name`/<model>_s<seed>.json,
        a landscape `Surface` to `name`.npz, other rows to `name`.json with `config` and the run's origin
        (device, data, setting, seeds, versions). Prints one line and returns the path written, or None."""
        if self.name != "paper":
            print(f"{self.name} setting: {name} not stored (the paper setting stores it under results/)")
            return None
        path = self.results / name
        if isinstance(result, list) and result and isinstance(result[0], History):
            for h in result:
                h.save(path / f"{h.meta['model']}_s{h.meta['seed']}.json")
        elif hasattr(result, "save"):  # a landscape Surface
            path = result.save(path.with_suffix(".npz"))
        else:
            meta = run_meta(self.device, setting=self.name, data=self.source, seeds=list(seeds or []))
            path = save_results(result, path.with_suffix(".json"), config=config, meta=meta)
        print(f"stored {path}")
        return path

    def stored(self, name: str) -> dict | None:
        """The stored paper-setting run `name` (what `store` wrote) as {"records": rows, "label": its
        origin, "histories": its Histories when it was training runs}, or None; one printed line says
        which. In the paper setting this run is the stored one: None."""
        if self.name == "paper":
            return None
        path = stored_dir() / name
        found = load_results(path.with_suffix(".json"))
        histories = load_histories(path)
        if histories:
            meta, seeds = histories[0].meta, {h.meta.get("seed") for h in histories}
            label = f"stored {meta.get('setting', 'paper')} run ({origin(meta, seeds=seeds)})"
            found = {"records": history_rows(histories), "label": label, "histories": histories}
        if found:
            print(f"stored paper-setting run beside this one: {found['label']}")
        else:
            print(
                f"No stored paper-setting run ({name}) exists yet: only this run is shown. "
                "The paper setting (RESNET_EDU_SETTING=paper, on a GPU) writes it."
            )
        return found


def start(lesson: str, *, seed: int = 0) -> Start:
    """Set the course's plot style, seed torch, pick the setting, load the lesson's data and print
    what was chosen (a banner when the data is synthetic). Quick: the lesson's `QUICK_DATA` subset;
    gpu and paper: all of CIFAR-10, with no synthetic fallback."""
    from .plots import set_style

    if not isinstance(lesson, str) or lesson[:2] not in QUICK_DATA:
        raise ValueError(f"lesson must name a lesson, '01' to '07' (or '01_...'), got {lesson!r}")
    set_style()
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
