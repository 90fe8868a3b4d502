"""Checkpoints: a round trip restores everything, foreign files are refused, a killed save loses nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnet_edu.training.checkpoints import load_checkpoint, load_weights, save_checkpoint
from resnet_edu.training.records import History

ROOT = Path(__file__).resolve().parents[1]


def saved(path, *, width=3, step=7, epoch=2, config=None):
    torch.manual_seed(0)
    model = torch.nn.Linear(width, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, width)).sum().backward()
    opt.step()  # momentum buffers exist now
    history = History([{"epoch": 1, "train_loss": 1.5}], config or {"lr": 0.1, "epochs": 3}, {"model": "lin"})
    save_checkpoint(path, model, opt, step, epoch, history)
    return model, opt


def test_a_round_trip_restores_weights_optimiser_step_records_and_rng(tmp_path):
    model, opt = saved(tmp_path / "c.pt")
    after_save = torch.rand(3)  # what the generator gives right after the save
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    history = History(config={"lr": 0.1, "epochs": 5})  # epochs may change on resume
    assert load_checkpoint(tmp_path / "c.pt", fresh, fresh_opt, history) == (7, 2)
    assert torch.equal(fresh.weight, model.weight) and history.records == [{"epoch": 1, "train_loss": 1.5}]
    assert torch.equal(
        fresh_opt.state_dict()["state"][0]["momentum_buffer"], opt.state_dict()["state"][0]["momentum_buffer"]
    )
    assert torch.equal(torch.rand(3), after_save)  # the generator continues where the run left it
    other = torch.nn.Linear(3, 2)
    assert load_weights(other, tmp_path / "c.pt").meta["model"] == "lin" and torch.equal(
        other.bias, model.bias
    )


def test_a_checkpoint_of_other_settings_another_model_or_no_checkpoint_is_refused(tmp_path):
    saved(tmp_path / "c.pt")
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    with pytest.raises(ValueError, match="trained with other lr"):
        load_checkpoint(tmp_path / "c.pt", net, opt, History(config={"lr": 0.5, "epochs": 3}))
    with pytest.raises(ValueError, match="for another model"):
        load_weights(torch.nn.Linear(4, 2), tmp_path / "c.pt")
    (tmp_path / "junk.pt").write_bytes(b"half a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_weights(net, tmp_path / "junk.pt")
    torch.save({"weights": net.state_dict()}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a resnet_edu checkpoint"):
        load_weights(net, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="is a folder"):
        load_weights(net, tmp_path)


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_save_keeps_the_old_file_whole(tmp_path):
    import signal
    import time

    ckpt = tmp_path / "run.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVER, str(ckpt)], env=env, stdout=subprocess.PIPE, text=True
    )
    for _ in range(3):  # a few whole saves first
        proc.stdout.readline()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    state = torch.load(ckpt, weights_only=True)  # the last finished save, whole
    assert state["step"] >= 3 and state["model"]["weight"].shape == (2000, 2000)
    from resnet_edu.training.checkpoints import save_checkpoint

    model = torch.nn.Linear(2, 2)
    save_checkpoint(ckpt, model, torch.optim.SGD(model.parameters(), lr=0.1), 1, 1, History())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary file left behind


KILLED_SAVER = """
import sys, torch
from resnet_edu.training.checkpoints import save_checkpoint
from resnet_edu.training.records import History
model = torch.nn.Linear(2000, 2000)  # 16 MB per save: slow enough to be killed in the middle
opt = torch.optim.SGD(model.parameters(), lr=0.1)
step = 0
while True:
    step += 1
    save_checkpoint(sys.argv[1], model, opt, step, step, History())
    print(step, flush=True)
"""
