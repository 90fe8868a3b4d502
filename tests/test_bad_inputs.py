"""Bad inputs, one row each: the command line ends in one `error:` line with the right exit code and
loses nothing; the library raises a ValueError (or DataError) naming the argument. A bug found by
hand becomes a row here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import batch, full_disk, needs_dev_full, run, tiny
from resnet_edu.course import settings as S
from resnet_edu.data import DataError, synthetic_cifar
from resnet_edu.data import files as F
from resnet_edu.data.loader import DeviceLoader
from resnet_edu.nets.models import build_model
from resnet_edu.training.records import History
from resnet_edu.training.seeded import over_seeds

pytestmark = pytest.mark.usefixtures("private_cache")

TRAIN = ["train", "--model", "simplecnn", "--epochs", "1"]
TINY = ["--synthetic", "--subset", "4", "--batch-size", "20", "--epochs", "1", "--lr", "0.05"]

# (id, argv, environment, exit code, text in the last line). "{out}" is a fresh folder that must not be
# created by a command that fails its checks.
CLI = [
    ("no-command", [], {}, 2, "the following arguments are required: command"),
    ("unknown-command", ["nope"], {}, 2, "argument command: invalid choice: 'nope'"),
    ("missing-flags", ["train"], {}, 2, "required: --model, --epochs, --out"),
    ("unknown-flag", [*TRAIN, "--out", "{out}", "--bogus"], {}, 2, "unrecognized arguments: --bogus"),
    ("epochs-fraction", ["train", "--model", "simplecnn", "--epochs", "1.5"], {}, 2, "argument --epochs"),
    ("epochs-nan", ["train", "--model", "simplecnn", "--epochs", "nan"], {}, 2, "argument --epochs"),
    ("epochs-zero", ["train", "--model", "simplecnn", "--epochs", "0"], {}, 2, "argument --epochs"),
    ("epochs-endless", ["train", "--model", "simplecnn", "--epochs", "10" * 10], {}, 2, "in 1..100000"),
    ("lr-nan", [*TRAIN, "--lr", "nan"], {}, 2, "argument --lr: must be a finite number, got 'nan'"),
    ("lr-inf", [*TRAIN, "--lr", "inf"], {}, 2, "argument --lr: must be a finite number"),
    ("lr-negative", [*TRAIN, "--lr", "-1"], {}, 2, "learning rate must be a finite number >= 0"),
    ("lr-beyond-float32", [*TRAIN, "--lr", "1e300"], {}, 2, "does not fit in float32"),
    ("batch-fraction", [*TRAIN, "--batch-size", "2.5"], {}, 2, "argument --batch-size"),
    (
        "seed-overflow",
        [*TRAIN, "--seed", "1000000000000000"],
        {},
        2,
        "argument --seed: must be a whole number",
    ),
    ("seed-negative", [*TRAIN, "--seed", "-1"], {}, 2, "argument --seed"),
    ("subset-zero", [*TRAIN, "--synthetic", "--subset", "0"], {}, 2, "argument --subset"),
    (
        "synthetic-and-data",
        [*TRAIN, "--synthetic", "--data", "x.tar.gz"],
        {},
        2,
        "--synthetic and --data exclude",
    ),
    ("subset-huge", [*TRAIN, "--synthetic", "--subset", "99999999"], {}, 2, "argument --subset"),
    ("device-meta", [*TRAIN, "--device", "meta"], {}, 2, "device 'meta' cannot train here"),
    ("device-mps", [*TRAIN, "--device", "mps"], {}, 2, "device 'mps'"),
    ("device-xla", [*TRAIN, "--device", "xla"], {}, 2, "device 'xla'"),
    ("device-bogus", [*TRAIN, "--device", "bogus"], {}, 2, "unknown device 'bogus'"),
    ("schedule", [*TRAIN, "--schedule", "zigzag"], {}, 2, "unknown schedule 'zigzag'"),
    ("model", ["train", "--model", "resnet5", "--epochs", "1"], {}, 2, "unknown model 'resnet5'"),
    (
        "data-missing",
        [*TRAIN, "--data", "/no/such/cifar"],
        {},
        2,
        "data path '/no/such/cifar' does not exist",
    ),
    (
        "batch-beyond-data",
        [*TRAIN, *TINY, "--batch-size", "500"],
        {},
        2,
        "larger than the 40 training images",
    ),
    (
        "out-empty",
        ["train", "--model", "simplecnn", "--epochs", "1", "--out", ""],
        {},
        2,
        "output folder is empty",
    ),
    ("rank", [*TRAIN, *TINY], {"RANK": "abc"}, 2, "environment variable RANK='abc'"),
    ("world-size", [*TRAIN, *TINY], {"WORLD_SIZE": "-1"}, 2, "environment variable WORLD_SIZE='-1'"),
    ("setting", [*TRAIN, *TINY], {"RESNET_EDU_SETTING": "fast"}, 0, ""),  # train reads no setting
    (
        "figures-under-file",
        ["compare", "simplecnn", *TINY, "--figures", "/etc/passwd/x"],
        {},
        2,
        "(--figures)",
    ),
    ("budget-nan", ["reproduce", "--manifest", "tiny", "--budget-s", "nan"], {}, 2, "argument --budget-s"),
    ("budget-inf", ["reproduce", "--manifest", "tiny", "--budget-s", "inf"], {}, 2, "argument --budget-s"),
    ("budget-zero", ["reproduce", "--manifest", "tiny", "--budget-s", "0"], {}, 2, "argument --budget-s"),
    ("manifest", ["reproduce", "--manifest", "huge"], {}, 2, "unknown manifest 'huge'"),
    ("only", ["reproduce", "--manifest", "tiny", "--only", "nope"], {}, 2, "no job matches nope"),
    ("timeout-zero", ["lessons", "01", "--timeout", "0"], {}, 2, "argument --timeout"),
    ("timeout-negative", ["lessons", "01", "--timeout", "-5"], {}, 2, "argument --timeout"),
    ("setting-choice", ["lessons", "--setting", "fast"], {}, 2, "argument --setting: invalid choice"),
    ("lesson", ["lessons", "99"], {}, 2, "unknown lesson '99'"),
    ("lessons-out-empty", ["lessons", "01", "--out", ""], {}, 2, "the output folder is empty"),
    ("lang-choice", ["lessons", "01", "--lang", "fr"], {}, 2, "argument --lang: invalid choice"),
    ("edition-cell", ["edition", "--translated", "1x"], {}, 2, "'1x' is not LESSON:CELL"),
    ("edition-code-cell", ["edition", "--translated", "01:1"], {}, 2, "no Markdown twin of English cell 1"),
    ("edition-file", ["edition", "--from", "01", "no-such.md"], {}, 2, "no-such.md"),
    ("compare-twice", ["compare", "simplecnn", "simplecnn", *TINY], {}, 2, "each model can be named once"),
    ("bench-target", ["bench", "cook"], {}, 2, "argument target: invalid choice"),
    ("bench-meta", ["bench", "landscape", "--device", "meta"], {}, 2, "device 'meta' cannot train here"),
    ("bench-mps", ["bench", "train", "--device", "mps"], {}, 2, "device 'mps'"),
    ("bench-grid", ["bench", "landscape", "--grid", "2.5"], {}, 2, "argument --grid"),
    ("bench-n-images", ["bench", "landscape", "--n-images", "-1"], {}, 2, "argument --n-images"),
    ("bench-steps", ["bench", "train", "--steps", "0"], {}, 2, "argument --steps"),
    ("repository", ["repository", "https://gitlab.com/a/b"], {}, 2, "not a GitHub repository address"),
]


@pytest.mark.parametrize("argv, env, code, text", [row[1:] for row in CLI], ids=[row[0] for row in CLI])
def test_a_bad_command_line_ends_in_one_error_line(capsys, monkeypatch, tmp_path, argv, env, code, text):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out"
    argv = [a.replace("{out}", str(out)) for a in argv]
    if argv[:1] in (["train"], ["compare"]) and "--out" not in argv and len(argv) > 1:
        argv += ["--out", str(out)]
    if argv[:1] == ["reproduce"]:
        argv += ["--out", str(out)]
    got, stdout, err = run(capsys, *argv)
    if code == 0:
        assert got == 0
        return
    last = err.splitlines()[-1]
    assert got == code and last.startswith("error: ") and text in last, err
    assert all(line.startswith(("error: ", "data: ", "executing")) for line in err.splitlines()), (
        err
    )  # no usage
    assert not out.exists()  # checked before any folder was made


# ---- a finished run is never lost --------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished one-epoch simplecnn run, trained once for the module: {file name: bytes}."""
    folder = tmp_path_factory.mktemp("finished")
    from resnet_edu import cli

    assert cli.main([*TRAIN, "--out", str(folder), *TINY]) == 0
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}


