"""What each `python -m resnet_edu` command does, calling the same public functions the lessons call.

`cli` parses the arguments and turns every failure into one `error:` line; the commands here
validate their inputs before any work and never replace a finished run without `--force`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

import torch

from .data.files import DataError, LockHeld, exclusive
from .data.sets import MAX_PER_CLASS, check_count
from .training.config import env_int


def cmd_models(args: argparse.Namespace) -> None:
    from .nets.models import build_model, count_macs, count_params, model_names

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


def writable_dir(path: str, flag: str = "--out") -> Path:
    """Create `path` if needed and check a file can be written there, before hours of training."""
    if not path.strip():
        raise ValueError(f"the output folder is empty; name one, e.g. {flag} runs/r20")
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as e:
        raise PermissionError(f"cannot write to output folder {path!r} ({flag}): {e.strerror or e}") from None
    return out


def train_config(args: argparse.Namespace):
    from .training.config import TrainConfig

    given = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "seed", "device", "schedule")}
    given |= {"channels_last": args.channels_last or None, "compile": args.compile or None}
    return TrainConfig(**{k: v for k, v in given.items() if v is not None})


def load_data(args: argparse.Namespace):
    """(train, test) ImageSets from --synthetic, --data or RESNET_EDU_DATA, cut to --subset per class."""
    from .course.settings import lesson_data

    if args.subset is not None:  # argparse checks it too; this is for callers with a Namespace of their own
        check_count("--subset", args.subset, MAX_PER_CLASS)
    if args.synthetic and args.data:
        raise ValueError("--synthetic and --data exclude each other: synthetic images ignore a data path")
    n = args.subset or (500 if args.synthetic else None)
    try:
        train, test, source = lesson_data(
            n,
            n and min(n, 1000),
            seed=args.seed or 0,
            path=args.data,
            download=False,
            synthetic=args.synthetic,
            fallback=False,
        )
    except DataError as e:
        raise DataError(f"{e} (or pass --synthetic to try the command without CIFAR-10)") from None
    if is_rank0():
        print(f"data: {source}", file=sys.stderr)
    return train, test, source


def train_named(names: list[str], args: argparse.Namespace, folders: tuple[str, ...] = ()) -> list:
    """Train each model under the same config and data; save `OUT/<name>.json` and `OUT/<name>.pt`.

    Every argument, the data and the sizes are checked before `--out` (or `--figures`, in `folders`)
    is created; the run then holds a lock on `--out`, so a second run into it is refused. `--force`
    replaces a finished run only once the new run has written its first checkpoint."""
    from .nets.models import build_model
    from .training.fit import TrainingDiverged
    from .training.seeded import diverged, train_models

    cfg = train_config(args)
    cfg.resolved_device()  # a device this machine lacks fails now, before any data is read
    if len(set(names)) != len(names):  # each writes OUT/<name>.pt: the second would replace the first
        raise ValueError(f"each model can be named once, got {' '.join(names)}")
    for name in names:
        build_model(name)  # an unknown name fails now, not after the first model trained
    if not args.out.strip():
        raise ValueError("the output folder is empty; name one, e.g. --out runs/r20")
    train, test, source = load_data(args)
    if cfg.batch_size // env_int("WORLD_SIZE", 1) > len(train):
        raise ValueError(f"--batch-size {cfg.batch_size} is larger than the {len(train)} training images")
    for flag in folders:
        writable_dir(getattr(args, flag.strip("-")), flag)
    out = writable_dir(args.out)
    try:
        with exclusive(out / ".resnet_edu.lock", wait=False) if is_rank0() else contextlib.nullcontext():
            check_out(out, names, args)
            models = {name: (lambda name=name: build_model(name)) for name in names}
            histories = train_models(
                models,
                train,
                test,
                cfg,
                out=out,
                resume=args.resume,
                replace=args.force and not args.resume,
                progress=True,
                meta={"data": source},
            )
    except LockHeld:
        raise ValueError(
            f"another run is writing to {str(out)!r} now; wait for it or choose another --out"
        ) from None
    for h in diverged(histories):  # its partial history is saved beside its last good checkpoint
        raise TrainingDiverged(h.meta["diverged_message"], h)
    return histories


def check_out(out: Path, names: list[str], args: argparse.Namespace) -> None:
    """Refuse to overwrite a finished run without --force, and --resume where there is no checkpoint."""
    done = [p.name for name in names for p in (out / f"{name}.pt", out / f"{name}.json") if p.exists()]
    if done and not (args.resume or args.force):
        raise ValueError(
            f"{str(out)!r} already holds a run ({', '.join(done)}); pass --resume to "
            "continue it or --force to start over and replace it"
        )
    lone = [f"{n}.json" for n in names if (out / f"{n}.json").exists() and not (out / f"{n}.pt").exists()]
    if args.resume and lone and not args.force:
        raise ValueError(
            f"cannot resume: {str(out)!r} holds {', '.join(lone)} but no checkpoint to continue from; "
            "pass --force (without --resume) to replace that run"
        )


def is_rank0() -> bool:
    """True unless this is a non-zero rank under torchrun, which trains but writes and prints nothing."""
    return env_int("RANK", 0) == 0


def print_summary(histories: list, as_json: bool) -> None:
    from .training.records import summarize

    rows = [summarize(h) for h in histories]
    if as_json:
        print(json.dumps(rows if len(rows) > 1 else rows[0], indent=1))
        return
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    print(f"{'model':<18}{'best acc':>10}{'final acc':>11}{'time to 90%':>13}{'wall s':>10}{'images/s':>10}")
    for r in rows:
        print(
            f"{r['model']:<18}{fmt(r['best_test_acc'], '>10.4f')}{fmt(r['final_test_acc'], '>11.4f')}"
            f"{fmt(r['time_to_90'], '>12.1f') + ('s' if r['time_to_90'] else ''):>13}"
            f"{fmt(r['wall_s'], '>10.1f')}{fmt(r['images_per_s'], '>10.0f')}"
        )


def cmd_train(args: argparse.Namespace) -> None:
    histories = train_named([args.model], args)
    if is_rank0():
        print_summary(histories, args.json)


def cmd_compare(args: argparse.Namespace) -> None:
    histories = train_named(args.models, args, folders=("--figures",))
    figures = Path(args.figures)
    if not is_rank0():
        return
    import matplotlib

    matplotlib.use("Agg")  # files only; no window from the command line
    import matplotlib.pyplot as plt

    from .course.plots import plot_training_curves, save_figure

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
    from .training.config import TrainConfig

    TrainConfig(device=args.device or "auto").resolved_device()  # an unknown device: one line, now
    if args.target == "train":
        kw = dict(models=tuple(args.models), steps=args.steps, warmup=args.warmup, rounds=args.rounds)
        kw |= dict(data=args.data, batch_size=args.batch_size, compile=args.compile)
        result = bench.bench_train(device=args.device or "auto", seed=args.seed, **kw)
    else:
        result = bench.bench_landscape(
            device=args.device or "cpu", grid=args.grid, n_images=args.n_images, seed=args.seed
        )
    if args.json:
        print(json.dumps(result, indent=1))
        return
    show = lambda v: f"{v:.4g}" if isinstance(v, float) else f"{v}"
    for key, value in result.items():
        if isinstance(value, list):  # rows of numbers, one per model
            print("\n".join("  " + "  ".join(f"{k}={show(v)}" for k, v in row.items()) for row in value))
        else:
            print(f"{key}: {show(value)}")


def cmd_lessons(args: argparse.Namespace) -> None:
    from .course.editions import folder
    from .course.lessons import run_lessons
    from .course.settings import setting

    default = "executed/ko" if args.lang == "ko" else "executed"
    out = default if args.out is None else args.out  # an empty --out is refused by run_lessons
    mode = args.setting or setting().name
    print(f"executing lessons headless ({mode} setting); executed copies go to {out}/", file=sys.stderr)
    try:
        kw = dict(out=out, setting=args.setting, timeout=args.timeout, directory=folder(args.lang))
        records = run_lessons(args.names or None, **kw)
    except RuntimeError as e:  # a failing cell: one line naming the lesson and the error
        raise ValueError(str(e)) from None
    for r in records:
        print(f"{r['lesson']:<32}{r['seconds']:>8.1f} s")


def cmd_edition(args: argparse.Namespace) -> None:
    from .course import editions as E

    if args.source:
        print(f"wrote {E.translate_file(*args.source)}")
    if args.translated:
        print(E.mark_translated(args.translated))
    print(E.sync_all())  # raises, naming every Markdown cell whose English text changed since its translation


def cmd_repository(args: argparse.Namespace) -> None:
    from .course.links import set_repository
    from .course.settings import ROOT, in_clone

    if not in_clone():
        raise ValueError("the repository's address lives in a clone's files; run this inside a clone")
    changed = set_repository(ROOT, args.url)
    names = ", ".join(str(p.relative_to(ROOT)) for p in changed)
    print(f"{len(changed)} files now point at {args.url}: {names}")


def cmd_site(args: argparse.Namespace) -> None:
    from .course.site import build

    html = build(Path(args.executed).resolve(), Path(args.out).resolve())
    print(f"site: {html / 'index.html'}; serve it with: python -m http.server -d {html}")


def cmd_reproduce(args: argparse.Namespace) -> None:
    from .course import reproduce as R

    jobs = R.pick(R.manifest(args.manifest), args.only)
    out = Path(args.out)
    if not args.status:
        if args.budget_s is not None and not 0 < args.budget_s < float("inf"):  # NaN fails this too
            raise ValueError(f"--budget-s must be a positive number of seconds, got {args.budget_s}")
        if args.manifest == "paper" and not torch.cuda.is_available():
            raise ValueError(
                "the paper manifest trains for GPU-hours and needs a CUDA GPU; "
                "`--manifest tiny` runs the same machinery on a CPU"
            )
        writable_dir(args.out)
        from .course.settings import lesson_data

        train, test, source = lesson_data(path=args.data, download=False, fallback=False)  # never synthetic
        done, pending = R.run(jobs, out, train, test, source=source, budget_s=args.budget_s)
        print(f"finished {len(done)} job(s) now; {len(pending)} pending", file=sys.stderr)
    rows = R.status(jobs, out)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    fmt = lambda v: "-" if v is None else f"{v:.2f}"
    print(f"{'job':<34}{'state':<9}{'ours error %':>13}{'paper error %':>15}  source")
    for r in rows:
        print(
            f"{r['job']:<34}{'done' if r['done'] else 'pending':<9}{fmt(r['ours_error']):>13}"
            f"{fmt(r['paper_error']):>15}  {r['source']}"
        )
