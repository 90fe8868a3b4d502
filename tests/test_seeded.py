"""Each model, each seed: one loop order, rows tagged with model and seed, one divergence policy."""

import math

import pytest
import torch
from torch import nn

from resnet_edu.data import synthetic_cifar
from resnet_edu.nets.models import MLP
from resnet_edu.training.config import TrainConfig
from resnet_edu.training.records import History, history_rows
from resnet_edu.training.seeded import diverged, over_seeds, train_models


def test_over_seeds_loops_models_then_seeds_and_seeds_before_building():
    calls = []

    def run(net, name, seed):
        calls.append((name, seed, float(net.weight.detach().sum())))
        return [{"v": 1, "model": "ignored"}, {"v": 2}] if name == "a" else {"v": 3}

    models = {"a": lambda: nn.Linear(3, 2), "b": lambda: nn.Linear(3, 2)}
    rows = over_seeds(models, (5, 6), run)
    assert [(m, s) for m, s, _ in calls] == [("a", 5), ("a", 6), ("b", 5), ("b", 6)]
    torch.manual_seed(5)
    assert (
        calls[0][2] == float(nn.Linear(3, 2).weight.detach().sum()) == calls[2][2]
    )  # seed 5: the same weights
    assert calls[0][2] != calls[1][2]
    assert rows == [
        {"model": "a", "seed": 5, "v": 1},
        {"model": "a", "seed": 5, "v": 2},
        {"model": "a", "seed": 6, "v": 1},
        {"model": "a", "seed": 6, "v": 2},
        {"model": "b", "seed": 5, "v": 3},
        {"model": "b", "seed": 6, "v": 3},
    ]
    assert list(rows[0]) == ["model", "seed", "v"]


def test_over_seeds_takes_a_history_and_refuses_no_seeds():
    h = History([{"epoch": 1, "train_loss": 2.0}], {}, {})
    assert over_seeds({"m": lambda: nn.Identity()}, [0], lambda *a: h) == [
        {"model": "m", "seed": 0, "epoch": 1, "train_loss": 2.0}
    ]
    for seeds in ([], [0, 1, 0]):
        with pytest.raises(ValueError, match="distinct seeds"):
            over_seeds({"m": lambda: nn.Identity()}, seeds, lambda *a: {})


def test_train_models_tidy_rows_in_model_then_epoch_order():
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=20, lr=0.01, augment=False, device="cpu", schedule="constant")
    mlp = lambda depth, **kw: MLP(depth=depth, width=16, head_norm=True, **kw)  # noqa: E731
    models = {"shallow": lambda: mlp(1), "deep": lambda: mlp(3, shortcut=True)}
    rows = history_rows(train_models(models, data, None, cfg))
    assert [(r["model"], r["epoch"]) for r in rows] == [
        ("shallow", 1),
        ("shallow", 2),
        ("deep", 1),
        ("deep", 2),
    ]
    assert all(math.isfinite(r["train_loss"]) for r in rows)
    again = history_rows(train_models({"shallow": models["shallow"]}, data, None, cfg))  # repeatable
    assert again[-1]["train_loss"] == rows[1]["train_loss"]


def test_train_models_seeds_govern_initialisation_and_data_order():
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.01, augment=False, device="cpu", schedule="constant")
    mlp = {"mlp": lambda: MLP(depth=2, width=8)}
    hs = train_models(mlp, data, None, cfg, seeds=(0, 1)) + train_models(mlp, data, None, cfg, seeds=(0,))
    assert [h.meta["seed"] for h in hs] == [0, 1, 0] and hs[0].meta["params"] > 0
    losses = [h.records[-1]["train_loss"] for h in hs]
    assert losses[0] == losses[2] and losses[0] != losses[1]  # same seed: same weights and batches


def test_a_diverged_run_is_kept_and_the_others_go_on(tmp_path):
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=20, lr=1e30, augment=False, device="cpu", schedule="constant")
    models = {"blows": lambda: MLP(depth=2, width=8), "fine": lambda: MLP(depth=2, width=8)}
    cfgs = {"blows": cfg, "fine": TrainConfig(epochs=2, batch_size=20, lr=0.01, augment=False, device="cpu")}
    hs = train_models(models, data, None, cfgs, seeds=(0, 1), out=tmp_path)
    assert [h.meta["model"] for h in diverged(hs)] == ["blows", "blows"]
    assert all(len(h.records) == 2 and not h.meta.get("diverged") for h in hs if h.meta["model"] == "fine")
    saved = History.load(tmp_path / "blows_s0.json")  # the partial history beside the last good checkpoint
    assert saved.meta["diverged"] is True and "lower learning rate" in saved.meta["diverged_message"]


def test_callbacks_are_made_per_run_and_see_every_step():
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.01, augment=False, device="cpu")
    seen = {}

    def callbacks(net, name, seed):
        seen[name, seed] = []
        return [lambda step: seen[name, seed].append(step.step)]

    train_models({"m": lambda: MLP(depth=1, width=4)}, data, None, cfg, seeds=(0, 1), callbacks=callbacks)
    assert seen == {("m", 0): [0, 1], ("m", 1): [0, 1]}  # 40 images, batches of 20