def copy_of(run_files: dict, folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in run_files.items():
        (folder / name).write_bytes(data)


def unchanged(run_files: dict, folder) -> bool:
    return {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")} == run_files


@pytest.mark.parametrize(
    "bad, text",
    [
        (["--data", "/no/such/cifar"], "does not exist"),
        (["--synthetic", "--subset", "4", "--batch-size", "500"], "larger than the 40 training images"),
        (["--synthetic", "--subset", "4", "--seed", "1000000000000000"], "argument --seed"),
        (["--synthetic", "--subset", "4", "--device", "meta"], "device 'meta'"),
        (["--synthetic", "--subset", "4", "--lr", "nan"], "argument --lr"),
        (["--synthetic", "--subset", "4", "--batch-size", "20", "--lr", "1e30"], "training diverged"),
    ],
    ids=["data", "batch", "seed", "device", "lr-nan", "diverges-in-epoch-1"],
)
def test_force_keeps_the_finished_run_when_the_new_one_fails_before_its_first_checkpoint(
    capsys, tmp_path, finished, bad, text
):
    copy_of(finished, tmp_path / "run")
    code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path / "run"), "--force", *bad)
    assert code in (1, 2) and err.splitlines()[-1].startswith("error: ") and text in err.splitlines()[-1]
    assert unchanged(finished, tmp_path / "run")


