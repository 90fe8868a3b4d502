"""Training settings: validation with one-line errors, precision per device, the paper's recipe."""

import dataclasses

import pytest
import torch

from resnet_edu.course import paper
from resnet_edu.training.config import TrainConfig, lr_at


@pytest.mark.parametrize(
    "capability, expected",
    [((7, 5), "fp16"), ((7, 0), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")],  # T4, V100, A100, H100
)
def test_auto_precision_follows_the_gpu_generation(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert TrainConfig().resolved_precision(torch.device("cuda")) == expected


def test_auto_precision_is_fp32_on_the_cpu_and_an_explicit_choice_wins():
    assert TrainConfig().resolved_precision(torch.device("cpu")) == "fp32"
    assert TrainConfig(precision="bf16").resolved_precision(torch.device("cpu")) == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        TrainConfig(precision="fp8")


def test_devices_are_checked_before_any_work():
    with pytest.raises(ValueError, match="unknown device 'bogus'"):
        TrainConfig(device="bogus")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            TrainConfig(device="cuda").resolved_device()
    assert TrainConfig(device="cpu").resolved_device() == torch.device("cpu")


def test_the_paper_recipe_is_he_et_al_section_4_2():
    r = paper.CIFAR_RECIPE
    assert (r.batch_size, r.lr, r.momentum, r.weight_decay) == (128, 0.1, 0.9, 1e-4)
    assert r.schedule == "step" and r.milestones == (0.5, 0.75) and r.augment and not r.nesterov
    assert dataclasses.replace(r, epochs=2).lr == 0.1  # variants keep the rest


def test_channels_last_defaults_to_the_device():
    assert TrainConfig().resolved_channels_last(torch.device("cuda")) is True
    assert TrainConfig().resolved_channels_last(torch.device("cpu")) is False
    assert TrainConfig(channels_last=False).resolved_channels_last(torch.device("cuda")) is False


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"epochs": 0}, "epochs must be positive"),
        ({"batch_size": -1}, "batch size must be positive"),
        ({"lr": -0.1}, "learning rate"),
        ({"weight_decay": -1e-4}, "weight decay"),
        ({"schedule": "linear"}, "unknown schedule"),
        ({"precision": "fp8"}, "unknown precision"),
    ],
)
def test_config_rejects_bad_values(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw)


def test_config_is_frozen_and_replaceable():
    cfg = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0
    assert dataclasses.replace(cfg, lr=0.05).lr == 0.05 and cfg.lr == 0.1
    with pytest.raises(ValueError):
        dataclasses.replace(cfg, epochs=0)


def test_schedule_values_at_known_steps():
    # onecycle, 10 steps, warm-up round(0.2 * 10) = 2 steps: 0.05, 0.1, then 0.1 * (1 - (s - 2) / 8).
    one = TrainConfig(lr=0.1, warmup=0.2, schedule="onecycle")
    expected = {0: 0.05, 1: 0.1, 2: 0.1, 6: 0.05, 9: 0.0125}
    assert {s: lr_at(one, s, 10) for s in expected} == pytest.approx(expected)
    # cosine: same warm-up, then 0.1 * (1 + cos(pi * (s - 2) / 8)) / 2; s = 4 gives cos(pi/4).
    cos = dataclasses.replace(one, schedule="cosine")
    assert lr_at(cos, 2, 10) == pytest.approx(0.1)
    assert lr_at(cos, 4, 10) == pytest.approx(0.1 * (1 + 0.7071067811865476) / 2)
    assert lr_at(cos, 6, 10) == pytest.approx(0.05)
    # step (He et al. 2015): lr/10 at half and three quarters of 100 steps ...
    step = TrainConfig(lr=0.1, epochs=4, schedule="step", milestones=(0.5, 0.75))
    assert [lr_at(step, s, 100) for s in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )
    # ... or at epochs 1 and 3 of 4 (25 steps each).
    by_epoch = dataclasses.replace(step, milestones=(1, 3))
    assert [lr_at(by_epoch, s, 100) for s in (24, 25, 74, 75)] == pytest.approx([0.1, 0.01, 0.01, 0.001])
    assert lr_at(TrainConfig(lr=0.3, schedule="constant"), 57, 100) == 0.3
