"""The lessons as notebooks executed headless: `make lessons`, `python -m resnet_edu lessons`, the tests.

An executed copy of every lesson goes to `out`; widgets fall back to static figures there, so the
copy shows what a learner would see.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .settings import ROOT, SETTINGS

LESSONS = (
    "01_vanishing_gradients",
    "02_residual_learning",
    "03_preactivation_blocks",
    "04_batchnorm_and_shortcuts",
    "05_loss_landscapes",
    "06_resnet18_vs_simplecnn",
    "07_why_residual_networks_train",
)


def _execute(nb, *, cwd: Path, timeout: int) -> None:
    """Run every cell of `nb` in a fresh python3 kernel started in `cwd`, talking to it over local IPC
    sockets in a temporary folder (not TCP: no unencrypted port, and no warning about one)."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="resnet-edu-kernel-") as sockets:

        class LocalKernel(KernelManager):
            def __init__(self, **kw):
                super().__init__(transport="ipc", ip=str(Path(sockets) / "kernel"), **kw)

        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            kernel_manager_class=LocalKernel,
            resources={"metadata": {"path": str(cwd)}},
        )
        client.execute()


def run_lessons(
    names: list[str] | None = None,
    *,
    out: str | os.PathLike = "executed",
    directory: str | os.PathLike | None = None,
    setting: str | None = None,
    timeout: int = 1800,
    progress: bool = True,
) -> list[dict]:
    """Execute lesson notebooks headless in `setting` (default: `setting()`); write executed copies to
    `out`; one record per lesson.

    A failing lesson raises `RuntimeError` naming the notebook and the cell's error, after its
    partly executed copy has been written for inspection.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    directory = Path(directory) if directory else ROOT / "notebooks"
    if not directory.is_dir():
        raise FileNotFoundError(
            f"no lessons folder {str(directory)!r}: run the lessons from a clone of the course repository"
        )
    if not str(out).strip():
        raise ValueError("the output folder is empty; name one, e.g. --out executed")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive whole number of seconds per cell, got {timeout!r}")
    if setting is not None and setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; use one of {', '.join(SETTINGS)}")
    known = sorted(p.stem for p in directory.glob("*.ipynb"))
    names = names or known
    unknown = [n for n in names if not any(lesson.startswith(n) for lesson in known)]
    if unknown or not known:
        raise ValueError(f"unknown lesson {(unknown or names)[0]!r}; known: {', '.join(known) or 'none'}")
    chosen = [lesson for lesson in known if any(lesson.startswith(n) for n in names)]
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"cannot write to output folder {str(out)!r}: {e.strerror or e}") from None
    env_before = dict(os.environ)
    if setting is not None:
        os.environ["RESNET_EDU_SETTING"] = setting
    os.environ["RESNET_EDU_HEADLESS"] = "1"  # widgets fall back to static figures in the copies
    records = []
    try:
        for name in tqdm(chosen, desc="lessons", disable=not progress):
            path = directory / f"{name}.ipynb"
            nb = nbformat.read(path, as_version=4)
            begin = time.perf_counter()
            try:
                _execute(nb, cwd=path.parent, timeout=timeout)
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