def test_resume_without_a_checkpoint_or_with_fewer_epochs_is_refused(capsys, tmp_path, finished):
    copy_of({"simplecnn.json": finished["simplecnn.json"]}, tmp_path / "run")
    code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path / "run"), "--resume", *TINY)
    assert code == 2 and "holds simplecnn.json but no checkpoint" in err.splitlines()[-1]
    assert (tmp_path / "run" / "simplecnn.json").read_bytes() == finished["simplecnn.json"]
    copy_of(finished, tmp_path / "two")
    more = ["--synthetic", "--subset", "4", "--batch-size", "20", "--lr", "0.05"]
    assert run(capsys, *TRAIN[:-1], "2", "--out", str(tmp_path / "two"), "--resume", *more)[0] == 0
    two = {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir() if not p.name.startswith(".")}
    code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path / "two"), "--resume", *more)  # --epochs 1
    assert code == 2 and "it has already finished 2 epochs" in err.splitlines()[-1]
    assert unchanged(two, tmp_path / "two")


def test_a_second_run_into_a_folder_being_written_is_refused(capsys, tmp_path, finished):
    copy_of(finished, tmp_path / "run")
    with F.exclusive(tmp_path / "run" / ".resnet_edu.lock"):  # what a live run holds
        code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path / "run"), "--force", *TINY)
    assert code == 2 and err.splitlines()[-1].startswith("error: another run is writing to")
    assert unchanged(finished, tmp_path / "run")


def test_a_run_that_replaces_another_removes_it_only_after_its_first_checkpoint(capsys, tmp_path, finished):
    copy_of(finished, tmp_path / "run")
    code, _, _ = run(capsys, *TRAIN, "--out", str(tmp_path / "run"), "--force", *TINY, "--seed", "3")
    assert code == 0 and History.load(tmp_path / "run" / "simplecnn.json").meta["seed"] == 3
    assert (tmp_path / "run" / "simplecnn.json").stat().st_mode & 0o044 == 0o044  # the group can read


# ---- damaged files, a full disk, an interruption -----------------------------------------------


def damage(state: dict, how: str) -> dict:
    if how == "no-rng-cuda":  # a checkpoint from before the key: still resumable
        return {k: v for k, v in state.items() if k != "rng_cuda"}
    if how == "no-config":
        return {**state, "history": {k: v for k, v in state["history"].items() if k != "config"}}
    if how == "rng-not-bytes":
        return {**state, "rng_cpu": state["rng_cpu"].float()}
    if how == "rng-short":
        return {**state, "rng_cpu": state["rng_cpu"][:10]}
    if how == "step-text":
        return {**state, "step": "2"}
    if how == "epoch-negative":
        return {**state, "epoch": -1}
    if how == "optimizer-foreign":
        return {**state, "optimizer": {"state": {}, "param_groups": [{"params": [0]}]}}
    return {**state, "history": {**state["history"], "records": ["not a record"]}}


