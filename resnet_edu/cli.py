"""Command line: argument parsing only; the work is done by the same functions the notebooks call.

python -m resnet_edu models [--json]
python -m resnet_edu train --model resnet18 --epochs 30 --out runs/r18 [--subset 500 --synthetic ...]
python -m resnet_edu compare resnet18 simplecnn --epochs 30 --out runs/cmp [--figures figures]
python -m resnet_edu bench train [--models resnet18 simplecnn --steps 3 --json]
python -m resnet_edu bench landscape [--grid 11 --n-images 512 --json]
python -m resnet_edu reproduce [--status] [--only table6] [--budget-s 500]
python -m resnet_edu lessons [01 05 ...] [--setting quick|gpu|paper] [--lang ko] [--out executed]
python -m resnet_edu edition [--translated 01:12] [--from 08 file.md]
python -m resnet_edu site [--executed executed]
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys

from . import commands as C
from .data.files import DataError
from .data.sets import MAX_PER_CLASS
from .training.config import MAX_SEED


class UsageError(Exception):
    """A command line argparse refused; its message names the argument."""


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one `error:` line from `main`, not usage text and an exit."""

    def error(self, message: str):
        raise UsageError(message)


def whole(lo: int, hi: int | None = None):
    """An argparse type: a whole number in lo..hi."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            want = f"a whole number in {lo}..{hi}" if hi is not None else f"a whole number >= {lo}"
            raise argparse.ArgumentTypeError(
                f"must be {'a positive whole number' if want.endswith('>= 1') else want}, got {value}"
            )
        return value

    return parse


def number(positive: bool = False):
    """An argparse type: a finite number (> 0 when `positive`); NaN and inf are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise argparse.ArgumentTypeError(f"must be a {'positive ' * positive}finite number, got {text!r}")
        return value

    return parse


