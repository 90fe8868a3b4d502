"""Plateaus of a training loss: a known curve's levelling-off epoch and value are found exactly."""

import pytest

from resnet_edu.course.plateaus import plateau_epoch, plateaus
from resnet_edu.training.records import History


def test_a_loss_that_halves_then_stays_flat_plateaus_once_two_windows_are_flat():
    values = [8.0, 4.0, 2.0, 1.0] + [1.0] * 10
    # window 2: epochs 5-6 (mean 1) still lie a third below epochs 3-4 (mean 1.5); epochs 6-7 equal 4-5
    assert plateau_epoch(values, window=2, tol=0.02) == 7
    assert plateau_epoch(values, window=2, tol=0.5) == 6  # a looser criterion stops one epoch earlier


def test_a_loss_still_falling_steadily_has_no_plateau():
    assert plateau_epoch([2.0 - 0.1 * e for e in range(15)], window=3, tol=0.02) is None
    with pytest.raises(ValueError):
        plateau_epoch([1.0] * 10, window=0)


def history(model: str, seed: int, losses: list[float]) -> History:
    records = [dict(epoch=i + 1, train_loss=v, test_loss=None, test_acc=None) for i, v in enumerate(losses)]
    records[-1] |= dict(test_loss=2.5, test_acc=0.3)
    return History(records=records, meta=dict(model=model, seed=seed))


def test_plateaus_report_the_plateau_value_epoch_and_whether_it_was_reached():
    flat, falling = [3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0], [3.0 - 0.3 * e for e in range(7)]
    a, b = plateaus([history("a", 0, flat), history("b", 1, falling)], window=2, tol=0.02)
    assert (a["model"], a["seed"], a["epoch"], a["reached"], a["plateau"]) == ("a", 0, 6, 1.0, 1.0)
    assert (a["final"], a["epochs"], a["test_loss"], a["test_acc"]) == (1.0, 7, 2.5, 0.3)
    assert (b["epoch"], b["reached"]) == (7, 0.0) and b["plateau"] == pytest.approx((1.5 + 1.2) / 2)


def test_train_to_plateau_stops_a_run_whose_loss_cannot_fall_and_numbers_its_epochs_on():
    import torch

    from resnet_edu.course.plateaus import train_to_plateau
    from resnet_edu.data.sets import synthetic_cifar
    from resnet_edu.nets.models import MLP
    from resnet_edu.training.config import TrainConfig

    data = synthetic_cifar(4, seed=0)  # 40 images
    mlp = {"mlp": lambda: MLP(depth=2, width=8, in_features=3 * 32 * 32)}
    cfg = TrainConfig(epochs=20, batch_size=20, lr=0.0, schedule="constant", augment=False, device="cpu")
    (h,) = train_to_plateau(mlp, data, data, cfg, seeds=(3,), chunk=3, window=2, tol=0.02)
    # lr 0: the same loss every epoch (no dropout, BN-free), so the criterion holds from epoch 4 on;
    # runs stop only at a chunk's end, so after 6 epochs, far below the cap of 20
    assert [r["epoch"] for r in h.records] == [1, 2, 3, 4, 5, 6] and h.config["epochs"] == 6
    assert (h.meta["model"], h.meta["seed"]) == ("mlp", 3) and h.records[-1]["test_acc"] is not None
    assert torch.tensor(h.column("time")).diff().min() >= 0  # the clock runs on across chunks


def test_a_run_in_chunks_is_the_uninterrupted_run():
    """Chunks resume weights, momentum and data order: no reset at a chunk's start (a reset made the
    loss drop and climb again every chunk, a sawtooth with the chunk's period)."""
    from resnet_edu.course.plateaus import train_to_plateau
    from resnet_edu.data.sets import synthetic_cifar
    from resnet_edu.nets.models import MLP
    from resnet_edu.training.config import TrainConfig

    data = synthetic_cifar(4, seed=0)
    mlp = {"mlp": lambda: MLP(depth=3, width=16, in_features=3 * 32 * 32)}
    cfg = TrainConfig(epochs=6, batch_size=10, lr=0.005, schedule="constant", augment=False, device="cpu")
    never = dict(window=50, tol=0.02)  # no plateau within the cap: both run all 6 epochs
    (chunked,) = train_to_plateau(mlp, data, None, cfg, seeds=(0,), chunk=2, **never)
    (whole,) = train_to_plateau(mlp, data, None, cfg, seeds=(0,), chunk=6, **never)
    assert len(chunked.records) == 6 and chunked.column("train_loss") == whole.column("train_loss")


def test_train_to_plateau_restores_the_thread_count():
    import torch

    from resnet_edu.course.plateaus import train_to_plateau
    from resnet_edu.data.sets import synthetic_cifar
    from resnet_edu.nets.models import MLP
    from resnet_edu.training.config import TrainConfig

    before = torch.get_num_threads()
    data = synthetic_cifar(2, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=10, lr=0.0, schedule="constant", augment=False, device="cpu")
    train_to_plateau({"m": lambda: MLP(depth=1, width=4)}, data, None, cfg, seeds=(0,), chunk=1, window=1)
    assert torch.get_num_threads() == before