@pytest.mark.parametrize(
    "how",
    ["no-rng-cuda", "no-config", "rng-not-bytes", "rng-short", "step-text", "epoch-negative"]
    + ["optimizer-foreign", "records-not-dicts"],
)
def test_a_damaged_checkpoint_is_refused_in_one_line_naming_it(capsys, tmp_path, finished, how):
    copy_of(finished, tmp_path / "run")
    path = tmp_path / "run" / "simplecnn.pt"
    torch.save(damage(torch.load(path, weights_only=True), how), path)
    more = ["--synthetic", "--subset", "4", "--batch-size", "20", "--lr", "0.05"]
    code, _, err = run(capsys, *TRAIN[:-1], "2", "--out", str(tmp_path / "run"), "--resume", *more)
    if how == "no-rng-cuda":
        assert code == 0
        return
    last = err.splitlines()[-1]
    assert code == 2 and last.startswith("error: cannot resume") and str(path) in last, err
    assert (tmp_path / "run" / "simplecnn.json").read_bytes() == finished["simplecnn.json"]


@needs_dev_full
def test_a_full_disk_under_a_checkpoint_is_one_line_naming_the_file(capsys, tmp_path, monkeypatch):
    full_disk(monkeypatch)
    code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path), *TINY)
    last = err.splitlines()[-1]
    assert code == 2 and last == f"error: no space left on device: {tmp_path / 'simplecnn.pt'}"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_interruption_while_writing_is_one_error_line_and_leaves_no_half_file(
    capsys, tmp_path, monkeypatch
):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    code, _, err = run(capsys, *TRAIN, "--out", str(tmp_path), *TINY)
    assert code == 130 and err.splitlines()[-1].startswith("error: interrupted")
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


def test_reproduce_status_over_damaged_results_names_the_file(capsys, tmp_path):
    (tmp_path / "tiny").mkdir()
    result = tmp_path / "tiny" / "resnet20.json"
    nan = '{"records": [{"test_acc": NaN}], "config": {}, "meta": {}}'
    for content in ('{"records": [], "config": {}, "meta": {}}', "\x00\x01binary", '{"records": 3}', nan):
        result.write_text(content)
        code, _, err = run(capsys, "reproduce", "--manifest", "tiny", "--status", "--out", str(tmp_path))
        assert code == 2 and str(result) in err.splitlines()[-1] and err.count("\n") == 1


# ---- the library -------------------------------------------------------------------------------


def cfg(**kw):
    from resnet_edu.training.config import TrainConfig

    return lambda: TrainConfig(**kw)


def landscape(fn: str, **kw):
    def call():
        from resnet_edu.measure import landscape as L

        x, y = batch(4)
        if fn == "interpolate":
            return L.interpolate(tiny("resnet8"), tiny("resnet8"), (x, y), **kw)
        return getattr(L, fn)(tiny("resnet8"), (x, y), **kw)

    return call


def hessian(n: int = 0, **kw):
    def call():
        from resnet_edu.measure.hessian import hessian_top_eigenvalue

        x, y = batch(4)
        return hessian_top_eigenvalue(tiny("resnet8"), x[:n], y[:n], **kw)

    return call


def binary_history(tmp_path):
    (tmp_path / "h.json").write_bytes(bytes(range(256)))
    return History.load(tmp_path / "h.json")


def foreign_surface(tmp_path):
    from resnet_edu.measure.landscape import Surface

    np.savez(tmp_path / "s.npz", alphas=np.zeros(3), betas=np.array([]), loss=np.zeros(4), accuracy=0, meta=1)
    return Surface.load(tmp_path / "s.npz")


def lessons(**kw):
    from resnet_edu.course.lessons import run_lessons

    return lambda: run_lessons(["01"], **kw)


