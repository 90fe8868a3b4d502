"""Checkpoints: everything a run needs to continue bit-exactly, written atomically.

A checkpoint holds the model and optimiser state, the step and epoch reached, the `History` so far
and the random number generators. It is loaded with `weights_only=True` (no arbitrary pickles).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..data.files import atomic_write
from .records import History

# Settings that may differ between a checkpoint and the run that resumes it.
RESUMABLE_CHANGES = ("epochs", "eval_every", "device", "compile")


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer, step: int, epoch: int, history: History
) -> None:
    """Write model, optimiser, step, finished epochs, history and RNG states atomically; a process
    killed mid-save leaves the previous checkpoint whole, and its temporary file is removed here."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "epoch": epoch,
        "history": history.to_dict(),
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}*.tmp"):  # what a killed save left (one writer: rank 0)
        stale.unlink(missing_ok=True)
    atomic_write(path, lambda f: torch.save(state, f))


def _read(path: Path) -> dict:
    """The checkpoint's dict, or a one-line ValueError saying why it is not one of ours."""
    if path.is_dir():
        raise ValueError(f"cannot resume: {str(path)!r} is a folder, not a checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...: all mean "not our checkpoint"
        raise ValueError(
            f"cannot resume: {str(path)!r} is not a readable checkpoint ({type(e).__name__})"
        ) from None
    types = {
        "model": dict,
        "optimizer": dict,
        "step": int,
        "epoch": int,
        "history": dict,
        "rng_cpu": torch.Tensor,
    }
    if not isinstance(state, dict) or any(not isinstance(state.get(k), t) for k, t in types.items()):
        raise ValueError(f"cannot resume: {str(path)!r} is not a resnet_edu checkpoint")
    h = state["history"]
    parts = {"records": list, "config": dict, "meta": dict}
    damaged = [k for k, t in parts.items() if not isinstance(h.get(k), t)]
    damaged += [k for k in ("step", "epoch") if isinstance(state[k], bool) or state[k] < 0]
    damaged += [] if state["rng_cpu"].dtype == torch.uint8 else ["rng_cpu"]
    damaged += [] if isinstance(state.get("rng_cuda", []), list) else ["rng_cuda"]
    if damaged or not all(isinstance(r, dict) for r in h["records"]):
        raise ValueError(
            f"cannot resume: {str(path)!r} is a damaged checkpoint ({', '.join(damaged) or 'records'})"
        )
    return state


def _load_model_state(model: nn.Module, state: dict, path: Path) -> None:
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError):
        raise ValueError(
            f"{str(path)!r} is a checkpoint for another model (its weights do not fit {type(model).__name__})"
        ) from None


def load_checkpoint(
    path: str | os.PathLike, model: nn.Module, optimizer, history: History
) -> tuple[int, int]:
    """Restore model, optimiser, RNGs and records in place; return (step, finished epochs).

    Refuses a checkpoint trained with other settings (anything but `RESUMABLE_CHANGES`).
    """
    path = Path(path)
    state = _read(path)
    saved = state["history"]["config"]
    changed = [k for k, v in history.config.items() if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        raise ValueError(f"cannot resume from {str(path)!r}: it was trained with other {', '.join(changed)}")
    _load_model_state(model, state["model"], path)
    try:
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as e:
        raise ValueError(
            f"cannot resume: {str(path)!r} is a damaged checkpoint ({type(e).__name__})"
        ) from None
    history.records[:] = state["history"]["records"]
    return state["step"], state["epoch"]


def load_weights(model: nn.Module, path: str | os.PathLike) -> History:
    """Load a checkpoint's weights into `model`; return the history it was saved with."""
    path = Path(path)
    state = _read(path)
    _load_model_state(model, state["model"], path)
    return History.from_dict(state["history"])
