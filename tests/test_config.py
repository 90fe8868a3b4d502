"""Training settings: validation with one-line errors, precision per device, the paper's recipe."""

import dataclasses

import pytest
import torch

from resnet_edu import paper
from resnet_edu.config import TrainConfig


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
