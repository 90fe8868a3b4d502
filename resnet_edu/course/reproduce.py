"""The papers' tables as a resumable queue of named jobs: `python -m resnet_edu reproduce`.

A manifest lists jobs (a training run, or a loss surface of a trained run). Finished jobs are
skipped, each result is written atomically the moment its job ends, a time budget stops the queue
cleanly (an interrupted run resumes from its last epoch's checkpoint next time), and the summary
puts the paper's number beside ours. Synthetic data is refused; the `paper` manifest needs a GPU.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..data.sets import balanced_subset
from ..measure.landscape import random_plane
from ..nets.models import build_model
from ..training.checkpoints import load_weights
from ..training.config import TrainConfig
from ..training.fit import Step, fit
from ..training.records import History, Record, run_meta
from . import paper


@dataclass(frozen=True)
class Job:
    """One named run. `kind` "train": train `model` under `cfg`; "surface": the 2-D loss surface of the
    trained `of` job's network (Li et al. 2018). `paper_error` is the paper's test error (%)."""

    name: str  # e.g. "table6/resnet56"; also the result's path under the output folder
    kind: str  # "train" or "surface"
    model: str = ""  # a registered model name
    build: dict = field(default_factory=dict)  # build_model keywords (placement=..., width=...)
    cfg: TrainConfig = paper.CIFAR_RECIPE
    paper_error: float | None = None
    source: str = ""  # where the paper number comes from
    of: str = ""  # surface jobs: the train job whose weights are used
    grid: int = paper.LI_GRID
    n_images: int = paper.LI_N_IMAGES

    def result(self, out: Path) -> Path:
        return out / f"{self.name}.{'json' if self.kind == 'train' else 'npz'}"


def _paper_manifest() -> list[Job]:
    jobs = []
    for d in (20, 32, 44, 56):  # He et al. 2015, Fig. 6 (plain) and Table 6 (residual)
        jobs.append(Job(f"table6/plain{d}", "train", f"plain{d}", source="He et al. 2015, Fig. 6"))
        jobs.append(
            Job(
                f"table6/resnet{d}",
                "train",
                f"resnet{d}",
                paper_error=paper.TABLE6_ERROR[d],
                source=paper.TABLE6_SOURCE,
            )
        )
    jobs.append(
        Job(
            "table6/resnet110",
            "train",
            "resnet110",
            paper_error=paper.TABLE6_ERROR[110],
            source=paper.TABLE6_SOURCE,
        )
    )
    for p, err in paper.PLACEMENT_ERROR.items():  # He et al. 2016, Table 2, on ResNet-110
        jobs.append(
            Job(
                f"placements/resnet110_{p}",
                "train",
                "resnet110",
                build={"placement": p},
                paper_error=err,
                source=paper.PLACEMENT_SOURCE,
            )
        )
    for m in ("resnet56", "plain56"):  # Li et al. 2018, Fig. 5: 51x51 surfaces on 10,000 images
        jobs.append(
            Job(f"li2018/{m}_surface", "surface", m, of=f"table6/{m}", source="Li et al. 2018, Fig. 5")
        )
    # The seed experiment: one recipe, each model at a peak learning rate it trains stably at
    # (SimpleCNN, without BN, diverged at 0.2 on an H200: seed 1, epoch 6).
    compare = TrainConfig(epochs=30, batch_size=512, channels_last=True)
    for m, lr in (("resnet18", 0.2), ("simplecnn", 0.05)):
        for s in (0, 1, 2):
            jobs.append(Job(f"compare/{m}_s{s}", "train", m, cfg=dataclasses.replace(compare, lr=lr, seed=s)))
    return jobs


def _tiny_manifest() -> list[Job]:
    """Seconds on a CPU: the same machinery on tiny networks, for tests."""
    cfg, small = TrainConfig(epochs=1, batch_size=20, lr=0.05, augment=False, device="cpu"), {"width": 4}
    return [
        Job("tiny/resnet20", "train", "resnet20", build=small, cfg=cfg, paper_error=50.0, source="none"),
        Job("tiny/plain20", "train", "plain20", build=small, cfg=cfg),
        Job(
            "tiny/resnet20_surface",
            "surface",
            "resnet20",
            build=small,
            of="tiny/resnet20",
            grid=3,
            n_images=20,
        ),
    ]


MANIFESTS = {"paper": _paper_manifest, "tiny": _tiny_manifest}


def manifest(name: str = "paper") -> list[Job]:
    """The jobs of a manifest ("paper": every run behind the course's stored results; "tiny": tests)."""
    if name not in MANIFESTS:
        raise ValueError(f"unknown manifest {name!r}; known: {', '.join(MANIFESTS)}")
    return MANIFESTS[name]()


def pick(jobs: list[Job], only: list[str] | None) -> list[Job]:
    """The jobs named in `only` (a job's name, or a group such as "table6" or "compare/"); all if None."""
    if not only:
        return jobs
    chosen = [j for j in jobs if any(j.name == o or j.name.startswith(o.rstrip("/") + "/") for o in only)]
    if not chosen:
        raise ValueError(f"no job matches {', '.join(only)}; see `reproduce --status` for the names")
    return chosen


def status(jobs: list[Job], out: Path) -> list[Record]:
    """One row per job: name, kind, done, ours (test error % of a finished train job), paper, source."""
    rows = []
    for j in jobs:
        done, ours = j.result(out).exists(), None
        if done and j.kind == "train":
            acc = finished(j.result(out)).records[-1].get("test_acc")
            if acc is not None and (
                isinstance(acc, bool) or not isinstance(acc, (int, float)) or not 0 <= acc <= 1
            ):
                raise ValueError(f"{str(j.result(out))!r} is damaged: its last test_acc is {acc!r}")
            ours = None if acc is None else 100 * (1 - acc)
        rows.append(
            dict(
                job=j.name,
                kind=j.kind,
                done=done,
                ours_error=ours,
                paper_error=j.paper_error,
                source=j.source,
            )
        )
    return rows


def finished(path: Path) -> History:
    """A train job's stored History; a one-line ValueError naming the file when it holds no epochs."""
    h = History.load(path)
    if not h.records:
        raise ValueError(f"{str(path)!r} holds no finished epoch; delete it to run its job again")
    return h


class OutOfTime(Exception):
    """The queue's time budget ran out; the interrupted job resumes from its checkpoint next time."""


def _deadline_callback(deadline: float):
    def check(_: Step) -> None:
        if time.perf_counter() > deadline:
            raise OutOfTime

    return check


def run(
    jobs: list[Job],
    out: str | Path,
    train,
    test,
    *,
    source: str,
    budget_s: float | None = None,
    progress: bool = True,
) -> tuple[list[str], list[str]]:
    """Run the jobs not yet done, in order; return (finished now, still pending).

    `train`/`test`: the CIFAR-10 ImageSets (`source` names them, and is stored with every result).
    """
    out, deadline = Path(out), time.perf_counter() + (budget_s if budget_s is not None else float("inf"))
    finished, pending = [], []
    for j in jobs:
        if j.result(out).exists():
            continue
        if time.perf_counter() > deadline:
            pending.append(j.name)
            continue
        path = j.result(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(j.cfg.seed)
        model = build_model(j.model, **j.build)
        meta = {"job": j.name, "data": source, "setting": "paper", "paper_error": j.paper_error}
        try:
            if j.kind == "train":
                stop = _deadline_callback(deadline)
                h = fit(
                    model,
                    train,
                    test,
                    j.cfg,
                    checkpoint=path.with_suffix(".pt"),
                    resume=True,
                    name=j.model,
                    progress=progress,
                    callbacks=[stop],
                    meta=meta,
                )
                h.save(path)
            else:
                trained = out / f"{j.of}.pt"
                if not (out / f"{j.of}.json").exists():
                    pending.append(j.name)  # its network is not trained yet
                    continue
                load_weights(model, trained)
                model.to(j.cfg.resolved_device())
                images = balanced_subset(train, -(-j.n_images // len(train.classes)), seed=0)
                surface = random_plane(model, images, grid=j.grid, label=j.name)
                surface.meta.update(run_meta(j.cfg.resolved_device(), **meta))
                surface.save(path)
        except OutOfTime:
            pending.append(j.name)
            continue
        finished.append(j.name)
    return finished, pending
