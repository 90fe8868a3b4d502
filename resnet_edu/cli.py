"""Command line: argument parsing only; the work is done by the same functions the notebooks call.

python -m resnet_edu models [--json]
python -m resnet_edu train --model resnet18 --epochs 30 --out runs/r18 [--subset 500 --synthetic ...]
python -m resnet_edu compare resnet18 simplecnn --epochs 30 --out runs/cmp [--figures figures]
python -m resnet_edu bench train [--models resnet18 simplecnn --steps 3 --json]
python -m resnet_edu bench landscape [--grid 11 --n-images 512 --json]
python -m resnet_edu lessons [01 05 ...] [--setting quick|gpu|paper] [--out executed]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .data import DataError


def cmd_models(args: argparse.Namespace) -> None:
    from .models import build_model, count_macs, count_params, model_names

    names = args.names or [n for n in model_names() if not n.endswith("1202") or args.all]
    rows = []
    for name in names:
        model = build_model(name)
        rows.append({"name": name, "params": count_params(model), "macs": count_macs(model)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'model':<18}{'params':>14}{'MACs / 32x32 image':>22}")
    for r in rows:
        print(f"{r['name']:<18}{r['params'] / 1e6:>13.2f}M{r['macs'] / 1e6:>21.1f}M")


def writable_dir(path: str) -> Path:
    """Create `path` if needed and check a file can be written there, before hours of training."""
    if not path.strip():
        raise ValueError("the output folder is empty; name one, e.g. --out runs/r20")
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as e:
        raise PermissionError(f"cannot write to output folder {path!r}: {e.strerror or e}") from None
    return out


def train_config(args: argparse.Namespace):
    from .train import TrainConfig

    given = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "seed": args.seed,
             "device": args.device, "schedule": args.schedule,
             "channels_last": args.channels_last or None, "compile": args.compile or None}  # fmt: skip
    return TrainConfig(**{k: v for k, v in given.items() if v is not None})


def load_data(args: argparse.Namespace):
    """(train, test) ImageSets from --synthetic, --data or RESNET_EDU_DATA, cut to --subset per class."""
    from .course import lesson_data

    if args.subset is not None and args.subset <= 0:
        raise ValueError(f"--subset is a number of images per class and must be positive, got {args.subset}")
    n = args.subset or (500 if args.synthetic else None)
    try:
        train, test, source = lesson_data(
            n, n and min(n, 1000), seed=args.seed or 0, path=args.data, download=False,
            synthetic=args.synthetic, fallback=False,
        )  # fmt: skip
    except DataError as e:
        raise DataError(f"{e} (or pass --synthetic to try the command without CIFAR-10)") from None
    if is_rank0():
        print(f"data: {source}", file=sys.stderr)
    return train, test, source


def train_models(names: list[str], args: argparse.Namespace) -> list:
    """Train each model under the same config and data; save `OUT/<name>.json` and `OUT/<name>.pt`."""
    from .experiments import train_models as train_each
    from .models import build_model

    cfg = train_config(args)
    cfg.resolved_device()  # a device this machine lacks fails now, before any data is read
    for name in names:
        build_model(name)  # an unknown name fails now, not after the first model trained
    out = writable_dir(args.out)
    done = [p.name for name in names for p in (out / f"{name}.pt", out / f"{name}.json") if p.exists()]
    if done and not (args.resume or args.force):
        raise ValueError(f"{str(out)!r} already holds a run ({', '.join(done)}); pass --resume to "
                         "continue it or --force to start over and replace it")  # fmt: skip
    if args.force and not args.resume:
        for name in names:
            for p in (out / f"{name}.pt", out / f"{name}.json"):
                p.unlink(missing_ok=True)
    train, test, source = load_data(args)
    models = {name: (lambda name=name: build_model(name)) for name in names}
    return train_each(
        models, train, test, cfg, out=out, resume=args.resume, progress=True, meta={"data": source}
    )


def is_rank0() -> bool:
    """True unless this is a non-zero rank under torchrun, which trains but writes and prints nothing."""
    return int(os.environ.get("RANK", "0")) == 0


def print_summary(histories: list, as_json: bool) -> None:
    from .records import summarize

    rows = [summarize(h) for h in histories]
    if as_json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=1))
        return
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    print(f"{'model':<18}{'best acc':>10}{'final acc':>11}{'time to 90%':>13}{'wall s':>10}{'images/s':>10}")
    for r in rows:
        print(f"{r['model']:<18}{fmt(r['best_test_acc'], '>10.4f')}{fmt(r['final_test_acc'], '>11.4f')}"
              f"{fmt(r['time_to_90'], '>12.1f') + ('s' if r['time_to_90'] else ''):>13}"
              f"{fmt(r['wall_s'], '>10.1f')}{fmt(r['images_per_s'], '>10.0f')}")  # fmt: skip


def cmd_train(args: argparse.Namespace) -> None:
    histories = train_models([args.model], args)
    if is_rank0():
        print_summary(histories, args.json)


def cmd_compare(args: argparse.Namespace) -> None:
    figures = writable_dir(args.figures)
    histories = train_models(args.models, args)
    if not is_rank0():
        return
    import matplotlib

    matplotlib.use("Agg")  # files only; no window from the command line
    import matplotlib.pyplot as plt

    from .plots import plot_training_curves, save_figure

    curves = {h.meta["model"]: h for h in histories}
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    plot_training_curves(curves, metric="acc", ax=ax_acc)
    plot_training_curves(curves, metric="loss", ax=ax_loss)
    path = save_figure(fig, "compare_" + "_vs_".join(args.models), directory=figures)
    plt.close(fig)
    print(f"figure: {path}", file=sys.stderr)
    print_summary(histories, args.json)


def cmd_bench(args: argparse.Namespace) -> None:
    from . import bench

    for flag in ("steps", "rounds", "grid", "n_images", "batch_size"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be positive, got {value}")
    if args.warmup is not None and args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")
    from .config import TrainConfig

    TrainConfig(device=args.device or "auto").resolved_device()  # an unknown device: one line, now
    if args.target == "train":
        kw = {"models": tuple(args.models), "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
              "data": args.data, "batch_size": args.batch_size, "compile": args.compile}  # fmt: skip
        result = bench.bench_train(device=args.device or "auto", seed=args.seed, **kw)
    else:
        result = bench.bench_landscape(device=args.device or "cpu", grid=args.grid, n_images=args.n_images,
                                       seed=args.seed)  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for key, value in result.items():
        if isinstance(value, list):  # rows of numbers, one per model
            for row in value:
                print(
                    "  "
                    + "  ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                    )
                )
        else:
            print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")


def cmd_lessons(args: argparse.Namespace) -> None:
    from .course import run_lessons, setting

    writable_dir(args.out)
    mode = args.setting or setting().name
    print(f"executing lessons headless ({mode} setting); executed copies go to {args.out}/", file=sys.stderr)
    try:
        records = run_lessons(args.names or None, out=args.out, setting=args.setting, timeout=args.timeout)
    except RuntimeError as e:  # a failing cell: one line naming the lesson and the error
        raise ValueError(str(e)) from None
    for r in records:
        print(f"{r['lesson']:<32}{r['seconds']:>8.1f} s")


def add_training_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, required=True, help="passes over the training set")
    p.add_argument(
        "--out", required=True, help="folder for <model>.json histories and <model>.pt checkpoints"
    )
    p.add_argument("--lr", type=float, help="peak learning rate per batch (default 0.1)")
    p.add_argument("--batch-size", type=int, help="images per step (default 128)")
    p.add_argument("--schedule", help="onecycle (default), cosine, step or constant")
    p.add_argument("--subset", type=int, metavar="N_PER_CLASS", help="train on N images per class")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    p.add_argument("--data", metavar="PATH", help="CIFAR-10 folder or archive (default: $RESNET_EDU_DATA)")
    p.add_argument("--synthetic", action="store_true", help="synthetic CIFAR-shaped data instead of CIFAR-10")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--force", action="store_true", help="replace a run already in --out")
    p.add_argument("--seed", type=int, help="seed for shuffling and augmentation (default 0)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout (faster on GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU: faster epochs)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resnet_edu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the registered models with parameters and MACs")
    p.add_argument("names", nargs="*", help="models to list (default: all but the 1202-layer nets)")
    p.add_argument("--all", action="store_true", help="include the 1202-layer nets (slow to build)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train one model; save its history and checkpoint")
    p.add_argument("--model", required=True, help="a registered model name (see `models`)")
    add_training_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("compare", help="train several models on the same data; curves and a summary table")
    p.add_argument("models", nargs="+", help="registered model names, e.g. resnet18 simplecnn")
    add_training_flags(p)
    p.add_argument("--figures", default="figures", help="folder for the comparison figure (default figures/)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("bench", help="benchmarks: our training loop / loss landscape against the usual tools")
    p.add_argument("target", choices=("train", "landscape"))
    p.add_argument("--device", help="train: default cuda when available; landscape: default cpu")
    p.add_argument("--models", nargs="+", default=["resnet18", "simplecnn"], help="train: models to time")
    p.add_argument("--steps", type=int, help="train: timed steps (default 3 on the CPU, 50 on a GPU)")
    p.add_argument(
        "--warmup", type=int, help="train: untimed steps first (default 1 on the CPU, 10 on a GPU)"
    )
    p.add_argument("--rounds", type=int, default=2, help="train: alternating rounds, best kept (default 2)")
    p.add_argument(
        "--batch-size", type=int, help="train: images per step (default 512 on CUDA, 128 on the CPU)"
    )
    p.add_argument("--compile", action="store_true", help="train: torch.compile our model (GPU)")
    p.add_argument("--data", metavar="PATH", help="train: CIFAR-10 instead of synthetic images")
    p.add_argument("--grid", type=int, default=11, help="landscape: points per axis")
    p.add_argument("--n-images", type=int, default=512, help="landscape: images the loss is averaged over")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("lessons", help="execute the lesson notebooks headless (refreshes figures/)")
    p.add_argument("names", nargs="*", help="lessons to run, by number or name prefix (default: all)")
    p.add_argument(
        "--setting",
        choices=("quick", "gpu", "paper"),
        help="quick (default on a CPU), gpu (default on CUDA) or paper (the runs behind results/)",
    )
    p.add_argument("--out", default="executed", help="folder for the executed copies (default executed/)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds one cell may run (default 3600)")
    p.set_defaults(func=cmd_lessons)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .train import TrainingDiverged

    try:
        args.func(args)
    except (DataError, ValueError, FileNotFoundError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # a full disk, a path under a file, ...: what and where, in one line
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _leave_process_group()
    return 0


def _leave_process_group() -> None:
    """Under torchrun: wait for every rank, then tear the process group down (no hang, no abort)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