LIBRARY = [
    ("epochs-fraction", cfg(epochs=1.5), "epochs must be a whole number"),
    ("epochs-nan", cfg(epochs=math.nan), "epochs must be a whole number"),
    ("batch-fraction", cfg(batch_size=2.5), "batch_size must be a whole number"),
    ("eval-every-fraction", cfg(eval_every=1.5), "eval_every must be a whole number"),
    ("milestone-negative", cfg(schedule="step", milestones=(-1.0,)), "milestones must be positive"),
    ("milestone-nan", cfg(milestones=(0.5, math.nan)), "milestone nan"),
    ("milestones-number", cfg(milestones=0.5), "milestones must be a tuple"),
    ("momentum-nan", cfg(momentum=math.nan), "momentum must be a finite number"),
    ("weight-decay-inf", cfg(weight_decay=math.inf), "weight_decay must be a finite number"),
    ("seed-negative", cfg(seed=-1), "seed must lie in 0.."),
    ("seed-huge", cfg(seed=10**15), "seed must lie in 0.."),
    ("seed-text", cfg(seed="0"), "seed must be a whole number"),
    ("device-number", cfg(device=3), "device must be a string"),
    ("device-meta", lambda: cfg(device="meta")().resolved_device(), "device 'meta' cannot train here"),
    ("span-nan", landscape("random_plane", grid=3, span=math.nan), "span must be a positive finite number"),
    ("span-negative", landscape("random_line", steps=3, span=-1.0), "span must be a positive finite number"),
    ("grid-fraction", landscape("random_plane", grid=2.5), "must be a positive whole number"),
    ("plane-seed-huge", landscape("random_plane", grid=2, seed=2**70), "seed must be a whole number in"),
    ("steps-zero", landscape("random_line", steps=0), "must be a positive whole number"),
    ("interpolate-span", landscape("interpolate", steps=3, span=(0, math.inf)), "span must be two finite"),
    ("interpolate-steps", landscape("interpolate", steps=2.5), "steps must be a positive whole number"),
    ("hessian-no-images", hessian(0), "one or more images"),
    ("hessian-iters", hessian(4, iters=2.5), "iters (power iterations) must be a positive whole number"),
    ("hessian-tol", hessian(4, tol=math.nan), "tol must be a positive finite number"),
    ("start-99", lambda: S.start("99"), "lesson must name a lesson"),
    ("lesson-data-fraction", lambda: S.lesson_data(2.5), "n_train must be"),
    ("lessons-timeout", lessons(timeout=0), "timeout must be a positive whole number"),
    ("seeds-empty", lambda: over_seeds({}, [], None), "one or more"),
    ("seeds-fraction", lambda: over_seeds({"m": None}, [0.5], None), "seeds must be whole numbers"),
    ("seeds-nan", lambda: over_seeds({"m": None}, [math.nan], None), "seeds must be whole numbers"),
    ("width-fraction", lambda: build_model("resnet20", width=2.5), "and (2.5, 5.0, 10.0)"),
    (
        "cnn-width-nan",
        lambda: build_model("simplecnn", width=math.nan),
        "width must be a positive whole number",
    ),
    ("loader-batch-fraction", lambda: DeviceLoader(synthetic_cifar(1), batch_size=2.5), "batch size must be"),
    (
        "synthetic-seed-huge",
        lambda: synthetic_cifar(1, seed=2**70),
        "seed must be a whole number below 2**62",
    ),
    ("history-binary", binary_history, "h.json' is not a History"),
    ("surface-foreign", foreign_surface, "s.npz' is not a stored Surface"),
]


@pytest.mark.parametrize("call, text", [r[1:] for r in LIBRARY], ids=[r[0] for r in LIBRARY])
def test_the_library_refuses_nonsense_naming_the_argument(tmp_path, call, text):
    with pytest.raises((ValueError, DataError)) as err:
        call(tmp_path) if call.__name__ in ("binary_history", "foreign_surface") else call()
    assert text in str(err.value) and "\n" not in str(err.value)


def test_an_empty_cache_variable_means_unset(monkeypatch):
    monkeypatch.setenv("RESNET_EDU_CACHE", "")
    assert F.cache_dir() == F.Path.home() / ".cache" / "resnet_edu"


def test_fit_stops_when_the_weights_stop_being_finite_though_the_loss_was_finite():
    from resnet_edu import TrainConfig, TrainingDiverged, fit
    from resnet_edu.data import synthetic_cifar

    def spoil(step):  # after the epoch's only step: every later loss would be NaN, but there is none
        with torch.no_grad():
            next(step.model.parameters()).view(-1)[0] = math.nan

    data = synthetic_cifar(2)
    config = TrainConfig(epochs=1, batch_size=20, device="cpu", augment=False)
    with pytest.raises(TrainingDiverged, match="the weights became NaN/inf in epoch 1") as err:
        fit(tiny("resnet8"), data, data, config, progress=False, callbacks=[spoil])
    assert err.value.history.meta["diverged"] is True and err.value.history.records == []
