"""Training engine: schedule values, overfitting, bit-exact resume, divergence stop, DDP equivalence."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnet_edu.data import ImageSet, synthetic_cifar
from resnet_edu.data.loader import DeviceLoader
from resnet_edu.nets.models import SimpleCNN, build_model
from resnet_edu.training.checkpoints import load_weights
from resnet_edu.training.config import TrainConfig
from resnet_edu.training.evaluation import evaluate
from resnet_edu.training.fit import TrainingDiverged, fit
from resnet_edu.training.records import History
from resnet_edu.training.step import make_optimizer, train_step

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]
TINY = TrainConfig(epochs=2, batch_size=16, lr=0.05, device="cpu", seed=3)


@pytest.fixture(scope="module")
def data() -> tuple[ImageSet, ImageSet]:
    return synthetic_cifar(6, seed=0), synthetic_cifar(3, seed=0, split="test")  # 60 train, 30 test images


def test_overfits_a_tiny_batch():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8, generator=g)
    noise = ImageSet(images, torch.randint(0, 10, (32,), generator=g))  # random labels: pure memorising
    torch.manual_seed(0)
    model = build_model("resnet20", width=4)
    cfg = TrainConfig(epochs=20, batch_size=32, lr=0.2, schedule="constant", weight_decay=0, augment=False)
    h = fit(model, noise, noise, dataclasses.replace(cfg, device="cpu"), progress=False)
    assert h.records[-1]["train_loss"] < 0.05 and h.records[-1]["train_acc"] == 1.0
    assert h.records[0]["train_loss"] > 2.0


class CrashingLoader(DeviceLoader):
    """Dies when the second epoch starts, like a job killed mid-run."""

    def __iter__(self):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return super().__iter__()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(data, tmp_path):
    model = SimpleCNN(width=4)
    calls = {"n": 0}
    steps_per_epoch = len(data[0]) // TINY.batch_size

    def poison(module, inputs, output):  # a NaN from the third step of epoch 2 on
        calls["n"] += module.training
        return output * float("nan") if calls["n"] > steps_per_epoch + 2 else output

    model.register_forward_hook(poison)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 3/3.*lower learning rate"):
        fit(model, *data, TINY, checkpoint=ckpt, progress=False)
    state = torch.load(ckpt, weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]["records"]) == 1
    good = SimpleCNN(width=4)
    load_weights(good, ckpt)
    assert all(torch.isfinite(p).all() for p in good.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(good.parameters(), model.parameters()))


# ---- DDP: 2 CPU processes with gloo equal one process on the combined batch --------------------


def _ddp_batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)


def torchrun(
    nproc: int, *args: str, timeout: int = 240, env_extra: dict | None = None
) -> subprocess.CompletedProcess:
    """Run under `torchrun --standalone` in a fresh process group with a time limit: a rank that hangs
    or dies fails this test with its output instead of taking the test session down."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)) | (env_extra or {})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path):
    run = torchrun(2, str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path))
    assert run.returncode == 0, run.stderr[-2000:]
    got = torch.load(tmp_path / "rank0.pt", weights_only=True)
    assert (tmp_path / "ddp.pt").exists()

    cfg = dataclasses.replace(TINY, epochs=1, augment=False)
    torch.manual_seed(0)
    model = SimpleCNN(width=4)
    x, y = _ddp_batch()
    stats = train_step(model, make_optimizer(model, cfg, CPU), x, y, lr=cfg.lr, label_smoothing=0.1)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(got["step"][k], v, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got["stats"], stats, rtol=1e-5, atol=1e-5)  # loss sum, correct, count

    torch.manual_seed(0)
    fitted = SimpleCNN(width=4)
    h = fit(fitted, synthetic_cifar(6), synthetic_cifar(3, split="test"), cfg, progress=False)
    for k, v in fitted.state_dict().items():
        torch.testing.assert_close(got["fit"][k], v, rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(h.records, got["records"]):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert theirs[key] == pytest.approx(mine[key], rel=1e-4)


@pytest.mark.slow
def test_ddp_three_ranks_on_uneven_data_finish(tmp_path):
    """190 images on 3 ranks: equal shards of 63 (one image dropped), so no rank waits forever."""
    out = tmp_path / "run"
    run = torchrun(
        3,
        "-m",
        "resnet_edu",
        "train",
        "--model",
        "simplecnn",
        "--synthetic",
        "--subset",
        "19",
        "--batch-size",
        "48",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    h = History.load(out / "simplecnn.json")
    assert h.meta["world_size"] == 3 and len(h.records) == 1
    assert h.records[0]["images_per_s"] > 0 and (out / "simplecnn.pt").exists()


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_through_the_cli_gives_the_same_weights(tmp_path):
    import signal
    import time

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    args = [
        "--model",
        "resnet20",
        "--synthetic",
        "--subset",
        "30",
        "--batch-size",
        "20",
        "--epochs",
        "3",
        "--device",
        "cpu",
        "--lr",
        "0.05",
    ]
    cli = [sys.executable, "-m", "resnet_edu", "train"]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(
        [*cli, *args, "--out", str(killed)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (killed / "resnet20.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # epoch 1 is saved: now somewhere in epoch 2
    proc.wait(timeout=30)
    assert torch.load(killed / "resnet20.pt", weights_only=True)["epoch"] < 3
    resumed = subprocess.run(
        [*cli, *args, "--out", str(killed), "--resume"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-1000:]
    fresh = subprocess.run(
        [*cli, *args, "--out", str(whole)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert fresh.returncode == 0, fresh.stderr[-1000:]
    a = torch.load(killed / "resnet20.pt", weights_only=True)["model"]
    b = torch.load(whole / "resnet20.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit-identical to the uninterrupted run
    assert [r["epoch"] for r in History.load(killed / "resnet20.json").records] == [1, 2, 3]


@pytest.mark.slow
def test_two_torchrun_ranks_on_a_cold_cache_both_load_the_archive(tmp_path):
    """Both ranks call load_cifar10 on an archive no process has extracted yet: one extracts under the
    lock, the other waits, and training finishes on the real-format data (no false "corrupt")."""
    import tarfile

    from helpers import tiny_cifar_folder

    folder = tiny_cifar_folder(tmp_path / "cifar", n=3)
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar")
    out, cache = tmp_path / "run", tmp_path / "cold-cache"
    run = torchrun(
        2,
        "-m",
        "resnet_edu",
        "train",
        "--model",
        "simplecnn",
        "--data",
        str(archive),
        "--batch-size",
        "10",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
        env_extra={"RESNET_EDU_CACHE": str(cache)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    h = History.load(out / "simplecnn.json")
    assert h.meta["world_size"] == 2 and h.meta["data"].startswith("CIFAR-10 from")
    assert len(list(cache.glob("cifar-*"))) == 1  # one extraction, shared


def test_history_fields_and_json_round_trip(data, tmp_path):
    model = build_model("resnet20", width=4)
    h = fit(model, *data, TINY, progress=False, name="resnet20")
    keys = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "time", "images_per_s"}
    assert [set(r) for r in h.records] == [keys, keys]
    assert h.records[1]["time"] > h.records[0]["time"] > 0
    assert h.meta["model"] == "resnet20" and h.meta["seed"] == 3 and h.meta["torch"] == str(torch.__version__)
    assert h.config["lr"] == 0.05
    h.save(tmp_path / "h.json")
    assert History.load(tmp_path / "h.json") == History(
        h.records, {**h.config, "milestones": [0.5, 0.75]}, h.meta
    )
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    loss, acc = evaluate(model, data[1])
    assert (loss, acc) == pytest.approx((h.records[-1]["test_loss"], h.records[-1]["test_acc"]))


def test_resume_gives_bit_identical_weights(data, tmp_path):
    torch.manual_seed(0)
    reference = build_model("resnet20", width=4)
    resumed = build_model("resnet20", width=4)
    resumed.load_state_dict(reference.state_dict())
    h_full = fit(reference, *data, TINY, progress=False)

    ckpt = tmp_path / "run.pt"
    crashing = CrashingLoader(data[0], batch_size=16, device="cpu", seed=TINY.seed)
    with pytest.raises(KeyboardInterrupt):
        fit(resumed, crashing, data[1], TINY, checkpoint=ckpt, progress=False)
    fresh = build_model("resnet20", width=4)  # a new process would start from new weights
    h_res = fit(fresh, *data, TINY, checkpoint=ckpt, resume=True, progress=False)

    ref_state, res_state = reference.state_dict(), fresh.state_dict()
    assert ref_state.keys() == res_state.keys()
    assert all(torch.equal(ref_state[k], res_state[k]) for k in ref_state)
    drop = lambda r: {k: v for k, v in r.items() if k not in ("time", "images_per_s")}
    assert [drop(r) for r in h_res.records] == [drop(r) for r in h_full.records]
    assert torch.load(ckpt, weights_only=True)["epoch"] == 2


def test_resume_refuses_a_different_config(data, tmp_path):
    ckpt = tmp_path / "run.pt"
    fit(SimpleCNN(width=4), *data, dataclasses.replace(TINY, epochs=1), checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="lr"):
        fit(SimpleCNN(width=4), *data, dataclasses.replace(TINY, lr=0.5), checkpoint=ckpt, resume=True)


def test_resume_from_a_corrupt_checkpoint_says_so(data, tmp_path):
    ckpt = tmp_path / "run.pt"
    ckpt.write_bytes(b"half a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        fit(SimpleCNN(width=4), *data, TINY, checkpoint=ckpt, resume=True, progress=False)
