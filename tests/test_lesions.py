import pytest
import torch

from resnet_edu import lesions
from resnet_edu.config import TrainConfig
from resnet_edu.data import synthetic_cifar


def rows(model, seed, base, accs, skipped=()):
    out = [dict(model=model, seed=seed, block=-1, skipped=False, accuracy=base)]
    out += [
        dict(model=model, seed=seed, block=i, skipped=i in skipped, accuracy=a) for i, a in enumerate(accs)
    ]
    return out


def test_lesion_summary_by_hand():
    data = rows("res", 0, 0.5, [0.1, 0.45, 0.5, 0.2]) + rows("plain", 0, 0.4, [0.1, 0.3, 0.99], skipped={2})
    res, plain = lesions.lesion_summary(data)
    assert res["deletable"] == 4 and res["mean_acc"] == pytest.approx(0.3125)
    assert res["kept"] == pytest.approx(0.3125 / 0.5)
    assert (res["worst_block"], res["worst_acc"], res["best_block"]) == (0, 0.1, 2)
    assert res["halved"] == 2  # below 0.1 + (0.5 - 0.1) / 2 = 0.3: blocks 0 and 3
    assert plain["deletable"] == 2 and plain["best_block"] == 1  # the skipped block is not counted
    assert plain["halved"] == 1  # below 0.25: block 0


def test_lesion_summary_needs_a_deletable_block():
    with pytest.raises(ValueError, match="no block"):
        lesions.lesion_summary(rows("plain", 0, 0.4, [0.3], skipped={0}))


def test_lesion_runs_train_each_seed_and_study_every_block():
    train, test = synthetic_cifar(2, size=8), synthetic_cifar(2, size=8, split="test")
    cfg = TrainConfig(epochs=1, batch_size=10, lr=0.01, augment=False)
    torch.manual_seed(123)
    out, hists = lesions.lesion_runs(["resnet20", "plain20"], train, test, cfg, seeds=(1,), width=2)
    assert [(h.meta["model"], h.meta["seed"]) for h in hists] == [("resnet20", 1), ("plain20", 1)]
    assert len(out) == 2 * 10 and {r["seed"] for r in out} == {1}  # baseline + nine blocks each
    again, _ = lesions.lesion_runs(["resnet20"], train, test, cfg, seeds=(1,), width=2)
    first = [r["accuracy"] for r in out if r["model"] == "resnet20"]
    assert [r["accuracy"] for r in again] == first  # a seed fixes the run
