"""Run records: what a run measured, and where, how and from what data it was measured.

`History` holds per-epoch rows; `run_meta` the device, precision, versions, data source, setting and
seed behind any result. Files are written atomically (`data.files`): a crash leaves the old file or
the new one, never half of one. `fit`, `landscape`, the CLI and the lessons all store through this
module, so every stored result carries the same description of its origin.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import torch

from ..data.files import write_json

Record = dict[str, Any]  # one tidy row: a dict of column -> value


# ---- where a result comes from ------------------------------------------------------------------


def device_name(device: torch.device | str) -> str:
    """Human-readable name of the GPU or CPU behind `device`."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    return platform.processor() or platform.machine()


def run_meta(device: torch.device | str, **extra: Any) -> Record:
    """Device, library versions and date, plus whatever describes the run (`model=`, `seed=`, `data=`
    source, `setting=`, `precision=`): the description every stored result carries. A data source is
    kept by its file name, never its folders: a stored result names no machine's paths."""
    import torchvision

    device = torch.device(device)
    meta = {
        "device": str(device),
        "device_name": device_name(device),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
    }
    if isinstance(extra.get("data"), str):
        extra["data"] = without_folders(extra["data"])
    return meta | extra


def without_folders(text: str) -> str:
    """`text` with every path cut to its last part: "CIFAR-10 from /data/x.tar.gz" -> "... from x.tar.gz"."""
    return re.sub(r"\S*/", "", text)


# ---- histories -------------------------------------------------------------------------------


@dataclass
class History:
    """Per-epoch records, the config that produced them, and where/with what they were produced.

    Each record: epoch (1-based), train_loss, train_acc, test_loss, test_acc (None on epochs
    without evaluation), lr (at the epoch's last step), time (s, cumulative wall clock),
    images_per_s (training throughput of the epoch).
    """

    records: list[Record] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def column(self, key: str) -> list:
        """One value per epoch, e.g. `h.column("test_acc")`."""
        return [r[key] for r in self.records]

    def best(self, key: str = "test_acc") -> float | None:
        """Highest value of an accuracy column (lowest of a loss column), None if never measured."""
        values = [v for v in self.column(key) if v is not None]
        if not values:
            return None
        return min(values) if "loss" in key else max(values)

    def time_to(self, acc: float, key: str = "test_acc") -> float | None:
        """First cumulative time (s) at which `key` reached `acc`, else None (not reached)."""
        return next((r["time"] for r in self.records if r[key] is not None and r[key] >= acc), None)

    def to_dict(self) -> dict:
        return {"records": self.records, "config": self.config, "meta": self.meta}

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically, so a crash never leaves half a file."""
        return write_json(self.to_dict(), path)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """A History from `to_dict`'s dict; a ValueError for anything of another shape."""
        shape = {"records": list, "config": dict, "meta": dict}
        if not isinstance(d, dict) or any(not isinstance(d.get(k), t) for k, t in shape.items()):
            raise ValueError("not a History (records, config and meta)")
        if not all(isinstance(r, dict) for r in d["records"]):
            raise ValueError("not a History (a record is not a dict)")
        return cls(d["records"], d["config"], d["meta"])

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """A History saved by `save`; a one-line ValueError naming `path` for a damaged or foreign file."""
        d = read_json(path, "a History")
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise ValueError(f"{str(path)!r} is {e}") from None


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The JSON in `path`; a one-line ValueError naming the file when it is not JSON (binary, truncated).
    A History's reader says `what` it wanted in its error: "{path} is not {what} (...)"."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{str(path)!r} is not {what} ({type(e).__name__})") from None


def summarize(history: History, target: float = 0.9) -> Record:
    """Best and final test accuracy, time to `target` accuracy, wall time and mean images/s."""
    last = history.records[-1] if history.records else {}
    speeds = history.column("images_per_s")
    return {
        "model": history.meta.get("model"),
        "best_test_acc": history.best("test_acc"),
        "final_test_acc": last.get("test_acc"),
        f"time_to_{round(100 * target)}": history.time_to(target),
        "wall_s": last.get("time"),
        "images_per_s": sum(speeds) / len(speeds) if speeds else None,
    }


# ---- stored results of full runs ----------------------------------------------------------------


def save_results(records: list[Record], path: str | os.PathLike, *, config: Any, meta: Record) -> Path:
    """Write a run's records as JSON with its config and `meta` (see `run_meta`) beside them."""
    if is_dataclass(config):
        config = asdict(config)
    return write_json({"records": records, "config": config, "meta": meta}, path)


def origin(meta: Record, *, seeds: Sequence | None = None) -> str:
    """Where a result comes from, for a title: device, precision, data copy (its file name, never its
    folders), date and, when given, the seeds."""
    data = meta.get("data") and without_folders(str(meta["data"]))
    parts = (meta.get("device_name"), meta.get("precision"), data, meta.get("date"))
    parts += (f"seeds {sorted(seeds, key=str)}",) if seeds is not None else ()
    return ", ".join(str(p) for p in parts if p) or "origin unknown"


def load_results(path: str | os.PathLike) -> dict | None:
    """A saved run (see `save_results`) with a plot label "stored SETTING run (origin)", else None."""
    path = Path(path)
    if not path.exists():
        return None
    payload = read_json(path, "a stored result")
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise ValueError(f"{str(path)!r} is not a stored result (no records)")
    meta = payload.get("meta") if isinstance(payload.get("meta"), dict) else {}
    payload["label"] = f"stored {meta.get('setting', 'full')} run ({origin(meta)})"
    return payload


def load_histories(directory: str | os.PathLike) -> list[History]:
    """Every saved `History` JSON in `directory` (one per model and seed, e.g. `resnet18_s0.json`), in
    file order. Files of other shapes are skipped; an absent directory gives []."""
    out = []
    for path in sorted(Path(directory).glob("*.json")) if Path(directory).is_dir() else []:
        try:
            h = History.load(path)
        except (ValueError, KeyError, TypeError):
            continue
        if h.records:
            out.append(h)
    return out


def history_rows(histories: Sequence[History]) -> list[Record]:
    """Long-form rows (model, seed, params + every epoch record) of several histories, for tables and
    `plots.plot_training_curves`, which draws the mean over seeds with a band."""
    return [
        dict(model=h.meta.get("model"), seed=h.meta.get("seed"), params=h.meta.get("params"), **r)
        for h in histories
        for r in h.records
    ]
