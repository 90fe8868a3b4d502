"""One optimiser step: the update SGD computes by hand, the batch sums, the optimiser's settings."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_edu.training.config import TrainConfig
from resnet_edu.training.step import autocast_for, make_optimizer, train_step


def test_one_step_is_plain_sgd_with_weight_decay_and_returns_the_batch_sums():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    cfg = TrainConfig(lr=0.5, momentum=0.0, weight_decay=0.01, device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logits = model(x).detach()
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    stats = train_step(model, make_optimizer(model, cfg, torch.device("cpu")), x, y, lr=0.2)
    for (name, p), g in zip(model.named_parameters(), grads):  # lr 0.2 overrides the config's
        torch.testing.assert_close(p.detach(), before[name] - 0.2 * (g + 0.01 * before[name]))
    loss_sum, correct, count = stats.tolist()
    assert count == 6 and correct == int((logits.argmax(1) == y).sum())
    assert loss_sum == pytest.approx(6 * float(F.cross_entropy(logits, y)), rel=1e-6)


def test_the_optimiser_follows_the_config():
    model = nn.Linear(2, 2)
    opt = make_optimizer(
        model, TrainConfig(lr=0.3, momentum=0.9, nesterov=True, weight_decay=1e-4), torch.device("cpu")
    )
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.3,
        0.9,
        True,
        1e-4,
    )
    plain = make_optimizer(model, TrainConfig(momentum=0.0, nesterov=True), torch.device("cpu"))
    assert plain.param_groups[0]["nesterov"] is False  # Nesterov needs momentum


def test_autocast_only_for_half_precisions():
    cpu = torch.device("cpu")
    with autocast_for("bf16", cpu):
        assert (torch.randn(2, 2) @ torch.randn(2, 2)).dtype == torch.bfloat16
    with autocast_for("fp32", cpu):
        assert (torch.randn(2, 2) @ torch.randn(2, 2)).dtype == torch.float32


def test_a_scaled_step_skips_an_overflow_and_otherwise_steps():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = make_optimizer(model, TrainConfig(momentum=0.0, weight_decay=0.0), torch.device("cpu"))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])
    before = model.weight.detach().clone()
    train_step(model, opt, x, y, lr=0.1, scaler=scaler)
    assert not torch.equal(model.weight, before)  # a finite gradient: unscaled and applied
    after = model.weight.detach().clone()
    train_step(model, opt, x * float("inf"), y, lr=0.1, scaler=scaler)
    assert torch.equal(model.weight, after) and scaler.get_scale() < 2.0**10  # inf: skipped, scale backed off