def add_training_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=whole(1, 100_000), required=True, help="passes over the training set")
    p.add_argument(
        "--out", required=True, help="folder for <model>.json histories and <model>.pt checkpoints"
    )
    p.add_argument("--lr", type=number(), help="peak learning rate per batch (default 0.1)")
    p.add_argument("--batch-size", type=whole(1), help="images per step (default 128)")
    p.add_argument("--schedule", help="onecycle (default), cosine, step or constant")
    p.add_argument(
        "--subset", type=whole(1, MAX_PER_CLASS), metavar="N_PER_CLASS", help="train on N images per class"
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or archive (default: $RESNET_EDU_DATA)")
    p.add_argument("--synthetic", action="store_true", help="synthetic CIFAR-shaped data instead of CIFAR-10")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--force", action="store_true", help="replace a run already in --out")
    p.add_argument("--seed", type=whole(0, MAX_SEED), help="seed for shuffling and augmentation (default 0)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout (faster on GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU: faster epochs)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m resnet_edu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the registered models with parameters and MACs")
    p.add_argument("names", nargs="*", help="models to list (default: all but the 1202-layer nets)")
    p.add_argument("--all", action="store_true", help="include the 1202-layer nets (slow to build)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=C.cmd_models)

    p = sub.add_parser("train", help="train one model; save its history and checkpoint")
    p.add_argument("--model", required=True, help="a registered model name (see `models`)")
    add_training_flags(p)
    p.set_defaults(func=C.cmd_train)

    p = sub.add_parser("compare", help="train several models on the same data; curves and a summary table")
    p.add_argument("models", nargs="+", help="registered model names, e.g. resnet18 simplecnn")
    add_training_flags(p)
    p.add_argument("--figures", default="figures", help="folder for the comparison figure (default figures/)")
    p.set_defaults(func=C.cmd_compare)

    p = sub.add_parser("bench", help="benchmarks: our training loop / loss landscape against the usual tools")
    p.add_argument("target", choices=("train", "landscape"))
    p.add_argument("--device", help="train: default cuda when available; landscape: default cpu")
    p.add_argument("--models", nargs="+", default=["resnet18", "simplecnn"], help="train: models to time")
    p.add_argument("--steps", type=whole(1), help="train: timed steps (default 3 on the CPU, 50 on a GPU)")
    p.add_argument(
        "--warmup", type=whole(0), help="train: untimed steps first (default 1 on the CPU, 10 on a GPU)"
    )
    p.add_argument(
        "--rounds", type=whole(1), default=2, help="train: alternating rounds, best kept (default 2)"
    )
    p.add_argument(
        "--batch-size", type=whole(1), help="train: images per step (default 512 on CUDA, 128 on the CPU)"
    )
    p.add_argument("--compile", action="store_true", help="train: torch.compile our model (GPU)")
    p.add_argument("--data", metavar="PATH", help="train: CIFAR-10 instead of synthetic images")
    p.add_argument("--grid", type=whole(1, 1001), default=11, help="landscape: points per axis")
    p.add_argument(
        "--n-images", type=whole(1, 100_000), default=512, help="landscape: images the loss is averaged over"
    )
    p.add_argument("--seed", type=whole(0, MAX_SEED), default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=C.cmd_bench)

    p = sub.add_parser("reproduce", help="the papers' runs as a resumable queue; paper numbers beside ours")
    p.add_argument("--manifest", default="paper", help="paper (default; needs a GPU) or tiny (tests)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="jobs or groups to run, e.g. table6 compare/")
    p.add_argument("--budget-s", type=number(positive=True), help="stop cleanly before this many seconds")
    p.add_argument("--status", action="store_true", help="list done and pending jobs; run nothing")
    p.add_argument("--out", default="results/paper", help="folder of the results (default results/paper)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or archive (default: $RESNET_EDU_DATA)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=C.cmd_reproduce)

    p = sub.add_parser(
        "lessons", help="execute the lesson notebooks headless (copies and figures in executed/)"
    )
    p.add_argument("names", nargs="*", help="lessons to run, by number or name prefix (default: all)")
    p.add_argument(
        "--setting",
        choices=("quick", "gpu", "paper"),
        help="quick (default on a CPU), gpu (default on CUDA) or paper (the runs behind results/)",
    )
    p.add_argument(
        "--lang", choices=("en", "ko"), default="en", help="the edition: en (default) or ko (한국어)"
    )
    p.add_argument("--out", help="folder for the executed copies (default executed/, executed/ko/ for ko)")
    p.add_argument("--timeout", type=whole(1), default=3600, help="seconds one cell may run (default 3600)")
    p.set_defaults(func=C.cmd_lessons)

    p = sub.add_parser(
        "edition", help="copy the English lessons' code into the Korean ones; list translations to redo"
    )
    p.add_argument(
        "--translated", nargs="+", metavar="NN:CELL", help="Korean cells now translating the current English"
    )
    p.add_argument(
        "--from",
        dest="source",
        nargs=2,
        metavar=("NN", "FILE"),
        help="write Korean lesson NN from a translation file",
    )
    p.set_defaults(func=C.cmd_edition)

    p = sub.add_parser("repository", help="point every Colab badge and install cell at a repository (a fork)")
    p.add_argument("url", help="https://github.com/OWNER/NAME")
    p.set_defaults(func=C.cmd_repository)

    p = sub.add_parser("site", help="build the course's website from the executed lessons (after `lessons`)")
    p.add_argument(
        "--executed", default="executed", help="folder of the executed lessons (default executed/)"
    )
    p.add_argument(
        "--out", default="build/site", help="folder for the site (default build/site; HTML in html/)"
    )
    p.set_defaults(func=C.cmd_site)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; every failure ends in one `error:` line (the last on stderr) and a non-zero code:
    2 for a bad argument, variable or file, 1 for a run that failed, 130 for an interruption."""
    try:
        args = build_parser().parse_args(argv)
        args.func(args)
    except (Exception, KeyboardInterrupt) as e:  # each kind becomes its one line (--help still exits 0)
        if os.environ.get("RESNET_EDU_DEBUG") and not isinstance(e, UsageError):
            raise
        message, code = one_line(e)
        print(f"error: {message}", file=sys.stderr)
        return code
    finally:
        _leave_process_group()
    return 0


def one_line(e: BaseException) -> tuple[str, int]:
    """The `error:` line's text and the exit code for an exception."""
    from .training.fit import TrainingDiverged

    first = lambda text: (text.strip().splitlines() or [""])[0]
    if isinstance(e, KeyboardInterrupt):
        return "interrupted; no file was left half-written (a training run continues with --resume)", 130
    if isinstance(e, TrainingDiverged):
        return first(str(e)), 1
    if isinstance(e, (UsageError, DataError, ValueError)):
        return first(str(e)), 2
    if isinstance(e, OSError):  # a full disk, a path under a file, ...: what and where
        what = "no space left on device" if e.errno in (errno.ENOSPC, errno.EDQUOT) else e.strerror or str(e)
        what = what[:1].lower() + what[1:]
        return f"{first(what)}: {e.filename}" if e.filename else first(what), 2
    import torch

    if isinstance(e, torch.OutOfMemoryError):
        return "out of memory on the device: try a smaller --batch-size", 1
    text = first(str(e)).split("] ")[-1]  # torch's "[enforce fail at file.cc:123] what"
    return f"{type(e).__name__}: {text} (RESNET_EDU_DEBUG=1 shows where)", 1


def _leave_process_group() -> None:
    """Under torchrun: wait for every rank, then tear the process group down (no hang, no abort)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
